// hvctl info and hvctl dmesg: the host and the monitor.
#include <cstdio>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "cli_args.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace hvctl {

namespace {

std::string or_unknown(uint32_t v) { return v == 0 ? "unknown" : std::to_string(v); }
std::string or_dash(uint32_t v) { return v == hv::sdk::HostInfo::kUnknown ? "-" : std::to_string(v); }
// A key that heads a table ("cpu_topology           :").
std::string section(std::string_view key) { return fmt::format("{:<23}:\n", key); }

// xl info -n's cpu_topology, device topology and numa_info sections.
std::string topology(const hv::sdk::HostInfo& h) {
    std::string out = section("cpu_topology") + "cpu:    core    socket     node\n";
    for (const auto& c : h.cpus)
        out += fmt::format("{:>3}:    {:>4}     {:>4}     {:>4}\n", c.cpu, or_dash(c.core), or_dash(c.socket), or_dash(c.node));
    // hv assigns no host devices to domains.
    out += section("device topology") + "device           node\n" + "No device topology data available\n";
    out += section("numa_info") + "node:    memsize    memfree    distances\n";
    for (const auto& n : h.nodes) {
        std::string distances;
        for (uint32_t d : n.distances) distances += (distances.empty() ? "" : ",") + (d == 0 ? std::string("-") : std::to_string(d));
        out += fmt::format("{:>4}:    {:>6}     {:>6}      {}\n", n.node, n.total_mib, n.free_mib, distances);
    }
    return out;
}

} // namespace

int info_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "info [-n]";
    const ParsedArgs p = parse_args("info", args, "n", kUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "info", kUsage, 0, 0)) return kExitError;
    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    auto h = conn->host_info();
    if (!h) return fail(h.error());
    std::string out;
    auto line = [&out](std::string_view key, const std::string& value) { out += info_line(key, value) + "\n"; };
    // All of it comes from the monitor: hvd's host, or this process's for
    // embedded://. xl info's order; xen_* keys are hv_* here.
    line("host", h->host);
    line("release", h->release);
    line("version", h->version);
    line("machine", h->machine);
    line("nr_cpus", std::to_string(h->nr_cpus));
    line("nr_nodes", or_unknown(h->nr_nodes));
    line("cores_per_socket", or_unknown(h->cores_per_socket));
    line("threads_per_core", or_unknown(h->threads_per_core));
    line("cpu_mhz", h->cpu_khz == 0 ? "unknown" : fmt::format("{}.{:03}", h->cpu_khz / 1000, h->cpu_khz % 1000));
    line("total_memory", std::to_string(h->total_mib));
    line("free_memory", std::to_string(h->free_mib));
    if (p.has('n')) out += topology(*h);
    line("hv_major", std::to_string(h->hv_major));
    line("hv_minor", std::to_string(h->hv_minor));
    line("hv_extra", h->hv_extra);
    line("hv_version", h->hv_version());
    line("hv_scheduler", h->scheduler == "none" ? "none (vCPUs are host threads; the host's Linux scheduler runs them)"
                                                : h->scheduler);
    line("hv_abi_version", std::to_string(h->abi_version));
    line("hv_control_version", std::to_string(h->ctl_version));
    line("nr_domains", std::to_string(h->nr_domains));
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
