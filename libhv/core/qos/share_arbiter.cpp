#include "core/qos/share_arbiter.hpp"

#include "core/qos/token_bucket.hpp" // mul_div

namespace hv::core::qos {

namespace {

uint64_t load(const uint64_t& v) { return __atomic_load_n(&v, __ATOMIC_ACQUIRE); }
uint32_t load(const uint32_t& v) { return __atomic_load_n(&v, __ATOMIC_ACQUIRE); }
void store(uint64_t& v, uint64_t x) { __atomic_store_n(&v, x, __ATOMIC_RELEASE); }
void store(uint32_t& v, uint32_t x) { __atomic_store_n(&v, x, __ATOMIC_RELEASE); }

// quiet_ns of a slot that never asked: long ago, so its first request
// places it among the others.
constexpr uint64_t kNeverAsked = 1;

// Whether stamp `t` (another thread's clock reading) is at most `span`
// before `now`. A stamp a little after `now` is one written since `now`
// was read: recent. One far after it (more than kDeadNs) is a previous
// boot's clock: not recent, whatever the span.
bool within(uint64_t t, uint64_t now, uint64_t span) {
    if (t >= now) return t - now <= ShareArbiter::kDeadNs;
    return now - t <= span;
}

// What another process's slot says now. A slot not heard from for
// kDeadNs, or stamped by a previous boot, says nothing.
struct Seen {
    bool backlogged = false, recent = false; // recent: backlogged, or quiet within the grace
    uint64_t vtime = 0;
};

Seen look(const ShareSlot& s, uint64_t now, uint64_t grace) {
    Seen r;
    if (load(s.weight) == 0 || !within(load(s.last_ns), now, ShareArbiter::kDeadNs)) return r;
    const uint64_t quiet = load(s.quiet_ns);
    r.backlogged = load(s.in_flight) > 0 || quiet == 0;
    r.recent = r.backlogged || within(quiet, now, grace);
    r.vtime = load(s.vtime);
    return r;
}

} // namespace

ShareArbiter::ShareArbiter(ShareTable* table, unsigned slot, uint32_t weight, uint64_t window, uint64_t grace_ns)
    : table_(slot < ShareTable::kSlots ? table : nullptr), slot_(slot),
      weight_(weight < kMinWeight ? kMinWeight : weight > kMaxWeight ? kMaxWeight : weight), window_(window),
      grace_ns_(grace_ns) {
    if (table_ == nullptr) return;
    // Free while it is reset (a slot taken over from a domain that died
    // mid-transfer), then this domain's.
    ShareSlot& s = table_->slots[slot_];
    store(s.weight, 0u);
    store(s.vtime, 0);
    store(s.last_ns, 0);
    store(s.quiet_ns, kNeverAsked);
    store(s.in_flight, 0u);
    store(s.weight, weight_);
}

void ShareArbiter::release() {
    if (table_ != nullptr) store(table_->slots[slot_].weight, 0u);
    table_ = nullptr;
}

bool ShareArbiter::admit(uint64_t now_ns) {
    if (table_ == nullptr) return true;
    ShareSlot& me = table_->slots[slot_];
    // Whether this domain comes back from a quiet spell longer than its grace.
    const uint64_t quiet = load(me.quiet_ns);
    const bool was_quiet = load(me.in_flight) == 0 && quiet != 0;
    const bool returning = was_quiet && !within(quiet, now_ns, grace_ns_);
    bool backlogged_others = false, recent_others = false;
    uint64_t floor = 0, place = 0;
    for (unsigned i = 0; i < ShareTable::kSlots; ++i) {
        if (i == slot_) continue;
        const Seen s = look(table_->slots[i], now_ns, grace_ns_);
        if (s.backlogged && (!backlogged_others || s.vtime < floor)) floor = s.vtime;
        if (s.recent && (!recent_others || s.vtime < place)) place = s.vtime;
        backlogged_others |= s.backlogged;
        recent_others |= s.recent;
    }
    // Back after a quiet spell: beside the slowest of those still around
    // (up: no credit saved while quiet; down: no debt from another period).
    // Back from a pause within the grace: its place, but at most two
    // windows behind (what it lags by beyond that is a share it did not
    // use, not one owed; a domain that keeps the device busy is never
    // more than a window and a request behind, so this takes nothing from
    // it). Its own disks may charge meanwhile from another thread: the
    // place is taken only if nothing moved it.
    if (recent_others && was_quiet) {
        uint64_t seen = load(me.vtime);
        const uint64_t least = place > 2 * window_ ? place - 2 * window_ : 0;
        if (returning || seen < least)
            (void)__atomic_compare_exchange_n(&me.vtime, &seen, returning ? place : least, false, __ATOMIC_ACQ_REL,
                                              __ATOMIC_ACQUIRE);
    }
    store(me.quiet_ns, 0);      // backlogged: it has a request, whether or not it may start it
    store(me.last_ns, now_ns);
    return !backlogged_others || load(me.vtime) <= floor + window_;
}

void ShareArbiter::start(uint64_t now_ns, uint64_t bytes) {
    if (table_ == nullptr) return;
    ShareSlot& me = table_->slots[slot_];
    const uint64_t cost = bytes > UINT64_MAX - kRequestCost ? UINT64_MAX : bytes + kRequestCost;
    __atomic_fetch_add(&me.vtime, mul_div(cost, kDefaultWeight, weight_), __ATOMIC_ACQ_REL);
    __atomic_fetch_add(&me.in_flight, 1u, __ATOMIC_ACQ_REL);
    store(me.last_ns, now_ns);
}

void ShareArbiter::done(uint64_t now_ns) {
    if (table_ == nullptr) return;
    ShareSlot& me = table_->slots[slot_];
    uint32_t n = load(me.in_flight);
    while (n > 0 && !__atomic_compare_exchange_n(&me.in_flight, &n, n - 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    }
    store(me.last_ns, now_ns);
}

// Only the quiet stamp: whether the domain is backlogged also asks
// in_flight, so a transfer started on another thread meanwhile still
// counts.
void ShareArbiter::idle(uint64_t now_ns) {
    if (table_ == nullptr) return;
    ShareSlot& me = table_->slots[slot_];
    store(me.quiet_ns, now_ns == 0 ? kNeverAsked : now_ns);
    store(me.last_ns, now_ns);
}

} // namespace hv::core::qos
