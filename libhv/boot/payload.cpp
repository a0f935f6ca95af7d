#include "boot/payload.hpp"

#include <lzma.h>
#include <zlib.h>

#include <algorithm>
#include <climits>

#include <fmt/format.h>

namespace hv::boot {

namespace {

constexpr size_t kChunk = 4u << 20;
// liblzma's memory ceiling: a kernel's xz stream uses a dictionary of a
// few MiB; a hostile header asking for more is refused, not obeyed.
constexpr uint64_t kLzmaMemLimit = 128ull << 20;

Error bad(PayloadFormat f, std::string what) {
    return make_error(Errc::bad_image, fmt::format("{} payload: {}", payload_format_name(f), what));
}

Error too_big(PayloadFormat f, uint64_t max_out) {
    return bad(f, fmt::format("decompresses to more than {} MiB", max_out >> 20));
}

// Grows `out` by one chunk, within `max_out`; false when it is full.
bool grow(std::vector<uint8_t>& out, uint64_t max_out) {
    if (out.size() >= max_out) return false;
    out.resize(static_cast<size_t>(std::min<uint64_t>(out.size() + kChunk, max_out)));
    return true;
}

Result<std::vector<uint8_t>> run_lzma(std::span<const uint8_t> data, PayloadFormat f, uint64_t max_out) {
    lzma_stream s = LZMA_STREAM_INIT;
    const lzma_ret init = f == PayloadFormat::xz ? lzma_stream_decoder(&s, kLzmaMemLimit, 0)
                                                 : lzma_alone_decoder(&s, kLzmaMemLimit);
    if (init != LZMA_OK) return make_error(Errc::platform_error, fmt::format("liblzma: cannot start a decoder ({})", int(init)));
    std::vector<uint8_t> out;
    s.next_in = data.data();
    s.avail_in = data.size();
    lzma_ret r = LZMA_OK;
    size_t produced = 0;
    while (r == LZMA_OK) {
        if (s.avail_out == 0) {
            if (!grow(out, max_out)) {
                lzma_end(&s);
                return too_big(f, max_out);
            }
            s.next_out = out.data() + produced;
            s.avail_out = out.size() - produced;
        }
        r = lzma_code(&s, LZMA_FINISH);
        produced = out.size() - s.avail_out;
    }
    lzma_end(&s);
    switch (r) {
    case LZMA_STREAM_END: break;
    case LZMA_MEMLIMIT_ERROR: return bad(f, fmt::format("needs more than {} MiB to decode", kLzmaMemLimit >> 20));
    case LZMA_FORMAT_ERROR: return bad(f, "not in the format its magic says");
    case LZMA_OPTIONS_ERROR: return bad(f, "uses options liblzma does not support");
    case LZMA_DATA_ERROR: return bad(f, fmt::format("corrupt data near input byte {}", s.total_in));
    case LZMA_BUF_ERROR: return bad(f, "truncated");
    default: return bad(f, fmt::format("liblzma error {}", int(r)));
    }
    out.resize(produced);
    return out;
}

Result<std::vector<uint8_t>> run_gzip(std::span<const uint8_t> data, uint64_t max_out) {
    const PayloadFormat f = PayloadFormat::gzip;
    z_stream s{};
    if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) return make_error(Errc::platform_error, "zlib: cannot start a decoder");
    std::vector<uint8_t> out;
    size_t consumed = 0;
    size_t produced = 0;
    int r = Z_OK;
    while (r == Z_OK) {
        if (s.avail_in == 0) {
            const size_t n = std::min<size_t>(data.size() - consumed, UINT_MAX);
            if (n == 0) break; // input ended before the stream did
            s.next_in = const_cast<Bytef*>(data.data() + consumed);
            s.avail_in = static_cast<uInt>(n);
            consumed += n;
        }
        if (s.avail_out == 0) {
            if (!grow(out, max_out)) {
                inflateEnd(&s);
                return too_big(f, max_out);
            }
            const size_t room = std::min<size_t>(out.size() - produced, UINT_MAX);
            s.next_out = out.data() + produced;
            s.avail_out = static_cast<uInt>(room);
        }
        const uInt before = s.avail_out;
        r = inflate(&s, Z_NO_FLUSH);
        produced += before - s.avail_out;
        if (r == Z_BUF_ERROR && s.avail_out != 0 && s.avail_in == 0) r = Z_OK; // wants more input
    }
    inflateEnd(&s);
    if (r == Z_STREAM_END) {
        out.resize(produced);
        return out;
    }
    if (r == Z_OK || r == Z_BUF_ERROR) return bad(f, "truncated");
    return bad(f, fmt::format("corrupt data ({})", s.msg != nullptr ? s.msg : "zlib error"));
}

} // namespace

bool can_decompress(PayloadFormat f) {
    return f == PayloadFormat::xz || f == PayloadFormat::lzma || f == PayloadFormat::gzip;
}

Result<std::vector<uint8_t>> decompress_payload(std::span<const uint8_t> data, PayloadFormat f, uint64_t max_out) {
    if (!can_decompress(f))
        return make_error(Errc::not_supported,
                          fmt::format("{} payload: hv decompresses xz, lzma and gzip kernels only", payload_format_name(f)));
    if (f == PayloadFormat::gzip) return run_gzip(data, max_out);
    return run_lzma(data, f, max_out);
}

} // namespace hv::boot
