// hvctl's scheduler commands (sched-credit, sched-rtds, sched-policy,
// vcpu-list, vcpu-pin) against a private hvd running its host scheduler,
// against hvd --sched none, and in embedded mode.
#include <catch2/catch.hpp>

#include <bit>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>

#include <hv/sdk/connection.hpp>

#include "config/cpu_list.hpp"
#include "hvctl_runner.hpp"
#include "hvd_harness.hpp"

using namespace hvtest;

namespace {

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// xl's table layouts, written out here independently of hvctl's code.
std::string credit_header() { return fmt::format("{:<33} {:>4} {:>6} {:>4}\n", "Name", "ID", "Weight", "Cap"); }
std::string credit_row(const std::string& name, const std::string& id, int weight, int cap) {
    return fmt::format("{:<33} {:>4} {:>6} {:>4}\n", name, id, weight, cap);
}
std::string rtds_header() {
    return fmt::format("{:<33} {:>4} {:>9} {:>9} {:>10}\n", "Name", "ID", "Period", "Budget", "Extratime");
}
std::string rtds_row(const std::string& name, const std::string& id, int period, int budget, const char* extratime) {
    return fmt::format("{:<33} {:>4} {:>9} {:>9} {:>10}\n", name, id, period, budget, extratime);
}
const std::string kVcpuHeader = fmt::format("{:<32} {:>5} {:>5} {:>5} {:>5} {:>9} {}\n", "Name", "ID", "VCPU", "CPU",
                                            "State", "Time(s)", "Affinity (Hard / Soft)");
// The start of a vcpu-list row (xl: no blank between VCPU and CPU).
std::string vcpu_prefix(const std::string& name, const std::string& id, int vcpu) {
    return fmt::format("{:<32} {:>5} {:>5}", name, id, vcpu);
}

// The line of `out` that starts with `prefix` (without its newline).
std::optional<std::string> line_starting(const std::string& out, const std::string& prefix) {
    for (size_t at = 0; at < out.size();) {
        const size_t nl = out.find('\n', at);
        const std::string line = out.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
        if (line.rfind(prefix, 0) == 0) return line;
        if (nl == std::string::npos) break;
        at = nl + 1;
    }
    return std::nullopt;
}

// "HARD / SOFT" at the end of a vcpu-list row.
std::string affinity_of(const std::string& row) {
    const size_t slash = row.rfind(" / ");
    const size_t start = row.rfind("  ", slash);
    return row.substr(start + 2);
}

// A private hvd with its host scheduler; hvctl --connect to it.
struct SchedHvd {
    explicit SchedHvd(std::vector<std::string> extra = {"--log-level", "warn"}) : hvd(std::move(extra)) {}
    ~SchedHvd() {
        if (auto c = hv::sdk::Connection::open(hvd.uri()))
            if (auto l = c->list())
                for (const auto& d : *l) (void)c->backend().destroy(d.domid);
    }
    Run hvctl(const std::string& args) const { return hvtest::hvctl(dir, "--connect " + hvd.uri() + " " + args); }
    std::string cfg(const std::string& name, const std::string& extra, const std::string& keys = "") const {
        return dir.write(name + ".cfg", fmt::format("name = '{}'\nkernel = '{}'\nmemory = 16\nvcpus = 1\nextra = '{}'\n{}",
                                                    name, hello_guest(), extra, keys));
    }
    // Creates it through hvctl; its domid.
    std::string create(const std::string& name, const std::string& extra, const std::string& keys = "") const {
        Run r = hvctl("create " + cfg(name, extra, keys));
        INFO(r.err);
        REQUIRE(r.status == 0);
        r = hvctl("domid " + name);
        REQUIRE(r.status == 0);
        return r.out.substr(0, r.out.find('\n'));
    }

    HvdProcess hvd;
    TempDir dir;
};

// Polls until the domain's vCPU has been charged more than `than` seconds
// of CPU time (the SDK's figure); false after 20 s.
bool cpu_grows(const hv::sdk::Domain& d, double than) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < end) {
        auto i = d.info();
        if (i && i->cpu_seconds > than + 0.05) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

} // namespace

TEST_CASE("hvctl sched-credit, vcpu-list, vcpu-pin, sched-policy, sched-rtds against hvd's host scheduler",
          "[kvm][hvctl][hvd][sched]") {
    SchedHvd t;
    const std::string a = t.create("a", "stay"), b = t.create("b", "stay");

    // The host CPUs hvd schedules on (every CPU it may use: no --cpus).
    Run r = t.hvctl("sched-policy");
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.rfind(fmt::format("{:<23}: credit\n", "policy"), 0) == 0);
    const auto cpus_line = line_starting(r.out, fmt::format("{:<23}: ", "cpus"));
    REQUIRE(cpus_line);
    auto host = hv::config::parse_cpu_list(cpus_line->substr(25));
    REQUIRE(host);
    CHECK(has(r.out, fmt::format("{:<23}: {}\n", "nr_cpus", std::popcount(*host))));
    const bool one_cpu = *host == 1; // then CPU 0 alone is "all"

    SECTION("sched-credit lists, sets and refuses out-of-range weights and caps") {
        r = t.hvctl("sched-credit");
        INFO(r.out << r.err);
        REQUIRE(r.status == 0);
        CHECK(r.out == "Cpupool Pool-0: tslice=30ms ratelimit=1000us tick=10000us\n" + credit_header() +
                           credit_row("a", a, 256, 0) + credit_row("b", b, 256, 0));

        r = t.hvctl("sched-credit -d a -w 512 -c 50");
        CHECK(r.status == 0);
        CHECK(r.out.empty());
        CHECK(r.err.empty());
        r = t.hvctl("sched-credit");
        CHECK(has(r.out, credit_row("a", a, 512, 50)));
        CHECK(has(r.out, credit_row("b", b, 256, 0)));
        CHECK(t.hvctl("sched-credit -d a").out == credit_header() + credit_row("a", a, 512, 50));
        CHECK(t.hvctl("sched-credit -d " + b + " -c 30").status == 0); // a domid works too; weight kept
        CHECK(t.hvctl("sched-credit -d b").out == credit_header() + credit_row("b", b, 256, 30));

        r = t.hvctl("sched-credit -d a -w 0");
        CHECK(r.status == 1);
        CHECK(has(r.err, "hvctl: weight 0 is out of range (1..65535)"));
        r = t.hvctl("sched-credit -d a -w 70000");
        CHECK(r.status == 1);
        CHECK(has(r.err, "hvctl: weight 70000 is out of range (1..65535)"));
        r = t.hvctl("sched-credit -d a -w 99999999999");
        CHECK(r.status == 1);
        CHECK(has(r.err, "weight 99999999999 is out of range (1..65535)"));
        r = t.hvctl("sched-credit -d a -c 1000");
        CHECK(r.status == 1);
        CHECK(has(r.err, "hvctl: cap 1000 is out of range (0..100 = 100 x 1 vCPUs)"));
        CHECK(t.hvctl("sched-credit -d a").out == credit_header() + credit_row("a", a, 512, 50)); // unchanged

        // Usage and lookup errors.
        r = t.hvctl("sched-credit -d a -w x");
        CHECK(r.status == 1);
        CHECK(has(r.err, "-w: 'x' is not a number"));
        CHECK(has(r.err, "usage: hvctl sched-credit"));
        r = t.hvctl("sched-credit -w 5");
        CHECK(r.status == 1);
        CHECK(has(r.err, "-w and -c need -d DOMAIN"));
        r = t.hvctl("sched-credit -s -d a");
        CHECK(r.status == 1);
        CHECK(has(r.err, "cannot be combined"));
        r = t.hvctl("sched-credit -t 10");
        CHECK(r.status == 1);
        CHECK(has(r.err, "need -s"));
        r = t.hvctl("sched-credit -d nosuch");
        CHECK(r.status == 1);
        CHECK(has(r.err, "nosuch"));
        r = t.hvctl("sched-credit -p Pool-1");
        CHECK(r.status == 1);
        CHECK(has(r.err, "unknown cpupool 'Pool-1'"));
        CHECK(t.hvctl("sched-credit -p Pool-0").status == 0);
        r = t.hvctl("sched-credit -s -m 100");
        CHECK(r.status == 1);
        CHECK(has(r.err, "migration delay"));
    }

    SECTION("cpu_weight, cap and cpus from the config show in sched-credit and vcpu-list") {
        const std::string c = t.create("c", "stay", "cpu_weight = 300\ncap = 20\ncpus = '0'\n");
        r = t.hvctl("sched-credit");
        INFO(r.out << r.err);
        CHECK(has(r.out, credit_row("c", c, 300, 20)));
        r = t.hvctl("vcpu-list c");
        REQUIRE(r.status == 0);
        CHECK(r.out.rfind(kVcpuHeader, 0) == 0);
        const auto row = line_starting(r.out, vcpu_prefix("c", c, 0));
        REQUIRE(row);
        CHECK(affinity_of(*row) == (one_cpu ? "all / all" : "0 / all"));
    }

    SECTION("vcpu-list and vcpu-pin") {
        r = t.hvctl("vcpu-list");
        INFO(r.out << r.err);
        REQUIRE(r.status == 0);
        CHECK(r.out.rfind(kVcpuHeader, 0) == 0);
        for (const auto& [name, id] : {std::pair{"a", a}, std::pair{"b", b}}) {
            const auto row = line_starting(r.out, vcpu_prefix(name, id, 0));
            REQUIRE(row);
            CHECK(affinity_of(*row) == "all / all");
            // CPU, state ("-b-" blocked in `stay`, "r--" or "---" when it
            // is running or waiting) and the time, with xl's widths.
            const std::string rest = row->substr(vcpu_prefix(name, id, 0).size());
            CHECK(rest.size() > 21);
            const std::string state = rest.substr(8, 3);
            CHECK((state == "-b-" || state == "r--" || state == "---"));
        }
        const std::string two = t.hvctl("vcpu-list b a").out; // in the order given, as xl
        CHECK(two.find(vcpu_prefix("b", b, 0)) < two.find(vcpu_prefix("a", a, 0)));

        r = t.hvctl("vcpu-pin a 0 0");
        CHECK(r.status == 0);
        CHECK(r.err.empty());
        auto row = line_starting(t.hvctl("vcpu-list a").out, vcpu_prefix("a", a, 0));
        REQUIRE(row);
        CHECK(affinity_of(*row) == (one_cpu ? "all / all" : "0 / all"));
        CHECK(t.hvctl("vcpu-pin a all - 0").status == 0); // soft only; hard kept
        row = line_starting(t.hvctl("vcpu-list a").out, vcpu_prefix("a", a, 0));
        REQUIRE(row);
        CHECK(affinity_of(*row) == (one_cpu ? "all / all" : "0 / 0"));
        CHECK(t.hvctl("vcpu-pin a 0 all all").status == 0);
        row = line_starting(t.hvctl("vcpu-list a").out, vcpu_prefix("a", a, 0));
        REQUIRE(row);
        CHECK(affinity_of(*row) == "all / all");
        // "all" with an exclusion means the host's CPUs but that one.
        if (!one_cpu) {
            CHECK(t.hvctl("vcpu-pin a 0 all,^0").status == 0);
            row = line_starting(t.hvctl("vcpu-list a").out, vcpu_prefix("a", a, 0));
            REQUIRE(row);
            CHECK(affinity_of(*row) == hv::config::format_cpu_list(*host & ~uint64_t{1}) + " / all");
        }
        r = t.hvctl("vcpu-pin a 0 all,^0-63");
        CHECK(r.status == 1);
        CHECK(has(r.err, "hard affinity"));

        r = t.hvctl("vcpu-pin a 5 0");
        CHECK(r.status == 1);
        CHECK(has(r.err, "hvctl: vCPU 5 is out of range: domain " + a + " has vCPUs 0..0"));
        r = t.hvctl("vcpu-pin a 0 63");
        CHECK(r.status == 1);
        CHECK(has(r.err, "are not all host CPUs given to hv"));
        r = t.hvctl("vcpu-pin a 0 x");
        CHECK(r.status == 1);
        CHECK(has(r.err, "hvctl: hard affinity: 'x' is not a CPU number or range"));
        r = t.hvctl("vcpu-pin a 0 0 3-1");
        CHECK(r.status == 1);
        CHECK(has(r.err, "hvctl: soft affinity: '3-1': range goes backwards"));
        // Refused here, before any monitor is asked: no hvd at this socket.
        r = hvtest::hvctl(t.dir, "--connect unix://" + (t.dir.path() / "none.sock").string() + " vcpu-pin a 0 x");
        CHECK(r.status == 1);
        CHECK(has(r.err, "'x' is not a CPU number or range"));
        r = t.hvctl("vcpu-pin a x 0");
        CHECK(r.status == 1);
        CHECK(has(r.err, "'x' is not a vCPU number or 'all'"));
        r = t.hvctl("vcpu-pin a 0");
        CHECK(r.status == 1);
        CHECK(has(r.err, "usage: hvctl vcpu-pin"));
        r = t.hvctl("vcpu-list nosuch");
        CHECK(r.status == 1);
        CHECK(has(r.err, "nosuch"));
    }

    SECTION("sched-policy switches live between credit and rtds; sched-rtds; credit's host parameters") {
        const std::string s = t.create("s", "spin");
        auto conn = hv::sdk::Connection::open(t.hvd.uri());
        REQUIRE(conn);
        auto spin = conn->domain("s");
        auto da = conn->domain("a");
        REQUIRE(spin);
        REQUIRE(da);
        REQUIRE(wait_history(*da, "hello: 1 vcpus up"));

        r = t.hvctl("sched-policy rtds");
        INFO(r.out << r.err);
        REQUIRE(r.status == 0);
        CHECK(t.hvctl("sched-policy").out.rfind(fmt::format("{:<23}: rtds\n", "policy"), 0) == 0);
        r = t.hvctl("sched-rtds");
        REQUIRE(r.status == 0);
        CHECK(r.out == "Cpupool Pool-0: sched=RTDS\n" + rtds_header() + rtds_row("a", a, 10000, 4000, "no") +
                           rtds_row("b", b, 10000, 4000, "no") + rtds_row("s", s, 10000, 4000, "no"));
        // The domains still run: the spinning one is charged more time, the
        // blocked one still answers and is not crashed.
        auto before = spin->info();
        REQUIRE(before);
        CHECK(cpu_grows(*spin, before->cpu_seconds));
        auto ia = da->info();
        REQUIRE(ia);
        CHECK(ia->state != hv::sdk::State::crashed);
        CHECK(ia->state != hv::sdk::State::shutdown);

        r = t.hvctl("sched-rtds -d a -p 20000 -b 5000 -e 1");
        CHECK(r.status == 0);
        CHECK(t.hvctl("sched-rtds -d a").out == rtds_header() + rtds_row("a", a, 20000, 5000, "yes"));
        r = t.hvctl("sched-rtds -d a -b 50");
        CHECK(r.status == 1);
        CHECK(has(r.err, "hvctl: budget 50 us is out of range (100..20000 us)"));
        r = t.hvctl("sched-rtds -d a -p 50");
        CHECK(r.status == 1);
        CHECK(has(r.err, "hvctl: period 50 us is out of range (100..10000000 us)"));
        r = t.hvctl("sched-rtds -d a -e 2");
        CHECK(r.status == 1);
        CHECK(has(r.err, "extratime is 0 or 1"));
        r = t.hvctl("sched-rtds -d a -v all");
        CHECK(r.status == 1);
        CHECK(has(r.err, "per-vCPU"));

        // Credit's commands under rtds.
        r = t.hvctl("sched-credit -d a -w 5");
        CHECK(r.status == 1);
        CHECK(has(r.err, "hvctl: the host runs the rtds scheduler, not credit"));
        r = t.hvctl("sched-credit");
        CHECK(r.status == 1);
        CHECK(has(r.err, "the host runs the rtds scheduler, not credit"));
        r = t.hvctl("sched-credit -s -t 10");
        CHECK(r.status == 1);
        CHECK(has(r.err, "the host runs the rtds scheduler, not credit"));
        CHECK(t.hvctl("sched-policy").out.rfind(fmt::format("{:<23}: rtds\n", "policy"), 0) == 0); // not switched by it

        r = t.hvctl("sched-policy credit");
        REQUIRE(r.status == 0);
        r = t.hvctl("sched-credit");
        CHECK(r.status == 0);
        CHECK(has(r.out, credit_row("a", a, 256, 0)));
        CHECK(has(r.out, credit_row("s", s, 256, 0)));
        r = t.hvctl("sched-rtds");
        CHECK(r.status == 1);
        CHECK(has(r.err, "the host runs the credit scheduler, not rtds"));
        before = spin->info();
        REQUIRE(before);
        CHECK(cpu_grows(*spin, before->cpu_seconds));

        r = t.hvctl("sched-credit -s");
        CHECK(r.out == "Cpupool Pool-0: tslice=30ms ratelimit=1000us tick=10000us\n");
        CHECK(t.hvctl("sched-credit -s -t 10").status == 0);
        CHECK(t.hvctl("sched-credit -s").out == "Cpupool Pool-0: tslice=10ms ratelimit=1000us tick=10000us\n");
        CHECK(t.hvctl("sched-credit -s -r 0 -k 5000").status == 0);
        CHECK(t.hvctl("sched-credit -s").out == "Cpupool Pool-0: tslice=10ms ratelimit=0us tick=5000us\n");
        r = t.hvctl("sched-credit -s -t 0");
        CHECK(r.status == 1);
        CHECK(has(r.err, "hvctl: time slice 0 ms is out of range (1..1000 ms)"));
        r = t.hvctl("sched-credit -s -t 5000");
        CHECK(r.status == 1);
        CHECK(has(r.err, "hvctl: time slice 5000 ms is out of range (1..1000 ms)"));
        r = t.hvctl("sched-credit -s -r 50");
        CHECK(r.status == 1);
        CHECK(has(r.err, "hvctl: rate limit 50 us is out of range (100..10000 us)"));
        r = t.hvctl("sched-credit -s -k 0");
        CHECK(r.status == 1);
        CHECK(has(r.err, "tick 0 us is out of range"));
        CHECK(t.hvctl("sched-credit -s").out == "Cpupool Pool-0: tslice=10ms ratelimit=0us tick=5000us\n");

        r = t.hvctl("sched-policy fifo");
        CHECK(r.status == 1);
        CHECK(has(r.err, "'fifo' is not a scheduler: hv has credit and rtds"));
        ia = da->info();
        REQUIRE(ia);
        CHECK(ia->state != hv::sdk::State::crashed);
    }
}

TEST_CASE("hvctl's scheduler commands against hvd --sched none say there is no scheduler", "[kvm][hvctl][hvd][sched]") {
    SchedHvd t({"--log-level", "warn", "--sched", "none"});
    for (const char* cmd : {"sched-credit", "sched-credit -s", "sched-rtds", "sched-policy", "vcpu-list"}) {
        INFO(cmd);
        Run r = t.hvctl(cmd);
        CHECK(r.status == 1);
        CHECK(has(r.err, "hvctl: this monitor runs no vCPU scheduler"));
    }
}

TEST_CASE("hvctl's scheduler commands in embedded mode see this process's own, empty monitor", "[kvm][hvctl][sched]") {
    TempDir dir; // hvtest::hvctl runs with HV_CONNECT=embedded://
    Run r = hvctl(dir, "sched-credit");
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK(r.out == "Cpupool Pool-0: tslice=30ms ratelimit=1000us tick=10000us\n" + credit_header());
    CHECK(hvctl(dir, "sched-credit -s").out == "Cpupool Pool-0: tslice=30ms ratelimit=1000us tick=10000us\n");
    r = hvctl(dir, "sched-policy");
    CHECK(r.status == 0);
    CHECK(r.out.rfind(fmt::format("{:<23}: credit\n", "policy"), 0) == 0);
    r = hvctl(dir, "vcpu-list");
    CHECK(r.status == 0);
    CHECK(r.out == kVcpuHeader);
    r = hvctl(dir, "sched-rtds");
    CHECK(r.status == 1);
    CHECK(has(r.err, "the host runs the credit scheduler, not rtds"));
    // Settings would die with the process: refused, not silently lost.
    for (const char* cmd : {"sched-credit -s -t 10", "sched-policy rtds"}) {
        INFO(cmd);
        r = hvctl(dir, cmd);
        CHECK(r.status == 1);
        CHECK(has(r.err, "embedded://"));
    }
    r = hvctl(dir, "vcpu-pin x 0 0");
    CHECK(r.status == 1);
    CHECK(has(r.err, "'x'"));
    CHECK(has(hvctl(dir, "help").out, "vcpu-pin DOMAIN"));
}

namespace {

size_t count_of(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// Polls the domain's console history until `what` appears `times` times.
bool history_has(const hv::sdk::Domain& d, const std::string& what, size_t times = 1) {
    for (int i = 0; i < 2000; ++i) {
        if (auto h = d.console_history(); h && count_of(*h, what) >= times) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

bool online_becomes(const hv::sdk::Domain& d, uint32_t n) {
    for (int i = 0; i < 2000; ++i) {
        if (auto info = d.info(); info && info->vcpus_online == n) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

} // namespace

TEST_CASE("hvctl vcpu-set: the hello guest takes vCPUs down and brings them back within maxvcpus",
          "[kvm][hvctl][hvd][sched][hotplug]") {
    SchedHvd s;
    const std::string id = s.create("hot", "stay", "maxvcpus = 3\nvcpus = 2\non_crash = 'preserve'\n");
    auto conn = hv::sdk::Connection::open(s.hvd.uri());
    REQUIRE(conn);
    auto found = conn->domain(id);
    REQUIRE(found);
    const hv::sdk::Domain d = *found;
    // vcpus=2 of maxvcpus=3: the guest brings up two; the third waits.
    REQUIRE(history_has(d, "hello: 2 vcpus up"));
    CHECK(d.info()->vcpus == 3);
    CHECK(d.info()->vcpus_online == 2);
    Run r = s.hvctl("vcpu-list hot");
    REQUIRE(r.status == 0);
    auto third = line_starting(r.out, vcpu_prefix("hot", id, 2));
    REQUIRE(third);
    CHECK(has(*third, "--p")); // offline, as xl shows it

    // Up to maxvcpus: vCPU 2 starts (its banner) and counts.
    r = s.hvctl("vcpu-set hot 3");
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.empty());
    REQUIRE(history_has(d, "vcpu 2 of 3"));
    REQUIRE(online_becomes(d, 3));
    REQUIRE(history_has(d, "hello: vcpu target 3"));

    // Down to one: vCPUs 1 and 2 take themselves down.
    REQUIRE(s.hvctl("vcpu-set " + id + " 1").status == 0);
    REQUIRE(history_has(d, "hello: vcpu 1 going offline (target 1)"));
    REQUIRE(history_has(d, "hello: vcpu 2 going offline (target 1)"));
    REQUIRE(online_becomes(d, 1));
    r = s.hvctl("list hot");
    REQUIRE(r.status == 0);
    CHECK(has(r.out, fmt::format("{:<40} {:>5} {:>5} {:>5} ", "hot", id, 16, 1))); // VCPUs: 1

    // Back to two: vCPU 1 is started afresh (a second banner).
    REQUIRE(s.hvctl("vcpu-set hot 2").status == 0);
    const bool back = history_has(d, "vcpu 1 of 3", 2);
    const auto seen = d.console_history();
    INFO((seen ? *seen : seen.error().message));
    REQUIRE(back);
    REQUIRE(online_becomes(d, 2));

    // Out of range, and not a number: refused, nothing changes.
    r = s.hvctl("vcpu-set hot 4");
    CHECK(r.status == 1);
    CHECK(has(r.err, "4 vCPUs online: the range is 1..3"));
    r = s.hvctl("vcpu-set hot 0");
    CHECK(r.status == 1);
    CHECK(has(r.err, "the range is 1..3"));
    r = s.hvctl("vcpu-set hot two");
    CHECK(r.status == 1);
    CHECK(has(r.err, "'two' is not a number of vCPUs"));
    r = s.hvctl("vcpu-set nosuch 2");
    CHECK(r.status == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(d.info()->vcpus_online == 2);

    // The domain's events still reach vCPU 0: a clean shutdown.
    r = s.hvctl("shutdown -w hot");
    INFO(r.err);
    CHECK(r.status == 0);
}
