// The bzImage fuzz target (tests/fuzz/bzimage_fuzz.cpp) run as a unit test:
// 20,000 seeded inputs, built headers with a few fields or bytes changed
// and random bytes, through the same checks libFuzzer runs. Reproducible:
// the seed is fixed and a failure prints its input in hex.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "../../fuzz/bzimage_fuzz.hpp"
#include "../../fuzz/fuzz_smoke.hpp"
#include "bzimage_builder.hpp"

using hv::fuzz::BzImageFuzzStats;

namespace {

class Gen : public hv::fuzz::SmokeGen {
public:
    using SmokeGen::SmokeGen;

    std::string image() {
        hvtest::BzImageBuilder b;
        b.setup_sects = static_cast<uint8_t>(below(8));
        if (one_in(8)) b.version = static_cast<uint16_t>(rng_());
        if (one_in(8)) b.header_len = static_cast<uint8_t>(rng_());
        if (one_in(8)) b.loadflags = static_cast<uint8_t>(rng_());
        if (one_in(8)) b.kernel_alignment = static_cast<uint32_t>(rng_());
        b.payload_offset = static_cast<uint32_t>(below(0x400));
        static const char* const magics[] = {"\x1f\x8b", "BZh", "\xfd" "7zXZ", "\x89LZO", "\x28\xb5\x2f\xfd", "xx"};
        b.payload = std::string(magics[below(6)]) + (one_in(4) ? std::string(1, '\0') : "") + bytes(below(32));
        if (one_in(8)) b.payload_length = static_cast<uint32_t>(rng_());
        b.tail = below(64);
        auto v = b.build();
        // Offsets far past the file are set in place (building them would
        // allocate gigabytes).
        if (one_in(16)) hvtest::BzImageBuilder::put<uint32_t>(v, 0x248, static_cast<uint32_t>(rng_()));
        std::string s(v.begin(), v.end());
        for (size_t m = below(3); m > 0 && !s.empty(); --m) s[below(s.size())] = static_cast<char>(rng_());
        if (one_in(16)) s.resize(below(s.size() + 1));
        return s;
    }
};

} // namespace

TEST_CASE("bzImage fuzz: 20,000 seeded inputs keep every invariant", "[boot][bzimage][fuzz]") {
    Gen g(0x627a496d);
    BzImageFuzzStats total;
    for (int i = 0; i < 20000; ++i) {
        const std::string input = g.one_in(8) ? g.bytes(g.below(0x300)) : g.image();
        BzImageFuzzStats s;
        const std::string why = hv::fuzz::bzimage_fuzz_check(hv::fuzz::as_bytes(input), input.size(), s);
        INFO("input #" << i << ": " << hv::fuzz::hex(input));
        REQUIRE(why == "");
        total.accepted += s.accepted;
        total.refused += s.refused;
        total.formats += s.formats;
    }
    CHECK(total.accepted > 5000);
    CHECK(total.refused > 2000);
    CHECK(total.formats > 3000);
    CHECK(hv_bzimage_fuzz_one(nullptr, 0) == 0);
}
