// ConsoleRing: keeps the last Capacity bytes, oldest first; total() counts
// everything ever written; copy_out honours a small cap.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/console_ring.hpp"

using hv::core::ConsoleRing;

namespace {

template <size_t N>
void put(ConsoleRing<N>& r, const std::string& s) {
    r.write(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

template <size_t N>
std::string held(const ConsoleRing<N>& r) {
    std::string out(N + 4, '#');
    const size_t n = r.copy_out(reinterpret_cast<uint8_t*>(out.data()), out.size());
    CHECK(n == r.size());
    CHECK(out.substr(n) == std::string(out.size() - n, '#')); // nothing written past n
    out.resize(n);
    return out;
}

} // namespace

TEST_CASE("console_ring: empty", "[core][console_ring]") {
    ConsoleRing<8> r;
    CHECK(r.size() == 0u);
    CHECK(r.total() == 0u);
    uint8_t b = 0x5a;
    CHECK(r.copy_out(&b, 1) == 0u);
    CHECK(int{b} == 0x5a);
    r.write(nullptr, 0);
    CHECK(r.size() == 0u);
    CHECK(r.total() == 0u);
}

TEST_CASE("console_ring: below, at and past capacity", "[core][console_ring]") {
    ConsoleRing<8> r;
    put(r, "abc");
    CHECK(r.size() == 3u);
    CHECK(r.total() == 3u);
    CHECK(held(r) == "abc");

    put(r, "defgh"); // exactly full
    CHECK(r.size() == 8u);
    CHECK(r.total() == 8u);
    CHECK(held(r) == "abcdefgh");

    put(r, "ij"); // wraps: the two oldest go
    CHECK(r.size() == 8u);
    CHECK(r.total() == 10u);
    CHECK(held(r) == "cdefghij");

    put(r, "klmnopq");
    CHECK(r.total() == 17u);
    CHECK(held(r) == "jklmnopq");
}

TEST_CASE("console_ring: one write longer than the ring keeps its tail", "[core][console_ring]") {
    ConsoleRing<8> r;
    put(r, "x");
    put(r, "0123456789ABCDEFGHIJ");
    CHECK(r.size() == 8u);
    CHECK(r.total() == 21u);
    CHECK(held(r) == "CDEFGHIJ");
}

TEST_CASE("console_ring: many writes across the wrap point match a reference", "[core][console_ring]") {
    ConsoleRing<16> r;
    std::string all;
    for (size_t i = 0; i < 200; ++i) {
        std::string chunk;
        for (size_t j = 0; j < i % 23; ++j) chunk.push_back(static_cast<char>('a' + (i + j) % 26));
        put(r, chunk);
        all += chunk;
        REQUIRE(r.total() == all.size());
        const std::string want = all.size() <= 16 ? all : all.substr(all.size() - 16);
        REQUIRE(held(r) == want);
    }
}

TEST_CASE("console_ring: copy_out with a small cap gives the oldest bytes", "[core][console_ring]") {
    ConsoleRing<8> r;
    put(r, "0123456789"); // holds "23456789"
    uint8_t buf[4] = {'#', '#', '#', '#'};
    CHECK(r.copy_out(buf, 3) == 3u);
    CHECK(std::string(reinterpret_cast<char*>(buf), 4) == "234#");
    CHECK(r.copy_out(buf, 0) == 0u);
    CHECK(int{buf[0]} == '2');
    // copy_out does not consume.
    CHECK(r.size() == 8u);
    CHECK(r.total() == 10u);
    CHECK(held(r) == "23456789");

    ConsoleRing<8> s;
    put(s, "ab");
    uint8_t one = 0;
    CHECK(s.copy_out(&one, 1) == 1u);
    CHECK(int{one} == 'a');
}

TEST_CASE("console_ring: capacity one", "[core][console_ring]") {
    ConsoleRing<1> r;
    put(r, "xyz");
    CHECK(r.size() == 1u);
    CHECK(r.total() == 3u);
    CHECK(held(r) == "z");
}
