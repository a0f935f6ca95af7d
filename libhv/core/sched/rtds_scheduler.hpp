// RtdsScheduler: a real-time deferrable-server policy in the manner of
// Xen's RTDS (xen/common/sched/rt.c), behind the same Scheduler interface.
//
// - Each vCPU has a budget and a period (microseconds; defaults 4000 and
//   10000 as Xen). Within every period it may run for its budget; at the
//   period boundary (its deadline) the budget is refilled and the deadline
//   moves one period on. Per-domain parameters set every vCPU of the domain
//   (and new ones); per-vCPU parameters override one vCPU (xl sched-rtds -v).
// - Global EDF: one run queue for all pCPUs, ordered by deadline; a vCPU
//   with budget left always goes before one without. A pCPU runs the first
//   queued vCPU its hard affinity allows; soft affinity only picks which
//   idle pCPU a waking vCPU is sent to.
// - Budget is a hard reservation: a vCPU that used it waits for its next
//   period, even on an idle host, unless `extratime` is set, in which case
//   it may keep running after every vCPU with budget (Xen 4.10's extratime).
// - A vCPU that wakes after its deadline starts a fresh period (full budget,
//   deadline aligned to its old period grid). No admission control: an
//   overloaded set misses deadlines, earliest first served.
// - Known limit (shared with Xen's RTDS): global EDF with hard affinity is
//   not optimal. A free vCPU running on the only pCPU a pinned vCPU may use
//   is not migrated to make room unless the pinned one's deadline is
//   earlier (or equal: ties go to the vCPU with fewer pCPUs), so a pinned
//   vCPU can miss budget that a smarter assignment would have found.
// - Slices end at budget exhaustion or the deadline, whichever is first;
//   next_tick() is the earliest deadline of a runnable vCPU, when a
//   replenishment may preempt someone.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/sched/scheduler.hpp"

namespace hv::core::sched {

struct RtdsVcpuView {
    Nanos budget_left = 0;
    Nanos deadline = 0;
};

class RtdsScheduler final : public Scheduler {
public:
    explicit RtdsScheduler(const CpuMask& pcpus);

    bool view(VcpuRef v, RtdsVcpuView& out) const;

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
        Nanos period = 0;
        Nanos budget = 0;
        Nanos left = 0;     // budget left in this period
        Nanos deadline = 0; // end of this period
        bool extratime = false;
        bool yielding = false;
        bool queued = false;
        uint16_t next = kNoSlot;
        uint16_t prev = kNoSlot;
    };

    static SchedError validate(const RtdsParams& p);
    void apply(uint16_t slot, const RtdsParams& p);
    bool higher(uint16_t a, uint16_t b) const;
    bool wants_queue(uint16_t slot) const;
    void enqueue(uint16_t slot);
    void dequeue(uint16_t slot);
    bool replenish(uint16_t slot, Nanos now);
    void replenish_all(Nanos now);
    void tickle(uint16_t slot, uint32_t deciding = kNoPcpu);
    void sync(uint16_t slot);

    RtdsParams dom_params_[kMaxSchedDomains];
    Vcpu v_[kMaxSchedVcpus];
    uint16_t head_ = kNoSlot;
};

} // namespace hv::core::sched
