#include "core/virtio/net_rx.hpp"

#include "core/virtio/net_header.hpp"

namespace hv::core::virtio {

bool RxBuffers::fill(SplitQueue& queue, uint64_t want, bool mergeable) {
    const uint32_t max_chains = mergeable ? kNetRxMaxChains : 1;
    while (capacity_ < want && chains_ < max_chains) {
        // A chain may fill what room is left: kNetRxChainSegments for each
        // of kNetRxMaxChains, or all of it for the one chain a frame takes
        // without mergeable buffers.
        Segment* segs = segs_ + nsegs_;
        const uint32_t room = kNetRxMaxSegments - nsegs_;
        const uint32_t cap = mergeable && room > kNetRxChainSegments ? kNetRxChainSegments : room;
        Chain chain;
        if (!queue.pop(segs, cap, chain)) return queue.error() == QueueError::none;
        // Readable buffers in a receive chain are skipped.
        uint32_t n = 0;
        for (uint32_t i = 0; i < chain.segments; ++i)
            if (segs[i].writable) segs[n++] = segs[i];
        held_[chains_++] = Held{chain.head, nsegs_, chain.writable, chain.descriptors};
        nsegs_ += n;
        capacity_ += chain.writable;
        descriptors_ += chain.descriptors;
    }
    return true;
}

uint32_t RxBuffers::spans(uint64_t skip, Span* out, uint32_t cap) const {
    uint32_t n = 0;
    for (uint32_t i = 0; i < nsegs_ && n < cap; ++i) {
        const Segment& s = segs_[i];
        if (skip >= s.len) {
            skip -= s.len;
            continue;
        }
        out[n++] = Span{s.gpa + skip, static_cast<uint32_t>(s.len - skip)};
        skip = 0;
    }
    return n;
}

bool RxBuffers::write(const GuestRam& ram, uint64_t at, const uint8_t* data, uint64_t len) const {
    if (at > capacity_ || len > capacity_ - at) return false;
    for (uint32_t i = 0; i < nsegs_ && len != 0; ++i) {
        const Segment& s = segs_[i];
        if (at >= s.len) {
            at -= s.len;
            continue;
        }
        const uint64_t k = s.len - at < len ? s.len - at : len;
        ram.write(s.gpa + at, data, k);
        data += k;
        len -= k;
        at = 0;
    }
    return true;
}

uint32_t RxBuffers::commit(SplitQueue& queue, const GuestRam& ram, const uint8_t* header, uint64_t len) {
    if (len < kNetHeaderSize || len > capacity_) return 0;
    // The fewest chains that hold it, in order.
    uint32_t used = 0;
    for (uint64_t held = 0; held < len; ++used) held += held_[used].bytes;
    // The header's num_buffers, now that it is known (virtio 1.2 5.1.6.4:
    // 1 without mergeable buffers).
    uint8_t h[kNetHeaderSize];
    for (uint32_t i = 0; i < kNetHeaderSize; ++i) h[i] = header[i];
    h[10] = static_cast<uint8_t>(used);
    h[11] = 0;
    write(ram, 0, h, kNetHeaderSize);
    uint64_t left = len;
    for (uint32_t c = 0; c < used; ++c) {
        const uint64_t k = held_[c].bytes < left ? held_[c].bytes : left;
        queue.push(held_[c].head, static_cast<uint32_t>(k));
        left -= k;
        capacity_ -= held_[c].bytes;
        descriptors_ -= held_[c].descriptors;
    }
    // The rest move to the front.
    const uint32_t drop = used < chains_ ? held_[used].first : nsegs_;
    for (uint32_t i = drop; i < nsegs_; ++i) segs_[i - drop] = segs_[i];
    nsegs_ -= drop;
    for (uint32_t c = used; c < chains_; ++c) {
        held_[c - used] = held_[c];
        held_[c - used].first -= drop;
    }
    chains_ -= used;
    return used;
}

void RxBuffers::release(SplitQueue& queue) {
    if (chains_ != 0) queue.rewind(chains_);
    forget();
}

void RxBuffers::forget() {
    chains_ = 0;
    nsegs_ = 0;
    capacity_ = 0;
    descriptors_ = 0;
}

RxResult RxBuffers::deliver(SplitQueue& queue, const GuestRam& ram, const uint8_t* frame, uint32_t len, bool mergeable) {
    if (len < kNetHeaderSize) {
        release(queue);
        return RxResult::dropped;
    }
    if (!fill(queue, len, mergeable)) return RxResult::broken;
    if (capacity_ < len) {
        // Never fits in buffers like these (without mergeable buffers the
        // chain stays for a smaller frame), nor when the held chains take
        // every entry of the ring's descriptor table (a small ring of small
        // buffers: the driver can offer no more until some come back, so
        // waiting would stall the queue for good); else not in what is
        // there now.
        const bool never = chains_ == (mergeable ? kNetRxMaxChains : 1) || descriptors_ >= queue.size();
        release(queue);
        return never ? RxResult::dropped : RxResult::no_room;
    }
    // The bytes written are the device's to overwrite if the chains go
    // back, as the buffers were never returned.
    write(ram, kNetHeaderSize, frame + kNetHeaderSize, len - kNetHeaderSize);
    commit(queue, ram, frame, len);
    return RxResult::delivered;
}

} // namespace hv::core::virtio
