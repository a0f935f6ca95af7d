// TokenBucket: a rate limit with a burst, for a vif's transmit bytes and
// a disk's bytes or operations (issue 9, xl.cfg's rate=). `amount` tokens
// arrive every `interval_ns`, spread evenly, up to `burst` held. An item
// goes while the bucket holds any token, and takes what it costs even if
// that leaves a debt: a 64 KiB segmentation-offload frame is not held
// forever behind a bucket smaller than itself, and the debt is repaid
// before the next item goes, so the long-run rate is exact. Xen's netback
// does the same with its credit (one request may overdraw it).
// Freestanding (no 128-bit division: x86-64's divq); time comes from the
// caller.
#pragma once

#include <stdint.h>

namespace hv::core::qos {

// a * b / c rounded down (c > 0), or UINT64_MAX when that does not fit.
uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c);

class TokenBucket {
public:
    TokenBucket() = default; // unlimited
    // amount == 0 or interval_ns == 0: unlimited. burst below amount is amount.
    TokenBucket(uint64_t amount, uint64_t interval_ns, uint64_t burst, uint64_t now_ns)
        : amount_(amount), interval_(interval_ns), burst_(clamp(burst < amount ? amount : burst)),
          tokens_(static_cast<int64_t>(burst_)), last_(now_ns) {}

    bool unlimited() const { return amount_ == 0 || interval_ == 0; }

    // Takes `cost` when a token is there (true); false: wait until ready_at().
    bool take(uint64_t now_ns, uint64_t cost) {
        if (unlimited()) return true;
        refill(now_ns);
        if (tokens_ <= 0) return false;
        tokens_ -= static_cast<int64_t>(clamp(cost));
        return true;
    }

    // When take() can succeed next (now_ns when it can already).
    uint64_t ready_at(uint64_t now_ns);

private:
    // Costs and bursts are held below 2^62, so the debt never overflows.
    static uint64_t clamp(uint64_t v) { return v < (1ull << 62) ? v : (1ull << 62); }

    void refill(uint64_t now_ns);

    uint64_t amount_ = 0;
    uint64_t interval_ = 0;
    uint64_t burst_ = 0;
    int64_t tokens_ = 0;
    uint64_t last_ = 0;
};

} // namespace hv::core::qos
