// Fuzz target for the virtio-blk request decoder, core::virtio::
// decode_blk_request (libhv/core/virtio/blk_request.cpp): the header,
// ranges and buffer layout a guest driver chooses, which a hostile guest
// controls byte for byte. The input becomes the disk's limits, a chain of
// segments and the guest RAM they point into (layout: blk_request_fuzz.hpp).
// The segments keep the promises SplitQueue makes for every chain it hands
// out (each buffer inside RAM, readable ones before writable ones, totals
// that add up), since the decoder is only ever given such chains; within
// those, anything goes. Besides "no crash" (and no sanitizer report), it
// checks, aborting on the first broken:
//   - the decoder answers false exactly when the chain has no status byte
//     (no segments, a last one not writable or empty) or fewer than 16
//     readable bytes for the header;
//   - the status byte is the last byte of the last segment;
//   - type and sector are the first 16 readable bytes' fields;
//   - the data segments are exactly the bytes of the request's direction
//     (readable ones after the header, or writable ones before the status
//     byte), in order, none empty, each inside an input segment of that
//     direction; data_bytes is their sum and data_segments at most the
//     chain's;
//   - the verdict (refuse) is 0, 1 or 2, is what a plain reading of
//     virtio 1.2 5.2.6 (reference_refuse below) gives, and carries a
//     reason exactly when it refuses;
//   - ranges never exceed max_ranges, are set only for DISCARD and
//     WRITE_ZEROES, and when accepted are the range bytes as written;
//   - guest RAM is not written.
//
// Built two ways: as a libFuzzer binary (tests/fuzz/meson.build, with
// HV_LIBFUZZER defined) and into the unit tests, whose smoke test calls
// hv::fuzz::blk_request_fuzz_check directly.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "core/virtio/blk_request.hpp"

#include "blk_request_fuzz.hpp"
#include "fuzz_check.hpp"

namespace hv::fuzz {
namespace {

using namespace hv::core::virtio;

// The bytes the device may read, in chain order: where the header and the
// ranges come from.
std::vector<uint8_t> readable_bytes(const std::vector<uint8_t>& mem, const std::vector<Segment>& segs) {
    std::vector<uint8_t> out;
    for (const Segment& s : segs)
        if (!s.writable) out.insert(out.end(), mem.begin() + static_cast<std::ptrdiff_t>(s.gpa),
                                    mem.begin() + static_cast<std::ptrdiff_t>(s.gpa + s.len));
    return out;
}

// The data pieces the request must carry: the bytes [lo, hi) of the stream
// of its direction's segments, cut at segment boundaries, empty pieces
// left out. A window over the stream, independent of how the decoder
// walks it.
std::vector<Segment> window(const std::vector<Segment>& segs, bool writable, uint64_t lo, uint64_t hi) {
    std::vector<Segment> out;
    uint64_t off = 0;
    for (const Segment& s : segs) {
        if (s.writable != writable) continue;
        const uint64_t a = std::max(off, lo), b = std::min(off + s.len, hi);
        if (a < b) out.push_back(Segment{s.gpa + (a - off), static_cast<uint32_t>(b - a), writable});
        off += s.len;
    }
    return out;
}

// What virtio 1.2 5.2.6 (and blk_request.hpp's stricter reading of it)
// says the device answers, given a chain with a header and a status byte.
uint8_t reference_refuse(const std::vector<uint8_t>& rd, const Chain& chain, const BlkLimits& lim) {
    const uint64_t type = le(rd.data(), 4), sector = le(rd.data() + 8, 8);
    const uint64_t reads = chain.readable - kBlkHeaderBytes;
    switch (type) {
    case 0: // IN: the header alone readable, data writable
    case 1: { // OUT: data readable, the status alone writable
        if (type == 1 && lim.read_only) return kBlkIoErr;
        if (type == 0 ? chain.readable != kBlkHeaderBytes : chain.writable != 1) return kBlkIoErr;
        const uint64_t bytes = type == 0 ? chain.writable - 1 : reads;
        if (bytes % kSectorSize != 0) return kBlkIoErr;
        // In 128-bit arithmetic, so the reference cannot overflow.
        if (static_cast<unsigned __int128>(sector) + bytes / kSectorSize > lim.sectors) return kBlkIoErr;
        return kBlkOk;
    }
    case 4: return reads == 0 ? kBlkOk : kBlkIoErr; // FLUSH
    case 8: return kBlkOk;                          // GET_ID
    case 11:                                        // DISCARD
    case 13: {                                      // WRITE_ZEROES
        if (lim.read_only) return kBlkIoErr;
        if (chain.writable != 1 || reads == 0 || reads % kBlkRangeBytes != 0 || reads / kBlkRangeBytes > lim.max_ranges)
            return kBlkIoErr;
        for (uint64_t i = 0; i < reads / kBlkRangeBytes; ++i) {
            const uint8_t* r = rd.data() + kBlkHeaderBytes + kBlkRangeBytes * i;
            const uint64_t first = le(r, 8), count = le(r + 8, 4), flags = le(r + 12, 4);
            if (flags > 1 || (type == 11 && flags != 0)) return kBlkUnsupported;
            if (static_cast<unsigned __int128>(first) + count > lim.sectors) return kBlkIoErr;
        }
        return kBlkOk;
    }
    default: return kBlkUnsupported;
    }
}

} // namespace

std::string blk_request_fuzz_check(const uint8_t* data, size_t size, BlkRequestFuzzStats& stats) {
    BlkLimits lim;
    const uint64_t b0 = field(data, size, 0, 1);
    lim.read_only = (b0 & 1) != 0;
    lim.max_ranges = static_cast<uint32_t>(1 + ((b0 >> 1) & 3));
    lim.sectors = field(data, size, 1, 4);
    if ((b0 & 8) != 0) lim.sectors = ~uint64_t{0} - lim.sectors;
    const uint32_t n = static_cast<uint32_t>(field(data, size, 5, 1) % (kBlkRequestFuzzMaxSegments + 1));

    // The chain, as SplitQueue would hand it over.
    std::vector<Segment> segs;
    Chain chain;
    bool writable_seen = false;
    size_t at = kBlkRequestFuzzHeader;
    for (uint32_t i = 0; i < n; ++i, at += kBlkRequestFuzzSegmentBytes) {
        Segment s;
        s.gpa = field(data, size, at, 2) % kBlkRequestFuzzRam;
        s.len = static_cast<uint32_t>(field(data, size, at + 2, 2) % (kBlkRequestFuzzRam - s.gpa + 1));
        writable_seen = writable_seen || (field(data, size, at + 4, 1) & 1) != 0;
        s.writable = writable_seen; // readable before writable
        (s.writable ? chain.writable : chain.readable) += s.len;
        segs.push_back(s);
    }
    chain.segments = n;
    chain.head = 0;
    std::vector<uint8_t> mem(kBlkRequestFuzzRam);
    if (at < size) std::memcpy(mem.data(), data + at, std::min<size_t>(size - at, mem.size()));
    const std::vector<uint8_t> before = mem;
    const core::GuestRam ram{mem.data(), mem.size()};

    // The caller's arrays, one spare entry each: a write past the promised
    // capacity changes the canary (and ASan sees it in the libFuzzer build
    // only if it leaves the vector, hence the explicit check).
    const Segment canary{0xc0ffee, 0xc0ffee, true};
    std::vector<Segment> out(n + 1, canary);
    std::vector<BlkRange> ranges(lim.max_ranges + 1, BlkRange{0xc0ffee, 0xc0ffee, true});
    BlkRequest req;
    req.ranges = 0xdead; // decode must start from a clean request
    const bool ok = decode_blk_request(ram, segs.data(), chain, lim, out.data(), ranges.data(), req);

    HV_FUZZ_CHECK(mem == before, "guest RAM was written");
    HV_FUZZ_CHECK(out[n].gpa == canary.gpa && out[n].len == canary.len, "data written past chain.segments entries");
    HV_FUZZ_CHECK(ranges[lim.max_ranges].sector == 0xc0ffee, "a range written past max_ranges");
    const bool answerable = n != 0 && segs[n - 1].writable && segs[n - 1].len != 0 && chain.readable >= kBlkHeaderBytes;
    HV_FUZZ_CHECK(ok == answerable, ok ? "a chain without a header or status byte was decoded"
                                       : "a chain with a header and a status byte was not decoded");
    if (!ok) {
        ++stats.undecodable;
        return {};
    }

    HV_FUZZ_CHECK(req.status_gpa == segs[n - 1].gpa + segs[n - 1].len - 1, "status is not the last byte");
    const std::vector<uint8_t> rd = readable_bytes(before, segs);
    HV_FUZZ_CHECK(static_cast<uint32_t>(req.type) == le(rd.data(), 4), "type is not the header's");
    HV_FUZZ_CHECK(req.sector == le(rd.data() + 8, 8), "sector is not the header's");

    // Data: exactly the window of the request's direction.
    const bool device_writes = req.type == BlkType::in || req.type == BlkType::get_id;
    const std::vector<Segment> want = device_writes ? window(segs, true, 0, chain.writable - 1)
                                                    : window(segs, false, kBlkHeaderBytes, chain.readable);
    HV_FUZZ_CHECK(req.data_segments <= n, "more data segments than the chain has");
    HV_FUZZ_CHECK(req.data_segments == want.size(), "data segment count differs from the window's");
    uint64_t sum = 0;
    for (uint32_t i = 0; i < req.data_segments; ++i) {
        const Segment& d = out[i];
        HV_FUZZ_CHECK(d.gpa == want[i].gpa && d.len == want[i].len && d.writable == want[i].writable,
                      "a data segment differs from the window's");
        HV_FUZZ_CHECK(d.len != 0, "an empty data segment");
        HV_FUZZ_CHECK(std::any_of(segs.begin(), segs.end(),
                                  [&](const Segment& s) {
                                      return s.writable == d.writable && d.gpa >= s.gpa &&
                                             d.gpa + d.len <= s.gpa + s.len;
                                  }),
                      "a data segment outside every input segment of its direction");
        sum += d.len;
    }
    HV_FUZZ_CHECK(req.data_bytes == sum, "data_bytes is not the segments' sum");
    HV_FUZZ_CHECK(req.data_bytes == (device_writes ? chain.writable - 1 : chain.readable - kBlkHeaderBytes),
                  "data_bytes is not the direction's bytes");

    // The verdict.
    HV_FUZZ_CHECK(req.refuse == kBlkOk || req.refuse == kBlkIoErr || req.refuse == kBlkUnsupported,
                  "a status that is not OK, IOERR or UNSUPP");
    HV_FUZZ_CHECK((req.refuse != kBlkOk) == (req.why != nullptr && std::strlen(req.why) > 0),
                  "a refusal without a reason, or a reason without one");
    HV_FUZZ_CHECK(req.refuse == reference_refuse(rd, chain, lim), "the verdict differs from the spec's");

    // Ranges.
    const bool ranged = req.type == BlkType::discard || req.type == BlkType::write_zeroes;
    HV_FUZZ_CHECK(req.ranges <= lim.max_ranges, "more ranges than max_ranges");
    HV_FUZZ_CHECK(ranged || req.ranges == 0, "ranges for a request that has none");
    if (ranged && req.refuse == kBlkOk) {
        HV_FUZZ_CHECK(req.ranges == req.data_bytes / kBlkRangeBytes && req.ranges >= 1, "range count wrong");
        for (uint32_t i = 0; i < req.ranges; ++i) {
            const uint8_t* r = rd.data() + kBlkHeaderBytes + kBlkRangeBytes * i;
            HV_FUZZ_CHECK(ranges[i].sector == le(r, 8) && ranges[i].sectors == le(r + 8, 4) &&
                              ranges[i].unmap == ((le(r + 12, 4) & 1) != 0),
                          "a range differs from its bytes");
        }
        stats.ranges += req.ranges;
    }

    switch (req.refuse) {
    case kBlkOk:
        ++stats.accepted;
        if ((req.type == BlkType::in || req.type == BlkType::out) && req.data_bytes != 0) ++stats.data;
        break;
    case kBlkIoErr: ++stats.io_errors; break;
    default: ++stats.unsupported; break;
    }
    return {};
}

} // namespace hv::fuzz

int hv_blk_request_fuzz_one(const uint8_t* data, size_t size) {
    return hv::fuzz::run_or_abort("blk_request_fuzz", hv::fuzz::blk_request_fuzz_check, data, size);
}

#ifdef HV_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return hv_blk_request_fuzz_one(data, size); }
#endif
