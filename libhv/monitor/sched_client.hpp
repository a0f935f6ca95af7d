// SchedClient: the vCPU side of the host scheduler. A domain's vCPU
// threads say through it when they want a pCPU (runnable), when they do not
// (blocked, paused, offline) and when they yield, and wait in acquire()
// until the host grants them one. The decisions are the core scheduler's
// (core/sched), made by SchedHost; this class only carries them out.
//
// Preemption: the host clears the grant and sends kick_signal to the
// thread, which leaves the guest (platform::Vcpu::run returns
// InterruptedExit) and comes back to acquire().
#pragma once

#include <cstdint>
#include <memory>

#include "monitor/sched_page.hpp"

namespace hv::sched {

class SchedClient {
public:
    enum class Entry {
        granted,     // the host lets it enter the guest now
        free,        // no host schedules this page: enter, Linux schedules the thread
        interrupted, // `stop_waiting` said so (pause, stop)
    };

    // kick_signal: what the host sends a vCPU thread to make it leave the
    // guest (the platform's; 0: none, the host cannot preempt).
    SchedClient(SchedPage& page, SchedBell& bell, int kick_signal);
    // With a page of its own (an embedded monitor's domain).
    SchedClient(std::unique_ptr<SchedPage> page, SchedBell& bell, int kick_signal);
    SchedClient(const SchedClient&) = delete;
    SchedClient& operator=(const SchedClient&) = delete;

    SchedPage& page() { return page_; }

    // On the vCPU's own thread: true when it starts (and when vcpu_op up
    // starts it again), false when it goes down or its thread exits. The
    // host keeps an offline vCPU asleep with its scheduling state.
    void online(uint32_t vcpu, bool yes);
    // Runnable (true) or blocked, paused (false).
    void want(uint32_t vcpu, bool yes);
    void yield(uint32_t vcpu);

    // Waits, in bounded steps, until the vCPU may enter the guest or
    // stop_waiting() is true. Marks it runnable first.
    template <class F>
    Entry acquire(uint32_t vcpu, F stop_waiting) {
        if (vcpu >= kPageVcpus) return Entry::free;
        for (;;) {
            if (!host_present() || vcpu >= page_.managed.load()) {
                let_go(vcpu);
                return Entry::free;
            }
            want(vcpu, true);
            if (page_.vcpu[vcpu].grant.load() != 0) return Entry::granted;
            if (stop_waiting()) return Entry::interrupted;
            futex_wait(page_.vcpu[vcpu].grant, 0, kWaitStepNs);
        }
    }
    // Wakes a vCPU waiting in acquire() so it re-checks stop_waiting().
    void interrupt(uint32_t vcpu);
    // Whether a host claims this page and beats.
    bool host_present() const;

    static constexpr uint64_t kWaitStepNs = 100'000'000;

private:
    void changed();
    // Undoes the host's CPU binding of this thread once no host schedules
    // it (Linux places it again).
    void let_go(uint32_t vcpu);

    std::unique_ptr<SchedPage> owned_;
    SchedPage& page_;
    SchedBell& bell_;
};

} // namespace hv::sched
