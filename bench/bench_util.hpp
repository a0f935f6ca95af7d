// Small helpers shared by the benchmarks: a monotonic clock, medians,
// failures, the RESULT line and opening a quiet Monitor.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "monitor/monitor.hpp"

namespace hvbench {

using Clock = std::chrono::steady_clock;

inline double seconds_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// Failures throw, so destructors (temporary files, VMs, domains) run on
// the way out to guarded_main.
[[noreturn]] inline void die(const std::string& what) { throw std::runtime_error(what); }

// main's body, with failures reported as "bench <name>: ..." and exit 1.
template <class F>
int guarded_main(const char* name, F&& body) {
    try {
        body();
        return 0;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "bench %s: %s\n", name, e.what());
        return 1;
    }
}

inline double median(std::vector<double> v) {
    if (v.empty()) die("median of no samples");
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// "min <a> median <b> max <c>" in `scale` units (e.g. 1e3 for ms).
inline std::string spread(const std::vector<double>& v, double scale) {
    if (v.empty()) return "no samples";
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    char buf[128];
    std::snprintf(buf, sizeof buf, "min %.3f median %.3f max %.3f", *lo * scale, median(v) * scale, *hi * scale);
    return buf;
}

// The last line every benchmark prints (DESIGN.md section 6).
inline void print_result(const char* name, double ours, double baseline, double scale, const char* unit) {
    std::printf("RESULT %s ratio=%.2f ours=%.3f%s baseline=%.3f%s\n", name, ours / baseline, ours * scale, unit,
                baseline * scale, unit);
    std::fflush(stdout);
}

inline std::unique_ptr<hv::Monitor> open_monitor() {
    hv::Monitor::Options o;
    o.log_level = "off";
    auto m = hv::Monitor::open(o);
    if (!m) die("Monitor::open: " + m.error().message);
    return std::move(*m);
}

// A positive integer from argv "--name=N", or `fallback`.
inline long arg_long(int argc, char** argv, const std::string& name, long fallback) {
    const std::string prefix = "--" + name + "=";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind(prefix, 0) != 0) continue;
        char* end = nullptr;
        const long v = std::strtol(a.c_str() + prefix.size(), &end, 10);
        if (end == nullptr || *end != 0 || v <= 0) die("bad value in " + a);
        return v;
    }
    return fallback;
}

} // namespace hvbench
