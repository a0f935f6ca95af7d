// DomainPolicy: what happens to a domain's vCPUs, decided in the core.
// The platform (the hosted monitor's vCPU threads, or the ring-0 image)
// only carries it out: it asks may_enter() before it runs a vCPU, hands
// every exit to on_io()/on_call()/on_halt()/on_fault() and does what the
// returned Step says (resume, yield, park, go offline, stop), and after
// every wake-up of a parked vCPU asks check() whether it may go on. The
// policy drives the platform through core::Platform: it kicks the vCPUs a
// pause or a stop must get out of the guest, wakes the ones an event, an
// unpause, a start or a stop concerns, and arms a vCPU's one-shot timer
// for a block's timeout. One walk of a hypercall: guest -> exit -> on_io
// (transport decode) -> HypercallDispatcher -> on_call (policy) -> Step ->
// guest.
//
// Events work as Xen's event channels do: each event is bound to a notify
// vCPU (vCPU 0, Xen's default binding, for the domain's events; every up
// vCPU for HV_EVENT_VCPU_TARGET), raise() marks it pending there and wakes
// that vCPU, and a vCPU that blocks re-checks its pending-and-unmasked
// events first, so a raise that comes between the guest's decision to
// block and the block itself is never lost.
//
// vCPU hotplug (xl vcpu-set): the control plane sets a target count; the
// policy raises HV_EVENT_VCPU_TARGET on every up vCPU and the guest follows
// with vcpu_op up and down. A vCPU that goes down leaves the run loop
// (Step::offline) until a later start().
//
// Not thread-safe: the hosted platform calls it under its domain lock.
// Freestanding (DESIGN.md section 3): fixed capacity, no heap.
#pragma once

#include <stdint.h>

#include "core/domain_state.hpp"
#include "core/hypercall_dispatcher.hpp"
#include "core/platform.hpp"
#include "core/vcpu_state.hpp"

namespace hv::core {

constexpr uint32_t kMaxDomainVcpus = 128; // the config's kMaxVcpus
constexpr uint64_t kNoDeadline = UINT64_MAX;

// The hypercall transport (docs/abi.md): a 32-bit OUT to HV_HYPERCALL_PORT,
// not a string op; rax holds the call slot's guest-physical address.
bool is_hypercall_exit(uint16_t port, uint8_t size, bool write, uint32_t count);

// What the platform does with a vCPU after an exit.
struct Step {
    enum class Kind : uint8_t {
        resume, // back into the guest (rax = result, for a call)
        yield,  // give the CPU to others, then resume
        park,    // sleep until a wake-up (Platform::wake, or its timer), then ask check()
        offline, // it went down: out of the run loop until may_enter() (a later start) or a stop
        stop,    // leave the run loop: the domain is stopping
    };
    Kind kind = Kind::resume;
    int64_t result = 0;      // resume/yield after a call: rax
    bool first_stop = false; // stop: this exit stopped the domain (report it)
};

// check()'s answer for a parked vCPU.
struct Wake {
    enum class Kind : uint8_t {
        parked, // not yet: park again (until a wake-up or its timer)
        resume, // go on; after a block, finish it with `events`/`request`
        stop,   // the domain is stopping
    };
    Kind kind = Kind::parked;
    bool finish_block = false; // the vCPU was in sched_op block: complete it
    uint64_t events = 0;       // taken from its pending set (0: timed out)
    uint32_t request = 0;      // the shutdown reason asked for, with HV_EVENT_SHUTDOWN_REQUEST
};

class DomainPolicy {
public:
    // false when nr_vcpus is 0 or above kMaxDomainVcpus, or the online
    // target is not within 1..nr_vcpus (0: all of them). `platform`
    // outlives the policy.
    bool init(Platform& platform, uint32_t nr_vcpus, uint32_t online_target = 0);
    uint32_t nr_vcpus() const { return nr_; }

    // ---- vCPU lifecycle ----
    // offline -> runnable (boot vCPU, vcpu_op up), and wakes it: a vCPU
    // that went down waits for this.
    bool start(uint32_t vcpu);
    bool is_up(uint32_t vcpu) const;
    VcpuState vcpu_state(uint32_t vcpu) const { return vcpus_[vcpu].state; }
    // The gate: the domain is not stopping or paused and the vCPU is
    // runnable. False while it is parked (blocked).
    bool may_enter(uint32_t vcpu) const;
    void enter(uint32_t vcpu); // runnable -> running
    // Its exit is handled and it did not park: running -> runnable.
    void leave(uint32_t vcpu);
    // Its thread is gone: -> stopped.
    void retire(uint32_t vcpu);

    // ---- vCPU hotplug ----
    // How many vCPUs the control plane wants online (vCPUs 0..n-1).
    uint32_t target() const { return target_; }
    // false (and nothing changes) unless 1 <= n <= nr_vcpus(). Raises
    // HV_EVENT_VCPU_TARGET on every up vCPU, also when n is unchanged.
    bool set_target(uint32_t n);

    // ---- exits ----
    // A hypercall's outcome (the dispatcher's): block parks until an event
    // or now + timeout (the vCPU's timer), yield yields, down takes the
    // vCPU offline, shutdown stops the domain (the first stop wins),
    // anything else resumes with the result.
    Step on_call(uint32_t vcpu, const CallOutcome& out);
    // HLT: no interrupt controller, so it sleeps until any new event.
    Step on_halt(uint32_t vcpu);
    // A fault the guest cannot survive (triple fault, platform failure):
    // the domain crashes.
    Step on_fault(uint32_t vcpu);

    // A parked vCPU was woken (or its deadline passed): may it go on?
    // Takes its pending unmasked events when it does.
    Wake check(uint32_t vcpu);

    // ---- events ----
    // Marks `events` pending on their notify vCPU and wakes it when it is
    // blocked and they are unmasked; every HLT sleeper wakes on any raise.
    void raise(uint64_t events, uint32_t shutdown_request = 0);
    bool any_halted() const;
    // Masked events stay pending and do not wake the vCPU.
    void set_mask(uint32_t vcpu, uint64_t mask) { vcpus_[vcpu].mask = mask; }
    uint64_t pending(uint32_t vcpu) const { return vcpus_[vcpu].pending; }

    // ---- pause and stop ----
    // Sets the pause flag, kicks running vCPUs out of the guest and wakes
    // runnable ones (they may wait for a host CPU); pause is complete once
    // quiescent().
    void pause();
    // Clears it and wakes every up vCPU: parked ones re-check (a block
    // whose timeout passed while paused ends now).
    void unpause();
    bool paused() const { return flags_.paused; }
    bool quiescent() const; // no vCPU is in the guest
    // Stops the domain for `reason` (from the guest: shutdown, crash) or
    // for a hard stop (destroy: by_guest = false, the domain is dying).
    // The first stop wins; returns whether this call was it. It kicks the
    // running vCPUs and wakes every vCPU, offline ones too, so all leave.
    bool stop(ShutdownReason reason, bool by_guest);
    bool stopping() const { return stopping_; }
    // The guest's own stop, when there was one.
    bool stopped_by_guest(ShutdownReason& reason) const;

    DomainState state() const;
    uint32_t vcpus_online() const;

private:
    enum class Wait : uint8_t { none, block, halt };
    struct Vcpu {
        VcpuState state = VcpuState::offline;
        Wait wait = Wait::none;
        uint64_t deadline_ns = kNoDeadline;
        uint64_t halt_seen = 0; // raise generation when it halted
        uint64_t pending = 0;
        uint64_t mask = 0;
    };

    void move(uint32_t vcpu, VcpuEvent e);
    Step park(uint32_t vcpu, Wait wait, uint64_t deadline_ns);
    Step take_down(uint32_t vcpu);
    // Marks `events` pending on `vcpu`; wakes it if that unblocks it.
    void raise_on(uint32_t vcpu, uint64_t events);
    void wake_halted();

    Platform* platform_ = nullptr;
    uint32_t nr_ = 0;
    uint32_t target_ = 0;
    Vcpu vcpus_[kMaxDomainVcpus];
    DomainFlags flags_;
    bool stopping_ = false;
    bool guest_stop_ = false;
    ShutdownReason stop_reason_ = ShutdownReason::poweroff;
    uint64_t raises_ = 0;      // generation: HLT waits for a new one
    uint32_t request_ = 0;     // the last shutdown reason asked for
    uint32_t bad_moves_ = 0;   // illegal transitions asked for (a platform bug)

public:
    // Illegal vCPU state transitions the platform asked for (should stay 0).
    uint32_t bad_moves() const { return bad_moves_; }
};

// on_* restart throttle: at most kBurst restarts of one domain within the
// window; past that its action becomes preserve, so a guest that crashes
// at boot does not loop for ever.
struct RestartHistory {
    static constexpr uint32_t kBurst = 5;
    uint64_t times[kBurst] = {};
    uint32_t count = 0;
};
constexpr uint64_t kRestartWindowNs = 10ull * 1000000000ull;
// Records a restart at `now_ns` and returns true, or returns false (and
// records nothing) when kBurst restarts already fall within the window.
bool restart_allowed(RestartHistory& h, uint64_t now_ns, uint64_t window_ns = kRestartWindowNs);
// The action for a stop: the config's, or preserve when restarting too fast.
ShutdownAction choose_action(const ShutdownActions& actions, ShutdownReason reason, RestartHistory& h,
                             uint64_t now_ns, bool& throttled);

} // namespace hv::core
