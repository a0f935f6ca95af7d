// Helpers for integration tests: where the built guest and tools are, a
// config for the hello guest, waiting for console text, leak counters.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "config/domain_config_loader.hpp"
#include "monitor/monitor.hpp"

namespace hvtest {

inline std::string env_path(const char* name) {
    const char* v = std::getenv(name);
    if (v == nullptr) FAIL(std::string(name) + " is not set (run the tests through meson)");
    return v;
}

inline std::string hello_guest() { return env_path("HV_HELLO_GUEST"); }

// A hello guest config; `extra_keys` are more xl.cfg lines.
inline hv::config::DomainConfig hello_config(const std::string& name, const std::string& extra, uint32_t vcpus = 1,
                                             const std::string& extra_keys = "") {
    const std::string text = "name = '" + name + "'\nkernel = '" + hello_guest() + "'\nmemory = 16\nvcpus = " +
                             std::to_string(vcpus) + "\nextra = '" + extra + "'\n" + extra_keys;
    auto cfg = hv::config::parse_domain_config(text, "test.cfg");
    if (!cfg) FAIL(cfg.error().message);
    return *cfg;
}

inline std::unique_ptr<hv::Monitor> open_monitor() {
    hv::Monitor::Options o;
    o.log_level = "off";
    auto m = hv::Monitor::open(o);
    if (!m) FAIL(m.error().message);
    return std::move(*m);
}

// Polls the console history until `text` shows up or the timeout passes.
inline bool wait_console(hv::Monitor& m, uint32_t domid, const std::string& text,
                         std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        auto h = m.console_history(domid);
        if (h && h->find(text) != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

inline size_t count_dir(const char* path) {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(path)) ++n;
    return n;
}
inline size_t open_fds() { return count_dir("/proc/self/fd"); }
inline size_t threads() { return count_dir("/proc/self/task"); }

constexpr auto kBoot = std::chrono::seconds(30);

} // namespace hvtest
