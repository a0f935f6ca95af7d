// Placing frames from the host in a virtio-net receive queue (virtio 1.2
// 5.1.6.3-4): which chains a frame takes, what its header says, how its
// bytes are spread. The policy of the receive path, in the core; the hosted
// device model reads frames from its backend and either copies each one in
// (RxBuffers::deliver) or reads it straight into the buffers held ahead
// (RxBuffers::commit: the host's read is then the only copy).
//
// Without VIRTIO_NET_F_MRG_RXBUF a frame takes one chain that must hold it
// whole; with it, as many chains as it needs (num_buffers says how many),
// at most kNetRxMaxChains. A frame that cannot fit in what the driver
// could ever offer (kNetRxMaxChains chains, or chains holding every entry
// of the ring's descriptor table) is dropped and the chains are given back; a frame that does not
// fit in what is offered now waits (no_room). Freestanding.
#pragma once

#include <stdint.h>

#include "core/guest_ram.hpp"
#include "core/virtio/split_queue.hpp"

namespace hv::core::virtio {

// Chains one frame may take with mergeable buffers: a 64 KiB frame in
// Linux's smallest mergeable buffers (1536 bytes) needs 43, and the 68 KiB
// the TAP backend reads into held buffers (virtio_net.cpp) 46.
constexpr uint32_t kNetRxMaxChains = 48;
// Buffers in one receive chain, at most: Linux posts one per mergeable
// chain. Without mergeable buffers the one chain a frame takes may have
// kNetRxMaxSegments (Linux's "big packets" mode posts 19). More breaks the
// queue (as a chain past seg_max does).
constexpr uint32_t kNetRxChainSegments = 24;
constexpr uint32_t kNetRxMaxSegments = kNetRxMaxChains * kNetRxChainSegments;

enum class RxResult : uint8_t {
    delivered, // in the queue; the caller tells the driver (Queues::used)
    no_room,   // not enough buffers now: keep the frame, wait for a kick
    dropped,   // too big for any buffer the driver offers (or a bad chain): gone
    broken,    // the queue is broken (error() says why)
};

// Receive chains taken from the queue ahead of the frame that will fill
// them, held in the order the driver offered them. A frame is written from
// the start of the first held chain on (its 12-byte header first), and
// commit() returns the chains it took; the rest stay held for the next.
//
// Held chains are always the last the queue handed out: nothing else may
// pop the queue while chains are held (release() them first), or a later
// release() would give back the wrong ones. After a device reset the queue
// is configured afresh: forget() them, never release(). Holding is fine
// while the device runs; a saved device state would release first.
//
// About 20 KiB (the buffers of kNetRxMaxChains chains): keep one per
// queue, not on a stack.
class RxBuffers {
public:
    // A writable buffer's part, guest-physical.
    struct Span {
        uint64_t gpa;
        uint32_t len;
    };

    // Takes chains until the held ones can take `want` bytes, or hold
    // kNetRxMaxChains (one without mergeable buffers), or the queue has no
    // more. false when a chain was malformed (the queue is broken; what was
    // held before stays held).
    bool fill(SplitQueue& queue, uint64_t want, bool mergeable);
    // Bytes the held chains can take (their writable buffers).
    uint64_t capacity() const { return capacity_; }
    uint32_t chains() const { return chains_; }
    // The held writable buffers from byte `skip` of the first one on, in
    // order, at most `cap` spans; returns how many were written.
    uint32_t spans(uint64_t skip, Span* out, uint32_t cap) const;
    // Copies `len` bytes into the held buffers from byte `at` on; false
    // (nothing written) when they do not reach that far.
    bool write(const GuestRam& ram, uint64_t at, const uint8_t* data, uint64_t len) const;
    // A frame of `len` bytes (its 12-byte header included; 12 <= len <=
    // capacity()) is in the held buffers but for its header: writes
    // `header` there with num_buffers set, returns the chains the frame
    // filled to the driver (push) and keeps the rest. Returns the chains
    // used, 0 (nothing done) when `len` is out of range.
    uint32_t commit(SplitQueue& queue, const GuestRam& ram, const uint8_t* header, uint64_t len);
    // Gives every held chain back (SplitQueue::rewind): the next pop()
    // takes them again.
    void release(SplitQueue& queue);
    // Drops the held chains without a word to the queue (it was reset).
    void forget();
    // Copies a frame in: `frame` is the 12-byte virtio-net header (as the
    // backend wrote it; num_buffers is set here) and the frame, `len`
    // bytes in all. Uses the held chains and takes more as it needs; when
    // it is not delivered every held chain goes back (release).
    RxResult deliver(SplitQueue& queue, const GuestRam& ram, const uint8_t* frame, uint32_t len, bool mergeable);

private:
    struct Held {
        uint16_t head;
        uint32_t first; // its writable buffers start at segs_[first]
        uint64_t bytes;
        uint32_t descriptors; // of the queue's table (Chain::descriptors)
    };
    Held held_[kNetRxMaxChains] = {};
    Segment segs_[kNetRxMaxSegments] = {};
    uint32_t chains_ = 0;
    uint32_t nsegs_ = 0;
    uint64_t capacity_ = 0;
    uint32_t descriptors_ = 0; // of the queue's table, all held chains'
};

} // namespace hv::core::virtio
