#include "platform/kvm/kvm_vcpu.hpp"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "hv/abi/common.h"
#include "platform/kvm/kvm_cpuid.hpp"

namespace hv::kvm {

namespace {

Error sys_error(uint32_t id, const char* what) {
    return make_error(Errc::platform_error, fmt::format("vcpu {}: {}: {}", id, what, std::strerror(errno)));
}

kvm_segment flat_segment(uint16_t selector, uint8_t type, bool long_mode) {
    kvm_segment s{};
    s.base = 0;
    s.limit = 0xffffffff;
    s.selector = selector;
    s.type = type;
    s.present = 1;
    s.dpl = 0;
    s.db = long_mode && (type & 8) != 0 ? 0 : 1; // a 64-bit code segment has D=0
    s.s = 1;
    s.l = long_mode && (type & 8) != 0 ? 1 : 0;
    s.g = 1;
    return s;
}

// Entry requires a usable TR even though the guest loads its own later.
kvm_segment boot_tr() {
    kvm_segment s{};
    s.limit = 0x67;
    s.type = 11; // busy 32/64-bit TSS
    s.present = 1;
    return s;
}

} // namespace

Result<std::unique_ptr<KvmVcpu>> KvmVcpu::create(std::shared_ptr<KvmSystem> sys, UniqueFd fd, uint32_t id, bool pc_interrupts) {
    std::unique_ptr<KvmVcpu> v(new KvmVcpu());
    v->pc_interrupts_ = pc_interrupts;
    v->sys_ = std::move(sys);
    v->fd_ = std::move(fd);
    v->id_ = id;
    void* run = ::mmap(nullptr, v->sys_->run_size(), PROT_READ | PROT_WRITE, MAP_SHARED, v->fd_.get(), 0);
    if (run == MAP_FAILED) return sys_error(id, "mmap kvm_run");
    v->run_ = static_cast<kvm_run*>(run);
    v->sync_regs_ = v->sys_->has_sync_regs();
    if (auto r = v->set_cpuid(); !r) return r.error();
    return v;
}

KvmVcpu::~KvmVcpu() {
    if (run_ != nullptr) ::munmap(run_, sys_->run_size());
}

// The host's supported CPUID, with this vCPU's APIC ids and hv's own
// hypervisor leaves: how this platform presents hv to the guest, which
// finds the ABI version and the hypercall port there. KVM's paravirt
// leaves (kvmclock, PV EOI, steal time) move up to kKvmLeavesBase on a PC
// machine, where Linux's scan for the "KVMKVMKVM" signature (every 0x100
// leaves from 0x40000000) still finds them, as Xen places its leaves after
// Viridian's; hv's PV machine does not offer them.
Result<void> KvmVcpu::set_cpuid() {
    const bool tsc_deadline = ::ioctl(sys_->fd(), KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
    std::vector<kvm_cpuid_entry2> entries;
    for (const kvm_cpuid_entry2& e : sys_->supported_cpuid()) {
        kvm_cpuid_entry2 c = e;
        if (c.function >= HV_CPUID_BASE && c.function < HV_CPUID_BASE + 0x100) {
            // Only a PC guest gets them: several (PV EOI, PV IPIs, async
            // page faults) need the in-kernel LAPIC hv's PV machine lacks.
            if (!pc_interrupts_) continue;
            if (c.function == HV_CPUID_BASE) c.eax += kKvmLeavesBase - HV_CPUID_BASE; // its highest leaf
            c.function += kKvmLeavesBase - HV_CPUID_BASE;
        }
        if (c.function == 1) {
            c.ebx = (c.ebx & 0x00ffffffu) | (id_ << 24); // initial APIC id
            // "Running on a hypervisor" (ECX bit 31), which KVM leaves to
            // the VMM: without it Linux never looks for the hypervisor
            // leaves, so it finds no kvmclock, calibrates the TSC against
            // the PIT (which fails nested), marks the TSC unstable and
            // keeps time with jiffies, seconds slower to boot.
            c.ecx |= 1u << 31;
            // The in-kernel LAPIC has the TSC-deadline timer (Linux needs it
            // or a PIT for its first sleep); KVM emulates it but does not
            // list it as supported.
            if (pc_interrupts_ && tsc_deadline) c.ecx |= 1u << 24;
        }
        if (c.function == 0xb || c.function == 0x1f) c.edx = id_; // x2APIC id
        entries.push_back(c);
    }
    kvm_cpuid_entry2 base{};
    base.function = HV_CPUID_BASE;
    base.eax = HV_CPUID_BASE + 1;
    base.ebx = HV_CPUID_SIGNATURE_EBX;
    base.ecx = HV_CPUID_SIGNATURE_ECX;
    base.edx = HV_CPUID_SIGNATURE_EDX;
    kvm_cpuid_entry2 info{};
    info.function = HV_CPUID_BASE + 1;
    info.eax = HV_ABI_VERSION;
    info.ebx = HV_HYPERCALL_PORT;
    entries.push_back(base);
    entries.push_back(info);

    std::vector<uint8_t> buf(sizeof(CpuidHeader) + entries.size() * sizeof(kvm_cpuid_entry2));
    const CpuidHeader head{static_cast<uint32_t>(entries.size()), 0};
    std::memcpy(buf.data(), &head, sizeof head);
    std::memcpy(buf.data() + sizeof head, entries.data(), entries.size() * sizeof(kvm_cpuid_entry2));
    if (::ioctl(fd_.get(), kSetCpuid2, buf.data()) < 0) return sys_error(id_, "KVM_SET_CPUID2");
    return {};
}

Result<void> KvmVcpu::set_pvh_entry(uint32_t entry, uint32_t start_info) {
    kvm_sregs s{};
    if (::ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) return sys_error(id_, "KVM_GET_SREGS");
    s.cs = flat_segment(0x10, 0xb, false);
    s.ds = s.es = s.fs = s.gs = s.ss = flat_segment(0x18, 0x3, false);
    s.tr = boot_tr();
    s.cr0 = 0x11; // PE | ET: protected mode, paging off
    s.cr3 = 0;
    s.cr4 = 0;
    s.efer = 0;
    if (::ioctl(fd_.get(), KVM_SET_SREGS, &s) < 0) return sys_error(id_, "KVM_SET_SREGS");
    kvm_regs r{};
    r.rip = entry;
    r.rbx = start_info;
    r.rflags = 2;
    if (::ioctl(fd_.get(), KVM_SET_REGS, &r) < 0) return sys_error(id_, "KVM_SET_REGS");
    return {};
}

Result<void> KvmVcpu::set_long_mode_entry(const platform::LongModeEntry& e) {
    kvm_sregs s{};
    if (::ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) return sys_error(id_, "KVM_GET_SREGS");
    s.cs = flat_segment(e.code_selector, 0xb, true);
    s.ds = s.es = s.fs = s.gs = s.ss = flat_segment(e.data_selector, 0x3, true);
    s.tr = boot_tr();
    s.gdt.base = e.gdt_base;
    s.gdt.limit = e.gdt_limit;
    s.cr3 = e.cr3;
    s.cr4 = 0x20;        // PAE
    s.cr0 = 0x80050033;  // PG, AM, WP, NE, ET, MP, PE
    s.efer = 0x500;      // LME, LMA
    if (::ioctl(fd_.get(), KVM_SET_SREGS, &s) < 0) return sys_error(id_, "KVM_SET_SREGS");
    kvm_regs r{};
    r.rip = e.rip;
    r.rsi = e.rsi;
    r.rflags = 2;
    if (::ioctl(fd_.get(), KVM_SET_REGS, &r) < 0) return sys_error(id_, "KVM_SET_REGS");
    return {};
}

Result<void> KvmVcpu::set_ap_entry(const platform::Vcpu& like_vcpu, const hv_vcpu_up_t& req) {
    // Vcpus of one Vm come from one platform: this VM's are all KvmVcpus.
    const auto& like = static_cast<const KvmVcpu&>(like_vcpu);
    kvm_sregs from{};
    if (::ioctl(like.fd_.get(), KVM_GET_SREGS, &from) < 0) return sys_error(like.id_, "KVM_GET_SREGS");
    kvm_sregs s{};
    if (::ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) return sys_error(id_, "KVM_GET_SREGS");
    s.gdt = from.gdt;
    s.idt = from.idt;
    s.cr0 = from.cr0;
    s.cr4 = from.cr4;
    s.efer = from.efer;
    s.cr3 = req.cr3;
    s.cs = flat_segment(req.code_sel, 0xb, true);
    s.ds = s.es = s.fs = s.gs = s.ss = flat_segment(req.data_sel, 0x3, true);
    s.tr = boot_tr();
    if (::ioctl(fd_.get(), KVM_SET_SREGS, &s) < 0) return sys_error(id_, "KVM_SET_SREGS");
    kvm_regs r{};
    r.rip = req.rip;
    r.rsp = req.rsp;
    r.rdi = req.arg;
    r.rflags = 2;
    if (::ioctl(fd_.get(), KVM_SET_REGS, &r) < 0) return sys_error(id_, "KVM_SET_REGS");
    // A vCPU started again after vcpu_op down may hold a register write
    // from its last run; the new entry state replaces it.
    regs_dirty_ = false;
    if (sync_regs_) run_->kvm_dirty_regs = 0;
    return {};
}

platform::VcpuExit KvmVcpu::run() {
    using namespace platform;
    if (regs_dirty_) {
        if (::ioctl(fd_.get(), KVM_SET_REGS, &regs_) < 0) return FailedExit{fmt::format("KVM_SET_REGS: {}", std::strerror(errno))};
        regs_dirty_ = false;
    }
    if (sync_regs_) run_->kvm_valid_regs = KVM_SYNC_X86_REGS;
    const int r = ::ioctl(fd_.get(), KVM_RUN, 0);
    const int err = errno;
    run_->immediate_exit = 0; // a kick is consumed; the caller re-checks its flags
    if (r < 0) {
        if (err == EINTR || err == EAGAIN) return InterruptedExit{};
        return FailedExit{fmt::format("KVM_RUN: {}", std::strerror(err))};
    }
    if (!sync_regs_) {
        if (::ioctl(fd_.get(), KVM_GET_REGS, &regs_) < 0) return FailedExit{fmt::format("KVM_GET_REGS: {}", std::strerror(errno))};
    }
    auto* base = reinterpret_cast<uint8_t*>(run_);
    switch (run_->exit_reason) {
    case KVM_EXIT_IO:
        return IoExit{run_->io.port, run_->io.size, run_->io.direction == KVM_EXIT_IO_OUT, run_->io.count,
                      base + run_->io.data_offset};
    case KVM_EXIT_MMIO:
        return MmioExit{run_->mmio.phys_addr, static_cast<uint8_t>(run_->mmio.len), run_->mmio.is_write != 0,
                        run_->mmio.data};
    case KVM_EXIT_HLT: return HltExit{};
    case KVM_EXIT_SHUTDOWN: return ShutdownExit{};
    case KVM_EXIT_INTR: return InterruptedExit{};
    case KVM_EXIT_FAIL_ENTRY:
        return FailedExit{fmt::format("entry failed, hardware reason {:#x}",
                                      run_->fail_entry.hardware_entry_failure_reason)};
    case KVM_EXIT_INTERNAL_ERROR:
        return FailedExit{fmt::format("KVM internal error, suberror {}", run_->internal.suberror)};
    default: return FailedExit{fmt::format("unexpected KVM exit reason {}", run_->exit_reason)};
    }
}

std::string KvmVcpu::state_summary() {
    kvm_regs r{};
    kvm_sregs sr{};
    if (::ioctl(fd_.get(), KVM_GET_REGS, &r) < 0 || ::ioctl(fd_.get(), KVM_GET_SREGS, &sr) < 0) return {};
    return fmt::format("rip={:#x} rsp={:#x} rflags={:#x} cr0={:#x} cr2={:#x} cr3={:#x} cr4={:#x} efer={:#x} cs={:#x}",
                       r.rip, r.rsp, r.rflags, sr.cr0, sr.cr2, sr.cr3, sr.cr4, sr.efer, sr.cs.selector);
}

uint64_t KvmVcpu::rax() { return sync_regs_ ? run_->s.regs.regs.rax : regs_.rax; }

void KvmVcpu::set_rax(uint64_t v) {
    if (sync_regs_) {
        run_->s.regs.regs.rax = v;
        run_->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
    } else {
        regs_.rax = v;
        regs_dirty_ = true;
    }
}

namespace {
// The kvm_run of the vCPU bound to this thread, for the kick handler.
thread_local kvm_run* t_bound_run = nullptr;
} // namespace

void on_kick_signal() {
    if (kvm_run* r = t_bound_run) __atomic_store_n(&r->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

void KvmVcpu::bind_thread() {
    thread_ = pthread_self();
    t_bound_run = run_;
    bound_.store(true);
}

void KvmVcpu::unbind_thread() {
    bound_.store(false);
    t_bound_run = nullptr;
}

void KvmVcpu::kick() {
    __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (bound_.load()) ::pthread_kill(thread_, kick_signal());
}

} // namespace hv::kvm
