#include "devices/block/qcow2_header.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace hv::dev {

namespace {

constexpr uint32_t kExtEnd = 0;
constexpr uint32_t kExtBackingFormat = 0xe2792aca;
constexpr uint32_t kExtFeatureNames = 0x6803f857;
constexpr uint32_t kExtBitmaps = 0x23852875;
constexpr uint32_t kExtEncryption = 0x0537be77;
constexpr uint32_t kExtDataFile = 0x44415441;
constexpr uint32_t kV2HeaderBytes = 72;
constexpr uint32_t kV3HeaderBytes = 104;
constexpr size_t kFeatureNameEntry = 48; // type, bit, 46 bytes of name
constexpr uint64_t kKnownIncompatible = kQcow2Dirty | kQcow2Corrupt | kQcow2ExternalData | kQcow2CompressionType | kQcow2ExtendedL2;

Error bad(std::string what) { return make_error(Errc::bad_image, "qcow2 header: " + what); }
Error unsupported(std::string what) { return make_error(Errc::not_supported, "qcow2 header: " + what); }

bool aligned(uint64_t v, uint64_t cluster) { return (v & (cluster - 1)) == 0; }

// [offset, offset + bytes) lies inside the file (no overflow).
bool inside(uint64_t offset, uint64_t bytes, uint64_t file_size) {
    return offset <= file_size && bytes <= file_size - offset;
}

std::string printable(std::string_view s) { return qcow2_printable(s); }

// Names of incompatible feature bits from the feature name table, so an
// unknown bit is refused by its name when the image gives one.
using FeatureNames = std::array<std::string, 64>;

struct Extensions {
    std::string backing_format;
    bool bitmaps = false;
    FeatureNames incompatible;
};

Result<Extensions> read_extensions(std::span<const uint8_t> area, uint64_t start) {
    Extensions ext;
    uint64_t at = start;
    bool seen_format = false, seen_names = false;
    for (uint32_t n = 0;; ++n) {
        if (n == kQcow2MaxExtensions) return bad(fmt::format("more than {} header extensions", kQcow2MaxExtensions));
        // The area ends without an end marker: QEMU reads that as the end
        // too (the first cluster is all there is).
        if (at + 8 > area.size()) break;
        const auto type = static_cast<uint32_t>(qcow2_be(area.data() + at, 4));
        const uint64_t len = qcow2_be(area.data() + at + 4, 4);
        if (type == kExtEnd) break;
        const uint64_t data = at + 8;
        if (len > area.size() - data)
            return bad(fmt::format("header extension 0x{:08x} at offset {} is {} bytes long, past the end of the first cluster",
                                   type, at, len));
        const std::span<const uint8_t> body = area.subspan(data, len);
        switch (type) {
        case kExtBackingFormat:
            if (seen_format) return bad("two backing file format extensions");
            seen_format = true;
            if (len == 0 || len > 32) return bad(fmt::format("a backing file format name of {} bytes", len));
            ext.backing_format.assign(body.begin(), body.end());
            if (ext.backing_format.find('\0') != std::string::npos)
                return bad(fmt::format("backing file format '{}' holds a NUL byte", printable(ext.backing_format)));
            break;
        case kExtFeatureNames:
            if (seen_names) return bad("two feature name tables");
            seen_names = true;
            for (size_t e = 0; e + kFeatureNameEntry <= len; e += kFeatureNameEntry) {
                const uint8_t kind = body[e], bit = body[e + 1];
                if (kind != 0 || bit >= 64) continue;
                const auto name = body.subspan(e + 2, kFeatureNameEntry - 2);
                const auto end = std::find(name.begin(), name.end(), uint8_t{0});
                ext.incompatible[bit] = printable(std::string(name.begin(), end));
            }
            break;
        case kExtBitmaps: ext.bitmaps = true; break;
        case kExtEncryption:
        case kExtDataFile:
        default: break; // unknown extensions are skipped, as the spec says
        }
        at = data + ((len + 7) & ~uint64_t{7});
    }
    return ext;
}

std::string feature_list(uint64_t bits, const FeatureNames& names) {
    std::string out;
    for (unsigned b = 0; b < 64; ++b) {
        if ((bits & (uint64_t{1} << b)) == 0) continue;
        if (!out.empty()) out += ", ";
        out += names[b].empty() ? fmt::format("bit {}", b) : fmt::format("bit {} ('{}')", b, names[b]);
    }
    return out;
}

} // namespace

// A hostile name must not forge log lines or break out of its quotes.
std::string qcow2_printable(std::string_view s) {
    std::string out;
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') out += fmt::format("\\x{:02x}", c);
        else out += ch;
    }
    return out;
}

Result<Qcow2Header> decode_qcow2_header(std::span<const uint8_t> first, uint64_t file_size) {
    const std::span<const uint8_t> bytes = first.first(static_cast<size_t>(std::min<uint64_t>(first.size(), file_size)));
    if (bytes.size() >= 4 && qcow2_be(bytes.data(), 4) != kQcow2Magic)
        return bad(fmt::format("not a qcow2 image (magic 0x{:08x}, not 0x{:08x} 'QFI\\xfb')", qcow2_be(bytes.data(), 4), kQcow2Magic));
    if (bytes.size() < kV2HeaderBytes)
        return bad(fmt::format("the file is {} bytes, shorter than a qcow2 header ({} bytes)", file_size, kV2HeaderBytes));
    const uint8_t* p = bytes.data();
    Qcow2Header h;
    h.version = static_cast<uint32_t>(qcow2_be(p + 4, 4));
    if (h.version == 1) return unsupported("version 1 (the old qcow format) is not supported (qcow2 versions 2 and 3 are)");
    if (h.version != 2 && h.version != 3) return bad(fmt::format("version {} is not a qcow2 version (2 and 3 are)", h.version));
    const uint64_t backing_offset = qcow2_be(p + 8, 8);
    const uint64_t backing_size = qcow2_be(p + 16, 4);
    h.cluster_bits = static_cast<uint32_t>(qcow2_be(p + 20, 4));
    h.size = qcow2_be(p + 24, 8);
    const auto crypt = static_cast<uint32_t>(qcow2_be(p + 32, 4));
    h.l1_size = static_cast<uint32_t>(qcow2_be(p + 36, 4));
    h.l1_table_offset = qcow2_be(p + 40, 8);
    h.refcount_table_offset = qcow2_be(p + 48, 8);
    h.refcount_table_clusters = static_cast<uint32_t>(qcow2_be(p + 56, 4));
    h.nb_snapshots = static_cast<uint32_t>(qcow2_be(p + 60, 4));
    h.snapshots_offset = qcow2_be(p + 64, 8);

    if (h.cluster_bits < kQcow2MinClusterBits || h.cluster_bits > kQcow2MaxClusterBits)
        return bad(fmt::format("cluster_bits {} is outside {}..{} (512 bytes to 2 MiB clusters)", h.cluster_bits,
                               kQcow2MinClusterBits, kQcow2MaxClusterBits));
    const uint64_t cluster = h.cluster_size();
    // What the first cluster holds: the header, its extensions, the
    // backing file name.
    const std::span<const uint8_t> head = bytes.first(static_cast<size_t>(std::min<uint64_t>(bytes.size(), cluster)));
    if (head.size() < std::min(cluster, file_size))
        return bad(fmt::format("only {} bytes of the first cluster were given", head.size())); // a caller's mistake

    if (h.version == 3) {
        if (head.size() < kV3HeaderBytes)
            return bad(fmt::format("the file is {} bytes, shorter than a version 3 header ({} bytes)", file_size, kV3HeaderBytes));
        h.incompatible_features = qcow2_be(p + 72, 8);
        h.compatible_features = qcow2_be(p + 80, 8);
        h.autoclear_features = qcow2_be(p + 88, 8);
        h.refcount_order = static_cast<uint32_t>(qcow2_be(p + 96, 4));
        h.header_length = static_cast<uint32_t>(qcow2_be(p + 100, 4));
        if (h.header_length < kV3HeaderBytes || h.header_length % 8 != 0 || h.header_length > head.size())
            return bad(fmt::format("header_length {} (a multiple of 8, from {} to the {} bytes of the first cluster)", h.header_length,
                                   kV3HeaderBytes, head.size()));
        if (h.refcount_order > 6) return bad(fmt::format("refcount_order {} is over 6 (64-bit refcounts)", h.refcount_order));
    }

    if (crypt != 0)
        return unsupported(fmt::format("the image is encrypted (crypt_method {}, {}): hv does not decrypt images", crypt,
                                       crypt == 1 ? "AES" : crypt == 2 ? "LUKS" : "unknown"));

    // Header extensions: after the header, inside the first cluster.
    auto ext = read_extensions(head, h.header_length);
    if (!ext) return ext.error();
    h.backing_format = std::move(ext->backing_format);
    h.has_bitmaps = ext->bitmaps;

    const uint64_t incompatible = h.incompatible_features;
    if (const uint64_t unknown = incompatible & ~kKnownIncompatible; unknown != 0)
        return unsupported("unknown incompatible features: " + feature_list(unknown, ext->incompatible));
    if ((incompatible & kQcow2Corrupt) != 0)
        return bad("the image is marked corrupt (incompatible feature bit 1): `qemu-img check -r all` repairs it");
    if ((incompatible & kQcow2ExternalData) != 0)
        return unsupported("the image keeps its data in an external data file (incompatible feature bit 2): not supported");
    if ((incompatible & kQcow2ExtendedL2) != 0)
        return unsupported("the image has extended L2 entries (subclusters, incompatible feature bit 4): not supported");
    const uint8_t compression = h.header_length > kV3HeaderBytes ? p[kV3HeaderBytes] : 0;
    if ((incompatible & kQcow2CompressionType) != 0)
        return unsupported(fmt::format("compressed clusters use compression type {} ({}), not zlib: not supported", compression,
                                       compression == 1 ? "zstd" : "unknown"));
    if (compression != 0)
        return bad(fmt::format("compression_type {} without incompatible feature bit 3", compression));

    // The tables: where they are and that the file holds them.
    const uint64_t l2_entries = cluster / 8;
    const uint64_t l1_covers = l2_entries * cluster; // bytes of disk one L1 entry maps (at most 2^39)
    const uint64_t l1_needed = h.size / l1_covers + (h.size % l1_covers != 0 ? 1 : 0);
    if (uint64_t{h.l1_size} * 8 > kQcow2MaxL1Bytes)
        return unsupported(fmt::format("l1_size {} is over the {} MiB L1 table limit", h.l1_size, kQcow2MaxL1Bytes >> 20));
    if (h.l1_size < l1_needed)
        return bad(fmt::format("l1_size {} is too small for a disk of {} bytes ({} entries needed)", h.l1_size, h.size, l1_needed));
    if (h.l1_size > 0) {
        if (!aligned(h.l1_table_offset, cluster))
            return bad(fmt::format("l1_table_offset 0x{:x} is not aligned to the cluster size ({})", h.l1_table_offset, cluster));
        if (h.l1_table_offset == 0 || !inside(h.l1_table_offset, uint64_t{h.l1_size} * 8, file_size))
            return bad(fmt::format("l1_table_offset 0x{:x} ({} entries) is outside the file (size {})", h.l1_table_offset, h.l1_size,
                                   file_size));
    }
    const uint64_t reftable_bytes = uint64_t{h.refcount_table_clusters} * cluster;
    if (h.refcount_table_clusters == 0) return bad("refcount_table_clusters is 0");
    if (reftable_bytes > kQcow2MaxRefcountTableBytes)
        return unsupported(fmt::format("a refcount table of {} clusters is over the {} MiB limit", h.refcount_table_clusters,
                                       kQcow2MaxRefcountTableBytes >> 20));
    if (!aligned(h.refcount_table_offset, cluster))
        return bad(fmt::format("refcount_table_offset 0x{:x} is not aligned to the cluster size ({})", h.refcount_table_offset, cluster));
    if (h.refcount_table_offset == 0 || !inside(h.refcount_table_offset, reftable_bytes, file_size))
        return bad(fmt::format("refcount_table_offset 0x{:x} ({} clusters) is outside the file (size {})", h.refcount_table_offset,
                               h.refcount_table_clusters, file_size));
    if (h.nb_snapshots > kQcow2MaxSnapshots)
        return bad(fmt::format("{} snapshots (at most {})", h.nb_snapshots, kQcow2MaxSnapshots));
    if (h.nb_snapshots > 0 && (!aligned(h.snapshots_offset, cluster) || h.snapshots_offset == 0 || h.snapshots_offset >= file_size))
        return bad(fmt::format("snapshots_offset 0x{:x} is unaligned or outside the file (size {})", h.snapshots_offset, file_size));

    // The backing file's name: inside the first cluster, at most 1023 bytes.
    if (backing_offset != 0 && backing_size != 0) {
        if (backing_size > kQcow2MaxBackingName)
            return bad(fmt::format("backing_file_size {} is over {} bytes", backing_size, kQcow2MaxBackingName));
        if (!inside(backing_offset, backing_size, head.size()))
            return bad(fmt::format("the backing file name (offset {}, {} bytes) is not inside the first cluster ({} bytes)", backing_offset,
                                   backing_size, head.size()));
        h.backing_file.assign(head.begin() + static_cast<std::ptrdiff_t>(backing_offset),
                              head.begin() + static_cast<std::ptrdiff_t>(backing_offset + backing_size));
        if (h.backing_file.find('\0') != std::string::npos)
            return bad(fmt::format("the backing file name '{}' holds a NUL byte", printable(h.backing_file)));
    }
    if (h.backing_file.empty() && !h.backing_format.empty())
        h.backing_format.clear(); // a format for no backing file means nothing
    return h;
}

} // namespace hv::dev
