// TimerFd: a CLOCK_MONOTONIC timerfd for a device's own wake-ups (a rate
// limit's wait), watched by the domain's I/O loop. Non-blocking; the
// device calls consume() on every poll, so a level-triggered watch never
// spins on an expiry nobody took. consume() reads the fd only while the
// timer is armed: a timer not armed (or disarmed: timerfd_settime clears
// a pending expiry) cannot be readable, and a poll for the device's other
// fds costs no read.
#pragma once

#include <sys/timerfd.h>
#include <unistd.h>

#include <cstdint>
#include <ctime>

namespace hv::dev {

class TimerFd {
public:
    TimerFd() : fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {}
    ~TimerFd() {
        if (fd_ >= 0) ::close(fd_);
    }
    TimerFd(const TimerFd&) = delete;
    TimerFd& operator=(const TimerFd&) = delete;

    int fd() const { return fd_; } // -1 when it could not be made
    static uint64_t now_ns() {
        timespec ts{};
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
    }
    // Fires at `at_ns` on the monotonic clock (at once if that has passed).
    bool arm_at(uint64_t at_ns) {
        itimerspec its{};
        its.it_value.tv_sec = static_cast<time_t>(at_ns / 1000000000ull);
        its.it_value.tv_nsec = static_cast<long>(at_ns % 1000000000ull);
        if (at_ns == 0) its.it_value.tv_nsec = 1; // 0 would disarm it
        const bool ok = fd_ >= 0 && ::timerfd_settime(fd_, TFD_TIMER_ABSTIME, &its, nullptr) == 0;
        if (ok) armed_ = true; // refused: as it was
        return ok;
    }
    void disarm() {
        const itimerspec off{};
        if (fd_ >= 0 && ::timerfd_settime(fd_, 0, &off, nullptr) == 0) armed_ = false;
    }
    // Whether it fired since the last call (and takes the expiry).
    bool consume() {
        if (!armed_) return false;
        uint64_t n = 0;
        if (::read(fd_, &n, sizeof n) != sizeof n) return false; // not yet
        armed_ = false; // one-shot: fired
        return true;
    }

private:
    int fd_;
    bool armed_ = false; // set: it may fire (or has, unread)
};

} // namespace hv::dev
