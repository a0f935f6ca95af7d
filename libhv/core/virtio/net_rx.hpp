// Placing one received frame in a virtio-net receive queue (virtio 1.2
// 5.1.6.3-4): which chains it takes, what its header says, how its bytes
// are spread. The policy of the receive path, in the core; the hosted
// device model reads frames from its backend and calls deliver_frame().
//
// Without VIRTIO_NET_F_MRG_RXBUF a frame takes one chain that must hold it
// whole; with it, as many chains as it needs (num_buffers says how many),
// at most kNetRxMaxChains. A frame that cannot fit in what the driver
// could ever offer is dropped and the chains are given back; a frame that
// does not fit in what is offered now waits (no_room). Freestanding.
#pragma once

#include <stdint.h>

#include "core/guest_ram.hpp"
#include "core/virtio/split_queue.hpp"

namespace hv::core::virtio {

// Chains one frame may take with mergeable buffers: a 64 KiB frame in
// Linux's smallest mergeable buffers (about 1.5 KiB) needs 44.
constexpr uint32_t kNetRxMaxChains = 48;
// Buffers in one receive chain, at most: Linux posts one per mergeable
// chain, or up to 19 in one chain in its "big packets" mode. More breaks
// the queue (as a chain past seg_max does).
constexpr uint32_t kNetRxChainSegments = 24;

enum class RxResult : uint8_t {
    delivered, // in the queue; the caller tells the driver (Queues::used)
    no_room,   // not enough buffers now: keep the frame, wait for a kick
    dropped,   // too big for any buffer the driver offers (or a bad chain): gone
    broken,    // the queue is broken (error() says why)
};

// `frame` is the 12-byte virtio-net header (as the backend wrote it; its
// num_buffers is set here) and the frame, `len` bytes in all.
RxResult deliver_frame(SplitQueue& queue, const GuestRam& ram, const uint8_t* frame, uint32_t len, bool mergeable);

} // namespace hv::core::virtio
