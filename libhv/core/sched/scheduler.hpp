// Scheduler: the interface every vCPU scheduling policy implements, and the
// bookkeeping all policies share. Shaped like Xen's struct scheduler
// (xen/include/xen/sched-if.h): the public methods below are what Xen's
// generic schedule.c does (validate, track who runs where, charge run
// time), and the Ops table below holds the per-policy ops (insert_vcpu,
// wake, sleep, yield, do_schedule, tick, adjust). Pure logic on a clock the
// caller supplies: no timers, no threads, no heap, so the same object runs
// in the hosted monitor, the ring-0 image and the unit tests' virtual clock.
//
// How a platform drives it (single-threaded: the caller serialises calls):
//  - pick_next(pcpu, now) whenever a pCPU must decide: its slice ran out
//    (Pick::slice after the last pick), the running vCPU blocked/yielded/
//    exited, or take_resched() names the pCPU. The answer is the vCPU to run
//    there and for how long; Pick::idle means run nothing until told.
//  - tick(now) no later than next_tick(): it charges running vCPUs,
//    replenishes credit/budget and may mark pCPUs for rescheduling.
//  - wake/sleep/yield as vCPUs block, unblock, pause or yield; then drain
//    take_resched() and call pick_next on every pCPU it names (kick the vCPU
//    running there out of the guest first).
// Run time is wall time on the caller's clock unless pick_next is given the
// CPU time the vCPU really consumed (the hosted side's thread CPU time).
//
// Identities: a vCPU is (domain slot, vCPU index). The domain slot is the
// index of the domain in the core's DomainTable (0 .. kMaxSchedDomains-1),
// not its domid, so tables stay small and a stale domid cannot alias.
//
// Policy switching (switch_policy below): every vCPU moves with its
// runnable/blocked state, hard/soft affinity and accumulated run time.
// Parameters are carried over only between two instances of the same
// policy; otherwise each domain gets the new policy's defaults, unless the
// caller inserted that domain into the new instance and set its parameters
// before switching (that is how "switch to rtds with budget X" is said).
// Policy-internal state (credit balance, budget, deadline) starts afresh.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/sched/cpu_mask.hpp"

namespace hv::core::sched {

// Capacities. The scheduler is host-wide (hvd's, or an embedded monitor's),
// so domain slots are the host's domains, not one monitor's DomainTable;
// vCPUs per domain match the config's kMaxVcpus. The tables take about
// 0.5 MiB per scheduler instance, allocated once by the hosted side.
constexpr uint32_t kMaxSchedDomains = 1024;
constexpr uint32_t kMaxVcpusPerDomain = 128;
constexpr uint32_t kMaxSchedVcpus = 2048;

using Nanos = uint64_t;
constexpr Nanos kNever = UINT64_MAX;
// pick_next's `ran` default: charge the wall time since the last pick/tick.
constexpr Nanos kRanWallClock = UINT64_MAX;
constexpr uint32_t kNoPcpu = UINT32_MAX;
constexpr uint16_t kNoSlot = UINT16_MAX;

struct VcpuRef {
    uint16_t domain = 0; // DomainTable slot
    uint16_t vcpu = 0;   // index within the domain
    constexpr bool operator==(const VcpuRef&) const = default;
};

enum class Policy : uint8_t { credit, rtds };
const char* policy_name(Policy p); // "credit", "rtds" (xl's names)

// Every refusal has its own code so the hosted side can name the value and
// the valid range (the constants below) in its message.
enum class SchedError : uint8_t {
    ok,
    bad_domain,      // domain slot >= kMaxSchedDomains
    no_such_domain,
    domain_exists,
    domain_busy,     // remove_domain while it still has vCPUs
    bad_max_vcpus,   // 0 or > kMaxVcpusPerDomain
    bad_vcpu,        // vCPU index >= the domain's max_vcpus
    no_such_vcpu,
    vcpu_exists,
    full,            // kMaxSchedVcpus reached
    bad_cpu,         // a CPU outside this scheduler's host set
    empty_affinity,  // hard affinity leaves no usable CPU
    bad_weight,      // credit: kCreditWeightMin..kCreditWeightMax
    bad_cap,         // credit: 0..kCreditCapPerVcpu x max_vcpus
    bad_tslice,      // credit: kCreditTsliceUsMin..kCreditTsliceUsMax
    bad_tick,        // credit: kCreditTickUsMin..tslice
    bad_ratelimit,   // credit: 0 or kCreditRatelimitUsMin..min(Max, tslice)
    bad_period,      // rtds: kRtdsPeriodUsMin..kRtdsPeriodUsMax
    bad_budget,      // rtds: kRtdsBudgetUsMin..period
    wrong_policy,    // parameters of another policy
    unsupported,     // the policy has no such parameter (credit per vCPU)
    not_empty,       // switch_policy target already holds vCPUs
};
const char* sched_error_text(SchedError e);

// ---- parameters and their ranges (Xen's, in the units xl uses) ----
constexpr uint32_t kCreditWeightMin = 1;
constexpr uint32_t kCreditWeightMax = 65535;
constexpr uint32_t kCreditWeightDefault = 256;
constexpr uint32_t kCreditCapPerVcpu = 100; // cap <= 100 x max_vcpus; 0 = none
constexpr uint32_t kCreditTsliceUsMin = 1000;
constexpr uint32_t kCreditTsliceUsMax = 1000000;
constexpr uint32_t kCreditTsliceUsDefault = 30000;
constexpr uint32_t kCreditTickUsMin = 100;
constexpr uint32_t kCreditTickUsDefault = 10000;
constexpr uint32_t kCreditRatelimitUsMin = 100; // 0 = no rate limit
constexpr uint32_t kCreditRatelimitUsMax = 500000;
constexpr uint32_t kCreditRatelimitUsDefault = 1000;
constexpr uint32_t kRtdsPeriodUsMin = 100;
constexpr uint32_t kRtdsPeriodUsMax = 10000000;
constexpr uint32_t kRtdsPeriodUsDefault = 10000;
constexpr uint32_t kRtdsBudgetUsMin = 100;
constexpr uint32_t kRtdsBudgetUsDefault = 4000;

struct CreditParams {
    uint32_t weight = kCreditWeightDefault;
    uint32_t cap = 0; // percent of one pCPU, 0 = uncapped
};
struct RtdsParams {
    uint32_t period_us = kRtdsPeriodUsDefault;
    uint32_t budget_us = kRtdsBudgetUsDefault;
    bool extratime = false; // may run past its budget on otherwise idle pCPUs
};
// Per-domain (or, for rtds, per-vCPU) parameters; `policy` says which
// member is meant, like the union in Xen's xen_domctl_scheduler_op.
struct SchedParams {
    Policy policy = Policy::credit;
    CreditParams credit;
    RtdsParams rtds;
};
struct CreditGlobals {
    uint32_t tslice_us = kCreditTsliceUsDefault;
    uint32_t tick_us = kCreditTickUsDefault;
    uint32_t ratelimit_us = kCreditRatelimitUsDefault;
};
// Host-wide parameters (xl sched-credit -s). rtds has none.
struct GlobalParams {
    Policy policy = Policy::credit;
    CreditGlobals credit;
};

enum class RunState : uint8_t { blocked, runnable, running };

// How a vCPU enters a scheduler. Empty hard affinity means every host CPU
// of this scheduler (xl's "all"); empty soft affinity means no preference.
struct VcpuSetup {
    CpuMask hard;
    CpuMask soft;
    bool runnable = true;
    Nanos runtime = 0; // run time so far (carried across policy switches)
};

struct VcpuInfo {
    VcpuRef ref;
    RunState state = RunState::blocked;
    uint32_t pcpu = kNoPcpu; // where it runs, else where it last ran/queued
    CpuMask hard;            // resolved: a subset of pcpus()
    CpuMask soft;            // resolved: pcpus() when no preference
    Nanos runtime = 0;       // total CPU time charged (xl vcpu-list Time)
};

struct DomainInfo {
    uint16_t domain = 0;
    uint32_t max_vcpus = 0;
    uint32_t vcpus = 0; // inserted now
};

// pick_next's answer: run `vcpu` for at most `slice` ns, then pick again.
// idle: run nothing; slice is kNever (wait for take_resched()).
struct Pick {
    bool idle = true;
    VcpuRef vcpu;
    Nanos slice = kNever;
};

class Scheduler {
public:
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    Policy policy() const { return policy_; }
    const CpuMask& pcpus() const { return pcpus_; }

    // ---- domains (Xen: alloc_domdata / free_domdata / adjust) ----
    SchedError insert_domain(uint16_t domain, uint32_t max_vcpus);
    SchedError remove_domain(uint16_t domain); // domain_busy while it has vCPUs
    bool domain_info(uint16_t domain, DomainInfo& out) const;
    SchedError get_domain_params(uint16_t domain, SchedParams& out) const;
    SchedError set_domain_params(uint16_t domain, const SchedParams& p);
    // Per-vCPU parameters: rtds only (credit answers `unsupported` to set
    // and reports the domain's parameters to get).
    SchedError get_vcpu_params(VcpuRef v, SchedParams& out) const;
    SchedError set_vcpu_params(VcpuRef v, const SchedParams& p);

    // ---- host-wide parameters (Xen: adjust_global) ----
    void get_global_params(GlobalParams& out) const { ops_->get_global_params(*this, out); }
    SchedError set_global_params(const GlobalParams& p);

    // ---- vCPUs (Xen: insert_vcpu, remove_vcpu, wake, sleep, yield) ----
    SchedError insert_vcpu(VcpuRef v, const VcpuSetup& setup, Nanos now);
    // A running vCPU is taken off its pCPU (which is marked for resched).
    SchedError remove_vcpu(VcpuRef v);
    // Runnable again (unblocked, unpaused, brought online).
    SchedError wake(VcpuRef v, Nanos now);
    // Not runnable (blocked, paused, going offline). If it is running, its
    // pCPU is marked for resched and it stops at the next pick_next there.
    SchedError sleep(VcpuRef v, Nanos now);
    // The running vCPU offers its pCPU to others (sched_op yield).
    SchedError yield(VcpuRef v);
    // Hard affinity: never run outside it. Soft: preferred when possible.
    SchedError set_affinity(VcpuRef v, const CpuMask& hard, const CpuMask& soft);

    // ---- decisions (Xen: do_schedule, tick) ----
    // Charges the vCPU that ran on `pcpu` since the last pick there (wall
    // time, or `ran`: the CPU time it really consumed since that pick) and
    // answers who runs next.
    Pick pick_next(uint32_t pcpu, Nanos now, Nanos ran = kRanWallClock);
    // Charges running vCPUs up to `now`, runs the policy's periodic work and
    // returns next_tick().
    Nanos tick(Nanos now);
    // When tick must run next (kNever: nothing pending). Wakes, inserts,
    // parameter changes and picks can move it earlier (an rtds vCPU's next
    // replenishment), so re-read it after each batch of calls.
    Nanos next_tick() const { return ops_->next_tick(*this); }
    // pCPUs that must call pick_next now (preemption, wake-ups, work to
    // steal, a vCPU removed or moved away); clears the set.
    CpuMask take_resched();
    // Whether take_resched() would name a pCPU now.
    bool has_resched() const { return !resched_.empty(); }
    // Marks every pCPU for rescheduling (after a policy switch).
    void resched_all() { resched_ = pcpus_; }

    // ---- introspection (xl vcpu-list, tests, policy switching) ----
    bool vcpu_info(VcpuRef v, VcpuInfo& out) const;
    // Iterates table slots 0 .. kMaxSchedVcpus-1; false for an empty slot.
    bool vcpu_at(uint32_t slot, VcpuInfo& out) const;
    uint32_t vcpu_count() const { return nr_vcpus_; }

protected:
    struct Ops;
    Scheduler(Policy policy, const CpuMask& pcpus, const Ops& ops);
    // Protected: nobody deletes through the interface (and the core has no
    // operator delete for the freestanding link to refuse).
    ~Scheduler() = default;

    // What every policy sees of a vCPU: the generic record.
    struct Entry {
        VcpuRef ref;
        bool used = false;
        RunState state = RunState::blocked;
        uint32_t pcpu = kNoPcpu;
        CpuMask hard;
        CpuMask soft;
        Nanos runtime = 0;
    };
    struct PickResult {
        uint16_t slot = kNoSlot;
        Nanos slice = kNever;
        bool keep_stint = false; // prev continues: do not restart its stint
    };

    // ---- the policy ops ----
    // One table per policy, as Xen's struct scheduler: plain function
    // pointers, not virtual functions, so the core has no vtables — no
    // typeinfo that a -fno-rtti core cannot provide to hosted code built
    // with UBSan's vptr checks, and no __cxa_pure_virtual. A policy P
    // implements them as private members named on_<op> (befriending
    // Scheduler) and passes ops_for<P>() to the constructor.
    struct Ops {
        void (*domain_inserted)(Scheduler&, uint16_t domain);
        void (*get_domain_params)(const Scheduler&, uint16_t domain, SchedParams& out);
        SchedError (*set_domain_params)(Scheduler&, uint16_t domain, const SchedParams& p);
        SchedError (*get_vcpu_params)(const Scheduler&, uint16_t slot, SchedParams& out);
        SchedError (*set_vcpu_params)(Scheduler&, uint16_t slot, const SchedParams& p);
        void (*get_global_params)(const Scheduler&, GlobalParams& out);
        SchedError (*set_global_params)(Scheduler&, const GlobalParams& p);
        // The entry is filled in (state runnable or blocked); queue it if runnable.
        void (*vcpu_inserted)(Scheduler&, uint16_t slot, Nanos now);
        // Called before the entry is cleared: drop it from every queue.
        void (*vcpu_removing)(Scheduler&, uint16_t slot);
        // blocked -> runnable, and it is not on a pCPU.
        void (*wake)(Scheduler&, uint16_t slot, Nanos now);
        // runnable -> blocked; was_running: it is still current on its pCPU.
        void (*sleep)(Scheduler&, uint16_t slot, bool was_running);
        void (*yield)(Scheduler&, uint16_t slot);
        void (*affinity_changed)(Scheduler&, uint16_t slot);
        // Charge `ns` of run time (negative: a refund after an over-estimate).
        void (*burn)(Scheduler&, uint16_t slot, int64_t ns, Nanos now);
        // `pcpu` is free (its current vCPU, `prev`, is already off it; prev's
        // state says whether it still wants to run). Choose who runs next.
        PickResult (*pick)(Scheduler&, uint32_t pcpu, Nanos now, uint16_t prev);
        void (*tick)(Scheduler&, Nanos now);
        Nanos (*next_tick)(const Scheduler&);
    };

    // The table for policy P, from its on_* members.
    template <class P>
    static constexpr Ops ops_for() {
        using S = Scheduler;
        using SP = SchedParams;
        using GP = GlobalParams;
        return Ops{
            [](S& s, uint16_t d) { static_cast<P&>(s).on_domain_inserted(d); },
            [](const S& s, uint16_t d, SP& o) { static_cast<const P&>(s).on_get_domain_params(d, o); },
            [](S& s, uint16_t d, const SP& p) { return static_cast<P&>(s).on_set_domain_params(d, p); },
            [](const S& s, uint16_t v, SP& o) { return static_cast<const P&>(s).on_get_vcpu_params(v, o); },
            [](S& s, uint16_t v, const SP& p) { return static_cast<P&>(s).on_set_vcpu_params(v, p); },
            [](const S& s, GP& o) { static_cast<const P&>(s).on_get_global_params(o); },
            [](S& s, const GP& p) { return static_cast<P&>(s).on_set_global_params(p); },
            [](S& s, uint16_t v, Nanos now) { static_cast<P&>(s).on_vcpu_inserted(v, now); },
            [](S& s, uint16_t v) { static_cast<P&>(s).on_vcpu_removing(v); },
            [](S& s, uint16_t v, Nanos now) { static_cast<P&>(s).on_wake(v, now); },
            [](S& s, uint16_t v, bool running) { static_cast<P&>(s).on_sleep(v, running); },
            [](S& s, uint16_t v) { static_cast<P&>(s).on_yield(v); },
            [](S& s, uint16_t v) { static_cast<P&>(s).on_affinity_changed(v); },
            [](S& s, uint16_t v, int64_t ns, Nanos now) { static_cast<P&>(s).on_burn(v, ns, now); },
            [](S& s, uint32_t c, Nanos now, uint16_t prev) { return static_cast<P&>(s).on_pick(c, now, prev); },
            [](S& s, Nanos now) { static_cast<P&>(s).on_tick(now); },
            [](const S& s) { return static_cast<const P&>(s).on_next_tick(); },
        };
    }

    // ---- shared helpers for policies ----
    Entry& entry(uint16_t slot) { return vcpus_[slot]; }
    const Entry& entry(uint16_t slot) const { return vcpus_[slot]; }
    uint16_t slot_of(VcpuRef v) const; // kNoSlot when absent
    uint16_t current(uint32_t pcpu) const { return pcpu_[pcpu].curr; }
    bool idle(uint32_t pcpu) const { return pcpu_[pcpu].curr == kNoSlot; }
    Nanos stint_start(uint32_t pcpu) const { return pcpu_[pcpu].stint_start; }
    void resched(uint32_t pcpu) { resched_.set(pcpu); }
    bool resched_pending(uint32_t pcpu) const { return resched_.test(pcpu); }
    // An idle pCPU nobody has been told to wake yet, soft affinity first.
    // `free_pcpu` counts as idle and `busy_pcpu` as busy: the pCPU deciding
    // right now, before / after it has chosen. kNoPcpu when none.
    uint32_t find_idle_pcpu(uint16_t slot, uint32_t free_pcpu, uint32_t busy_pcpu = kNoPcpu) const;
    // soft & hard, or hard when they do not meet: where the vCPU prefers to run.
    CpuMask preferred(uint16_t slot) const;

private:
    struct DomainSlot {
        bool used = false;
        uint32_t max_vcpus = 0;
        uint32_t vcpus = 0;
    };
    struct PcpuSlot {
        uint16_t curr = kNoSlot;
        Nanos stint_start = 0; // when curr was picked (rate limit)
        Nanos last_charge = 0; // run time charged up to here
        Nanos charged = 0;     // charged since the last pick (wall estimate)
    };

    SchedError find(VcpuRef v, uint16_t& slot) const;
    SchedError resolve_affinity(const CpuMask& hard, const CpuMask& soft, CpuMask& hard_out,
                                CpuMask& soft_out) const;
    void charge(uint32_t pcpu, int64_t ns, Nanos now);
    void fill_info(const Entry& e, VcpuInfo& out) const;

    const Ops* ops_;
    Policy policy_;
    CpuMask pcpus_;
    CpuMask resched_;
    uint32_t nr_vcpus_ = 0;
    DomainSlot domains_[kMaxSchedDomains];
    uint16_t slots_[kMaxSchedDomains][kMaxVcpusPerDomain];
    Entry vcpus_[kMaxSchedVcpus];
    PcpuSlot pcpu_[kMaxPcpus];
};

// Moves every domain and vCPU from `from` to `to` (which must hold no
// vCPUs) as described at the top of this file; `from` is left empty. On
// failure (a vCPU's affinity outside to's host CPUs, to too small) nothing
// moves: `to` is emptied of what was added and `from` is untouched. After
// success every pCPU of `to` is marked for resched: the caller kicks all
// running vCPUs and asks `to` who runs where.
SchedError switch_policy(Scheduler& from, Scheduler& to, Nanos now);

} // namespace hv::core::sched
