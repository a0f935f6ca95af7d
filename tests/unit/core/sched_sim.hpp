// SchedSim: drives a core Scheduler on a virtual clock the way a platform
// does — pick_next when a slice ends, a vCPU blocks or take_resched() says
// so, tick when next_tick() comes — with scripted vCPU workloads (CPU-bound,
// or run a burst then block for a while). It records who ran where and for
// how long, wake-up latencies, and counts broken invariants (a vCPU outside
// its hard affinity, on two pCPUs at once, an idle pCPU while work it may
// run waits), so scheduler tests state shares and properties, not steps.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "core/sched/scheduler.hpp"

namespace schedsim {

using namespace hv::core::sched;

constexpr Nanos kUs = 1000;
constexpr Nanos kMs = 1000 * kUs;
constexpr Nanos kSec = 1000 * kMs;

struct Workload {
    Nanos burst = 0; // 0: always runnable; else run this long, then block
    Nanos sleep = 0; // blocked this long before waking again
};

struct Interval {
    Nanos start = 0;
    Nanos end = 0;
    uint32_t pcpu = 0;
};

class SchedSim {
public:
    // `start`: the scheduler's clock now (a sim may take over mid-run).
    explicit SchedSim(Scheduler& s, Nanos start = 0) : s_(s), now_(start) {}

    // Follow a vCPU already inserted into the scheduler.
    void add(VcpuRef v, Workload w = {}) {
        V& x = vs_[key(v)];
        x.ref = v;
        x.w = w;
        x.burst_left = w.burst;
    }

    Nanos now() const { return now_; }
    void run_for(Nanos d) { run_until(now_ + d); }

    void run_until(Nanos end) {
        settle();
        int same_time = 0;
        while (now_ < end) {
            Nanos t = std::min(end, s_.next_tick());
            for (auto& [p, pc] : ps_) {
                if (!pc.busy) continue;
                t = std::min(t, pc.slice_end);
                const V& x = vs_.at(pc.vcpu);
                if (x.w.burst != 0) t = std::min(t, now_ + x.burst_left);
            }
            for (auto& [k, x] : vs_)
                if (x.sleeping) t = std::min(t, x.wake_at);
            t = std::max(t, now_);
            same_time = t == now_ ? same_time + 1 : 0;
            if (same_time > 1000) { // the scheduler makes no progress
                ++stuck;
                return;
            }
            advance(t);
            step();
        }
    }

    // Drain take_resched() after events the test caused itself.
    void settle() {
        reschedule(CpuMask{});
        check_conservation();
    }

    // ---- what happened ----
    Nanos ran(VcpuRef v) const { return vs_.at(key(v)).ran; }
    Nanos ran_on(VcpuRef v, uint32_t p) const {
        const auto& on = vs_.at(key(v)).on;
        auto it = on.find(p);
        return it == on.end() ? 0 : it->second;
    }
    Nanos busy(uint32_t p) const {
        auto it = ps_.find(p);
        return it == ps_.end() ? 0 : it->second.busy_total;
    }
    bool running(VcpuRef v, uint32_t& pcpu) const {
        for (auto& [p, pc] : ps_)
            if (pc.busy && pc.vcpu == key(v)) return pcpu = p, true;
        return false;
    }
    const std::vector<Nanos>& wake_latencies(VcpuRef v) const { return vs_.at(key(v)).latencies; }
    const std::vector<Interval>& intervals(VcpuRef v) const { return vs_.at(key(v)).intervals; }

    // Invariant counters (tests CHECK them at 0).
    uint64_t affinity_violations = 0;
    uint64_t double_runs = 0;
    uint64_t zero_slices = 0;
    uint64_t conservation_violations = 0;
    uint64_t stuck = 0;
    uint64_t picks = 0;

    // Which runnable vCPUs may run at all right now (credit: not parked;
    // rtds: budget left or extratime). Default: every runnable one.
    std::function<bool(VcpuRef)> eligible = [](VcpuRef) { return true; };
    bool check_work_conservation = true;
    // Called after every pick, e.g. to record decisions.
    std::function<void(uint32_t, const Pick&, Nanos)> on_pick;

private:
    struct V {
        VcpuRef ref;
        Workload w;
        Nanos ran = 0;
        std::map<uint32_t, Nanos> on;
        Nanos burst_left = 0;
        bool sleeping = false; // blocked by its workload
        Nanos wake_at = kNever;
        Nanos woke_at = kNever; // a wake-up waiting to be run (latency)
        std::vector<Nanos> latencies;
        std::vector<Interval> intervals;
    };
    struct P {
        bool busy = false;
        uint32_t vcpu = 0;
        Nanos since = 0;
        Nanos slice_end = kNever;
        Nanos busy_total = 0;
    };

    static uint32_t key(VcpuRef v) { return uint32_t{v.domain} << 16 | v.vcpu; }

    void advance(Nanos t) {
        const Nanos dt = t - now_;
        for (auto& [p, pc] : ps_) {
            if (!pc.busy || dt == 0) continue;
            V& x = vs_.at(pc.vcpu);
            x.ran += dt;
            x.on[p] += dt;
            pc.busy_total += dt;
            if (x.w.burst != 0) x.burst_left -= std::min(x.burst_left, dt);
        }
        now_ = t;
    }

    // Everything due at now_: bursts ending (block), wake-ups, the tick,
    // slices ending; then the pCPUs that must decide do.
    void step() {
        CpuMask need;
        for (auto& [p, pc] : ps_) {
            if (!pc.busy) continue;
            V& x = vs_.at(pc.vcpu);
            if (x.w.burst != 0 && x.burst_left == 0) {
                s_.sleep(x.ref, now_);
                x.sleeping = true;
                x.wake_at = now_ + x.w.sleep;
                x.burst_left = x.w.burst;
                need.set(p);
            }
        }
        for (auto& [k, x] : vs_) {
            if (!x.sleeping || x.wake_at > now_) continue;
            x.sleeping = false;
            x.wake_at = kNever;
            x.woke_at = now_;
            s_.wake(x.ref, now_);
        }
        if (now_ >= s_.next_tick()) s_.tick(now_);
        for (auto& [p, pc] : ps_)
            if (pc.busy && pc.slice_end <= now_) need.set(p);
        reschedule(need);
        check_conservation();
    }

    void reschedule(CpuMask need) {
        for (int round = 0; round < 64; ++round) {
            need = need | s_.take_resched();
            if (need.empty()) return;
            for (uint32_t p = need.first(); p < kMaxPcpus; p = need.next_from(p + 1)) pick(p);
            need = CpuMask{};
        }
    }

    void pick(uint32_t p) {
        P& pc = ps_[p];
        if (pc.busy) close(p, pc);
        const Pick k = s_.pick_next(p, now_);
        ++picks;
        if (on_pick) on_pick(p, k, now_);
        pc.busy = !k.idle;
        pc.slice_end = kNever;
        if (k.idle) return;
        const uint32_t kv = key(k.vcpu);
        for (auto& [q, other] : ps_)
            if (q != p && other.busy && other.vcpu == kv) ++double_runs;
        VcpuInfo info;
        if (!s_.vcpu_info(k.vcpu, info) || !info.hard.test(p)) ++affinity_violations;
        if (k.slice == 0) ++zero_slices;
        pc.vcpu = kv;
        pc.since = now_;
        pc.slice_end = k.slice >= kNever - now_ ? kNever : now_ + k.slice;
        V& x = vs_[kv];
        x.ref = k.vcpu;
        if (x.woke_at != kNever) {
            x.latencies.push_back(now_ - x.woke_at);
            x.woke_at = kNever;
        }
    }

    void close(uint32_t p, P& pc) {
        V& x = vs_.at(pc.vcpu);
        if (now_ > pc.since) {
            if (!x.intervals.empty() && x.intervals.back().end == pc.since && x.intervals.back().pcpu == p)
                x.intervals.back().end = now_;
            else
                x.intervals.push_back(Interval{pc.since, now_, p});
        }
        pc.since = now_;
    }

    // No pCPU idles while a runnable vCPU that may run there waits.
    void check_conservation() {
        if (!check_work_conservation) return;
        const CpuMask all = s_.pcpus();
        for (uint32_t p = all.first(); p < kMaxPcpus; p = all.next_from(p + 1)) {
            if (ps_[p].busy) continue;
            VcpuInfo info;
            for (uint32_t slot = 0; slot < kMaxSchedVcpus; ++slot)
                if (s_.vcpu_at(slot, info) && info.state == RunState::runnable && info.hard.test(p) &&
                    eligible(info.ref))
                    ++conservation_violations;
        }
    }

    Scheduler& s_;
    Nanos now_ = 0;
    std::map<uint32_t, V> vs_;
    std::map<uint32_t, P> ps_;
};

} // namespace schedsim
