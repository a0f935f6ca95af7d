// core::Platform: what the core's policy asks of whatever runs the domain
// (the hosted monitor's vCPU threads on KVM, a fake in unit tests, later the
// ring-0 image). The policy decides who is kicked, woken or timed; the
// platform only carries it out. Every call is made with the domain's lock
// held (hosted: Domain's mutex), so implementations must not call back into
// the policy. No virtual destructor, for the same reason as DomainServices:
// the core never deletes through it (and must not pull in operator delete).
//
// Page operations (the balloon's) join this interface when the memory
// policy moves into the core; nothing calls them yet.
#pragma once

#include <stdint.h>

namespace hv::core {

class Platform {
public:
    // Monotonic nanoseconds; the policy's deadlines are on this clock.
    virtual uint64_t now_ns() const = 0;
    // Get a running `vcpu` out of the guest within one exit, so it asks the
    // policy again. Harmless when it has already left: its next entry
    // returns at once.
    virtual void kick(uint32_t vcpu) = 0;
    // A `vcpu` that is not in the guest (parked, offline, or waiting to
    // enter, e.g. for a host CPU) asks the policy again (check() or
    // may_enter()); a wake-up that finds nothing to do parks it again.
    virtual void wake(uint32_t vcpu) = 0;
    // One-shot: wake(vcpu) once now_ns() >= deadline_ns. A later call
    // replaces it; kNoDeadline (UINT64_MAX) cancels it.
    virtual void set_timer(uint32_t vcpu, uint64_t deadline_ns) = 0;

protected:
    Platform() = default;
    Platform(const Platform&) = default;
    Platform& operator=(const Platform&) = default;
    ~Platform() = default;
};

} // namespace hv::core
