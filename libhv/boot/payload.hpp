// Payload: decompresses a bzImage's compressed kernel on the host, as Xen's
// toolstack does, with Debian's liblzma (xz, lzma) and zlib (gzip), never
// a hand-written decompressor. Debian's kernels carry an xz payload that is
// a PVH-capable ELF: decompressed here, it boots through PVH and skips the
// guest's own (slow, in-guest) decompression.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "boot/bzimage.hpp"
#include "hv/result.hpp"

namespace hv::boot {

// The most a payload may decompress to (a kernel is tens of MiB).
constexpr uint64_t kMaxDecompressed = 512ull << 20;

// Whether this build can decompress `f`.
bool can_decompress(PayloadFormat f);

// Decompresses `data` (the payload, possibly followed by the 4-byte size
// the kernel's build appends) to at most `max_out` bytes. Errors
// (Errc::bad_image, Errc::not_supported) say what was wrong and where.
Result<std::vector<uint8_t>> decompress_payload(std::span<const uint8_t> data, PayloadFormat f,
                                                uint64_t max_out = kMaxDecompressed);

} // namespace hv::boot
