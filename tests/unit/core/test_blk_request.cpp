// core::virtio::decode_blk_request: a virtio-blk request read from a chain
// the split queue already checked. The chains here are written by hand the
// way drivers lay them out: Linux's header / data / status descriptors,
// and the shapes other drivers use (the header sharing a descriptor with
// the data, the status sharing one with the data), and the ways a driver
// can get a request wrong.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/virtio/blk_request.hpp"

using namespace hv::core::virtio;

namespace {

constexpr uint32_t kIn = 0, kOut = 1, kFlush = 4, kGetId = 8, kDiscard = 11, kWriteZeroes = 13;

// A chain over 64 KiB of guest RAM, and what the decoder made of it.
struct Req {
    Req() { REQUIRE(reinterpret_cast<uintptr_t>(mem.data()) % 16 == 0); }

    hv::core::GuestRam ram() { return hv::core::GuestRam{mem.data(), mem.size()}; }
    // struct virtio_blk_outhdr: type, reserved (ioprio), sector.
    void header(uint64_t gpa, uint32_t type, uint64_t sector) {
        const uint32_t ioprio = 0;
        std::memcpy(&mem[gpa], &type, 4);
        std::memcpy(&mem[gpa + 4], &ioprio, 4);
        std::memcpy(&mem[gpa + 8], &sector, 8);
    }
    // struct virtio_blk_discard_write_zeroes: sector, num_sectors, flags.
    void range(uint64_t gpa, uint64_t sector, uint32_t sectors, uint32_t flags) {
        std::memcpy(&mem[gpa], &sector, 8);
        std::memcpy(&mem[gpa + 8], &sectors, 4);
        std::memcpy(&mem[gpa + 12], &flags, 4);
    }
    void ro(uint64_t gpa, uint32_t len) { segs.push_back(Segment{gpa, len, false}); }
    void wr(uint64_t gpa, uint32_t len) { segs.push_back(Segment{gpa, len, true}); }
    // The totals SplitQueue::pop would have given.
    Chain chain() const {
        Chain c;
        c.segments = static_cast<uint32_t>(segs.size());
        for (const Segment& s : segs) (s.writable ? c.writable : c.readable) += s.len;
        return c;
    }
    bool decode() {
        data.assign(segs.size() + 1, Segment{0xdead, 0xdead, false}); // + 1: never null
        ranges.assign(limits.max_ranges + 1, BlkRange{});
        const bool ok = decode_blk_request(ram(), segs.data(), chain(), limits, data.data(), ranges.data(), req);
        // Whatever it says, a refusal always carries its reason, and only then.
        if (ok) CHECK((req.refuse == kBlkOk) == (req.why == nullptr));
        return ok;
    }
    bool data_is(std::vector<Segment> want) const {
        if (req.data_segments != want.size()) return false;
        for (uint32_t i = 0; i < req.data_segments; ++i)
            if (data[i].gpa != want[i].gpa || data[i].len != want[i].len || data[i].writable != want[i].writable)
                return false;
        return true;
    }

    std::vector<uint8_t> mem = std::vector<uint8_t>(64 * 1024);
    std::vector<Segment> segs;
    BlkLimits limits{100, false, 4}; // 100 sectors
    std::vector<Segment> data;
    std::vector<BlkRange> ranges;
    BlkRequest req;
};

} // namespace

TEST_CASE("blk request: IN, Linux's three descriptors", "[blk]") {
    Req r;
    r.header(0x100, kIn, 8);
    r.ro(0x100, 16);
    r.wr(0x1000, 1024);
    r.wr(0x2000, 1);
    REQUIRE(r.decode());
    CHECK(r.req.refuse == kBlkOk);
    CHECK(r.req.type == BlkType::in);
    CHECK(r.req.sector == 8);
    CHECK(r.req.data_bytes == 1024);
    CHECK(r.data_is({{0x1000, 1024, true}}));
    CHECK(r.req.status_gpa == 0x2000);
    CHECK(r.req.ranges == 0);
}

TEST_CASE("blk request: IN data excludes the status byte when they share a buffer", "[blk]") {
    Req r;
    r.header(0x100, kIn, 0);
    r.ro(0x100, 16);
    r.wr(0x1000, 512);
    r.wr(0x3000, 512 + 1); // the last data sector and the status
    REQUIRE(r.decode());
    CHECK(r.req.refuse == kBlkOk);
    CHECK(r.req.data_bytes == 1024);
    CHECK(r.data_is({{0x1000, 512, true}, {0x3000, 512, true}}));
    CHECK(r.req.status_gpa == 0x3000 + 512);
}

TEST_CASE("blk request: IN of no data is a valid request", "[blk]") {
    Req r;
    r.header(0x100, kIn, 100); // at the very end of the disk, 0 sectors
    r.ro(0x100, 16);
    r.wr(0x2000, 1);
    REQUIRE(r.decode());
    CHECK(r.req.refuse == kBlkOk);
    CHECK(r.req.data_segments == 0);
    CHECK(r.req.data_bytes == 0);
}

TEST_CASE("blk request: OUT data is the readable bytes after the header", "[blk]") {
    SECTION("header and data in one descriptor") {
        Req r;
        r.header(0x100, kOut, 3);
        r.ro(0x100, 16 + 512);
        r.wr(0x2000, 1);
        REQUIRE(r.decode());
        CHECK(r.req.refuse == kBlkOk);
        CHECK(r.req.type == BlkType::out);
        CHECK(r.req.sector == 3);
        CHECK(r.req.data_bytes == 512);
        CHECK(r.data_is({{0x110, 512, false}}));
        CHECK(r.req.status_gpa == 0x2000);
    }
    SECTION("separate descriptors") {
        Req r;
        r.header(0x100, kOut, 0);
        r.ro(0x100, 16);
        r.ro(0x1000, 512);
        r.ro(0x4000, 1024);
        r.wr(0x2000, 1);
        REQUIRE(r.decode());
        CHECK(r.req.refuse == kBlkOk);
        CHECK(r.req.data_bytes == 1536);
        CHECK(r.data_is({{0x1000, 512, false}, {0x4000, 1024, false}}));
    }
    SECTION("the header split over two descriptors, the second also data") {
        Req r;
        r.header(0x100, kOut, 0);
        std::memcpy(&r.mem[0x200], &r.mem[0x108], 8); // the header's second half moves
        r.mem[0x200] = 7;                             // sector 7
        r.ro(0x100, 8);
        r.ro(0x200, 8 + 512);
        r.wr(0x2000, 1);
        REQUIRE(r.decode());
        CHECK(r.req.refuse == kBlkOk);
        CHECK(r.req.sector == 7);
        CHECK(r.data_is({{0x208, 512, false}}));
    }
    SECTION("empty descriptors yield no empty data segments") {
        Req r;
        r.header(0x100, kOut, 0);
        r.ro(0x100, 16);
        r.ro(0x1000, 0);
        r.ro(0x1000, 512);
        r.wr(0x2000, 0);
        r.wr(0x2000, 1);
        REQUIRE(r.decode());
        CHECK(r.req.refuse == kBlkOk);
        CHECK(r.data_is({{0x1000, 512, false}}));
    }
}

TEST_CASE("blk request: sectors past the capacity are refused", "[blk]") {
    struct Case {
        uint32_t type;
        uint64_t sector;
        uint32_t bytes;
        bool ok;
    };
    const Case cases[] = {
        {kIn, 98, 1024, true},   // the last two sectors
        {kIn, 99, 1024, false},  // one past
        {kIn, 100, 512, false},
        {kIn, 101, 0, false},    // even for no data: the sector itself is past the end
        {kIn, ~0ull, 512, false}, // sector + count overflows
        {kOut, 99, 512, true},
        {kOut, 99, 1024, false},
        {kOut, ~0ull - 1, 1024, false},
    };
    for (const Case& c : cases) {
        INFO("type " << c.type << " sector " << c.sector << " bytes " << c.bytes);
        Req r;
        r.header(0x100, c.type, c.sector);
        r.ro(0x100, 16);
        if (c.bytes != 0) {
            if (c.type == kIn) r.wr(0x1000, c.bytes);
            else r.ro(0x1000, c.bytes);
        }
        r.wr(0x2000, 1);
        REQUIRE(r.decode());
        CHECK(r.req.refuse == (c.ok ? kBlkOk : kBlkIoErr));
        CHECK(r.req.status_gpa == 0x2000); // a refusal is still answered
    }
}

TEST_CASE("blk request: OUT to a read-only disk is refused, IN is not", "[blk]") {
    Req r;
    r.limits.read_only = true;
    r.header(0x100, kOut, 0);
    r.ro(0x100, 16 + 512);
    r.wr(0x2000, 1);
    REQUIRE(r.decode());
    CHECK(r.req.refuse == kBlkIoErr);

    Req in;
    in.limits.read_only = true;
    in.header(0x100, kIn, 0);
    in.ro(0x100, 16);
    in.wr(0x1000, 512);
    in.wr(0x2000, 1);
    REQUIRE(in.decode());
    CHECK(in.req.refuse == kBlkOk);
}

TEST_CASE("blk request: data not a whole number of sectors is refused", "[blk]") {
    Req in;
    in.header(0x100, kIn, 0);
    in.ro(0x100, 16);
    in.wr(0x1000, 1000);
    in.wr(0x2000, 1);
    REQUIRE(in.decode());
    CHECK(in.req.refuse == kBlkIoErr);

    Req out;
    out.header(0x100, kOut, 0);
    out.ro(0x100, 16 + 513);
    out.wr(0x2000, 1);
    REQUIRE(out.decode());
    CHECK(out.req.refuse == kBlkIoErr);
}

TEST_CASE("blk request: data in the wrong direction is refused", "[blk]") {
    // IN with readable bytes after the header.
    Req in;
    in.header(0x100, kIn, 0);
    in.ro(0x100, 16 + 512);
    in.wr(0x1000, 512);
    in.wr(0x2000, 1);
    REQUIRE(in.decode());
    CHECK(in.req.refuse == kBlkIoErr);
    // OUT with writable bytes before the status.
    Req out;
    out.header(0x100, kOut, 0);
    out.ro(0x100, 16 + 512);
    out.wr(0x2000, 512 + 1);
    REQUIRE(out.decode());
    CHECK(out.req.refuse == kBlkIoErr);
}

TEST_CASE("blk request: FLUSH takes no data, GET_ID a buffer", "[blk]") {
    Req flush;
    flush.header(0x100, kFlush, 0);
    flush.ro(0x100, 16);
    flush.wr(0x2000, 1);
    REQUIRE(flush.decode());
    CHECK(flush.req.type == BlkType::flush);
    CHECK(flush.req.refuse == kBlkOk);
    CHECK(flush.req.data_segments == 0);

    Req with_data;
    with_data.header(0x100, kFlush, 0);
    with_data.ro(0x100, 16 + 512);
    with_data.wr(0x2000, 1);
    REQUIRE(with_data.decode());
    CHECK(with_data.req.refuse == kBlkIoErr);

    Req id;
    id.header(0x100, kGetId, 0);
    id.ro(0x100, 16);
    id.wr(0x1000, kBlkIdBytes);
    id.wr(0x2000, 1);
    REQUIRE(id.decode());
    CHECK(id.req.type == BlkType::get_id);
    CHECK(id.req.refuse == kBlkOk);
    CHECK(id.data_is({{0x1000, kBlkIdBytes, true}}));
    CHECK(id.req.status_gpa == 0x2000);
}

TEST_CASE("blk request: DISCARD and WRITE_ZEROES ranges are decoded", "[blk]") {
    SECTION("discard, two ranges in their own descriptor") {
        Req r;
        r.header(0x100, kDiscard, 0);
        r.range(0x1000, 10, 5, 0);
        r.range(0x1010, 90, 10, 0); // ends exactly at the capacity
        r.ro(0x100, 16);
        r.ro(0x1000, 32);
        r.wr(0x2000, 1);
        REQUIRE(r.decode());
        CHECK(r.req.type == BlkType::discard);
        CHECK(r.req.refuse == kBlkOk);
        REQUIRE(r.req.ranges == 2);
        CHECK(r.ranges[0].sector == 10);
        CHECK(r.ranges[0].sectors == 5);
        CHECK_FALSE(r.ranges[0].unmap);
        CHECK(r.ranges[1].sector == 90);
        CHECK(r.ranges[1].sectors == 10);
        CHECK(r.req.data_bytes == 32);
    }
    SECTION("write zeroes, the range sharing the header's descriptor, unmap") {
        Req r;
        r.header(0x100, kWriteZeroes, 0);
        r.range(0x110, 4, 8, 1);
        r.ro(0x100, 32);
        r.wr(0x2000, 1);
        REQUIRE(r.decode());
        CHECK(r.req.type == BlkType::write_zeroes);
        CHECK(r.req.refuse == kBlkOk);
        REQUIRE(r.req.ranges == 1);
        CHECK(r.ranges[0].sector == 4);
        CHECK(r.ranges[0].sectors == 8);
        CHECK(r.ranges[0].unmap);
    }
    SECTION("a range split over two descriptors") {
        Req r;
        r.header(0x100, kWriteZeroes, 0);
        r.range(0x1000 - 8, 20, 3, 0);
        r.ro(0x100, 16);
        r.ro(0x1000 - 8, 8);
        r.ro(0x1000, 8);
        r.wr(0x2000, 1);
        REQUIRE(r.decode());
        CHECK(r.req.refuse == kBlkOk);
        REQUIRE(r.req.ranges == 1);
        CHECK(r.ranges[0].sector == 20);
        CHECK(r.ranges[0].sectors == 3);
        CHECK_FALSE(r.ranges[0].unmap);
    }
}

TEST_CASE("blk request: bad DISCARD and WRITE_ZEROES requests are refused", "[blk]") {
    struct Case {
        const char* what;
        uint32_t type;
        uint32_t nranges;
        uint32_t flags;
        uint64_t sector;
        uint8_t refuse;
    };
    const Case cases[] = {
        {"more ranges than max_ranges", kDiscard, 5, 0, 0, kBlkIoErr},
        {"no range at all", kDiscard, 0, 0, 0, kBlkIoErr},
        {"an unknown flag", kWriteZeroes, 1, 2, 0, kBlkUnsupported},
        {"unmap and an unknown flag", kWriteZeroes, 1, 3, 0, kBlkUnsupported},
        {"a high unknown flag", kDiscard, 1, 0x80000000u, 0, kBlkUnsupported},
        {"discard with unmap", kDiscard, 1, 1, 0, kBlkUnsupported},
        {"a range past the end", kWriteZeroes, 1, 0, 99, kBlkIoErr},
        {"a range starting past the end", kDiscard, 1, 0, 101, kBlkIoErr},
        {"the last range past the end", kDiscard, 3, 0, 100, kBlkIoErr},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        Req r;
        r.header(0x100, c.type, 0);
        r.ro(0x100, 16);
        for (uint32_t i = 0; i < c.nranges; ++i) {
            // Every range 2 sectors; only the last carries the case's sector.
            const bool last = i + 1 == c.nranges;
            r.range(0x1000 + 16 * i, last ? c.sector : 10 * i, 2, c.flags);
            r.ro(0x1000 + 16 * i, 16);
        }
        r.wr(0x2000, 1);
        REQUIRE(r.decode());
        CHECK(r.req.refuse == c.refuse);
        CHECK(r.req.ranges <= r.limits.max_ranges);
    }
    SECTION("a partial range") {
        Req r;
        r.header(0x100, kDiscard, 0);
        r.ro(0x100, 16 + 24);
        r.wr(0x2000, 1);
        REQUIRE(r.decode());
        CHECK(r.req.refuse == kBlkIoErr);
    }
    SECTION("on a read-only disk") {
        Req r;
        r.limits.read_only = true;
        r.header(0x100, kWriteZeroes, 0);
        r.range(0x110, 0, 1, 0);
        r.ro(0x100, 32);
        r.wr(0x2000, 1);
        REQUIRE(r.decode());
        CHECK(r.req.refuse == kBlkIoErr);
    }
    SECTION("writable bytes before the status") {
        Req r;
        r.header(0x100, kDiscard, 0);
        r.range(0x110, 0, 1, 0);
        r.ro(0x100, 32);
        r.wr(0x2000, 2);
        REQUIRE(r.decode());
        CHECK(r.req.refuse == kBlkIoErr);
    }
}

TEST_CASE("blk request: a DISCARD or WRITE_ZEROES range over the advertised maximum is refused", "[blk]") {
    for (uint32_t type : {kDiscard, kWriteZeroes}) {
        INFO("type " << type);
        for (uint32_t sectors : {8u, 9u}) {
            Req r;
            r.limits.max_range_sectors = 8;
            r.header(0x100, type, 0);
            r.ro(0x100, 16);
            r.range(0x200, 10, sectors, 0);
            r.ro(0x200, 16);
            r.wr(0x300, 1);
            REQUIRE(r.decode());
            CHECK(int{r.req.refuse} == (sectors <= 8 ? kBlkOk : kBlkIoErr));
        }
    }
}

TEST_CASE("blk request: unknown types are answered UNSUPP", "[blk]") {
    for (uint32_t type : {2u, 3u, 7u, 9u, 12u, 14u, 0xffffffffu}) {
        INFO("type " << type);
        Req r;
        r.header(0x100, type, 0);
        r.ro(0x100, 16);
        r.wr(0x2000, 1);
        REQUIRE(r.decode());
        CHECK(r.req.refuse == kBlkUnsupported);
        CHECK(r.req.status_gpa == 0x2000);
    }
}

TEST_CASE("blk request: a chain that cannot carry an answer is not decoded", "[blk]") {
    SECTION("no segments") {
        Req r;
        CHECK_FALSE(r.decode());
    }
    SECTION("the last segment is not writable") {
        Req r;
        r.header(0x100, kOut, 0);
        r.ro(0x100, 16 + 512);
        CHECK_FALSE(r.decode());
    }
    SECTION("the last segment is empty") {
        Req r;
        r.header(0x100, kIn, 0);
        r.ro(0x100, 16);
        r.wr(0x1000, 512);
        r.wr(0x2000, 0);
        CHECK_FALSE(r.decode());
    }
    SECTION("a header shorter than 16 bytes") {
        Req r;
        r.header(0x100, kFlush, 0);
        r.ro(0x100, 15);
        r.wr(0x2000, 1);
        CHECK_FALSE(r.decode());
    }
    SECTION("no readable bytes at all") {
        Req r;
        r.wr(0x1000, 512);
        r.wr(0x2000, 1);
        CHECK_FALSE(r.decode());
    }
}
