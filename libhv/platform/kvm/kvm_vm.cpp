#include "platform/kvm/kvm_vm.hpp"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace hv::kvm {

namespace {
constexpr uint64_t kHugePage = 2ull << 20;
constexpr size_t kPage = 4096; // x86's; KVM sizes the coalesced ring by it
// KVM's coalesced ring: `first` and `last` (two u32s), then the entries.
// Not kvm_coalesced_mmio_ring's layout as C++ sees it: the UAPI header
// declares the entries with __DECLARE_FLEX_ARRAY, whose empty struct
// takes a byte in C++ (none in C), which moves them to offset 16.
struct CoalescedRing {
    uint32_t first;
    uint32_t last;
    const kvm_coalesced_mmio& entry(uint32_t i) const {
        return reinterpret_cast<const kvm_coalesced_mmio*>(reinterpret_cast<const uint8_t*>(this) + 8)[i];
    }
};
static_assert(sizeof(kvm_coalesced_mmio) == 24 && alignof(kvm_coalesced_mmio) == 8);
// How many entries it holds (KVM_COALESCED_MMIO_MAX, which the UAPI header
// defines through the kernel's PAGE_SIZE).
constexpr uint32_t kRingEntries = (kPage - 8) / sizeof(kvm_coalesced_mmio);

Error sys_error(const char* what) { return make_error(Errc::platform_error, fmt::format("{}: {}", what, std::strerror(errno))); }
} // namespace

Result<std::unique_ptr<KvmVm>> KvmVm::create(std::shared_ptr<KvmSystem> sys, uint64_t ram_bytes) {
    if (ram_bytes == 0 || ram_bytes % 4096 != 0 || ram_bytes > kMaxRamBytes)
        return make_error(Errc::invalid_argument,
                          fmt::format("guest RAM of {} bytes: must be a non-zero multiple of 4 KiB below {} MiB",
                                      ram_bytes, kMaxRamBytes >> 20));
    std::unique_ptr<KvmVm> vm(new KvmVm());
    vm->sys_ = std::move(sys);
    vm->fd_ = UniqueFd(::ioctl(vm->sys_->fd(), KVM_CREATE_VM, 0));
    if (!vm->fd_.valid()) return sys_error("KVM_CREATE_VM");
    if (::ioctl(vm->fd_.get(), KVM_SET_TSS_ADDR, kTssAddr) < 0) return sys_error("KVM_SET_TSS_ADDR");

    // NORESERVE: a guest that never touches its RAM costs the host nothing.
    // Aligned to 2 MiB and marked for transparent huge pages, so KVM can
    // map the guest with 2 MiB pages: a Linux guest touching its RAM then
    // takes 512 times fewer nested page faults, which under nested KVM cost
    // seconds of boot (QEMU aligns its RAM the same way).
    const uint64_t span = ram_bytes + kHugePage;
    void* raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) return sys_error("mmap guest RAM");
    const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (start + kHugePage - 1) & ~uintptr_t{kHugePage - 1};
    if (aligned > start) ::munmap(raw, aligned - start);
    if (const uintptr_t tail = start + span - (aligned + ram_bytes); tail > 0)
        ::munmap(reinterpret_cast<void*>(aligned + ram_bytes), tail);
    void* mem = reinterpret_cast<void*>(aligned);
    vm->ram_ = core::GuestRam{static_cast<uint8_t*>(mem), ram_bytes};
    ::madvise(mem, ram_bytes, MADV_HUGEPAGE); // advice only: without THP it still works

    kvm_userspace_memory_region region{};
    region.slot = 0;
    region.guest_phys_addr = 0;
    region.memory_size = ram_bytes;
    region.userspace_addr = reinterpret_cast<uint64_t>(mem);
    if (::ioctl(vm->fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) return sys_error("KVM_SET_USER_MEMORY_REGION");
    return vm;
}

KvmVm::~KvmVm() {
    if (ring_map_ != nullptr) ::munmap(ring_map_, kPage);
    if (ram_.base != nullptr) ::munmap(ram_.base, ram_.size);
}

Result<std::unique_ptr<platform::Vcpu>> KvmVm::create_vcpu(uint32_t id) {
    UniqueFd fd(::ioctl(fd_.get(), KVM_CREATE_VCPU, id));
    if (!fd.valid()) return sys_error("KVM_CREATE_VCPU");
    if (ring_page_ != 0 && ring_map_ == nullptr) {
        void* ring = ::mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), ring_page_ * static_cast<long>(kPage));
        if (ring == MAP_FAILED) return sys_error("mmap the coalesced I/O ring");
        ring_map_ = ring;
        ring_.store(ring, std::memory_order_release);
    }
    made_vcpus_ = true;
    auto v = KvmVcpu::create(sys_, std::move(fd), id, pc_interrupts_);
    if (!v) return v.error();
    return std::unique_ptr<platform::Vcpu>(std::move(*v));
}

} // namespace hv::kvm

namespace hv::kvm {

Result<void> KvmVm::add_pc_interrupts() {
    if (made_vcpus_) return make_error(Errc::invalid_argument, "interrupt controllers must come before the vCPUs");
    if (pc_interrupts_) return {};
    if (::ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0) < 0) return sys_error("KVM_CREATE_IRQCHIP");
    // The PIT, with port 0x61's speaker bits answered in the kernel too
    // (Linux's PIT calibration reads them).
    kvm_pit_config pit{};
    pit.flags = KVM_PIT_SPEAKER_DUMMY;
    if (::ioctl(fd_.get(), KVM_CREATE_PIT2, &pit) < 0) return sys_error("KVM_CREATE_PIT2");
    pc_interrupts_ = true;
    return {};
}

Result<void> KvmVm::set_irq_line(uint32_t gsi, bool level) {
    if (!pc_interrupts_) return make_error(Errc::invalid_argument, "this VM has no interrupt controllers");
    kvm_irq_level l{};
    l.irq = gsi;
    l.level = level ? 1 : 0;
    if (::ioctl(fd_.get(), KVM_IRQ_LINE, &l) < 0) return sys_error("KVM_IRQ_LINE");
    return {};
}

Result<void> KvmVm::signal_msi(uint64_t address, uint32_t data) {
    if (!pc_interrupts_) return make_error(Errc::invalid_argument, "this VM has no interrupt controllers");
    kvm_msi m{};
    m.address_lo = static_cast<uint32_t>(address);
    m.address_hi = static_cast<uint32_t>(address >> 32);
    m.data = data;
    // 0: the guest blocked it (a destination no LAPIC accepts); >0: delivered.
    if (::ioctl(fd_.get(), KVM_SIGNAL_MSI, &m) < 0) return sys_error("KVM_SIGNAL_MSI");
    return {};
}

// len 0 matches a write of any width (KVM_CAP_IOEVENTFD_ANY_LENGTH, Linux
// 4.4): Linux's virtio driver writes 2 bytes, others may write 4.
Result<void> KvmVm::set_mmio_notifier(uint64_t gpa, int eventfd, bool on) {
    kvm_ioeventfd e{};
    e.addr = gpa;
    e.len = 0;
    e.fd = eventfd;
    e.flags = on ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN;
    if (::ioctl(fd_.get(), KVM_IOEVENTFD, &e) < 0) return sys_error(on ? "KVM_IOEVENTFD" : "KVM_IOEVENTFD (deassign)");
    return {};
}

Result<void> KvmVm::queue_port_writes(uint16_t port, uint16_t len) {
    if (made_vcpus_) return make_error(Errc::invalid_argument, "port writes must be queued before the vCPUs are made");
    if (len == 0 || uint32_t{port} + len > 0x10000u)
        return make_error(Errc::invalid_argument, fmt::format("ports {:#x}+{} are not a port range", port, len));
    // KVM_CAP_COALESCED_MMIO answers the ring's page offset in a vCPU's
    // mapping; KVM_CAP_COALESCED_PIO (Linux 4.20) says ports may use it.
    const int page = ::ioctl(sys_->fd(), KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
    if (page <= 0 || ::ioctl(sys_->fd(), KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) <= 0)
        return make_error(Errc::not_supported, "this KVM cannot queue port writes (no KVM_CAP_COALESCED_PIO)");
    kvm_coalesced_mmio_zone zone{};
    zone.addr = port;
    zone.size = len;
    zone.pio = 1;
    if (::ioctl(fd_.get(), KVM_REGISTER_COALESCED_MMIO, &zone) < 0) return sys_error("KVM_REGISTER_COALESCED_MMIO (ports)");
    ring_page_ = page;
    return {};
}

uint32_t KvmVm::drain_port_writes(const std::function<void(const PortWrite&)>& apply) {
    auto* ring = static_cast<CoalescedRing*>(ring_.load(std::memory_order_acquire));
    if (ring == nullptr) return 0;
    // The common case, on every exit: nothing queued, no lock taken.
    if (__atomic_load_n(&ring->first, __ATOMIC_RELAXED) == __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE)) return 0;
    std::lock_guard lock(ring_mu_);
    // Up to where KVM had published when we looked, and no further: vCPUs
    // that keep refilling the ring cannot hold this thread (or the lock)
    // here; what they add is drained at the next exit.
    const uint32_t last = __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE);
    uint32_t n = 0;
    for (uint32_t first = __atomic_load_n(&ring->first, __ATOMIC_ACQUIRE); first != last && n < kRingEntries;
         first = (first + 1) % kRingEntries) {
        if (first >= kRingEntries || last >= kRingEntries) break; // not KVM's: never walk off the page
        const kvm_coalesced_mmio& e = ring->entry(first);
        PortWrite w;
        w.port = static_cast<uint16_t>(e.phys_addr);
        w.size = static_cast<uint8_t>(e.len);
        // Only port zones are registered, and KVM queues 1-, 2- and 4-byte
        // accesses; anything else is dropped rather than misapplied.
        if (e.pio == 1 && e.phys_addr <= 0xffff && (e.len == 1 || e.len == 2 || e.len == 4)) {
            std::memcpy(w.data, e.data, e.len);
            apply(w);
        }
        __atomic_store_n(&ring->first, (first + 1) % kRingEntries, __ATOMIC_RELEASE);
        ++n;
    }
    return n;
}

} // namespace hv::kvm
