// Network tests in a namespace of the test's own: a forked child unshares
// its network and mount namespaces and mounts its own sysfs (so
// /sys/class/net is that namespace's); nothing it makes is seen outside,
// and all of it goes when the child exits. Failures come back as the
// child's exit status (EXPECT prints which line).
#pragma once

#include <catch2/catch.hpp>

#include <linux/sockios.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

namespace hvtest {

template <class F>
int in_netns(F body) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) ::_exit(90);
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(91);
        if (::mount("sysfs", "/sys", "sysfs", 0, nullptr) != 0) ::_exit(92);
        // No IPv6 here: a link coming up would send its own router
        // solicitations and MLD reports, frames a test did not send
        // arriving among those it did. (No IPv6 on the host: nothing to do.)
        for (const char* knob : {"/proc/sys/net/ipv6/conf/all/disable_ipv6", "/proc/sys/net/ipv6/conf/default/disable_ipv6"})
            if (std::FILE* f = std::fopen(knob, "w")) {
                std::fputs("1", f);
                std::fclose(f);
            }
        ::_exit(body());
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
}

inline bool make_bridge(const char* name) {
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const bool ok = s >= 0 && ::ioctl(s, SIOCBRADDBR, name) == 0;
    if (s >= 0) ::close(s);
    return ok;
}

} // namespace hvtest

#define EXPECT(cond)                                                                 \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
            return 1;                                                                \
        }                                                                            \
    } while (0)
