#include "devices/virtio/virtio_pci.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace hv::dev {

namespace {
// Where queue `q`'s kicks land in a BAR0 at `base`.
uint64_t notify_address(uint64_t base, uint32_t q) {
    return base + core::virtio::kNotifyOffset + q * core::virtio::kNotifyMultiplier;
}
} // namespace

Result<std::unique_ptr<VirtioPci>> VirtioPci::create(std::unique_ptr<core::virtio::VirtioDevice> device, platform::Vm& vm,
                                                     uint64_t bar_gpa, std::string name, std::shared_ptr<spdlog::logger> log) {
    std::unique_ptr<VirtioPci> d(new VirtioPci(std::move(device), vm, bar_gpa, std::move(name), std::move(log)));
    if (!d->fn_.valid())
        return make_error(Errc::invalid_argument, fmt::format("{}: the virtio PCI transport cannot present this device", d->name_));
    return d;
}

VirtioPci::VirtioPci(std::unique_ptr<core::virtio::VirtioDevice> device, platform::Vm& vm, uint64_t bar_gpa, std::string name,
                     std::shared_ptr<spdlog::logger> log)
    : device_(std::move(device)), vm_(vm), name_(std::move(name)), log_(std::move(log)),
      fn_(*device_, vm.ram(), *this, bar_gpa) {}

// The platform keeps its own reference to each eventfd, so closing ours is
// safe while notifiers still name them; they go with the Vm, or before
// with unserve() (hot unplug: a later device may want the same address).
VirtioPci::~VirtioPci() {
    for (int fd : kick_fds_) ::close(fd);
}

void VirtioPci::unserve(IoLoop& loop) {
    for (int fd : kick_fds_) loop.unwatch(fd);
    std::lock_guard lock(mu_);
    drop_notifiers();
    notifiers_unsupported_ = true; // not placed again, whatever the guest writes now
}

void VirtioPci::drop_notifiers() {
    for (uint32_t q = 0; q < kick_fds_.size() && notifier_bar_ != 0; ++q)
        if (auto r = vm_.set_mmio_notifier(notify_address(notifier_bar_, q), kick_fds_[q], false); !r)
            log_->warn("{}: queue {}: {}", name_, q, r.error().message);
    notifier_bar_ = 0;
}

Result<void> VirtioPci::serve_on(IoLoop& loop) {
    if (!kick_fds_.empty()) return make_error(Errc::busy, fmt::format("{}: already served on a loop", name_));
    const uint32_t n = fn_.queue_count();
    for (uint32_t q = 0; q < n; ++q) {
        const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0) return make_error(Errc::io_error, fmt::format("{}: eventfd: {}", name_, std::strerror(errno)));
        kick_fds_.push_back(fd);
        if (auto r = loop.watch(fd, [this, q] { kicked(q); }); !r) return r.error();
    }
    std::lock_guard lock(mu_);
    place_notifiers();
    return {};
}

void VirtioPci::kicked(uint32_t q) {
    uint64_t count = 0;
    if (::read(kick_fds_[q], &count, sizeof count) != sizeof count) return; // nothing new (EAGAIN)
    std::lock_guard lock(mu_);
    fn_.notify(q);
    status_.store(fn_.status(), std::memory_order_relaxed);
    // A device model serves a bounded share per call: if the driver left
    // work, this queue comes back after the loop's other fds had a turn.
    if (fn_.pending(q)) {
        const uint64_t one = 1;
        (void)!::write(kick_fds_[q], &one, sizeof one);
    }
}

void VirtioPci::place_notifiers() {
    const uint64_t bar = fn_.bar_address();
    bar_.store(bar, std::memory_order_relaxed);
    // Tried once per placement: a refused one is not asked again until the
    // driver moves BAR0 (each KVM_IOEVENTFD call waits for an SRCU grace
    // period, and config writes are the guest's to repeat).
    if (kick_fds_.empty() || notifiers_unsupported_ || bar == tried_bar_) return;
    tried_bar_ = bar;
    drop_notifiers();
    if (bar == 0) return;
    const auto at = notify_address;
    for (uint32_t q = 0; q < kick_fds_.size(); ++q) {
        if (auto r = vm_.set_mmio_notifier(at(bar, q), kick_fds_[q], true); !r) {
            // Kicks then exit to mmio(), which signals the loop itself. A
            // platform without notifiers is not asked again; anything
            // else (a guest that put two BARs on one address) is tried
            // again where the driver puts BAR0 next.
            log_->debug("{}: kicks exit to the monitor: {}", name_, r.error().message);
            for (uint32_t u = 0; u < q; ++u) (void)vm_.set_mmio_notifier(at(bar, u), kick_fds_[u], false);
            notifiers_unsupported_ = r.error().code == Errc::not_supported;
            return;
        }
    }
    notifier_bar_ = bar;
}

uint32_t VirtioPci::config_read(uint32_t offset, uint8_t size) {
    std::lock_guard lock(mu_);
    return fn_.config_read(offset, size);
}

void VirtioPci::config_write(uint32_t offset, uint32_t value, uint8_t size) {
    std::lock_guard lock(mu_);
    const bool resumed = fn_.config_write(offset, value, size);
    place_notifiers(); // the driver may have moved BAR0 or turned decoding on or off
    if (resumed) { // running again (Bus Master back on): the loop looks at every queue, as after a kick
        const uint64_t one = 1;
        for (const int fd : kick_fds_) (void)!::write(fd, &one, sizeof one);
    }
}

bool VirtioPci::mmio(uint64_t gpa, uint8_t* data, uint8_t size, bool write) {
    // Where BAR0 is, without the lock: an access for another device (or
    // a kick) does not wait while this one's queue is being served. The
    // BAR only moves under mu_, and is checked again below.
    uint64_t bar = bar_.load(std::memory_order_relaxed);
    if (bar == 0 || gpa < bar || gpa - bar >= core::virtio::kBarSize) return false;
    uint32_t off = static_cast<uint32_t>(gpa - bar);
    if (const int32_t q = fn_.notify_queue_at(off); write && q >= 0 && !kick_fds_.empty()) {
        // A kick that exited (no platform notifier): the loop serves it.
        const uint64_t one = 1;
        (void)!::write(kick_fds_[static_cast<uint32_t>(q)], &one, sizeof one);
        return true;
    }
    std::lock_guard lock(mu_);
    bar = fn_.bar_address();
    if (bar == 0 || gpa < bar || gpa - bar >= core::virtio::kBarSize) return false;
    off = static_cast<uint32_t>(gpa - bar);
    if (off + size > core::virtio::kBarSize || (size != 1 && size != 2 && size != 4 && size != 8)) {
        if (!write) std::memset(data, 0xff, size);
        return true;
    }
    if (write) {
        fn_.bar_write(off, data, size);
        status_.store(fn_.status(), std::memory_order_relaxed);
    } else {
        fn_.bar_read(off, data, size);
    }
    return true;
}

bool VirtioPci::driver_ok() {
    const uint8_t s = status_.load(std::memory_order_relaxed);
    return (s & core::virtio::kStatusDriverOk) != 0 && (s & core::virtio::kStatusNeedsReset) == 0;
}

void VirtioPci::poll() {
    std::lock_guard lock(mu_);
    fn_.poll();
    status_.store(fn_.status(), std::memory_order_relaxed);
    // Work the device left for want of its share (a timer's call moves a
    // share, as a kick's does): its queue's kick brings it back.
    for (uint32_t q = 0; q < kick_fds_.size(); ++q) {
        if (!fn_.pending(q)) continue;
        const uint64_t one = 1;
        (void)!::write(kick_fds_[q], &one, sizeof one);
    }
}

// Under mu_ (the transport calls it while it handles an access or a kick).
void VirtioPci::msi(uint64_t address, uint32_t data) {
    if (auto r = vm_.signal_msi(address, data); !r && !msi_failed_) {
        msi_failed_ = true;
        log_->warn("{}: MSI to {:#x}/{:#x} failed: {}", name_, address, data, r.error().message);
    }
}

} // namespace hv::dev
