// hvctl: hv's xl-compatible command line. This release runs the monitor
// in-process (embedded mode); the commands that need a long-lived monitor
// (hvd) say so instead of pretending.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "commands.hpp"

namespace {

constexpr const char* kUsage = R"(usage: hvctl <command> [args]

commands:
  create [-c] [-p] [-n] FILE [KEY=VALUE...]
        create a domain from an xl.cfg(5) file and run it in this process
        (embedded mode) until it is gone.
          -c  attach the console (Ctrl-] detaches)
          -p  create it paused (SIGUSR1 unpauses, SIGUSR2 pauses)
          -n  dry run: check the config and print it resolved, as JSON
        KEY=VALUE pairs override keys of FILE, as with xl.
  help  this text

exit status: 0 ok, 1 error, 2 the guest crashed.
)";

// xl's other commands; they need a monitor that outlives one hvctl run.
constexpr const char* kNeedDaemon[] = {
    "list", "console", "pause", "unpause", "shutdown", "reboot", "destroy", "rename", "domid", "domname",
    "uptime", "info", "dmesg", "new", "start", "delete", "sched-credit", "vcpu-pin", "vcpu-set", "vcpu-list",
    "mem-set", "mem-max", "block-attach", "block-detach", "network-attach", "network-detach", "save", "restore", "migrate",
};

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fputs(kUsage, stderr);
        return hvctl::kExitError;
    }
    const std::string cmd = argv[1];
    const std::vector<std::string> args(argv + 2, argv + argc);
    if (cmd == "create") return hvctl::create_command(args);
    if (cmd == "help" || cmd == "-h" || cmd == "--help") {
        std::fputs(kUsage, stdout);
        return hvctl::kExitOk;
    }
    for (const char* c : kNeedDaemon) {
        if (cmd == c) {
            std::fprintf(stderr,
                         "hvctl: '%s' is not supported yet: it needs the hvd daemon, which this release does not have; "
                         "embedded mode offers 'create' only\n",
                         c);
            return hvctl::kExitError;
        }
    }
    std::fprintf(stderr, "hvctl: unknown command '%s' (try 'hvctl help')\n", cmd.c_str());
    return hvctl::kExitError;
}
