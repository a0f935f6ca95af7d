#include "core/domain_policy.hpp"

#include "hv/abi/common.h"
#include "hv/abi/hv.h"

namespace hv::core {

namespace {
// Xen binds an event channel to vCPU 0 unless told otherwise; hv's two
// events have no binding op yet, so they all notify vCPU 0.
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

bool DomainPolicy::init(uint32_t nr_vcpus) {
    if (nr_vcpus == 0 || nr_vcpus > kMaxDomainVcpus) return false;
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
    Step s;
    s.kind = Step::Kind::park;
    s.deadline_ns = deadline_ns;
    return s;
}

Step DomainPolicy::on_call(uint32_t vcpu, const CallOutcome& out, uint64_t now_ns) {
    Step s;
    s.result = out.result;
    switch (out.action) {
    case CallOutcome::Action::none: s.kind = Step::Kind::resume; return s;
    case CallOutcome::Action::yield: s.kind = Step::Kind::yield; return s;
    case CallOutcome::Action::block: return park(vcpu, Wait::block, deadline_after(now_ns, out.block_timeout_ns));
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

Wake DomainPolicy::check(uint32_t vcpu, uint64_t now_ns) {
    Vcpu& v = vcpus_[vcpu];
    Wake w;
    w.deadline_ns = v.deadline_ns;
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
    if (v.wait == Wait::block) go = ready != 0 || now_ns >= v.deadline_ns;
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
    v.wait = Wait::none;
    v.deadline_ns = kNoDeadline;
    w.kind = Wake::Kind::resume;
    return w;
}

uint32_t DomainPolicy::raise(uint64_t events, uint32_t shutdown_request) {
    ++raises_;
    if ((events & HV_EVENT_SHUTDOWN_REQUEST) != 0) request_ = shutdown_request;
    Vcpu& v = vcpus_[kNotifyVcpu];
    v.pending |= events;
    if (v.wait == Wait::block && (v.pending & ~v.mask) != 0) return kNotifyVcpu;
    return kNoVcpu;
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
