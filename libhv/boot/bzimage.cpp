#include "boot/bzimage.hpp"

#include <cstring>
#include <string>

#include <fmt/format.h>

namespace hv::boot {

namespace {

// Offsets in the file (boot.rst, "The real-mode kernel header").
constexpr uint64_t kSetupSects = 0x1f1;
constexpr uint64_t kBootFlag = 0x1fe;  // 0xaa55
constexpr uint64_t kJump = 0x200;      // its second byte: header length past 0x202
constexpr uint64_t kHeader = 0x202;    // "HdrS"
constexpr uint64_t kVersion = 0x206;
constexpr uint64_t kLoadflags = 0x211;
constexpr uint64_t kInitrdAddrMax = 0x22c;
constexpr uint64_t kKernelAlignment = 0x230;
constexpr uint64_t kRelocatable = 0x234;
constexpr uint64_t kXloadflags = 0x236;
constexpr uint64_t kCmdlineSize = 0x238;
constexpr uint64_t kPayloadOffset = 0x248;
constexpr uint64_t kPayloadLength = 0x24c;
constexpr uint64_t kPrefAddress = 0x258;
constexpr uint64_t kInitSize = 0x260;
constexpr uint64_t kHeaderEnd = 0x264; // through init_size: what 2.12 headers have
constexpr uint32_t kHdrS = 0x53726448;
constexpr uint32_t kMaxSetupSects = 64; // the real-mode part lives below 0x8000 + its heap

Error bad(std::string what) { return make_error(Errc::bad_image, "bzImage: " + std::move(what)); }

template <class T>
T at(std::span<const uint8_t> image, uint64_t off) {
    T v;
    std::memcpy(&v, image.data() + off, sizeof v);
    return v;
}

PayloadFormat format_of(std::span<const uint8_t> p) {
    const auto starts = [&](std::initializer_list<uint8_t> magic) {
        if (p.size() < magic.size()) return false;
        size_t i = 0;
        for (uint8_t b : magic)
            if (p[i++] != b) return false;
        return true;
    };
    if (starts({0x1f, 0x8b})) return PayloadFormat::gzip;
    if (starts({'B', 'Z', 'h'})) return PayloadFormat::bzip2;
    if (starts({0x5d, 0x00, 0x00})) return PayloadFormat::lzma;
    if (starts({0xfd, '7', 'z', 'X', 'Z', 0x00})) return PayloadFormat::xz;
    if (starts({0x89, 'L', 'Z', 'O'})) return PayloadFormat::lzo;
    if (starts({0x02, 0x21, 0x4c, 0x18})) return PayloadFormat::lz4; // legacy frame, as the kernel writes it
    if (starts({0x28, 0xb5, 0x2f, 0xfd})) return PayloadFormat::zstd;
    return PayloadFormat::unknown;
}

} // namespace

const char* payload_format_name(PayloadFormat f) {
    switch (f) {
    case PayloadFormat::gzip: return "gzip";
    case PayloadFormat::bzip2: return "bzip2";
    case PayloadFormat::lzma: return "lzma";
    case PayloadFormat::xz: return "xz";
    case PayloadFormat::lzo: return "lzo";
    case PayloadFormat::lz4: return "lz4";
    case PayloadFormat::zstd: return "zstd";
    case PayloadFormat::unknown: return "unknown";
    }
    return "unknown";
}

bool looks_like_bzimage(std::span<const uint8_t> image) {
    return image.size() >= kHeader + 4 && at<uint16_t>(image, kBootFlag) == 0xaa55 && at<uint32_t>(image, kHeader) == kHdrS;
}

Result<BzImage> read_bzimage(std::span<const uint8_t> image) {
    if (!looks_like_bzimage(image)) return bad("no boot flag 0xaa55 and \"HdrS\" signature: not a bzImage");
    if (image.size() < kHeaderEnd) return bad(fmt::format("{} bytes is too short for a setup header", image.size()));
    BzImage b;
    b.version = at<uint16_t>(image, kVersion);
    if (b.version < kMinBootProtocol)
        return bad(fmt::format("boot protocol {}.{:02} is older than {}.{:02}", b.version >> 8, b.version & 0xff,
                               kMinBootProtocol >> 8, kMinBootProtocol & 0xff));
    // The header's own length (the jump's displacement) must cover the
    // fields read below.
    const uint64_t header_end = kHeader + image[kJump + 1];
    if (header_end < kHeaderEnd) return bad(fmt::format("setup header ends at {:#x}, before init_size", header_end));
    b.setup_sects = image[kSetupSects] == 0 ? 4 : image[kSetupSects];
    if (b.setup_sects > kMaxSetupSects)
        return bad(fmt::format("setup_sects {} is over {}", b.setup_sects, kMaxSetupSects));
    b.kernel_offset = (uint64_t{b.setup_sects} + 1) * 512;
    if (b.kernel_offset >= image.size())
        return bad(fmt::format("the protected-mode kernel would start at {:#x}, past the file's {} bytes", b.kernel_offset,
                               image.size()));
    b.kernel_size = image.size() - b.kernel_offset;
    b.loadflags = image[kLoadflags];
    if ((b.loadflags & 1u) == 0) return bad("loadflags lack LOADED_HIGH: a zImage, not a bzImage");
    b.xloadflags = at<uint16_t>(image, kXloadflags);
    b.cmdline_size = at<uint32_t>(image, kCmdlineSize);
    b.initrd_addr_max = at<uint32_t>(image, kInitrdAddrMax);
    b.kernel_alignment = at<uint32_t>(image, kKernelAlignment);
    if (b.kernel_alignment != 0 && (b.kernel_alignment & (b.kernel_alignment - 1)) != 0)
        return bad(fmt::format("kernel_alignment {:#x} is not a power of two", b.kernel_alignment));
    b.relocatable = image[kRelocatable] != 0;
    b.pref_address = at<uint64_t>(image, kPrefAddress);
    b.init_size = at<uint32_t>(image, kInitSize);
    // payload_offset counts from the protected-mode kernel's start.
    const uint64_t off = at<uint32_t>(image, kPayloadOffset);
    const uint64_t len = at<uint32_t>(image, kPayloadLength);
    if (len == 0) return bad("payload_length is 0");
    if (off > b.kernel_size || len > b.kernel_size - off)
        return bad(fmt::format("payload [{:#x}, +{:#x}) runs past the protected-mode kernel ({} bytes)", off, len,
                               b.kernel_size));
    b.payload_offset = b.kernel_offset + off;
    b.payload_length = len;
    b.payload_format = format_of(image.subspan(b.payload_offset, b.payload_length));
    return b;
}

} // namespace hv::boot
