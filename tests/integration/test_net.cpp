// Networking end to end on KVM (issue 9): the ring-3 netecho guest
// (tests/guests/netecho) on a Linux bridge, and frame_peer (tests/net) on
// the far side of a veth pair, as the nested tier's net-tests does, but
// with nothing made in the root network namespace. Each test case makes
// two namespaces named after the test's pid: the domain's (the bridge, the
// veth end that is its port, the TAPs) and the peer's (the other veth
// end). hvctl and hvd are started in the domain's with `ip netns exec`, so
// hv makes its TAPs there, as it would in the root namespace of a host;
// frames never leave the two namespaces, and deleting them at the end
// (RAII, also when a check fails) takes everything with them.
//
// They need root, /dev/net/tun, iproute2's `ip` and the kernel's bridge and
// veth support; without one of these a test case warns why and passes
// (the binary as a whole already skips without /dev/kvm).
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "hv/sdk/connection.hpp"
#include "hvctl_runner.hpp"
#include "hvd_harness.hpp"

using namespace hvtest;
using hv::sdk::Connection;

namespace {

constexpr const char* kMac = "00:16:3e:4e:45:54";
// Not xenbr0, hv's default bridge=: a TAP on this one proves bridge= read.
constexpr const char* kBridge = "hvtestbr0";
constexpr const char* kPeerIf = "p0";   // in the peer's namespace
constexpr const char* kPortIf = "vpeer"; // its other end, a port of kBridge

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// iproute2's ip: HV_TEST_IP, or `ip` on PATH. A path helps where the shell
// prefers its own applets to PATH (busybox's ip has no netns: the nested
// tier's outer VM, tests/nested/kvm-integration).
std::string ip_binary() {
    const char* v = std::getenv("HV_TEST_IP");
    return v != nullptr && *v != 0 ? v : "ip";
}

// `ip ARGS` through the shell.
Run ip(const TempDir& tmp, const std::string& args) { return run_shell(tmp, fmt::format("'{}' {}", ip_binary(), args)); }

// A named network namespace (`ip netns add`), deleted with the object.
class Netns {
public:
    Netns(const TempDir& tmp, std::string name) : tmp_(tmp), name_(std::move(name)) {
        const Run r = ip(tmp_, "netns add " + name_);
        made_ = r.status == 0;
        error_ = r.err;
    }
    ~Netns() {
        if (made_) ip(tmp_, "netns del " + name_);
    }
    Netns(const Netns&) = delete;
    Netns& operator=(const Netns&) = delete;

    bool made() const { return made_; }
    const std::string& error() const { return error_; }
    const std::string& name() const { return name_; }

private:
    const TempDir& tmp_;
    std::string name_, error_;
    bool made_ = false;
};

// The two namespaces, the bridge and the veth pair. skip() says why they
// could not be made on this host (empty once they are).
class NetLab {
public:
    NetLab() {
        if (::geteuid() != 0) {
            skip_ = "not root (network namespaces, bridges and TAPs need it)";
            return;
        }
        if (::access("/dev/net/tun", R_OK | W_OK) != 0) {
            skip_ = "no /dev/net/tun (the tun module)";
            return;
        }
        if (const Run r = ip(tmp_, "netns list"); r.status != 0) {
            skip_ = "no iproute2 ip with netns (HV_TEST_IP names one): " + r.err;
            return;
        }
        dom_.emplace(tmp_, fmt::format("hvtest-net-{}", ::getpid()));
        if (!dom_->made()) {
            skip_ = "ip netns add: " + dom_->error();
            return;
        }
        peer_.emplace(tmp_, fmt::format("hvtest-peer-{}", ::getpid()));
        if (!peer_->made()) {
            skip_ = "ip netns add: " + peer_->error();
            return;
        }
        if (const Run r = ip(tmp_, fmt::format("-n {} link add {} type bridge", dom(), kBridge)); r.status != 0) {
            skip_ = "no bridge support: " + r.err;
            return;
        }
        if (const Run r = ip(tmp_, fmt::format("-n {} link add {} type veth peer name {} netns {}", dom(), kPortIf, kPeerIf, peer()));
            r.status != 0) {
            skip_ = "no veth support: " + r.err;
            return;
        }
        // Made, so from here a failure is the test's.
        for (const std::string& cmd :
             {fmt::format("-n {} link set {} master {}", dom(), kPortIf, kBridge), fmt::format("-n {} link set {} up", dom(), kPortIf),
              fmt::format("-n {} link set {} up", dom(), kBridge), fmt::format("-n {} link set lo up", dom()),
              fmt::format("-n {} link set {} up", peer(), kPeerIf), fmt::format("-n {} link set lo up", peer())}) {
            const Run r = ip(tmp_, cmd);
            INFO("ip " << cmd << ": " << r.err);
            REQUIRE(r.status == 0);
        }
    }

    const std::string& skip() const { return skip_; }
    const TempDir& tmp() const { return tmp_; }
    const std::string& dom() const { return dom_->name(); }
    const std::string& peer() const { return peer_->name(); }

    // What starts a program in the domain's namespace (spawn_logged execs
    // it; ip then execs the program, keeping the pid).
    std::vector<std::string> in_dom() const { return {ip_binary(), "netns", "exec", dom()}; }

    // frame_peer ARGS on the peer's veth end; waits for it.
    Run peer_run(const std::string& args) const {
        return ip(tmp_, fmt::format("netns exec {} '{}' {} {}", peer(), env_path("FRAME_PEER"), kPeerIf, args));
    }
    std::vector<std::string> peer_argv(const std::vector<std::string>& args) const {
        std::vector<std::string> argv{ip_binary(), "netns", "exec", peer(), env_path("FRAME_PEER"), kPeerIf};
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
    }

    // The interfaces in the domain's namespace whose name starts `prefix`
    // (its /sys/class/net, which `ip netns exec` mounts for it).
    std::vector<std::string> links(const std::string& dir, const std::string& prefix) const {
        const Run r = ip(tmp_, fmt::format("netns exec {} ls {}", dom(), dir));
        std::vector<std::string> out;
        std::istringstream in(r.out);
        for (std::string name; in >> name;)
            if (name.rfind(prefix, 0) == 0) out.push_back(name);
        return out;
    }
    std::vector<std::string> vifs() const { return links("/sys/class/net", "vif"); }
    std::vector<std::string> bridge_ports() const { return links(fmt::format("/sys/class/net/{}/brif", kBridge), ""); }
    bool exists(const std::string& ifname) const {
        return ip(tmp_, fmt::format("netns exec {} test -e /sys/class/net/{}", dom(), ifname)).status == 0;
    }
    // The bridge an interface is a port of (/sys/class/net/IF/master), or
    // "" when none.
    std::string master(const std::string& ifname) const {
        const Run r = ip(tmp_, fmt::format("netns exec {} readlink /sys/class/net/{}/master", dom(), ifname));
        const std::string link = r.out.substr(0, r.out.find('\n'));
        return r.status == 0 ? link.substr(link.rfind('/') + 1) : "";
    }

private:
    // Declared first: the namespaces' destructors still run `ip` in it.
    TempDir tmp_;
    std::optional<Netns> dom_, peer_;
    std::string skip_;
};

// The netecho guest's config: 32 MiB (its rings sit at 4 MiB), one vif
// with kMac on kBridge and `more` vif keys.
std::string netecho_config(const std::string& name, const std::string& more) {
    return fmt::format("name = '{}'\nkernel = '{}'\nmemory = 32\nvif = [ 'mac={},bridge={}{}' ]\nextra = 'console=ttyS0'\n"
                       "on_poweroff = 'destroy'\n",
                       name, env_path("HV_NETECHO_GUEST"), kMac, kBridge, more);
}

hv::sdk::CreateRequest netecho_request(const std::string& name, const std::string& more) {
    hv::sdk::CreateRequest r;
    r.config_text = netecho_config(name, more);
    r.source = "/test/" + name + ".cfg";
    return r;
}

const std::string kUp = std::string("netecho: mac ") + kMac;

} // namespace

TEST_CASE("netecho on a bridge in a namespace of its own: mac= and bridge= honoured, frames to a peer and back, the TAP goes with the domain",
          "[kvm][net]") {
    NetLab lab;
    if (!lab.skip().empty()) {
        WARN("skipped: " << lab.skip());
        return;
    }
    const std::string cfg = lab.tmp().write("netecho.cfg", netecho_config("netecho", ""));

    // The guest says hello once, as it comes up: the peer listens first.
    ChildProcess hello(lab.peer_argv({"hello", kMac, "60"}), (lab.tmp().path() / "hello.log").string());
    REQUIRE(eventually([&] { return has(slurp(hello.log()), "hello: listening"); }));
    // Embedded mode: the domain lives in this hvctl, in the domain's
    // namespace; its console comes out on hvctl's stdout.
    std::vector<std::string> argv = lab.in_dom();
    for (const std::string& a : {env_path("HVCTL"), std::string("--connect"), std::string("embedded://"), std::string("create"),
                                 std::string("-c"), cfg})
        argv.push_back(a);
    ChildProcess hvctl(argv, (lab.tmp().path() / "hvctl.log").string());
    // The guest's whole "netecho: mac ..." line (the console may come in
    // pieces).
    std::string mac_line;
    const bool up = eventually(
        [&] {
            const std::string con = slurp(hvctl.log());
            const size_t at = con.find("netecho: mac"), end = con.find('\n', at);
            if (at != std::string::npos && end != std::string::npos) mac_line = con.substr(at, end - at);
            return !mac_line.empty();
        },
        3000);
    INFO("hvctl: " << slurp(hvctl.log()));
    REQUIRE(up);

    // mac=: the guest reads it from its device, and the peer sees the
    // guest's hello come from it.
    CHECK(mac_line == kUp);
    CHECK(hello.wait(std::chrono::seconds(60)) == 0);
    INFO("frame_peer hello: " << slurp(hello.log()));
    CHECK(has(slurp(hello.log()), fmt::format("hello: from {}", kMac)));

    // bridge=: the TAP vif<domid>.0 is a port of that bridge while the
    // domain runs.
    const std::vector<std::string> vifs = lab.vifs();
    REQUIRE(vifs.size() == 1);
    CHECK(vifs[0].rfind(".0") == vifs[0].size() - 2);
    CHECK(lab.master(vifs[0]) == kBridge);

    // 50 frames of 60..1514 bytes to the guest and back, byte for byte.
    const Run ping = lab.peer_run(fmt::format("ping {} 50 10", kMac));
    INFO("frame_peer ping: " << ping.out << ping.err);
    CHECK(ping.status == 0);
    CHECK(has(ping.out, "50 pongs"));

    // The guest powers off when told; the domain, and with it the TAP and
    // its bridge port, are gone.
    REQUIRE(lab.peer_run(fmt::format("off {}", kMac)).status == 0);
    CHECK(hvctl.wait(std::chrono::seconds(30)) == 0);
    CHECK(has(slurp(hvctl.log()), "netecho: off"));
    CHECK(eventually([&] { return lab.vifs().empty(); }));
    CHECK(lab.bridge_ports() == std::vector<std::string>{kPortIf});
}

TEST_CASE("under hvd in a namespace of its own: rate= slows the guest's frames, and its TAP goes with destroy and with kill -9 of its process",
          "[kvm][net][hvd]") {
    NetLab lab;
    if (!lab.skip().empty()) {
        WARN("skipped: " << lab.skip());
        return;
    }
    // No credit scheduler, as in the nested tier: the guest polls its rings
    // and this test is about its frames, not about sharing the CPUs.
    HvdProcess hvd({"--sched", "none", "--log-level", "warn"}, lab.in_dom());
    auto conn = Connection::open(hvd.uri());
    REQUIRE(conn);

    // rate=1Mb/s: 300 full frames (454200 bytes, 3.6 Mbit) cannot take less
    // than about 3 s, the bucket's first burst aside. A lower bound only:
    // how much longer they take is the machine's business.
    {
        auto d = conn->create(netecho_request("rate", ",rate=1Mb/s"));
        REQUIRE(d);
        REQUIRE(wait_history(*d, kUp));
        const std::string tap = fmt::format("vif{}.0", d->id());
        CHECK(lab.master(tap) == kBridge);
        const Run blast = lab.peer_run(fmt::format("blast {} 300 60", kMac));
        INFO("frame_peer blast: " << blast.out << blast.err);
        REQUIRE(blast.status == 0);
        unsigned long long frames = 0, bytes = 0;
        double seconds = 0;
        REQUIRE(std::sscanf(blast.out.c_str(), "frames=%llu bytes=%llu seconds=%lf", &frames, &bytes, &seconds) == 3);
        CHECK(frames == 300);
        CHECK(bytes == 300 * 1514);
        CHECK(seconds >= 3.0);
        REQUIRE(d->destroy());
        CHECK(eventually([&] { return !lab.exists(tap); }));
    }

    // kill -9 of the domain's process: the kernel closes its TAP, which
    // leaves the bridge and goes; hvd sees the process die and forgets the
    // domain.
    auto d = conn->create(netecho_request("victim", ""));
    REQUIRE(d);
    REQUIRE(wait_history(*d, kUp));
    const std::string tap = fmt::format("vif{}.0", d->id());
    CHECK(lab.master(tap) == kBridge);
    const std::vector<pid_t> procs = hvd.domain_processes();
    REQUIRE(procs.size() == 1);
    REQUIRE(::kill(procs[0], SIGKILL) == 0);
    CHECK(eventually([&] { return !lab.exists(tap); }));
    CHECK(lab.bridge_ports() == std::vector<std::string>{kPortIf});
    CHECK(eventually([&] { return conn->list() && conn->list()->empty(); }));
}
