// The credit scheduler on the virtual clock: weights, caps, BOOST, hard and
// soft affinity, work conservation, yield, parameter validation. Shares are
// measured by tests/unit/core/sched_sim.hpp over seconds of virtual time.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/sched/credit_scheduler.hpp"
#include "sched_sim.hpp"

using namespace hv::core::sched;
using namespace schedsim;

namespace {

std::unique_ptr<CreditScheduler> make_credit(uint32_t npcpus) {
    return std::make_unique<CreditScheduler>(CpuMask::first_n(npcpus));
}

SchedParams credit(uint32_t weight, uint32_t cap = 0) {
    SchedParams p;
    p.policy = Policy::credit;
    p.credit.weight = weight;
    p.credit.cap = cap;
    return p;
}

VcpuSetup setup(CpuMask hard = {}, CpuMask soft = {}, bool runnable = true) {
    VcpuSetup s;
    s.hard = hard;
    s.soft = soft;
    s.runnable = runnable;
    return s;
}

// A domain with `vcpus` vCPUs, all with the same setup.
void add_domain(Scheduler& s, uint16_t dom, uint32_t vcpus, uint32_t weight = 256, uint32_t cap = 0,
                VcpuSetup vs = setup()) {
    REQUIRE(s.insert_domain(dom, vcpus) == SchedError::ok);
    REQUIRE(s.set_domain_params(dom, credit(weight, cap)) == SchedError::ok);
    for (uint16_t v = 0; v < vcpus; ++v) REQUIRE(s.insert_vcpu({dom, v}, vs, 0) == SchedError::ok);
}

// Runnable credit vCPUs may run unless parked by their cap.
void credit_eligibility(SchedSim& sim, const CreditScheduler& s) {
    sim.eligible = [&s](VcpuRef v) {
        CreditVcpuView view;
        return s.view(v, view) && !view.parked;
    };
}

double share(Nanos part, Nanos whole) { return static_cast<double>(part) / static_cast<double>(whole); }

void check_invariants(const SchedSim& sim) {
    CHECK(sim.affinity_violations == 0);
    CHECK(sim.double_runs == 0);
    CHECK(sim.zero_slices == 0);
    CHECK(sim.stuck == 0);
}

} // namespace

TEST_CASE("credit: weights 512:256 on one pCPU share it 2:1", "[core][sched][credit]") {
    auto s = make_credit(1);
    add_domain(*s, 0, 1, 512);
    add_domain(*s, 1, 1, 256);
    SchedSim sim(*s);
    credit_eligibility(sim, *s);
    sim.add({0, 0});
    sim.add({1, 0});
    sim.run_for(10 * kSec);
    const double ratio = share(sim.ran({0, 0}), sim.ran({1, 0}));
    CHECK(ratio == Approx(2.0).margin(0.1));
    CHECK(sim.busy(0) == 10 * kSec);
    CHECK(sim.conservation_violations == 0);
    check_invariants(sim);
}

TEST_CASE("credit: weights 512:256 pinned to one pCPU of two still share it 2:1", "[core][sched][credit]") {
    // The benchmark: two domains pinned to CPU 0 of a 2-CPU host.
    auto s = make_credit(2);
    add_domain(*s, 0, 1, 512, 0, setup(CpuMask::of(0)));
    add_domain(*s, 1, 1, 256, 0, setup(CpuMask::of(0)));
    SchedSim sim(*s);
    credit_eligibility(sim, *s);
    sim.add({0, 0});
    sim.add({1, 0});
    sim.run_for(10 * kSec);
    const double ratio = share(sim.ran({0, 0}), sim.ran({1, 0}));
    CHECK(ratio == Approx(2.0).margin(0.1));
    CHECK(sim.ran_on({0, 0}, 1) == 0);
    CHECK(sim.ran_on({1, 0}, 1) == 0);
    check_invariants(sim);
}

TEST_CASE("credit: three domains 512:256:256 on two pCPUs get one, a half and a half", "[core][sched][credit]") {
    auto s = make_credit(2);
    add_domain(*s, 0, 1, 512);
    add_domain(*s, 1, 1, 256);
    add_domain(*s, 2, 1, 256);
    SchedSim sim(*s);
    credit_eligibility(sim, *s);
    for (uint16_t d = 0; d < 3; ++d) sim.add({d, 0});
    sim.run_for(10 * kSec);
    CHECK(share(sim.ran({0, 0}), 10 * kSec) == Approx(1.0).margin(0.05));
    CHECK(share(sim.ran({1, 0}), 10 * kSec) == Approx(0.5).margin(0.05));
    CHECK(share(sim.ran({2, 0}), 10 * kSec) == Approx(0.5).margin(0.05));
    CHECK(sim.busy(0) + sim.busy(1) == 20 * kSec);
    CHECK(sim.conservation_violations == 0);
    check_invariants(sim);
}

TEST_CASE("credit: equal weights share equally, also across multi-vCPU domains", "[core][sched][credit]") {
    // Weight is per domain: a 2-vCPU domain at 256 gets what a 1-vCPU
    // domain at 256 gets, split over its vCPUs (Xen's semantics).
    auto s = make_credit(1);
    add_domain(*s, 0, 2, 256);
    add_domain(*s, 1, 1, 256);
    SchedSim sim(*s);
    credit_eligibility(sim, *s);
    sim.add({0, 0});
    sim.add({0, 1});
    sim.add({1, 0});
    sim.run_for(10 * kSec);
    const Nanos dom0 = sim.ran({0, 0}) + sim.ran({0, 1});
    CHECK(share(dom0, sim.ran({1, 0})) == Approx(2.0).margin(0.1));
    CHECK(share(sim.ran({0, 0}), sim.ran({0, 1})) == Approx(1.0).margin(0.05));
    check_invariants(sim);
}

TEST_CASE("credit: cap 50 holds a lone vCPU to half a pCPU", "[core][sched][credit]") {
    auto s = make_credit(1);
    add_domain(*s, 0, 1, 256, 50);
    SchedSim sim(*s);
    credit_eligibility(sim, *s);
    sim.add({0, 0});
    sim.run_for(10 * kSec);
    const double got = share(sim.ran({0, 0}), 10 * kSec);
    CHECK(got <= 0.52);
    CHECK(got >= 0.48);
    CHECK(sim.conservation_violations == 0); // parked is not "waiting"
    check_invariants(sim);
}

TEST_CASE("credit: a capped vCPU out of credit is parked and its pCPU idles", "[core][sched][credit]") {
    auto s = make_credit(1);
    add_domain(*s, 0, 1, 256, 10);
    SchedSim sim(*s);
    credit_eligibility(sim, *s);
    sim.add({0, 0});
    bool seen_parked = false;
    bool ran_while_parked = false;
    sim.on_pick = [&](uint32_t, const Pick& k, Nanos) {
        CreditVcpuView v;
        REQUIRE(s->view({0, 0}, v));
        if (v.parked) seen_parked = true;
        if (v.parked && !k.idle) ran_while_parked = true;
    };
    sim.run_for(3 * kSec);
    CHECK(seen_parked);
    CHECK_FALSE(ran_while_parked);
    CHECK(share(sim.ran({0, 0}), 3 * kSec) <= 0.11);
    // Lifting the cap unparks at once.
    REQUIRE(s->set_domain_params(0, credit(256, 0)) == SchedError::ok);
    sim.settle();
    const Nanos before = sim.ran({0, 0});
    sim.run_for(1 * kSec);
    CHECK(share(sim.ran({0, 0}) - before, 1 * kSec) >= 0.99);
}

TEST_CASE("credit: cap 100 on a 2-vCPU domain over two pCPUs is one pCPU in all", "[core][sched][credit]") {
    auto s = make_credit(2);
    add_domain(*s, 0, 2, 256, 100);
    SchedSim sim(*s);
    credit_eligibility(sim, *s);
    sim.add({0, 0});
    sim.add({0, 1});
    sim.run_for(10 * kSec);
    const double got = share(sim.ran({0, 0}) + sim.ran({0, 1}), 10 * kSec);
    CHECK(got <= 1.02);
    CHECK(got >= 0.96);
    check_invariants(sim);
}

TEST_CASE("credit: a capped domain leaves the rest to an uncapped one", "[core][sched][credit]") {
    auto s = make_credit(1);
    add_domain(*s, 0, 1, 256, 25);
    add_domain(*s, 1, 1, 256);
    SchedSim sim(*s);
    credit_eligibility(sim, *s);
    sim.add({0, 0});
    sim.add({1, 0});
    sim.run_for(10 * kSec);
    CHECK(share(sim.ran({0, 0}), 10 * kSec) <= 0.27);
    CHECK(share(sim.ran({1, 0}), 10 * kSec) >= 0.73);
    CHECK(sim.busy(0) == 10 * kSec);
    check_invariants(sim);
}

TEST_CASE("credit: a vCPU waking from block is BOOSTed and preempts an UNDER vCPU", "[core][sched][credit]") {
    auto s = make_credit(1);
    add_domain(*s, 0, 1);                                // A: CPU-bound
    add_domain(*s, 1, 1, 256, 0, setup({}, {}, false));  // B: blocked
    SchedSim sim(*s);
    sim.add({0, 0});
    // 35 ms: A has been running since the 30 ms accounting left it UNDER.
    sim.run_until(35 * kMs);
    CreditVcpuView a;
    REQUIRE(s->view({0, 0}, a));
    REQUIRE(a.priority == CreditPriority::under);
    uint32_t where = 9;
    REQUIRE(sim.running({0, 0}, where));

    REQUIRE(s->wake({1, 0}, sim.now()) == SchedError::ok);
    CreditVcpuView b;
    REQUIRE(s->view({1, 0}, b));
    CHECK(b.priority == CreditPriority::boost);
    CHECK(s->take_resched().test(0)); // A's pCPU is told to preempt
    const Pick k = s->pick_next(0, sim.now());
    CHECK_FALSE(k.idle);
    CHECK(k.vcpu == VcpuRef{1, 0});
    // Having run, it is BOOSTed no more.
    REQUIRE(s->pick_next(0, sim.now() + 1 * kMs).vcpu == VcpuRef{1, 0});
    REQUIRE(s->view({1, 0}, b));
    CHECK(b.priority != CreditPriority::boost);
}

TEST_CASE("credit: the rate limit delays a BOOST preemption, never past it", "[core][sched][credit]") {
    auto s = make_credit(1);
    add_domain(*s, 0, 1);
    add_domain(*s, 1, 1, 256, 0, setup({}, {}, false));
    // A runs from t=0; B wakes 0.3 ms later, inside the 1 ms rate limit.
    REQUIRE(s->pick_next(0, 0).vcpu == VcpuRef{0, 0});
    REQUIRE(s->wake({1, 0}, 300 * kUs) == SchedError::ok);
    REQUIRE(s->take_resched().test(0));
    const Pick k = s->pick_next(0, 300 * kUs);
    CHECK(k.vcpu == VcpuRef{0, 0});
    CHECK(k.slice == 700 * kUs);
    CHECK(s->pick_next(0, 1 * kMs).vcpu == VcpuRef{1, 0});
}

TEST_CASE("credit: an I/O-bound vCPU gets its CPU quickly among CPU hogs", "[core][sched][credit]") {
    auto s = make_credit(1);
    add_domain(*s, 0, 1);
    add_domain(*s, 1, 1);
    add_domain(*s, 2, 1); // runs 0.5 ms, blocks 5 ms
    SchedSim sim(*s);
    credit_eligibility(sim, *s);
    sim.add({0, 0});
    sim.add({1, 0});
    sim.add({2, 0}, Workload{500 * kUs, 5 * kMs});
    sim.run_for(5 * kSec);
    std::vector<Nanos> lat = sim.wake_latencies({2, 0});
    REQUIRE(lat.size() > 500);
    std::sort(lat.begin(), lat.end());
    const Nanos p99 = lat[lat.size() * 99 / 100];
    CHECK(p99 <= 1 * kMs); // the rate limit, not a 30 ms slice
    // It gets all it asks for: 0.5 of every 5.5 ms.
    CHECK(share(sim.ran({2, 0}), 5 * kSec) == Approx(0.5 / 5.5).margin(0.01));
    CHECK(share(sim.ran({0, 0}), sim.ran({1, 0})) == Approx(1.0).margin(0.05));
    check_invariants(sim);
}

TEST_CASE("credit: hard affinity is never violated", "[core][sched][credit][affinity]") {
    auto s = make_credit(4);
    const CpuMask masks[] = {CpuMask::of(0), CpuMask::of(3), CpuMask::of(1) | CpuMask::of(2), CpuMask{},
                             CpuMask::of(2) | CpuMask::of(3), CpuMask::of(0) | CpuMask::of(3)};
    SchedSim sim(*s);
    credit_eligibility(sim, *s);
    for (uint16_t d = 0; d < 6; ++d) {
        add_domain(*s, d, 2, 128u * (d + 1u), d == 5 ? 60 : 0, setup(masks[d], CpuMask::of(d % 4u)));
        sim.add({d, 0});
        sim.add({d, 1}, Workload{(d + 1) * 300 * kUs, (d + 2) * 700 * kUs});
    }
    sim.run_for(2 * kSec);
    // Re-pin half of them while they run, then keep going: from now on they
    // gain no time outside the new mask.
    Nanos before[6][4] = {};
    for (uint16_t d = 0; d < 6; d += 2) {
        REQUIRE(s->set_affinity({d, 0}, masks[(d + 1) % 6], CpuMask{}) == SchedError::ok);
        for (uint32_t p = 0; p < 4; ++p) before[d][p] = sim.ran_on({d, 0}, p);
    }
    sim.settle();
    sim.run_for(2 * kSec);
    for (uint16_t d = 0; d < 6; d += 2) {
        VcpuInfo info;
        REQUIRE(s->vcpu_info({d, 0}, info));
        for (uint32_t p = 0; p < 4; ++p)
            if (!info.hard.test(p)) CHECK(sim.ran_on({d, 0}, p) == before[d][p]);
    }
    CHECK(sim.affinity_violations == 0);
    CHECK(sim.conservation_violations == 0);
    check_invariants(sim);
    CHECK(sim.picks > 1000);
}

TEST_CASE("credit: soft affinity is preferred when possible", "[core][sched][credit][affinity]") {
    auto s = make_credit(2);
    // Both start wanting the other's pCPU of where they would first land.
    add_domain(*s, 0, 1, 256, 0, setup({}, CpuMask::of(1)));
    add_domain(*s, 1, 1, 256, 0, setup({}, CpuMask::of(0)));
    SchedSim sim(*s);
    credit_eligibility(sim, *s);
    sim.add({0, 0});
    sim.add({1, 0});
    sim.run_for(5 * kSec);
    CHECK(share(sim.ran_on({0, 0}, 1), sim.ran({0, 0})) >= 0.99);
    CHECK(share(sim.ran_on({1, 0}, 0), sim.ran({1, 0})) >= 0.99);
    check_invariants(sim);

    // Soft affinity yields to work conservation: three vCPUs all preferring
    // pCPU 0 still use both pCPUs fully.
    auto t = make_credit(2);
    for (uint16_t d = 0; d < 3; ++d) add_domain(*t, d, 1, 256, 0, setup({}, CpuMask::of(0)));
    SchedSim sim2(*t);
    credit_eligibility(sim2, *t);
    for (uint16_t d = 0; d < 3; ++d) sim2.add({d, 0});
    sim2.run_for(3 * kSec);
    CHECK(sim2.busy(0) + sim2.busy(1) == 6 * kSec);
    CHECK(sim2.conservation_violations == 0);
}

TEST_CASE("credit: an idle pCPU steals queued work (work conservation)", "[core][sched][credit]") {
    auto s = make_credit(2);
    add_domain(*s, 0, 1, 256, 0, setup(CpuMask::of(0)));                    // A: pinned to 0
    add_domain(*s, 1, 1, 256, 0, setup(CpuMask::of(1)));                    // B: pinned to 1
    add_domain(*s, 2, 1, 256, 0, setup({}, CpuMask::of(0), false));         // C: prefers 0, blocked
    REQUIRE(s->pick_next(0, 0).vcpu == VcpuRef{0, 0});
    REQUIRE(s->pick_next(1, 0).vcpu == VcpuRef{1, 0});
    // C wakes with both pCPUs busy: queued on 0, the pCPU it prefers.
    REQUIRE(s->wake({2, 0}, 2 * kMs) == SchedError::ok);
    VcpuInfo c;
    REQUIRE(s->vcpu_info({2, 0}, c));
    CHECK(c.state == RunState::runnable);
    CHECK(c.pcpu == 0);
    s->take_resched();
    // B blocks: pCPU 1 has nothing of its own and takes C from 0's queue.
    REQUIRE(s->sleep({1, 0}, 3 * kMs) == SchedError::ok);
    CHECK(s->take_resched().test(1));
    const Pick k = s->pick_next(1, 3 * kMs);
    CHECK(k.vcpu == VcpuRef{2, 0});

    // And in the large: two vCPUs, two pCPUs, both pCPUs always busy; three
    // vCPUs on two pCPUs get two thirds each.
    auto t = make_credit(2);
    for (uint16_t d = 0; d < 3; ++d) add_domain(*t, d, 1);
    SchedSim sim(*t);
    credit_eligibility(sim, *t);
    for (uint16_t d = 0; d < 3; ++d) sim.add({d, 0});
    sim.run_for(6 * kSec);
    CHECK(sim.busy(0) == 6 * kSec);
    CHECK(sim.busy(1) == 6 * kSec);
    for (uint16_t d = 0; d < 3; ++d) CHECK(share(sim.ran({d, 0}), 6 * kSec) == Approx(2.0 / 3.0).margin(0.05));
    CHECK(sim.conservation_violations == 0);
    check_invariants(sim);
}

TEST_CASE("credit: two runnable vCPUs on two pCPUs use both", "[core][sched][credit]") {
    auto s = make_credit(2);
    add_domain(*s, 0, 2);
    SchedSim sim(*s);
    credit_eligibility(sim, *s);
    sim.add({0, 0});
    sim.add({0, 1});
    sim.run_for(2 * kSec);
    CHECK(sim.ran({0, 0}) == 2 * kSec);
    CHECK(sim.ran({0, 1}) == 2 * kSec);
    check_invariants(sim);
}

TEST_CASE("credit: yield hands the pCPU to the other vCPU", "[core][sched][credit]") {
    auto s = make_credit(1);
    add_domain(*s, 0, 1);
    add_domain(*s, 1, 1);
    const VcpuRef first = s->pick_next(0, 0).vcpu;
    const VcpuRef other = first == VcpuRef{0, 0} ? VcpuRef{1, 0} : VcpuRef{0, 0};
    REQUIRE(s->yield(first) == SchedError::ok);
    CHECK(s->take_resched().test(0));
    CHECK(s->pick_next(0, 100 * kUs).vcpu == other); // inside the rate limit too
    // Yield with nobody else runnable keeps running.
    REQUIRE(s->sleep(first, 200 * kUs) == SchedError::ok);
    REQUIRE(s->yield(other) == SchedError::ok);
    CHECK(s->pick_next(0, 300 * kUs).vcpu == other);
}

TEST_CASE("credit: run time is charged as reported by the platform", "[core][sched][credit]") {
    auto s = make_credit(1);
    add_domain(*s, 0, 1);
    REQUIRE(s->pick_next(0, 0).vcpu == VcpuRef{0, 0});
    s->tick(10 * kMs); // charges 10 ms of wall time
    // The thread only got 4 ms of CPU in those 12 ms (the host was busy).
    s->pick_next(0, 12 * kMs, 4 * kMs);
    VcpuInfo info;
    REQUIRE(s->vcpu_info({0, 0}, info));
    CHECK(info.runtime == 4 * kMs);
    s->pick_next(0, 20 * kMs);
    REQUIRE(s->vcpu_info({0, 0}, info));
    CHECK(info.runtime == 12 * kMs);
}

TEST_CASE("credit: the time slice and rate limit are configurable", "[core][sched][credit]") {
    auto s = make_credit(1);
    GlobalParams g;
    s->get_global_params(g);
    CHECK(g.policy == Policy::credit);
    CHECK(g.credit.tslice_us == 30000);
    CHECK(g.credit.tick_us == 10000);
    CHECK(g.credit.ratelimit_us == 1000);
    add_domain(*s, 0, 1);
    add_domain(*s, 1, 1);
    CHECK(s->pick_next(0, 0).slice == 30 * kMs);
    g.credit.tslice_us = 5000;
    g.credit.tick_us = 1000;
    g.credit.ratelimit_us = 0;
    REQUIRE(s->set_global_params(g) == SchedError::ok);
    CHECK(s->pick_next(0, 1 * kMs).slice == 5 * kMs);
    // Shares still follow weights with a 5 ms slice.
    REQUIRE(s->set_domain_params(0, credit(768)) == SchedError::ok);
    s->resched_all(); // the sim takes over at 1 ms: every pCPU decides again
    SchedSim sim(*s, 1 * kMs);
    credit_eligibility(sim, *s);
    sim.add({0, 0});
    sim.add({1, 0});
    sim.run_until(3 * kSec);
    CHECK(share(sim.ran({0, 0}), sim.ran({1, 0})) == Approx(3.0).margin(0.15));
    CHECK(sim.conservation_violations == 0);
}

TEST_CASE("credit: bad parameters are refused with their own error", "[core][sched][credit][bad-input]") {
    auto s = make_credit(2);
    REQUIRE(s->insert_domain(0, 2) == SchedError::ok);
    CHECK(s->set_domain_params(0, credit(0)) == SchedError::bad_weight);
    CHECK(s->set_domain_params(0, credit(65536)) == SchedError::bad_weight);
    CHECK(s->set_domain_params(0, credit(65535)) == SchedError::ok);
    CHECK(s->set_domain_params(0, credit(1)) == SchedError::ok);
    CHECK(s->set_domain_params(0, credit(256, 201)) == SchedError::bad_cap);
    CHECK(s->set_domain_params(0, credit(256, 200)) == SchedError::ok);
    SchedParams p;
    REQUIRE(s->get_domain_params(0, p) == SchedError::ok);
    CHECK(p.credit.weight == 256);
    CHECK(p.credit.cap == 200);
    SchedParams rt;
    rt.policy = Policy::rtds;
    CHECK(s->set_domain_params(0, rt) == SchedError::wrong_policy);
    CHECK(s->set_domain_params(1, credit(256)) == SchedError::no_such_domain);
    CHECK(s->set_domain_params(kMaxSchedDomains, credit(256)) == SchedError::bad_domain);

    // CPUs outside the host set (pCPUs 0 and 1 here).
    CHECK(s->insert_vcpu({0, 0}, setup(CpuMask::of(2)), 0) == SchedError::bad_cpu);
    CHECK(s->insert_vcpu({0, 0}, setup({}, CpuMask::of(5)), 0) == SchedError::bad_cpu);
    REQUIRE(s->insert_vcpu({0, 0}, setup(CpuMask::of(1)), 0) == SchedError::ok);
    CHECK(s->set_affinity({0, 0}, CpuMask::of(0) | CpuMask::of(63), CpuMask{}) == SchedError::bad_cpu);
    CHECK(s->insert_vcpu({0, 0}, setup(), 0) == SchedError::vcpu_exists);
    CHECK(s->insert_vcpu({0, 2}, setup(), 0) == SchedError::bad_vcpu);
    CHECK(s->insert_vcpu({3, 0}, setup(), 0) == SchedError::no_such_domain);
    CHECK(s->wake({0, 1}, 0) == SchedError::no_such_vcpu);
    CHECK(s->set_vcpu_params({0, 0}, credit(256)) == SchedError::unsupported);
    CHECK(s->remove_domain(0) == SchedError::domain_busy);
    CHECK(s->insert_domain(0, 1) == SchedError::domain_exists);
    CHECK(s->insert_domain(1, 0) == SchedError::bad_max_vcpus);
    CHECK(s->insert_domain(1, 129) == SchedError::bad_max_vcpus);

    GlobalParams g;
    s->get_global_params(g);
    GlobalParams bad = g;
    bad.credit.tslice_us = 999;
    CHECK(s->set_global_params(bad) == SchedError::bad_tslice);
    bad.credit.tslice_us = 1000001;
    CHECK(s->set_global_params(bad) == SchedError::bad_tslice);
    bad = g;
    bad.credit.tick_us = 99;
    CHECK(s->set_global_params(bad) == SchedError::bad_tick);
    bad.credit.tick_us = 30001;
    CHECK(s->set_global_params(bad) == SchedError::bad_tick);
    bad = g;
    bad.credit.ratelimit_us = 50;
    CHECK(s->set_global_params(bad) == SchedError::bad_ratelimit);
    bad.credit.ratelimit_us = 30001;
    CHECK(s->set_global_params(bad) == SchedError::bad_ratelimit);
    bad.credit.ratelimit_us = 0;
    CHECK(s->set_global_params(bad) == SchedError::ok);
    bad.policy = Policy::rtds;
    CHECK(s->set_global_params(bad) == SchedError::wrong_policy);

    // Every error has words for the hosted side's message.
    for (int e = 0; e <= static_cast<int>(SchedError::not_empty); ++e)
        CHECK(std::strlen(sched_error_text(static_cast<SchedError>(e))) > 1);
    CHECK(std::strcmp(sched_error_text(SchedError::bad_weight), "weight out of range (1..65535)") == 0);
    CHECK(std::strcmp(policy_name(Policy::credit), "credit") == 0);
}

TEST_CASE("credit: vCPUs come and go while others run", "[core][sched][credit]") {
    auto s = make_credit(2);
    add_domain(*s, 0, 4);
    SchedSim sim(*s);
    credit_eligibility(sim, *s);
    for (uint16_t v = 0; v < 4; ++v) sim.add({0, v});
    sim.run_for(100 * kMs);
    // vcpu-set 2: the running ones leave their pCPUs.
    REQUIRE(s->remove_vcpu({0, 2}) == SchedError::ok);
    REQUIRE(s->remove_vcpu({0, 3}) == SchedError::ok);
    CHECK(s->vcpu_count() == 2);
    sim.settle();
    const Nanos a = sim.ran({0, 0});
    const Nanos b = sim.ran({0, 1});
    sim.run_for(1 * kSec);
    CHECK(sim.ran({0, 0}) - a == 1 * kSec);
    CHECK(sim.ran({0, 1}) - b == 1 * kSec);
    DomainInfo di;
    REQUIRE(s->domain_info(0, di));
    CHECK(di.vcpus == 2);
    CHECK(di.max_vcpus == 4);
    check_invariants(sim);
}

TEST_CASE("credit: shares hold when the platform only calls pick_next", "[core][sched][credit]") {
    // No tick at all: accounting catches up inside pick_next.
    auto s = make_credit(1);
    add_domain(*s, 0, 1, 512);
    add_domain(*s, 1, 1, 256);
    Nanos now = 0;
    Nanos got[2] = {};
    while (now < 10 * kSec) {
        const Pick k = s->pick_next(0, now);
        REQUIRE_FALSE(k.idle);
        REQUIRE(k.slice > 0);
        got[k.vcpu.domain] += k.slice;
        now += k.slice;
    }
    CHECK(share(got[0], got[1]) == Approx(2.0).margin(0.1));
}

TEST_CASE("credit: a vCPU woken before its pCPU rescheduled keeps running", "[core][sched][credit]") {
    auto s = make_credit(1);
    add_domain(*s, 0, 1);
    add_domain(*s, 1, 1, 256, 0, setup({}, {}, false));
    REQUIRE(s->pick_next(0, 0).vcpu == VcpuRef{0, 0});
    REQUIRE(s->sleep({0, 0}, 5 * kMs) == SchedError::ok); // blocks ...
    VcpuInfo info;
    REQUIRE(s->vcpu_info({0, 0}, info));
    CHECK(info.state == RunState::blocked);
    REQUIRE(s->wake({0, 0}, 5 * kMs) == SchedError::ok); // ... and an event arrives at once
    REQUIRE(s->vcpu_info({0, 0}, info));
    CHECK(info.state == RunState::running);
    CHECK(s->pick_next(0, 5 * kMs).vcpu == VcpuRef{0, 0}); // the wake-up is not lost
    // A queued vCPU that goes to sleep leaves its queue.
    REQUIRE(s->wake({1, 0}, 6 * kMs) == SchedError::ok);
    REQUIRE(s->sleep({1, 0}, 6 * kMs) == SchedError::ok);
    CHECK(s->pick_next(0, 40 * kMs).vcpu == VcpuRef{0, 0});
    REQUIRE(s->sleep({0, 0}, 41 * kMs) == SchedError::ok);
    CHECK(s->pick_next(0, 41 * kMs).idle);
}

TEST_CASE("credit: weights hold when the host takes part of every slice (refunded run time)", "[core][sched][credit]") {
    // The hosted platform charges what a vCPU really got: here 70% of the
    // time it held the pCPU. The refunds must not be shared out again, or
    // both vCPUs bank credit, stay UNDER and share 1:1.
    auto s = make_credit(1);
    add_domain(*s, 0, 1, 512, 0, setup(CpuMask::of(0)));
    add_domain(*s, 1, 1, 256, 0, setup(CpuMask::of(0)));
    Nanos now = 0, held[2] = {0, 0};
    Pick cur = s->pick_next(0, now);
    REQUIRE_FALSE(cur.idle);
    Nanos since = now;
    while (now < 20 * 1000000000ull) {
        const Nanos end = std::min(since + cur.slice, s->next_tick());
        now = end;
        if (now >= s->next_tick()) s->tick(now);
        if (now < since + cur.slice && s->take_resched().empty()) continue;
        held[cur.vcpu.domain] += now - since;
        cur = s->pick_next(0, now, (now - since) * 7 / 10);
        REQUIRE_FALSE(cur.idle);
        since = now;
    }
    const double ratio = static_cast<double>(held[0]) / static_cast<double>(held[1]);
    CHECK(ratio == Approx(2.0).margin(0.15));
}
