#include "output.hpp"

#include <cmath>

#include <fmt/format.h>

#include "config/cpu_list.hpp"

namespace hvctl {

using hv::sdk::DomainInfo;
using hv::sdk::State;

std::string state_column(State s) {
    std::string col = "------";
    switch (s) {
    case State::running: col[0] = 'r'; break;
    case State::blocked: col[1] = 'b'; break;
    case State::paused: col[2] = 'p'; break;
    case State::shutdown: col[3] = 's'; break;
    case State::crashed: col[4] = 'c'; break;
    case State::dying: col[5] = 'd'; break;
    }
    return col;
}

const char* state_name(State s) {
    switch (s) {
    case State::running: return "running";
    case State::blocked: return "blocked";
    case State::paused: return "paused";
    case State::shutdown: return "shutdown";
    case State::crashed: return "crashed";
    case State::dying: return "dying";
    }
    return "unknown";
}

std::string uuid_string(const hv::sdk::Uuid& u) {
    std::string out;
    for (size_t i = 0; i < u.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += fmt::format("{:02x}", u[i]);
    }
    return out;
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
            else out += c;
        }
    }
    return out + "\"";
}

std::string list_header() { return "Name                                        ID   Mem VCPUs      State   Time(s)"; }

std::string list_row(const DomainInfo& d) {
    return fmt::format("{:<40} {:>5} {:>5} {:>5}     {}  {:>8.1f}{}", d.name, d.domid, d.memory_mib, d.vcpus_online,
                       state_column(d.state), d.cpu_seconds, d.unresponsive ? "  (unresponsive)" : "");
}

std::string defined_row(const std::string& name) { return name; }

std::string list_json(const std::vector<DomainInfo>& domains, const std::vector<std::string>& defined) {
    std::string out = "[";
    for (size_t i = 0; i < domains.size(); ++i) {
        const DomainInfo& d = domains[i];
        out += i == 0 ? "\n" : ",\n";
        out += "    {\n";
        out += fmt::format("        \"domid\": {},\n", d.domid);
        out += fmt::format("        \"name\": {},\n", json_string(d.name));
        out += fmt::format("        \"uuid\": \"{}\",\n", uuid_string(d.uuid));
        out += fmt::format("        \"state\": \"{}\",\n", state_name(d.state));
        out += fmt::format("        \"vcpus\": {},\n", d.vcpus);
        out += fmt::format("        \"vcpus_online\": {},\n", d.vcpus_online);
        out += fmt::format("        \"memory_mib\": {},\n", d.memory_mib);
        out += fmt::format("        \"cpu_seconds\": {:.3f},\n", d.cpu_seconds);
        out += fmt::format("        \"uptime_seconds\": {:.3f},\n", d.uptime_seconds);
        out += fmt::format("        \"shutdown_reason\": {},\n",
                           d.shutdown_reason ? json_string(hv::sdk::reason_name(*d.shutdown_reason)) : "null");
        out += fmt::format("        \"unresponsive\": {}\n", d.unresponsive ? "true" : "false");
        out += "    }";
    }
    // Managed domains that are not running: a name and no domid.
    for (size_t i = 0; i < defined.size(); ++i) {
        out += domains.empty() && i == 0 ? "\n" : ",\n";
        out += fmt::format("    {{\n        \"domid\": null,\n        \"name\": {},\n        \"state\": \"defined\"\n    }}",
                           json_string(defined[i]));
    }
    return out + (domains.empty() && defined.empty() ? "]\n" : "\n]\n");
}

std::string uptime_string(double seconds, bool short_form) {
    auto t = static_cast<unsigned long>(seconds < 0 || std::isnan(seconds) ? 0 : seconds);
    const unsigned long day = t / 86400;
    t %= 86400;
    const unsigned long hour = t / 3600;
    t %= 3600;
    const unsigned long min = t / 60;
    const unsigned long sec = t % 60;
    const std::string days = day > 1 ? fmt::format("{} days, ", day) : day == 1 ? "1 day, " : "";
    if (short_form) return fmt::format("{}{:>2}:{:02}", days, hour, min);
    return fmt::format("{}{:>2}:{:02}:{:02}", days, hour, min, sec);
}

std::string uptime_header() { return fmt::format("{:<33} {:>4} {}", "Name", "ID", "Uptime"); }

std::string uptime_row(const DomainInfo& d) {
    return fmt::format("{:<33} {:>4} {}", d.name, d.domid, uptime_string(d.uptime_seconds, false));
}

std::string info_line(std::string_view key, std::string_view value) { return fmt::format("{:<23}: {}", key, value); }

std::string sched_credit_header() { return fmt::format("{:<33} {:>4} {:>6} {:>4}", "Name", "ID", "Weight", "Cap"); }

std::string sched_credit_row(const std::string& name, uint32_t domid, uint32_t weight, uint32_t cap) {
    return fmt::format("{:<33} {:>4} {:>6} {:>4}", name, domid, weight, cap);
}

namespace {

// Microseconds as whole milliseconds where they are ("30ms"), else with
// the fraction ("1.5ms").
std::string ms_text(uint32_t us) {
    if (us % 1000 == 0) return fmt::format("{}ms", us / 1000);
    std::string frac = fmt::format("{:03}", us % 1000);
    while (frac.back() == '0') frac.pop_back();
    return fmt::format("{}.{}ms", us / 1000, frac);
}

} // namespace

std::string credit_pool_line(const hv::sdk::SchedHost& h) {
    return fmt::format("Cpupool {}: tslice={} ratelimit={}us tick={}us", kPoolName, ms_text(h.tslice_us),
                       h.ratelimit_us.value_or(0), h.tick_us);
}

std::string sched_rtds_header() {
    return fmt::format("{:<33} {:>4} {:>9} {:>9} {:>10}", "Name", "ID", "Period", "Budget", "Extratime");
}

std::string sched_rtds_row(const std::string& name, uint32_t domid, uint32_t period_us, uint32_t budget_us,
                           bool extratime) {
    return fmt::format("{:<33} {:>4} {:>9} {:>9} {:>10}", name, domid, period_us, budget_us, extratime ? "yes" : "no");
}

std::string rtds_pool_line() { return fmt::format("Cpupool {}: sched=RTDS", kPoolName); }

std::string affinity_text(uint64_t mask, uint64_t host) {
    if (mask == 0 || mask == host) return "all";
    return hv::config::format_cpu_list(mask);
}

std::string vcpu_list_header() {
    return fmt::format("{:<32} {:>5} {:>5} {:>5} {:>5} {:>9} {}", "Name", "ID", "VCPU", "CPU", "State", "Time(s)",
                       "Affinity (Hard / Soft)");
}

std::string vcpu_list_row(const std::string& name, const hv::sdk::VcpuInfo& v, uint64_t host) {
    using hv::sdk::VcpuState;
    const std::string cpu = v.cpu && v.state != VcpuState::offline ? std::to_string(*v.cpu) : "-";
    const char* state = v.state == VcpuState::offline   ? "--p"
                        : v.state == VcpuState::running ? "r--"
                        : v.state == VcpuState::blocked ? "-b-"
                                                        : "---";
    return fmt::format("{:<32} {:>5} {:>5}{:>5} {:>5} {:>9.1f}  {} / {}", name, v.domid, v.vcpu, cpu, state,
                       static_cast<double>(v.runtime_ns) / 1e9, affinity_text(v.hard, host), affinity_text(v.soft, host));
}

std::string printable(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return out;
}

std::string block_list(uint32_t domid, const std::vector<hv::sdk::BlockInfo>& disks) {
    std::string out = fmt::format("{:<5} {:<3} {:<6} {:<5} {:<6} {:<8} {:<30} {:<6} {}\n", "Vdev", "BE", "handle", "state",
                                  "evt-ch", "ring-ref", "BE-path", "Guest", "Mode");
    for (const hv::sdk::BlockInfo& b : disks)
        out += fmt::format("{:<5} {:<3} {:<6} {:<5} {:<6} {:<8} {:<30} {:<6} {}\n", b.devid, 0, domid, b.connected ? 4 : 1, -1, -1,
                           printable(b.target), printable(b.guest), b.read_only ? "r" : "w");
    return out;
}

std::string vif_rate_text(uint64_t bytes, uint32_t interval_us) {
    if (bytes == 0 || interval_us == 0) return "none";
    const double mbit = static_cast<double>(bytes) * 8.0 / static_cast<double>(interval_us); // bits per us = Mb/s
    return fmt::format("{}B/{}us ({:g}Mb/s)", bytes, interval_us, mbit);
}

namespace {

// The -l lines under a vif's xl line.
std::string vif_details(const hv::sdk::VifInfo& v) {
    const std::string ips = v.ips.empty() ? "-" : printable(v.ips);
    return fmt::format("    tap {}  bridge {}  script {}  mtu {}  rate {}  ip {}\n"
                       "    rx {} frames {} bytes {} dropped  tx {} frames {} bytes {} dropped\n",
                       printable(v.tap), v.bridge.empty() ? "-" : printable(v.bridge), printable(v.script),
                       v.mtu == 0 ? 1500 : v.mtu, vif_rate_text(v.rate_bytes, v.rate_interval_us), ips, v.rx_frames,
                       v.rx_bytes, v.rx_dropped, v.tx_frames, v.tx_bytes, v.tx_dropped);
}

} // namespace

// xl's own formats: "%-3s %-2s %-17s %-6s %-5s %-6s %5s/%-5s %-30s" and
// "%-3d %-2d MAC%6d %5d %6d %5d/%-11d %-30s" (the last column unpadded,
// as block-list's).
std::string network_list(uint32_t domid, const std::vector<hv::sdk::VifInfo>& vifs, bool long_form) {
    std::string out = fmt::format("{:<3} {:<2} {:<17} {:<6} {:<5} {:<6} {:>5}/{:<5} {}\n", "Idx", "BE", "Mac Addr.", "handle",
                                  "state", "evt-ch", "tx-", "rx-ring-ref", "BE-path");
    for (const hv::sdk::VifInfo& v : vifs) {
        const auto& m = v.mac;
        out += fmt::format("{:<3} {:<2} {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}{:>6} {:>5} {:>6} {:>5}/{:<11} "
                           "/local/domain/0/backend/vif/{}/{}\n",
                           v.devid, 0, m[0], m[1], m[2], m[3], m[4], m[5], v.devid, v.connected ? 4 : 1, -1, -1, -1, domid,
                           v.devid);
        if (long_form) out += vif_details(v);
    }
    return out;
}

} // namespace hvctl
