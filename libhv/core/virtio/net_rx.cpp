#include "core/virtio/net_rx.hpp"

#include "core/virtio/net_header.hpp"

namespace hv::core::virtio {

RxResult deliver_frame(SplitQueue& queue, const GuestRam& ram, const uint8_t* frame, uint32_t len, bool mergeable) {
    if (len < kNetHeaderSize) return RxResult::dropped;
    Segment segs[kNetRxChainSegments];
    uint16_t heads[kNetRxMaxChains];
    uint32_t wrote[kNetRxMaxChains];
    uint64_t num_buffers_gpa[2] = {}; // where the header's num_buffers landed
    const uint32_t max_chains = mergeable ? kNetRxMaxChains : 1;
    uint32_t chains = 0, off = 0;
    // Fills chains in order until the frame is in. Chains taken for a
    // frame that then does not fit are given back (rewind): the bytes
    // already written there are the device's to overwrite, as the buffers
    // were never returned. Readable buffers in a receive chain are skipped.
    while (off < len) {
        if (chains == max_chains) {
            // Never fits in buffers like these. Without mergeable buffers
            // the chain stays for a smaller frame.
            queue.rewind(chains);
            return RxResult::dropped;
        }
        Chain chain;
        if (!queue.pop(segs, kNetRxChainSegments, chain)) {
            if (queue.error() != QueueError::none) return RxResult::broken;
            queue.rewind(chains);
            return RxResult::no_room;
        }
        uint32_t n = 0;
        for (uint32_t i = 0; i < chain.segments && off < len; ++i) {
            const Segment& s = segs[i];
            if (!s.writable) continue;
            const uint32_t k = s.len < len - off ? s.len : len - off;
            ram.write(s.gpa, frame + off, k);
            for (uint32_t b = 0; b < 2; ++b)
                if (off <= 10 + b && 10 + b < off + k) num_buffers_gpa[b] = s.gpa + (10 + b - off);
            off += k;
            n += k;
        }
        heads[chains] = chain.head;
        wrote[chains++] = n;
    }
    // The header's num_buffers, now that it is known (virtio 1.2 5.1.6.4:
    // 1 without mergeable buffers).
    const uint8_t count[2] = {static_cast<uint8_t>(chains), 0};
    ram.write(num_buffers_gpa[0], &count[0], 1);
    ram.write(num_buffers_gpa[1], &count[1], 1);
    for (uint32_t c = 0; c < chains; ++c) queue.push(heads[c], wrote[c]);
    return RxResult::delivered;
}

} // namespace hv::core::virtio
