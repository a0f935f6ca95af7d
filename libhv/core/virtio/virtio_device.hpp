// VirtioDevice: a virtio device model behind a transport (virtio 1.2
// chapter 5: block, console, ...). The transport (pci_function.hpp) owns
// the queues, the feature negotiation, the status and the interrupts; the
// device model says what it is, serves its configuration space, and takes
// chains from its queues when the driver kicks them. Freestanding.
#pragma once

#include <stdint.h>

#include "core/virtio/split_queue.hpp"

namespace hv::core::virtio {

// Device-independent feature bits the transport offers (virtio 1.2 6).
constexpr uint64_t kFIndirectDesc = 1ull << 28;
constexpr uint64_t kFEventIdx = 1ull << 29;
constexpr uint64_t kFVersion1 = 1ull << 32;

// Device status bits (virtio 1.2 2.1).
constexpr uint8_t kStatusAcknowledge = 1;
constexpr uint8_t kStatusDriver = 2;
constexpr uint8_t kStatusDriverOk = 4;
constexpr uint8_t kStatusFeaturesOk = 8;
constexpr uint8_t kStatusNeedsReset = 0x40;
constexpr uint8_t kStatusFailed = 0x80;

constexpr uint32_t kMaxQueues = 8;

// What a device model may ask of its transport while it works a queue.
// A table of plain function pointers that the transport fills, not
// virtual functions: the transport lives in the core, built without RTTI,
// and hosted code built with UBSan's vptr checks would need type
// information for a core class with virtual functions (as the
// schedulers' Ops, docs/architecture.md).
class Queues {
public:
    struct Ops {
        SplitQueue* (*queue)(void* transport, uint32_t q);
        void (*used)(void* transport, uint32_t q);
        void (*needs_reset)(void* transport);
        bool (*running)(void* transport);
    };
    Queues(const Ops& ops, void* transport) : ops_(&ops), transport_(transport) {}

    // Queue `q` when the driver enabled it (null otherwise).
    SplitQueue* queue(uint32_t q) { return ops_->queue(transport_, q); }
    // After push(): interrupts the driver if it wants to hear of it.
    void used(uint32_t q) { ops_->used(transport_, q); }
    // The driver broke a queue or the protocol: DEVICE_NEEDS_RESET, and a
    // configuration-change interrupt so it notices (virtio 1.2 2.1.2).
    void needs_reset() { ops_->needs_reset(transport_); }
    // The driver runs the device (DRIVER_OK, no reset needed, bus
    // mastering on): queues may be used.
    bool running() { return ops_->running(transport_); }

private:
    const Ops* ops_;
    void* transport_;
};

class VirtioDevice {
public:
    virtual ~VirtioDevice() = default;
    virtual uint16_t device_type() const = 0; // virtio 1.2 5: 2 block, 3 console
    virtual uint64_t features() const = 0;    // device-specific bits offered
    virtual uint32_t queue_count() const = 0; // at most kMaxQueues
    virtual uint16_t queue_max_size() const = 0;
    // The device configuration layout: `len` bytes from `offset`, inside
    // config_size() (the transport checks).
    virtual uint32_t config_size() const = 0;
    virtual void read_config(uint32_t offset, uint8_t* data, uint32_t len) = 0;
    virtual void write_config(uint32_t offset, const uint8_t* data, uint32_t len) = 0;
    // DRIVER_OK with the negotiated features: the device may use its queues.
    virtual void activate(uint64_t features) = 0;
    // The driver reset the device: forget everything since activate().
    virtual void reset() = 0;
    // The driver kicked queue `q` (enabled, device active).
    virtual void notify(Queues& queues, uint32_t q) = 0;
    // After notify(q) returned with chains left in queue `q`: whether
    // another call now would move them (the device stopped for want of its
    // share per call). The transport calls again only then. No by default:
    // chains a device leaves otherwise wait for something else (input or
    // frames from its backend, a rate limit's timer), which comes back
    // through poll(), and a receive queue the driver keeps full always has
    // chains left; a yes there would call notify() again and again while
    // the device has nothing to put in them.
    virtual bool resume(uint32_t q) const {
        (void)q;
        return false;
    }
    // Work arrived from the host side (console input, a backend's
    // completion, a device's own timer or fd), running or not: a device
    // that is not running (queues.running()) consumes its wake-up and
    // stops watching what woke it, so a level-triggered fd cannot spin
    // the I/O loop; a running one moves what it can.
    virtual void poll(Queues& queues) { (void)queues; }
};

} // namespace hv::core::virtio
