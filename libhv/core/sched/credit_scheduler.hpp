// CreditScheduler: Xen's credit (credit1) algorithm behind the Scheduler
// interface; our own code after xen/common/sched/credit.c and
// docs/features/sched_credit.pandoc.
//
// - Credit is CPU time in nanoseconds. Every accounting period (one time
//   slice, 30 ms by default) the period's CPU time is shared out among the
//   vCPUs that wanted the CPU, in proportion to their domain's weight
//   (1..65535, 256 by default). Running burns credit ns for ns.
// - Priorities: BOOST (just woke from block with credit left: runs before
//   everything, so I/O-bound vCPUs get low latency; demoted at the next
//   tick or when it leaves the pCPU) > UNDER (credit >= 0) > OVER. Within
//   UNDER and OVER the vCPU with more credit goes first (Xen keeps FIFO
//   order there; ordering by credit keeps weighted shares even while every
//   competitor is OVER).
// - Cap (percent of one pCPU, 0 = none, up to 100 x max_vcpus): a capped
//   domain earns at most cap% of a pCPU per period, and a capped vCPU whose
//   credit goes negative is parked (queued nowhere) until an accounting
//   period brings it back to >= 0. Its slices end when its credit does.
// - Shares are water-filled: a vCPU earns at most one slice per period and
//   banks at most one slice; what it cannot take goes to the others by
//   weight, so unused credit is never lost while someone is short of it.
//   The period's CPU time is the number of pCPUs the active vCPUs can reach
//   (union of their hard affinities, at most one per vCPU) x the slice, so
//   two domains pinned to one pCPU of a larger host still split that pCPU
//   by weight. Debt is floored at one slice, so a host stall charged as run
//   time does not starve a vCPU for long afterwards.
// - One run queue per pCPU. An idle pCPU, or one with only OVER work,
//   steals the best vCPU it may run (hard affinity) from the other queues,
//   soft-affine vCPUs first: work-conserving. Waking vCPUs go to an idle
//   pCPU in their soft, then hard affinity, else stay where they last ran
//   (or the shortest soft-affine queue), and preempt a lower priority.
// - Rate limit (1 ms by default, 0 = off): a running vCPU is not preempted
//   before it has run that long, unless it blocks, yields or leaves its
//   hard affinity.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/sched/scheduler.hpp"

namespace hv::core::sched {

enum class CreditPriority : int8_t { over = 0, under = 1, boost = 2 };

struct CreditVcpuView {
    int64_t credit = 0; // ns
    CreditPriority priority = CreditPriority::under;
    bool parked = false;
};

class CreditScheduler final : public Scheduler {
public:
    explicit CreditScheduler(const CpuMask& pcpus);

    // The policy's own view of a vCPU (tests, debugging, `hvctl`).
    bool view(VcpuRef v, CreditVcpuView& out) const;

private:
    friend class Scheduler; // ops_for<> calls the on_* ops below
    static const Ops kOps;

    void on_domain_inserted(uint16_t domain);
    void on_get_domain_params(uint16_t domain, SchedParams& out) const;
    SchedError on_set_domain_params(uint16_t domain, const SchedParams& p);
    SchedError on_get_vcpu_params(uint16_t slot, SchedParams& out) const;
    SchedError on_set_vcpu_params(uint16_t slot, const SchedParams& p);
    void on_get_global_params(GlobalParams& out) const;
    SchedError on_set_global_params(const GlobalParams& p);
    void on_vcpu_inserted(uint16_t slot, Nanos now);
    void on_vcpu_removing(uint16_t slot);
    void on_wake(uint16_t slot, Nanos now);
    void on_sleep(uint16_t slot, bool was_running);
    void on_yield(uint16_t slot);
    void on_affinity_changed(uint16_t slot);
    void on_burn(uint16_t slot, int64_t ns, Nanos now);
    PickResult on_pick(uint32_t pcpu, Nanos now, uint16_t prev);
    void on_tick(Nanos now);
    Nanos on_next_tick() const;

    struct Vcpu {
        int64_t credit = 0;
        CreditPriority pri = CreditPriority::under;
        bool parked = false;
        bool yielding = false;
        bool ran = false; // burned credit since the last accounting
        uint32_t queue = kNoPcpu; // the run queue it is on, if any
        uint16_t next = kNoSlot;
        uint16_t prev = kNoSlot;
    };

    Nanos tslice() const { return Nanos{globals_.tslice_us} * 1000; }
    const CreditParams& params_of(uint16_t slot) const { return dom_params_[entry(slot).ref.domain]; }
    bool wants_queue(uint16_t slot) const;
    bool before(uint16_t a, uint16_t b) const;
    void enqueue(uint16_t slot, uint32_t pcpu);
    void dequeue(uint16_t slot);
    uint32_t place(uint16_t slot, uint32_t free_pcpu) const;
    void tickle(uint16_t slot, uint32_t deciding = kNoPcpu);
    void sync(uint16_t slot);
    void refresh(uint16_t slot);
    void resort();
    uint16_t steal(uint32_t pcpu, int floor_pri) const;
    bool stealable_for(uint32_t pcpu) const;
    void check_preemption();
    void start_clock(Nanos now);
    void account(Nanos now);
    void share_out(int64_t pool);

    CreditGlobals globals_;
    bool clock_started_ = false;
    Nanos next_tick_ = 0;
    Nanos next_acct_ = 0;
    int64_t stolen_ = 0; // refunded run time since the last accounting
    CreditParams dom_params_[kMaxSchedDomains];
    Vcpu v_[kMaxSchedVcpus];
    uint16_t head_[kMaxPcpus];
    uint16_t qlen_[kMaxPcpus] = {};
    // accounting scratch (members, not stack: ring-0 stacks are small)
    int64_t gain_[kMaxSchedVcpus] = {};
    int64_t limit_[kMaxSchedVcpus] = {};
    bool active_[kMaxSchedVcpus] = {};
    bool done_[kMaxSchedVcpus] = {};
    uint16_t active_in_[kMaxSchedDomains] = {};
    uint16_t order_[kMaxSchedVcpus] = {};
};

} // namespace hv::core::sched
