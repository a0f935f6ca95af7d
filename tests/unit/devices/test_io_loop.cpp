// dev::IoLoop: handlers run on the loop's thread when their fd is
// readable; stop() ends the thread; watching after start is refused.
#include <catch2/catch.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "devices/io_loop.hpp"

namespace {

bool wait_for(const std::atomic<int>& v, int want) {
    for (int i = 0; i < 500 && v.load() < want; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return v.load() >= want;
}

void signal(int fd) {
    const uint64_t one = 1;
    REQUIRE(::write(fd, &one, sizeof one) == sizeof one);
}

} // namespace

TEST_CASE("io loop: a handler runs on the loop's thread for each signal it consumes", "[io_loop]") {
    const int a = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    const int b = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    REQUIRE((a >= 0 && b >= 0));
    std::atomic<int> na{0}, nb{0};
    std::thread::id ran_on;
    {
        hv::dev::IoLoop loop;
        CHECK(!loop.running());
        REQUIRE(loop.watch(a, [&] {
            uint64_t v = 0; // Catch2's macros are not for other threads
            if (::read(a, &v, sizeof v) != sizeof v) return;
            ran_on = std::this_thread::get_id();
            ++na;
        }));
        REQUIRE(loop.watch(b, [&] {
            uint64_t v = 0;
            if (::read(b, &v, sizeof v) != sizeof v) return;
            ++nb;
        }));
        REQUIRE(loop.start());
        CHECK(loop.running());
        CHECK(loop.watch(a, [] {}).error().code == hv::Errc::busy);
        signal(a);
        REQUIRE(wait_for(na, 1));
        CHECK(ran_on != std::this_thread::get_id());
        signal(b);
        signal(a);
        REQUIRE(wait_for(nb, 1));
        REQUIRE(wait_for(na, 2));
        loop.stop();
        CHECK(!loop.running());
        signal(a); // no handler runs once stopped
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        CHECK(na.load() == 2);
        loop.stop(); // twice is fine
        // A stopped loop starts again (the stop signal was consumed).
        REQUIRE(loop.start());
        REQUIRE(wait_for(na, 3));
    } // the destructor stops it
    CHECK(nb.load() == 1);
    ::close(a);
    ::close(b);
}

TEST_CASE("io loop: nothing watched, nothing started; the number of fds is bounded", "[io_loop]") {
    hv::dev::IoLoop loop;
    REQUIRE(loop.start());
    CHECK(!loop.running());
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    REQUIRE(fd >= 0);
    // epoll takes each fd once, so the bound is reached with dup()s.
    std::vector<int> fds;
    bool refused = false;
    for (size_t i = 0; i <= hv::dev::IoLoop::kMaxWatches; ++i) {
        const int d = ::dup(fd);
        REQUIRE(d >= 0);
        fds.push_back(d);
        auto r = loop.watch(d, [] {});
        if (!r) {
            CHECK(i == hv::dev::IoLoop::kMaxWatches);
            CHECK(r.error().message.find("too many") != std::string::npos);
            refused = true;
        }
    }
    CHECK(refused);
    for (int d : fds) ::close(d);
    ::close(fd);
}

TEST_CASE("io loop: stop() from a handler does not join itself; on_loop_thread() says where we are", "[io_loop]") {
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    REQUIRE(fd >= 0);
    std::atomic<int> calls{0};
    std::atomic<bool> inside{false};
    {
        hv::dev::IoLoop loop;
        REQUIRE(loop.watch(fd, [&] {
            uint64_t v = 0;
            if (::read(fd, &v, sizeof v) != sizeof v) return;
            inside = loop.on_loop_thread();
            loop.stop(); // would throw resource_deadlock_would_occur if it joined
            ++calls;
        }));
        REQUIRE(loop.start());
        CHECK(!loop.on_loop_thread());
        signal(fd);
        REQUIRE(wait_for(calls, 1));
        CHECK(inside.load());
        CHECK(loop.running()); // the handler's stop() did nothing
    }
    ::close(fd);
}
