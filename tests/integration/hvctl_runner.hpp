// Running hvctl as a user would, for the integration tests: a scratch
// folder, and hvctl's exit status, stdout and stderr from one command line.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "guest_harness.hpp"

namespace hvtest {

struct Run {
    int status; // exit status; -1 when killed by a signal
    std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "hvctl-test-XXXXXX").string();
        path_ = ::mkdtemp(tmpl.data());
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(path_ / name) << text;
        return (path_ / name).string();
    }

private:
    std::filesystem::path path_;
};

// A shell command line, stdin from /dev/null; its status and output.
// Each run has its own output files, so runs may overlap (threads).
inline Run run_shell(const TempDir& dir, const std::string& cmdline) {
    static std::atomic<unsigned> runs{0};
    const unsigned n = ++runs;
    const auto out = dir.path() / fmt::format("stdout.{}", n);
    const auto err = dir.path() / fmt::format("stderr.{}", n);
    const std::string cmd = fmt::format("{} </dev/null >'{}' 2>'{}'", cmdline, out.string(), err.string());
    const int raw = std::system(cmd.c_str());
    return Run{WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(out), slurp(err)};
}

// `hvctl ARGS` (ARGS as a shell would split them), with
// HV_CONNECT=embedded:// unless `env` (shell assignments) or a --connect
// in ARGS says otherwise.
inline Run hvctl(const TempDir& dir, const std::string& args, const std::string& env = "") {
    return run_shell(dir, fmt::format("env HV_CONNECT=embedded:// HV_LOG_LEVEL=off {} '{}' {}", env, env_path("HVCTL"), args));
}

} // namespace hvtest
