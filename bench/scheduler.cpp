// bench_scheduler: hv's vCPU scheduler (credit) on this machine, with the
// hello guest's `spin` (ring-3 work, no exits) and `ignore-shutdown` (a
// blocked vCPU that answers each wake-up with a console line). Everything
// runs in one process: an embedded Monitor that schedules its domains
// (the same SchedHost hvd runs), and for baselines one that does not
// (Mode::none: Linux schedules the vCPU threads).
//
//   RESULT sched_credit_weights ratio=<cpu A / cpu B> ours=... baseline=2.000
//       two spinning domains pinned to one host CPU, weights 512 and 256
//   RESULT sched_credit_cap ratio=<share of one CPU> ... cap 50, alone
//   RESULT sched_throughput ratio=<CPU share scheduled / unscheduled>
//       one spinning domain on an otherwise idle host, side by side runs
//   RESULT sched_wake_latency_p50 / _p99 ratio=<scheduled / unscheduled>
//       a blocked vCPU woken by an event until its console line arrives,
//       while a spinning domain loads the same host CPU
//
// CPU shares come from the vCPU threads' CPU time (hvctl list's Time),
// over a window after a warm-up. --seconds=N sets the window (default 6).
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "config/cpu_list.hpp"
#include "monitor/sched_host.hpp"

namespace {

using namespace hvbench;
using Mode = hv::Monitor::Options::Sched::Mode;

std::unique_ptr<hv::Monitor> monitor(Mode mode) {
    hv::Monitor::Options o;
    o.log_level = "off";
    o.sched.mode = mode;
    auto m = hv::Monitor::open(o);
    if (!m) die("Monitor::open: " + m.error().message);
    return std::move(*m);
}

hv::config::DomainConfig guest(const std::string& name, const std::string& words) {
    hv::config::DomainConfig c;
    c.name = name;
    c.kernel = HV_BENCH_HELLO_GUEST;
    c.memory_mib = 16;
    c.vcpus = 1;
    c.cmdline = words;
    return c;
}

uint32_t create(hv::Monitor& m, const hv::config::DomainConfig& c) {
    auto id = m.create(c);
    if (!id) die("create " + c.name + ": " + id.error().message);
    return *id;
}

double cpu_of(hv::Monitor& m, uint32_t domid) {
    auto i = m.info(domid);
    if (!i) die("info: " + i.error().message);
    return i->cpu_seconds;
}

// CPU seconds each domain gets over `window` after `warmup`.
std::vector<double> cpu_over(hv::Monitor& m, const std::vector<uint32_t>& ids, double warmup, double window) {
    std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
    std::vector<double> before;
    for (uint32_t id : ids) before.push_back(cpu_of(m, id));
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(window));
    const double wall = seconds_between(t0, Clock::now());
    std::vector<double> out;
    for (size_t i = 0; i < ids.size(); ++i) out.push_back((cpu_of(m, ids[i]) - before[i]) / wall);
    return out;
}

uint32_t first_cpu() {
    const auto cpus = hv::sched::SchedHost::process_cpus();
    return cpus.first();
}

void weights(double window) {
    auto m = monitor(Mode::own);
    const std::string cpu = std::to_string(first_cpu());
    auto a = guest("heavy", "spin"), b = guest("light", "spin");
    a.sched.weight = 512;
    b.sched.weight = 256;
    a.sched.cpus_hard = b.sched.cpus_hard = {uint64_t{1} << first_cpu()};
    const std::vector<uint32_t> ids{create(*m, a), create(*m, b)};
    const auto share = cpu_over(*m, ids, 1.0, window);
    std::printf("weights 512:256 pinned to CPU %s: shares %.3f and %.3f of one CPU\n", cpu.c_str(), share[0], share[1]);
    std::printf("RESULT sched_credit_weights ratio=%.3f ours=%.3f baseline=2.000 (goal 2.00 +- 0.10)\n", share[0] / share[1],
                share[0] / share[1]);
}

void cap(double window) {
    auto m = monitor(Mode::own);
    auto c = guest("capped", "spin");
    c.sched.cap = 50;
    const std::vector<uint32_t> ids{create(*m, c)};
    const double share = cpu_over(*m, ids, 1.0, window)[0];
    std::printf("RESULT sched_credit_cap ratio=%.3f ours=%.3f baseline=0.500 (share of one CPU; goal <= 0.52)\n", share, share);
}

void throughput(double window) {
    // Side by side in time: scheduled, unscheduled, scheduled, unscheduled.
    std::vector<double> ours, base;
    for (int round = 0; round < 2; ++round) {
        for (Mode mode : {Mode::own, Mode::none}) {
            auto m = monitor(mode);
            const std::vector<uint32_t> ids{create(*m, guest("work", "spin"))};
            (mode == Mode::own ? ours : base).push_back(cpu_over(*m, ids, 0.5, window / 2)[0]);
        }
    }
    print_result("sched_throughput", median(ours), median(base), 1.0, "cpu");
}

// Wake-ups: each shutdown request wakes the blocked vCPU, which writes
// "hello: ignoring shutdown request" and blocks again. The latency is
// from the request to that line reaching a console listener.
// Threads created while it lives run on `cpu` only (they inherit the
// affinity): the unscheduled baseline shares one CPU the way the
// scheduled run's pinned domains do.
struct PinThreads {
    cpu_set_t saved;
    explicit PinThreads(uint32_t cpu) {
        ::sched_getaffinity(0, sizeof saved, &saved);
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        ::sched_setaffinity(0, sizeof one, &one);
    }
    ~PinThreads() { ::sched_setaffinity(0, sizeof saved, &saved); }
};

std::vector<double> wake_latencies(Mode mode, int samples) {
    std::optional<PinThreads> pin;
    if (mode == Mode::none) pin.emplace(first_cpu());
    auto m = monitor(mode);
    const std::string cpu = std::to_string(first_cpu());
    auto load = guest("load", "spin");
    auto waker = guest("waker", "stay ignore-shutdown");
    load.sched.cpus_hard = waker.sched.cpus_hard = {uint64_t{1} << first_cpu()};
    create(*m, load);
    const uint32_t id = create(*m, waker);
    std::mutex mu;
    std::condition_variable cv;
    std::string seen;
    auto sub = m->console_subscribe(id, hv::Domain::ConsoleKind::automatic, [&](std::string_view bytes) {
        std::lock_guard lock(mu);
        seen.append(bytes);
        cv.notify_all();
    });
    if (!sub) die("console: " + sub.error().message);
    pin.reset(); // this thread measures from anywhere
    const auto ready = Clock::now() + std::chrono::seconds(20);
    {
        std::unique_lock lock(mu);
        cv.wait_until(lock, ready, [&] { return seen.find("1 vcpus up") != std::string::npos; });
        if (seen.find("1 vcpus up") == std::string::npos) die("the waker guest did not come up");
    }
    const std::string answer = "ignoring shutdown";
    std::vector<double> out;
    for (int i = 0; i < samples; ++i) {
        size_t before;
        {
            std::lock_guard lock(mu);
            before = seen.size();
        }
        const auto t0 = Clock::now();
        if (auto r = m->shutdown(id, hv::core::ShutdownReason::poweroff); !r) die("shutdown: " + r.error().message);
        std::unique_lock lock(mu);
        if (!cv.wait_for(lock, std::chrono::seconds(5), [&] { return seen.find(answer, before) != std::string::npos; }))
            die("no answer to a wake-up within 5 s");
        out.push_back(seconds_between(t0, Clock::now()));
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(7)); // off the slice boundaries
    }
    m->console_unsubscribe(id, hv::Domain::ConsoleKind::automatic, *sub);
    return out;
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void wake(int samples) {
    std::vector<double> ours, base;
    for (int round = 0; round < 2; ++round) {
        auto o = wake_latencies(Mode::own, samples / 2);
        auto b = wake_latencies(Mode::none, samples / 2);
        ours.insert(ours.end(), o.begin(), o.end());
        base.insert(base.end(), b.begin(), b.end());
    }
    std::printf("wake latency, scheduled:   %s ms\n", spread(ours, 1e3).c_str());
    std::printf("wake latency, unscheduled: %s ms\n", spread(base, 1e3).c_str());
    print_result("sched_wake_latency_p50", percentile(ours, 0.5), percentile(base, 0.5), 1e3, "ms");
    print_result("sched_wake_latency_p99", percentile(ours, 0.99), percentile(base, 0.99), 1e3, "ms");
}

} // namespace

int main(int argc, char** argv) {
    return guarded_main("scheduler", [&] {
        const double window = static_cast<double>(arg_long(argc, argv, "seconds", 6));
        const int samples = static_cast<int>(arg_long(argc, argv, "samples", 200));
        weights(window);
        cap(window);
        throughput(window);
        wake(samples);
    });
}
