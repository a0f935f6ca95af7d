// The qcow2 header and its header extensions, decoded and checked against
// the file's size (QEMU's docs/interop/qcow2.txt). Pure: no I/O, so the
// fuzz target and the unit tests feed it bytes directly. What it refuses
// for every use is refused here (not a qcow2 file, fields out of range,
// encryption, external data files, extended L2 entries, a compression
// other than zlib, images marked corrupt, incompatible features it does
// not know). What only a writer must refuse (the dirty bit, version 2,
// internal snapshots, bitmaps, refcount widths other than 16 bits) is
// decoded and left to Qcow2Image, which knows whether it writes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "hv/result.hpp"

namespace hv::dev {

constexpr uint32_t kQcow2Magic = 0x514649fb; // "QFI\xfb"
constexpr uint32_t kQcow2MinClusterBits = 9;  // 512 bytes
constexpr uint32_t kQcow2MaxClusterBits = 21; // 2 MiB, QEMU's limit too
// The caller hands the decoder this much of the file (or the whole file
// when shorter): the first cluster of the largest cluster size, where the
// header extensions and the backing file name live.
constexpr uint64_t kQcow2HeaderReadBytes = uint64_t{1} << kQcow2MaxClusterBits;
// QEMU's limits: an L1 table of at most 32 MiB, a refcount table of at
// most 8 MiB, 65536 snapshots, backing names of at most 1023 bytes.
constexpr uint64_t kQcow2MaxL1Bytes = uint64_t{32} << 20;
constexpr uint64_t kQcow2MaxRefcountTableBytes = uint64_t{8} << 20;
constexpr uint32_t kQcow2MaxSnapshots = 65536;
constexpr uint32_t kQcow2MaxBackingName = 1023;
constexpr uint32_t kQcow2MaxExtensions = 256;

// incompatible_features bits.
constexpr uint64_t kQcow2Dirty = 1u << 0;
constexpr uint64_t kQcow2Corrupt = 1u << 1;
constexpr uint64_t kQcow2ExternalData = 1u << 2;
constexpr uint64_t kQcow2CompressionType = 1u << 3;
constexpr uint64_t kQcow2ExtendedL2 = 1u << 4;

struct Qcow2Header {
    uint32_t version = 0; // 2 or 3
    uint32_t cluster_bits = 0;
    uint64_t size = 0; // the virtual disk's bytes
    uint32_t l1_size = 0;
    uint64_t l1_table_offset = 0;
    uint64_t refcount_table_offset = 0;
    uint32_t refcount_table_clusters = 0;
    uint32_t nb_snapshots = 0;
    uint64_t snapshots_offset = 0;
    uint64_t incompatible_features = 0;
    uint64_t compatible_features = 0;
    uint64_t autoclear_features = 0;
    uint32_t refcount_order = 4; // refcounts are 1 << refcount_order bits wide
    uint32_t header_length = 72;
    std::string backing_file;   // "" when the image has none
    std::string backing_format; // from the 0xe2792aca extension; "" when absent
    bool has_bitmaps = false;   // a bitmaps extension (0x23852875) is present

    uint64_t cluster_size() const { return uint64_t{1} << cluster_bits; }
    bool dirty() const { return (incompatible_features & kQcow2Dirty) != 0; }
};

// Decodes the header from `first` (the file's first kQcow2HeaderReadBytes
// bytes, or all of it when the file is shorter) of a file of `file_size`
// bytes. Errors are Errc::bad_image (or not_supported for a valid feature
// hv does not implement) with a message "qcow2 header: ..." naming the
// field and its value.
Result<Qcow2Header> decode_qcow2_header(std::span<const uint8_t> first, uint64_t file_size);

// `s` (a name read from an image) with control bytes, quotes and
// backslashes escaped, fit for a message or a log line.
std::string qcow2_printable(std::string_view s);

// Big-endian fields, as every number in a qcow2 file is stored.
inline uint64_t qcow2_be(const uint8_t* p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
    return v;
}
inline void qcow2_put_be(uint8_t* p, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

} // namespace hv::dev
