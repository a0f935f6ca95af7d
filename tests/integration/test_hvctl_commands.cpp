// hvctl's xl commands against a real hvd (env HVD): list, pause, unpause,
// shutdown -w, reboot -w, destroy, rename, domid, domname, uptime, info,
// console, and create through the daemon.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>

#include <hv/abi/control.h>
#include <hv/sdk/connection.hpp>

#include "hvctl_runner.hpp"
#include "hvd_harness.hpp"

using namespace hvtest;

namespace {

// hvd in the foreground on a socket and state folder of its own; at the
// end every domain is destroyed (they would outlive hvd) and hvd gets
// SIGTERM.
class Hvd {
public:
    Hvd() {
        socket_ = (dir_.path() / "hvd.sock").string();
        const std::string state = (dir_.path() / "state").string();
        const std::string log = (dir_.path() / "hvd.log").string();
        const std::string bin = env_path("HVD");
        pid_ = spawn_logged({bin, "--socket", socket_, "--state-dir", state, "--log-level", "warn"}, log);
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!hv::sdk::Connection::open(uri()) && std::chrono::steady_clock::now() < end)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (!hv::sdk::Connection::open(uri())) FAIL("hvd did not come up: " + slurp(log));
    }
    ~Hvd() {
        if (auto c = hv::sdk::Connection::open(uri())) {
            if (auto l = c->list())
                for (const auto& d : *l) (void)c->backend().destroy(d.domid);
        }
        stop_process(pid_, SIGTERM, std::chrono::seconds(10));
    }
    Hvd(const Hvd&) = delete;
    Hvd& operator=(const Hvd&) = delete;

    std::string uri() const { return "unix://" + socket_; }
    const TempDir& dir() const { return dir_; }
    // hvctl --connect <this hvd> ARGS
    Run hvctl(const std::string& args) const { return hvtest::hvctl(dir_, "--connect " + uri() + " " + args); }
    std::string cfg(const std::string& name, const std::string& extra, const std::string& keys = "") const {
        return dir_.write(name + ".cfg", fmt::format("name = '{}'\nkernel = '{}'\nmemory = 16\nvcpus = 1\nextra = '{}'\n{}",
                                                     name, hello_guest(), extra, keys));
    }

private:
    TempDir dir_;
    std::string socket_;
    pid_t pid_ = -1;
};

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

} // namespace

TEST_CASE("hvctl list, domid, domname, rename, pause, unpause, uptime, info, destroy through hvd", "[kvm][hvctl][hvd]") {
    Hvd hvd;
    Run r = hvd.hvctl("create " + hvd.cfg("hello", "stay"));
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.empty());
    CHECK(has(r.err, "Parsing config from"));

    r = hvd.hvctl("domid hello");
    REQUIRE(r.status == 0);
    const std::string id = r.out.substr(0, r.out.find('\n'));
    CHECK(hvd.hvctl("domname " + id).out == "hello\n");

    r = hvd.hvctl("list");
    CHECK(r.status == 0);
    CHECK(r.out.rfind("Name                                        ID   Mem VCPUs      State   Time(s)\n", 0) == 0);
    CHECK(has(r.out, fmt::format("{:<40} {:>5}    16     1     ", "hello", id)));
    r = hvd.hvctl("list -l hello");
    CHECK(r.status == 0);
    CHECK(r.out.rfind("[", 0) == 0);
    CHECK(has(r.out, "\"name\": \"hello\""));
    CHECK(has(r.out, "\"domid\": " + id));
    CHECK(has(r.out, "\"memory_mib\": 16"));
    CHECK(has(r.out, "\"shutdown_reason\": null"));

    CHECK(hvd.hvctl("pause hello").status == 0);
    CHECK(has(hvd.hvctl("list hello").out, "--p---"));
    CHECK(hvd.hvctl("unpause " + id).status == 0);
    CHECK_FALSE(has(hvd.hvctl("list hello").out, "--p---"));

    CHECK(hvd.hvctl("rename hello world").status == 0);
    CHECK(hvd.hvctl("domid world").out == id + "\n");
    r = hvd.hvctl("domid hello");
    CHECK(r.status == 1);
    CHECK(has(r.err, "hvctl: "));
    CHECK(has(r.err, "hello"));

    r = hvd.hvctl("uptime world");
    CHECK(r.status == 0);
    CHECK(r.out.rfind(fmt::format("{:<33} {:>4} Uptime\n", "Name", "ID"), 0) == 0); // xl's "%-33s %4s %s"
    CHECK(has(r.out, "world"));
    r = hvd.hvctl("info");
    CHECK(r.status == 0);
    CHECK(has(r.out, "nr_cpus                : "));
    CHECK(has(r.out, "nr_domains             : 1\n"));
    CHECK(has(r.out, "hv_abi_version         : 1\n"));

    r = hvd.hvctl("pause nosuch");
    CHECK(r.status == 1);
    CHECK(has(r.err, "nosuch"));
    r = hvd.hvctl("domname world");
    CHECK(r.status == 1);
    CHECK(has(r.err, "not a domain id"));
    r = hvd.hvctl("sched-credit2");
    CHECK(r.status == 1);
    CHECK(has(r.err, "not supported yet"));

    CHECK(hvd.hvctl("destroy world").status == 0);
    r = hvd.hvctl("list");
    CHECK(r.status == 0);
    CHECK_FALSE(has(r.out, "world"));
}

namespace {

// The value of `key` in xl info style output ("key    : value"); nullopt if absent.
std::optional<std::string> info_value(const std::string& out, const std::string& key) {
    const std::string text = "\n" + out, head = fmt::format("\n{:<23}: ", key);
    const size_t at = text.find(head);
    if (at == std::string::npos) return std::nullopt;
    const size_t from = at + head.size();
    return text.substr(from, text.find('\n', from) - from);
}

std::string first_line_of(const std::string& cmd) {
    std::string out;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
        char buf[256];
        while (std::fgets(buf, sizeof buf, f) != nullptr) out += buf;
        ::pclose(f);
    }
    return out.substr(0, out.find('\n'));
}

} // namespace

TEST_CASE("hvctl --version and hvctl version name hv's version and ABIs as hvd --version does", "[hvctl][version]") {
    TempDir dir;
    Run r = hvctl(dir, "--version");
    CHECK(r.status == 0);
    CHECK(r.err.empty());
    const std::string hvd_line = first_line_of("'" + env_path("HVD") + "' --version");
    REQUIRE(hvd_line.rfind("hvd ", 0) == 0);
    CHECK(r.out == "hvctl " + hvd_line.substr(4) + "\n");
    CHECK(has(r.out, fmt::format("(guest ABI {}, control ABI {})", HV_ABI_VERSION, HV_CTL_VERSION)));
    Run v = hvctl(dir, "version");
    CHECK(v.status == 0);
    CHECK(v.out == r.out);
    CHECK(hvctl(dir, "version extra").status == 1);
    CHECK(has(hvctl(dir, "help").out, "--version"));
}

TEST_CASE("hvctl info prints xl info's keys with hvd's host figures; info -n adds the topology", "[kvm][hvctl][hvd][info]") {
    Hvd hvd;
    REQUIRE(hvd.hvctl("create " + hvd.cfg("one", "stay")).status == 0);
    Run r = hvd.hvctl("info");
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    const char* keys[] = {"host", "release", "version", "machine", "nr_cpus", "nr_nodes", "cores_per_socket",
                          "threads_per_core", "cpu_mhz", "total_memory", "free_memory", "hv_major", "hv_minor",
                          "hv_extra", "hv_version", "hv_scheduler", "hv_abi_version", "hv_control_version",
                          "nr_domains", "hv_connection"};
    size_t last = 0;
    for (const char* k : keys) {
        INFO(k);
        const size_t at = r.out.find(fmt::format("{:<23}: ", k));
        CHECK(at != std::string::npos);
        CHECK(at >= last); // in xl info's order
        if (at != std::string::npos) last = at;
    }
    // hvd's host is this machine: the figures must be its.
    struct utsname u {};
    REQUIRE(::uname(&u) == 0);
    CHECK(info_value(r.out, "host") == std::string(u.nodename));
    CHECK(info_value(r.out, "release") == std::string(u.release));
    CHECK(info_value(r.out, "machine") == std::string(u.machine));
    CHECK(info_value(r.out, "nr_cpus") == std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)));
    CHECK(info_value(r.out, "nr_domains") == "1");
    CHECK(info_value(r.out, "hv_abi_version") == std::to_string(HV_ABI_VERSION));
    CHECK(info_value(r.out, "hv_control_version") == std::to_string(HV_CTL_VERSION));
    CHECK(has(info_value(r.out, "hv_scheduler").value_or(""), "credit")); // hvd's default
    const std::string hvd_version = first_line_of("'" + env_path("HVD") + "' --version");
    const auto v = info_value(r.out, "hv_version");
    REQUIRE(v);
    CHECK(hvd_version.rfind("hvd " + *v + " (", 0) == 0);
    CHECK(*v == *info_value(r.out, "hv_major") + "." + *info_value(r.out, "hv_minor") + *info_value(r.out, "hv_extra"));
    const std::string mhz = info_value(r.out, "cpu_mhz").value_or("");
    CHECK((mhz == "unknown" || mhz.find('.') != std::string::npos));
    CHECK_FALSE(has(r.out, "cpu_topology"));

    Run n = hvd.hvctl("info -n");
    INFO(n.out);
    REQUIRE(n.status == 0);
    CHECK(has(n.out, "cpu_topology           :\ncpu:    core    socket     node\n"));
    CHECK(has(n.out, "numa_info              :\nnode:    memsize    memfree    distances\n"));
    CHECK(n.out.find("numa_info") < n.out.find("hv_major"));
    CHECK(n.out.find("free_memory") < n.out.find("cpu_topology"));
    // One row per online CPU, one per node.
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    const size_t topo = n.out.find("cpu:    core"), numa = n.out.find("device topology");
    const std::string cpu_rows = n.out.substr(topo, numa - topo);
    CHECK(static_cast<long>(std::count(cpu_rows.begin(), cpu_rows.end(), '\n')) == cpus + 1);
    CHECK(has(cpu_rows, "\n  0:"));
    const size_t node_head = n.out.find("node:    memsize");
    const std::string node_rows = n.out.substr(node_head, n.out.find("hv_major") - node_head);
    CHECK(std::to_string(std::count(node_rows.begin(), node_rows.end(), '\n') - 1) == *info_value(n.out, "nr_nodes"));
    CHECK(has(node_rows, "\n   0:"));

    CHECK(hvd.hvctl("info -x").status == 1);
    CHECK(hvd.hvctl("info extra").status == 1);
}

TEST_CASE("hvctl shutdown -w and reboot -w wait for the guest; -F destroys one that does not answer", "[kvm][hvctl][hvd]") {
    Hvd hvd;
    REQUIRE(hvd.hvctl("create " + hvd.cfg("a", "stay")).status == 0);
    Run r = hvd.hvctl("shutdown -w a");
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(has(r.err, "has been shut down, reason code 0"));
    CHECK_FALSE(has(hvd.hvctl("list").out, "a  "));

    REQUIRE(hvd.hvctl("create " + hvd.cfg("b", "stay", "on_reboot = 'restart'\n")).status == 0);
    const std::string old_id = hvd.hvctl("domid b").out;
    r = hvd.hvctl("reboot -w b");
    CHECK(r.status == 0);
    CHECK(has(r.err, "reason code 1"));
    CHECK(has(r.err, "restarted as"));
    r = hvd.hvctl("domid b");
    CHECK(r.status == 0);
    CHECK(r.out != old_id);

    REQUIRE(hvd.hvctl("create " + hvd.cfg("deaf", "stay ignore-shutdown")).status == 0);
    r = hvd.hvctl("shutdown -w --timeout 1 deaf");
    CHECK(r.status == 1);
    CHECK(has(r.err, "did not shut down within 1 s"));
    r = hvd.hvctl("shutdown -F --timeout 1 deaf");
    CHECK(r.status == 0);
    CHECK(has(r.err, "destroying it"));
    CHECK(hvd.hvctl("domid deaf").status == 1);

    // -a: every running domain.
    REQUIRE(hvd.hvctl("create " + hvd.cfg("c", "stay")).status == 0);
    r = hvd.hvctl("shutdown -a -w");
    CHECK(r.status == 0);
    CHECK(has(r.err, "Waiting for 2 domains"));
    CHECK(hvd.hvctl("list").out == "Name                                        ID   Mem VCPUs      State   Time(s)\n");
}

TEST_CASE("hvctl console streams a domain's console until it goes away; crashes exit 2", "[kvm][hvctl][hvd]") {
    Hvd hvd;
    REQUIRE(hvd.hvctl("create -p " + hvd.cfg("con", "stay")).status == 0);
    Run console;
    std::thread attached([&] { console = hvd.hvctl("console con"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(hvd.hvctl("unpause con").status == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(hvd.hvctl("shutdown -w con").status == 0);
    attached.join();
    INFO(console.err);
    CHECK(console.status == 0);
    CHECK(has(console.out, "hello from domain"));
    CHECK(has(console.out, "hello: shutdown requested: poweroff"));

    // create -c through hvd: the whole console, then the exit status.
    Run r = hvd.hvctl("create -c " + hvd.cfg("p", "poweroff"));
    CHECK(r.status == 0);
    CHECK(has(r.out, "hello: serial 16550 up"));
    CHECK(has(r.out, "hello: shutting down: poweroff"));
    r = hvd.hvctl("create -c " + hvd.cfg("crasher", "crash"));
    CHECK(r.status == 2);
    CHECK(has(r.out, "hello: shutting down: crash"));
    CHECK(has(r.err, "crashed"));

    // A crashed domain kept (on_crash = preserve): list shows it, console
    // replays its history and exits 2.
    REQUIRE(hvd.hvctl("create " + hvd.cfg("kept", "crash", "on_crash = 'preserve'\n")).status == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(has(hvd.hvctl("list kept").out, "----c-"));
    r = hvd.hvctl("console kept");
    CHECK(r.status == 2);
    CHECK(has(r.out, "hello: shutting down: crash"));
}
