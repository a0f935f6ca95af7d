// SplitQueue: the device side of one virtio 1.x split virtqueue (virtio 1.2
// section 2.7), walked in the core so the hosted device models and the
// ring-0 image share it. It takes chains from the available ring, checks
// every descriptor the driver wrote before anything uses it, and returns
// them on the used ring, with event-index notification suppression.
//
// Trust: the rings and descriptors are guest memory, written by a driver
// that may be hostile and may change them while we read. Each descriptor is
// copied out once (and the compiler may not read it again); every buffer is
// bounds-checked against guest RAM; a chain is cut off at the queue size
// (loops), at one indirect table, and at the caller's segment capacity; no
// more chains are taken than the queue holds in flight. A driver that
// offers one head twice gets its buffers twice: device models must not key
// state they free by head alone. A malformed chain marks the queue broken
// (error() says why): the device model then sets DEVICE_NEEDS_RESET, as the
// spec asks, and the queue does nothing until it is configured again.
//
// Freestanding (DESIGN.md section 3): no heap; the caller gives the segment
// array. Not thread-safe: one device thread owns a queue.
#pragma once

#include <stdint.h>

#include "core/guest_ram.hpp"

namespace hv::core::virtio {

// Descriptor flags (struct virtq_desc).
constexpr uint16_t kDescNext = 1;
constexpr uint16_t kDescWrite = 2;
constexpr uint16_t kDescIndirect = 4;
// Ring flags.
constexpr uint16_t kAvailNoInterrupt = 1; // driver -> device: no interrupt wanted
constexpr uint16_t kUsedNoNotify = 1;     // device -> driver: no kick wanted
constexpr uint32_t kMaxQueueSize = 32768;
constexpr uint32_t kDescSize = 16;

// One buffer of a chain: guest-physical, inside RAM, read or written by the
// device.
struct Segment {
    uint64_t gpa = 0;
    uint32_t len = 0;
    bool writable = false;
};

struct Chain {
    uint16_t head = 0;     // what push() returns to the driver
    uint32_t segments = 0; // filled entries of the caller's array
    uint64_t readable = 0; // bytes the device may read (the driver's request)
    uint64_t writable = 0; // bytes the device may write (its answer)
    uint32_t descriptors = 0; // entries of the queue's own table it holds (an indirect table's descriptor is one)
};

enum class QueueError : uint8_t {
    none,
    not_ready,          // used before a valid configure()
    bad_layout,         // size not a power of two in 1..32768, misaligned or outside RAM
    avail_overrun,      // avail idx more than a queue ahead, or more chains in flight than the queue holds
    bad_head,           // a ring entry past the descriptor table
    desc_out_of_range,  // a `next` past the table it indexes
    loop,               // a chain longer than its table (a loop)
    nested_indirect,    // an indirect table inside an indirect table
    indirect_with_next, // INDIRECT together with NEXT (forbidden)
    indirect_refused,   // INDIRECT without VIRTIO_F_INDIRECT_DESC negotiated
    bad_indirect_table, // length 0, not a multiple of 16, or outside RAM
    buffer_out_of_ram,  // a buffer not wholly inside guest RAM
    read_after_write,   // a readable buffer after a writable one
    too_many_segments,  // more buffers than the device takes (its seg_max)
    too_large,          // a chain over 2^32 bytes in total (the spec forbids it)
};

const char* queue_error_text(QueueError e);

class SplitQueue {
public:
    struct Layout {
        uint32_t size = 0; // entries; a power of two, 1..kMaxQueueSize
        uint64_t desc = 0; // descriptor table, 16-byte aligned
        uint64_t avail = 0; // available ring, 2-byte aligned
        uint64_t used = 0;  // used ring, 4-byte aligned
    };

    // What the device and driver negotiated.
    struct Features {
        bool event_idx = false;     // VIRTIO_F_EVENT_IDX
        bool indirect_desc = false; // VIRTIO_F_INDIRECT_DESC
    };

    // Takes the driver's layout (when it sets queue_enable). Checks it (and
    // that guest RAM is mapped 16-byte aligned here) and starts from index 0.
    QueueError configure(const GuestRam& ram, const Layout& layout, Features features);
    // Device reset: not ready, nothing broken.
    void reset();

    bool ready() const { return ready_ && error_ == QueueError::none; }
    QueueError error() const { return error_; }
    uint32_t size() const { return size_; }

    // Chains the driver has made available and pop() has not taken.
    // Checks the driver's index: an overrun breaks the queue (returns 0).
    uint32_t available();
    // Takes the next available chain into `segs` (capacity `cap`) and
    // `chain`. false when there is none (error() == none) or when it is
    // malformed (error() says why; the queue is broken and the chain is not
    // returned, as the device now needs a reset).
    bool pop(Segment* segs, uint32_t cap, Chain& chain);
    // Returns a popped chain with `written` bytes written into its
    // writable buffers. false (nothing written) for a head past the table
    // or a queue that is not ready.
    bool push(uint16_t head, uint32_t written);
    // Gives back the last `n` chains pop() took and push() has not
    // returned: the next pop() takes them again (read afresh from the
    // rings). For a device that took buffers for something that did not
    // fit (virtio-net's receive queue). false (nothing changed) when
    // fewer than `n` are in flight.
    bool rewind(uint32_t n);
    // Kicks wanted as soon as the driver adds a chain beyond those it has
    // made available now (with event_idx: avail_event = its index, not
    // this device's next entry, which after a rewind is behind it and
    // would never be passed). For a device waiting for more buffers than
    // are there; it looks again after this (available()), as after
    // want_notify(true).
    void notify_when_added();
    // After one or more push(): whether the driver wants an interrupt for
    // them (VRING_AVAIL_F_NO_INTERRUPT, or used_event with event_idx).
    // Answers each pushed entry once.
    bool needs_interrupt();
    // Whether the device wants the driver's kicks (used flags, or
    // avail_event = the next index it will read, with event_idx). Before
    // it sleeps a device calls want_notify(true) and then available() once
    // more (both fence), so a kick the driver skipped in between is not
    // lost.
    void want_notify(bool want);

private:
    struct Desc {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        uint16_t next;
    };
    static_assert(sizeof(Desc) == kDescSize, "struct virtq_desc");

    bool fail(QueueError e);
    bool walk(uint16_t head, Segment* segs, uint32_t cap, Chain& chain);

    GuestRam ram_{};
    uint32_t size_ = 0;
    uint64_t desc_ = 0, avail_ = 0, used_ = 0;
    Features features_{};
    bool ready_ = false;
    bool notify_ = true; // the device wants the driver's kicks
    QueueError error_ = QueueError::none;
    uint16_t last_avail_ = 0;  // next avail ring entry to take
    uint16_t used_idx_ = 0;    // next used ring entry to fill
    uint16_t signalled_ = 0;   // used_idx_ at the last needs_interrupt()
};

} // namespace hv::core::virtio
