// A private hvd for a test: its own socket and state dir under a temp
// folder, started in the foreground, stopped (SIGTERM, or SIGKILL when a
// test asks) and cleaned up, including any hv-domain processes it left.
#pragma once

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
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "guest_harness.hpp"

namespace hvtest {

class HvdProcess {
public:
    HvdProcess() {
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
        const std::string hvd = env_path("HVD");
        const std::string sock = socket(), state = state_dir(), log = (dir_ / "hvd.log").string();
        pid_ = ::fork();
        if (pid_ == 0) {
            const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0) ::dup2(fd, 2);
            execl(hvd.c_str(), "hvd", "--socket", sock.c_str(), "--state-dir", state.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
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
        ::kill(pid_, sig);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

    // hv-domain processes serving sockets under this state dir.
    std::vector<pid_t> domain_processes() const {
        std::vector<pid_t> out;
        for (const auto& e : std::filesystem::directory_iterator("/proc")) {
            const std::string name = e.path().filename().string();
            if (name.find_first_not_of("0123456789") != std::string::npos) continue;
            std::ifstream f(e.path() / "cmdline");
            std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
            if (cmd.find("hv-domain") != std::string::npos && cmd.find(state_dir()) != std::string::npos)
                out.push_back(static_cast<pid_t>(std::stol(name)));
        }
        return out;
    }

private:
    void kill_domain_processes() {
        for (pid_t p : domain_processes()) ::kill(p, SIGKILL);
    }
    std::filesystem::path dir_;
    pid_t pid_ = -1;
};

} // namespace hvtest
