// hvctl: hv's xl-compatible command line. Global options, the command
// table and the usage text; each command lives in its own file.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <hv/abi/common.h>
#include <hv/abi/control.h>

#include "commands.hpp"

namespace hvctl {

namespace {

constexpr const char* kUsage = R"(usage: hvctl [--connect URI] <command> [args]
       hvctl --version

  --connect URI   the monitor to talk to: unix:///PATH (hvd's socket) or
                  embedded:// (a monitor in this process; for `create`, the
                  domain then lives in that process). Default: $HV_CONNECT,
                  else unix:///run/hv/hvd.sock.
  --version       hvctl's version and the ABI versions it speaks

domains:
  create [-c] [-p] [-n] FILE [KEY=VALUE...]
                        create a domain from an xl.cfg(5) file
                          -c attach the console, -p paused, -n dry run (JSON)
  list [-l] [DOMAIN...] list domains (-l: JSON)
  pause DOMAIN          pause
  unpause DOMAIN        unpause
  shutdown [-w] [-F] [--timeout S] (-a | DOMAIN)
                        ask a domain (-a: all) to power off; -w wait until
                        stopped, -F destroy it if not stopped by the timeout
  reboot [-w] [-F] [--timeout S] DOMAIN
                        ask a domain to reboot
  destroy DOMAIN        stop a domain at once
  rename DOMAIN NEWNAME rename
  domid NAME            print a domain's id
  domname ID            print a domain's name
  uptime [-s] [DOMAIN...]
                        how long domains have run
  console DOMAIN        attach to a domain's console (Ctrl-] detaches)
managed domains (hvd keeps their configs):
  new FILE [KEY=VALUE...]
                        store a config under its name
  start [-c] NAME       create the domain from the stored config
  delete NAME           forget a stored config
scheduler (hvd's host scheduler; embedded: this process's own):
  sched-credit [-d DOMAIN [-w WEIGHT] [-c CAP]]
                        credit weights (1-65535) and caps (% of a CPU, 0 none)
  sched-credit -s [-t TSLICE_MS] [-r RATELIMIT_US] [-k TICK_US]
                        credit's time slice, rate limit and tick
  sched-rtds [-d DOMAIN [-p PERIOD_US] [-b BUDGET_US] [-e 0|1]]
                        rtds periods, budgets and extratime
  sched-policy [credit|rtds]
                        the running scheduler and host CPUs, or switch live
  vcpu-list [DOMAIN...] vCPUs: host CPU, state, time, affinity
  vcpu-pin DOMAIN VCPU|all HARD|-|all [SOFT|-|all]
                        set hard (and soft) affinity to CPU lists
  vcpu-set DOMAIN VCPUS ask the guest to have VCPUS vCPUs online
devices:
  block-list DOMAIN     its disks: Xen's device number, image, guest name, mode
  network-list [-l] DOMAIN
                        its vifs: devid, MAC, state (-l: tap, bridge, rate, counts)
  vif-rate DOMAIN DEVID RATE
                        set a vif's transmit limit (xl.cfg rate=: 10Mb/s,
                          1MB/s@20ms; none or 0 for no limit)
  block-attach [--persist] DOMAIN DISK-SPEC...
                        hot-add a disk (an xl disk= spec; components are
                          joined with ',')
  block-detach [-f] [-t SECONDS] [--persist] DOMAIN VDEV|DEVID
                        hot-remove a disk once the guest lets it go (-t:
                          wait at most, 1-600 s, default 10; -f: at once,
                          without the guest's consent)
  network-attach [--persist] DOMAIN [VIF-SPEC...]
                        hot-add a vif (an xl vif= spec; none: every default)
  network-detach [-f] [-t SECONDS] [--persist] DOMAIN DEVID|MAC
                        hot-remove a vif, as block-detach
  block-limits DOMAIN VDEV|DEVID [rate=RATE] [iops=N[@INTERVAL]]
                        set a disk's limits (the disk spec's rate= and
                          iops=; 0 or none, or a key not given: no limit)
                        --persist (attach, detach): a managed domain's
                          stored config changes too
host:
  info [-n]             host and monitor figures (-n: CPU and NUMA topology)
  dmesg                 the monitor's log
  version               as --version
  help                  this text

DOMAIN is a name or a numeric id. `hvctl COMMAND -h` shows one command's
synopsis. Exit status: 0 ok, 1 error, 2 the guest crashed (create -c,
console, shutdown -w, reboot -w).
)";

using Command = int (*)(const Globals&, const Args&);

struct Entry {
    const char* name;
    Command fn;
};

constexpr Entry kCommands[] = {
    {"create", create_command},   {"list", list_command},       {"pause", pause_command},
    {"unpause", unpause_command}, {"destroy", destroy_command}, {"rename", rename_command},
    {"domid", domid_command},     {"domname", domname_command}, {"uptime", uptime_command},
    {"shutdown", shutdown_command}, {"reboot", reboot_command}, {"console", console_command},
    {"info", info_command},       {"dmesg", dmesg_command},     {"new", new_command},
    {"start", start_command},     {"delete", delete_command},   {"sched-credit", sched_credit_command},
    {"sched-rtds", sched_rtds_command}, {"sched-policy", sched_policy_command},
    {"vcpu-list", vcpu_list_command}, {"vcpu-pin", vcpu_pin_command}, {"vcpu-set", vcpu_set_command},
    {"block-list", block_list_command}, {"network-list", network_list_command}, {"vif-rate", vif_rate_command},
    {"block-attach", block_attach_command}, {"block-detach", block_detach_command},
    {"network-attach", network_attach_command}, {"network-detach", network_detach_command},
    {"block-limits", block_limits_command},
};

// xl commands hv does not carry out yet.
constexpr const char* kNotYet[] = {
    "sched-credit2", "mem-set", "mem-max", "save", "restore", "migrate", "suspend", "resume",
};

} // namespace

std::string connection_uri(const Globals& g) {
    return g.connect.empty() ? hv::sdk::Connection::default_uri() : g.connect;
}

bool is_embedded_uri(const std::string& uri) { return uri == "embedded://" || uri == "embedded:"; }

hv::Result<hv::sdk::Connection> open_connection(const Globals& g) { return hv::sdk::Connection::open(connection_uri(g)); }

int fail(const std::string& message) {
    std::fprintf(stderr, "hvctl: %s\n", message.c_str());
    return kExitError;
}

int fail(const hv::Error& e) { return fail(e.message); }

namespace {

// What hvd --version prints, for hvctl.
std::string version_line() {
    return std::string("hvctl ") + HV_VERSION + " (guest ABI " + std::to_string(HV_ABI_VERSION) + ", control ABI " +
           std::to_string(HV_CTL_VERSION) + ")\n";
}

} // namespace

} // namespace hvctl

int main(int argc, char** argv) {
    using namespace hvctl;
    Globals g;
    if (const char* env = std::getenv("HV_CONNECT"); env != nullptr && *env != '\0') g.connect_given = true;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; ++i) {
        const std::string_view a = argv[i];
        if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            return kExitOk;
        }
        if (a == "--version") {
            std::fputs(version_line().c_str(), stdout);
            return kExitOk;
        }
        if (a == "--connect") g.connect = i + 1 < argc ? argv[++i] : "";
        else if (a.rfind("--connect=", 0) == 0) g.connect = std::string(a.substr(10));
        else {
            std::fprintf(stderr, "hvctl: unknown global option '%s' (try 'hvctl help')\n", argv[i]);
            return kExitError;
        }
        if (g.connect.empty()) return fail("--connect needs a URI (unix:///PATH or embedded://)");
        g.connect_given = true;
    }
    if (i >= argc) {
        std::fputs(kUsage, stderr);
        return kExitError;
    }
    const std::string cmd = argv[i];
    const Args args(argv + i + 1, argv + argc);
    if (cmd == "help") {
        std::fputs(kUsage, stdout);
        return kExitOk;
    }
    if (cmd == "version") {
        if (!args.empty()) return fail("version takes no arguments");
        std::fputs(version_line().c_str(), stdout);
        return kExitOk;
    }
    for (const Entry& e : kCommands)
        if (cmd == e.name) return e.fn(g, args);
    for (const char* c : kNotYet)
        if (cmd == c) return fail("'" + cmd + "' is not supported yet");
    std::fprintf(stderr, "hvctl: unknown command '%s' (try 'hvctl help')\n", cmd.c_str());
    return kExitError;
}
