#include "core/virtio/blk_request.hpp"

#include "core/le_bytes.hpp"

namespace hv::core::virtio {

namespace {

// Copies `len` bytes starting `skip` bytes into the readable buffers.
bool read_readable(const GuestRam& ram, const Segment* segs, uint32_t n, uint64_t skip, uint8_t* out, uint32_t len) {
    uint32_t got = 0;
    for (uint32_t i = 0; i < n && got < len; ++i) {
        if (segs[i].writable) break;
        if (skip >= segs[i].len) {
            skip -= segs[i].len;
            continue;
        }
        uint64_t take = segs[i].len - skip;
        if (take > len - got) take = len - got;
        if (!ram.read(segs[i].gpa + skip, out + got, take)) return false;
        got += static_cast<uint32_t>(take);
        skip = 0;
    }
    return got == len;
}

bool refuse(BlkRequest& req, uint8_t status, const char* why) {
    req.refuse = status;
    req.why = why;
    return true;
}

} // namespace

bool decode_blk_request(const GuestRam& ram, const Segment* segs, const Chain& chain, const BlkLimits& limits,
                        Segment* data, BlkRange* ranges, BlkRequest& req) {
    req = BlkRequest{};
    const uint32_t n = chain.segments;
    // The status byte is the last byte of the last (writable) buffer.
    if (n == 0 || !segs[n - 1].writable || segs[n - 1].len == 0 || chain.readable < kBlkHeaderBytes) return false;
    req.status_gpa = segs[n - 1].gpa + segs[n - 1].len - 1;
    uint8_t hdr[kBlkHeaderBytes];
    if (!read_readable(ram, segs, n, 0, hdr, sizeof hdr)) return false;
    req.type = static_cast<BlkType>(load_le(hdr, 4));
    req.sector = load_le(hdr + 8, 8);

    // Data: the readable bytes after the header (OUT, DISCARD, WRITE_ZEROES)
    // or the writable bytes before the status (IN, GET_ID).
    const bool device_writes = req.type == BlkType::in || req.type == BlkType::get_id;
    uint64_t skip = device_writes ? 0 : kBlkHeaderBytes;
    for (uint32_t i = 0; i < n; ++i) {
        if (segs[i].writable != device_writes) continue;
        uint64_t len = segs[i].len;
        if (device_writes && i == n - 1) len -= 1; // the status byte
        if (skip >= len) {
            skip -= len;
            continue;
        }
        data[req.data_segments++] = Segment{segs[i].gpa + skip, static_cast<uint32_t>(len - skip), device_writes};
        req.data_bytes += len - skip;
        skip = 0;
    }

    switch (req.type) {
    case BlkType::in:
    case BlkType::out: {
        if (req.type == BlkType::out && limits.read_only) return refuse(req, kBlkIoErr, "write to a read-only disk");
        if (req.type == BlkType::in ? chain.readable != kBlkHeaderBytes : chain.writable != 1)
            return refuse(req, kBlkIoErr, "data buffers in the wrong direction");
        if (req.data_bytes % kSectorSize != 0) return refuse(req, kBlkIoErr, "data not a whole number of sectors");
        const uint64_t count = req.data_bytes / kSectorSize;
        if (req.sector > limits.sectors || count > limits.sectors - req.sector)
            return refuse(req, kBlkIoErr, "sectors past the end of the disk");
        return true;
    }
    case BlkType::flush:
        if (req.data_bytes != 0) return refuse(req, kBlkIoErr, "flush with data");
        return true;
    case BlkType::get_id:
        return true; // up to kBlkIdBytes of the data are written
    case BlkType::discard:
    case BlkType::write_zeroes: {
        if (limits.read_only) return refuse(req, kBlkIoErr, "discard or write-zeroes on a read-only disk");
        if (chain.writable != 1 || req.data_bytes == 0 || req.data_bytes % kBlkRangeBytes != 0 ||
            req.data_bytes / kBlkRangeBytes > limits.max_ranges)
            return refuse(req, kBlkIoErr, "bad discard or write-zeroes ranges");
        req.ranges = static_cast<uint32_t>(req.data_bytes / kBlkRangeBytes);
        for (uint32_t i = 0; i < req.ranges; ++i) {
            uint8_t r[kBlkRangeBytes];
            if (!read_readable(ram, segs, n, kBlkHeaderBytes + uint64_t{i} * kBlkRangeBytes, r, sizeof r)) return false;
            const uint32_t flags = static_cast<uint32_t>(load_le(r + 12, 4));
            ranges[i] = BlkRange{load_le(r, 8), static_cast<uint32_t>(load_le(r + 8, 4)), (flags & 1) != 0};
            if ((flags & ~1u) != 0 || (req.type == BlkType::discard && flags != 0))
                return refuse(req, kBlkUnsupported, "unknown discard or write-zeroes flags");
            if (ranges[i].sector > limits.sectors || ranges[i].sectors > limits.sectors - ranges[i].sector)
                return refuse(req, kBlkIoErr, "range past the end of the disk");
            // What the device advertised bounds the work one request asks for.
            if (ranges[i].sectors > limits.max_range_sectors)
                return refuse(req, kBlkIoErr, "range longer than the device's maximum");
        }
        return true;
    }
    }
    return refuse(req, kBlkUnsupported, "unknown request type");
}

} // namespace hv::core::virtio
