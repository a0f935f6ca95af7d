// Xen's credit algorithm on the Scheduler interface; the why of each rule
// is in credit_scheduler.hpp.
#include "core/sched/credit_scheduler.hpp"

namespace hv::core::sched {

namespace {

// Never hand out a slice shorter than this (Xen's CSCHED_MIN_TIMER): a
// capped vCPU with a sliver of credit still gets a useful run.
constexpr Nanos kMinSliceNs = 100 * 1000;

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

} // namespace

// Constant-initialised: no constructor runs before main (ring 0 has none).
constinit const Scheduler::Ops CreditScheduler::kOps = Scheduler::ops_for<CreditScheduler>();

CreditScheduler::CreditScheduler(const CpuMask& pcpus) : Scheduler(Policy::credit, pcpus, kOps) {
    for (auto& h : head_) h = kNoSlot;
}

bool CreditScheduler::view(VcpuRef v, CreditVcpuView& out) const {
    const uint16_t slot = slot_of(v);
    if (slot == kNoSlot) return false;
    out = CreditVcpuView{v_[slot].credit, v_[slot].pri, v_[slot].parked};
    return true;
}

// ---- parameters ----

void CreditScheduler::on_domain_inserted(uint16_t domain) { dom_params_[domain] = CreditParams{}; }

void CreditScheduler::on_get_domain_params(uint16_t domain, SchedParams& out) const {
    out.credit = dom_params_[domain];
}

SchedError CreditScheduler::on_set_domain_params(uint16_t domain, const SchedParams& p) {
    if (p.credit.weight < kCreditWeightMin || p.credit.weight > kCreditWeightMax) return SchedError::bad_weight;
    DomainInfo di;
    domain_info(domain, di);
    if (p.credit.cap > kCreditCapPerVcpu * di.max_vcpus) return SchedError::bad_cap;
    dom_params_[domain] = p.credit;
    // A new cap parks or unparks at once; weight acts from the next period.
    for (uint16_t s = 0; s < kMaxSchedVcpus; ++s) {
        if (!entry(s).used || entry(s).ref.domain != domain) continue;
        refresh(s);
        sync(s);
    }
    return SchedError::ok;
}

SchedError CreditScheduler::on_get_vcpu_params(uint16_t slot, SchedParams& out) const {
    out.credit = params_of(slot);
    return SchedError::ok;
}

SchedError CreditScheduler::on_set_vcpu_params(uint16_t, const SchedParams&) { return SchedError::unsupported; }

void CreditScheduler::on_get_global_params(GlobalParams& out) const {
    out.policy = Policy::credit;
    out.credit = globals_;
}

SchedError CreditScheduler::on_set_global_params(const GlobalParams& p) {
    const CreditGlobals& g = p.credit;
    if (g.tslice_us < kCreditTsliceUsMin || g.tslice_us > kCreditTsliceUsMax) return SchedError::bad_tslice;
    if (g.tick_us < kCreditTickUsMin || g.tick_us > g.tslice_us) return SchedError::bad_tick;
    if (g.ratelimit_us != 0 && (g.ratelimit_us < kCreditRatelimitUsMin || g.ratelimit_us > kCreditRatelimitUsMax ||
                                g.ratelimit_us > g.tslice_us))
        return SchedError::bad_ratelimit;
    // Takes effect at the next tick / accounting period already due.
    globals_ = g;
    return SchedError::ok;
}

// ---- run queues ----

bool CreditScheduler::wants_queue(uint16_t slot) const {
    return entry(slot).state == RunState::runnable && !v_[slot].parked;
}

// Does `a` go before `b` in a run queue? Priority first; BOOST in FIFO
// order; UNDER and OVER by credit, FIFO among equals.
bool CreditScheduler::before(uint16_t a, uint16_t b) const {
    const Vcpu& x = v_[a];
    const Vcpu& y = v_[b];
    if (x.pri != y.pri) return x.pri > y.pri;
    if (x.pri == CreditPriority::boost) return false;
    return x.credit > y.credit;
}

void CreditScheduler::enqueue(uint16_t slot, uint32_t pcpu) {
    Vcpu& c = v_[slot];
    dequeue(slot); // on one queue at most, whatever the caller did
    uint16_t prev = kNoSlot;
    uint16_t cur = head_[pcpu];
    if (c.yielding) {
        // Xen's yield: behind its own priority and one lower-priority vCPU.
        while (cur != kNoSlot && v_[cur].pri >= c.pri) prev = cur, cur = v_[cur].next;
        if (cur != kNoSlot) prev = cur, cur = v_[cur].next;
        c.yielding = false;
    } else {
        while (cur != kNoSlot && !before(slot, cur)) prev = cur, cur = v_[cur].next;
    }
    c.prev = prev;
    c.next = cur;
    if (prev == kNoSlot) head_[pcpu] = slot;
    else v_[prev].next = slot;
    if (cur != kNoSlot) v_[cur].prev = slot;
    c.queue = pcpu;
    ++qlen_[pcpu];
    entry(slot).pcpu = pcpu;
}

void CreditScheduler::dequeue(uint16_t slot) {
    Vcpu& c = v_[slot];
    if (c.queue == kNoPcpu) return;
    if (c.prev != kNoSlot) v_[c.prev].next = c.next;
    else head_[c.queue] = c.next;
    if (c.next != kNoSlot) v_[c.next].prev = c.prev;
    --qlen_[c.queue];
    c.queue = kNoPcpu;
    c.next = c.prev = kNoSlot;
}

// Xen's pick_cpu: an idle pCPU (soft, then hard affinity), else where it
// last was, else the shortest queue it prefers.
uint32_t CreditScheduler::place(uint16_t slot, uint32_t free_pcpu) const {
    const uint32_t idle_pcpu = find_idle_pcpu(slot, free_pcpu);
    if (idle_pcpu != kNoPcpu) return idle_pcpu;
    const CpuMask pref = preferred(slot);
    if (pref.test(entry(slot).pcpu)) return entry(slot).pcpu;
    uint32_t best = kNoPcpu;
    for (uint32_t p = pref.first(); p < kMaxPcpus; p = pref.next_from(p + 1))
        if (best == kNoPcpu || qlen_[p] < qlen_[best]) best = p;
    return best;
}

// Xen's runq_tickle: after `slot` was queued, tell the pCPU that should
// act on it — its own if idle or running something less important, else
// an idle pCPU that may steal it. `deciding`: the pCPU inside on_pick,
// which has just chosen something else and needs no telling.
void CreditScheduler::tickle(uint16_t slot, uint32_t deciding) {
    const uint32_t q = v_[slot].queue;
    if (q == kNoPcpu) return;
    if (q != deciding && (idle(q) || v_[slot].pri > v_[current(q)].pri)) {
        resched(q);
        return;
    }
    const uint32_t p = find_idle_pcpu(slot, kNoPcpu, deciding);
    if (p != kNoPcpu) resched(p);
}

// Priority and parking follow from credit (BOOST stays until demoted).
void CreditScheduler::refresh(uint16_t slot) {
    Vcpu& c = v_[slot];
    c.parked = params_of(slot).cap != 0 && c.credit < 0;
    if (c.parked || c.pri != CreditPriority::boost)
        c.pri = c.credit >= 0 ? CreditPriority::under : CreditPriority::over;
}

// Makes queue membership match the state: runnable and not parked means
// queued somewhere (or running); a running vCPU that got parked must stop.
void CreditScheduler::sync(uint16_t slot) {
    Vcpu& c = v_[slot];
    if (!wants_queue(slot)) {
        dequeue(slot);
        if (c.parked && entry(slot).state == RunState::running) resched(entry(slot).pcpu);
        return;
    }
    if (c.queue == kNoPcpu) {
        enqueue(slot, place(slot, kNoPcpu));
        tickle(slot);
    }
}

// Re-sorts every queue after credits changed, keeping FIFO order among
// equals (queues are re-filled in their old order).
void CreditScheduler::resort() {
    for (uint32_t p = pcpus().first(); p < kMaxPcpus; p = pcpus().next_from(p + 1)) {
        uint32_t n = 0;
        for (uint16_t s = head_[p]; s != kNoSlot; s = v_[s].next) order_[n++] = s;
        for (uint32_t i = 0; i < n; ++i) dequeue(order_[i]);
        for (uint32_t i = 0; i < n; ++i) enqueue(order_[i], p);
    }
}

// The best vCPU queued on another pCPU that `pcpu` may run, of priority
// above floor_pri (-1: any): priority, then soft affinity for `pcpu`, then
// credit.
uint16_t CreditScheduler::steal(uint32_t pcpu, int floor_pri) const {
    uint16_t best = kNoSlot;
    bool best_soft = false;
    for (uint32_t q = pcpus().first(); q < kMaxPcpus; q = pcpus().next_from(q + 1)) {
        if (q == pcpu) continue;
        for (uint16_t s = head_[q]; s != kNoSlot; s = v_[s].next) {
            // Not `break`: a yielder sits behind one lower-priority vCPU.
            if (static_cast<int>(v_[s].pri) <= floor_pri || !entry(s).hard.test(pcpu)) continue;
            const bool soft = preferred(s).test(pcpu);
            bool better = best == kNoSlot;
            if (!better && v_[s].pri != v_[best].pri) better = v_[s].pri > v_[best].pri;
            else if (!better && soft != best_soft) better = soft;
            else if (!better) better = v_[s].credit > v_[best].credit;
            if (better) best = s, best_soft = soft;
        }
    }
    return best;
}

bool CreditScheduler::stealable_for(uint32_t pcpu) const { return steal(pcpu, -1) != kNoSlot; }

// Preemption and work conservation at a tick or after accounting: a pCPU
// whose queue holds something more important than what it runs, an idle
// pCPU with work it may take, a pCPU running OVER while UNDER work waits.
void CreditScheduler::check_preemption() {
    for (uint32_t p = pcpus().first(); p < kMaxPcpus; p = pcpus().next_from(p + 1)) {
        if (idle(p)) {
            if (head_[p] != kNoSlot || stealable_for(p)) resched(p);
            continue;
        }
        const CreditPriority cur = v_[current(p)].pri;
        if (head_[p] != kNoSlot && v_[head_[p]].pri > cur) resched(p);
        else if (cur == CreditPriority::over && steal(p, static_cast<int>(cur)) != kNoSlot) resched(p);
    }
}

// ---- vCPU events ----

void CreditScheduler::start_clock(Nanos now) {
    if (clock_started_) return;
    clock_started_ = true;
    next_tick_ = now + Nanos{globals_.tick_us} * 1000;
    next_acct_ = now + tslice();
}

void CreditScheduler::on_vcpu_inserted(uint16_t slot, Nanos now) {
    start_clock(now);
    v_[slot] = Vcpu{};
    refresh(slot);
    sync(slot);
}

void CreditScheduler::on_vcpu_removing(uint16_t slot) {
    dequeue(slot);
    v_[slot] = Vcpu{};
}

void CreditScheduler::on_wake(uint16_t slot, Nanos now) {
    start_clock(now);
    Vcpu& c = v_[slot];
    refresh(slot);
    // Xen boosts only a waker that still has credit, and never a parked one.
    if (!c.parked && c.pri == CreditPriority::under) c.pri = CreditPriority::boost;
    sync(slot);
}

void CreditScheduler::on_sleep(uint16_t slot, bool) {
    dequeue(slot);
    v_[slot].yielding = false;
}

void CreditScheduler::on_yield(uint16_t slot) { v_[slot].yielding = true; }

void CreditScheduler::on_affinity_changed(uint16_t slot) {
    if (v_[slot].queue == kNoPcpu) return;
    dequeue(slot);
    sync(slot); // re-placed inside the new affinity
}

void CreditScheduler::on_burn(uint16_t slot, int64_t ns, Nanos) {
    Vcpu& c = v_[slot];
    c.credit = max64(c.credit - ns, -static_cast<int64_t>(tslice()));
    if (ns > 0) c.ran = true;
    // A refund: the pCPU was the vCPU's on the clock but the host ran
    // something else. That time is nobody's to share out (see account()).
    if (ns < 0) stolen_ += -ns;
    refresh(slot);
    sync(slot);
}

// ---- decisions ----

Scheduler::PickResult CreditScheduler::on_pick(uint32_t pcpu, Nanos now, uint16_t prev) {
    start_clock(now);
    if (prev != kNoSlot) {
        Vcpu& c = v_[prev];
        const Entry& e = entry(prev);
        if (c.pri == CreditPriority::boost) {
            c.pri = CreditPriority::under; // it got its low-latency run
            refresh(prev);
        }
        if (wants_queue(prev)) {
            const Nanos ratelimit = Nanos{globals_.ratelimit_us} * 1000;
            const Nanos ran = now - stint_start(pcpu);
            if (ratelimit != 0 && !c.yielding && e.hard.test(pcpu) && ran < ratelimit)
                return PickResult{prev, ratelimit - ran, true};
            enqueue(prev, place(prev, pcpu));
        }
        c.yielding = false;
    }
    // The platform's tick is late: account here so credit does not starve.
    // (After prev is queued: accounting queues every runnable vCPU.)
    if (now >= next_acct_) account(now);

    uint16_t next = head_[pcpu];
    if (next == kNoSlot || v_[next].pri == CreditPriority::over) {
        const uint16_t s = steal(pcpu, next == kNoSlot ? -1 : static_cast<int>(v_[next].pri));
        if (s != kNoSlot) next = s;
    }
    if (next != kNoSlot) dequeue(next);
    // prev lost this pCPU (or was sent to one it prefers): someone idle
    // may take it.
    if (prev != kNoSlot && prev != next && v_[prev].queue != kNoPcpu) tickle(prev, pcpu);
    if (next == kNoSlot) return PickResult{};
    Nanos slice = tslice();
    if (params_of(next).cap != 0) { // end the slice when the credit runs out
        const int64_t credit = v_[next].credit;
        const Nanos left = credit > static_cast<int64_t>(kMinSliceNs) ? static_cast<Nanos>(credit) : kMinSliceNs;
        if (left < slice) slice = left;
    }
    return PickResult{next, slice, false};
}

void CreditScheduler::on_tick(Nanos now) {
    start_clock(now);
    if (now >= next_tick_) {
        // A BOOST lasts until the tick that finds it running (Xen's csched_tick).
        for (uint32_t p = pcpus().first(); p < kMaxPcpus; p = pcpus().next_from(p + 1)) {
            if (idle(p) || v_[current(p)].pri != CreditPriority::boost) continue;
            v_[current(p)].pri = CreditPriority::under;
            refresh(current(p));
        }
        const Nanos tick = Nanos{globals_.tick_us} * 1000;
        next_tick_ += tick;
        if (next_tick_ <= now) next_tick_ = now + tick;
    }
    if (now >= next_acct_) account(now);
    check_preemption();
}

Nanos CreditScheduler::on_next_tick() const {
    if (!clock_started_) return kNever;
    return next_tick_ < next_acct_ ? next_tick_ : next_acct_;
}

// ---- accounting (Xen's csched_acct) ----

void CreditScheduler::account(Nanos now) {
    // Who competed this period: runnable now (queued, running or parked)
    // or burned credit since the last accounting.
    CpuMask reach;
    uint32_t nactive = 0;
    for (auto& n : active_in_) n = 0;
    for (uint16_t s = 0; s < kMaxSchedVcpus; ++s) {
        const Entry& e = entry(s);
        active_[s] = e.used && (e.state != RunState::blocked || v_[s].ran);
        if (!active_[s]) continue;
        reach = reach | e.hard;
        ++nactive;
        ++active_in_[e.ref.domain];
    }
    const uint32_t ncpus = reach.count() < nactive ? reach.count() : nactive;
    // The pool is the CPU time the pCPUs can give, less what the host took
    // from vCPUs that held them this period (refunded to them at their
    // pick). Sharing out time nobody got would let every vCPU bank credit
    // and stay UNDER, and weights would stop mattering.
    const int64_t capacity = static_cast<int64_t>(ncpus) * static_cast<int64_t>(tslice());
    share_out(max64(0, capacity - stolen_));
    stolen_ = 0;

    const int64_t floor = -static_cast<int64_t>(tslice());
    for (uint16_t s = 0; s < kMaxSchedVcpus; ++s) {
        if (!active_[s]) continue;
        v_[s].credit = max64(v_[s].credit + gain_[s], floor);
        v_[s].ran = false;
        refresh(s);
    }
    resort();
    for (uint16_t s = 0; s < kMaxSchedVcpus; ++s)
        if (entry(s).used) sync(s); // unpark / park
    check_preemption();

    next_acct_ += tslice();
    if (next_acct_ <= now) next_acct_ = now + tslice();
}

// Water-filling: each active vCPU gets pool x weight / total weight, but no
// more than its limit (one slice per period, its cap share, room left in
// its bank); what a saturated vCPU cannot take is shared again among the
// rest by weight.
void CreditScheduler::share_out(int64_t pool) {
    const int64_t slice = static_cast<int64_t>(tslice());
    uint32_t nactive = 0;
    for (uint16_t s = 0; s < kMaxSchedVcpus; ++s) {
        gain_[s] = 0;
        if (!active_[s]) continue;
        ++nactive;
        const CreditParams& dp = params_of(s);
        int64_t peak = slice;
        if (dp.cap != 0) {
            const int64_t n = active_in_[entry(s).ref.domain];
            const int64_t cap_credit = static_cast<int64_t>(dp.cap) * slice / 100;
            peak = min64(peak, (cap_credit + n - 1) / n);
        }
        limit_[s] = max64(0, min64(peak - v_[s].credit, peak)); // banks at most `peak`
        done_[s] = limit_[s] == 0;
    }
    for (uint32_t round = 0; round <= nactive; ++round) {
        int64_t weights = 0;
        int64_t given = 0;
        for (uint16_t s = 0; s < kMaxSchedVcpus; ++s) {
            if (!active_[s]) continue;
            if (done_[s]) given += gain_[s];
            else weights += params_of(s).weight;
        }
        const int64_t left = pool - given;
        if (weights == 0 || left <= 0) return;
        bool saturated = false;
        for (uint16_t s = 0; s < kMaxSchedVcpus; ++s) {
            if (!active_[s] || done_[s]) continue;
            if (left * params_of(s).weight / weights >= limit_[s]) {
                gain_[s] = limit_[s];
                done_[s] = saturated = true;
            }
        }
        if (saturated) continue;
        for (uint16_t s = 0; s < kMaxSchedVcpus; ++s)
            if (active_[s] && !done_[s]) gain_[s] = left * params_of(s).weight / weights;
        return;
    }
}

} // namespace hv::core::sched
