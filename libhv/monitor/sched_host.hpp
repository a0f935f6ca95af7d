// SchedHost: the host side of vCPU scheduling. It runs one core scheduler
// (core/sched: credit or rtds, switchable live) for every domain on the
// host and carries out its decisions on Linux threads: a vCPU thread
// enters the guest only while it holds a grant for a host CPU, its thread
// is bound to that CPU, and at the end of its slice (or when a waking vCPU
// preempts it) the grant is taken back and the thread kicked out of the
// guest. Run time is what each thread really got: the time it held its
// pCPU less the time Linux kept it waiting on a run queue
// (/proc/PID/task/TID/schedstat), so time the host gave to other work is
// not charged to the vCPU.
//
// Domains reach it through a SchedPage (sched_page.hpp): hvd maps each
// domain process's page; an embedded Monitor hands over its own. One
// thread per SchedHost makes every decision; control calls take the same
// lock and ring the bell so the thread acts on them at once.
//
// Enforcement is cooperative: hv's own vCPU loop honours grants. A domain
// process that has been taken over could ignore them; that is outside
// what this guards (hvd still charges it its real CPU time).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>

#include "config/domain_config.hpp"
#include "core/sched/credit_scheduler.hpp"
#include "core/sched/rtds_scheduler.hpp"
#include "hv/result.hpp"
#include "monitor/sched_page.hpp"
#include "monitor/shared_mapping.hpp"

namespace hv::sched {

using core::sched::CpuMask;

// A domain as the scheduler takes it in (from its config: maxvcpus,
// cpu_weight, cap, cpus, cpus_soft).
struct DomainSched {
    uint32_t max_vcpus = 1;
    std::optional<uint32_t> weight; // credit; unset: the default
    std::optional<uint32_t> cap;    // credit; unset: none
    // Hard / soft affinity: empty = none given, one mask = every vCPU,
    // more = per vCPU (vCPUs past the end: no affinity). An empty mask
    // means every host CPU.
    std::vector<CpuMask> hard;
    std::vector<CpuMask> soft;
};

// What a domain config asks of the scheduler (maxvcpus, cpu_weight, cap,
// cpus, cpus_soft). Its values are range-checked by check_creatable; the
// host set by SchedHost::check.
DomainSched domain_sched(const config::DomainConfig& cfg);

// One row of `vcpu-list`.
struct VcpuRow {
    uint32_t domid = 0;
    uint32_t vcpu = 0;
    bool online = false;
    core::sched::RunState state = core::sched::RunState::blocked;
    uint32_t pcpu = core::sched::kNoPcpu; // where it runs or last ran
    uint64_t runtime_ns = 0;
    CpuMask hard; // empty: every host CPU
    CpuMask soft; // empty: no preference
};

// A mask's CPUs as a bit set (CPU n is bit n; masks hold 64 CPUs).
uint64_t cpu_bits(const CpuMask& m);
CpuMask cpu_mask_of(uint64_t bits);

class SchedHost {
public:
    struct Options {
        core::sched::Policy policy = core::sched::Policy::credit;
        CpuMask pcpus; // empty: every CPU this process may run on
    };

    // Starts the scheduling thread; `bell` must outlive the SchedHost.
    static Result<std::unique_ptr<SchedHost>> start(const Options& options, SchedBell& bell,
                                                    std::shared_ptr<spdlog::logger> log);
    ~SchedHost(); // releases every page (its vCPUs run unscheduled), joins the thread
    SchedHost(const SchedHost&) = delete;
    SchedHost& operator=(const SchedHost&) = delete;

    // The host CPUs given to hv, as Linux numbers them.
    CpuMask pcpus() const { return pcpus_; }
    // The CPUs this process may run on (the default host set).
    static CpuMask process_cpus();

    // Whether a domain with this setup could be attached now: parameters in
    // range, CPUs inside the host set, room in the tables. The message
    // names the value and the valid range.
    Result<void> check(const DomainSched& d) const;
    // Schedules the vCPUs of `page` as domain `domid` (process `pid` holds
    // their threads). `keep` owns the page's memory (a mapping, a client):
    // held until detach(), so the page cannot vanish under the scheduler.
    // `mapping`, when the page is a file shared with another process, is
    // watched: a page whose file that process shrinks (SharedMapping's
    // poisoned()) is detached at the next pass, with a warning.
    Result<void> attach(uint32_t domid, std::shared_ptr<void> keep, SchedPage& page, pid_t pid, const DomainSched& d,
                        const SharedMapping* mapping = nullptr);
    // Stops scheduling it: grants cleared, its vCPUs run unscheduled.
    void detach(uint32_t domid);
    bool attached(uint32_t domid) const;

    // ---- control (xl sched-credit, sched-rtds, vcpu-pin, vcpu-list) ----
    core::sched::Policy policy() const;
    // Live: every vCPU moves with its state, affinity and run time; the
    // domains' parameters are reset to the new policy's defaults (those
    // of the old policy mean nothing to it). Switching to the current
    // policy changes nothing.
    Result<void> switch_policy(core::sched::Policy to);
    Result<core::sched::SchedParams> domain_params(uint32_t domid) const;
    Result<void> set_domain_params(uint32_t domid, const core::sched::SchedParams& p);
    core::sched::GlobalParams globals() const;
    Result<void> set_globals(const core::sched::GlobalParams& g);
    // vcpu: one vCPU, or every vCPU when unset. Unset masks are kept; an
    // empty mask means every host CPU.
    Result<void> pin(uint32_t domid, std::optional<uint32_t> vcpu, std::optional<CpuMask> hard,
                     std::optional<CpuMask> soft);
    // Every attached domain's vCPUs (or one domain's), by domid then vCPU.
    std::vector<VcpuRow> vcpus(std::optional<uint32_t> domid = std::nullopt) const;

private:
    struct Vcpu {
        bool inserted = false; // from its first start until the domain leaves
        bool offline = false;  // taken down (vcpu_op down): asleep, its credit and budget kept
        bool want = false;
        uint32_t yields = 0;
        int32_t tid = 0;
        uint32_t granted = core::sched::kNoPcpu; // the pCPU its grant is for
        core::sched::Nanos decided_at = 0;       // the last decision that left it running
        uint64_t delay_at = 0;                   // its thread's run-queue wait then
    };
    struct Channel {
        uint32_t domid = 0;
        uint16_t slot = 0;
        SchedPage* page = nullptr;
        std::shared_ptr<void> keep; // owns *page
        const SharedMapping* mapping = nullptr; // *page's file, when shared (kept alive by keep)
        pid_t pid = 0;
        DomainSched setup;
        std::vector<Vcpu> v;
    };
    struct Pcpu {
        std::optional<core::sched::VcpuRef> cur;
        core::sched::Nanos slice_end = core::sched::kNever;
    };

    SchedHost(const Options& options, SchedBell& bell, std::shared_ptr<spdlog::logger> log);
    core::sched::Scheduler& sched() { return *active_; }
    const core::sched::Scheduler& sched() const { return *active_; }
    // A fresh instance of policy p in its holder (the interface has no
    // public destructor: nobody deletes through it).
    core::sched::Scheduler& make(core::sched::Policy p);
    Result<void> check_locked(const DomainSched& d) const;
    Result<void> apply_params_locked(uint16_t slot, const DomainSched& d);
    Channel* channel(uint32_t domid);
    const Channel* channel(uint32_t domid) const;
    void main();
    core::sched::Nanos pass(core::sched::Nanos now);
    void sync(Channel& c, core::sched::Nanos now);
    void decide(uint32_t pcpu, core::sched::Nanos now);
    void grant(Channel& c, uint32_t vcpu, uint32_t pcpu);
    void revoke(Channel& c, uint32_t vcpu);
    void drop_vcpu(Channel& c, uint32_t vcpu);
    void release(Channel& c);
    void poke();

    SchedBell& bell_;
    std::shared_ptr<spdlog::logger> log_;
    const CpuMask pcpus_;

    mutable std::mutex mu_;
    std::unique_ptr<core::sched::CreditScheduler> credit_;
    std::unique_ptr<core::sched::RtdsScheduler> rtds_;
    core::sched::Scheduler* active_ = nullptr; // one of the two
    std::map<uint32_t, Channel> channels_;   // by domid
    std::vector<uint32_t> slot_owner_;       // domain slot -> domid (0: free)
    std::vector<Pcpu> pcpu_;                 // by Linux CPU number
    uint32_t reserved_vcpus_ = 0;            // sum of attached domains' max_vcpus
    bool stop_ = false;
    uint64_t poisonings_seen_ = 0; // SharedMapping::poison_count() at the last look
    std::thread thread_;
};

// "credit" or "rtds" (xl's names); Errc::invalid_argument naming the choices.
Result<core::sched::Policy> parse_policy(std::string_view name);

} // namespace hv::sched
