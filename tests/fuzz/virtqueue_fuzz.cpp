// Fuzz target for the core's virtqueue walker, core::virtio::SplitQueue
// (libhv/core/virtio/split_queue.cpp): the descriptor table, available ring
// and indirect tables a guest driver writes, which a hostile guest controls
// byte for byte. The input becomes, in order: the queue size (byte 0: 1 <<
// (b % 9)), options (byte 1: event_idx, the device's segment capacity),
// then the descriptor table, the available ring and an indirect-table area
// in a 64 KiB guest RAM. Besides "no crash" (and no sanitizer report), it
// checks, aborting on the first broken:
//   - every chain pop() returns has a head inside the table, at most the
//     capacity's segments, each wholly inside guest RAM, readable ones
//     before writable ones, and totals that add up (at most 4 GiB);
//   - pop() returns at most what available() counted, and a queue it
//     breaks stays broken (no pop, no push) with an error text;
//   - push() writes its used entry and index, and nothing anywhere in
//     guest RAM changes but the used ring (entries, index, avail_event).
//
// Built two ways: as a libFuzzer binary (tests/fuzz/meson.build, with
// HV_LIBFUZZER defined) and into the unit tests, whose smoke test calls
// hv::fuzz::virtqueue_fuzz_check directly.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

} // namespace

std::string virtqueue_fuzz_check(const uint8_t* data, size_t size, VirtqueueFuzzStats& stats) {
    if (size < 2) return {};
    const uint32_t qsize = 1u << (data[0] % 9);
    const bool event_idx = (data[1] & 1) != 0;
    const uint32_t cap = 1 + (data[1] >> 1) % 32;
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
    for (uint32_t i = 0; i < qsize; ++i)
        if ((get16(mem, kDesc + 16ull * i + 12) & kDescIndirect) != 0) {
            ++stats.indirect;
            break;
        }
    const std::vector<uint8_t> before = mem;
    const uint64_t used_end = kUsed + 4 + 8ull * qsize + 2;

    const core::GuestRam ram{mem.data(), mem.size()};
    SplitQueue q;
    HV_FUZZ_CHECK(q.configure(ram, {qsize, kDesc, kAvail, kUsed}, event_idx) == QueueError::none,
                  "a valid layout refused");
    std::vector<Segment> segs(cap);
    const uint32_t offered = q.available();
    uint32_t popped = 0;
    Chain chain;
    while (q.pop(segs.data(), cap, chain)) {
        ++popped;
        HV_FUZZ_CHECK(popped <= offered, "more chains popped than were available");
        HV_FUZZ_CHECK(chain.head < qsize, "a head past the table");
        HV_FUZZ_CHECK(chain.segments >= 1 && chain.segments <= cap, "segment count out of 1..capacity");
        uint64_t r = 0, w = 0;
        bool wrote = false;
        for (uint32_t i = 0; i < chain.segments; ++i) {
            const Segment& s = segs[i];
            HV_FUZZ_CHECK(ram.contains(s.gpa, s.len), "a segment outside guest RAM");
            HV_FUZZ_CHECK(s.writable || !wrote, "a readable segment after a writable one");
            wrote = wrote || s.writable;
            (s.writable ? w : r) += s.len;
        }
        HV_FUZZ_CHECK(r == chain.readable && w == chain.writable, "chain totals do not add up");
        HV_FUZZ_CHECK(r + w <= UINT32_MAX, "a chain over 4 GiB");
        stats.segments += chain.segments;
        ++stats.chains;
        const uint16_t used_before = get16(mem, kUsed + 2);
        const uint32_t written = static_cast<uint32_t>(std::min<uint64_t>(w, 4096));
        HV_FUZZ_CHECK(q.push(chain.head, written), "push of a popped head refused");
        HV_FUZZ_CHECK(get16(mem, kUsed + 2) == static_cast<uint16_t>(used_before + 1), "used idx did not move by one");
        uint32_t elem[2];
        std::memcpy(elem, &mem[kUsed + 4 + 8ull * (used_before % qsize)], 8);
        HV_FUZZ_CHECK(elem[0] == chain.head && elem[1] == written, "used entry is not what was pushed");
        (void)q.needs_interrupt();
        if (popped > 2 * qsize + 1) return "pop did not stop";
    }
    if (q.error() != QueueError::none) {
        ++stats.broken;
        HV_FUZZ_CHECK(!q.ready(), "a broken queue says it is ready");
        HV_FUZZ_CHECK(!q.pop(segs.data(), cap, chain), "a broken queue popped");
        HV_FUZZ_CHECK(!q.push(0, 0), "a broken queue pushed");
        HV_FUZZ_CHECK(std::strlen(queue_error_text(q.error())) > 5, "an error without a text");
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
