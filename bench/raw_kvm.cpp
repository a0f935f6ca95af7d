#include "raw_kvm.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "bench_util.hpp"

namespace hvbench {

namespace {

[[noreturn]] void sys_die(const char* what) { die(std::string("baseline: ") + what + ": " + std::strerror(errno)); }

// Guest-memory layout of set_long_mode.
constexpr uint64_t kGdt = 0x500;
constexpr uint64_t kPml4 = 0x1000;
constexpr uint64_t kPdpt = 0x2000;
constexpr uint64_t kPd = 0x3000;
constexpr uint64_t kTss = 0x4000;
constexpr uint32_t kTssSize = 104;
constexpr uint32_t kIoBitmapBytes = 512;                 // ports 0-4095
constexpr uint32_t kTssLimit = kTssSize + kIoBitmapBytes; // the 0xff terminator byte
constexpr uint16_t kTssSel = 0x28;

kvm_segment segment(uint16_t selector, uint8_t type, bool code64) {
    kvm_segment s{};
    s.limit = 0xffffffff;
    s.selector = selector;
    s.type = type;
    s.present = 1;
    s.s = 1;
    s.db = code64 ? 0 : 1;
    s.l = code64 ? 1 : 0;
    s.g = 1;
    return s;
}

} // namespace

RawKvm::RawKvm() {
    fd_ = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd_ < 0) sys_die("open /dev/kvm");
    const int size = ::ioctl(fd_, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size <= 0) sys_die("KVM_GET_VCPU_MMAP_SIZE");
    run_size_ = static_cast<size_t>(size);
}

RawKvm::~RawKvm() { ::close(fd_); }

RawVm::RawVm(const RawKvm& kvm, size_t ram_bytes) : kvm_(kvm), size_(ram_bytes) {
    vm_ = ::ioctl(kvm.fd(), KVM_CREATE_VM, 0);
    if (vm_ < 0) sys_die("KVM_CREATE_VM");
    if (::ioctl(vm_, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0) sys_die("KVM_SET_TSS_ADDR");
    void* mem = ::mmap(nullptr, ram_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) sys_die("mmap guest RAM");
    mem_ = static_cast<uint8_t*>(mem);
    kvm_userspace_memory_region region{};
    region.slot = 0;
    region.guest_phys_addr = 0;
    region.memory_size = ram_bytes;
    region.userspace_addr = reinterpret_cast<uint64_t>(mem);
    if (::ioctl(vm_, KVM_SET_USER_MEMORY_REGION, &region) < 0) sys_die("KVM_SET_USER_MEMORY_REGION");
    vcpu_ = ::ioctl(vm_, KVM_CREATE_VCPU, 0);
    if (vcpu_ < 0) sys_die("KVM_CREATE_VCPU");
    void* run = ::mmap(nullptr, kvm.run_size(), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_, 0);
    if (run == MAP_FAILED) sys_die("mmap kvm_run");
    run_ = static_cast<kvm_run*>(run);
}

RawVm::~RawVm() {
    ::munmap(run_, kvm_.run_size());
    ::close(vcpu_);
    ::close(vm_);
    ::munmap(mem_, size_);
}

void RawVm::set_pvh_entry(uint32_t rip, uint32_t rbx) {
    kvm_sregs s{};
    if (::ioctl(vcpu_, KVM_GET_SREGS, &s) < 0) sys_die("KVM_GET_SREGS");
    s.cs = segment(0x10, 0xb, false);
    s.ds = s.es = s.fs = s.gs = s.ss = segment(0x18, 0x3, false);
    s.tr = kvm_segment{};
    s.tr.limit = 0x67;
    s.tr.type = 11;
    s.tr.present = 1;
    s.cr0 = 0x11; // PE | ET
    s.cr3 = 0;
    s.cr4 = 0;
    s.efer = 0;
    if (::ioctl(vcpu_, KVM_SET_SREGS, &s) < 0) sys_die("KVM_SET_SREGS");
    kvm_regs r{};
    r.rip = rip;
    r.rbx = rbx;
    r.rflags = 2;
    if (::ioctl(vcpu_, KVM_SET_REGS, &r) < 0) sys_die("KVM_SET_REGS");
}

void RawVm::set_long_mode(uint64_t rip, uint64_t rsp) {
    const uint64_t pml4e = kPdpt | 7, pdpte = kPd | 7, pde = 0x87; // one 2 MiB user page at 0
    std::memcpy(mem_ + kPml4, &pml4e, 8);
    std::memcpy(mem_ + kPdpt, &pdpte, 8);
    std::memcpy(mem_ + kPd, &pde, 8);

    // TSS: I/O map base at offset 102 points right past the TSS; the bitmap
    // (all zero: every port allowed) is followed by the 0xff terminator.
    std::memset(mem_ + kTss, 0, kTssLimit + 1);
    const uint16_t iomap = kTssSize;
    std::memcpy(mem_ + kTss + 102, &iomap, 2);
    mem_[kTss + kTssLimit] = 0xff;

    const uint64_t tss_lo = kTssLimit | ((kTss & 0xffffff) << 16) | (uint64_t{0x89} << 40) | (((kTss >> 24) & 0xff) << 56);
    const uint64_t gdt[7] = {
        0,
        0x00af9b000000ffff, // 0x08 ring-0 code, 64-bit
        0x00cf93000000ffff, // 0x10 ring-0 data
        0x00cff3000000ffff, // 0x18 ring-3 data
        0x00affb000000ffff, // 0x20 ring-3 code, 64-bit
        tss_lo,             // 0x28 TSS (busy once loaded)
        kTss >> 32,
    };
    std::memcpy(mem_ + kGdt, gdt, sizeof gdt);

    kvm_sregs s{};
    if (::ioctl(vcpu_, KVM_GET_SREGS, &s) < 0) sys_die("KVM_GET_SREGS");
    s.cs = segment(0x08, 0xb, true);
    s.ds = s.es = s.fs = s.gs = s.ss = segment(0x10, 0x3, false);
    s.tr = kvm_segment{};
    s.tr.base = kTss;
    s.tr.limit = kTssLimit;
    s.tr.selector = kTssSel;
    s.tr.type = 11;
    s.tr.present = 1;
    s.gdt.base = kGdt;
    s.gdt.limit = static_cast<uint16_t>(sizeof gdt - 1);
    s.cr3 = kPml4;
    s.cr4 = 0x20;        // PAE
    s.cr0 = 0x80000011;  // PG | ET | PE
    s.efer = 0x500;      // LME | LMA
    if (::ioctl(vcpu_, KVM_SET_SREGS, &s) < 0) sys_die("KVM_SET_SREGS");
    kvm_regs r{};
    r.rip = rip;
    r.rsp = rsp;
    r.rflags = 2;
    if (::ioctl(vcpu_, KVM_SET_REGS, &r) < 0) sys_die("KVM_SET_REGS");
}

uint32_t RawVm::run() {
    while (::ioctl(vcpu_, KVM_RUN, 0) < 0)
        if (errno != EINTR && errno != EAGAIN) sys_die("KVM_RUN");
    return run_->exit_reason;
}

size_t emit_iret_to_ring3(uint8_t* at, uint32_t user_rip, uint32_t user_rsp) {
    size_t i = 0;
    const auto push_imm32 = [&](uint32_t v) {
        at[i++] = 0x68; // push imm32 (sign-extended)
        std::memcpy(at + i, &v, 4);
        i += 4;
    };
    push_imm32(0x1b);      // ss: ring-3 data
    push_imm32(user_rsp);  // rsp
    push_imm32(0x3002);    // rflags: IOPL=3, IF=0
    push_imm32(0x23);      // cs: ring-3 code
    push_imm32(user_rip);  // rip
    at[i++] = 0x48;        // iretq
    at[i++] = 0xcf;
    return i;
}

} // namespace hvbench
