// VirtioPci: a virtio device model on hv's PCI bus: the core's transport
// (core/virtio/pci_function.hpp) behind one lock, its MSI-X messages sent
// through the platform. Every vCPU may touch the function at once; the lock
// makes each access, and the device work a kick starts, one at a time.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "core/virtio/pci_function.hpp"
#include "devices/io_loop.hpp"
#include "devices/pci/pci_device.hpp"
#include "hv/result.hpp"
#include "platform/vm.hpp"

namespace hv::dev {

class VirtioPci final : public PciDevice, private core::virtio::InterruptSink {
public:
    // `bar_gpa`: where BAR0 starts (kBarSize-aligned, in the PCI window).
    static Result<std::unique_ptr<VirtioPci>> create(std::unique_ptr<core::virtio::VirtioDevice> device, platform::Vm& vm,
                                                     uint64_t bar_gpa, std::string name, std::shared_ptr<spdlog::logger> log);

    ~VirtioPci() override;
    core::virtio::VirtioDevice& device() { return *device_; }
    // The device's queues are then served on `loop`'s thread: a kick
    // (caught by the platform without an exit where it can, else by
    // mmio()) only signals the loop. Once; before or while the loop runs.
    Result<void> serve_on(IoLoop& loop);
    // Before the device is unplugged from a running guest: kicks reach it
    // no more (the platform's notifiers are gone and `loop`, the one
    // serve_on() was given, no longer watches its kick fds).
    void unserve(IoLoop& loop);
    // Host-side work arrived for the device (any thread).
    void poll();
    // The guest's driver has the device running (DRIVER_OK, no reset needed).
    bool driver_ok();
    // Runs `f(device)` under the transport's lock: for the control plane
    // changing a device's settings while its queues are served.
    template <class F>
    auto locked(F f) {
        std::lock_guard lock(mu_);
        return f(*device_);
    }

    uint32_t config_read(uint32_t offset, uint8_t size) override;
    void config_write(uint32_t offset, uint32_t value, uint8_t size) override;
    bool mmio(uint64_t gpa, uint8_t* data, uint8_t size, bool write) override;

private:
    VirtioPci(std::unique_ptr<core::virtio::VirtioDevice> device, platform::Vm& vm, uint64_t bar_gpa, std::string name,
              std::shared_ptr<spdlog::logger> log);
    void msi(uint64_t address, uint32_t data) override;
    // Moves the platform's notifiers to where BAR0 is now (under mu_).
    void place_notifiers();
    void drop_notifiers(); // under mu_
    void kicked(uint32_t q);

    std::mutex mu_;
    std::unique_ptr<core::virtio::VirtioDevice> device_;
    platform::Vm& vm_;
    std::string name_;
    std::shared_ptr<spdlog::logger> log_;
    core::virtio::PciFunction fn_;
    bool msi_failed_ = false; // logged once
    std::vector<int> kick_fds_;       // an eventfd per queue, once served on a loop
    uint64_t notifier_bar_ = 0;       // where the platform's notifiers are (0: none)
    uint64_t tried_bar_ = 0;          // where they were last placed or tried
    std::atomic<uint64_t> bar_{0};    // BAR0 as of the last config write (0: decoding off)
    bool notifiers_unsupported_ = false;
    // The transport's status after the last access (for driver_ok(),
    // which the control plane calls and must not wait on a busy device).
    std::atomic<uint8_t> status_{0};
};

} // namespace hv::dev
