// Fuzz target for the core's virtqueue walker, core::virtio::SplitQueue
// (libhv/core/virtio/split_queue.cpp): the descriptor table, available ring
// and indirect tables a guest driver writes, which a hostile guest controls
// byte for byte. The input becomes, in order: the queue size (byte 0: 1 <<
// (b % 9)), options (byte 1: event_idx, the device's segment capacity),
// then the descriptor table, the available ring and an indirect-table area
// in a 64 KiB guest RAM (byte 1 also says whether event_idx and indirect
// descriptors were negotiated). Besides "no crash" (and no sanitizer
// report), it checks, aborting on the first broken:
//   - each chain pop() returns, or refuses, is what a plain reference
//     reading of the spec's rules (reference_chain below) returns or
//     refuses, segment for segment; every segment lies in guest RAM and
//     the totals add up;
//   - pop() returns at most what available() counted, an avail index more
//     than a queue ahead breaks the queue, and a broken queue stays broken
//     (no pop, no push) with an error text;
//   - push() writes its used entry and index, and nothing anywhere in
//     guest RAM changes but the used ring (entries, index, avail_event).
// The 2^32-byte chain limit needs more RAM than the target has; the unit
// test covers it.
//
// Built two ways: as a libFuzzer binary (tests/fuzz/meson.build, with
// HV_LIBFUZZER defined) and into the unit tests, whose smoke test calls
// hv::fuzz::virtqueue_fuzz_check directly.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/virtio/split_queue.hpp"

#include "virtqueue_fuzz.hpp"
#include "fuzz_check.hpp"

namespace hv::fuzz {
namespace {

using namespace hv::core::virtio;

constexpr uint64_t kRam = 64 * 1024;
constexpr uint64_t kDesc = 0x1000, kAvail = 0x3000, kUsed = 0x4000, kIndirect = 0x8000;

uint16_t get16(const std::vector<uint8_t>& m, uint64_t at) {
    uint16_t v;
    std::memcpy(&v, &m[at], 2);
    return v;
}

// The spec's rules for one chain, written out plainly and apart from the
// walker (virtio 1.2, 2.7.5): the chain it must return, or nothing when it
// must refuse it.
std::optional<std::vector<Segment>> reference_chain(const std::vector<uint8_t>& m, uint32_t qsize, uint16_t head,
                                                    bool indirect_ok, uint32_t cap) {
    if (head >= qsize) return std::nullopt;
    const auto in_ram = [](uint64_t addr, uint64_t len) { return addr <= kRam && len <= kRam - addr; };
    std::vector<Segment> out;
    uint64_t table = kDesc, entries = qsize, index = head, seen = 0, total = 0;
    bool in_indirect = false, writable_seen = false;
    for (;;) {
        if (++seen > entries || !in_ram(table + index * 16, 16)) return std::nullopt;
        uint64_t addr;
        uint32_t len;
        uint16_t flags, next;
        std::memcpy(&addr, &m[table + index * 16], 8);
        std::memcpy(&len, &m[table + index * 16 + 8], 4);
        std::memcpy(&flags, &m[table + index * 16 + 12], 2);
        std::memcpy(&next, &m[table + index * 16 + 14], 2);
        if ((flags & kDescIndirect) != 0) {
            if (!indirect_ok || in_indirect || (flags & kDescNext) != 0 || len == 0 || len % 16 != 0 ||
                len / 16 > kMaxQueueSize || !in_ram(addr, len))
                return std::nullopt;
            table = addr;
            entries = len / 16;
            index = 0;
            seen = 0;
            in_indirect = true;
            continue;
        }
        const bool writable = (flags & kDescWrite) != 0;
        if (!in_ram(addr, len) || (writable_seen && !writable) || out.size() == cap) return std::nullopt;
        writable_seen = writable_seen || writable;
        out.push_back(Segment{addr, len, writable});
        total += len;
        if (total > (1ull << 32)) return std::nullopt;
        if ((flags & kDescNext) == 0) return out;
        if (next >= entries) return std::nullopt;
        index = next;
    }
}

} // namespace

std::string virtqueue_fuzz_check(const uint8_t* data, size_t size, VirtqueueFuzzStats& stats) {
    if (size < 2) return {};
    const uint32_t qsize = 1u << (data[0] % 9);
    SplitQueue::Features features;
    features.event_idx = (data[1] & 1) != 0;
    features.indirect_desc = (data[1] & 2) != 0;
    const uint32_t cap = 1 + (data[1] >> 2) % 32;
    std::vector<uint8_t> mem(kRam);
    size_t at = 2;
    const auto fill = [&](uint64_t where, size_t want) {
        const size_t n = std::min(want, size - at);
        std::memcpy(&mem[where], data + at, n);
        at += n;
    };
    fill(kDesc, 16ull * qsize);
    fill(kAvail, 6 + 2ull * qsize);
    fill(kIndirect, kRam - kIndirect);
    const std::vector<uint8_t> before = mem;
    bool indirect_in_table = false; // for the stats: could a chain here have walked one?
    for (uint32_t i = 0; i < qsize && features.indirect_desc && !indirect_in_table; ++i)
        indirect_in_table = (get16(before, kDesc + 16ull * i + 12) & kDescIndirect) != 0;
    const uint64_t used_end = kUsed + 4 + 8ull * qsize + 2;

    const core::GuestRam ram{mem.data(), mem.size()};
    SplitQueue q;
    HV_FUZZ_CHECK(q.configure(ram, {qsize, kDesc, kAvail, kUsed}, features) == QueueError::none,
                  "a valid layout refused");
    std::vector<Segment> segs(cap);
    const uint16_t avail_idx = get16(before, kAvail + 2);
    const uint32_t offered = q.available();
    HV_FUZZ_CHECK((avail_idx > qsize) == (q.error() == QueueError::avail_overrun), "overrun judged wrongly");
    uint32_t popped = 0;
    Chain chain;
    for (;; ++popped) {
        // What the spec says the next chain is, from the input's own bytes.
        std::optional<std::vector<Segment>> want;
        if (popped < offered)
            want = reference_chain(before, qsize, get16(before, kAvail + 4 + 2ull * (popped % qsize)),
                                   features.indirect_desc, cap);
        const bool got = q.pop(segs.data(), cap, chain);
        if (popped >= offered) {
            HV_FUZZ_CHECK(!got, "more chains popped than were available");
            break;
        }
        if (!want) {
            HV_FUZZ_CHECK(!got && q.error() != QueueError::none, "a chain the spec forbids was accepted");
            break;
        }
        HV_FUZZ_CHECK(got, std::string("a valid chain was refused: ") + queue_error_text(q.error()));
        HV_FUZZ_CHECK(chain.segments == want->size(), "segment count differs from the spec's");
        uint64_t r = 0, w = 0;
        for (uint32_t i = 0; i < chain.segments; ++i) {
            const Segment& s = segs[i];
            const Segment& e = (*want)[i];
            HV_FUZZ_CHECK(s.gpa == e.gpa && s.len == e.len && s.writable == e.writable, "a segment differs from the spec's");
            HV_FUZZ_CHECK(ram.contains(s.gpa, s.len), "a segment outside guest RAM");
            (s.writable ? w : r) += s.len;
        }
        HV_FUZZ_CHECK(r == chain.readable && w == chain.writable, "chain totals do not add up");
        stats.segments += chain.segments;
        ++stats.chains;
        if (indirect_in_table) ++stats.indirect;
        const uint16_t used_before = get16(mem, kUsed + 2);
        const uint32_t written = static_cast<uint32_t>(std::min<uint64_t>(w, 4096));
        HV_FUZZ_CHECK(q.push(chain.head, written), "push of a popped head refused");
        HV_FUZZ_CHECK(get16(mem, kUsed + 2) == static_cast<uint16_t>(used_before + 1), "used idx did not move by one");
        uint32_t elem[2];
        std::memcpy(elem, &mem[kUsed + 4 + 8ull * (used_before % qsize)], 8);
        HV_FUZZ_CHECK(elem[0] == chain.head && elem[1] == written, "used entry is not what was pushed");
        (void)q.needs_interrupt();
    }
    if (q.error() != QueueError::none) {
        ++stats.broken;
        HV_FUZZ_CHECK(!q.ready(), "a broken queue says it is ready");
        HV_FUZZ_CHECK(!q.pop(segs.data(), cap, chain), "a broken queue popped");
        HV_FUZZ_CHECK(!q.push(0, 0), "a broken queue pushed");
        HV_FUZZ_CHECK(std::strlen(queue_error_text(q.error())) > 5, "an error without a text");
    } else {
        // Kicks on and off leave only the used ring's fields changed.
        q.want_notify(false);
        q.want_notify(true);
    }
    HV_FUZZ_CHECK(std::memcmp(mem.data(), before.data(), kUsed) == 0 &&
                      std::memcmp(mem.data() + used_end, before.data() + used_end, kRam - used_end) == 0,
                  "guest RAM written outside the used ring");
    return {};
}

} // namespace hv::fuzz

int hv_virtqueue_fuzz_one(const uint8_t* data, size_t size) {
    return hv::fuzz::run_or_abort("virtqueue_fuzz", hv::fuzz::virtqueue_fuzz_check, data, size);
}

#ifdef HV_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return hv_virtqueue_fuzz_one(data, size); }
#endif
