// hv::Result: reading the value of a failed Result prints the error (code
// name and message) on stderr before it aborts. Catch2 v2 has no death
// tests: the misuse runs in a forked child whose stderr and end are read.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include <hv/result.hpp>

namespace {

struct Died {
    int signal = 0; // 0: exited normally
    std::string err;
};

// Runs `fn` in a child with stderr on a pipe; returns how it ended.
template <class Fn>
Died in_child(Fn fn) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::signal(SIGABRT, SIG_DFL); // not Catch's handler: die as a user's program would
        ::close(fds[0]);
        ::dup2(fds[1], 2);
        fn();
        ::_exit(0);
    }
    ::close(fds[1]);
    Died d;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) d.err.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) d.signal = WTERMSIG(status);
    return d;
}

hv::Result<int> failing() { return hv::make_error(hv::Errc::not_found, "no domain 'web'"); }

} // namespace

TEST_CASE("describe names the error code and the message", "[result]") {
    CHECK(hv::describe(hv::make_error(hv::Errc::not_found, "no domain 'web'")) == "not_found: no domain 'web'");
    CHECK(hv::describe(hv::make_error(hv::Errc::timed_out, "")) == "timed_out");
    CHECK(hv::detail::bad_value_access_message(hv::make_error(hv::Errc::parse_error, "x.cfg:3: bad")) ==
          "hv::Result: value read from a failed Result (check ok() first): parse_error: x.cfg:3: bad");
}

TEST_CASE("reading the value of a failed Result prints the error, then aborts", "[result]") {
    const auto check_death = [](const Died& d) {
        CHECK(d.signal == SIGABRT);
        CHECK(d.err == "hv::Result: value read from a failed Result (check ok() first): not_found: no domain 'web'\n");
    };
    check_death(in_child([] { (void)failing().value(); }));
    check_death(in_child([] {
        auto r = failing();
        (void)*r;
    }));
    check_death(in_child([] {
        const auto r = failing();
        (void)r.operator->();
    }));
}

TEST_CASE("asking a successful Result for its error says so, then aborts", "[result]") {
    Died d = in_child([] {
        hv::Result<int> r = 3;
        (void)r.error();
    });
    CHECK(d.signal == SIGABRT);
    CHECK(d.err == "hv::Result: error() read from a successful Result (check ok() first)\n");
    d = in_child([] {
        hv::Result<void> r;
        (void)r.error();
    });
    CHECK(d.signal == SIGABRT);
    CHECK(d.err == "hv::Result: error() read from a successful Result (check ok() first)\n");
}

TEST_CASE("a Result's value and error read normally when used right", "[result]") {
    hv::Result<int> ok = 7;
    REQUIRE(ok);
    CHECK(*ok == 7);
    CHECK(ok.value() == 7);
    auto bad = failing();
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == hv::Errc::not_found);
}
