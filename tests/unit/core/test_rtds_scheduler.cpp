// The RTDS-style policy on the virtual clock: every vCPU gets its budget in
// every period (EDF), no more unless extratime, hard affinity holds,
// parameters are validated.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "core/sched/rtds_scheduler.hpp"
#include "sched_sim.hpp"

using namespace hv::core::sched;
using namespace schedsim;

namespace {

std::unique_ptr<RtdsScheduler> make_rtds(uint32_t npcpus) {
    return std::make_unique<RtdsScheduler>(CpuMask::first_n(npcpus));
}

SchedParams rtds(uint32_t period_us, uint32_t budget_us, bool extratime = false) {
    SchedParams p;
    p.policy = Policy::rtds;
    p.rtds = RtdsParams{period_us, budget_us, extratime};
    return p;
}

void add_domain(Scheduler& s, uint16_t dom, uint32_t vcpus, const SchedParams& p, CpuMask hard = {},
                bool runnable = true) {
    REQUIRE(s.insert_domain(dom, vcpus) == SchedError::ok);
    REQUIRE(s.set_domain_params(dom, p) == SchedError::ok);
    VcpuSetup vs;
    vs.hard = hard;
    vs.runnable = runnable;
    for (uint16_t v = 0; v < vcpus; ++v) REQUIRE(s.insert_vcpu({dom, v}, vs, 0) == SchedError::ok);
}

// Runnable rtds vCPUs may run while they have budget (or extratime).
void rtds_eligibility(SchedSim& sim, const RtdsScheduler& s) {
    sim.eligible = [&s](VcpuRef v) {
        RtdsVcpuView view;
        SchedParams p;
        return s.view(v, view) && s.get_vcpu_params(v, p) == SchedError::ok &&
               (view.budget_left > 0 || p.rtds.extratime);
    };
}

// CPU time a vCPU got inside [from, to).
Nanos served(const std::vector<Interval>& iv, Nanos from, Nanos to) {
    Nanos sum = 0;
    for (const Interval& i : iv) {
        const Nanos a = std::max(i.start, from);
        const Nanos b = std::min(i.end, to);
        if (b > a) sum += b - a;
    }
    return sum;
}

double share(Nanos part, Nanos whole) { return static_cast<double>(part) / static_cast<double>(whole); }

void check_invariants(const SchedSim& sim) {
    CHECK(sim.affinity_violations == 0);
    CHECK(sim.double_runs == 0);
    CHECK(sim.zero_slices == 0);
    CHECK(sim.stuck == 0);
    CHECK(sim.conservation_violations == 0);
}

} // namespace

TEST_CASE("rtds: defaults are Xen's, 4000 us every 10000 us", "[core][sched][rtds]") {
    auto s = make_rtds(1);
    REQUIRE(s->insert_domain(0, 1) == SchedError::ok);
    SchedParams p;
    REQUIRE(s->get_domain_params(0, p) == SchedError::ok);
    CHECK(p.policy == Policy::rtds);
    CHECK(p.rtds.period_us == 10000);
    CHECK(p.rtds.budget_us == 4000);
    CHECK_FALSE(p.rtds.extratime);
    GlobalParams g;
    s->get_global_params(g);
    CHECK(g.policy == Policy::rtds);
}

TEST_CASE("rtds: a lone vCPU gets exactly its budget in every period", "[core][sched][rtds]") {
    auto s = make_rtds(1);
    add_domain(*s, 0, 1, rtds(10000, 4000));
    SchedSim sim(*s);
    rtds_eligibility(sim, *s);
    sim.add({0, 0});
    sim.run_for(2 * kSec);
    CHECK(share(sim.ran({0, 0}), 2 * kSec) == Approx(0.4).epsilon(1e-9));
    const auto& iv = sim.intervals({0, 0});
    for (Nanos start = 0; start < 2 * kSec; start += 10 * kMs) CHECK(served(iv, start, start + 10 * kMs) == 4 * kMs);
    check_invariants(sim);
}

TEST_CASE("rtds: EDF meets every deadline of a set that fits one pCPU", "[core][sched][rtds]") {
    // Utilisation 0.4 + 0.3 + 0.25 = 0.95, periods 5, 10, 20 ms.
    auto s = make_rtds(1);
    add_domain(*s, 0, 1, rtds(5000, 2000));
    add_domain(*s, 1, 1, rtds(10000, 3000));
    add_domain(*s, 2, 1, rtds(20000, 5000));
    SchedSim sim(*s);
    rtds_eligibility(sim, *s);
    for (uint16_t d = 0; d < 3; ++d) sim.add({d, 0});
    sim.run_for(2 * kSec);
    const Nanos period[3] = {5 * kMs, 10 * kMs, 20 * kMs};
    const Nanos budget[3] = {2 * kMs, 3 * kMs, 5 * kMs};
    for (uint16_t d = 0; d < 3; ++d) {
        const auto& iv = sim.intervals({d, 0});
        uint32_t missed = 0;
        for (Nanos start = 0; start < 2 * kSec; start += period[d])
            if (served(iv, start, start + period[d]) != budget[d]) ++missed;
        CHECK(missed == 0);
    }
    CHECK(share(sim.busy(0), 2 * kSec) == Approx(0.95).epsilon(1e-9));
    check_invariants(sim);
}

TEST_CASE("rtds: the earlier deadline runs first", "[core][sched][rtds]") {
    auto s = make_rtds(1);
    add_domain(*s, 0, 1, rtds(20000, 1000)); // deadline 20 ms
    add_domain(*s, 1, 1, rtds(5000, 1000));  // deadline 5 ms
    const Pick k = s->pick_next(0, 0);
    CHECK(k.vcpu == VcpuRef{1, 0});
    CHECK(k.slice == 1 * kMs); // its budget
    CHECK(s->pick_next(0, 1 * kMs).vcpu == VcpuRef{0, 0});
    // Both out of budget: the pCPU idles until the next period.
    CHECK(s->pick_next(0, 2 * kMs).idle);
    CHECK(s->next_tick() == 5 * kMs);
    s->tick(5 * kMs);
    CHECK(s->take_resched().test(0));
    CHECK(s->pick_next(0, 5 * kMs).vcpu == VcpuRef{1, 0});
}

TEST_CASE("rtds: extratime lets a vCPU use otherwise idle time", "[core][sched][rtds]") {
    auto s = make_rtds(1);
    add_domain(*s, 0, 1, rtds(10000, 2000, true));
    add_domain(*s, 1, 1, rtds(10000, 3000));
    SchedSim sim(*s);
    rtds_eligibility(sim, *s);
    sim.add({0, 0});
    sim.add({1, 0});
    sim.run_for(1 * kSec);
    // 1 keeps exactly its reservation; 0 gets its own and all the rest.
    CHECK(share(sim.ran({1, 0}), 1 * kSec) == Approx(0.3).epsilon(1e-9));
    CHECK(share(sim.ran({0, 0}), 1 * kSec) == Approx(0.7).epsilon(1e-9));
    const auto& iv = sim.intervals({1, 0});
    for (Nanos start = 0; start < 1 * kSec; start += 10 * kMs) CHECK(served(iv, start, start + 10 * kMs) == 3 * kMs);
    check_invariants(sim);
}

TEST_CASE("rtds: a vCPU waking after its deadline starts a fresh period", "[core][sched][rtds]") {
    auto s = make_rtds(1);
    add_domain(*s, 0, 1, rtds(10000, 4000), CpuMask{}, false);
    RtdsVcpuView v;
    REQUIRE(s->view({0, 0}, v));
    CHECK(v.deadline == 10 * kMs);
    REQUIRE(s->wake({0, 0}, 37 * kMs) == SchedError::ok);
    REQUIRE(s->view({0, 0}, v));
    CHECK(v.deadline == 40 * kMs); // on its period grid
    CHECK(v.budget_left == 4 * kMs);
    const Pick k = s->pick_next(0, 37 * kMs);
    CHECK(k.vcpu == VcpuRef{0, 0});
    CHECK(k.slice == 3 * kMs); // cut at the deadline, where the budget refills
}

TEST_CASE("rtds: hard affinity holds and budgeted work spreads over pCPUs", "[core][sched][rtds][affinity]") {
    // Deadlines meet every 20 ms; the pinned vCPUs win those ties, so EDF
    // lets them preempt the free ones on their pCPU.
    auto s = make_rtds(2);
    add_domain(*s, 0, 2, rtds(20000, 12000));                   // may run anywhere
    add_domain(*s, 1, 1, rtds(10000, 6000), CpuMask::of(1));    // pinned to 1
    add_domain(*s, 2, 1, rtds(4000, 1000), CpuMask::of(0));     // pinned to 0
    SchedSim sim(*s);
    rtds_eligibility(sim, *s);
    sim.add({0, 0});
    sim.add({0, 1}, Workload{700 * kUs, 3 * kMs});
    sim.add({1, 0});
    sim.add({2, 0});
    sim.run_for(2 * kSec);
    CHECK(sim.ran_on({1, 0}, 0) == 0);
    CHECK(sim.ran_on({2, 0}, 1) == 0);
    // Demand fits: everyone gets its full budget.
    CHECK(share(sim.ran({0, 0}), 2 * kSec) == Approx(0.6).margin(0.005));
    CHECK(share(sim.ran({1, 0}), 2 * kSec) == Approx(0.6).margin(0.005));
    CHECK(share(sim.ran({2, 0}), 2 * kSec) == Approx(0.25).margin(0.005));
    check_invariants(sim);
}

TEST_CASE("rtds: per-vCPU parameters override the domain's", "[core][sched][rtds]") {
    auto s = make_rtds(2);
    add_domain(*s, 0, 2, rtds(10000, 2000));
    REQUIRE(s->set_vcpu_params({0, 1}, rtds(10000, 5000)) == SchedError::ok);
    SchedParams p;
    REQUIRE(s->get_vcpu_params({0, 1}, p) == SchedError::ok);
    CHECK(p.rtds.budget_us == 5000);
    REQUIRE(s->get_vcpu_params({0, 0}, p) == SchedError::ok);
    CHECK(p.rtds.budget_us == 2000);
    SchedSim sim(*s);
    rtds_eligibility(sim, *s);
    sim.add({0, 0});
    sim.add({0, 1});
    sim.run_for(1 * kSec);
    CHECK(share(sim.ran({0, 0}), 1 * kSec) == Approx(0.2).margin(0.005));
    CHECK(share(sim.ran({0, 1}), 1 * kSec) == Approx(0.5).margin(0.005));
    // Setting the domain again resets every vCPU.
    REQUIRE(s->set_domain_params(0, rtds(10000, 1000)) == SchedError::ok);
    REQUIRE(s->get_vcpu_params({0, 1}, p) == SchedError::ok);
    CHECK(p.rtds.budget_us == 1000);
    check_invariants(sim);
}

TEST_CASE("rtds: bad parameters are refused with their own error", "[core][sched][rtds][bad-input]") {
    auto s = make_rtds(1);
    REQUIRE(s->insert_domain(0, 1) == SchedError::ok);
    CHECK(s->set_domain_params(0, rtds(99, 99)) == SchedError::bad_period);
    CHECK(s->set_domain_params(0, rtds(10000001, 4000)) == SchedError::bad_period);
    CHECK(s->set_domain_params(0, rtds(10000, 10001)) == SchedError::bad_budget);
    CHECK(s->set_domain_params(0, rtds(10000, 99)) == SchedError::bad_budget);
    CHECK(s->set_domain_params(0, rtds(10000, 10000)) == SchedError::ok);
    SchedParams credit;
    credit.policy = Policy::credit;
    CHECK(s->set_domain_params(0, credit) == SchedError::wrong_policy);
    REQUIRE(s->insert_vcpu({0, 0}, VcpuSetup{}, 0) == SchedError::ok);
    CHECK(s->set_vcpu_params({0, 0}, rtds(1000, 2000)) == SchedError::bad_budget);
    VcpuSetup out;
    out.hard = CpuMask::of(1);
    REQUIRE(s->remove_vcpu({0, 0}) == SchedError::ok);
    CHECK(s->insert_vcpu({0, 0}, out, 0) == SchedError::bad_cpu);
}
