#include "devices/io_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include "platform/thread_name.hpp"

namespace hv::dev {

namespace {

Error sys_error(const char* what) { return make_error(Errc::io_error, fmt::format("I/O loop: {}: {}", what, std::strerror(errno))); }

constexpr uint64_t kStopCookie = UINT64_MAX;

} // namespace

IoLoop::IoLoop() : epoll_(::epoll_create1(EPOLL_CLOEXEC)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), slots_(kMaxWatches) {
    if (epoll_ < 0 || wake_ < 0) return; // watch() and start() report it
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kStopCookie;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev) != 0) {
        ::close(wake_);
        wake_ = -1;
    }
}

IoLoop::~IoLoop() {
    stop();
    if (wake_ >= 0) ::close(wake_);
    if (epoll_ >= 0) ::close(epoll_);
}

IoLoop::Slot* IoLoop::find_locked(int fd) {
    for (Slot& s : slots_)
        if (s.fd == fd && fd >= 0) return &s;
    return nullptr;
}

Result<void> IoLoop::watch(int fd, std::function<void()> ready) {
    if (epoll_ < 0 || wake_ < 0) return sys_error("epoll_create1/eventfd");
    if (fd < 0) return make_error(Errc::invalid_argument, "I/O loop: watch() of no fd");
    std::lock_guard lock(mu_);
    if (find_locked(fd) != nullptr) return make_error(Errc::exists, "I/O loop: the fd is watched already");
    // Not the slot whose handler is running: if that handler unwatched its
    // own fd, its std::function is still in use until it returns.
    Slot* free = nullptr;
    for (size_t i = 0; i < slots_.size() && free == nullptr; ++i)
        if (slots_[i].fd < 0 && i != running_) free = &slots_[i];
    if (free == nullptr) return make_error(Errc::invalid_argument, "I/O loop: too many fds to watch");
    const size_t index = static_cast<size_t>(free - slots_.data());
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = cookie(index, free->generation);
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) return sys_error("epoll_ctl");
    free->fd = fd;
    free->ready = std::move(ready);
    if (wanted_ && !thread_.joinable()) return spawn_locked();
    return {};
}

void IoLoop::unwatch(int fd) {
    std::unique_lock lock(mu_);
    Slot* s = find_locked(fd);
    if (s == nullptr) return;
    const size_t index = static_cast<size_t>(s - slots_.data());
    (void)::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr); // fails only for an fd closed already: then it is gone anyway
    s->fd = -1;
    ++s->generation; // events fetched before this are stale
    if (on_loop_thread()) {
        // From a handler: if it is this fd's own, its std::function must
        // outlive the call; main() frees it when the handler returns.
        if (running_ != index) s->ready = nullptr;
        return;
    }
    idle_.wait(lock, [&] { return running_ != index; });
    s->ready = nullptr;
}

Result<void> IoLoop::enable(int fd, bool on) {
    std::lock_guard lock(mu_);
    Slot* s = find_locked(fd);
    if (s == nullptr) return make_error(Errc::not_found, "I/O loop: enable() of an fd it does not watch");
    epoll_event ev{};
    ev.events = on ? static_cast<uint32_t>(EPOLLIN) : 0u;
    ev.data.u64 = cookie(static_cast<size_t>(s - slots_.data()), s->generation);
    if (::epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev) != 0) return sys_error("epoll_ctl");
    return {};
}

Result<void> IoLoop::start() {
    if (epoll_ < 0 || wake_ < 0) return sys_error("epoll_create1/eventfd");
    std::lock_guard lock(mu_);
    wanted_ = true;
    if (thread_.joinable()) return {};
    for (const Slot& s : slots_)
        if (s.fd >= 0) return spawn_locked();
    return {};
}

Result<void> IoLoop::spawn_locked() {
    try {
        thread_ = std::thread([this] { main(); });
    } catch (const std::system_error& e) {
        return make_error(Errc::io_error, fmt::format("I/O loop: cannot start its thread: {}", e.what()));
    }
    loop_id_.store(thread_.get_id());
    return {};
}

void IoLoop::stop() {
    if (on_loop_thread()) return;
    std::thread t;
    {
        std::lock_guard lock(mu_);
        wanted_ = false;
        t = std::move(thread_);
    }
    if (!t.joinable()) return;
    const uint64_t one = 1;
    // An eventfd write fails only when its counter would overflow: it is
    // then readable already.
    (void)!::write(wake_, &one, sizeof one);
    t.join();
    loop_id_.store(std::thread::id());
    uint64_t drained = 0;
    (void)!::read(wake_, &drained, sizeof drained); // a later start() runs
}

void IoLoop::main() {
    loop_id_.store(std::this_thread::get_id()); // before any handler asks on_loop_thread()
    hv::name_this_thread(name_);
    epoll_event events[16];
    for (;;) {
        // No timeout needed: stop() always wakes the wait.
        const int n = ::epoll_wait(epoll_, events, 16, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return; // EBADF/EINVAL: cannot happen with our own epoll fd
        }
        for (int i = 0; i < n; ++i) {
            const uint64_t c = events[i].data.u64;
            if (c == kStopCookie) return;
            const size_t index = static_cast<size_t>(c & 0xffffffffu);
            {
                std::lock_guard lock(mu_);
                if (index >= slots_.size() || slots_[index].fd < 0 || slots_[index].generation != (c >> 32)) continue;
                running_ = index;
            }
            // Without the lock: a handler may enable() its own fd, or
            // watch and unwatch others.
            slots_[index].ready();
            std::lock_guard lock(mu_);
            running_ = SIZE_MAX;
            if (slots_[index].fd < 0) slots_[index].ready = nullptr; // unwatched by its own handler
            idle_.notify_all();
        }
    }
}

} // namespace hv::dev
