// VirtioPci: a virtio device model on hv's PCI bus: the core's transport
// (core/virtio/pci_function.hpp) behind one lock, its MSI-X messages sent
// through the platform. Every vCPU may touch the function at once; the lock
// makes each access, and the device work a kick starts, one at a time.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include <spdlog/logger.h>

#include "core/virtio/pci_function.hpp"
#include "devices/pci/pci_device.hpp"
#include "hv/result.hpp"
#include "platform/vm.hpp"

namespace hv::dev {

class VirtioPci final : public PciDevice, private core::virtio::InterruptSink {
public:
    // `bar_gpa`: where BAR0 starts (kBarSize-aligned, in the PCI window).
    static Result<std::unique_ptr<VirtioPci>> create(std::unique_ptr<core::virtio::VirtioDevice> device, platform::Vm& vm,
                                                     uint64_t bar_gpa, std::string name, std::shared_ptr<spdlog::logger> log);

    core::virtio::VirtioDevice& device() { return *device_; }
    // Host-side work arrived for the device (any thread).
    void poll();
    // The guest's driver has the device running (DRIVER_OK, no reset needed).
    bool driver_ok();

    uint32_t config_read(uint32_t offset, uint8_t size) override;
    void config_write(uint32_t offset, uint32_t value, uint8_t size) override;
    bool mmio(uint64_t gpa, uint8_t* data, uint8_t size, bool write) override;

private:
    VirtioPci(std::unique_ptr<core::virtio::VirtioDevice> device, platform::Vm& vm, uint64_t bar_gpa, std::string name,
              std::shared_ptr<spdlog::logger> log);
    void msi(uint64_t address, uint32_t data) override;

    std::mutex mu_;
    std::unique_ptr<core::virtio::VirtioDevice> device_;
    platform::Vm& vm_;
    std::string name_;
    std::shared_ptr<spdlog::logger> log_;
    core::virtio::PciFunction fn_;
    bool msi_failed_ = false; // logged once
    // The transport's status after the last access (for driver_ok(),
    // which the control plane calls and must not wait on a busy device).
    std::atomic<uint8_t> status_{0};
};

} // namespace hv::dev
