#include "domain_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
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

namespace {
// An fd of ours moved to 10 or above (close-on-exec), so the child's
// dup2s onto 0..3 never overwrite a source before it is used.
int high_fd(int fd) {
    if (fd < 0 || fd >= 10) return fd;
    const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
    ::close(fd);
    return high;
}

// The child's log: opened here, by hvd, never blocking (O_NONBLOCK: a FIFO
// planted at the path fails with ENXIO instead of waiting for a reader)
// and only if it is a regular file. -1 and why when it cannot be used.
int open_log(const std::string& path, std::string& why) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0) {
        why = fmt::format("log file {}: {}", path, std::strerror(errno));
        return -1;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        why = fmt::format("log file {}: not a regular file", path);
        return -1;
    }
    return fd;
}
} // namespace

hv::Result<Spawned> spawn_domain_process(const SpawnOptions& o) {
    // posix_spawn, not fork: glibc clones with CLONE_VM|CLONE_VFORK, so the
    // cost does not grow with hvd's memory (its page tables are not copied;
    // with 500 domains that made every create slower). It holds this
    // thread until the child has exec'd, so the child does no file work
    // first: hvd opens its files here, without blocking, and the child
    // only dup2s them. The child gets its own session (it outlives hvd and
    // hvd's terminal), default signal dispositions, an empty mask, stdin
    // from /dev/null, stdout and stderr to its log, the readiness pipe as
    // fd 3, and nothing else.
    Spawned s;
    const int devnull = high_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (devnull < 0) return hv::make_error(hv::Errc::io_error, fmt::format("/dev/null: {}", std::strerror(errno)));
    int log = high_fd(open_log(o.log_file, s.warning));
    if (log < 0) log = devnull; // its output is lost, but the domain can run; hvd logs why
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
        const int err = errno;
        if (log != devnull) ::close(log);
        ::close(devnull);
        return hv::make_error(hv::Errc::io_error, fmt::format("pipe: {}", std::strerror(err)));
    }
    pipefd[1] = high_fd(pipefd[1]);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    // Both only zero their object in glibc, but a failure is still a failure.
    int rc = ::posix_spawn_file_actions_init(&fa);
    const int attr_rc = ::posix_spawnattr_init(&attr);
    if (rc == 0) rc = attr_rc;
    const auto step = [&rc](int r) {
        if (rc == 0) rc = r;
    };
    {
        step(pipefd[1] >= 0 ? ::posix_spawn_file_actions_adddup2(&fa, pipefd[1], 3) : EBADF);
        step(::posix_spawn_file_actions_adddup2(&fa, devnull, 0));
        step(::posix_spawn_file_actions_adddup2(&fa, log, 1));
        step(::posix_spawn_file_actions_adddup2(&fa, log, 2));
        step(::posix_spawn_file_actions_addclosefrom_np(&fa, 4));
        step(::posix_spawnattr_setsigmask(&attr, &none));
        step(::posix_spawnattr_setsigdefault(&attr, &all)); // nothing hvd ignores stays ignored
        step(::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
    }
    std::string socket = o.socket, state_dir = o.state_dir, log_level = o.log_level;
    char arg0[] = "hv-domain", a_socket[] = "--socket", a_state[] = "--state-dir", a_log[] = "--log-level",
         a_ready[] = "--ready-fd", a_three[] = "3";
    char* argv[] = {arg0,           a_socket, socket.data(),    a_state, state_dir.data(), a_log,
                    log_level.data(), a_ready, a_three,        nullptr};
    pid_t pid = -1;
    if (rc == 0) rc = ::posix_spawn(&pid, o.binary.c_str(), &fa, &attr, argv, environ);
    ::posix_spawn_file_actions_destroy(&fa);
    ::posix_spawnattr_destroy(&attr);
    if (log != devnull) ::close(log);
    ::close(devnull);
    if (rc != 0) {
        ::close(pipefd[0]);
        if (pipefd[1] >= 0) ::close(pipefd[1]);
        return hv::make_error(hv::Errc::io_error, fmt::format("spawn {}: {}", o.binary, std::strerror(rc)));
    }
    ::close(pipefd[1]);
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
