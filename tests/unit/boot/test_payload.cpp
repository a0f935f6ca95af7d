// decompress_payload: xz, legacy lzma and gzip payloads made here with
// liblzma and zlib round-trip, with and without the 4-byte size the
// kernel's build appends; truncated, corrupt and oversized ones are
// refused with Errc::bad_image and a message saying which; the formats hv
// does not decompress are Errc::not_supported.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "boot/bzimage.hpp"
#include "boot/payload.hpp"
#include "compress.hpp"

using Catch::Matchers::Contains;
using hv::Errc;
using hv::boot::PayloadFormat;
using hv::boot::decompress_payload;

namespace {

// Not too compressible: a few KiB of a simple generator.
std::vector<uint8_t> sample(size_t n, uint32_t seed = 1) {
    std::vector<uint8_t> v(n);
    uint32_t x = seed;
    for (auto& b : v) {
        x = x * 1103515245u + 12345u;
        b = static_cast<uint8_t>((x >> 16) % 40); // a small alphabet: compresses, but not to nothing
    }
    return v;
}

std::vector<uint8_t> compress(PayloadFormat f, const std::vector<uint8_t>& data) {
    switch (f) {
    case PayloadFormat::xz: return hvtest::xz_compress(data);
    case PayloadFormat::lzma: return hvtest::lzma_alone_compress(data);
    case PayloadFormat::gzip: return hvtest::gzip_compress(data);
    default: FAIL("no compressor for this format"); return {};
    }
}

void check_error(const hv::Result<std::vector<uint8_t>>& r, Errc code, std::initializer_list<const char*> fragments) {
    REQUIRE_FALSE(r.ok());
    CHECK(hv::errc_name(r.error().code) == hv::errc_name(code));
    for (const char* f : fragments) CHECK_THAT(r.error().message, Contains(f));
}

const PayloadFormat kFormats[] = {PayloadFormat::xz, PayloadFormat::lzma, PayloadFormat::gzip};

} // namespace

TEST_CASE("payload: the formats hv decompresses", "[boot][payload]") {
    CHECK(hv::boot::can_decompress(PayloadFormat::xz));
    CHECK(hv::boot::can_decompress(PayloadFormat::lzma));
    CHECK(hv::boot::can_decompress(PayloadFormat::gzip));
    CHECK_FALSE(hv::boot::can_decompress(PayloadFormat::bzip2));
    CHECK_FALSE(hv::boot::can_decompress(PayloadFormat::lzo));
    CHECK_FALSE(hv::boot::can_decompress(PayloadFormat::lz4));
    CHECK_FALSE(hv::boot::can_decompress(PayloadFormat::zstd));
    CHECK_FALSE(hv::boot::can_decompress(PayloadFormat::unknown));
}

TEST_CASE("payload: xz, lzma and gzip round-trip, with and without the size suffix", "[boot][payload]") {
    const auto data = sample(64 * 1024);
    for (PayloadFormat f : kFormats) {
        INFO(hv::boot::payload_format_name(f));
        const auto packed = compress(f, data);
        REQUIRE(packed.size() < data.size());
        auto plain = decompress_payload(packed, f);
        INFO((plain ? std::string() : plain.error().message));
        REQUIRE(plain.ok());
        CHECK(*plain == data);
        const auto suffixed = hvtest::with_size_suffix(packed, static_cast<uint32_t>(data.size()));
        auto with = decompress_payload(suffixed, f);
        INFO((with ? std::string() : with.error().message));
        REQUIRE(with.ok());
        CHECK(*with == data);
    }
}

TEST_CASE("payload: the magic the bzImage reader sees matches the encoders'", "[boot][payload]") {
    // What read_bzimage's format_of() keys on, for the payloads made here.
    const auto data = sample(4096);
    const auto xz = compress(PayloadFormat::xz, data);
    const auto lz = compress(PayloadFormat::lzma, data);
    const auto gz = compress(PayloadFormat::gzip, data);
    CHECK(std::vector<uint8_t>(xz.begin(), xz.begin() + 6) == std::vector<uint8_t>{0xfd, '7', 'z', 'X', 'Z', 0});
    CHECK(std::vector<uint8_t>(lz.begin(), lz.begin() + 3) == std::vector<uint8_t>{0x5d, 0, 0});
    CHECK(std::vector<uint8_t>(gz.begin(), gz.begin() + 2) == std::vector<uint8_t>{0x1f, 0x8b});
}

TEST_CASE("payload: an empty result and a payload of one byte round-trip", "[boot][payload]") {
    for (PayloadFormat f : kFormats) {
        INFO(hv::boot::payload_format_name(f));
        auto empty = decompress_payload(compress(f, {}), f);
        REQUIRE(empty.ok());
        CHECK(empty->empty());
        auto one = decompress_payload(compress(f, {0x42}), f);
        REQUIRE(one.ok());
        CHECK(*one == std::vector<uint8_t>{0x42});
    }
}

TEST_CASE("payload: truncated input is bad_image saying truncated", "[boot][payload][errors]") {
    const auto data = sample(64 * 1024, 7);
    for (PayloadFormat f : kFormats) {
        const auto packed = compress(f, data);
        for (size_t keep : {size_t{0}, size_t{1}, size_t{4}, packed.size() / 2, packed.size() - 1}) {
            INFO(hv::boot::payload_format_name(f) << ", " << keep << " of " << packed.size() << " bytes");
            const std::vector<uint8_t> cut(packed.begin(), packed.begin() + static_cast<long>(keep));
            check_error(decompress_payload(cut, f), Errc::bad_image, {hv::boot::payload_format_name(f), "truncated"});
        }
    }
}

TEST_CASE("payload: corrupt xz and gzip data is bad_image", "[boot][payload][errors]") {
    const auto data = sample(64 * 1024, 3);
    for (PayloadFormat f : {PayloadFormat::xz, PayloadFormat::gzip}) {
        INFO(hv::boot::payload_format_name(f));
        const auto packed = compress(f, data);
        SECTION("a byte in the middle") {
            auto bad = packed;
            bad[bad.size() / 2] ^= 0x55;
            check_error(decompress_payload(bad, f), Errc::bad_image, {hv::boot::payload_format_name(f), "corrupt"});
        }
        SECTION("the check at the end") {
            // xz: the stream footer; gzip: the CRC32 before ISIZE.
            auto bad = packed;
            bad[bad.size() - 8] ^= 0x01;
            check_error(decompress_payload(bad, f), Errc::bad_image, {hv::boot::payload_format_name(f)});
        }
    }
}

TEST_CASE("payload: a corrupt lzma header is bad_image", "[boot][payload][errors]") {
    const auto packed = compress(PayloadFormat::lzma, sample(4096));
    SECTION("properties byte out of range") {
        auto bad = packed;
        bad[0] = 0xff; // lc/lp/pb > 224
        check_error(decompress_payload(bad, PayloadFormat::lzma), Errc::bad_image, {"lzma payload"});
    }
    SECTION("a dictionary over liblzma's memory ceiling") {
        auto bad = packed;
        const uint32_t dict = 1u << 30; // 1 GiB
        std::memcpy(bad.data() + 1, &dict, 4);
        check_error(decompress_payload(bad, PayloadFormat::lzma), Errc::bad_image, {"lzma payload", "128 MiB"});
    }
}

TEST_CASE("payload: xz data in a gzip wrapper and the other way round are refused", "[boot][payload][errors]") {
    const auto data = sample(4096);
    check_error(decompress_payload(compress(PayloadFormat::xz, data), PayloadFormat::gzip), Errc::bad_image, {"gzip payload"});
    check_error(decompress_payload(compress(PayloadFormat::gzip, data), PayloadFormat::xz), Errc::bad_image, {"xz payload"});
    check_error(decompress_payload(compress(PayloadFormat::xz, data), PayloadFormat::lzma), Errc::bad_image, {"lzma payload"});
}

TEST_CASE("payload: output above max_out is bad_image naming the limit", "[boot][payload][errors]") {
    const std::vector<uint8_t> big(3u << 20, 0x5a); // 3 MiB, compresses to a few KiB
    for (PayloadFormat f : kFormats) {
        INFO(hv::boot::payload_format_name(f));
        const auto packed = compress(f, big);
        REQUIRE(packed.size() < 64 * 1024);
        check_error(decompress_payload(packed, f, 1u << 20), Errc::bad_image,
                    {hv::boot::payload_format_name(f), "more than 1 MiB"});
        // One byte over the limit is over it.
        check_error(decompress_payload(packed, f, big.size() - 1), Errc::bad_image, {"more than 2 MiB"});
        // Under the limit it decompresses.
        auto ok = decompress_payload(packed, f, 4u << 20);
        REQUIRE(ok.ok());
        CHECK(ok->size() == big.size());
    }
}

TEST_CASE("payload: output of exactly max_out fits", "[boot][payload]") {
    const std::vector<uint8_t> big(2u << 20, 0x5a);
    for (PayloadFormat f : kFormats) {
        INFO(hv::boot::payload_format_name(f));
        auto r = decompress_payload(compress(f, big), f, big.size());
        INFO((r ? std::string() : r.error().message));
        REQUIRE(r.ok());
        CHECK(*r == big);
    }
}

TEST_CASE("payload: formats hv does not decompress are not_supported", "[boot][payload][errors]") {
    const std::vector<uint8_t> bytes = {0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0};
    for (PayloadFormat f : {PayloadFormat::zstd, PayloadFormat::bzip2, PayloadFormat::lzo, PayloadFormat::lz4,
                            PayloadFormat::unknown}) {
        INFO(hv::boot::payload_format_name(f));
        check_error(decompress_payload(bytes, f), Errc::not_supported,
                    {hv::boot::payload_format_name(f), "xz, lzma and gzip"});
    }
}
