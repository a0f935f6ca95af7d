// core::qos::TokenBucket: the long-run rate is exact, a burst is held to
// its size, one item may overdraw (and the debt is repaid before the next),
// ready_at() says when the next item may go, and huge values saturate.
#include <catch2/catch.hpp>

#include <cstdint>

#include "core/qos/token_bucket.hpp"

using hv::core::qos::mul_div;
using hv::core::qos::TokenBucket;

namespace {
constexpr uint64_t kMs = 1000000;
} // namespace

TEST_CASE("token bucket: unlimited when amount or interval is 0", "[qos]") {
    TokenBucket none;
    CHECK(none.unlimited());
    CHECK(none.take(0, UINT64_MAX));
    TokenBucket zero(0, 50 * kMs, 0, 0);
    CHECK(zero.unlimited());
    CHECK(zero.ready_at(123) == 123);
}

TEST_CASE("token bucket: 1000 bytes per 10 ms holds 100 kB/s over a simulated second", "[qos]") {
    TokenBucket b(1000, 10 * kMs, 1000, 0);
    uint64_t now = 0, sent = 0;
    // 100-byte items as fast as the bucket lets them go, for one second.
    while (now <= 1000 * kMs) {
        if (b.take(now, 100)) {
            sent += 100;
        } else {
            now = b.ready_at(now);
        }
    }
    // The first burst (1000) plus what arrived in the second (100000),
    // give or take one item.
    CHECK(sent >= 100900);
    CHECK(sent <= 101100);
}

TEST_CASE("token bucket: one item may overdraw; the debt is repaid before the next", "[qos]") {
    TokenBucket b(1000, 10 * kMs, 1000, 0);
    CHECK(b.take(0, 65536)); // a GSO frame larger than the bucket goes
    CHECK_FALSE(b.take(0, 1));
    // 64536 bytes of debt plus one token at 1000 bytes per 10 ms: 645.37 ms.
    const uint64_t at = b.ready_at(0);
    CHECK(at > 645 * kMs);
    CHECK(at < 646 * kMs);
    CHECK_FALSE(b.take(at - kMs, 1));
    CHECK(b.take(at, 1));
}

TEST_CASE("token bucket: idle time fills it only to its burst", "[qos]") {
    TokenBucket b(1000, 10 * kMs, 3000, 0);
    CHECK(b.take(0, 3000));
    CHECK_FALSE(b.take(0, 1));
    // An hour idle: 3000 tokens, not 360 million.
    const uint64_t hour = 3600ull * 1000 * kMs;
    CHECK(b.take(hour, 3000));
    CHECK_FALSE(b.take(hour, 1));
    CHECK(b.ready_at(hour) > hour);
}

TEST_CASE("token bucket: no rounding loss when time comes in small steps", "[qos]") {
    // 1 byte per 3 ns, asked every nanosecond: exactly one token per 3 ns.
    TokenBucket b(1, 3, 1, 0);
    uint64_t sent = 0;
    for (uint64_t now = 0; now < 3000; ++now)
        if (b.take(now, 1)) ++sent;
    CHECK(sent >= 999);
    CHECK(sent <= 1001);
}

TEST_CASE("mul_div: exact 128-bit intermediate, saturation when the quotient does not fit", "[qos]") {
    CHECK(mul_div(1ull << 40, 1ull << 40, 1ull << 30) == 1ull << 50);
    CHECK(mul_div(UINT64_MAX, UINT64_MAX, UINT64_MAX) == UINT64_MAX - 0); // fits exactly: UINT64_MAX
    CHECK(mul_div(UINT64_MAX, 2, 1) == UINT64_MAX);                       // does not fit: saturates
    CHECK(mul_div(7, 3, 2) == 10);
    TokenBucket huge(1, UINT64_MAX / 2, 1, 0);
    CHECK(huge.take(0, UINT64_MAX)); // the cost is clamped; nothing overflows
    CHECK(huge.ready_at(0) == UINT64_MAX);
}
