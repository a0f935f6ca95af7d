#include "core/domain_policy.hpp"

#include "hv/abi/common.h"
#include "hv/abi/hv.h"

namespace hv::core {

namespace {
// Xen binds an event channel to vCPU 0 unless told otherwise; the
// domain's events have no binding op yet, so they notify vCPU 0.
constexpr uint32_t kNotifyVcpu = 0;

uint64_t deadline_after(uint64_t now_ns, uint64_t timeout_ns) {
    // 0 means no timeout; a deadline past the clock's range means none too.
    if (timeout_ns == 0 || timeout_ns > kNoDeadline - now_ns) return kNoDeadline;
    return now_ns + timeout_ns;
}
} // namespace

bool is_hypercall_exit(uint16_t port, uint8_t size, bool write, uint32_t count) {
    return port == HV_HYPERCALL_PORT && write && size == 4 && count == 1;
}

bool DomainPolicy::init(Platform& platform, uint32_t nr_vcpus, uint32_t online_target) {
    if (nr_vcpus == 0 || nr_vcpus > kMaxDomainVcpus || online_target > nr_vcpus) return false;
    platform_ = &platform;
    target_ = online_target != 0 ? online_target : nr_vcpus;
    for (Vcpu& v : vcpus_) v = Vcpu{};
    flags_ = DomainFlags{};
    stopping_ = guest_stop_ = false;
    raises_ = 0;
    request_ = 0;
    bad_moves_ = 0;
    nr_ = nr_vcpus;
    return true;
}

void DomainPolicy::move(uint32_t vcpu, VcpuEvent e) {
    if (!vcpu_apply(vcpus_[vcpu].state, e)) ++bad_moves_;
}

bool DomainPolicy::start(uint32_t vcpu) {
    if (vcpu >= nr_ || stopping_ || vcpus_[vcpu].state != VcpuState::offline) return false;
    move(vcpu, VcpuEvent::start);
    platform_->wake(vcpu);
    return true;
}

bool DomainPolicy::set_target(uint32_t n) {
    if (n == 0 || n > nr_) return false;
    // Raised even when the count is the same, as xl rewrites every vCPU's
    // availability: a guest that lost a race settles on the second ask.
    target_ = n;
    ++raises_;
    for (uint32_t i = 0; i < nr_; ++i)
        if (is_up(i)) raise_on(i, HV_EVENT_VCPU_TARGET);
    wake_halted();
    return true;
}

bool DomainPolicy::is_up(uint32_t vcpu) const {
    if (vcpu >= nr_) return false;
    const VcpuState s = vcpus_[vcpu].state;
    return s != VcpuState::offline && s != VcpuState::stopped;
}

bool DomainPolicy::may_enter(uint32_t vcpu) const {
    return !stopping_ && !flags_.paused && vcpus_[vcpu].state == VcpuState::runnable;
}

void DomainPolicy::enter(uint32_t vcpu) { move(vcpu, VcpuEvent::enter); }

void DomainPolicy::leave(uint32_t vcpu) {
    if (vcpus_[vcpu].state == VcpuState::running) move(vcpu, VcpuEvent::exit);
}

void DomainPolicy::retire(uint32_t vcpu) {
    vcpus_[vcpu].wait = Wait::none;
    move(vcpu, VcpuEvent::stop);
}

Step DomainPolicy::park(uint32_t vcpu, Wait wait, uint64_t deadline_ns) {
    Vcpu& v = vcpus_[vcpu];
    move(vcpu, VcpuEvent::block);
    v.wait = wait;
    v.deadline_ns = deadline_ns;
    v.halt_seen = raises_;
    if (deadline_ns != kNoDeadline) platform_->set_timer(vcpu, deadline_ns);
    Step s;
    s.kind = Step::Kind::park;
    return s;
}

// Like Xen's VCPUOP_down: the vCPU forgets its events and waits (out of
// the run loop) for a later vcpu_op up to start it afresh.
Step DomainPolicy::take_down(uint32_t vcpu) {
    Vcpu& v = vcpus_[vcpu];
    move(vcpu, VcpuEvent::down);
    v.wait = Wait::none;
    v.deadline_ns = kNoDeadline;
    v.pending = v.mask = 0;
    Step s;
    s.kind = Step::Kind::offline;
    return s;
}

Step DomainPolicy::on_call(uint32_t vcpu, const CallOutcome& out) {
    Step s;
    s.result = out.result;
    switch (out.action) {
    case CallOutcome::Action::none: s.kind = Step::Kind::resume; return s;
    case CallOutcome::Action::yield: s.kind = Step::Kind::yield; return s;
    case CallOutcome::Action::block:
        return park(vcpu, Wait::block, deadline_after(platform_->now_ns(), out.block_timeout_ns));
    case CallOutcome::Action::down: return take_down(vcpu);
    case CallOutcome::Action::shutdown:
        s.first_stop = stop(out.reason, true);
        s.kind = Step::Kind::stop;
        return s;
    }
    return s;
}

Step DomainPolicy::on_halt(uint32_t vcpu) { return park(vcpu, Wait::halt, kNoDeadline); }

Step DomainPolicy::on_fault(uint32_t) {
    Step s;
    s.first_stop = stop(ShutdownReason::crash, true);
    s.kind = Step::Kind::stop;
    return s;
}

Wake DomainPolicy::check(uint32_t vcpu) {
    Vcpu& v = vcpus_[vcpu];
    Wake w;
    if (stopping_) {
        if (v.state == VcpuState::blocked) move(vcpu, VcpuEvent::wake);
        v.wait = Wait::none;
        w.kind = Wake::Kind::stop;
        return w;
    }
    // A paused domain makes no progress: a parked vCPU neither takes
    // events nor times out until it is unpaused.
    if (flags_.paused) return w;
    const uint64_t ready = v.pending & ~v.mask;
    bool go = false;
    if (v.wait == Wait::block) go = ready != 0 || platform_->now_ns() >= v.deadline_ns;
    else if (v.wait == Wait::halt) go = raises_ != v.halt_seen;
    else go = true; // not parked: nothing to wait for
    if (!go) return w;
    if (v.wait == Wait::block) {
        w.finish_block = true;
        w.events = ready;
        w.request = (ready & HV_EVENT_SHUTDOWN_REQUEST) != 0 ? request_ : 0;
        v.pending &= ~ready;
    }
    if (v.state == VcpuState::blocked) move(vcpu, VcpuEvent::wake);
    if (v.deadline_ns != kNoDeadline) platform_->set_timer(vcpu, kNoDeadline);
    v.wait = Wait::none;
    v.deadline_ns = kNoDeadline;
    w.kind = Wake::Kind::resume;
    return w;
}

void DomainPolicy::raise_on(uint32_t vcpu, uint64_t events) {
    Vcpu& v = vcpus_[vcpu];
    v.pending |= events;
    if (v.wait == Wait::block && (v.pending & ~v.mask) != 0) platform_->wake(vcpu);
}

void DomainPolicy::wake_halted() {
    for (uint32_t i = 0; i < nr_; ++i)
        if (vcpus_[i].wait == Wait::halt) platform_->wake(i);
}

void DomainPolicy::raise(uint64_t events, uint32_t shutdown_request) {
    ++raises_;
    if ((events & HV_EVENT_SHUTDOWN_REQUEST) != 0) request_ = shutdown_request;
    raise_on(kNotifyVcpu, events);
    wake_halted();
}

// A running vCPU is kicked out of the guest; a runnable one may be waiting
// for a host CPU, and is woken to see the pause.
void DomainPolicy::pause() {
    flags_.paused = true;
    for (uint32_t i = 0; i < nr_; ++i) {
        if (vcpus_[i].state == VcpuState::running) platform_->kick(i);
        else if (vcpus_[i].state == VcpuState::runnable) platform_->wake(i);
    }
}

void DomainPolicy::unpause() {
    flags_.paused = false;
    for (uint32_t i = 0; i < nr_; ++i)
        if (is_up(i)) platform_->wake(i);
}

bool DomainPolicy::any_halted() const {
    for (uint32_t i = 0; i < nr_; ++i)
        if (vcpus_[i].wait == Wait::halt) return true;
    return false;
}

bool DomainPolicy::quiescent() const {
    for (uint32_t i = 0; i < nr_; ++i)
        if (vcpus_[i].state == VcpuState::running) return false;
    return true;
}

bool DomainPolicy::stop(ShutdownReason reason, bool by_guest) {
    if (stopping_) {
        // A hard stop after the guest's own keeps its s/c state; a guest
        // stop after a hard stop changes nothing.
        return false;
    }
    stopping_ = true;
    if (by_guest) {
        guest_stop_ = true;
        stop_reason_ = reason;
        if (reason == ShutdownReason::crash) flags_.crashed = true;
        else flags_.shut_down = true;
    } else {
        flags_.dying = true;
    }
    for (uint32_t i = 0; i < nr_; ++i) {
        if (vcpus_[i].state == VcpuState::running) platform_->kick(i);
        platform_->wake(i);
    }
    return true;
}

bool DomainPolicy::stopped_by_guest(ShutdownReason& reason) const {
    if (!guest_stop_) return false;
    reason = stop_reason_;
    return true;
}

DomainState DomainPolicy::state() const {
    VcpuState up[kMaxDomainVcpus];
    size_t n = 0;
    for (uint32_t i = 0; i < nr_; ++i)
        if (vcpus_[i].state != VcpuState::offline) up[n++] = vcpus_[i].state;
    return derive_domain_state(flags_, up, n);
}

uint32_t DomainPolicy::vcpus_online() const {
    uint32_t n = 0;
    for (uint32_t i = 0; i < nr_; ++i) n += is_up(i) ? 1 : 0;
    return n;
}

bool restart_allowed(RestartHistory& h, uint64_t now_ns, uint64_t window_ns) {
    // Forget restarts older than the window (times are in order).
    uint32_t keep = 0;
    for (uint32_t i = 0; i < h.count; ++i)
        if (now_ns - h.times[i] <= window_ns) h.times[keep++] = h.times[i];
    h.count = keep;
    if (h.count >= RestartHistory::kBurst) return false;
    h.times[h.count++] = now_ns;
    return true;
}

ShutdownAction choose_action(const ShutdownActions& actions, ShutdownReason reason, RestartHistory& h, uint64_t now_ns,
                             bool& throttled) {
    ShutdownAction a = action_for(actions, reason);
    throttled = false;
    if ((a == ShutdownAction::restart || a == ShutdownAction::rename_restart) && !restart_allowed(h, now_ns)) {
        throttled = true;
        a = ShutdownAction::preserve;
    }
    return a;
}

} // namespace hv::core
