// The bzImage setup-header reader against images built field by field:
// what it reads from a good header, and each field it must refuse.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "boot/bzimage.hpp"
#include "bzimage_builder.hpp"

using hv::boot::PayloadFormat;
using hv::boot::read_bzimage;
using hvtest::BzImageBuilder;

TEST_CASE("bzImage: a good setup header is read field by field", "[boot][bzimage]") {
    BzImageBuilder b;
    const auto image = b.build();
    REQUIRE(hv::boot::looks_like_bzimage(image));
    auto r = read_bzimage(image);
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r);
    CHECK(r->version == 0x020f);
    CHECK(r->setup_sects == 2);
    CHECK(r->kernel_offset == 3 * 512);
    CHECK(r->kernel_size == image.size() - 3 * 512);
    CHECK(r->has_64bit_entry());
    CHECK(r->cmdline_size == 2047);
    CHECK(r->initrd_addr_max == 0x7fffffff);
    CHECK(r->kernel_alignment == 0x200000);
    CHECK(r->relocatable);
    CHECK(r->pref_address == 0x1000000);
    CHECK(r->init_size == 0x2000000);
    CHECK(r->payload_offset == 3 * 512 + 0x100);
    CHECK(r->payload_length == b.payload.size());
    CHECK(r->payload_format == PayloadFormat::xz);
    // setup_sects 0 means 4 (the protocol's oldest rule).
    b.setup_sects = 0;
    auto four = read_bzimage(b.build());
    REQUIRE(four);
    CHECK(four->kernel_offset == 5 * 512);
}

TEST_CASE("bzImage: the payload's format comes from its magic bytes", "[boot][bzimage]") {
    const std::pair<std::string, PayloadFormat> formats[] = {
        {std::string("\x1f\x8b\x08", 3), PayloadFormat::gzip},
        {"BZh9", PayloadFormat::bzip2},
        {std::string("\x5d\x00\x00\x80", 4), PayloadFormat::lzma},
        {std::string("\xfd" "7zXZ\0", 6), PayloadFormat::xz},
        {"\x89LZO", PayloadFormat::lzo},
        {"\x02\x21\x4c\x18", PayloadFormat::lz4},
        {"\x28\xb5\x2f\xfd", PayloadFormat::zstd},
        {"ELF?", PayloadFormat::unknown},
    };
    for (const auto& [magic, format] : formats) {
        INFO(hv::boot::payload_format_name(format));
        BzImageBuilder b;
        b.payload = magic + "rest";
        auto r = read_bzimage(b.build());
        REQUIRE(r);
        CHECK(r->payload_format == format);
    }
}

TEST_CASE("bzImage: each bad field is refused and named", "[boot][bzimage][bad-input]") {
    struct Case {
        const char* what;
        void (*edit)(BzImageBuilder&, std::vector<uint8_t>&);
        const char* says;
    };
    static const Case cases[] = {
        {"an ELF file", [](BzImageBuilder&, std::vector<uint8_t>& f) { f.assign({0x7f, 'E', 'L', 'F', 2, 1, 1}); },
         "not a bzImage"},
        {"no boot flag", [](BzImageBuilder&, std::vector<uint8_t>& f) { f[0x1fe] = 0; }, "not a bzImage"},
        {"truncated inside the header", [](BzImageBuilder&, std::vector<uint8_t>& f) { f.resize(0x240); }, "too short"},
        {"an old protocol", [](BzImageBuilder& b, std::vector<uint8_t>& f) { b.version = 0x0204; f = b.build(); },
         "boot protocol 2.04 is older than 2.12"},
        {"a short header", [](BzImageBuilder& b, std::vector<uint8_t>& f) { b.header_len = 0x20; f = b.build(); },
         "before init_size"},
        {"too many setup sectors", [](BzImageBuilder&, std::vector<uint8_t>& f) { f[0x1f1] = 200; }, "setup_sects 200"},
        {"a kernel past the file", [](BzImageBuilder&, std::vector<uint8_t>& f) { f[0x1f1] = 60; },
         "past the file"},
        {"a zImage", [](BzImageBuilder& b, std::vector<uint8_t>& f) { b.loadflags = 0; f = b.build(); }, "zImage"},
        {"an odd alignment", [](BzImageBuilder& b, std::vector<uint8_t>& f) { b.kernel_alignment = 0x3000; f = b.build(); },
         "not a power of two"},
        {"an empty payload", [](BzImageBuilder&, std::vector<uint8_t>& f) { BzImageBuilder::put<uint32_t>(f, 0x24c, 0); },
         "payload_length is 0"},
        {"a payload past the file", [](BzImageBuilder& b, std::vector<uint8_t>& f) { b.payload_length = 1 << 20; f = b.build(); },
         "runs past"},
        {"a payload offset that wraps", [](BzImageBuilder&, std::vector<uint8_t>& f) {
             BzImageBuilder::put<uint32_t>(f, 0x248, 0xffffffffu);
         }, "runs past"},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        BzImageBuilder b;
        std::vector<uint8_t> f = b.build();
        c.edit(b, f);
        auto r = read_bzimage(f);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == hv::Errc::bad_image);
        CHECK_THAT(r.error().message, Catch::StartsWith("bzImage: ") && Catch::Contains(c.says));
    }
}
