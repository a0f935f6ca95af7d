// PciFunction: a virtio device on PCI, the modern (virtio 1.x) transport of
// virtio 1.2 section 4.1, as one PCI function with one 64-bit memory BAR:
//
//   BAR0 + 0x0000  common configuration (features, status, queue setup)
//        + 0x1000  ISR status (read to clear; used only without MSI-X)
//        + 0x2000  device configuration (the device model's)
//        + 0x3000  notifications: queue q kicks at 0x3000 + 4 * q
//        + 0x4000  MSI-X table (one vector per queue, one for config)
//        + 0x5000  MSI-X pending bits
//
// each named by a virtio vendor capability in configuration space, plus
// the MSI-X capability. The function offers only MSI-X (no INTx pin): the
// machine describes no legacy PCI interrupt routing, and every virtio
// driver of the last decade uses MSI-X. No VIRTIO_PCI_CAP_PCI_CFG window
// either (no driver hv knows of uses it; the spec asks for one).
//
// All of it is driver input: every register write is checked here, queue
// layouts by SplitQueue::configure, and a queue the driver breaks sets
// DEVICE_NEEDS_RESET. Freestanding; not thread-safe (the monitor holds one
// lock per function).
#pragma once

#include <stdint.h>

#include "core/guest_ram.hpp"
#include "core/pci/config_space.hpp"
#include "core/virtio/split_queue.hpp"
#include "core/virtio/virtio_device.hpp"

namespace hv::core::virtio {

constexpr uint16_t kPciVendor = 0x1af4;
constexpr uint64_t kBarSize = 0x8000;
constexpr uint32_t kCommonOffset = 0x0000;
constexpr uint32_t kIsrOffset = 0x1000;
constexpr uint32_t kDeviceOffset = 0x2000;
constexpr uint32_t kNotifyOffset = 0x3000;
constexpr uint32_t kNotifyMultiplier = 4;
constexpr uint32_t kMsixTableOffset = 0x4000;
constexpr uint32_t kMsixPbaOffset = 0x5000;
constexpr uint32_t kMsixVectors = kMaxQueues + 1;
constexpr uint16_t kNoVector = 0xffff;

// Where the function's interrupts go: the platform's MSI delivery.
class InterruptSink {
public:
    virtual void msi(uint64_t address, uint32_t data) = 0;

protected:
    ~InterruptSink() = default;
};

class PciFunction final {
public:
    // `device` and `irq` outlive the function; the BAR sits at `bar_gpa`
    // (kBarSize-aligned, the monitor's choice). valid() is false when
    // the device model asks for more than the transport has.
    PciFunction(VirtioDevice& device, const GuestRam& ram, InterruptSink& irq, uint64_t bar_gpa);
    bool valid() const { return valid_; }

    pci::ConfigSpace& config() { return config_; }
    uint32_t config_read(uint32_t offset, uint8_t size) const { return config_.read(offset, size); }
    // True when the write set the device running again (Bus Master back
    // on with DRIVER_OK): the transport then has every queue looked at, as
    // after a kick, since a driver that had kicks turned off by the device
    // sends none, and a device that stopped watching its backend while it
    // could not run would otherwise wait for one.
    bool config_write(uint32_t offset, uint32_t value, uint8_t size);

    // Where BAR0 is now (the driver may move it); 0 while memory decoding
    // is off.
    uint64_t bar_address() const;
    // An access of 1, 2, 4 or 8 bytes at `offset` into BAR0.
    void bar_read(uint32_t offset, uint8_t* data, uint8_t size);
    void bar_write(uint32_t offset, const uint8_t* data, uint8_t size);

    uint8_t status() const { return status_; }
    uint64_t driver_features() const { return driver_features_; }

    // The queue a write at BAR0 `offset` notifies, or -1: the one rule for
    // where notifications land, for hosts that catch them without an
    // exit (an ioeventfd per queue) as well as for bar_write().
    int32_t notify_queue_at(uint32_t offset) const;
    uint32_t queue_count() const { return nqueues_; }
    // Queue `q` was notified (a kick caught outside bar_write): the device
    // model serves it when the driver has it running and the queue is on.
    void notify(uint32_t q);
    // The driver has made chains available on queue `q` that the device
    // has not taken (and the device would serve them now).
    bool pending(uint32_t q);

    // Host-side work for the device model (VirtioDevice::poll), when the
    // driver has it running (DRIVER_OK, no reset needed, bus mastering
    // on); else nothing. Kicks are served on the same condition.
    void poll();

private:
    struct QueueRegs {
        uint16_t size = 0;
        uint16_t vector = kNoVector;
        bool enabled = false;
        uint64_t desc = 0, driver = 0, device = 0;
    };

    // What the device model gets (Queues::Ops).
    SplitQueue* queue(uint32_t q);
    void used(uint32_t q);
    void needs_reset();
    static const Queues::Ops kQueueOps;

    uint64_t offered() const;
    bool running() const;
    void reset();
    uint64_t common_read(uint32_t offset, uint8_t size);
    void common_write(uint32_t offset, uint64_t value, uint8_t size);
    void set_status(uint8_t s);
    void enable_queue(uint32_t q);
    // Sends `vector` (an MSI-X table entry) or leaves it pending while masked.
    void interrupt(uint16_t vector, uint8_t isr_bit);
    void deliver_pending();
    bool msix_enabled() const;
    bool msix_masked() const;

    VirtioDevice& device_;
    Queues device_queues_{kQueueOps, this}; // what notify() and poll() hand the device
    GuestRam ram_;
    InterruptSink& irq_;
    pci::ConfigSpace config_;
    bool valid_ = false;
    uint8_t msix_cap_ = 0;
    uint32_t nqueues_ = 0;

    uint32_t device_feature_select_ = 0;
    uint32_t driver_feature_select_ = 0;
    uint64_t driver_features_ = 0;
    uint16_t config_vector_ = kNoVector;
    uint8_t status_ = 0;
    uint8_t config_generation_ = 0;
    uint16_t queue_select_ = 0;
    uint8_t isr_ = 0;
    QueueRegs regs_[kMaxQueues];
    SplitQueue queues_[kMaxQueues];
    uint8_t msix_table_[kMsixVectors * 16] = {};
    uint64_t msix_pending_ = 0;
};

} // namespace hv::core::virtio
