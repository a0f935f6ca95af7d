#include "devices/io_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

namespace hv::dev {

namespace {

Error sys_error(const char* what) { return make_error(Errc::io_error, fmt::format("I/O loop: {}: {}", what, std::strerror(errno))); }

} // namespace

IoLoop::IoLoop() : epoll_(::epoll_create1(EPOLL_CLOEXEC)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

IoLoop::~IoLoop() {
    stop();
    if (wake_ >= 0) ::close(wake_);
    if (epoll_ >= 0) ::close(epoll_);
}

Result<void> IoLoop::watch(int fd, std::function<void()> ready) {
    if (running()) return make_error(Errc::busy, "I/O loop: fds are watched before it starts");
    if (epoll_ < 0 || wake_ < 0) return sys_error("epoll_create1/eventfd");
    if (handlers_.size() >= kMaxWatches) return make_error(Errc::invalid_argument, "I/O loop: too many fds to watch");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = handlers_.size();
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) return sys_error("epoll_ctl");
    handlers_.push_back(std::move(ready));
    fds_.push_back(fd);
    return {};
}

Result<void> IoLoop::enable(int fd, bool on) {
    for (size_t i = 0; i < fds_.size(); ++i) {
        if (fds_[i] != fd) continue;
        epoll_event ev{};
        ev.events = on ? static_cast<uint32_t>(EPOLLIN) : 0u;
        ev.data.u64 = i;
        if (::epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev) != 0) return sys_error("epoll_ctl");
        return {};
    }
    return make_error(Errc::not_found, "I/O loop: enable() of an fd it does not watch");
}

Result<void> IoLoop::start() {
    if (running() || handlers_.empty()) return {};
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = UINT64_MAX; // the stop signal
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev) != 0 && errno != EEXIST) return sys_error("epoll_ctl");
    try {
        thread_ = std::thread([this] { main(); });
    } catch (const std::system_error& e) {
        return make_error(Errc::io_error, fmt::format("I/O loop: cannot start its thread: {}", e.what()));
    }
    return {};
}

void IoLoop::stop() {
    if (!running() || on_loop_thread()) return;
    const uint64_t one = 1;
    // An eventfd write fails only when its counter would overflow: it is
    // then readable already.
    (void)!::write(wake_, &one, sizeof one);
    thread_.join();
    uint64_t drained = 0;
    (void)!::read(wake_, &drained, sizeof drained); // a later start() runs
}

void IoLoop::main() {
    epoll_event events[16];
    for (;;) {
        // No timeout needed: stop() always wakes the wait.
        const int n = ::epoll_wait(epoll_, events, 16, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return; // EBADF/EINVAL: cannot happen with our own epoll fd
        }
        for (int i = 0; i < n; ++i) {
            const uint64_t which = events[i].data.u64;
            if (which == UINT64_MAX) return;
            handlers_[which]();
        }
    }
}

} // namespace hv::dev
