#include "domain_process.hpp"

#include <fcntl.h>
#include <signal.h>
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
    const pid_t pid = ::fork();
    if (pid < 0) {
        const int err = errno;
        ::close(pipefd[0]);
        ::close(pipefd[1]);
        return hv::make_error(hv::Errc::io_error, fmt::format("fork: {}", std::strerror(err)));
    }
    if (pid == 0) {
        // The child: its own session, so it outlives hvd and hvd's
        // terminal. Only async-signal-safe calls from here on.
        ::setsid();
        const int in = ::open("/dev/null", O_RDONLY);
        const int out = ::open(o.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0600);
        if (in >= 0) ::dup2(in, 0);
        if (out >= 0) {
            ::dup2(out, 1);
            ::dup2(out, 2);
        }
        if (::dup2(pipefd[1], 3) < 0) _exit(126);
        ::fcntl(3, F_SETFD, 0); // dup2 onto itself would keep CLOEXEC
        ::close_range(4, ~0u, 0);
        ::signal(SIGPIPE, SIG_DFL);
        execl(o.binary.c_str(), "hv-domain", "--socket", o.socket.c_str(), "--state-dir", o.state_dir.c_str(), "--log-level",
              o.log_level.c_str(), "--ready-fd", "3", static_cast<char*>(nullptr));
        _exit(127);
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
