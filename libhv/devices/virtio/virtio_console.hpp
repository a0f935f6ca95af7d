// VirtioConsole: the virtio console (virtio 1.2 section 5.3), one port
// without multiport: what a Linux guest calls hvc0, the PV console of the
// PC machine (xl console -t pv). Guest output (transmitq) goes to a
// dev::Console as the 16550's goes to another; input the control plane
// queues there fills the guest's receive buffers.
#pragma once

#include "core/guest_ram.hpp"
#include "core/virtio/virtio_device.hpp"
#include "devices/console.hpp"

namespace hv::dev {

class VirtioConsole final : public core::virtio::VirtioDevice {
public:
    static constexpr uint16_t kQueueSize = 64;
    static constexpr uint32_t kReceiveq = 0;
    static constexpr uint32_t kTransmitq = 1;

    VirtioConsole(Console& console, const core::GuestRam& ram) : console_(console), ram_(ram) {}

    uint16_t device_type() const override { return 3; }
    uint64_t features() const override { return 0; } // no size, multiport or emergency write
    uint32_t queue_count() const override { return 2; }
    uint16_t queue_max_size() const override { return kQueueSize; }
    // struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr
    // (read as zeros: none of their features is offered).
    uint32_t config_size() const override { return 12; }
    void read_config(uint32_t, uint8_t* data, uint32_t len) override;
    void write_config(uint32_t, const uint8_t*, uint32_t) override {}
    void activate(uint64_t) override {}
    void reset() override {}
    void notify(core::virtio::Queues& queues, uint32_t q) override;
    void poll(core::virtio::Queues& queues) override {
        if (queues.running()) receive(queues);
    }

private:
    void transmit(core::virtio::Queues& queues);
    void receive(core::virtio::Queues& queues);

    Console& console_;
    core::GuestRam ram_;
};

} // namespace hv::dev
