#include "core/qos/token_bucket.hpp"

namespace hv::core::qos {

uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c) {
    __extension__ const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
    const auto hi = static_cast<uint64_t>(p >> 64);
    const auto lo = static_cast<uint64_t>(p);
    if (hi >= c) return UINT64_MAX;
    uint64_t q = 0, r = 0;
    asm("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(c));
    return q;
}

uint64_t TokenBucket::ready_at(uint64_t now_ns) {
    if (unlimited()) return now_ns;
    refill(now_ns);
    if (tokens_ > 0) return now_ns;
    // Whole nanoseconds until the debt is repaid and one token is in.
    const uint64_t need = static_cast<uint64_t>(1 - tokens_);
    const uint64_t ns = mul_div(need, interval_, amount_);
    if (ns == UINT64_MAX || ns >= UINT64_MAX - now_ns - 1) return UINT64_MAX;
    return now_ns + ns + 1;
}

// Tokens for the elapsed time; last_ moves by what was paid for, so no
// nanosecond is lost to rounding.
void TokenBucket::refill(uint64_t now_ns) {
    if (now_ns <= last_) return;
    const uint64_t add = mul_div(now_ns - last_, amount_, interval_);
    if (add == 0) return;
    // tokens_ <= burst_; a debt makes the difference larger, still < 2^63.
    const uint64_t room = burst_ - static_cast<uint64_t>(tokens_);
    if (add >= room) {
        tokens_ = static_cast<int64_t>(burst_);
        last_ = now_ns;
        return;
    }
    tokens_ += static_cast<int64_t>(add);
    last_ += mul_div(add, interval_, amount_);
}

} // namespace hv::core::qos
