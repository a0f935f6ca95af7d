#include "devices/virtio/virtio_pci.hpp"

#include <cstring>

#include <fmt/format.h>

namespace hv::dev {

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

uint32_t VirtioPci::config_read(uint32_t offset, uint8_t size) {
    std::lock_guard lock(mu_);
    return fn_.config_read(offset, size);
}

void VirtioPci::config_write(uint32_t offset, uint32_t value, uint8_t size) {
    std::lock_guard lock(mu_);
    fn_.config_write(offset, value, size);
}

bool VirtioPci::mmio(uint64_t gpa, uint8_t* data, uint8_t size, bool write) {
    std::lock_guard lock(mu_);
    const uint64_t bar = fn_.bar_address();
    if (bar == 0 || gpa < bar || gpa - bar >= core::virtio::kBarSize) return false;
    const uint32_t off = static_cast<uint32_t>(gpa - bar);
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
}

// Under mu_ (the transport calls it while it handles an access or a kick).
void VirtioPci::msi(uint64_t address, uint32_t data) {
    if (auto r = vm_.signal_msi(address, data); !r && !msi_failed_) {
        msi_failed_ = true;
        log_->warn("{}: MSI to {:#x}/{:#x} failed: {}", name_, address, data, r.error().message);
    }
}

} // namespace hv::dev
