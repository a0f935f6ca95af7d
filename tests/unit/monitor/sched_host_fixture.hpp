// Fixtures for the SchedHost tests (test_sched_host*.cpp): fake vCPUs are
// std::threads of this process that wait in SchedClient::acquire() and then
// "run the guest" (spin, counting iterations) until the host kicks them out
// with a real-time signal, as a KVM vCPU thread leaves KVM_RUN.
#pragma once

#include <catch2/catch.hpp>

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include "monitor/sched_client.hpp"
#include "monitor/sched_host.hpp"

using hv::Errc;
using hv::core::sched::kMaxPcpus;
using hv::core::sched::Policy;
using hv::core::sched::RunState;
using hv::core::sched::SchedParams;
using hv::sched::CpuMask;
using hv::sched::DomainSched;
using hv::sched::SchedBell;
using hv::sched::SchedClient;
using hv::sched::SchedHost;
using hv::sched::SchedPage;
using hv::sched::VcpuRow;
using Entry = SchedClient::Entry;
using namespace std::chrono_literals;

namespace sched_host_fixture {

using Clock = std::chrono::steady_clock;

// ---- the kick: a real-time signal whose handler marks the thread ----

inline thread_local volatile std::sig_atomic_t t_kicked = 0;

inline int kick_signal() {
    static const int sig = [] {
        const int s = SIGRTMIN + 6;
        struct sigaction sa {};
        sa.sa_handler = [](int) { t_kicked = 1; };
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        ::sigaction(s, &sa, nullptr);
        return s;
    }();
    return sig;
}

inline std::shared_ptr<spdlog::logger> quiet_log() {
    return std::make_shared<spdlog::logger>("sched-test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

// Polls `f` every ms until it holds or `timeout` runs out.
template <class F>
inline bool eventually(F f, std::chrono::milliseconds timeout = 10s) {
    const auto end = Clock::now() + timeout;
    for (;;) {
        if (f()) return true;
        if (Clock::now() >= end) return false;
        std::this_thread::sleep_for(1ms);
    }
}

inline int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

inline double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

inline uint32_t first_cpu() { return SchedHost::process_cpus().first(); }

// The second CPU this process may run on, if any.
inline std::optional<uint32_t> second_cpu() {
    const CpuMask m = SchedHost::process_cpus();
    const uint32_t c = m.next_from(m.first() + 1);
    if (c >= kMaxPcpus) return std::nullopt;
    return c;
}

inline CpuMask thread_affinity(pid_t tid) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CpuMask m;
    if (::sched_getaffinity(tid, sizeof set, &set) != 0) return m;
    for (uint32_t c = 0; c < kMaxPcpus; ++c)
        if (CPU_ISSET(c, &set)) m.set(c);
    return m;
}

struct FakeVcpu {
    std::atomic<uint64_t> iterations{0};
    std::atomic<uint64_t> entries{0};     // guest entries (granted or free)
    std::atomic<uint64_t> granted{0};     // acquire() said Entry::granted
    std::atomic<uint64_t> freed{0};       // acquire() said Entry::free
    std::atomic<uint64_t> interrupted{0}; // acquire() said Entry::interrupted
    std::atomic<uint64_t> misplaced{0};   // granted entries not on the granted CPU
    std::atomic<uint64_t> stray{0};       // iterations of a granted entry run after the grant was taken back
    std::atomic<int> cpu{-1};             // sched_getcpu() in the guest, last seen
    std::atomic<bool> in_guest{false};
    std::atomic<bool> waiting{false};     // inside acquire()
    std::atomic<int64_t> waiting_since{0};
    std::atomic<bool> started{false};
    // Test controls.
    std::atomic<bool> block{false};        // leave the guest, want(false) until cleared
    std::atomic<bool> stop_waiting{false}; // acquire()'s predicate; the thread idles while set
};

// A domain: one SchedPage (owned by its SchedClient), one thread per vCPU
// started. The destructor stops and joins every thread, on every path.
class FakeDomain {
public:
    FakeDomain(SchedBell& bell, uint32_t nr_vcpus)
        : client_(std::make_shared<SchedClient>(std::make_unique<SchedPage>(), bell, kick_signal())),
          vcpus_(nr_vcpus) {}
    ~FakeDomain() { stop(); }
    FakeDomain(const FakeDomain&) = delete;
    FakeDomain& operator=(const FakeDomain&) = delete;

    void start(uint32_t i) {
        threads_.emplace_back([this, i] { vcpu_main(i); });
        REQUIRE(eventually([&] { return vcpus_[i].started.load(); }));
    }
    void start_all() {
        for (uint32_t i = 0; i < vcpus_.size(); ++i) start(i);
    }
    void stop() {
        quit_.store(true);
        for (uint32_t i = 0; i < vcpus_.size(); ++i) client_->interrupt(i);
        for (std::thread& t : threads_)
            if (t.joinable()) t.join();
        threads_.clear();
    }

    std::shared_ptr<SchedClient> client() { return client_; }
    SchedPage& page() { return client_->page(); }
    FakeVcpu& v(uint32_t i) { return vcpus_[i]; }
    uint32_t grant(uint32_t i) { return page().vcpu[i].grant.load(); }
    pid_t tid(uint32_t i) { return page().vcpu[i].tid.load(); }

    // Whether vCPU i has been waiting in acquire() for at least `d`.
    bool starved_for(uint32_t i, std::chrono::milliseconds d) {
        const FakeVcpu& x = vcpus_[i];
        return x.waiting.load() && now_ns() - x.waiting_since.load() >= static_cast<int64_t>(d.count()) * 1'000'000;
    }

private:
    void vcpu_main(uint32_t i) {
        FakeVcpu& v = vcpus_[i];
        client_->online(i, true);
        v.started.store(true);
        while (!quit_.load()) {
            if (v.block.load()) {
                client_->want(i, false);
                while (v.block.load() && !quit_.load()) std::this_thread::sleep_for(1ms);
                continue;
            }
            // A kick from here on makes the next entry leave at once (as
            // KVM's immediate_exit): cleared before the grant is read.
            t_kicked = 0;
            v.waiting_since.store(now_ns());
            v.waiting.store(true);
            const Entry e =
                client_->acquire(i, [&] { return quit_.load() || v.block.load() || v.stop_waiting.load(); });
            v.waiting.store(false);
            if (e == Entry::interrupted) {
                v.interrupted.fetch_add(1);
                while (v.stop_waiting.load() && !quit_.load()) std::this_thread::sleep_for(1ms);
                continue;
            }
            (e == Entry::granted ? v.granted : v.freed).fetch_add(1);
            guest(i, e);
        }
        client_->online(i, false);
    }

    // "Runs the guest" until kicked, asked to block, or the test ends.
    void guest(uint32_t i, Entry e) {
        FakeVcpu& v = vcpus_[i];
        v.entries.fetch_add(1);
        if (e == Entry::granted) {
            // Bound to the granted CPU before the grant was given: checked
            // only when the grant did not move while we looked.
            const uint32_t g = grant(i);
            const int cpu = ::sched_getcpu();
            if (g != 0 && g == grant(i) && cpu != static_cast<int>(g - 1)) v.misplaced.fetch_add(1);
        }
        v.cpu.store(::sched_getcpu());
        v.in_guest.store(true);
        volatile uint64_t sink = 0;
        const bool gated = e == Entry::granted;
        while (t_kicked == 0 && !quit_.load(std::memory_order_relaxed) && !v.block.load(std::memory_order_relaxed)) {
            for (uint64_t k = 0; k < 200; ++k) sink = sink * 31 + k;
            v.iterations.fetch_add(1, std::memory_order_relaxed);
            if (gated && grant(i) == 0) v.stray.fetch_add(1, std::memory_order_relaxed);
            v.cpu.store(::sched_getcpu(), std::memory_order_relaxed);
        }
        v.in_guest.store(false);
    }

    std::shared_ptr<SchedClient> client_;
    std::deque<FakeVcpu> vcpus_;
    std::atomic<bool> quit_{false};
    std::vector<std::thread> threads_;
};

inline std::unique_ptr<SchedHost> start_host(SchedBell& bell, Policy policy = Policy::credit, CpuMask pcpus = {}) {
    auto h = SchedHost::start({policy, pcpus}, bell, quiet_log());
    INFO((h ? std::string() : hv::describe(h.error())));
    REQUIRE(h);
    return std::move(*h);
}

inline DomainSched pinned(uint32_t cpu, uint32_t max_vcpus = 1) {
    DomainSched d;
    d.max_vcpus = max_vcpus;
    d.hard = {CpuMask::of(cpu)};
    return d;
}

inline DomainSched weighted(uint32_t cpu, std::optional<uint32_t> weight, std::optional<uint32_t> cap = std::nullopt) {
    DomainSched d = pinned(cpu);
    d.weight = weight;
    d.cap = cap;
    return d;
}

inline void attach(SchedHost& host, uint32_t domid, FakeDomain& dom, const DomainSched& d) {
    auto ok = host.attach(domid, dom.client(), dom.page(), ::getpid(), d);
    INFO((ok ? std::string() : hv::describe(ok.error())));
    REQUIRE(ok);
}

inline SchedParams rtds(uint32_t period_us, uint32_t budget_us) {
    SchedParams p;
    p.policy = Policy::rtds;
    p.rtds.period_us = period_us;
    p.rtds.budget_us = budget_us;
    return p;
}

inline SchedParams credit(uint32_t weight, uint32_t cap) {
    SchedParams p;
    p.policy = Policy::credit;
    p.credit.weight = weight;
    p.credit.cap = cap;
    return p;
}

// On an rtds host: the domain gets 100 us every 10 s (no extra time), so
// once that is spent (within a ms or so of its vCPU wanting to run) its
// vCPU waits in acquire() for the rest of the test. Set before its vCPU
// starts, so that it applies from the start.
inline void starve(SchedHost& host, uint32_t domid) {
    auto ok = host.set_domain_params(domid, rtds(10'000'000, 100));
    INFO((ok ? std::string() : hv::describe(ok.error())));
    REQUIRE(ok);
}

inline std::optional<VcpuRow> row_of(const SchedHost& host, uint32_t domid, uint32_t vcpu) {
    for (const VcpuRow& r : host.vcpus(domid))
        if (r.vcpu == vcpu) return r;
    return std::nullopt;
}

inline std::string message_of(const hv::Result<void>& r) { return r ? std::string("(ok)") : r.error().message; }

// A thread's schedstat: time on a CPU, time waiting on a run queue (ns).
inline std::pair<uint64_t, uint64_t> schedstat_of(pid_t tid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", static_cast<int>(tid));
    unsigned long long on_cpu = 0, waited = 0;
    if (FILE* f = std::fopen(path, "re")) {
        if (std::fscanf(f, "%llu %llu", &on_cpu, &waited) != 2) on_cpu = waited = 0;
        std::fclose(f);
    }
    return {on_cpu, waited};
}

// What a test prints when a wait fails: the fake vCPUs, their page words and the host's rows.
inline std::string dump(FakeDomain& d, uint32_t nr) {
    std::string out;
    for (uint32_t i = 0; i < nr; ++i) {
        FakeVcpu& v = d.v(i);
        const auto& w = d.page().vcpu[i];
        out += "  vcpu " + std::to_string(i) + ": granted " + std::to_string(v.granted.load()) + " freed " +
               std::to_string(v.freed.load()) + " interrupted " + std::to_string(v.interrupted.load()) + " entries " +
               std::to_string(v.entries.load()) + " in_guest " + std::to_string(v.in_guest.load()) + " waiting " +
               std::to_string(v.waiting.load()) + " cpu " + std::to_string(v.cpu.load()) + " | grant " +
               std::to_string(w.grant.load()) + " want " + std::to_string(w.want.load()) + " online " +
               std::to_string(w.online.load()) + " | claimed " + std::to_string(d.page().claimed.load()) + "\n";
    }
    return out;
}
inline std::string dump(const SchedHost& host) {
    std::string out;
    for (const VcpuRow& r : host.vcpus())
        out += "  row d" + std::to_string(r.domid) + " v" + std::to_string(r.vcpu) + ": online " +
               std::to_string(r.online) + " state " + std::to_string(static_cast<int>(r.state)) + " pcpu " +
               std::to_string(static_cast<int32_t>(r.pcpu)) + " runtime " + std::to_string(r.runtime_ns) + "\n";
    return out;
}

// Who is in the guest on one host CPU, sampled for a while.
struct Occupancy {
    uint64_t samples = 0;
    int max_holding = 0;     // vCPUs in the guest holding a grant for the CPU, at once
    int max_in_guest = 0;    // vCPUs in the guest, grant or not (see the first test case)
    uint64_t overlaps = 0;   // samples with max_in_guest > 1
    double longest_revoked_ms = 0; // longest a vCPU stayed in the guest after its grant was taken back
};

inline Occupancy watch(std::vector<std::pair<FakeDomain*, uint32_t>> vcpus, uint32_t cpu, std::chrono::milliseconds for_) {
    Occupancy o;
    std::vector<std::optional<Clock::time_point>> revoked(vcpus.size());
    std::vector<bool> first(vcpus.size());
    const auto holds = [&](size_t k) {
        auto [d, i] = vcpus[k];
        return d->v(i).in_guest.load() && d->grant(i) == cpu + 1;
    };
    const auto end = Clock::now() + for_;
    while (Clock::now() < end) {
        // Each vCPU read twice, all before all (A B A B): two vCPUs counted
        // together held their grants at once, not one after the other.
        for (size_t k = 0; k < vcpus.size(); ++k) first[k] = holds(k);
        int holding = 0, in_guest = 0;
        for (size_t k = 0; k < vcpus.size(); ++k) {
            if (first[k] && holds(k)) ++holding;
            auto [d, i] = vcpus[k];
            const bool inside = d->v(i).in_guest.load();
            if (inside) ++in_guest;
            if (inside && d->grant(i) == 0) {
                if (!revoked[k]) revoked[k] = Clock::now();
                o.longest_revoked_ms = std::max(o.longest_revoked_ms, ms_since(*revoked[k]));
            } else {
                revoked[k].reset();
            }
        }
        o.max_holding = std::max(o.max_holding, holding);
        o.max_in_guest = std::max(o.max_in_guest, in_guest);
        if (in_guest > 1) ++o.overlaps;
        ++o.samples;
        std::this_thread::sleep_for(50us);
    }
    return o;
}

// Iterations each vCPU makes over `d`.
inline std::vector<uint64_t> progress(std::vector<FakeVcpu*> vs, std::chrono::milliseconds d) {
    std::vector<uint64_t> before;
    for (FakeVcpu* v : vs) before.push_back(v->iterations.load());
    std::this_thread::sleep_for(d);
    std::vector<uint64_t> out;
    for (size_t k = 0; k < vs.size(); ++k) out.push_back(vs[k]->iterations.load() - before[k]);
    return out;
}

} // namespace sched_host_fixture
