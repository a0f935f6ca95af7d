// dev::IoLoop: handlers run on the loop's thread when their fd is
// readable; stop() ends the thread; fds come and go while it runs
// (hotplug), and unwatch() returns only once their handler cannot run.
#include <catch2/catch.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
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
        CHECK(loop.watch(a, [] {}).error().code == hv::Errc::exists); // once per fd
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

TEST_CASE("io loop: nothing watched, nothing started until a watch; the number of fds is bounded", "[io_loop]") {
    hv::dev::IoLoop loop;
    REQUIRE(loop.start());
    CHECK(!loop.running());
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    REQUIRE(fd >= 0);
    // The first fd watched after start() starts the thread (hotplug into
    // a domain that had no device), and it serves the fd.
    std::atomic<int> first{0};
    const int f0 = ::dup(fd);
    REQUIRE(loop.watch(f0, [&] {
        uint64_t v = 0;
        if (::read(f0, &v, sizeof v) == sizeof v) ++first;
    }));
    CHECK(loop.running());
    signal(f0);
    REQUIRE(wait_for(first, 1));
    loop.unwatch(f0);
    ::close(f0);
    loop.stop();
    CHECK(!loop.running());
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

TEST_CASE("io loop: fds are watched and unwatched while it runs; unwatch() waits for a running handler", "[io_loop]") {
    const int a = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    const int b = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    REQUIRE((a >= 0 && b >= 0));
    std::atomic<int> na{0}, nb{0};
    std::atomic<bool> in_b{false}, release_b{false}, b_done{false};
    hv::dev::IoLoop loop;
    REQUIRE(loop.watch(a, [&] {
        uint64_t v = 0;
        if (::read(a, &v, sizeof v) == sizeof v) ++na;
    }));
    REQUIRE(loop.start());
    // Added while the loop runs: served like the others.
    REQUIRE(loop.watch(b, [&] {
        uint64_t v = 0;
        if (::read(b, &v, sizeof v) != sizeof v) return;
        in_b = true;
        while (!release_b.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        ++nb;
        b_done = true;
    }));
    signal(b);
    for (int i = 0; i < 500 && !in_b.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(in_b.load());
    // unwatch(b) from this thread must wait until b's handler returns.
    std::atomic<bool> unwatched{false};
    std::thread t([&] {
        loop.unwatch(b);
        unwatched = b_done.load(); // the handler had finished by then
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    release_b = true;
    t.join();
    CHECK(unwatched.load());
    signal(b); // no longer watched: nothing runs
    signal(a);
    REQUIRE(wait_for(na, 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    CHECK(nb.load() == 1);
    // The freed slot is taken again; a stale fd number is refused by enable().
    CHECK(loop.enable(b, true).error().code == hv::Errc::not_found);
    REQUIRE(loop.watch(b, [&] {
        uint64_t v = 0;
        if (::read(b, &v, sizeof v) == sizeof v) ++nb;
    }));
    REQUIRE(wait_for(nb, 2)); // b was still signalled from above
    loop.unwatch(b);
    loop.unwatch(b); // twice is fine
    loop.stop();
    ::close(a);
    ::close(b);
}

TEST_CASE("io loop: a handler unwatches its own fd and others", "[io_loop]") {
    const int a = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    const int b = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    REQUIRE((a >= 0 && b >= 0));
    std::atomic<int> na{0}, nb{0};
    hv::dev::IoLoop loop;
    // b never consumes its signal (level-triggered, it would spin): only
    // a's handler unwatching it in the same epoll batch keeps its stale
    // event from running it.
    REQUIRE(loop.watch(b, [&] { ++nb; }));
    REQUIRE(loop.watch(a, [&, big = std::string(256, 'x')] {
        uint64_t v = 0;
        if (::read(a, &v, sizeof v) != sizeof v) return;
        loop.unwatch(b);
        loop.unwatch(a);
        na += static_cast<int>(big.size()); // the handler's own state outlives its unwatch()
    }));
    signal(a); // ready first, so first in the batch
    signal(b);
    REQUIRE(loop.start());
    REQUIRE(wait_for(na, 256));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    CHECK(na.load() == 256);
    CHECK(nb.load() == 0);
    CHECK(loop.enable(a, true).error().code == hv::Errc::not_found);
    loop.stop();
    ::close(a);
    ::close(b);
}
