// core::qos::ShareArbiter: two domains saturating one simulated device get
// it in the ratio of their weights; a domain alone is never held back; one
// back from idle gets no saved-up credit; a dead or idle slot stops
// counting; weights are clamped to 1..10000.
#include <catch2/catch.hpp>

#include <cstdint>
#include <deque>

#include "core/qos/share_arbiter.hpp"

using hv::core::qos::ShareArbiter;
using hv::core::qos::ShareTable;

namespace {

constexpr uint64_t kUs = 1000;

// A device that ends one transfer per microsecond, in the order started;
// each domain keeps up to `depth` transfers of `bytes` in flight whenever
// its arbiter lets it. Returns the bytes each domain had done.
struct Sim {
    ShareTable table{};
    ShareArbiter a, b;
    uint64_t done_a = 0, done_b = 0;
    Sim(uint32_t wa, uint32_t wb) : a(&table, 0, wa), b(&table, 1, wb) {}

    void run(uint64_t from_ns, uint64_t to_ns, uint64_t bytes_a, uint64_t bytes_b, bool a_busy = true, bool b_busy = true) {
        std::deque<int> fifo; // 0: a's, 1: b's
        unsigned in_a = 0, in_b = 0;
        for (uint64_t now = from_ns; now < to_ns; now += kUs) {
            while (a_busy && in_a < 8 && a.try_start(now, bytes_a)) { fifo.push_back(0); ++in_a; }
            while (b_busy && in_b < 8 && b.try_start(now, bytes_b)) { fifo.push_back(1); ++in_b; }
            if (fifo.empty()) continue;
            if (fifo.front() == 0) { a.done(); --in_a; done_a += bytes_a; }
            else { b.done(); --in_b; done_b += bytes_b; }
            fifo.pop_front();
        }
        // What is still in flight ends without being counted.
        while (in_a-- > 0) a.done();
        while (in_b-- > 0) b.done();
    }
};

} // namespace

TEST_CASE("share arbiter: weights 200:100 get the device 2:1", "[qos]") {
    Sim s(200, 100);
    s.run(0, 1'000'000 * kUs, 4096, 4096); // one simulated second
    const double ratio = static_cast<double>(s.done_a) / static_cast<double>(s.done_b);
    CHECK(ratio == Approx(2.0).epsilon(0.01));
}

TEST_CASE("share arbiter: the ratio holds with different transfer sizes", "[qos]") {
    Sim s(100, 300);
    s.run(0, 1'000'000 * kUs, 65536, 4096); // a: 64 KiB writes, b: 4 KiB reads
    const double ratio = static_cast<double>(s.done_b) / static_cast<double>(s.done_a);
    CHECK(ratio == Approx(3.0).epsilon(0.02));
}

TEST_CASE("share arbiter: a domain alone, or beside an idle one, is never held back", "[qos]") {
    ShareTable table{};
    ShareArbiter a(&table, 0, 1);
    for (uint64_t i = 0; i < 100000; ++i) REQUIRE(a.try_start(i * kUs, 1 << 20));
    ShareArbiter b(&table, 1, 10000); // registered, never asks: idle
    for (uint64_t i = 100000; i < 200000; ++i) REQUIRE(a.try_start(i * kUs, 1 << 20));
}

TEST_CASE("share arbiter: back from idle, no credit saved up", "[qos]") {
    Sim s(100, 100);
    s.run(0, 500'000 * kUs, 4096, 4096, true, false); // b idle for half a second
    const uint64_t a0 = s.done_a;
    s.b.idle();
    s.run(500'000 * kUs, 1'000'000 * kUs, 4096, 4096, true, true);
    // From b's return on they share equally: b does not get a's half second.
    CHECK(static_cast<double>(s.done_a - a0) / static_cast<double>(s.done_b) == Approx(1.0).epsilon(0.01));
}

TEST_CASE("share arbiter: a dead domain's slot stops counting", "[qos]") {
    ShareTable table{};
    ShareArbiter a(&table, 0, 100), dead(&table, 1, 100);
    REQUIRE(dead.try_start(0, 4096)); // then it dies with that in flight
    uint64_t now = kUs;
    while (a.try_start(now, 4096)) now += kUs; // up to a window ahead
    CHECK_FALSE(a.try_start(now, 4096));
    CHECK(a.try_start(now + ShareArbiter::kDeadNs + kUs, 4096));
    dead.release();
    CHECK(a.try_start(now + ShareArbiter::kDeadNs + 2 * kUs, 1ull << 30));
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
