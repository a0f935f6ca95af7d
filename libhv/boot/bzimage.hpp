// BzImage: what a Linux x86 bzImage's setup header says (the Linux/x86 boot
// protocol, Documentation/arch/x86/boot.rst), read from untrusted bytes
// before anything of it is used: where the protected-mode kernel starts,
// where its compressed payload lies and in which format, and the limits the
// boot loader must respect (command line size, initrd ceiling, alignment,
// the memory the kernel needs to decompress itself). It is the first step
// of booting stock Linux kernels: a bzImage whose payload is a PVH ELF boots
// through PVH once the payload is decompressed on the host, the 64-bit boot
// protocol otherwise. Every offset and length is checked against the file.
#pragma once

#include <cstdint>
#include <span>

#include "hv/result.hpp"

namespace hv::boot {

// Compression of the payload, by its magic bytes (the kernel's
// CONFIG_KERNEL_* choices).
enum class PayloadFormat : uint8_t { gzip, bzip2, lzma, xz, lzo, lz4, zstd, unknown };
const char* payload_format_name(PayloadFormat f);

struct BzImage {
    uint16_t version = 0;             // boot protocol, e.g. 0x020f for 2.15
    uint32_t setup_sects = 0;         // 512-byte sectors of real-mode setup (0 means 4)
    uint64_t kernel_offset = 0;       // file offset of the protected-mode kernel
    uint64_t kernel_size = 0;         // its bytes in the file
    uint8_t loadflags = 0;
    uint16_t xloadflags = 0;          // XLF_*: 64-bit entry, above-4G loading
    uint32_t cmdline_size = 0;        // longest command line, without the NUL
    uint32_t initrd_addr_max = 0;     // highest address an initrd byte may be at
    uint32_t kernel_alignment = 0;    // physical alignment the kernel wants
    bool relocatable = false;
    uint64_t pref_address = 0;        // where it would like to be loaded
    uint32_t init_size = 0;           // memory it needs from its load address
    uint64_t payload_offset = 0;      // file offset of the compressed kernel
    uint64_t payload_length = 0;
    PayloadFormat payload_format = PayloadFormat::unknown;

    bool has_64bit_entry() const { return (xloadflags & 1u) != 0; } // XLF_KERNEL_64
};

// Boot protocol 2.12 and later: payload fields (2.08), xloadflags (2.12).
constexpr uint16_t kMinBootProtocol = 0x020c;

// Whether `image` starts like a bzImage (boot flag and "HdrS"), without
// checking the rest: how a loader tells it from an ELF file.
bool looks_like_bzimage(std::span<const uint8_t> image);

// Reads and checks the setup header; errors (Errc::bad_image) say which
// field is wrong and why.
Result<BzImage> read_bzimage(std::span<const uint8_t> image);

} // namespace hv::boot
