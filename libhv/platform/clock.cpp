#include "platform/clock.hpp"

#include <chrono>

namespace hv::platform {

uint64_t Clock::now_ns() const {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

void Clock::wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, uint64_t deadline_ns) const {
    if (deadline_ns == kNever) {
        cv.wait(lock);
        return;
    }
    const uint64_t now = now_ns();
    if (deadline_ns > now) cv.wait_for(lock, std::chrono::nanoseconds(deadline_ns - now));
}

std::shared_ptr<const Clock> Clock::host() {
    static const auto clock = std::make_shared<const Clock>();
    return clock;
}

} // namespace hv::platform
