// The virtqueue fuzz target (tests/fuzz/virtqueue_fuzz.cpp) run as a unit
// test: 20,000 seeded inputs, random bytes and driver-shaped queues (mostly
// well-formed chains, indirect tables, a few mutated bytes each), through
// the same checks libFuzzer runs. Reproducible: the seed is fixed and a
// failure prints its input in hex.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>

#include "../../fuzz/fuzz_smoke.hpp"
#include "../../fuzz/virtqueue_fuzz.hpp"

using hv::fuzz::VirtqueueFuzzStats;

namespace {

class Gen : public hv::fuzz::SmokeGen {
public:
    using SmokeGen::SmokeGen;

    template <class T>
    void put(std::string& s, T v) {
        s.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    // A descriptor a driver might write: a buffer in RAM (now and then
    // not), flags mostly sane, next inside the table (now and then not).
    void desc(std::string& s, uint32_t table, bool allow_indirect) {
        const bool indirect = allow_indirect && one_in(8);
        const uint64_t addr = indirect ? 0x8000 + 16 * below(64) : one_in(16) ? rng_() : 0x9000 + below(0x6000);
        const uint32_t len = indirect ? static_cast<uint32_t>(16 * (1 + below(8))) : static_cast<uint32_t>(below(one_in(16) ? 1u << 31 : 2048));
        uint16_t flags = 0;
        if (indirect) flags = 4;
        else {
            if (!one_in(3)) flags |= 1;
            if (one_in(2)) flags |= 2;
        }
        if (one_in(32)) flags = static_cast<uint16_t>(rng_());
        const uint16_t next = static_cast<uint16_t>(one_in(16) ? rng_() : below(table));
        put(s, addr);
        put(s, len);
        put(s, flags);
        put(s, next);
    }
    std::string queue() {
        const uint8_t exp = static_cast<uint8_t>(below(9));
        const uint32_t qsize = 1u << exp;
        std::string s;
        s += static_cast<char>(exp);
        s += static_cast<char>(rng_());
        for (uint32_t i = 0; i < qsize; ++i) desc(s, qsize, true);
        put(s, uint16_t{0});                                                                // avail flags
        put(s, static_cast<uint16_t>(one_in(16) ? rng_() : below(qsize + 1)));               // avail idx
        for (uint32_t i = 0; i < qsize; ++i) put(s, static_cast<uint16_t>(one_in(16) ? rng_() : below(qsize)));
        put(s, static_cast<uint16_t>(rng_())); // used_event
        for (uint32_t i = 0; i < 64; ++i) desc(s, 8, one_in(16)); // indirect tables
        return s;
    }
    void mutate(std::string& s) {
        if (s.empty()) return;
        s[below(s.size())] = static_cast<char>(rng_());
    }
};

} // namespace

TEST_CASE("virtqueue fuzz: 20,000 seeded inputs keep every invariant", "[core][virtio][fuzz]") {
    Gen g(0x76697274);
    VirtqueueFuzzStats total;
    for (int i = 0; i < 20000; ++i) {
        std::string input = g.one_in(8) ? g.bytes(g.below(600)) : g.queue();
        for (size_t m = g.below(3); m > 0; --m) g.mutate(input);
        VirtqueueFuzzStats s;
        const std::string why = hv::fuzz::virtqueue_fuzz_check(hv::fuzz::as_bytes(input), input.size(), s);
        INFO("input #" << i << ": " << hv::fuzz::hex(input));
        REQUIRE(why == "");
        total.chains += s.chains;
        total.segments += s.segments;
        total.indirect += s.indirect;
        total.broken += s.broken;
    }
    // The inputs reached every part: chains went round, indirect tables
    // were walked, malformed ones broke queues.
    CHECK(total.chains > 5000);
    CHECK(total.segments > total.chains);
    CHECK(total.indirect > 1000);
    CHECK(total.broken > 1000);
    CHECK(hv_virtqueue_fuzz_one(nullptr, 0) == 0);
}
