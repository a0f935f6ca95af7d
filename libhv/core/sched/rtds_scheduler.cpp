// RTDS-style budget/period EDF on the Scheduler interface; the rules are
// in rtds_scheduler.hpp.
#include "core/sched/rtds_scheduler.hpp"

namespace hv::core::sched {

// Constant-initialised: no constructor runs before main (ring 0 has none).
constinit const Scheduler::Ops RtdsScheduler::kOps = Scheduler::ops_for<RtdsScheduler>();

RtdsScheduler::RtdsScheduler(const CpuMask& pcpus) : Scheduler(Policy::rtds, pcpus, kOps) {}

bool RtdsScheduler::view(VcpuRef v, RtdsVcpuView& out) const {
    const uint16_t slot = slot_of(v);
    if (slot == kNoSlot) return false;
    out = RtdsVcpuView{v_[slot].left, v_[slot].deadline};
    return true;
}

// ---- parameters ----

SchedError RtdsScheduler::validate(const RtdsParams& p) {
    if (p.period_us < kRtdsPeriodUsMin || p.period_us > kRtdsPeriodUsMax) return SchedError::bad_period;
    if (p.budget_us < kRtdsBudgetUsMin || p.budget_us > p.period_us) return SchedError::bad_budget;
    return SchedError::ok;
}

// New parameters act at once on the budget left (never more than the new
// budget); the deadline keeps its period grid until the next replenishment.
void RtdsScheduler::apply(uint16_t slot, const RtdsParams& p) {
    Vcpu& c = v_[slot];
    c.period = Nanos{p.period_us} * 1000;
    c.budget = Nanos{p.budget_us} * 1000;
    c.extratime = p.extratime;
    if (c.left > c.budget) c.left = c.budget;
    dequeue(slot);
    sync(slot);
    if (entry(slot).state == RunState::running && c.left == 0) resched(entry(slot).pcpu);
}

void RtdsScheduler::on_domain_inserted(uint16_t domain) { dom_params_[domain] = RtdsParams{}; }

void RtdsScheduler::on_get_domain_params(uint16_t domain, SchedParams& out) const {
    out.rtds = dom_params_[domain];
}

SchedError RtdsScheduler::on_set_domain_params(uint16_t domain, const SchedParams& p) {
    if (auto e = validate(p.rtds); e != SchedError::ok) return e;
    dom_params_[domain] = p.rtds;
    for (uint16_t s = 0; s < kMaxSchedVcpus; ++s)
        if (entry(s).used && entry(s).ref.domain == domain) apply(s, p.rtds);
    return SchedError::ok;
}

SchedError RtdsScheduler::on_get_vcpu_params(uint16_t slot, SchedParams& out) const {
    const Vcpu& c = v_[slot];
    out.rtds = RtdsParams{static_cast<uint32_t>(c.period / 1000), static_cast<uint32_t>(c.budget / 1000), c.extratime};
    return SchedError::ok;
}

SchedError RtdsScheduler::on_set_vcpu_params(uint16_t slot, const SchedParams& p) {
    if (auto e = validate(p.rtds); e != SchedError::ok) return e;
    apply(slot, p.rtds);
    return SchedError::ok;
}

void RtdsScheduler::on_get_global_params(GlobalParams& out) const { out.policy = Policy::rtds; }

SchedError RtdsScheduler::on_set_global_params(const GlobalParams&) { return SchedError::ok; }

// ---- the run queue ----

// Budget left beats none (extratime), then the earlier deadline; on equal
// deadlines the vCPU with fewer pCPUs to go to, which periodic sets meet at
// every common multiple of their periods: a pinned vCPU then preempts a free
// one on its pCPU rather than lose its budget behind it.
bool RtdsScheduler::higher(uint16_t a, uint16_t b) const {
    const bool ab = v_[a].left > 0;
    const bool bb = v_[b].left > 0;
    if (ab != bb) return ab;
    if (v_[a].deadline != v_[b].deadline) return v_[a].deadline < v_[b].deadline;
    return entry(a).hard.count() < entry(b).hard.count();
}

bool RtdsScheduler::wants_queue(uint16_t slot) const {
    return entry(slot).state == RunState::runnable && (v_[slot].left > 0 || v_[slot].extratime);
}

void RtdsScheduler::enqueue(uint16_t slot) {
    Vcpu& c = v_[slot];
    if (c.queued) return;
    uint16_t prev = kNoSlot;
    uint16_t cur = head_;
    while (cur != kNoSlot && !higher(slot, cur)) prev = cur, cur = v_[cur].next;
    c.prev = prev;
    c.next = cur;
    if (prev == kNoSlot) head_ = slot;
    else v_[prev].next = slot;
    if (cur != kNoSlot) v_[cur].prev = slot;
    c.queued = true;
}

void RtdsScheduler::dequeue(uint16_t slot) {
    Vcpu& c = v_[slot];
    if (!c.queued) return;
    if (c.prev != kNoSlot) v_[c.prev].next = c.next;
    else head_ = c.next;
    if (c.next != kNoSlot) v_[c.next].prev = c.prev;
    c.queued = false;
    c.next = c.prev = kNoSlot;
}

// A new period once the deadline has passed: full budget, deadline on the
// old period grid (Xen's rt_update_deadline).
bool RtdsScheduler::replenish(uint16_t slot, Nanos now) {
    Vcpu& c = v_[slot];
    if (now < c.deadline) return false;
    const Nanos periods = (now - c.deadline) / c.period + 1;
    c.deadline += periods * c.period;
    c.left = c.budget;
    return true;
}

// Replenishes every vCPU that wants to run; queued ones move to their new
// place, depleted ones come back. No tickling here: callers do it once
// they know what the pCPU deciding right now takes.
void RtdsScheduler::replenish_all(Nanos now) {
    for (uint16_t s = 0; s < kMaxSchedVcpus; ++s) {
        if (!entry(s).used || entry(s).state == RunState::blocked || !replenish(s, now)) continue;
        dequeue(s);
        if (wants_queue(s)) enqueue(s);
    }
}

// Sends `slot` somewhere: an idle pCPU (soft affinity first), else the pCPU
// running the least urgent vCPU it outranks. pCPUs already told are skipped,
// so vCPUs tickled in queue order land on distinct pCPUs. `deciding`: the
// pCPU inside on_pick, which has chosen already and needs no telling.
void RtdsScheduler::tickle(uint16_t slot, uint32_t deciding) {
    const uint32_t p = find_idle_pcpu(slot, kNoPcpu, deciding);
    if (p != kNoPcpu) {
        resched(p);
        return;
    }
    const CpuMask& hard = entry(slot).hard;
    uint32_t worst = kNoPcpu;
    for (uint32_t q = hard.first(); q < kMaxPcpus; q = hard.next_from(q + 1)) {
        if (q == deciding || idle(q) || resched_pending(q)) continue;
        if (worst == kNoPcpu || higher(current(worst), current(q))) worst = q;
    }
    if (worst != kNoPcpu && higher(slot, current(worst))) resched(worst);
}

void RtdsScheduler::sync(uint16_t slot) {
    if (!wants_queue(slot)) {
        dequeue(slot);
        return;
    }
    if (v_[slot].queued) return;
    enqueue(slot);
    tickle(slot);
}

// ---- vCPU events ----

void RtdsScheduler::on_vcpu_inserted(uint16_t slot, Nanos now) {
    v_[slot] = Vcpu{};
    apply(slot, dom_params_[entry(slot).ref.domain]);
    v_[slot].deadline = now + v_[slot].period;
    v_[slot].left = v_[slot].budget;
    sync(slot);
}

void RtdsScheduler::on_vcpu_removing(uint16_t slot) {
    dequeue(slot);
    v_[slot] = Vcpu{};
}

void RtdsScheduler::on_wake(uint16_t slot, Nanos now) {
    replenish(slot, now);
    sync(slot);
}

void RtdsScheduler::on_sleep(uint16_t slot, bool) {
    dequeue(slot);
    v_[slot].yielding = false;
}

void RtdsScheduler::on_yield(uint16_t slot) { v_[slot].yielding = true; }

void RtdsScheduler::on_affinity_changed(uint16_t slot) {
    if (v_[slot].queued) tickle(slot);
}

void RtdsScheduler::on_burn(uint16_t slot, int64_t ns, Nanos) {
    Vcpu& c = v_[slot];
    if (ns >= 0) {
        c.left = static_cast<Nanos>(ns) >= c.left ? 0 : c.left - static_cast<Nanos>(ns);
    } else {
        const Nanos refund = static_cast<Nanos>(-ns);
        c.left = c.budget - c.left <= refund ? c.budget : c.left + refund;
    }
    // Out of budget: let the pCPU re-decide (extratime vCPUs drop behind
    // every vCPU that still has budget).
    if (c.left == 0 && entry(slot).state == RunState::running) resched(entry(slot).pcpu);
}

// ---- decisions ----

Scheduler::PickResult RtdsScheduler::on_pick(uint32_t pcpu, Nanos now, uint16_t prev) {
    replenish_all(now);
    bool prev_yields = false;
    if (prev != kNoSlot) {
        if (wants_queue(prev)) enqueue(prev);
        prev_yields = v_[prev].yielding;
        v_[prev].yielding = false;
    }
    // The first queued vCPU this pCPU may run; a yielding one gives way to
    // the next eligible vCPU if there is one.
    uint16_t next = kNoSlot;
    for (uint16_t s = head_; s != kNoSlot; s = v_[s].next) {
        if (!entry(s).hard.test(pcpu)) continue;
        if (next == kNoSlot) {
            next = s;
            if (!(s == prev && prev_yields)) break;
        } else {
            next = s;
            break;
        }
    }
    if (next != kNoSlot) dequeue(next);
    // Whoever is still queued may deserve another pCPU.
    for (uint16_t s = head_; s != kNoSlot; s = v_[s].next) tickle(s, pcpu);
    if (next == kNoSlot) return PickResult{};
    const Vcpu& c = v_[next];
    const Nanos to_deadline = c.deadline - now; // > 0: replenished above
    const Nanos slice = c.left > 0 && c.left < to_deadline ? c.left : to_deadline;
    return PickResult{next, slice, false};
}

void RtdsScheduler::on_tick(Nanos now) {
    replenish_all(now);
    for (uint32_t p = pcpus().first(); p < kMaxPcpus; p = pcpus().next_from(p + 1)) {
        // A running vCPU whose new period began (fresh deadline) or whose
        // budget ran out is re-decided, as is anyone a queued vCPU outranks.
        if (!idle(p) && v_[current(p)].left == 0) resched(p);
    }
    for (uint16_t s = head_; s != kNoSlot; s = v_[s].next) tickle(s);
}

Nanos RtdsScheduler::on_next_tick() const {
    Nanos next = kNever;
    for (uint16_t s = 0; s < kMaxSchedVcpus; ++s) {
        const Entry& e = entry(s);
        if (e.used && e.state != RunState::blocked && v_[s].deadline < next) next = v_[s].deadline;
    }
    return next;
}

} // namespace hv::core::sched
