// The virtio-blk request fuzz target's entry points, shared by the
// libFuzzer binary (tests/fuzz/meson.build) and the unit test's smoke run
// (tests/unit/core/test_blk_request_fuzz_smoke.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace hv::fuzz {

// What one input exercised; the smoke test sums these to show coverage.
struct BlkRequestFuzzStats {
    uint64_t undecodable = 0; // chains decode_blk_request could not answer (false)
    uint64_t accepted = 0;    // requests it passed on for I/O (refuse == kBlkOk)
    uint64_t io_errors = 0;   // ... answered VIRTIO_BLK_S_IOERR without I/O
    uint64_t unsupported = 0; // ... answered VIRTIO_BLK_S_UNSUPP
    uint64_t data = 0;        // accepted IN/OUT requests that carried data
    uint64_t ranges = 0;      // DISCARD/WRITE_ZEROES ranges in accepted requests
};

// The input's layout (blk_request_fuzz.cpp says why):
//   byte 0     limits: bit 0 read-only, bits 1-2 max_ranges - 1, bit 3 a
//              capacity near 2^64 (2^64 - 1 - the next field)
//   bytes 1-4  capacity in sectors, little-endian
//   byte 5     segment count, modulo kBlkRequestFuzzMaxSegments + 1
//   then 5 bytes a segment: gpa (u16 LE, modulo the RAM size), length
//              (u16 LE, modulo what is left of RAM past gpa, plus one),
//              flags (bit 0: writable)
//   the rest   guest RAM from address 0 (zeros past the input's end)
constexpr uint64_t kBlkRequestFuzzRam = 8192;
constexpr uint32_t kBlkRequestFuzzMaxSegments = 8;
constexpr size_t kBlkRequestFuzzHeader = 6;
constexpr size_t kBlkRequestFuzzSegmentBytes = 5;

// "" when every invariant held, else what broke.
std::string blk_request_fuzz_check(const uint8_t* data, size_t size, BlkRequestFuzzStats& stats);

} // namespace hv::fuzz

int hv_blk_request_fuzz_one(const uint8_t* data, size_t size);
