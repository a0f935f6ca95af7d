// core::qos::ShareArbiter: two domains saturating one simulated device get
// it in the ratio of their weights; a domain alone, beside a quiet one or
// beside one that sends requests now and then, is not held back; one back
// from a quiet spell is placed beside the others (no credit, no debt from
// another period), one back from a short pause keeps its place; requests
// that move no data still cost; a dead slot, or one stamped by a previous
// boot, stops counting; weights are clamped to 1..10000.
#include <catch2/catch.hpp>

#include <cstdint>
#include <deque>

#include "core/qos/share_arbiter.hpp"

using hv::core::qos::ShareArbiter;
using hv::core::qos::ShareTable;

namespace {

constexpr uint64_t kUs = 1000;
constexpr uint64_t kMs = 1000 * kUs;

// A device that ends one transfer per microsecond, in the order started.
// Domain a keeps up to 8 transfers of `bytes_a` in flight whenever its
// arbiter lets it; b does the same, or (`b_every` > 0) sends one request
// of `bytes_b` every `b_every` and goes quiet once it has ended. Counts
// what each had done, and the cost (bytes + kRequestCost) of a's.
struct Sim {
    ShareTable table{};
    ShareArbiter a, b;
    uint64_t done_a = 0, done_b = 0, ops_a = 0, ops_b = 0;
    Sim(uint32_t wa, uint32_t wb) : a(&table, 0, wa), b(&table, 1, wb) {}

    void run(uint64_t from_ns, uint64_t to_ns, uint64_t bytes_a, uint64_t bytes_b, bool a_busy = true, bool b_busy = true,
             uint64_t b_every = 0) {
        std::deque<int> fifo; // 0: a's, 1: b's
        unsigned in_a = 0, in_b = 0;
        uint64_t b_next = from_ns;
        for (uint64_t now = from_ns; now < to_ns; now += kUs) {
            while (a_busy && in_a < 8 && a.try_start(now, bytes_a)) { fifo.push_back(0); ++in_a; }
            const bool b_wants = b_busy && (b_every == 0 ? in_b < 8 : in_b == 0 && now >= b_next);
            if (b_wants) {
                while ((b_every == 0 ? in_b < 8 : in_b == 0) && b.try_start(now, bytes_b)) { fifo.push_back(1); ++in_b; }
                if (in_b > 0 && b_every != 0) b_next = now + b_every;
            }
            if (fifo.empty()) continue;
            if (fifo.front() == 0) { a.done(now); --in_a; done_a += bytes_a; ++ops_a; }
            else {
                b.done(now); --in_b; done_b += bytes_b; ++ops_b;
                if (b_every != 0) b.idle(now);
            }
            fifo.pop_front();
        }
        // What is still in flight ends without being counted.
        while (in_a-- > 0) a.done(to_ns);
        while (in_b-- > 0) b.done(to_ns);
    }
};

double ratio(uint64_t x, uint64_t y) { return static_cast<double>(x) / static_cast<double>(y); }

} // namespace

TEST_CASE("share arbiter: weights 200:100 get the device 2:1", "[qos]") {
    Sim s(200, 100);
    s.run(0, 1'000 * kMs, 4096, 4096); // one simulated second
    CHECK(ratio(s.done_a, s.done_b) == Approx(2.0).epsilon(0.01));
}

TEST_CASE("share arbiter: the ratio holds with different transfer sizes, each request costing its bytes and a base", "[qos]") {
    Sim s(100, 300);
    s.run(0, 1'000 * kMs, 65536, 4096); // a: 64 KiB writes, b: 4 KiB reads
    const uint64_t cost_a = s.done_a + s.ops_a * ShareArbiter::kRequestCost;
    const uint64_t cost_b = s.done_b + s.ops_b * ShareArbiter::kRequestCost;
    CHECK(ratio(cost_b, cost_a) == Approx(3.0).epsilon(0.02));
}

TEST_CASE("share arbiter: a domain alone, or beside a quiet one, is never held back", "[qos]") {
    ShareTable table{};
    ShareArbiter a(&table, 0, 1);
    for (uint64_t i = 0; i < 100000; ++i) REQUIRE(a.try_start(i * kUs, 1 << 20));
    ShareArbiter b(&table, 1, 10000); // registered, never asks
    for (uint64_t i = 100000; i < 200000; ++i) REQUIRE(a.try_start(i * kUs, 1 << 20));
    b.admit(200000 * kUs); // asks once, then goes quiet
    b.idle(200000 * kUs);
    for (uint64_t i = 200001; i < 300000; ++i) REQUIRE(a.try_start(i * kUs, 1 << 20));
}

TEST_CASE("share arbiter: a neighbour that reads now and then holds the others only while its request is there", "[qos]") {
    Sim alone(100, 100), beside(100, 100);
    alone.run(0, 1'000 * kMs, 65536, 65536, true, false);
    // 64 KiB every 20 ms (a log writer), its own weight 1000.
    Sim light(100, 1000);
    light.run(0, 1'000 * kMs, 65536, 65536, true, true, 20 * kMs);
    CHECK(light.ops_b >= 45);
    CHECK(ratio(light.done_a, alone.done_a) > 0.99);
    // The same with requests that move no data (GET_ID, FLUSH): they cost
    // kRequestCost each, and hold nobody either.
    Sim flusher(100, 100);
    flusher.run(0, 1'000 * kMs, 65536, 0, true, true, 50 * kMs);
    CHECK(ratio(flusher.done_a, alone.done_a) > 0.99);
    // Flooded with them, the neighbour gets its share of the device's
    // time, not all of it: no-data requests are not free.
    Sim flood(100, 100);
    flood.run(0, 1'000 * kMs, 4096, 0);
    CHECK(ratio(flood.ops_a, flood.ops_b) == Approx(0.5).epsilon(0.02)); // a's cost 8 KiB, b's 4 KiB
    (void)beside;
}

TEST_CASE("share arbiter: back from a quiet spell, placed beside the others: no credit, no debt", "[qos]") {
    Sim s(100, 100);
    s.run(0, 500 * kMs, 4096, 4096, true, false); // b never asks for half a second
    const uint64_t a0 = s.done_a;
    s.run(500 * kMs, 1'000 * kMs, 4096, 4096, true, true);
    // From b's return on they share equally: b does not get a's half second.
    CHECK(ratio(s.done_a - a0, s.done_b) == Approx(1.0).epsilon(0.01));

    // a ran alone a long time (far ahead), went quiet; b joined meanwhile
    // at virtual time 0. Back, a is placed beside b, not held until b has
    // done a's whole past.
    Sim t(100, 100);
    t.run(0, 500 * kMs, 1 << 20, 0, true, false);
    t.a.idle(500 * kMs);
    t.run(520 * kMs, 600 * kMs, 4096, 4096, false, true); // a quiet past its grace: b keeps its 0
    const uint64_t a1 = t.done_a, b1 = t.done_b;
    t.run(600 * kMs, 1'000 * kMs, 4096, 4096, true, true);
    CHECK(ratio(t.done_a - a1, t.done_b - b1) == Approx(1.0).epsilon(0.02));
}

TEST_CASE("share arbiter: a pause shorter than the grace keeps the domain's place", "[qos]") {
    ShareTable table{};
    ShareArbiter a(&table, 0, 100), b(&table, 1, 100);
    // b backlogged and well ahead of a.
    REQUIRE(b.try_start(0, 4u << 20));
    REQUIRE(a.try_start(kUs, 4096));
    a.done(2 * kUs);
    a.idle(2 * kUs);
    // a back 1 ms later: still behind, b is held until a catches up.
    REQUIRE(a.admit(1 * kMs));
    CHECK_FALSE(b.admit(1 * kMs));
    // a back after the grace: placed beside b, which may go on.
    a.idle(2 * kMs);
    REQUIRE(a.admit(2 * kMs + ShareArbiter::kDefaultGraceNs + kUs));
    CHECK(b.admit(2 * kMs + ShareArbiter::kDefaultGraceNs + 2 * kUs));
}

TEST_CASE("share arbiter: a dead domain's slot, or one a previous boot stamped, stops counting", "[qos]") {
    ShareTable table{};
    ShareArbiter a(&table, 0, 100), dead(&table, 1, 100);
    REQUIRE(dead.try_start(0, 4096)); // then it dies with that in flight
    uint64_t now = kUs;
    while (a.try_start(now, 4096)) now += kUs; // up to a window ahead
    CHECK_FALSE(a.try_start(now, 4096));
    CHECK(a.try_start(now + ShareArbiter::kDeadNs + kUs, 4096));
    dead.release();
    CHECK(a.try_start(now + ShareArbiter::kDeadNs + 2 * kUs, 1ull << 30));

    // A table left by a previous boot: slots busy, at virtual time 0,
    // stamped days ahead of this boot's clock.
    ShareTable old{};
    for (unsigned i = 1; i < 4; ++i) old.slots[i] = {0, 3ull * 86400 * 1'000'000'000, 0, 100, 2};
    ShareArbiter fresh(&old, 0, 100);
    for (uint64_t i = 1; i < 10000; ++i) REQUIRE(fresh.try_start(i * kMs, 1 << 20));

    // But a stamp a moment after the reader's clock is a neighbour that
    // wrote since: it counts.
    ShareTable t{};
    ShareArbiter c(&t, 0, 100), d(&t, 1, 100);
    REQUIRE(d.try_start(10 * kMs, 0));
    REQUIRE(c.admit(10 * kMs - kUs)); // placed beside d
    c.start(10 * kMs, 4u << 20);
    CHECK_FALSE(c.admit(10 * kMs - kUs));
}

TEST_CASE("share arbiter: weights are clamped, no table means no limit", "[qos]") {
    ShareArbiter none;
    CHECK(none.try_start(0, UINT64_MAX));
    ShareTable table{};
    ShareArbiter zero(&table, 0, 0), huge(&table, 1, 1'000'000);
    CHECK(table.slots[0].weight == ShareArbiter::kMinWeight);
    CHECK(table.slots[1].weight == ShareArbiter::kMaxWeight);
    ShareArbiter out_of_range(&table, ShareTable::kSlots, 100);
    CHECK(out_of_range.try_start(0, UINT64_MAX));
}
