// IoBus: range checks on attach, routing to the owning device with
// relative offsets, unclaimed ports, little-endian splitting of wide
// accesses.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "devices/io_bus.hpp"
#include "devices/io_device.hpp"

using Catch::Matchers::Contains;
using hv::dev::IoBus;
using hv::dev::IoDevice;

namespace {

// Records every access; reads return 0xa0 + offset.
struct RecordingDevice final : IoDevice {
    std::vector<uint16_t> reads;
    std::vector<std::pair<uint16_t, uint8_t>> writes;
    uint8_t read(uint16_t offset) override {
        reads.push_back(offset);
        return static_cast<uint8_t>(0xa0 + offset);
    }
    void write(uint16_t offset, uint8_t value) override { writes.emplace_back(offset, value); }
};

using Writes = std::vector<std::pair<uint16_t, uint8_t>>;
using Reads = std::vector<uint16_t>;

} // namespace

namespace Catch {
template <>
struct StringMaker<std::pair<uint16_t, uint8_t>> {
    static std::string convert(const std::pair<uint16_t, uint8_t>& w) {
        return "{" + std::to_string(w.first) + ", " + std::to_string(w.second) + "}";
    }
};
} // namespace Catch

TEST_CASE("iobus: attach refuses empty ranges and ranges past port 0xffff", "[devices][iobus]") {
    IoBus bus;
    RecordingDevice d;
    auto empty = bus.attach(0x3f8, 0, &d);
    REQUIRE_FALSE(empty.ok());
    CHECK(hv::errc_name(empty.error().code) == "invalid_argument");
    CHECK_THAT(empty.error().message, Contains("0x3f8+0"));
    CHECK_THAT(empty.error().message, Contains("empty or past port 0xffff"));

    auto past = bus.attach(0xfff0, 0x11, &d);
    REQUIRE_FALSE(past.ok());
    CHECK(hv::errc_name(past.error().code) == "invalid_argument");
    CHECK_THAT(past.error().message, Contains("0xfff0+17"));

    auto wide = bus.attach(0x0002, 0xffff, &d); // ports 2..0x10000
    REQUIRE_FALSE(wide.ok());
    CHECK(hv::errc_name(wide.error().code) == "invalid_argument");

    // Up to and including the last port is fine.
    REQUIRE(bus.attach(0xfff0, 0x10, &d).ok());
    uint8_t b = 0;
    CHECK(bus.read(0xffff, &b, 1));
    CHECK(int{b} == 0xa0 + 0x0f);
}

TEST_CASE("iobus: the whole port space can be one range", "[devices][iobus]") {
    IoBus bus;
    RecordingDevice d;
    REQUIRE(bus.attach(0, 0xffff, &d).ok());
    uint8_t b = 0;
    CHECK(bus.read(0x1234, &b, 1));
    CHECK(d.reads == Reads{0x1234});
    CHECK_FALSE(bus.read(0xffff, &b, 1));
    CHECK(int{b} == 0xff);
}

TEST_CASE("iobus: overlapping ranges are refused, adjacent ones accepted", "[devices][iobus]") {
    IoBus bus;
    RecordingDevice a, b;
    REQUIRE(bus.attach(0x3f8, 8, &a).ok());
    struct Case {
        uint16_t base, length;
    };
    for (Case c : {Case{0x3f8, 8}, Case{0x3f0, 9}, Case{0x3ff, 1}, Case{0x3fa, 2}, Case{0x300, 0x200}, Case{0x3fc, 0x10}}) {
        CAPTURE(c.base, c.length);
        auto r = bus.attach(c.base, c.length, &b);
        REQUIRE_FALSE(r.ok());
        CHECK(hv::errc_name(r.error().code) == "exists");
        CHECK_THAT(r.error().message, Contains("overlaps 0x3f8+8"));
    }
    auto r = bus.attach(0x3fa, 2, &b);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "I/O range 0x3fa+2 overlaps 0x3f8+8");

    REQUIRE(bus.attach(0x3f0, 8, &b).ok());  // ends at 0x3f7
    REQUIRE(bus.attach(0x400, 1, &b).ok());  // starts at 0x400
    uint8_t v = 0;
    CHECK(bus.read(0x3f8, &v, 1));
    CHECK(int{v} == 0xa0);
    CHECK(bus.read(0x3f7, &v, 1));
    CHECK(int{v} == 0xa7);
    CHECK(bus.read(0x400, &v, 1));
    CHECK(int{v} == 0xa0);
    CHECK(a.reads == Reads{0});
    CHECK(b.reads == (Reads{7, 0}));
}

TEST_CASE("iobus: routes to the owning device with the offset from its base", "[devices][iobus]") {
    IoBus bus;
    RecordingDevice com1, com2;
    REQUIRE(bus.attach(0x3f8, 8, &com1).ok());
    REQUIRE(bus.attach(0x2f8, 8, &com2).ok());
    const uint8_t x = 'x', y = 'y';
    CHECK(bus.write(0x3f8, &x, 1));
    CHECK(bus.write(0x2ff, &y, 1));
    CHECK(com1.writes == Writes{{0, 'x'}});
    CHECK(com2.writes == Writes{{7, 'y'}});
    uint8_t v = 0;
    CHECK(bus.read(0x3fd, &v, 1));
    CHECK(int{v} == 0xa5);
    CHECK(com1.reads == Reads{5});
    CHECK(com2.reads.empty());
}

TEST_CASE("iobus: unclaimed ports read all ones and report false", "[devices][iobus]") {
    IoBus bus;
    RecordingDevice d;
    REQUIRE(bus.attach(0x3f8, 8, &d).ok());
    uint8_t one = 0x12;
    CHECK_FALSE(bus.read(0x80, &one, 1));
    CHECK(int{one} == 0xff);
    uint8_t two[2] = {0, 0};
    CHECK(bus.read(0x3f7, two, 2)); // the second byte is COM1's first port
    CHECK(int{two[0]} == 0xff);
    CHECK(d.reads == Reads{0});
    d.reads.clear();
    uint8_t four[4] = {1, 2, 3, 4};
    CHECK_FALSE(bus.read(0x400, four, 4));
    CHECK(int{four[0]} == 0xff);
    CHECK(int{four[1]} == 0xff);
    CHECK(int{four[2]} == 0xff);
    CHECK(int{four[3]} == 0xff);
    const uint8_t w[4] = {1, 2, 3, 4};
    CHECK_FALSE(bus.write(0x80, w, 4));
    CHECK(d.reads.empty());
    CHECK(d.writes.empty());

    IoBus empty_bus;
    CHECK_FALSE(empty_bus.read(0, &one, 1));
    CHECK(int{one} == 0xff);
    CHECK_FALSE(empty_bus.write(0xffff, w, 1));
}

TEST_CASE("iobus: wide accesses are split into bytes, little endian", "[devices][iobus]") {
    IoBus bus;
    RecordingDevice d;
    REQUIRE(bus.attach(0xcf8, 8, &d).ok());

    const uint32_t value = 0x80001234;
    uint8_t le[4];
    for (int i = 0; i < 4; ++i) le[i] = static_cast<uint8_t>(value >> (8 * i));
    CHECK(bus.write(0xcf8, le, 4));
    CHECK(d.writes == (Writes{{0, 0x34}, {1, 0x12}, {2, 0x00}, {3, 0x80}}));

    d.writes.clear();
    const uint8_t w16[2] = {0xcd, 0xab}; // 0xabcd
    CHECK(bus.write(0xcfc, w16, 2));
    CHECK(d.writes == (Writes{{4, 0xcd}, {5, 0xab}}));

    uint8_t r32[4] = {};
    CHECK(bus.read(0xcfc, r32, 4));
    CHECK(d.reads == (Reads{4, 5, 6, 7}));
    uint32_t got = 0;
    for (int i = 3; i >= 0; --i) got = (got << 8) | r32[i];
    CHECK(got == 0xa7a6a5a4u);

    d.reads.clear();
    uint8_t r16[2] = {};
    CHECK(bus.read(0xcf9, r16, 2));
    CHECK(d.reads == (Reads{1, 2}));
    CHECK(int{r16[0]} == 0xa1);
    CHECK(int{r16[1]} == 0xa2);

    // A zero-size access touches nothing and so claims nothing.
    d.reads.clear();
    d.writes.clear();
    CHECK_FALSE(bus.read(0xcf8, r16, 0));
    CHECK_FALSE(bus.write(0xcf8, w16, 0));
    CHECK(d.reads.empty());
    CHECK(d.writes.empty());
}

// Regression (libhv/devices/io_bus.cpp, IoBus::read/write, fixed): the owner is
// looked up for the first port only and every byte goes to it with
// offset `port - base + i`, so a 2- or 4-byte access at a device's last
// ports hands the device offsets >= its length (IoDevice promises offsets
// relative to the base of the attached range), and the bytes for the
// neighbouring ports never reach their owner. A guest can do this with a
// single `outl`; a device that indexes a register array by offset would
// then go out of bounds. Expected: each byte routed to the owner of its
// own port (unclaimed bytes read 0xff, writes dropped).
TEST_CASE("iobus: a wide access across a range's end gives each byte to its port's owner", "[devices][iobus][regression]") {
    IoBus bus;
    RecordingDevice a, b, last;
    REQUIRE(bus.attach(0x10, 2, &a).ok());
    REQUIRE(bus.attach(0x12, 2, &b).ok());
    REQUIRE(bus.attach(0xffff, 1, &last).ok());

    const uint8_t w[4] = {1, 2, 3, 4};
    bus.write(0x10, w, 4);
    CHECK(a.writes == (Writes{{0, 1}, {1, 2}}));
    CHECK(b.writes == (Writes{{0, 3}, {1, 4}}));

    uint8_t r[4] = {};
    bus.read(0x13, r, 4); // 0x13 is b's, 0x14-0x16 nobody's
    CHECK(b.reads == Reads{1});
    CHECK(int{r[0]} == 0xa1);
    CHECK(int{r[1]} == 0xff);
    CHECK(int{r[2]} == 0xff);
    CHECK(int{r[3]} == 0xff);

    bus.read(0xffff, r, 2); // the last port, then past the end of the space
    CHECK(last.reads == Reads{0});
    CHECK(int{r[0]} == 0xa0);
    CHECK(int{r[1]} == 0xff);
}
