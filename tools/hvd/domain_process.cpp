#include "domain_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace hvd {

namespace {
// Raw system calls: Debian 12's <sys/pidfd.h> lacks C++ linkage.
int sys_pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int sys_pidfd_send_signal(int pidfd, int sig) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)); }
} // namespace

hv::Result<Spawned> spawn_domain_process(const SpawnOptions& o) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return hv::make_error(hv::Errc::io_error, fmt::format("pipe: {}", std::strerror(errno)));
    // posix_spawn, not fork: glibc clones with CLONE_VM|CLONE_VFORK, so
    // the cost does not grow with hvd's memory (its page tables are not
    // copied), which with 500 domains made every create slower. The child
    // gets its own session (it outlives hvd and hvd's terminal), stdin
    // from /dev/null, stdout and stderr to its log, the readiness pipe as
    // fd 3 and nothing else.
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_addopen(&fa, 1, o.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0600);
    ::posix_spawn_file_actions_adddup2(&fa, 1, 2);
    ::posix_spawn_file_actions_adddup2(&fa, pipefd[1], 3); // clears CLOEXEC, also when pipefd[1] is 3
    ::posix_spawn_file_actions_addclosefrom_np(&fa, 4);
    sigset_t none, deflt;
    sigemptyset(&none);
    sigemptyset(&deflt);
    sigaddset(&deflt, SIGPIPE); // hvd ignores it; hv-domain wants the default
    ::posix_spawnattr_setsigmask(&attr, &none);
    ::posix_spawnattr_setsigdefault(&attr, &deflt);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    const std::string binary = o.binary;
    std::string socket = o.socket, state_dir = o.state_dir, log_level = o.log_level;
    char arg0[] = "hv-domain", a_socket[] = "--socket", a_state[] = "--state-dir", a_log[] = "--log-level",
         a_ready[] = "--ready-fd", a_three[] = "3";
    char* argv[] = {arg0,           a_socket, socket.data(),    a_state, state_dir.data(), a_log,
                    log_level.data(), a_ready, a_three,        nullptr};
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, binary.c_str(), &fa, &attr, argv, environ);
    ::posix_spawn_file_actions_destroy(&fa);
    ::posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        ::close(pipefd[0]);
        ::close(pipefd[1]);
        return hv::make_error(hv::Errc::io_error, fmt::format("spawn {}: {}", binary, std::strerror(rc)));
    }
    ::close(pipefd[1]);
    Spawned s;
    s.pid = pid;
    s.ready_fd = pipefd[0];
    s.pidfd = sys_pidfd_open(pid);
    if (s.pidfd < 0) { // cannot watch it: do not leave it behind
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        ::close(pipefd[0]);
        return hv::make_error(hv::Errc::io_error, fmt::format("pidfd_open: {}", std::strerror(errno)));
    }
    return s;
}

int open_pidfd(pid_t pid) { return pid > 0 ? sys_pidfd_open(pid) : -1; }

void signal_pidfd(int pidfd, int sig) {
    if (pidfd >= 0) sys_pidfd_send_signal(pidfd, sig);
}

std::string reap_pidfd(int pidfd) {
    siginfo_t info{};
    if (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG) != 0 || info.si_pid == 0) return "";
    if (info.si_code == CLD_EXITED) return fmt::format("exit status {}", info.si_status);
    return fmt::format("killed by signal {}", info.si_status);
}

std::string last_log_line(const std::string& path) {
    std::ifstream in(path);
    if (!in) return "";
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    in.seekg(size > 4096 ? size - 4096 : 0);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    return last;
}

} // namespace hvd
