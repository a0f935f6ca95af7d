// The core's vCPU and event policy, driven as a platform drives it, on a
// virtual clock: no KVM, no threads.
#include <catch2/catch.hpp>

#include <memory>

#include "core/domain_policy.hpp"
#include "hv/abi/common.h"
#include "hv/abi/hv.h"

using namespace hv::core;

namespace {

CallOutcome block_for(uint64_t timeout_ns) {
    CallOutcome o;
    o.action = CallOutcome::Action::block;
    o.block_timeout_ns = timeout_ns;
    return o;
}

// A domain with `n` vCPUs, all started, vCPU `run` inside the guest.
std::unique_ptr<DomainPolicy> running(uint32_t n, uint32_t run = 0) {
    auto p = std::make_unique<DomainPolicy>();
    REQUIRE(p->init(n));
    for (uint32_t i = 0; i < n; ++i) REQUIRE(p->start(i));
    REQUIRE(p->may_enter(run));
    p->enter(run);
    return p;
}

} // namespace

TEST_CASE("policy: the gate lets a runnable vCPU in unless paused or stopping", "[core][policy]") {
    DomainPolicy p;
    CHECK_FALSE(p.init(0));
    CHECK_FALSE(p.init(kMaxDomainVcpus + 1));
    REQUIRE(p.init(2));
    CHECK_FALSE(p.may_enter(0)); // offline
    REQUIRE(p.start(0));
    CHECK_FALSE(p.start(0));
    CHECK(p.may_enter(0));
    CHECK(p.vcpus_online() == 1);
    p.pause();
    CHECK_FALSE(p.may_enter(0));
    CHECK(p.state() == DomainState::paused);
    p.unpause();
    p.enter(0);
    CHECK(p.state() == DomainState::running);
    CHECK_FALSE(p.quiescent());
    p.pause(); // the platform kicks it; it leaves after its exit
    p.leave(0);
    CHECK(p.quiescent());
    CHECK_FALSE(p.may_enter(0));
    p.unpause();
    CHECK(p.may_enter(0));
    CHECK(p.bad_moves() == 0);
}

TEST_CASE("policy: a hypercall's outcome becomes resume, yield, park or stop", "[core][policy]") {
    auto p = running(1);
    CallOutcome done;
    done.result = 42;
    Step s = p->on_call(0, done, 0);
    CHECK(s.kind == Step::Kind::resume);
    CHECK(s.result == 42);
    CallOutcome y;
    y.action = CallOutcome::Action::yield;
    CHECK(p->on_call(0, y, 0).kind == Step::Kind::yield);
    s = p->on_call(0, block_for(1000), 5000);
    CHECK(s.kind == Step::Kind::park);
    CHECK(s.deadline_ns == 6000);
    CHECK(p->vcpu_state(0) == VcpuState::blocked);
    CHECK(p->state() == DomainState::blocked);
    // No timeout, and one past the clock's range: no deadline.
    auto q = running(1);
    CHECK(q->on_call(0, block_for(0), 5).deadline_ns == kNoDeadline);
    auto r = running(1);
    CHECK(r->on_call(0, block_for(UINT64_MAX - 2), 5).deadline_ns == kNoDeadline);
}

TEST_CASE("policy: an event raised before the block is not lost", "[core][policy][events]") {
    auto p = running(1);
    // The control plane asks for a poweroff while the guest is still
    // deciding to block: nobody is parked, nobody to wake.
    CHECK(p->raise(HV_EVENT_SHUTDOWN_REQUEST, HV_SHUTDOWN_POWEROFF) == kNoVcpu);
    CHECK(p->pending(0) == HV_EVENT_SHUTDOWN_REQUEST);
    REQUIRE(p->on_call(0, block_for(0), 0).kind == Step::Kind::park);
    // The block re-checks at once.
    Wake w = p->check(0, 0);
    CHECK(w.kind == Wake::Kind::resume);
    CHECK(w.finish_block);
    CHECK(w.events == HV_EVENT_SHUTDOWN_REQUEST);
    CHECK(w.request == HV_SHUTDOWN_POWEROFF);
    CHECK(p->pending(0) == 0);
    CHECK(p->may_enter(0));
}

TEST_CASE("policy: a raise wakes the parked notify vCPU; a timeout ends a block with no events", "[core][policy][events]") {
    auto p = running(2, 1);
    p->enter(0);
    REQUIRE(p->on_call(0, block_for(1000), 100).kind == Step::Kind::park);
    REQUIRE(p->on_call(1, block_for(1000), 100).kind == Step::Kind::park);
    CHECK(p->check(0, 500).kind == Wake::Kind::parked); // spurious wake-up: park again
    // Events go to vCPU 0 (the notify vCPU), and only it is to be woken.
    CHECK(p->raise(HV_EVENT_CONSOLE_INPUT) == 0);
    Wake w0 = p->check(0, 600);
    CHECK(w0.kind == Wake::Kind::resume);
    CHECK(w0.events == HV_EVENT_CONSOLE_INPUT);
    CHECK(w0.request == 0);
    CHECK(p->check(1, 600).kind == Wake::Kind::parked);
    // vCPU 1's deadline passes: it goes on with nothing taken (HV_ETIMEDOUT).
    Wake w1 = p->check(1, 1100);
    CHECK(w1.kind == Wake::Kind::resume);
    CHECK(w1.finish_block);
    CHECK(w1.events == 0);
    CHECK(p->bad_moves() == 0);
}

TEST_CASE("policy: masked events stay pending and do not wake", "[core][policy][events]") {
    auto p = running(1);
    p->set_mask(0, HV_EVENT_CONSOLE_INPUT);
    REQUIRE(p->on_call(0, block_for(0), 0).kind == Step::Kind::park);
    CHECK(p->raise(HV_EVENT_CONSOLE_INPUT) == kNoVcpu);
    CHECK(p->check(0, 10).kind == Wake::Kind::parked);
    CHECK(p->pending(0) == HV_EVENT_CONSOLE_INPUT);
    // An unmasked one wakes it and only that is taken.
    CHECK(p->raise(HV_EVENT_SHUTDOWN_REQUEST, HV_SHUTDOWN_REBOOT) == 0);
    Wake w = p->check(0, 20);
    CHECK(w.kind == Wake::Kind::resume);
    CHECK(w.events == HV_EVENT_SHUTDOWN_REQUEST);
    CHECK(w.request == HV_SHUTDOWN_REBOOT);
    CHECK(p->pending(0) == HV_EVENT_CONSOLE_INPUT);
}

TEST_CASE("policy: a paused domain's parked vCPUs neither take events nor time out", "[core][policy]") {
    auto p = running(1);
    REQUIRE(p->on_call(0, block_for(100), 0).kind == Step::Kind::park);
    p->pause();
    CHECK(p->state() == DomainState::paused);
    p->raise(HV_EVENT_CONSOLE_INPUT);
    CHECK(p->check(0, 1000).kind == Wake::Kind::parked);
    CHECK(p->pending(0) == HV_EVENT_CONSOLE_INPUT);
    p->unpause();
    Wake w = p->check(0, 1000);
    CHECK(w.kind == Wake::Kind::resume);
    CHECK(w.events == HV_EVENT_CONSOLE_INPUT);
}

TEST_CASE("policy: HLT sleeps until a new event and takes none", "[core][policy][events]") {
    auto p = running(2, 1);
    REQUIRE(p->on_halt(1).kind == Step::Kind::park);
    CHECK(p->any_halted());
    CHECK(p->check(1, 50).kind == Wake::Kind::parked);
    p->raise(HV_EVENT_CONSOLE_INPUT); // bound to vCPU 0, but HLT wakes on any
    Wake w = p->check(1, 60);
    CHECK(w.kind == Wake::Kind::resume);
    CHECK_FALSE(w.finish_block);
    CHECK(p->pending(0) == HV_EVENT_CONSOLE_INPUT); // still vCPU 0's
    CHECK_FALSE(p->any_halted());
}

TEST_CASE("policy: the first stop wins and decides the state", "[core][policy][lifecycle]") {
    auto p = running(2);
    REQUIRE(p->on_call(0, block_for(0), 0).kind == Step::Kind::park);
    CallOutcome sd;
    sd.action = CallOutcome::Action::shutdown;
    sd.reason = ShutdownReason::reboot;
    p->enter(1);
    const Step first = p->on_call(1, sd, 0);
    CHECK(first.kind == Step::Kind::stop);
    CHECK(first.first_stop);
    CHECK(p->stopping());
    CHECK_FALSE(p->may_enter(1));
    ShutdownReason why{};
    REQUIRE(p->stopped_by_guest(why));
    CHECK(why == ShutdownReason::reboot);
    // A crash after it, and a hard stop (destroy), change nothing.
    const Step late = p->on_fault(0);
    CHECK(late.kind == Step::Kind::stop);
    CHECK_FALSE(late.first_stop);
    CHECK_FALSE(p->stop(ShutdownReason::poweroff, false));
    REQUIRE(p->stopped_by_guest(why));
    CHECK(why == ShutdownReason::reboot);
    CHECK(p->state() == DomainState::shutdown);
    // The parked vCPU is told to stop.
    CHECK(p->check(0, 0).kind == Wake::Kind::stop);
    p->retire(0);
    p->retire(1);
    CHECK(p->vcpus_online() == 0);

    auto c = running(1);
    CHECK(c->on_fault(0).kind == Step::Kind::stop);
    CHECK(c->state() == DomainState::crashed);
    auto d = running(1);
    CHECK(d->stop(ShutdownReason::poweroff, false));
    CHECK(d->state() == DomainState::dying);
    CHECK_FALSE(d->stopped_by_guest(why));
    CHECK_FALSE(d->start(0));
}

TEST_CASE("policy: restarts are throttled to a burst per window", "[core][policy][lifecycle]") {
    const ShutdownActions acts{ShutdownAction::destroy, ShutdownAction::restart, ShutdownAction::rename_restart};
    RestartHistory h;
    bool throttled = false;
    uint64_t t = 1000;
    for (uint32_t i = 0; i < RestartHistory::kBurst; ++i) {
        CHECK(choose_action(acts, ShutdownReason::reboot, h, t, throttled) == ShutdownAction::restart);
        CHECK_FALSE(throttled);
        t += 1000000000ull; // one a second
    }
    CHECK(choose_action(acts, ShutdownReason::crash, h, t, throttled) == ShutdownAction::preserve);
    CHECK(throttled);
    // destroy is never throttled.
    CHECK(choose_action(acts, ShutdownReason::poweroff, h, t, throttled) == ShutdownAction::destroy);
    CHECK_FALSE(throttled);
    // Once the first restarts fall out of the window, restarts go on.
    t = 1000 + kRestartWindowNs + 1;
    CHECK(choose_action(acts, ShutdownReason::reboot, h, t, throttled) == ShutdownAction::restart);
    CHECK_FALSE(throttled);
}

TEST_CASE("policy: the hypercall transport is a 32-bit OUT to the hypercall port", "[core][policy]") {
    CHECK(is_hypercall_exit(HV_HYPERCALL_PORT, 4, true, 1));
    CHECK_FALSE(is_hypercall_exit(HV_HYPERCALL_PORT, 4, false, 1)); // IN
    CHECK_FALSE(is_hypercall_exit(HV_HYPERCALL_PORT, 2, true, 1));
    CHECK_FALSE(is_hypercall_exit(HV_HYPERCALL_PORT, 4, true, 2)); // rep outs
    CHECK_FALSE(is_hypercall_exit(HV_HYPERCALL_PORT + 1, 4, true, 1));
}
