// hvctl info and hvctl dmesg: the host and the monitor.
#include <sys/utsname.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "cli_args.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace hvctl {

int info_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "info";
    const ParsedArgs p = parse_args("info", args, "", kUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "info", kUsage, 0, 0)) return kExitError;
    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    auto h = conn->host_info();
    if (!h) return fail(h.error());
    std::string out;
    auto line = [&out](std::string_view key, const std::string& value) { out += info_line(key, value) + "\n"; };
    // The control socket is local, so the host is this machine.
    if (struct utsname u {}; ::uname(&u) == 0) {
        line("host", u.nodename);
        line("release", u.release);
        line("version", u.version);
        line("machine", u.machine);
    }
    line("nr_cpus", std::to_string(h->nr_cpus));
    line("total_memory", std::to_string(h->total_mib));
    line("free_memory", std::to_string(h->free_mib));
    line("nr_domains", std::to_string(h->nr_domains));
    line("hv_abi_version", std::to_string(h->abi_version));
    line("hv_control_version", std::to_string(h->ctl_version));
    line("hv_connection", conn->uri());
    std::fputs(out.c_str(), stdout);
    return kExitOk;
}

int dmesg_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "dmesg";
    const ParsedArgs p = parse_args("dmesg", args, "c", kUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "dmesg", kUsage, 0, 0)) return kExitError;
    if (p.has('c')) return fail("'dmesg -c' is not supported yet: the monitor's log ring cannot be cleared");
    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    auto lines = conn->dmesg();
    if (!lines) return fail(lines.error());
    for (std::string_view l : *lines) {
        while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.remove_suffix(1);
        std::printf("%.*s\n", static_cast<int>(l.size()), l.data());
    }
    return kExitOk;
}

} // namespace hvctl
