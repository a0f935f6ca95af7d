// Fuzz target for the core's virtio-net decoders: RxBuffers
// (libhv/core/virtio/net_rx.cpp), which places a frame from the host in the
// receive queue a guest driver filled (one chain, or mergeable chains with
// num_buffers), giving back chains it cannot use (SplitQueue::rewind),
// either copying it in (deliver) or, as hv's TAP backend reads straight
// into guest memory, holding chains ahead (fill), the frame written
// through spans() and committed; and
// check_net_tx_header / decode_net_header / encode_net_header
// (libhv/core/virtio/net_header.cpp), the gate for the header a guest
// writes before a frame it transmits. The input picks the queue, the frame
// and the guest's descriptor table, available ring and indirect tables in a
// 128 KiB guest RAM (layout: net_fuzz.hpp). Besides "no crash" (and no
// sanitizer report), it checks, aborting on the first broken:
//   - the outcome is what a plain reading of net_rx.hpp's contract gives,
//     walking the same chains on a copy of RAM: delivered in the fewest
//     chains whose writable bytes hold the frame (one without mergeable
//     buffers), no_room when the queue runs out first, dropped when
//     kNetRxMaxChains (one) are not enough or the frame is under 12 bytes,
//     broken when a chain it needs is malformed;
//   - guest RAM changes only in the writable buffers of the chains it took
//     and the used ring (entries and index only when delivered; avail_event);
//   - delivered: one used entry a chain, at most kNetRxMaxChains (1 without
//     mergeable), in the order offered, each within its chain's writable
//     bytes, their lengths summing to the frame's; the frame's bytes read
//     back in order across those buffers, num_buffers (bytes 10-11) the
//     number of used entries; available() down by that many;
//   - no_room / dropped: no used entry, available() as before, and the next
//     pops give the same chains again; broken: error() is set, no used entry;
//   - check_net_tx_header accepts exactly what reference_tx_ok (the header
//     comment's rules and virtio 1.2 5.1.6.2, written apart from it) accepts,
//     and gives a reason when it refuses; encode(decode(bytes)) == bytes and
//     decode reads each field little-endian.
// A writable buffer over the rings or an indirect table lets the frame
// rewrite the chains the device reads next: such inputs (counted as
// aliased) get only the checks that do not depend on them.
//
// Built two ways: as a libFuzzer binary (tests/fuzz/meson.build, with
// HV_LIBFUZZER defined) and into the unit tests, whose smoke test calls
// hv::fuzz::net_fuzz_check directly.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/virtio/net_header.hpp"
#include "core/virtio/net_rx.hpp"
#include "core/virtio/split_queue.hpp"

#include "fuzz_check.hpp"
#include "net_fuzz.hpp"

namespace hv::fuzz {
namespace {

using namespace hv::core::virtio;

uint16_t get16(const std::vector<uint8_t>& m, uint64_t at) { return static_cast<uint16_t>(m[at] | m[at + 1] << 8); }
uint32_t get32(const std::vector<uint8_t>& m, uint64_t at) { return static_cast<uint32_t>(le(&m[at], 4)); }

bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) { return alen != 0 && blen != 0 && a < b + blen && b < a + alen; }

// virtio 1.2 5.1.6.2 (driver requirements on a transmitted packet) as hv's
// header comment narrows them: the frame between an Ethernet header and the
// largest GSO frame; of the flags only NEEDS_CSUM counts (the rest are
// ignored), which needs
// VIRTIO_NET_F_CSUM and a 16-bit checksum field inside the frame;
// segmentation only TCPv4 / TCPv6 with HOST_TSO4 / HOST_TSO6 (hv offers no
// UFO), ECN only with segmentation and HOST_ECN, and segmentation needs
// NEEDS_CSUM and a segment size.
bool reference_tx_ok(const uint8_t b[12], uint64_t frame_len, uint64_t features) {
    const unsigned flags = b[0], gso = b[1];
    const uint64_t gso_size = le(b + 4, 2), csum_start = le(b + 6, 2), csum_offset = le(b + 8, 2);
    if (frame_len < 14 || frame_len > 65535 + 14) return false;
    const bool needs_csum = (flags & 1) != 0; // other flag bits are ignored (5.1.6.2.2)
    if (needs_csum && ((features & 1) == 0 || csum_start + csum_offset + 2 > frame_len)) return false;
    const bool ecn = (gso & 0x80) != 0;
    switch (gso & 0x7f) {
    case 0: return !ecn;
    case 1: if ((features & (1u << 11)) == 0) return false; break;
    case 4: if ((features & (1u << 12)) == 0) return false; break;
    default: return false;
    }
    if (ecn && (features & (1u << 13)) == 0) return false;
    return needs_csum && gso_size != 0;
}

std::string tx_check(const uint8_t hdr[12], uint64_t frame_len, uint64_t features, NetFuzzStats& stats) {
    const NetHeader h = decode_net_header(hdr);
    HV_FUZZ_CHECK(h.flags == hdr[0] && h.gso_type == hdr[1] && h.hdr_len == le(hdr + 2, 2) &&
                      h.gso_size == le(hdr + 4, 2) && h.csum_start == le(hdr + 6, 2) &&
                      h.csum_offset == le(hdr + 8, 2) && h.num_buffers == le(hdr + 10, 2),
                  "decode_net_header misread a field");
    uint8_t again[kNetHeaderSize];
    std::memset(again, 0xa5, sizeof again);
    encode_net_header(h, again);
    HV_FUZZ_CHECK(std::memcmp(again, hdr, kNetHeaderSize) == 0, "encode(decode(bytes)) != bytes");
    const char* why = check_net_tx_header(h, frame_len, features);
    const bool want = reference_tx_ok(hdr, frame_len, features);
    HV_FUZZ_CHECK((why == nullptr) == want, want ? std::string("a header the rules allow was refused: ") + why
                                                  : std::string("a header the rules forbid was accepted"));
    HV_FUZZ_CHECK(why == nullptr || std::strlen(why) > 5, "a refusal without a reason");
    ++(want ? stats.tx_accepted : stats.tx_refused);
    return {};
}

// One chain as a second queue, on a copy of RAM, reads it.
struct RefChain {
    uint16_t head = 0;
    uint64_t writable = 0;
    std::vector<Segment> segs; // the writable ones, in order
};

} // namespace

std::string net_fuzz_check(const uint8_t* data, size_t size, NetFuzzStats& stats) {
    const uint32_t qsize = 1u << (field(data, size, 0, 1) % 9);
    const uint64_t opts = field(data, size, 1, 1);
    const bool mergeable = (opts & 1) != 0;
    const bool direct = (opts & 8) != 0;
    const uint64_t direct_extra = ((opts >> 4) & 0xf) * 1024; // direct: held beyond the frame, as for a next one
    SplitQueue::Features features;
    features.event_idx = (opts & 2) != 0;
    features.indirect_desc = (opts & 4) != 0;
    const uint32_t len = static_cast<uint32_t>(field(data, size, 2, 3) % (kNetFuzzMaxFrame + 1));
    uint8_t hdr[kNetHeaderSize];
    for (size_t i = 0; i < kNetHeaderSize; ++i) hdr[i] = static_cast<uint8_t>(field(data, size, 6 + i, 1));

    // The transmit side first: it needs nothing else.
    {
        static constexpr uint64_t kBits[8] = {kNetFCsum,     kNetFHostTso4,  kNetFHostTso6,  kNetFHostEcn,
                                              kNetFGuestCsum, kNetFMrgRxbuf, kNetFGuestTso4, 1ull << 14};
        const uint64_t fb = field(data, size, 21, 1);
        uint64_t tx_features = 0;
        for (unsigned i = 0; i < 8; ++i)
            if ((fb >> i) & 1) tx_features |= kBits[i];
        const std::string why = tx_check(hdr, field(data, size, 18, 3), tx_features, stats);
        if (!why.empty()) return why;
    }

    // The frame: the header, then bytes from a seeded generator (not
    // periodic, so a piece out of order shows).
    std::vector<uint8_t> frame(len);
    uint32_t state = static_cast<uint32_t>(field(data, size, 5, 1)) * 0x9e3779b9u + 1;
    for (uint32_t i = 0; i < len; ++i) {
        state = state * 1103515245u + 12345u;
        frame[i] = i < kNetHeaderSize ? hdr[i] : static_cast<uint8_t>(state >> 16);
    }

    // Guest RAM: a pattern (so stray writes show), then the input's rings.
    std::vector<uint8_t> mem(kNetFuzzRam);
    for (uint64_t i = 0; i < mem.size(); ++i) mem[i] = static_cast<uint8_t>((i * 167 + 13) ^ (i >> 9));
    size_t at = kNetFuzzHeader;
    const auto fill = [&](uint64_t where, uint64_t want) {
        std::memset(&mem[where], 0, want);
        const size_t n = at < size ? std::min<size_t>(want, size - at) : 0;
        if (n != 0) std::memcpy(&mem[where], data + at, n);
        at += n;
    };
    fill(kNetFuzzDesc, 16ull * qsize);
    fill(kNetFuzzAvail, 6 + 2ull * qsize);
    fill(kNetFuzzIndirect, kNetFuzzIndirectBytes);
    mem[kNetFuzzUsed + 2] = mem[kNetFuzzUsed + 3] = 0; // used idx: the device's, from 0
    const std::vector<uint8_t> before = mem;
    const uint64_t used_entries = kNetFuzzUsed + 4, avail_event = used_entries + 8ull * qsize;
    const SplitQueue::Layout layout{qsize, kNetFuzzDesc, kNetFuzzAvail, kNetFuzzUsed};

    // The reference: the chains the frame needs, read by a second queue on
    // a copy of RAM, and the outcome net_rx.hpp promises for them.
    const uint32_t max_chains = mergeable ? kNetRxMaxChains : 1;
    std::vector<uint8_t> shadow_mem = before;
    const core::GuestRam shadow_ram{shadow_mem.data(), shadow_mem.size()};
    SplitQueue shadow;
    HV_FUZZ_CHECK(shadow.configure(shadow_ram, layout, features) == QueueError::none, "a valid layout refused");
    std::vector<RefChain> ref;
    RxResult want = RxResult::dropped;
    if (len >= kNetHeaderSize) {
        uint64_t room = 0;
        uint32_t descriptors = 0; // of the queue's table, the chains taken
        const uint32_t cap = mergeable ? kNetRxChainSegments : kNetRxMaxSegments;
        std::vector<Segment> segs(cap);
        Chain chain;
        for (;;) {
            if (room >= len) {
                want = RxResult::delivered;
                break;
            }
            if (ref.size() == max_chains) {
                want = RxResult::dropped;
                break;
            }
            if (!shadow.pop(segs.data(), cap, chain)) {
                // The chains taken hold every entry of the descriptor table
                // and are still short: the driver can offer nothing more,
                // so the frame is dropped, not waited for.
                want = shadow.error() != QueueError::none ? RxResult::broken
                       : descriptors >= qsize           ? RxResult::dropped
                                                        : RxResult::no_room;
                break;
            }
            RefChain r;
            r.head = chain.head;
            r.writable = chain.writable;
            for (uint32_t i = 0; i < chain.segments; ++i)
                if (segs[i].writable) r.segs.push_back(segs[i]);
            room += chain.writable;
            descriptors += chain.descriptors;
            ref.push_back(r);
        }
    }

    // Whether a buffer the frame may be written into lies over what the
    // device reads next (the rings, an indirect table the main table names):
    // then the second queue's reading is not the device's.
    std::vector<Segment> tables{Segment{0, static_cast<uint32_t>(kNetFuzzData), false}};
    for (uint32_t d = 0; d < qsize; ++d) {
        const uint64_t e = kNetFuzzDesc + 16ull * d;
        if ((get16(before, e + 12) & kDescIndirect) != 0) tables.push_back(Segment{le(&before[e], 8), get32(before, e + 8), false});
    }
    bool aliased = false;
    for (const RefChain& r : ref)
        for (const Segment& s : r.segs)
            for (const Segment& t : tables) aliased = aliased || overlaps(s.gpa, s.len, t.gpa, t.len);

    const core::GuestRam ram{mem.data(), mem.size()};
    SplitQueue q;
    HV_FUZZ_CHECK(q.configure(ram, layout, features) == QueueError::none, "a valid layout refused");
    const uint32_t offered = q.available(); // an index past the queue breaks it here already
    const bool broken_before = q.error() != QueueError::none;
    const auto buffers = std::make_unique<RxBuffers>(); // 20 KiB: not on the stack
    RxResult got;
    bool broke_ahead = false; // direct: a chain past the ones the frame needs broke the queue
    if (!direct || len < kNetHeaderSize) {
        got = buffers->deliver(q, ram, frame.data(), len, mergeable);
    } else if (!buffers->fill(q, len + direct_extra, mergeable)) {
        got = RxResult::broken;
        broke_ahead = true;
    } else {
        // As the TAP backend: its span cap, the frame after its header
        // into the spans (a readv), then commit() writes the header and
        // returns the chains the frame filled; the rest stay held, and go
        // back with release(). Spans that do not reach: deliver() copies.
        constexpr uint32_t kSpans = 2 * kNetRxMaxChains; // VirtioNet::kRxSpans
        std::vector<RxBuffers::Span> spans(kSpans);
        const uint32_t n = buffers->capacity() >= len ? buffers->spans(kNetHeaderSize, spans.data(), kSpans) : 0;
        uint64_t room = kNetHeaderSize;
        for (uint32_t i = 0; i < n; ++i) room += spans[i].len;
        if (buffers->capacity() < len || room < len) {
            got = buffers->deliver(q, ram, frame.data(), len, mergeable); // the held chains first, then more
        } else {
            uint64_t off = kNetHeaderSize;
            for (uint32_t i = 0; i < n && off < len; ++i) {
                const uint64_t k = std::min<uint64_t>(spans[i].len, len - off);
                HV_FUZZ_CHECK(ram.write(spans[i].gpa, frame.data() + off, k), "a span outside guest RAM");
                off += k;
            }
            const uint32_t held = buffers->chains();
            const uint32_t used = buffers->commit(q, ram, frame.data(), len);
            HV_FUZZ_CHECK(used != 0 && used <= held, "commit took no chains, or more than were held");
            HV_FUZZ_CHECK(buffers->chains() == held - used, "commit kept other than the chains it did not fill");
            buffers->release(q); // the rest go back: available() below must be down by the used ones only
            got = RxResult::delivered;
            ++stats.direct;
        }
    }
    HV_FUZZ_CHECK(got == RxResult::delivered || got == RxResult::no_room || got == RxResult::dropped ||
                      got == RxResult::broken,
                  "an outcome outside RxResult");
    HV_FUZZ_CHECK(got != RxResult::broken || q.error() != QueueError::none, "broken, but the queue has no error");
    HV_FUZZ_CHECK(got == RxResult::broken || q.error() == QueueError::none || broken_before,
                  "the queue broke, but the outcome is not broken");
    if (broke_ahead && want != RxResult::broken) { // the device may break on a chain it takes ahead
        ++stats.broken;
        return {};
    }
    switch (got) {
    case RxResult::delivered: ++stats.delivered; break;
    case RxResult::no_room: ++stats.no_room; break;
    case RxResult::dropped: ++stats.dropped; break;
    case RxResult::broken: ++stats.broken; break;
    }
    if (aliased) {
        ++stats.aliased;
        return {};
    }

    static const char* const kNames[] = {"delivered", "no_room", "dropped", "broken"};
    HV_FUZZ_CHECK(got == want, std::string("outcome ") + kNames[static_cast<int>(got)] + ", the contract says " +
                                   kNames[static_cast<int>(want)]);

    // What may have changed: the writable buffers of the chains taken
    // (all the reference read: RxBuffers takes the same prefix), the
    // used ring's entries and index when delivered, avail_event.
    std::vector<uint8_t> may(mem.size(), 0);
    for (const RefChain& r : ref)
        for (const Segment& s : r.segs) std::fill_n(may.begin() + static_cast<std::ptrdiff_t>(s.gpa), s.len, uint8_t{1});
    if (got == RxResult::delivered) std::fill_n(may.begin() + static_cast<std::ptrdiff_t>(kNetFuzzUsed + 2), 2 + 8ull * qsize, uint8_t{1});
    if (features.event_idx) may[avail_event] = may[avail_event + 1] = 1;
    for (uint64_t i = 0; i < mem.size(); ++i)
        if (may[i] == 0 && mem[i] != before[i])
            return "guest RAM written outside the chains' writable buffers and the used ring, at " + std::to_string(i);

    const uint16_t used_idx = get16(mem, kNetFuzzUsed + 2);
    if (got != RxResult::delivered) {
        HV_FUZZ_CHECK(used_idx == 0, "used entries pushed for a frame not delivered");
        if (got == RxResult::broken) return {};
        HV_FUZZ_CHECK(q.available() == offered, "the chains taken were not all given back");
        // The next pops are the chains taken, again.
        std::vector<Segment> segs(kNetRxMaxSegments);
        Chain chain;
        for (const RefChain& r : ref) {
            HV_FUZZ_CHECK(q.pop(segs.data(), kNetRxMaxSegments, chain), "a chain given back does not pop again");
            HV_FUZZ_CHECK(chain.head == r.head && chain.writable == r.writable, "a chain given back pops differently");
        }
        return {};
    }

    const uint32_t k = used_idx;
    HV_FUZZ_CHECK(k >= 1 && k <= max_chains, "delivered in more used entries than allowed (or none)");
    HV_FUZZ_CHECK(k == ref.size(), "delivered in other than the fewest chains that hold it");
    HV_FUZZ_CHECK(q.available() == offered - k, "available() is not down by the chains used");
    uint64_t sum = 0;
    std::vector<uint8_t> placed; // the frame as read back from the guest's buffers
    std::vector<uint8_t> seen(mem.size(), 0);
    bool overlap = false;
    for (uint32_t c = 0; c < k; ++c) {
        const uint32_t id = get32(mem, used_entries + 8ull * c), n = get32(mem, used_entries + 8ull * c + 4);
        HV_FUZZ_CHECK(id == ref[c].head, "used entries not in the order the chains were offered");
        HV_FUZZ_CHECK(n <= ref[c].writable, "a used length past its chain's writable bytes");
        sum += n;
        uint32_t left = n;
        for (const Segment& s : ref[c].segs) {
            const uint32_t take = std::min(left, s.len);
            for (uint32_t b = 0; b < take; ++b) {
                overlap = overlap || seen[s.gpa + b] != 0;
                seen[s.gpa + b] = 1;
            }
            placed.insert(placed.end(), mem.begin() + static_cast<std::ptrdiff_t>(s.gpa),
                          mem.begin() + static_cast<std::ptrdiff_t>(s.gpa + take));
            left -= take;
        }
    }
    HV_FUZZ_CHECK(sum == len, "used lengths do not sum to the frame's length");
    if (k > 1) ++stats.merged;
    if (overlap) return {}; // the guest gave one buffer twice: later bytes win, nothing to read back
    HV_FUZZ_CHECK(placed.size() == len, "the used bytes are not the frame's length");
    HV_FUZZ_CHECK(le(&placed[10], 2) == k, "num_buffers is not the number of used entries");
    HV_FUZZ_CHECK(std::memcmp(placed.data(), frame.data(), 10) == 0 &&
                      std::memcmp(placed.data() + 12, frame.data() + 12, len - 12) == 0,
                  "the frame's bytes are not in the buffers in order");
    return {};
}

} // namespace hv::fuzz

int hv_net_fuzz_one(const uint8_t* data, size_t size) {
    return hv::fuzz::run_or_abort("net_fuzz", hv::fuzz::net_fuzz_check, data, size);
}

#ifdef HV_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return hv_net_fuzz_one(data, size); }
#endif
