// Compressors for tests: the formats a Linux bzImage's payload comes in
// (xz, the legacy .lzma "alone" format, gzip), written with liblzma and
// zlib the way the kernel's build writes them, so the decompressor is
// tested against a real encoder. Throws on an encoder failure.
#pragma once

#include <lzma.h>
#include <zlib.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace hvtest {

// An .xz stream with CRC32 checks, as the kernel's scripts/xz_wrap.sh.
inline std::vector<uint8_t> xz_compress(std::span<const uint8_t> in, uint32_t preset = 0) {
    std::vector<uint8_t> out(lzma_stream_buffer_bound(in.size()));
    size_t pos = 0;
    const lzma_ret r = lzma_easy_buffer_encode(preset, LZMA_CHECK_CRC32, nullptr, in.data(), in.size(), out.data(), &pos,
                                               out.size());
    if (r != LZMA_OK) throw std::runtime_error("lzma_easy_buffer_encode failed: " + std::to_string(int(r)));
    out.resize(pos);
    return out;
}

// The legacy .lzma format (13-byte header, unknown size, end marker), as
// `lzma -9` writes for CONFIG_KERNEL_LZMA.
inline std::vector<uint8_t> lzma_alone_compress(std::span<const uint8_t> in, uint32_t preset = 0) {
    lzma_options_lzma opt;
    if (lzma_lzma_preset(&opt, preset)) throw std::runtime_error("lzma_lzma_preset failed");
    lzma_stream s = LZMA_STREAM_INIT;
    if (lzma_alone_encoder(&s, &opt) != LZMA_OK) throw std::runtime_error("lzma_alone_encoder failed");
    std::vector<uint8_t> out(in.size() + in.size() / 2 + 4096);
    s.next_in = in.data();
    s.avail_in = in.size();
    s.next_out = out.data();
    s.avail_out = out.size();
    lzma_ret r = LZMA_OK;
    while (r == LZMA_OK) {
        if (s.avail_out == 0) {
            const size_t done = out.size();
            out.resize(out.size() * 2);
            s.next_out = out.data() + done;
            s.avail_out = out.size() - done;
        }
        r = lzma_code(&s, LZMA_FINISH);
    }
    const size_t produced = s.total_out;
    lzma_end(&s);
    if (r != LZMA_STREAM_END) throw std::runtime_error("lzma alone encoding failed: " + std::to_string(int(r)));
    out.resize(produced);
    return out;
}

// A gzip member (deflate with the gzip wrapper: windowBits 16 + MAX_WBITS).
inline std::vector<uint8_t> gzip_compress(std::span<const uint8_t> in, int level = Z_DEFAULT_COMPRESSION) {
    z_stream s{};
    if (deflateInit2(&s, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("deflateInit2 failed");
    if (in.size() > UINT_MAX) throw std::runtime_error("gzip_compress: input too large for one call");
    std::vector<uint8_t> out(deflateBound(&s, static_cast<uLong>(in.size())));
    s.next_in = const_cast<Bytef*>(in.data());
    s.avail_in = static_cast<uInt>(in.size());
    s.next_out = out.data();
    s.avail_out = static_cast<uInt>(out.size());
    const int r = deflate(&s, Z_FINISH);
    const size_t produced = s.total_out;
    deflateEnd(&s);
    if (r != Z_STREAM_END) throw std::runtime_error("deflate failed: " + std::to_string(r));
    out.resize(produced);
    return out;
}

// The 4-byte little-endian uncompressed size the kernel's build appends
// after the compressed payload (scripts/Makefile.lib, size_append).
inline std::vector<uint8_t> with_size_suffix(std::vector<uint8_t> compressed, uint32_t size) {
    uint8_t le[4];
    std::memcpy(le, &size, 4);
    compressed.insert(compressed.end(), le, le + 4);
    return compressed;
}

inline std::string as_string(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

} // namespace hvtest
