// Switching scheduler policy at run time (switch_policy): every vCPU moves
// with its runnable/blocked state, affinity and run time; parameters are
// carried between instances of one policy, reset to the new policy's
// defaults otherwise unless the caller set them on the new instance first;
// a failed switch moves nothing.
#include <catch2/catch.hpp>

#include <memory>

#include "core/sched/credit_scheduler.hpp"
#include "core/sched/rtds_scheduler.hpp"
#include "sched_sim.hpp"

using namespace hv::core::sched;
using namespace schedsim;

namespace {

struct Expect {
    VcpuRef ref;
    bool runnable;
    CpuMask hard;
    CpuMask soft;
};

// Three domains on 4 pCPUs: mixed states, pinning and soft affinity.
const Expect kVcpus[] = {
    {{0, 0}, true, CpuMask{}, CpuMask{}},
    {{0, 1}, false, CpuMask::of(2), CpuMask{}},
    {{3, 0}, true, CpuMask::of(0) | CpuMask::of(1), CpuMask::of(1)},
    {{3, 1}, true, CpuMask{}, CpuMask::of(3)},
    {{3, 2}, false, CpuMask{}, CpuMask{}},
    {{9, 0}, true, CpuMask::of(3), CpuMask{}},
};

void populate(Scheduler& s) {
    REQUIRE(s.insert_domain(0, 2) == SchedError::ok);
    REQUIRE(s.insert_domain(3, 4) == SchedError::ok);
    REQUIRE(s.insert_domain(9, 1) == SchedError::ok);
    for (const Expect& e : kVcpus) {
        VcpuSetup vs;
        vs.hard = e.hard;
        vs.soft = e.soft;
        vs.runnable = e.runnable;
        REQUIRE(s.insert_vcpu(e.ref, vs, 0) == SchedError::ok);
    }
}

void check_moved(const Scheduler& s) {
    CHECK(s.vcpu_count() == sizeof kVcpus / sizeof kVcpus[0]);
    for (const Expect& e : kVcpus) {
        VcpuInfo info;
        REQUIRE(s.vcpu_info(e.ref, info));
        CHECK((info.state != RunState::blocked) == e.runnable);
        CHECK(info.hard == (e.hard.empty() ? s.pcpus() : e.hard));
        CHECK(info.soft == (e.soft.empty() ? s.pcpus() : e.soft));
    }
    DomainInfo di;
    REQUIRE(s.domain_info(3, di));
    CHECK(di.max_vcpus == 4);
    CHECK(di.vcpus == 3);
}

// Drives a scheduler for a while with every vCPU in kVcpus followed.
void drive(Scheduler& s, SchedSim& sim, Nanos d) {
    for (const Expect& e : kVcpus) sim.add(e.ref);
    sim.check_work_conservation = false; // rtds budgets idle pCPUs on purpose
    sim.run_for(d);
    CHECK(sim.affinity_violations == 0);
    CHECK(sim.double_runs == 0);
    CHECK(sim.stuck == 0);
    (void)s;
}

} // namespace

TEST_CASE("switching credit -> rtds -> credit keeps every vCPU, its state and affinity",
          "[core][sched][switch]") {
    const CpuMask host = CpuMask::first_n(4);
    auto credit = std::make_unique<CreditScheduler>(host);
    auto rtds = std::make_unique<RtdsScheduler>(host);
    populate(*credit);
    SchedParams w;
    w.policy = Policy::credit;
    w.credit.weight = 1024;
    w.credit.cap = 150;
    REQUIRE(credit->set_domain_params(3, w) == SchedError::ok);
    SchedSim before(*credit);
    drive(*credit, before, 200 * kMs);
    const Nanos ran30 = before.ran({3, 0});
    REQUIRE(ran30 > 0);
    credit->take_resched();

    REQUIRE(switch_policy(*credit, *rtds, 200 * kMs) == SchedError::ok);
    CHECK(credit->vcpu_count() == 0);
    DomainInfo gone;
    CHECK_FALSE(credit->domain_info(3, gone));
    check_moved(*rtds);
    CHECK(rtds->take_resched() == host); // every pCPU decides afresh
    VcpuInfo info;
    REQUIRE(rtds->vcpu_info({3, 0}, info));
    CHECK(info.runtime == ran30); // run time carries over
    // Another policy: its defaults.
    SchedParams p;
    REQUIRE(rtds->get_domain_params(3, p) == SchedError::ok);
    CHECK(p.policy == Policy::rtds);
    CHECK(p.rtds.budget_us == kRtdsBudgetUsDefault);

    // The moved vCPUs run under rtds, blocked ones stay blocked until woken.
    SchedSim during(*rtds, 200 * kMs);
    drive(*rtds, during, 200 * kMs);
    CHECK(during.ran({0, 1}) == 0);
    CHECK(during.ran({3, 2}) == 0);
    CHECK(during.ran({0, 0}) > 0);
    REQUIRE(rtds->wake({0, 1}, 400 * kMs) == SchedError::ok);

    // Back to a fresh credit instance, with domain 9's weight given up front.
    auto credit2 = std::make_unique<CreditScheduler>(host);
    REQUIRE(credit2->insert_domain(9, 1) == SchedError::ok);
    SchedParams nine;
    nine.policy = Policy::credit;
    nine.credit.weight = 77;
    REQUIRE(credit2->set_domain_params(9, nine) == SchedError::ok);
    REQUIRE(switch_policy(*rtds, *credit2, 400 * kMs) == SchedError::ok);
    REQUIRE(credit2->vcpu_info({0, 1}, info));
    CHECK(info.state == RunState::runnable); // woken under rtds, runnable now
    REQUIRE(credit2->get_domain_params(9, p) == SchedError::ok);
    CHECK(p.credit.weight == 77); // given: kept
    REQUIRE(credit2->get_domain_params(3, p) == SchedError::ok);
    CHECK(p.credit.weight == kCreditWeightDefault); // not given: default, not the old 1024
    CHECK(p.credit.cap == 0);
}

TEST_CASE("switching between two instances of one policy carries the parameters", "[core][sched][switch]") {
    auto a = std::make_unique<RtdsScheduler>(CpuMask::first_n(4));
    auto b = std::make_unique<RtdsScheduler>(CpuMask::first_n(4));
    populate(*a);
    SchedParams p;
    p.policy = Policy::rtds;
    p.rtds = RtdsParams{20000, 5000, true};
    REQUIRE(a->set_domain_params(0, p) == SchedError::ok);
    p.rtds = RtdsParams{8000, 1000, false};
    REQUIRE(a->set_vcpu_params({3, 1}, p) == SchedError::ok);
    REQUIRE(switch_policy(*a, *b, 0) == SchedError::ok);
    check_moved(*b);
    SchedParams got;
    REQUIRE(b->get_domain_params(0, got) == SchedError::ok);
    CHECK(got.rtds.period_us == 20000);
    CHECK(got.rtds.extratime);
    REQUIRE(b->get_vcpu_params({3, 1}, got) == SchedError::ok);
    CHECK(got.rtds.period_us == 8000);
    CHECK(got.rtds.budget_us == 1000);
    REQUIRE(b->get_vcpu_params({3, 0}, got) == SchedError::ok);
    CHECK(got.rtds.period_us == kRtdsPeriodUsDefault);
}

TEST_CASE("a switch that cannot place every vCPU moves nothing", "[core][sched][switch][bad-input]") {
    auto credit = std::make_unique<CreditScheduler>(CpuMask::first_n(4));
    populate(*credit);
    // The new instance has only pCPUs 0-1: vCPU 9.0 is pinned to 3.
    auto small = std::make_unique<RtdsScheduler>(CpuMask::first_n(2));
    REQUIRE(small->insert_domain(3, 4) == SchedError::ok); // the caller's, kept
    CHECK(switch_policy(*credit, *small, 0) == SchedError::bad_cpu);
    CHECK(small->vcpu_count() == 0);
    DomainInfo di;
    CHECK(small->domain_info(3, di)); // pre-set domain survives the roll-back
    CHECK_FALSE(small->domain_info(0, di));
    CHECK_FALSE(small->domain_info(9, di));
    check_moved(*credit); // the source is untouched

    // A target that already holds vCPUs is refused.
    auto busy = std::make_unique<RtdsScheduler>(CpuMask::first_n(4));
    REQUIRE(busy->insert_domain(1, 1) == SchedError::ok);
    REQUIRE(busy->insert_vcpu({1, 0}, VcpuSetup{}, 0) == SchedError::ok);
    CHECK(switch_policy(*credit, *busy, 0) == SchedError::not_empty);
    check_moved(*credit);
}
