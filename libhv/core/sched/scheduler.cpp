// The policy-independent half of every scheduler (Xen's schedule.c):
// validation, the (domain, vCPU) -> slot table, who runs where, run-time
// charging; and switching policies. See scheduler.hpp.
#include "core/sched/scheduler.hpp"

namespace hv::core::sched {

const char* policy_name(Policy p) {
    switch (p) {
    case Policy::credit: return "credit";
    case Policy::rtds: return "rtds";
    }
    return "unknown";
}

const char* sched_error_text(SchedError e) {
    switch (e) {
    case SchedError::ok: return "ok";
    case SchedError::bad_domain: return "domain slot out of range";
    case SchedError::no_such_domain: return "no such domain in the scheduler";
    case SchedError::domain_exists: return "domain already in the scheduler";
    case SchedError::domain_busy: return "domain still has vCPUs in the scheduler";
    case SchedError::bad_max_vcpus: return "maximum vCPU count out of range (1..128)";
    case SchedError::bad_vcpu: return "vCPU index out of range for the domain";
    case SchedError::no_such_vcpu: return "no such vCPU in the scheduler";
    case SchedError::vcpu_exists: return "vCPU already in the scheduler";
    case SchedError::full: return "scheduler vCPU table full (2048)";
    case SchedError::bad_cpu: return "CPU outside the host CPUs given to the scheduler";
    case SchedError::empty_affinity: return "hard affinity leaves no CPU to run on";
    case SchedError::bad_weight: return "weight out of range (1..65535)";
    case SchedError::bad_cap: return "cap out of range (0..100 x the domain's vCPUs)";
    case SchedError::bad_tslice: return "time slice out of range (1000..1000000 us)";
    case SchedError::bad_tick: return "tick out of range (100 us..the time slice)";
    case SchedError::bad_ratelimit: return "rate limit out of range (0, or 100..500000 us and at most the time slice)";
    case SchedError::bad_period: return "period out of range (100..10000000 us)";
    case SchedError::bad_budget: return "budget out of range (100 us..the period)";
    case SchedError::wrong_policy: return "parameters are for another scheduler policy";
    case SchedError::unsupported: return "the scheduler policy has no such parameter";
    case SchedError::not_empty: return "target scheduler already holds vCPUs";
    }
    return "unknown scheduler error";
}

Scheduler::Scheduler(Policy policy, const CpuMask& pcpus, const Ops& ops)
    : ops_(&ops), policy_(policy), pcpus_(pcpus & CpuMask::first_n(kMaxPcpus)) {
    for (auto& dom : slots_)
        for (auto& s : dom) s = kNoSlot;
}

SchedError Scheduler::insert_domain(uint16_t domain, uint32_t max_vcpus) {
    if (domain >= kMaxSchedDomains) return SchedError::bad_domain;
    if (max_vcpus == 0 || max_vcpus > kMaxVcpusPerDomain) return SchedError::bad_max_vcpus;
    if (domains_[domain].used) return SchedError::domain_exists;
    domains_[domain] = DomainSlot{true, max_vcpus, 0};
    ops_->domain_inserted(*this, domain);
    return SchedError::ok;
}

SchedError Scheduler::remove_domain(uint16_t domain) {
    if (domain >= kMaxSchedDomains) return SchedError::bad_domain;
    if (!domains_[domain].used) return SchedError::no_such_domain;
    if (domains_[domain].vcpus != 0) return SchedError::domain_busy;
    domains_[domain] = DomainSlot{};
    return SchedError::ok;
}

bool Scheduler::domain_info(uint16_t domain, DomainInfo& out) const {
    if (domain >= kMaxSchedDomains || !domains_[domain].used) return false;
    out = DomainInfo{domain, domains_[domain].max_vcpus, domains_[domain].vcpus};
    return true;
}

SchedError Scheduler::get_domain_params(uint16_t domain, SchedParams& out) const {
    if (domain >= kMaxSchedDomains) return SchedError::bad_domain;
    if (!domains_[domain].used) return SchedError::no_such_domain;
    out = SchedParams{};
    out.policy = policy_;
    ops_->get_domain_params(*this, domain, out);
    return SchedError::ok;
}

SchedError Scheduler::set_domain_params(uint16_t domain, const SchedParams& p) {
    if (domain >= kMaxSchedDomains) return SchedError::bad_domain;
    if (!domains_[domain].used) return SchedError::no_such_domain;
    if (p.policy != policy_) return SchedError::wrong_policy;
    return ops_->set_domain_params(*this, domain, p);
}

SchedError Scheduler::get_vcpu_params(VcpuRef v, SchedParams& out) const {
    uint16_t slot = kNoSlot;
    if (auto e = find(v, slot); e != SchedError::ok) return e;
    out = SchedParams{};
    out.policy = policy_;
    return ops_->get_vcpu_params(*this, slot, out);
}

SchedError Scheduler::set_vcpu_params(VcpuRef v, const SchedParams& p) {
    uint16_t slot = kNoSlot;
    if (auto e = find(v, slot); e != SchedError::ok) return e;
    if (p.policy != policy_) return SchedError::wrong_policy;
    return ops_->set_vcpu_params(*this, slot, p);
}

SchedError Scheduler::set_global_params(const GlobalParams& p) {
    if (p.policy != policy_) return SchedError::wrong_policy;
    return ops_->set_global_params(*this, p);
}

SchedError Scheduler::find(VcpuRef v, uint16_t& slot) const {
    if (v.domain >= kMaxSchedDomains) return SchedError::bad_domain;
    const DomainSlot& d = domains_[v.domain];
    if (!d.used) return SchedError::no_such_domain;
    if (v.vcpu >= d.max_vcpus) return SchedError::bad_vcpu;
    slot = slots_[v.domain][v.vcpu];
    return slot == kNoSlot ? SchedError::no_such_vcpu : SchedError::ok;
}

uint16_t Scheduler::slot_of(VcpuRef v) const {
    uint16_t slot = kNoSlot;
    return find(v, slot) == SchedError::ok ? slot : kNoSlot;
}

SchedError Scheduler::resolve_affinity(const CpuMask& hard, const CpuMask& soft, CpuMask& hard_out,
                                       CpuMask& soft_out) const {
    if (!hard.subset_of(pcpus_) || !soft.subset_of(pcpus_)) return SchedError::bad_cpu;
    hard_out = hard.empty() ? pcpus_ : hard;
    if (hard_out.empty()) return SchedError::empty_affinity;
    soft_out = soft.empty() ? pcpus_ : soft;
    return SchedError::ok;
}

SchedError Scheduler::insert_vcpu(VcpuRef v, const VcpuSetup& setup, Nanos now) {
    uint16_t slot = kNoSlot;
    SchedError e = find(v, slot);
    if (e == SchedError::ok) return SchedError::vcpu_exists;
    if (e != SchedError::no_such_vcpu) return e;
    CpuMask hard, soft;
    if (e = resolve_affinity(setup.hard, setup.soft, hard, soft); e != SchedError::ok) return e;
    for (uint32_t i = 0; i < kMaxSchedVcpus && slot == kNoSlot; ++i)
        if (!vcpus_[i].used) slot = static_cast<uint16_t>(i);
    if (slot == kNoSlot) return SchedError::full;

    Entry& n = vcpus_[slot];
    n = Entry{};
    n.ref = v;
    n.used = true;
    n.state = setup.runnable ? RunState::runnable : RunState::blocked;
    n.hard = hard;
    n.soft = soft;
    n.runtime = setup.runtime;
    slots_[v.domain][v.vcpu] = slot;
    ++domains_[v.domain].vcpus;
    ++nr_vcpus_;
    ops_->vcpu_inserted(*this, slot, now);
    return SchedError::ok;
}

SchedError Scheduler::remove_vcpu(VcpuRef v) {
    uint16_t slot = kNoSlot;
    if (auto e = find(v, slot); e != SchedError::ok) return e;
    Entry& n = vcpus_[slot];
    ops_->vcpu_removing(*this, slot);
    if (n.pcpu != kNoPcpu && pcpu_[n.pcpu].curr == slot) {
        pcpu_[n.pcpu].curr = kNoSlot;
        resched(n.pcpu);
    }
    n = Entry{};
    slots_[v.domain][v.vcpu] = kNoSlot;
    --domains_[v.domain].vcpus;
    --nr_vcpus_;
    return SchedError::ok;
}

SchedError Scheduler::wake(VcpuRef v, Nanos now) {
    uint16_t slot = kNoSlot;
    if (auto e = find(v, slot); e != SchedError::ok) return e;
    Entry& n = vcpus_[slot];
    if (n.state != RunState::blocked) return SchedError::ok;
    if (n.pcpu != kNoPcpu && pcpu_[n.pcpu].curr == slot) {
        // Blocked and woken again before its pCPU rescheduled: it never
        // left, so it just keeps running (no wake-up is lost).
        n.state = RunState::running;
        return SchedError::ok;
    }
    n.state = RunState::runnable;
    ops_->wake(*this, slot, now);
    return SchedError::ok;
}

SchedError Scheduler::sleep(VcpuRef v, Nanos) {
    uint16_t slot = kNoSlot;
    if (auto e = find(v, slot); e != SchedError::ok) return e;
    Entry& n = vcpus_[slot];
    if (n.state == RunState::blocked) return SchedError::ok;
    const bool was_running = n.state == RunState::running;
    n.state = RunState::blocked;
    ops_->sleep(*this, slot, was_running);
    if (was_running) resched(n.pcpu);
    return SchedError::ok;
}

SchedError Scheduler::yield(VcpuRef v) {
    uint16_t slot = kNoSlot;
    if (auto e = find(v, slot); e != SchedError::ok) return e;
    Entry& n = vcpus_[slot];
    if (n.state != RunState::running) return SchedError::ok;
    ops_->yield(*this, slot);
    resched(n.pcpu);
    return SchedError::ok;
}

SchedError Scheduler::set_affinity(VcpuRef v, const CpuMask& hard, const CpuMask& soft) {
    uint16_t slot = kNoSlot;
    if (auto e = find(v, slot); e != SchedError::ok) return e;
    CpuMask h, s;
    if (auto e = resolve_affinity(hard, soft, h, s); e != SchedError::ok) return e;
    Entry& n = vcpus_[slot];
    n.hard = h;
    n.soft = s;
    ops_->affinity_changed(*this, slot);
    if (n.state == RunState::running && !h.test(n.pcpu)) resched(n.pcpu);
    return SchedError::ok;
}

void Scheduler::charge(uint32_t pcpu, int64_t ns, Nanos now) {
    PcpuSlot& pc = pcpu_[pcpu];
    Entry& n = vcpus_[pc.curr];
    if (ns < 0 && static_cast<Nanos>(-ns) > n.runtime) ns = -static_cast<int64_t>(n.runtime);
    n.runtime = static_cast<Nanos>(static_cast<int64_t>(n.runtime) + ns);
    if (ns != 0) ops_->burn(*this, pc.curr, ns, now);
    pc.last_charge = now;
}

Pick Scheduler::pick_next(uint32_t pcpu, Nanos now, Nanos ran) {
    if (!pcpus_.test(pcpu)) return Pick{};
    resched_.clear(pcpu);
    PcpuSlot& pc = pcpu_[pcpu];
    const uint16_t prev = pc.curr;
    if (prev != kNoSlot) {
        int64_t ns = 0;
        if (ran == kRanWallClock)
            ns = now > pc.last_charge ? static_cast<int64_t>(now - pc.last_charge) : 0;
        else // the real CPU time since the pick; ticks charged wall time meanwhile
            ns = static_cast<int64_t>(ran) - static_cast<int64_t>(pc.charged);
        charge(pcpu, ns, now);
        Entry& p = vcpus_[prev];
        if (p.state == RunState::running) p.state = RunState::runnable;
        pc.curr = kNoSlot;
    }
    const PickResult r = ops_->pick(*this, pcpu, now, prev);
    // This pCPU has just decided; a resched the policy raised for it while
    // deciding (accounting, tickles) is already answered.
    resched_.clear(pcpu);
    // A policy must only hand out a runnable vCPU that is on no pCPU.
    if (r.slot == kNoSlot || r.slot >= kMaxSchedVcpus || !vcpus_[r.slot].used ||
        vcpus_[r.slot].state != RunState::runnable || r.slice == 0)
        return Pick{};
    Entry& n = vcpus_[r.slot];
    n.state = RunState::running;
    n.pcpu = pcpu;
    pc.curr = r.slot;
    if (!(r.keep_stint && r.slot == prev)) pc.stint_start = now;
    pc.last_charge = now;
    pc.charged = 0;
    return Pick{false, n.ref, r.slice};
}

Nanos Scheduler::tick(Nanos now) {
    for (uint32_t p = pcpus_.first(); p < kMaxPcpus; p = pcpus_.next_from(p + 1)) {
        PcpuSlot& pc = pcpu_[p];
        if (pc.curr == kNoSlot || now <= pc.last_charge) continue;
        const Nanos ns = now - pc.last_charge;
        pc.charged += ns;
        charge(p, static_cast<int64_t>(ns), now);
    }
    ops_->tick(*this, now);
    return ops_->next_tick(*this);
}

CpuMask Scheduler::take_resched() {
    const CpuMask m = resched_ & pcpus_;
    resched_ = CpuMask{};
    return m;
}

void Scheduler::fill_info(const Entry& e, VcpuInfo& out) const {
    out = VcpuInfo{e.ref, e.state, e.pcpu, e.hard, e.soft, e.runtime};
}

bool Scheduler::vcpu_info(VcpuRef v, VcpuInfo& out) const {
    const uint16_t slot = slot_of(v);
    if (slot == kNoSlot) return false;
    fill_info(vcpus_[slot], out);
    return true;
}

bool Scheduler::vcpu_at(uint32_t slot, VcpuInfo& out) const {
    if (slot >= kMaxSchedVcpus || !vcpus_[slot].used) return false;
    fill_info(vcpus_[slot], out);
    return true;
}

CpuMask Scheduler::preferred(uint16_t slot) const {
    const Entry& n = vcpus_[slot];
    const CpuMask both = n.soft & n.hard;
    return both.empty() ? n.hard : both;
}

uint32_t Scheduler::find_idle_pcpu(uint16_t slot, uint32_t free_pcpu, uint32_t busy_pcpu) const {
    const Entry& n = vcpus_[slot];
    auto usable = [&](uint32_t p) {
        return p != busy_pcpu && (p == free_pcpu || (idle(p) && !resched_.test(p)));
    };
    const CpuMask masks[2] = {preferred(slot), n.hard};
    for (const CpuMask& m : masks) {
        if (m.test(n.pcpu) && usable(n.pcpu)) return n.pcpu; // warm cache first
        for (uint32_t p = m.first(); p < kMaxPcpus; p = m.next_from(p + 1))
            if (usable(p)) return p;
    }
    return kNoPcpu;
}

// ---- policy switching ----

namespace {

// Undoes a half-done switch: the vCPUs added to `to` and the domains it
// did not hold before.
// Domains as a bit set: a frame-sized bool array would not fit the core's
// 1 KiB frames.
struct DomainBits {
    uint64_t w[(kMaxSchedDomains + 63) / 64] = {};
    void set(uint16_t d) { w[d / 64] |= uint64_t{1} << (d % 64); }
    bool test(uint16_t d) const { return ((w[d / 64] >> (d % 64)) & 1u) != 0; }
};

void roll_back(Scheduler& to, const DomainBits& added_domain) {
    VcpuInfo info;
    for (uint32_t s = 0; s < kMaxSchedVcpus; ++s)
        if (to.vcpu_at(s, info)) to.remove_vcpu(info.ref);
    for (uint16_t d = 0; d < kMaxSchedDomains; ++d)
        if (added_domain.test(d)) to.remove_domain(d);
}

} // namespace

SchedError switch_policy(Scheduler& from, Scheduler& to, Nanos now) {
    if (to.vcpu_count() != 0) return SchedError::not_empty;
    from.tick(now); // charge the running vCPUs, so run times carry over whole
    const bool same = from.policy() == to.policy();
    DomainBits added;
    SchedError e = SchedError::ok;

    for (uint16_t d = 0; d < kMaxSchedDomains && e == SchedError::ok; ++d) {
        DomainInfo di;
        if (!from.domain_info(d, di)) continue;
        DomainInfo existing;
        if (to.domain_info(d, existing)) continue; // pre-set by the caller: kept
        if (e = to.insert_domain(d, di.max_vcpus); e != SchedError::ok) break;
        added.set(d);
        SchedParams p;
        if (same && from.get_domain_params(d, p) == SchedError::ok) e = to.set_domain_params(d, p);
    }
    for (uint32_t s = 0; s < kMaxSchedVcpus && e == SchedError::ok; ++s) {
        VcpuInfo vi;
        if (!from.vcpu_at(s, vi)) continue;
        VcpuSetup setup;
        // "all" stays "all" when the new instance has other host CPUs.
        setup.hard = vi.hard == from.pcpus() ? CpuMask{} : vi.hard;
        setup.soft = vi.soft == from.pcpus() ? CpuMask{} : vi.soft;
        setup.runnable = vi.state != RunState::blocked;
        setup.runtime = vi.runtime;
        if (e = to.insert_vcpu(vi.ref, setup, now); e != SchedError::ok) break;
        SchedParams p;
        // Per-vCPU parameters, where the policy has them (rtds).
        if (same && added.test(vi.ref.domain) && from.get_vcpu_params(vi.ref, p) == SchedError::ok) {
            const SchedError pe = to.set_vcpu_params(vi.ref, p);
            if (pe != SchedError::ok && pe != SchedError::unsupported) e = pe;
        }
    }
    if (e != SchedError::ok) {
        roll_back(to, added);
        return e;
    }

    VcpuInfo vi;
    for (uint32_t s = 0; s < kMaxSchedVcpus; ++s)
        if (from.vcpu_at(s, vi)) from.remove_vcpu(vi.ref);
    for (uint16_t d = 0; d < kMaxSchedDomains; ++d) from.remove_domain(d);
    from.take_resched();
    to.resched_all(); // everything moved: every pCPU decides afresh
    return SchedError::ok;
}

} // namespace hv::core::sched
