// BlkRequest: one virtio-blk request (virtio 1.2 section 5.2.6) decoded
// from a chain SplitQueue has already checked: its type and sector from
// the driver's header, the data buffers without the header and the status
// byte, and where the status goes. What the device does with it (the I/O)
// is the hosted backend's; what a request may ask is decided here, so the
// ring-0 image's block device would answer the same. Freestanding.
#pragma once

#include <stdint.h>

#include "core/guest_ram.hpp"
#include "core/virtio/split_queue.hpp"

namespace hv::core::virtio {

// Request types and status values (struct virtio_blk_req).
enum class BlkType : uint32_t { in = 0, out = 1, flush = 4, get_id = 8, discard = 11, write_zeroes = 13 };
constexpr uint8_t kBlkOk = 0;
constexpr uint8_t kBlkIoErr = 1;
constexpr uint8_t kBlkUnsupported = 2;

constexpr uint32_t kSectorSize = 512;
constexpr uint32_t kBlkIdBytes = 20;
constexpr uint32_t kBlkHeaderBytes = 16;
// One DISCARD / WRITE_ZEROES range (struct virtio_blk_discard_write_zeroes).
constexpr uint32_t kBlkRangeBytes = 16;

// Device features (virtio 1.2 5.2.3).
constexpr uint64_t kBlkFSegMax = 1ull << 2;
constexpr uint64_t kBlkFRo = 1ull << 5;
constexpr uint64_t kBlkFBlkSize = 1ull << 6;
constexpr uint64_t kBlkFFlush = 1ull << 9;
constexpr uint64_t kBlkFDiscard = 1ull << 13;
constexpr uint64_t kBlkFWriteZeroes = 1ull << 14;

struct BlkLimits {
    uint64_t sectors = 0;      // capacity
    bool read_only = false;
    uint32_t max_ranges = 1;   // max_discard_seg / max_write_zeroes_seg
    uint32_t max_range_sectors = 0xffffffffu; // max_discard_sectors / max_write_zeroes_sectors
};

struct BlkRange {
    uint64_t sector = 0;
    uint32_t sectors = 0;
    bool unmap = false; // WRITE_ZEROES: the device may deallocate
};

struct BlkRequest {
    BlkType type = BlkType::in;
    uint64_t sector = 0;
    // The data buffers (IN: the device writes them; OUT: it reads them),
    // `data_segments` entries of the caller's array, `data_bytes` in all.
    uint32_t data_segments = 0;
    uint64_t data_bytes = 0;
    // DISCARD / WRITE_ZEROES: the ranges, copied out of guest memory.
    uint32_t ranges = 0;
    uint64_t status_gpa = 0;
    // Not kBlkOk: answer with this status without doing any I/O (a
    // request out of range, a write to a read-only disk, an unknown type).
    uint8_t refuse = kBlkOk;
    const char* why = nullptr; // for the log when refused
};

// Decodes the chain `segs[0..chain.segments)` into `req`, writing the data
// buffers into `data` (capacity chain.segments) and the ranges into
// `ranges` (capacity limits.max_ranges). false when the chain cannot even
// carry an answer (no status byte or no header): the device returns it
// with nothing written.
bool decode_blk_request(const GuestRam& ram, const Segment* segs, const Chain& chain, const BlkLimits& limits,
                        Segment* data, BlkRange* ranges, BlkRequest& req);

} // namespace hv::core::virtio
