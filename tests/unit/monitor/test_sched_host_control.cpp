// SchedHost through its control surface: vcpus() rows, pin(), refusals with
// the value and the range, live policy switches. Fixtures and rules as in
// test_sched_host.cpp (behaviour, never timings).

#include <catch2/catch.hpp>

#include "sched_host_fixture.hpp"

using namespace sched_host_fixture;

// ---- vcpu-list and vcpu-pin ----

TEST_CASE("sched host: vcpus() rows report online vCPUs, their state and hard affinity", "[sched_host]") {
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    FakeDomain d(bell, 2), e(bell, 1);
    auto host = start_host(bell);
    attach(*host, 9, d, pinned(cpu, 2));
    attach(*host, 4, e, pinned(cpu));
    d.start(0); // vCPU 1 never comes online

    REQUIRE(eventually([&] {
        auto r = row_of(*host, 9, 0);
        return r && r->online && r->state == RunState::running;
    }));
    std::vector<VcpuRow> rows = host->vcpus(9);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].domid == 9);
    CHECK(rows[0].vcpu == 0);
    CHECK(rows[0].online);
    CHECK(rows[0].pcpu == cpu);
    CHECK(rows[0].hard == CpuMask::of(cpu));
    CHECK(rows[1].vcpu == 1);
    CHECK_FALSE(rows[1].online);
    // Charged from the thread's CPU time as it runs.
    CHECK(eventually([&] {
        auto r = row_of(*host, 9, 0);
        return r && r->runtime_ns > 0;
    }));

    // Every domain, by domid: 4 (no vCPU online) before 9.
    rows = host->vcpus();
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].domid == 4);
    CHECK_FALSE(rows[0].online);
    CHECK(rows[1].domid == 9);
    CHECK(rows[2].domid == 9);
    CHECK(host->vcpus(77).empty());

    // Blocked: want(false).
    d.v(0).block.store(true);
    CHECK(eventually([&] {
        auto r = row_of(*host, 9, 0);
        return r && r->online && r->state == RunState::blocked;
    }));
    CHECK(eventually([&] { return d.grant(0) == 0; }));
    // Runnable again: it is granted and runs.
    const uint64_t granted = d.v(0).granted.load();
    d.v(0).block.store(false);
    CHECK(eventually([&] {
        auto r = row_of(*host, 9, 0);
        return r && r->state == RunState::running && d.v(0).granted.load() > granted;
    }));

    // With another vCPU on the CPU one of the two is running, the other
    // runnable (or both momentarily runnable between two decisions).
    e.start_all();
    CHECK(eventually([&] {
        auto a = row_of(*host, 9, 0), b = row_of(*host, 4, 0);
        return a && b && b->online &&
               ((a->state == RunState::running && b->state == RunState::runnable) ||
                (a->state == RunState::runnable && b->state == RunState::running));
    }));

    // Offline: the row says so.
    e.stop();
    CHECK(eventually([&] {
        auto r = row_of(*host, 4, 0);
        return r && !r->online;
    }));
}

TEST_CASE("sched host: pin() moves a vCPU's hard affinity and its thread follows", "[sched_host]") {
    const std::optional<uint32_t> other = second_cpu();
    if (!other) {
        WARN("only one CPU: pinning to another CPU not tested");
        return;
    }
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    FakeDomain d(bell, 2);
    auto host = start_host(bell);
    attach(*host, 3, d, pinned(cpu, 2));
    d.start(0);
    const auto on = [&](uint32_t i, uint32_t c) {
        return d.v(i).in_guest.load() && d.v(i).cpu.load() == static_cast<int>(c);
    };
    REQUIRE(eventually([&] { return on(0, cpu); }));

    // One running vCPU.
    REQUIRE(host->pin(3, 0, CpuMask::of(*other), std::nullopt));
    auto r0 = row_of(*host, 3, 0);
    REQUIRE(r0);
    CHECK(r0->hard == CpuMask::of(*other));
    CHECK(eventually([&] { return on(0, *other); }));
    CHECK(eventually([&] {
        auto r = row_of(*host, 3, 0);
        return r && r->pcpu == *other;
    }));

    // An offline vCPU keeps its pin for when it comes online.
    REQUIRE(host->pin(3, 1, CpuMask::of(*other), std::nullopt));
    d.start(1);
    CHECK(eventually([&] { return on(1, *other); }));
    auto r1 = row_of(*host, 3, 1);
    REQUIRE(r1);
    CHECK(r1->online);
    CHECK(r1->hard == CpuMask::of(*other));
    REQUIRE(host->pin(3, 1, CpuMask::of(cpu), std::nullopt));
    CHECK(eventually([&] { return on(1, cpu); }));

    // Every vCPU (no vCPU named): both on the other CPU, taking turns.
    REQUIRE(host->pin(3, std::nullopt, CpuMask::of(*other), std::nullopt));
    for (const VcpuRow& r : host->vcpus(3)) CHECK(r.hard == CpuMask::of(*other));
    CHECK(eventually([&] { return on(1, *other); }));
    const uint64_t g0 = d.v(0).granted.load(), g1 = d.v(1).granted.load();
    CHECK(eventually([&] { return d.v(0).granted.load() > g0 && d.v(1).granted.load() > g1; }));

    // Back, and a soft affinity alone leaves the hard one as it is.
    REQUIRE(host->pin(3, 0, CpuMask::of(cpu), std::nullopt));
    REQUIRE(host->pin(3, 0, std::nullopt, CpuMask::of(*other)));
    r0 = row_of(*host, 3, 0);
    REQUIRE(r0);
    CHECK(r0->hard == CpuMask::of(cpu));
    CHECK(r0->soft == CpuMask::of(*other));
    CHECK(eventually([&] { return on(0, cpu); }));
    // An empty mask means every host CPU.
    REQUIRE(host->pin(3, 1, CpuMask{}, std::nullopt));
    r1 = row_of(*host, 3, 1);
    REQUIRE(r1);
    CHECK(r1->hard == host->pcpus());

    CHECK(d.v(0).misplaced.load() == 0);
    CHECK(d.v(1).misplaced.load() == 0);
    CHECK(d.v(0).freed.load() == 0);
}

// ---- refusals and policy ----

TEST_CASE("sched host: bad input is refused with the value and the valid range", "[sched_host]") {
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    // Host CPUs: just the one, so that the next CPU number lies outside.
    const uint32_t outside = cpu + 1 < kMaxPcpus ? cpu + 1 : cpu - 1;
    auto host = start_host(bell, Policy::credit, CpuMask::of(cpu));
    REQUIRE(host->pcpus() == CpuMask::of(cpu));

    SECTION("check()") {
        CHECK(host->check(pinned(cpu, 2)));
        DomainSched d = pinned(cpu, 2);
        d.weight = 0;
        auto r = host->check(d);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK(r.error().message == "cpu_weight 0 is out of range (1..65535)");
        d.weight = 65536;
        r = host->check(d);
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "cpu_weight 65536 is out of range (1..65535)");

        d = pinned(cpu, 2);
        d.cap = 201;
        r = host->check(d);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK(r.error().message == "cap 201 is out of range (0..200 = 100 x 2 vCPUs)");
        d.cap = 200;
        CHECK(host->check(d));

        d = pinned(outside);
        r = host->check(d);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK(r.error().message == "cpus: CPUs " + std::to_string(outside) + " are not all host CPUs given to hv (" +
                                       std::to_string(cpu) + ")");
        d = DomainSched{};
        d.soft = {CpuMask::of(outside)};
        r = host->check(d);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.rfind("cpus_soft: CPUs " + std::to_string(outside), 0) == 0);

        d = DomainSched{};
        d.max_vcpus = 0;
        r = host->check(d);
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "maxvcpus 0 is out of range (1..128)");
        d.max_vcpus = 129;
        CHECK(message_of(host->check(d)) == "maxvcpus 129 is out of range (1..128)");

        d = DomainSched{};
        d.max_vcpus = 2;
        d.hard = {CpuMask::of(cpu), CpuMask::of(cpu), CpuMask::of(cpu)};
        CHECK(message_of(host->check(d)) == "cpus: 3 per-vCPU lists for 2 vCPUs");
    }

    SECTION("attach()") {
        FakeDomain a(bell, 2), b(bell, 1);
        attach(*host, 5, a, pinned(cpu, 2));
        auto r = host->attach(5, b.client(), b.page(), ::getpid(), pinned(cpu));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::exists);
        CHECK(r.error().message == "domain 5 is already scheduled");
        CHECK(b.page().claimed.load() == 0);

        // Refused setup: nothing attached, the page not claimed.
        DomainSched bad = pinned(cpu);
        bad.weight = 0;
        r = host->attach(6, b.client(), b.page(), ::getpid(), bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK_FALSE(host->attached(6));
        CHECK(b.page().claimed.load() == 0);

        // A page of another layout.
        b.page().version = hv::sched::kLayoutVersion + 1;
        r = host->attach(6, b.client(), b.page(), ::getpid(), pinned(cpu));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::protocol_error);
        b.page().version = hv::sched::kLayoutVersion;
        CHECK_FALSE(host->attached(6));

        // pin(): vCPU out of range, CPUs outside the host set, no domain.
        r = host->pin(5, 2, CpuMask::of(cpu), std::nullopt);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK(r.error().message == "vCPU 2 is out of range: domain 5 has vCPUs 0..1");
        r = host->pin(5, 0, CpuMask::of(outside), std::nullopt);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK(r.error().message == "CPUs " + std::to_string(outside) + " are not all host CPUs given to hv (" +
                                       std::to_string(cpu) + ")");
        r = host->pin(5, std::nullopt, std::nullopt, CpuMask::of(outside));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        r = host->pin(8, 0, CpuMask::of(cpu), std::nullopt);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::not_found);
        CHECK(r.error().message == "domain 8 is not scheduled");

        // Parameters of the wrong policy, out of range, no domain.
        r = host->set_domain_params(5, rtds(10000, 4000));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK(r.error().message == "the host runs the credit scheduler, not rtds");
        r = host->set_domain_params(5, credit(0, 0));
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "weight 0 is out of range (1..65535)");
        r = host->set_domain_params(5, credit(256, 201));
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "cap 201 is out of range (0..200 = 100 x 2 vCPUs)");
        r = host->set_domain_params(8, credit(256, 0));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::not_found);
        auto p = host->domain_params(8);
        REQUIRE_FALSE(p);
        CHECK(p.error().code == Errc::not_found);

        // What was accepted is what is reported.
        REQUIRE(host->set_domain_params(5, credit(700, 150)));
        p = host->domain_params(5);
        REQUIRE(p);
        CHECK(p->policy == Policy::credit);
        CHECK(p->credit.weight == 700);
        CHECK(p->credit.cap == 150);
    }

    SECTION("start() and parse_policy()") {
        // A host CPU this process may not run on.
        const CpuMask mine = SchedHost::process_cpus();
        uint32_t foreign = 0;
        while (foreign < kMaxPcpus && mine.test(foreign)) ++foreign;
        if (foreign < kMaxPcpus) {
            SchedBell other;
            auto h = SchedHost::start({Policy::credit, CpuMask::of(foreign)}, other, quiet_log());
            REQUIRE_FALSE(h);
            CHECK(h.error().code == Errc::invalid_argument);
            CHECK(h.error().message.rfind("host CPUs " + std::to_string(foreign) + ":", 0) == 0);
        }
        auto pol = hv::sched::parse_policy("bvt");
        REQUIRE_FALSE(pol);
        CHECK(pol.error().code == Errc::invalid_argument);
        CHECK(pol.error().message.find("credit") != std::string::npos);
        CHECK(pol.error().message.find("rtds") != std::string::npos);
        CHECK(*hv::sched::parse_policy("rtds") == Policy::rtds);
    }
}

TEST_CASE("sched host: switching the policy live keeps every vCPU running", "[sched_host]") {
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    FakeDomain a(bell, 1), b(bell, 1);
    auto host = start_host(bell);
    attach(*host, 1, a, weighted(cpu, 512));
    attach(*host, 2, b, pinned(cpu));
    a.start_all();
    b.start_all();
    REQUIRE(eventually([&] { return a.v(0).granted.load() >= 1 && b.v(0).granted.load() >= 1; }));
    CHECK(host->policy() == Policy::credit);
    CHECK(host->switch_policy(Policy::credit)); // the current one: nothing

    const auto both_progress = [&] {
        const uint64_t ga = a.v(0).granted.load(), gb = b.v(0).granted.load();
        const uint64_t ia = a.v(0).iterations.load(), ib = b.v(0).iterations.load();
        return eventually([&] {
            return a.v(0).granted.load() > ga + 2 && b.v(0).granted.load() > gb + 2 && a.v(0).iterations.load() > ia &&
                   b.v(0).iterations.load() > ib;
        });
    };

    REQUIRE(host->switch_policy(Policy::rtds));
    CHECK(host->policy() == Policy::rtds);
    CHECK(both_progress());
    // The credit parameters mean nothing to rtds: defaults.
    auto p = host->domain_params(1);
    REQUIRE(p);
    CHECK(p->policy == Policy::rtds);
    CHECK(p->rtds.period_us == hv::core::sched::kRtdsPeriodUsDefault);
    CHECK(p->rtds.budget_us == hv::core::sched::kRtdsBudgetUsDefault);
    auto r = host->set_domain_params(1, credit(256, 0));
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "the host runs the rtds scheduler, not credit");
    // Affinity and state moved with the vCPUs.
    for (const VcpuRow& row : host->vcpus()) {
        CHECK(row.online);
        CHECK(row.hard == CpuMask::of(cpu));
    }

    REQUIRE(host->switch_policy(Policy::credit));
    CHECK(host->policy() == Policy::credit);
    CHECK(both_progress());
    // Back on credit, the configured weight holds again.
    p = host->domain_params(1);
    REQUIRE(p);
    CHECK(p->policy == Policy::credit);
    CHECK(p->credit.weight == 512);
    CHECK(a.v(0).freed.load() == 0);
    CHECK(b.v(0).freed.load() == 0);
    CHECK(a.v(0).misplaced.load() == 0);
    CHECK(b.v(0).misplaced.load() == 0);
}

// slot_owner_ says 0 for a free slot, so domid 0 must be refused (hv gives
// guests domids from 1); else its slot would look free to the next attach.
TEST_CASE("sched host: domid 0 is refused, and the next domain still gets a slot of its own", "[sched_host]") {
    SchedBell bell;
    FakeDomain a(bell, 1), b(bell, 1);
    auto host = start_host(bell);
    const auto r0 = host->attach(0, a.client(), a.page(), ::getpid(), DomainSched{});
    const auto r1 = host->attach(1, b.client(), b.page(), ::getpid(), DomainSched{});
    INFO("attach(0): " << message_of(r0) << "; attach(1): " << message_of(r1));
    // Either 0 is refused, or both are scheduled.
    CHECK((!r0 || (r1 && host->attached(0) && host->attached(1))));
}
