// platform::Clock: the time a hosted domain's policy runs on. The host's
// monotonic clock by default; unit tests give the platform a virtual clock
// they advance by hand, so block timeouts and the restart throttle are
// tested without sleeping. The core's deadlines (core::Platform::now_ns,
// set_timer) are in this clock's nanoseconds.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

namespace hv::platform {

class Clock {
public:
    static constexpr uint64_t kNever = UINT64_MAX;

    virtual ~Clock() = default;
    // Monotonic nanoseconds (steady_clock's here).
    virtual uint64_t now_ns() const;
    // Waits on `cv` (with `lock` held on entry and return) until notified,
    // or until now_ns() >= deadline_ns (kNever: no deadline). It may return
    // early; callers re-check what they wait for.
    virtual void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, uint64_t deadline_ns) const;

    // The host's clock, shared.
    static std::shared_ptr<const Clock> host();
};

} // namespace hv::platform
