// The core's vCPU and event policy, driven as a platform drives it, on a
// virtual clock: no KVM, no threads.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "core/domain_policy.hpp"
#include "hv/abi/common.h"
#include "hv/abi/hv.h"

using namespace hv::core;

namespace {

// The platform the policy drives, on a virtual clock: it records whom the
// policy kicks and wakes and which timers it arms.
struct RecordingPlatform final : Platform {
    uint64_t now_ns() const override { return now; }
    void kick(uint32_t vcpu) override { kicks.push_back(vcpu); }
    void wake(uint32_t vcpu) override { wakes.push_back(vcpu); }
    void set_timer(uint32_t vcpu, uint64_t deadline_ns) override { timers[vcpu] = deadline_ns; }
    bool woke(uint32_t vcpu) const { return std::find(wakes.begin(), wakes.end(), vcpu) != wakes.end(); }
    bool kicked(uint32_t vcpu) const { return std::find(kicks.begin(), kicks.end(), vcpu) != kicks.end(); }
    void clear() {
        kicks.clear();
        wakes.clear();
    }
    uint64_t now = 0;
    std::vector<uint32_t> kicks, wakes;
    std::map<uint32_t, uint64_t> timers;
};

CallOutcome block_for(uint64_t timeout_ns) {
    CallOutcome o;
    o.action = CallOutcome::Action::block;
    o.block_timeout_ns = timeout_ns;
    return o;
}

CallOutcome action(CallOutcome::Action a) {
    CallOutcome o;
    o.action = a;
    return o;
}

// A policy with its platform.
struct Dom : DomainPolicy {
    RecordingPlatform plat;
};

// A domain with `n` vCPUs, all started, vCPU `run` inside the guest.
std::unique_ptr<Dom> running(uint32_t n, uint32_t run = 0) {
    auto d = std::make_unique<Dom>();
    REQUIRE(d->init(d->plat, n));
    for (uint32_t i = 0; i < n; ++i) REQUIRE(d->start(i));
    REQUIRE(d->may_enter(run));
    d->enter(run);
    d->plat.clear();
    return d;
}

} // namespace

TEST_CASE("policy: the gate lets a runnable vCPU in unless paused or stopping", "[core][policy]") {
    RecordingPlatform plat;
    DomainPolicy p;
    CHECK_FALSE(p.init(plat, 0));
    CHECK_FALSE(p.init(plat, kMaxDomainVcpus + 1));
    CHECK_FALSE(p.init(plat, 2, 3)); // a target above the vCPUs
    REQUIRE(p.init(plat, 2));
    CHECK(p.target() == 2);
    CHECK_FALSE(p.may_enter(0)); // offline
    REQUIRE(p.start(0));
    CHECK(plat.woke(0)); // a started vCPU's context is woken
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
    plat.clear();
    p.pause(); // the policy kicks it; it leaves after its exit
    CHECK(plat.kicks == std::vector<uint32_t>{0});
    p.leave(0);
    CHECK(p.quiescent());
    CHECK_FALSE(p.may_enter(0));
    p.unpause();
    CHECK(p.may_enter(0));
    CHECK(plat.woke(0)); // unpause wakes it
    CHECK(p.bad_moves() == 0);
}

TEST_CASE("policy: a hypercall's outcome becomes resume, yield, park or stop", "[core][policy]") {
    auto p = running(1);
    CallOutcome done;
    done.result = 42;
    Step s = p->on_call(0, done);
    CHECK(s.kind == Step::Kind::resume);
    CHECK(s.result == 42);
    CallOutcome y;
    y.action = CallOutcome::Action::yield;
    CHECK(p->on_call(0, y).kind == Step::Kind::yield);
    p->plat.now = 5000;
    s = p->on_call(0, block_for(1000));
    CHECK(s.kind == Step::Kind::park);
    CHECK(p->plat.timers.at(0) == 6000); // the vCPU's one-shot timer
    CHECK(p->vcpu_state(0) == VcpuState::blocked);
    CHECK(p->state() == DomainState::blocked);
    // No timeout, and one past the clock's range: no deadline.
    auto q = running(1);
    q->plat.now = 5;
    CHECK(q->on_call(0, block_for(0)).kind == Step::Kind::park);
    CHECK(q->plat.timers.count(0) == 0);
    auto r = running(1);
    r->plat.now = 5;
    CHECK(r->on_call(0, block_for(UINT64_MAX - 2)).kind == Step::Kind::park);
    CHECK(r->plat.timers.count(0) == 0);
}

TEST_CASE("policy: an event raised before the block is not lost", "[core][policy][events]") {
    auto p = running(1);
    // The control plane asks for a poweroff while the guest is still
    // deciding to block: nobody is parked, nobody to wake.
    p->raise(HV_EVENT_SHUTDOWN_REQUEST, HV_SHUTDOWN_POWEROFF);
    CHECK(p->plat.wakes.empty());
    CHECK(p->pending(0) == HV_EVENT_SHUTDOWN_REQUEST);
    REQUIRE(p->on_call(0, block_for(0)).kind == Step::Kind::park);
    // The block re-checks at once.
    Wake w = p->check(0);
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
    p->plat.now = 100;
    REQUIRE(p->on_call(0, block_for(1000)).kind == Step::Kind::park);
    REQUIRE(p->on_call(1, block_for(1000)).kind == Step::Kind::park);
    p->plat.now = 500;
    CHECK(p->check(0).kind == Wake::Kind::parked); // spurious wake-up: park again
    // Events go to vCPU 0 (the notify vCPU), and only it is woken.
    p->raise(HV_EVENT_CONSOLE_INPUT);
    CHECK(p->plat.wakes == std::vector<uint32_t>{0});
    p->plat.now = 600;
    Wake w0 = p->check(0);
    CHECK(w0.kind == Wake::Kind::resume);
    CHECK(w0.events == HV_EVENT_CONSOLE_INPUT);
    CHECK(w0.request == 0);
    CHECK(p->plat.timers.at(0) == kNoDeadline); // its timer is cancelled
    CHECK(p->check(1).kind == Wake::Kind::parked);
    // vCPU 1's timer fires: it goes on with nothing taken (HV_ETIMEDOUT).
    CHECK(p->plat.timers.at(1) == 1100);
    p->plat.now = 1100;
    Wake w1 = p->check(1);
    CHECK(w1.kind == Wake::Kind::resume);
    CHECK(w1.finish_block);
    CHECK(w1.events == 0);
    CHECK(p->bad_moves() == 0);
}

TEST_CASE("policy: masked events stay pending and do not wake", "[core][policy][events]") {
    auto p = running(1);
    p->set_mask(0, HV_EVENT_CONSOLE_INPUT);
    REQUIRE(p->on_call(0, block_for(0)).kind == Step::Kind::park);
    p->raise(HV_EVENT_CONSOLE_INPUT);
    CHECK(p->plat.wakes.empty());
    CHECK(p->check(0).kind == Wake::Kind::parked);
    CHECK(p->pending(0) == HV_EVENT_CONSOLE_INPUT);
    // An unmasked one wakes it and only that is taken.
    p->raise(HV_EVENT_SHUTDOWN_REQUEST, HV_SHUTDOWN_REBOOT);
    CHECK(p->plat.wakes == std::vector<uint32_t>{0});
    Wake w = p->check(0);
    CHECK(w.kind == Wake::Kind::resume);
    CHECK(w.events == HV_EVENT_SHUTDOWN_REQUEST);
    CHECK(w.request == HV_SHUTDOWN_REBOOT);
    CHECK(p->pending(0) == HV_EVENT_CONSOLE_INPUT);
}

TEST_CASE("policy: a paused domain's parked vCPUs neither take events nor time out", "[core][policy]") {
    auto p = running(1);
    REQUIRE(p->on_call(0, block_for(100)).kind == Step::Kind::park);
    p->pause();
    CHECK(p->plat.kicks.empty()); // nobody is in the guest
    CHECK(p->state() == DomainState::paused);
    p->raise(HV_EVENT_CONSOLE_INPUT);
    p->plat.now = 1000; // its timer fired while paused
    CHECK(p->check(0).kind == Wake::Kind::parked);
    CHECK(p->pending(0) == HV_EVENT_CONSOLE_INPUT);
    p->plat.clear();
    p->unpause();
    CHECK(p->plat.woke(0)); // it re-checks now that it may go on
    Wake w = p->check(0);
    CHECK(w.kind == Wake::Kind::resume);
    CHECK(w.events == HV_EVENT_CONSOLE_INPUT);
}

TEST_CASE("policy: HLT sleeps until a new event and takes none", "[core][policy][events]") {
    auto p = running(2, 1);
    REQUIRE(p->on_halt(1).kind == Step::Kind::park);
    CHECK(p->any_halted());
    CHECK(p->check(1).kind == Wake::Kind::parked);
    p->raise(HV_EVENT_CONSOLE_INPUT); // bound to vCPU 0, but HLT wakes on any
    CHECK(p->plat.woke(1));
    Wake w = p->check(1);
    CHECK(w.kind == Wake::Kind::resume);
    CHECK_FALSE(w.finish_block);
    CHECK(p->pending(0) == HV_EVENT_CONSOLE_INPUT); // still vCPU 0's
    CHECK_FALSE(p->any_halted());
}

TEST_CASE("policy: the first stop wins and decides the state", "[core][policy][lifecycle]") {
    auto p = running(2);
    REQUIRE(p->on_call(0, block_for(0)).kind == Step::Kind::park);
    CallOutcome sd;
    sd.action = CallOutcome::Action::shutdown;
    sd.reason = ShutdownReason::reboot;
    p->enter(1);
    const Step first = p->on_call(1, sd);
    CHECK(first.kind == Step::Kind::stop);
    CHECK(first.first_stop);
    // The stop kicks the running vCPU and wakes the parked one.
    CHECK(p->plat.kicked(1));
    CHECK(p->plat.woke(0));
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
    CHECK(p->check(0).kind == Wake::Kind::stop);
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

TEST_CASE("policy: a vCPU goes down and comes back up; the target is raised on every up vCPU", "[core][policy][hotplug]") {
    auto p = running(3, 1);
    p->enter(0);
    p->enter(2);
    REQUIRE(p->on_call(0, block_for(0)).kind == Step::Kind::park);
    CHECK_FALSE(p->set_target(0));
    CHECK_FALSE(p->set_target(4));
    CHECK(p->target() == 3);
    // The target drops to 1: vCPUs 0..2 are up, so each learns of it; the
    // blocked one is woken, the running ones see it at their next block.
    REQUIRE(p->set_target(1));
    CHECK(p->target() == 1);
    CHECK(p->plat.wakes == std::vector<uint32_t>{0});
    for (uint32_t i = 0; i < 3; ++i) CHECK(p->pending(i) == HV_EVENT_VCPU_TARGET);
    Wake w = p->check(0);
    CHECK(w.kind == Wake::Kind::resume);
    CHECK(w.events == HV_EVENT_VCPU_TARGET);
    // vCPU 2 takes itself down: out of the run loop, its events forgotten.
    const Step down = p->on_call(2, action(CallOutcome::Action::down));
    CHECK(down.kind == Step::Kind::offline);
    CHECK(p->vcpu_state(2) == VcpuState::offline);
    CHECK(p->pending(2) == 0);
    CHECK_FALSE(p->is_up(2));
    CHECK_FALSE(p->may_enter(2));
    CHECK(p->vcpus_online() == 2);
    // A new target reaches only the vCPUs that are up.
    REQUIRE(p->set_target(3));
    CHECK(p->pending(2) == 0);
    CHECK(p->pending(1) == HV_EVENT_VCPU_TARGET);
    // vcpu_op up starts it again and wakes its waiting context.
    p->plat.clear();
    REQUIRE(p->start(2));
    CHECK(p->plat.wakes == std::vector<uint32_t>{2});
    CHECK(p->may_enter(2));
    CHECK(p->vcpus_online() == 3);
    // The same target again is raised again (xl rewrites availability),
    // so a guest that lost a race gets a second chance.
    CHECK(p->pending(2) == 0);
    REQUIRE(p->set_target(3));
    CHECK(p->pending(2) == HV_EVENT_VCPU_TARGET);
    // A stop wakes an offline vCPU too, so its context can leave.
    p->enter(2);
    REQUIRE(p->on_call(2, action(CallOutcome::Action::down)).kind == Step::Kind::offline);
    p->plat.clear();
    REQUIRE(p->stop(ShutdownReason::poweroff, false));
    CHECK(p->plat.woke(2));
    CHECK_FALSE(p->start(2)); // no start while stopping
    CHECK(p->bad_moves() == 0);
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
