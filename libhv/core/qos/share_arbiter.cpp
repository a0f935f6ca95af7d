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
    store(s.weight, weight_);
}

void ShareArbiter::release() {
    if (table_ != nullptr) store(table_->slots[slot_].weight, 0u);
    table_ = nullptr;
}

bool ShareArbiter::try_start(uint64_t now_ns, uint64_t bytes) {
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
    uint64_t mine = me.vtime; // only this domain writes it
    if (others) {
        // Back from idle: no credit saved up while the others worked. (Not
        // while active: a busy domain is never more than a window and a
        // transfer behind, and pulling it up then would leak its share.)
        const bool was_active = me.in_flight > 0 || (me.last_ns != 0 && me.last_ns + idle_ns_ >= now_ns);
        if (!was_active && floor > window_ && mine < floor - window_) mine = floor - window_;
        if (mine > floor + window_) {
            store(me.vtime, mine);
            store(me.last_ns, now_ns); // still wanting: active
            return false;
        }
    }
    // The virtual time first: a neighbour that sees this domain active
    // sees its current virtual time, not one from before an idle spell.
    store(me.vtime, mine + mul_div(bytes, kDefaultWeight, weight_));
    store(me.in_flight, me.in_flight + 1);
    store(me.last_ns, now_ns);
    return true;
}

void ShareArbiter::done() {
    if (table_ == nullptr) return;
    ShareSlot& me = table_->slots[slot_];
    if (me.in_flight > 0) store(me.in_flight, me.in_flight - 1);
}

void ShareArbiter::idle() {
    if (table_ == nullptr) return;
    ShareSlot& me = table_->slots[slot_];
    if (me.in_flight == 0) store(me.last_ns, 0);
}

} // namespace hv::core::qos
