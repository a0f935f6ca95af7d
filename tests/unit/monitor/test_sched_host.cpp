// SchedHost and SchedClient on real threads: fake vCPUs are std::threads of
// this process that wait in SchedClient::acquire() and then "run the guest"
// (spin, counting iterations) until the host kicks them out with a real-time
// signal, as a KVM vCPU thread leaves KVM_RUN. What is checked is behaviour
// (exclusivity, preemption, weights and caps in direction, detach, host
// loss, interruption, vcpu-list rows, pinning, refusals), never timings:
// every wait is a bounded poll with a generous limit.
//
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

namespace {

using Clock = std::chrono::steady_clock;

// ---- the kick: a real-time signal whose handler marks the thread ----

thread_local volatile std::sig_atomic_t t_kicked = 0;

int kick_signal() {
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

std::shared_ptr<spdlog::logger> quiet_log() {
    return std::make_shared<spdlog::logger>("sched-test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

// Polls `f` every ms until it holds or `timeout` runs out.
template <class F>
bool eventually(F f, std::chrono::milliseconds timeout = 10s) {
    const auto end = Clock::now() + timeout;
    for (;;) {
        if (f()) return true;
        if (Clock::now() >= end) return false;
        std::this_thread::sleep_for(1ms);
    }
}

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

uint32_t first_cpu() { return SchedHost::process_cpus().first(); }

// The second CPU this process may run on, if any.
std::optional<uint32_t> second_cpu() {
    const CpuMask m = SchedHost::process_cpus();
    const uint32_t c = m.next_from(m.first() + 1);
    if (c >= kMaxPcpus) return std::nullopt;
    return c;
}

CpuMask thread_affinity(pid_t tid) {
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

std::unique_ptr<SchedHost> start_host(SchedBell& bell, Policy policy = Policy::credit, CpuMask pcpus = {}) {
    auto h = SchedHost::start({policy, pcpus}, bell, quiet_log());
    INFO((h ? std::string() : hv::describe(h.error())));
    REQUIRE(h);
    return std::move(*h);
}

DomainSched pinned(uint32_t cpu, uint32_t max_vcpus = 1) {
    DomainSched d;
    d.max_vcpus = max_vcpus;
    d.hard = {CpuMask::of(cpu)};
    return d;
}

DomainSched weighted(uint32_t cpu, std::optional<uint32_t> weight, std::optional<uint32_t> cap = std::nullopt) {
    DomainSched d = pinned(cpu);
    d.weight = weight;
    d.cap = cap;
    return d;
}

void attach(SchedHost& host, uint32_t domid, FakeDomain& dom, const DomainSched& d) {
    auto ok = host.attach(domid, dom.client(), dom.page(), ::getpid(), d);
    INFO((ok ? std::string() : hv::describe(ok.error())));
    REQUIRE(ok);
}

SchedParams rtds(uint32_t period_us, uint32_t budget_us) {
    SchedParams p;
    p.policy = Policy::rtds;
    p.rtds.period_us = period_us;
    p.rtds.budget_us = budget_us;
    return p;
}

SchedParams credit(uint32_t weight, uint32_t cap) {
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
void starve(SchedHost& host, uint32_t domid) {
    auto ok = host.set_domain_params(domid, rtds(10'000'000, 100));
    INFO((ok ? std::string() : hv::describe(ok.error())));
    REQUIRE(ok);
}

std::optional<VcpuRow> row_of(const SchedHost& host, uint32_t domid, uint32_t vcpu) {
    for (const VcpuRow& r : host.vcpus(domid))
        if (r.vcpu == vcpu) return r;
    return std::nullopt;
}

std::string message_of(const hv::Result<void>& r) { return r ? std::string("(ok)") : r.error().message; }

// A thread's schedstat: time on a CPU, time waiting on a run queue (ns).
std::pair<uint64_t, uint64_t> schedstat_of(pid_t tid) {
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
std::string dump(FakeDomain& d, uint32_t nr) {
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
std::string dump(const SchedHost& host) {
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

Occupancy watch(std::vector<std::pair<FakeDomain*, uint32_t>> vcpus, uint32_t cpu, std::chrono::milliseconds for_) {
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
std::vector<uint64_t> progress(std::vector<FakeVcpu*> vs, std::chrono::milliseconds d) {
    std::vector<uint64_t> before;
    for (FakeVcpu* v : vs) before.push_back(v->iterations.load());
    std::this_thread::sleep_for(d);
    std::vector<uint64_t> out;
    for (size_t k = 0; k < vs.size(); ++k) out.push_back(vs[k]->iterations.load() - before[k]);
    return out;
}

} // namespace

// ---- sharing one CPU ----

TEST_CASE("sched host: two domains pinned to one host CPU take turns in the guest, preempted by the kick",
          "[sched_host]") {
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    FakeDomain a(bell, 1), b(bell, 1);
    auto host = start_host(bell); // destroyed first: no kick after the threads are gone
    attach(*host, 1, a, pinned(cpu));
    attach(*host, 2, b, pinned(cpu));
    a.start_all();
    b.start_all();
    REQUIRE(eventually([&] { return a.v(0).granted.load() >= 1 && b.v(0).granted.load() >= 1; }));

    const uint64_t entries_a = a.v(0).entries.load(), entries_b = b.v(0).entries.load();
    const uint64_t iter_a = a.v(0).iterations.load(), iter_b = b.v(0).iterations.load();
    const uint64_t stray_a = a.v(0).stray.load(), stray_b = b.v(0).stray.load();
    const Occupancy o = watch({{&a, 0}, {&b, 0}}, cpu, 1500ms);
    const uint64_t work = a.v(0).iterations.load() - iter_a + b.v(0).iterations.load() - iter_b;
    const double stray = static_cast<double>(a.v(0).stray.load() - stray_a + b.v(0).stray.load() - stray_b) /
                         static_cast<double>(std::max<uint64_t>(1, work));
    INFO("guest work done after the grant was taken back: " << stray * 100 << "%");
    INFO("samples " << o.samples << ", in the guest at once (grant or not): " << o.max_in_guest << " in "
                    << o.overlaps << " samples; longest in the guest after revocation " << o.longest_revoked_ms
                    << " ms; entries " << a.v(0).entries.load() << "/" << b.v(0).entries.load());
    // Never two grant holders in the guest on the CPU.
    CHECK(o.max_holding == 1);
    // A vCPU whose grant was taken back does no more guest work: the kick
    // makes it leave as soon as Linux runs it. (It can still look "in the
    // guest" beside the next holder for a while: both threads are bound to
    // the one CPU, the new holder may run first, and the kicked one only
    // takes its signal when it runs again. Hence the work measure, and a
    // generous bound on how long that lasts.)
    CHECK(stray < 0.05);
    CHECK(o.longest_revoked_ms < 1000);
    // Both made progress, each entering again and again: only possible if
    // each was kicked out for the other (neither blocks on its own).
    CHECK(a.v(0).entries.load() >= entries_a + 3);
    CHECK(b.v(0).entries.load() >= entries_b + 3);
    CHECK(a.v(0).iterations.load() > iter_a);
    CHECK(b.v(0).iterations.load() > iter_b);
    // Granted entries ran on the granted CPU (the host binds the thread).
    CHECK(a.v(0).misplaced.load() == 0);
    CHECK(b.v(0).misplaced.load() == 0);
    CHECK(a.v(0).freed.load() == 0);
    CHECK(b.v(0).freed.load() == 0);
}

TEST_CASE("sched host: on one host CPU the heavier domain (weight 512) runs more than the lighter (256)",
          "[sched_host]") {
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    FakeDomain heavy(bell, 1), light(bell, 1);
    auto host = start_host(bell);
    attach(*host, 1, heavy, weighted(cpu, 512));
    attach(*host, 2, light, weighted(cpu, 256));
    heavy.start_all();
    light.start_all();
    REQUIRE(eventually([&] { return heavy.v(0).granted.load() >= 2 && light.v(0).granted.load() >= 2; }));
    std::this_thread::sleep_for(200ms); // past the first accounting periods
    const auto charged = [&](uint32_t domid) {
        const auto r = row_of(*host, domid, 0);
        return r ? r->runtime_ns : 0;
    };
    const uint64_t charged_h = charged(1), charged_l = charged(2);
    const uint64_t cpu_h = schedstat_of(heavy.tid(0)).first, cpu_l = schedstat_of(light.tid(0)).first;
    const auto p = progress({&heavy.v(0), &light.v(0)}, 2000ms);
    INFO("iterations: heavy " << p[0] << ", light " << p[1] << " (ratio "
                              << (p[1] != 0 ? static_cast<double>(p[0]) / static_cast<double>(p[1]) : 0.0)
                              << "); charged ms: heavy " << (charged(1) - charged_h) / 1'000'000 << ", light "
                              << (charged(2) - charged_l) / 1'000'000 << "; on a CPU ms: heavy "
                              << (schedstat_of(heavy.tid(0)).first - cpu_h) / 1'000'000 << ", light "
                              << (schedstat_of(light.tid(0)).first - cpu_l) / 1'000'000);
    CHECK(p[1] > 0);
    CHECK(p[0] > p[1]);
}

TEST_CASE("sched host: a domain capped at 10% waits most of the time on an otherwise idle CPU", "[sched_host]") {
    const uint32_t cpu = first_cpu();
    // The same domain alone on the CPU, uncapped then capped, each on a
    // host of its own.
    const auto run_alone = [&](std::optional<uint32_t> cap) {
        SchedBell bell;
        FakeDomain d(bell, 1);
        auto host = start_host(bell);
        attach(*host, 1, d, weighted(cpu, std::nullopt, cap));
        d.start_all();
        REQUIRE(eventually([&] { return d.v(0).granted.load() >= 1; }));
        std::this_thread::sleep_for(100ms);
        const uint64_t n = progress({&d.v(0)}, 1000ms)[0];
        CHECK(d.v(0).freed.load() == 0);
        return n;
    };
    const uint64_t uncapped = run_alone(std::nullopt);
    const uint64_t capped = run_alone(10);
    const double share = uncapped != 0 ? static_cast<double>(capped) / static_cast<double>(uncapped) : 1.0;
    INFO("iterations: uncapped " << uncapped << ", cap 10: " << capped << " (share " << share << ")");
    CHECK(uncapped > 0);
    CHECK(capped > 0); // capped, not stopped
    CHECK(share < 0.5);
}

// ---- leaving the host ----

TEST_CASE("sched host: detach frees a vCPU waiting in acquire() at once and leaves the other domains scheduled",
          "[sched_host]") {
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    FakeDomain s(bell, 1), t(bell, 1);
    auto host = start_host(bell, Policy::rtds);
    attach(*host, 1, s, pinned(cpu));
    attach(*host, 2, t, pinned(cpu));
    starve(*host, 1);
    s.start_all();
    t.start_all();
    // s may never get in: its 100 us can go while its thread waits for
    // Linux to run it (a wait still in progress is charged as run time).
    REQUIRE(eventually([&] { return t.v(0).granted.load() >= 1; }));
    {
        const bool ok = eventually([&] { return s.starved_for(0, 300ms); });
        INFO("s\n" << dump(s, 1) << "t\n" << dump(t, 1) << dump(*host));
        REQUIRE(ok);
    }
    REQUIRE(s.v(0).freed.load() == 0);

    const auto t0 = Clock::now();
    host->detach(1);
    REQUIRE(eventually([&] { return s.v(0).freed.load() >= 1; }));
    const double took = ms_since(t0);
    INFO("acquire() returned free " << took << " ms after detach");
    CHECK(took < 2000); // woken, not left to the 10 s replenishment
    CHECK(s.page().claimed.load() == 0);
    CHECK(s.grant(0) == 0);
    CHECK_FALSE(s.client()->host_present());
    CHECK_FALSE(host->attached(1));
    CHECK(host->vcpus(1).empty());
    // It runs unscheduled now.
    REQUIRE(eventually([&] { return s.v(0).in_guest.load(); }));
    const uint64_t n = s.v(0).iterations.load();
    CHECK(eventually([&] { return s.v(0).iterations.load() > n; }));

    // The other domain is still the host's.
    CHECK(host->attached(2));
    CHECK(t.page().claimed.load() == 1);
    CHECK(t.client()->host_present());
    const uint64_t granted_t = t.v(0).granted.load();
    CHECK(eventually([&] { return t.v(0).granted.load() > granted_t; }));
    CHECK(t.v(0).freed.load() == 0);

    host->detach(1); // twice: nothing
    host->detach(99);
    CHECK(host->attached(2));

    // Attached again (its slot was given back): the vCPU running
    // unscheduled is kicked back under the host.
    const uint64_t granted_s = s.v(0).granted.load();
    attach(*host, 1, s, pinned(cpu));
    CHECK(s.page().claimed.load() == 1);
    {
        const bool ok = eventually([&] { return s.v(0).granted.load() > granted_s; });
        INFO("s\n" << dump(s, 1) << "t\n" << dump(t, 1) << dump(*host));
        CHECK(ok);
    }
    // Gated from then on: no more free entries (one more than the first is
    // possible: a kick that reached it while it waited before the detach
    // makes its first free entry leave at once).
    const uint64_t freed = s.v(0).freed.load();
    CHECK(freed <= 2);
    const uint64_t g = s.v(0).granted.load();
    CHECK(eventually([&] { return s.v(0).granted.load() >= g + 3; }));
    CHECK(s.v(0).freed.load() == freed);
}

TEST_CASE("sched host: when the host goes, every page is released and waiting vCPUs run unscheduled",
          "[sched_host]") {
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    FakeDomain s(bell, 1), r(bell, 1);
    {
        auto host = start_host(bell, Policy::rtds);
        attach(*host, 1, s, pinned(cpu));
        attach(*host, 2, r, pinned(cpu));
        starve(*host, 1);
        s.start_all();
        r.start_all();
        REQUIRE(eventually([&] { return r.v(0).granted.load() >= 1; }));
        REQUIRE(eventually([&] { return s.starved_for(0, 300ms); }));
        REQUIRE(s.page().claimed.load() == 1);
        REQUIRE(r.page().claimed.load() == 1);
    } // ~SchedHost
    const auto t0 = Clock::now();
    CHECK(s.page().heartbeat_ns.load() == 0);
    CHECK(r.page().heartbeat_ns.load() == 0);
    CHECK(s.page().claimed.load() == 0);
    CHECK(r.page().claimed.load() == 0);
    CHECK(s.grant(0) == 0);
    CHECK(r.grant(0) == 0);
    CHECK_FALSE(s.client()->host_present());
    CHECK_FALSE(r.client()->host_present());
    REQUIRE(eventually([&] { return s.v(0).freed.load() >= 1; }));
    INFO("the waiting vCPU went free " << ms_since(t0) << " ms after the host");
    CHECK(ms_since(t0) < 2000);
    // Both keep running (the one that was in the guest was not stopped).
    const auto p = progress({&s.v(0), &r.v(0)}, 300ms);
    CHECK(p[0] > 0);
    CHECK(p[1] > 0);
}

TEST_CASE("sched host: a vCPU running unscheduled is kicked at attach and comes under the host", "[sched_host]") {
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    FakeDomain d(bell, 1);
    d.start_all();
    // No host: acquire() lets it in.
    REQUIRE(eventually([&] { return d.v(0).freed.load() >= 1 && d.v(0).in_guest.load(); }));
    auto host = start_host(bell);
    attach(*host, 1, d, pinned(cpu));
    REQUIRE(eventually([&] { return d.v(0).granted.load() >= 1; }));
    CHECK(d.v(0).freed.load() == 1);
    REQUIRE(eventually([&] { return d.v(0).in_guest.load() && d.v(0).cpu.load() == static_cast<int>(cpu); }));
    CHECK(d.v(0).misplaced.load() == 0);
}

TEST_CASE("sched host: a vCPU that wants a pCPU right after attach() is scheduled, not let in unscheduled",
          "[sched_host]") {
    // No wait for the host thread's first pass: attach() itself must make
    // the host present to the page.
    const uint32_t cpu = first_cpu();
    for (int k = 0; k < 20; ++k) {
        SchedBell bell;
        FakeDomain d(bell, 1);
        auto host = start_host(bell);
        attach(*host, 1, d, pinned(cpu));
        d.start_all();
        INFO("try " << k << "\n" << dump(d, 1));
        REQUIRE(eventually([&] { return d.v(0).granted.load() >= 1; }, 5000ms));
        CHECK(d.v(0).freed.load() == 0);
    }
}

TEST_CASE("sched host: vCPU slots past the domain's maxvcpus are not scheduled: they enter freely", "[sched_host]") {
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    FakeDomain d(bell, 2);
    auto host = start_host(bell);
    attach(*host, 1, d, pinned(cpu, 1)); // the host manages vCPU 0 only
    d.start_all();
    REQUIRE(eventually([&] { return d.v(0).granted.load() >= 1 && d.v(1).freed.load() >= 1; }));
    CHECK(d.v(1).granted.load() == 0);
    CHECK(host->vcpus(1).size() == 1);
}

TEST_CASE("sched host: a vCPU the host lets go gets back the CPUs the host had bound it away from", "[sched_host]") {
    if (!second_cpu()) {
        WARN("only one CPU: nothing to unbind");
        return;
    }
    const uint32_t cpu = first_cpu();
    const CpuMask all = SchedHost::process_cpus();
    SchedBell bell;
    FakeDomain s(bell, 1);
    auto host = start_host(bell, Policy::rtds);
    attach(*host, 1, s, pinned(cpu));
    starve(*host, 1);
    s.start_all();
    // Granted once (bound to the CPU), then waiting.
    REQUIRE(eventually([&] { return thread_affinity(s.tid(0)) == CpuMask::of(cpu); }));
    REQUIRE(eventually([&] { return s.starved_for(0, 300ms); }));
    SECTION("detached") { host->detach(1); }
    SECTION("host gone") { host.reset(); }
    REQUIRE(eventually([&] { return s.v(0).freed.load() >= 1; }));
    CHECK(eventually([&] { return thread_affinity(s.tid(0)) == all; }));
    CHECK(s.page().vcpu[0].pinned.load() == 0);
}

// ---- acquire()'s predicate ----

TEST_CASE("sched host: a vCPU waiting for a grant leaves acquire() when its predicate says so", "[sched_host]") {
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    FakeDomain s(bell, 1);
    auto host = start_host(bell, Policy::rtds);
    attach(*host, 1, s, pinned(cpu));
    starve(*host, 1);
    s.start_all();
    REQUIRE(eventually([&] { return s.starved_for(0, 300ms); }));
    const uint64_t entries = s.v(0).entries.load();

    SECTION("interrupt() wakes it to look at the predicate") {
        s.v(0).stop_waiting.store(true);
        const auto t0 = Clock::now();
        s.client()->interrupt(0);
        REQUIRE(eventually([&] { return s.v(0).interrupted.load() >= 1; }));
        INFO("interrupted " << ms_since(t0) << " ms after interrupt()");
        CHECK(ms_since(t0) < 2000);
    }
    SECTION("without interrupt() it looks again within a bounded step") {
        const auto t0 = Clock::now();
        s.v(0).stop_waiting.store(true);
        REQUIRE(eventually([&] { return s.v(0).interrupted.load() >= 1; }));
        INFO("interrupted " << ms_since(t0) << " ms after the predicate turned true");
        CHECK(ms_since(t0) < 2000);
    }
    // Interrupted, not let in; and it waits again once the predicate clears.
    CHECK(s.v(0).entries.load() == entries);
    CHECK(s.v(0).freed.load() == 0);
    s.v(0).stop_waiting.store(false);
    CHECK(eventually([&] { return s.starved_for(0, 100ms); }));
    CHECK(s.v(0).entries.load() == entries);
    CHECK(host->attached(1));
}

// ---- vcpu-list and vcpu-pin ----

TEST_CASE("sched host: vcpus() rows report online vCPUs, their state and hard affinity", "[sched_host]") {
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    FakeDomain d(bell, 2), e(bell, 1);
    auto host = start_host(bell);
    attach(*host, 9, d, pinned(cpu, 2));
    attach(*host, 4, e, pinned(cpu));
    d.start(0); // vCPU 1 never comes online

    REQUIRE(eventually([&] {
        auto r = row_of(*host, 9, 0);
        return r && r->online && r->state == RunState::running;
    }));
    std::vector<VcpuRow> rows = host->vcpus(9);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].domid == 9);
    CHECK(rows[0].vcpu == 0);
    CHECK(rows[0].online);
    CHECK(rows[0].pcpu == cpu);
    CHECK(rows[0].hard == CpuMask::of(cpu));
    CHECK(rows[1].vcpu == 1);
    CHECK_FALSE(rows[1].online);
    // Charged from the thread's CPU time as it runs.
    CHECK(eventually([&] {
        auto r = row_of(*host, 9, 0);
        return r && r->runtime_ns > 0;
    }));

    // Every domain, by domid: 4 (no vCPU online) before 9.
    rows = host->vcpus();
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].domid == 4);
    CHECK_FALSE(rows[0].online);
    CHECK(rows[1].domid == 9);
    CHECK(rows[2].domid == 9);
    CHECK(host->vcpus(77).empty());

    // Blocked: want(false).
    d.v(0).block.store(true);
    CHECK(eventually([&] {
        auto r = row_of(*host, 9, 0);
        return r && r->online && r->state == RunState::blocked;
    }));
    CHECK(eventually([&] { return d.grant(0) == 0; }));
    // Runnable again: it is granted and runs.
    const uint64_t granted = d.v(0).granted.load();
    d.v(0).block.store(false);
    CHECK(eventually([&] {
        auto r = row_of(*host, 9, 0);
        return r && r->state == RunState::running && d.v(0).granted.load() > granted;
    }));

    // With another vCPU on the CPU one of the two is running, the other
    // runnable (or both momentarily runnable between two decisions).
    e.start_all();
    CHECK(eventually([&] {
        auto a = row_of(*host, 9, 0), b = row_of(*host, 4, 0);
        return a && b && b->online &&
               ((a->state == RunState::running && b->state == RunState::runnable) ||
                (a->state == RunState::runnable && b->state == RunState::running));
    }));

    // Offline: the row says so.
    e.stop();
    CHECK(eventually([&] {
        auto r = row_of(*host, 4, 0);
        return r && !r->online;
    }));
}

TEST_CASE("sched host: pin() moves a vCPU's hard affinity and its thread follows", "[sched_host]") {
    const std::optional<uint32_t> other = second_cpu();
    if (!other) {
        WARN("only one CPU: pinning to another CPU not tested");
        return;
    }
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    FakeDomain d(bell, 2);
    auto host = start_host(bell);
    attach(*host, 3, d, pinned(cpu, 2));
    d.start(0);
    const auto on = [&](uint32_t i, uint32_t c) {
        return d.v(i).in_guest.load() && d.v(i).cpu.load() == static_cast<int>(c);
    };
    REQUIRE(eventually([&] { return on(0, cpu); }));

    // One running vCPU.
    REQUIRE(host->pin(3, 0, CpuMask::of(*other), std::nullopt));
    auto r0 = row_of(*host, 3, 0);
    REQUIRE(r0);
    CHECK(r0->hard == CpuMask::of(*other));
    CHECK(eventually([&] { return on(0, *other); }));
    CHECK(eventually([&] {
        auto r = row_of(*host, 3, 0);
        return r && r->pcpu == *other;
    }));

    // An offline vCPU keeps its pin for when it comes online.
    REQUIRE(host->pin(3, 1, CpuMask::of(*other), std::nullopt));
    d.start(1);
    CHECK(eventually([&] { return on(1, *other); }));
    auto r1 = row_of(*host, 3, 1);
    REQUIRE(r1);
    CHECK(r1->online);
    CHECK(r1->hard == CpuMask::of(*other));
    REQUIRE(host->pin(3, 1, CpuMask::of(cpu), std::nullopt));
    CHECK(eventually([&] { return on(1, cpu); }));

    // Every vCPU (no vCPU named): both on the other CPU, taking turns.
    REQUIRE(host->pin(3, std::nullopt, CpuMask::of(*other), std::nullopt));
    for (const VcpuRow& r : host->vcpus(3)) CHECK(r.hard == CpuMask::of(*other));
    CHECK(eventually([&] { return on(1, *other); }));
    const uint64_t g0 = d.v(0).granted.load(), g1 = d.v(1).granted.load();
    CHECK(eventually([&] { return d.v(0).granted.load() > g0 && d.v(1).granted.load() > g1; }));

    // Back, and a soft affinity alone leaves the hard one as it is.
    REQUIRE(host->pin(3, 0, CpuMask::of(cpu), std::nullopt));
    REQUIRE(host->pin(3, 0, std::nullopt, CpuMask::of(*other)));
    r0 = row_of(*host, 3, 0);
    REQUIRE(r0);
    CHECK(r0->hard == CpuMask::of(cpu));
    CHECK(r0->soft == CpuMask::of(*other));
    CHECK(eventually([&] { return on(0, cpu); }));
    // An empty mask means every host CPU.
    REQUIRE(host->pin(3, 1, CpuMask{}, std::nullopt));
    r1 = row_of(*host, 3, 1);
    REQUIRE(r1);
    CHECK(r1->hard == host->pcpus());

    CHECK(d.v(0).misplaced.load() == 0);
    CHECK(d.v(1).misplaced.load() == 0);
    CHECK(d.v(0).freed.load() == 0);
}

// ---- refusals and policy ----

TEST_CASE("sched host: bad input is refused with the value and the valid range", "[sched_host]") {
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    // Host CPUs: just the one, so that the next CPU number lies outside.
    const uint32_t outside = cpu + 1 < kMaxPcpus ? cpu + 1 : cpu - 1;
    auto host = start_host(bell, Policy::credit, CpuMask::of(cpu));
    REQUIRE(host->pcpus() == CpuMask::of(cpu));

    SECTION("check()") {
        CHECK(host->check(pinned(cpu, 2)));
        DomainSched d = pinned(cpu, 2);
        d.weight = 0;
        auto r = host->check(d);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK(r.error().message == "cpu_weight 0 is out of range (1..65535)");
        d.weight = 65536;
        r = host->check(d);
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "cpu_weight 65536 is out of range (1..65535)");

        d = pinned(cpu, 2);
        d.cap = 201;
        r = host->check(d);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK(r.error().message == "cap 201 is out of range (0..200 = 100 x 2 vCPUs)");
        d.cap = 200;
        CHECK(host->check(d));

        d = pinned(outside);
        r = host->check(d);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK(r.error().message == "cpus: CPUs " + std::to_string(outside) + " are not all host CPUs given to hv (" +
                                       std::to_string(cpu) + ")");
        d = DomainSched{};
        d.soft = {CpuMask::of(outside)};
        r = host->check(d);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.rfind("cpus_soft: CPUs " + std::to_string(outside), 0) == 0);

        d = DomainSched{};
        d.max_vcpus = 0;
        r = host->check(d);
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "maxvcpus 0 is out of range (1..128)");
        d.max_vcpus = 129;
        CHECK(message_of(host->check(d)) == "maxvcpus 129 is out of range (1..128)");

        d = DomainSched{};
        d.max_vcpus = 2;
        d.hard = {CpuMask::of(cpu), CpuMask::of(cpu), CpuMask::of(cpu)};
        CHECK(message_of(host->check(d)) == "cpus: 3 per-vCPU lists for 2 vCPUs");
    }

    SECTION("attach()") {
        FakeDomain a(bell, 2), b(bell, 1);
        attach(*host, 5, a, pinned(cpu, 2));
        auto r = host->attach(5, b.client(), b.page(), ::getpid(), pinned(cpu));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::exists);
        CHECK(r.error().message == "domain 5 is already scheduled");
        CHECK(b.page().claimed.load() == 0);

        // Refused setup: nothing attached, the page not claimed.
        DomainSched bad = pinned(cpu);
        bad.weight = 0;
        r = host->attach(6, b.client(), b.page(), ::getpid(), bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK_FALSE(host->attached(6));
        CHECK(b.page().claimed.load() == 0);

        // A page of another layout.
        b.page().version = hv::sched::kLayoutVersion + 1;
        r = host->attach(6, b.client(), b.page(), ::getpid(), pinned(cpu));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::protocol_error);
        b.page().version = hv::sched::kLayoutVersion;
        CHECK_FALSE(host->attached(6));

        // pin(): vCPU out of range, CPUs outside the host set, no domain.
        r = host->pin(5, 2, CpuMask::of(cpu), std::nullopt);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK(r.error().message == "vCPU 2 is out of range: domain 5 has vCPUs 0..1");
        r = host->pin(5, 0, CpuMask::of(outside), std::nullopt);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK(r.error().message == "CPUs " + std::to_string(outside) + " are not all host CPUs given to hv (" +
                                       std::to_string(cpu) + ")");
        r = host->pin(5, std::nullopt, std::nullopt, CpuMask::of(outside));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        r = host->pin(8, 0, CpuMask::of(cpu), std::nullopt);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::not_found);
        CHECK(r.error().message == "domain 8 is not scheduled");

        // Parameters of the wrong policy, out of range, no domain.
        r = host->set_domain_params(5, rtds(10000, 4000));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK(r.error().message == "the host runs the credit scheduler, not rtds");
        r = host->set_domain_params(5, credit(0, 0));
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "weight 0 is out of range (1..65535)");
        r = host->set_domain_params(5, credit(256, 201));
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "cap 201 is out of range (0..200 = 100 x 2 vCPUs)");
        r = host->set_domain_params(8, credit(256, 0));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::not_found);
        auto p = host->domain_params(8);
        REQUIRE_FALSE(p);
        CHECK(p.error().code == Errc::not_found);

        // What was accepted is what is reported.
        REQUIRE(host->set_domain_params(5, credit(700, 150)));
        p = host->domain_params(5);
        REQUIRE(p);
        CHECK(p->policy == Policy::credit);
        CHECK(p->credit.weight == 700);
        CHECK(p->credit.cap == 150);
    }

    SECTION("start() and parse_policy()") {
        // A host CPU this process may not run on.
        const CpuMask mine = SchedHost::process_cpus();
        uint32_t foreign = 0;
        while (foreign < kMaxPcpus && mine.test(foreign)) ++foreign;
        if (foreign < kMaxPcpus) {
            SchedBell other;
            auto h = SchedHost::start({Policy::credit, CpuMask::of(foreign)}, other, quiet_log());
            REQUIRE_FALSE(h);
            CHECK(h.error().code == Errc::invalid_argument);
            CHECK(h.error().message.rfind("host CPUs " + std::to_string(foreign) + ":", 0) == 0);
        }
        auto pol = hv::sched::parse_policy("bvt");
        REQUIRE_FALSE(pol);
        CHECK(pol.error().code == Errc::invalid_argument);
        CHECK(pol.error().message.find("credit") != std::string::npos);
        CHECK(pol.error().message.find("rtds") != std::string::npos);
        CHECK(*hv::sched::parse_policy("rtds") == Policy::rtds);
    }
}

TEST_CASE("sched host: switching the policy live keeps every vCPU running", "[sched_host]") {
    const uint32_t cpu = first_cpu();
    SchedBell bell;
    FakeDomain a(bell, 1), b(bell, 1);
    auto host = start_host(bell);
    attach(*host, 1, a, weighted(cpu, 512));
    attach(*host, 2, b, pinned(cpu));
    a.start_all();
    b.start_all();
    REQUIRE(eventually([&] { return a.v(0).granted.load() >= 1 && b.v(0).granted.load() >= 1; }));
    CHECK(host->policy() == Policy::credit);
    CHECK(host->switch_policy(Policy::credit)); // the current one: nothing

    const auto both_progress = [&] {
        const uint64_t ga = a.v(0).granted.load(), gb = b.v(0).granted.load();
        const uint64_t ia = a.v(0).iterations.load(), ib = b.v(0).iterations.load();
        return eventually([&] {
            return a.v(0).granted.load() > ga + 2 && b.v(0).granted.load() > gb + 2 && a.v(0).iterations.load() > ia &&
                   b.v(0).iterations.load() > ib;
        });
    };

    REQUIRE(host->switch_policy(Policy::rtds));
    CHECK(host->policy() == Policy::rtds);
    CHECK(both_progress());
    // The credit parameters mean nothing to rtds: defaults.
    auto p = host->domain_params(1);
    REQUIRE(p);
    CHECK(p->policy == Policy::rtds);
    CHECK(p->rtds.period_us == hv::core::sched::kRtdsPeriodUsDefault);
    CHECK(p->rtds.budget_us == hv::core::sched::kRtdsBudgetUsDefault);
    auto r = host->set_domain_params(1, credit(256, 0));
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "the host runs the rtds scheduler, not credit");
    // Affinity and state moved with the vCPUs.
    for (const VcpuRow& row : host->vcpus()) {
        CHECK(row.online);
        CHECK(row.hard == CpuMask::of(cpu));
    }

    REQUIRE(host->switch_policy(Policy::credit));
    CHECK(host->policy() == Policy::credit);
    CHECK(both_progress());
    // Back on credit, the configured weight holds again.
    p = host->domain_params(1);
    REQUIRE(p);
    CHECK(p->policy == Policy::credit);
    CHECK(p->credit.weight == 512);
    CHECK(a.v(0).freed.load() == 0);
    CHECK(b.v(0).freed.load() == 0);
    CHECK(a.v(0).misplaced.load() == 0);
    CHECK(b.v(0).misplaced.load() == 0);
}

// slot_owner_ says 0 for a free slot, so domid 0 must be refused (hv gives
// guests domids from 1); else its slot would look free to the next attach.
TEST_CASE("sched host: domid 0 is refused, and the next domain still gets a slot of its own", "[sched_host]") {
    SchedBell bell;
    FakeDomain a(bell, 1), b(bell, 1);
    auto host = start_host(bell);
    const auto r0 = host->attach(0, a.client(), a.page(), ::getpid(), DomainSched{});
    const auto r1 = host->attach(1, b.client(), b.page(), ::getpid(), DomainSched{});
    INFO("attach(0): " << message_of(r0) << "; attach(1): " << message_of(r1));
    // Either 0 is refused, or both are scheduled.
    CHECK((!r0 || (r1 && host->attached(0) && host->attached(1))));
}
