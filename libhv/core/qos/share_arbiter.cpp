#include "core/qos/share_arbiter.hpp"

#include "core/qos/token_bucket.hpp" // mul_div

namespace hv::core::qos {

namespace {

uint64_t load(const uint64_t& v) { return __atomic_load_n(&v, __ATOMIC_ACQUIRE); }
uint32_t load(const uint32_t& v) { return __atomic_load_n(&v, __ATOMIC_ACQUIRE); }
void store(uint64_t& v, uint64_t x) { __atomic_store_n(&v, x, __ATOMIC_RELEASE); }
void store(uint32_t& v, uint32_t x) { __atomic_store_n(&v, x, __ATOMIC_RELEASE); }

} // namespace

ShareArbiter::ShareArbiter(ShareTable* table, unsigned slot, uint32_t weight, uint64_t window, uint64_t idle_ns)
    : table_(slot < ShareTable::kSlots ? table : nullptr), slot_(slot),
      weight_(weight < kMinWeight ? kMinWeight : weight > kMaxWeight ? kMaxWeight : weight), window_(window),
      idle_ns_(idle_ns) {
    if (table_ == nullptr) return;
    ShareSlot& s = table_->slots[slot_];
    store(s.vtime, 0);
    store(s.last_ns, 0);
    store(s.in_flight, 0u); // a slot taken over from a domain that died mid-transfer
    store(s.weight, weight_);
}

void ShareArbiter::release() {
    if (table_ != nullptr) store(table_->slots[slot_].weight, 0u);
    table_ = nullptr;
}

bool ShareArbiter::admit(uint64_t now_ns) {
    if (table_ == nullptr) return true;
    ShareSlot& me = table_->slots[slot_];
    // The slowest other active domain's virtual time.
    bool others = false;
    uint64_t floor = 0;
    for (unsigned i = 0; i < ShareTable::kSlots; ++i) {
        if (i == slot_) continue;
        const ShareSlot& s = table_->slots[i];
        if (load(s.weight) == 0) continue;
        const uint64_t last = load(s.last_ns);
        const bool busy = load(s.in_flight) > 0 && last + kDeadNs >= now_ns;
        if (!busy && (last == 0 || last + idle_ns_ < now_ns)) continue; // 0: idle() or never asked
        const uint64_t v = load(s.vtime);
        if (!others || v < floor) floor = v;
        others = true;
    }
    bool may = true;
    if (others) {
        // Back from idle: no credit saved up while the others worked. (Not
        // while active: a busy domain is never more than a window and a
        // transfer behind, and pulling it up then would leak its share.)
        const uint64_t last = load(me.last_ns);
        const bool was_active = load(me.in_flight) > 0 || (last != 0 && last + idle_ns_ >= now_ns);
        const uint64_t mine = load(me.vtime);
        if (!was_active && floor > window_ && mine < floor - window_) {
            // Only up: a charge made meanwhile by another thread stays.
            uint64_t seen = mine;
            while (seen < floor - window_ &&
                   !__atomic_compare_exchange_n(&me.vtime, &seen, floor - window_, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            }
        }
        may = load(me.vtime) <= floor + window_;
    }
    store(me.last_ns, now_ns); // asked: active, whether or not it may start
    return may;
}

void ShareArbiter::start(uint64_t now_ns, uint64_t bytes) {
    if (table_ == nullptr) return;
    ShareSlot& me = table_->slots[slot_];
    // The virtual time first: a neighbour that sees this domain active
    // sees its current virtual time, not one from before an idle spell.
    __atomic_fetch_add(&me.vtime, mul_div(bytes, kDefaultWeight, weight_), __ATOMIC_ACQ_REL);
    __atomic_fetch_add(&me.in_flight, 1u, __ATOMIC_ACQ_REL);
    store(me.last_ns, now_ns);
}

void ShareArbiter::done() {
    if (table_ == nullptr) return;
    ShareSlot& me = table_->slots[slot_];
    uint32_t n = load(me.in_flight);
    while (n > 0 && !__atomic_compare_exchange_n(&me.in_flight, &n, n - 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    }
}

void ShareArbiter::idle() {
    if (table_ == nullptr) return;
    ShareSlot& me = table_->slots[slot_];
    if (load(me.in_flight) == 0) store(me.last_ns, 0);
}

} // namespace hv::core::qos
