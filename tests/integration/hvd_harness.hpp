// A private hvd for a test: its own socket and state dir under a temp
// folder, started in the foreground, stopped (SIGTERM, or SIGKILL when a
// test asks) and cleaned up, including any hv-domain processes it left.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "guest_harness.hpp"
#include "hv/sdk/connection.hpp"
#include "hv/sdk/wire_types.hpp"

namespace hvtest {

// Starts argv (argv[0] is the binary, found on PATH when it has no slash:
// a launcher such as `ip netns exec`) with stdin from /dev/null and stdout
// and stderr appended to `log`. A daemon left behind by a test that aborts
// then never holds the test runner's pipes open (meson would wait for EOF
// until its timeout).
inline pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int in = ::open("/dev/null", O_RDONLY);
        const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in < 0 || out < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) _exit(126);
        ::execvp(args[0], args.data());
        _exit(127);
    }
    REQUIRE(pid > 0);
    return pid;
}

// Sends `sig` to a child and reaps it, waiting at most `grace` before
// SIGKILL: a test never hangs on a process that ignores the signal. The
// exit status, or 128 + the signal it died of. Signal 0 sends nothing: it
// only waits for a child that should end by itself.
inline int stop_process(pid_t pid, int sig, std::chrono::milliseconds grace = std::chrono::seconds(20)) {
    ::kill(pid, sig);
    int status = 0;
    const auto end = std::chrono::steady_clock::now() + grace;
    pid_t r = 0;
    while ((r = ::waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (r == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        FAIL_CHECK("pid " << pid << " did not exit within " << grace.count() << " ms"
                          << (sig != 0 ? " of signal " + std::to_string(sig) : std::string()));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A child started with spawn_logged, killed and reaped when the test ends
// early (a failed REQUIRE), so none outlives the test.
class ChildProcess {
public:
    ChildProcess(const std::vector<std::string>& argv, std::string log) : log_(std::move(log)), pid_(spawn_logged(argv, log_)) {}
    ~ChildProcess() {
        if (pid_ > 0) stop_process(pid_, SIGKILL);
    }
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    const std::string& log() const { return log_; }
    // Waits for it to end by itself (killed after `grace`, a failed
    // check); its exit status as stop_process gives it.
    int wait(std::chrono::milliseconds grace) {
        const int status = stop_process(pid_, 0, grace);
        pid_ = -1;
        return status;
    }

private:
    std::string log_;
    pid_t pid_;
};

class HvdProcess {
public:
    // `extra`: more hvd options (limits, timeouts, --group). `launcher`:
    // what hvd is started through, e.g. {"ip", "netns", "exec", NS} so its
    // domains' TAPs are made in that network namespace (it execs hvd, so
    // pid() is still hvd's).
    explicit HvdProcess(std::vector<std::string> extra = {}, std::vector<std::string> launcher = {})
        : extra_(std::move(extra)), launcher_(std::move(launcher)) {
        std::string tmpl = (std::filesystem::temp_directory_path() / "hvd-test-XXXXXX").string();
        dir_ = ::mkdtemp(tmpl.data());
        start();
    }
    ~HvdProcess() {
        stop(SIGTERM);
        kill_domain_processes();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    HvdProcess(const HvdProcess&) = delete;
    HvdProcess& operator=(const HvdProcess&) = delete;

    std::string socket() const { return (dir_ / "hvd.sock").string(); }
    std::string uri() const { return "unix://" + socket(); }
    std::string state_dir() const { return (dir_ / "state").string(); }
    const std::filesystem::path& dir() const { return dir_; }
    pid_t pid() const { return pid_; }

    void start() {
        const std::string sock = socket(), state = state_dir();
        std::vector<std::string> argv = launcher_;
        for (const auto& a : {env_path("HVD"), std::string("--socket"), sock, std::string("--state-dir"), state}) argv.push_back(a);
        argv.insert(argv.end(), extra_.begin(), extra_.end());
        pid_ = spawn_logged(argv, (dir_ / "hvd.log").string());
        // Ready when it accepts (a killed hvd's stale socket file may still
        // be there until the new one replaces it).
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        bool up = false;
        while (!up && std::chrono::steady_clock::now() < end) {
            up = accepts(sock);
            if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        REQUIRE(up);
    }

    static bool accepts(const std::string& path) {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::memcpy(a.sun_path, path.data(), std::min(path.size(), sizeof a.sun_path - 1));
        const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        return ok;
    }

    // Returns hvd's exit status (or the signal it died of, as 128 + n).
    int stop(int sig) {
        if (pid_ <= 0) return -1;
        const int status = stop_process(pid_, sig);
        pid_ = -1;
        return status;
    }

    // hv-domain processes serving sockets under this state dir; without
    // hvd's warm spare (a process that holds no domid lease, STATE/ids/N,
    // yet: it takes one before its create is answered) unless asked.
    std::vector<pid_t> domain_processes(bool with_spare = false) const {
        std::vector<pid_t> out;
        for (const auto& e : std::filesystem::directory_iterator("/proc")) {
            const std::string name = e.path().filename().string();
            if (name.find_first_not_of("0123456789") != std::string::npos) continue;
            // Read raw: the process may exit while we read (ESRCH).
            std::string cmd(4096, '\0');
            const int fd = ::open((e.path() / "cmdline").c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            const ssize_t n = ::read(fd, cmd.data(), cmd.size());
            ::close(fd);
            cmd.resize(n > 0 ? static_cast<size_t>(n) : 0);
            if (cmd.find("hv-domain") == std::string::npos || cmd.find(state_dir()) == std::string::npos) continue;
            if (!with_spare && !holds_lease(e.path())) continue;
            out.push_back(static_cast<pid_t>(std::stol(name)));
        }
        return out;
    }

private:
    bool holds_lease(const std::filesystem::path& proc) const {
        const std::string ids = state_dir() + "/ids/";
        std::error_code ec;
        for (auto it = std::filesystem::directory_iterator(proc / "fd", ec); !ec && it != std::filesystem::directory_iterator(); ++it) {
            std::error_code lec;
            if (std::filesystem::read_symlink(it->path(), lec).string().rfind(ids, 0) == 0) return true;
        }
        return false;
    }
    void kill_domain_processes() {
        for (pid_t p : domain_processes(true)) ::kill(p, SIGKILL);
    }
    std::filesystem::path dir_;
    std::vector<std::string> extra_, launcher_;
    pid_t pid_ = -1;
};

// A hello guest as a create request (its config text in memory).
inline hv::sdk::CreateRequest hello_request(const std::string& name, const std::string& extra, int vcpus = 1) {
    hv::sdk::CreateRequest r;
    r.config_text = fmt::format("name='{}'\nkernel='{}'\nmemory=16\nvcpus={}\nextra='{}'\n", name, hello_guest(), vcpus, extra);
    r.source = "/test/" + name + ".cfg";
    return r;
}

inline bool wait_history(const hv::sdk::Domain& d, const std::string& text) {
    for (int i = 0; i < 2000; ++i) {
        auto h = d.console_history();
        if (h && h->find(text) != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

// Raw control-socket clients, for what the SDK would never send.
inline int raw_connect(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.data(), path.size());
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    return fd;
}

// Sends bytes, returns the next reply frame (or nullopt when the server
// closed without one).
inline std::optional<hv::sdk::wire::Frame> roundtrip(int fd, const std::string& bytes) {
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    hv::sdk::wire::Decoder dec;
    hv::sdk::wire::Frame f;
    for (;;) {
        if (dec.next(f) == hv::sdk::wire::Decoder::Status::frame) return f;
        char buf[4096];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return std::nullopt;
        dec.feed(buf, static_cast<size_t>(n));
    }
}

inline std::string request(uint32_t op, std::string_view payload, uint16_t version = HV_CTL_VERSION) {
    return hv::sdk::wire::encode(version, HV_CTL_REQUEST, op, 7, 0, payload);
}

inline std::string hello() { return request(HV_SYSCTL_HELLO, hv::sdk::wire::pack(hv_ctl_hello_t{1, HV_CTL_VERSION, 0, 0, 0})); }

// Every domain event a connection sees, kept for checks.
class EventLog {
public:
    explicit EventLog(const hv::sdk::Connection& c) {
        auto s = c.subscribe_events([this](const hv::sdk::Event& e) {
            std::lock_guard lock(mu_);
            events_.push_back(e);
        });
        REQUIRE(s);
        sub_ = std::move(*s);
    }
    ~EventLog() { stop(); }
    void stop() { sub_.reset(); }
    template <class Pred>
    size_t count(Pred pred) const {
        std::lock_guard lock(mu_);
        return static_cast<size_t>(std::count_if(events_.begin(), events_.end(), pred));
    }

private:
    mutable std::mutex mu_;
    std::vector<hv::sdk::Event> events_;
    std::unique_ptr<hv::sdk::Subscription> sub_;
};

// Polls `f` every 10 ms until it is true, at most `tries` times (1000:
// about 10 s).
template <class F>
bool eventually(F f, int tries = 1000) {
    for (int i = 0; i < tries; ++i) {
        if (f()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

// Polls `count` until it is 0 (up to about 10 s).
template <class F>
bool eventually_empty(F count) {
    return eventually([&] { return count() == 0; });
}

// A process's figure from /proc/PID/status ("Threads", "VmHWM", ...).
inline long proc_status(pid_t pid, const std::string& key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
    return -1;
}

} // namespace hvtest
