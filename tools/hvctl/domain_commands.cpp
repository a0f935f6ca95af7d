// hvctl's one-domain commands: pause, unpause, vcpu-set, destroy, rename,
// domid, domname, block-list, network-list, vif-rate. Each prints nothing on success unless it is asked a question.
#include <charconv>
#include <cstdio>
#include <string>

#include "config/vif_spec.hpp"

#include "cli_args.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace hvctl {

hv::Result<hv::sdk::Domain> find_domain(const Globals& g, const std::string& name_or_id) {
    auto conn = open_connection(g);
    if (!conn) return conn.error();
    return conn->domain(name_or_id);
}

namespace {

// CMD DOMAIN, carried out by op(domain).
template <class Op>
int one_domain(const Globals& g, const Args& args, const char* cmd, Op op) {
    const std::string usage = std::string(cmd) + " DOMAIN";
    const ParsedArgs p = parse_args(cmd, args, "", usage);
    if (p.done) return *p.done;
    if (!positional_count(p, cmd, usage, 1, 1)) return kExitError;
    auto dom = find_domain(g, p.positional[0]);
    if (!dom) return fail(dom.error());
    if (auto r = op(*dom); !r) return fail(r.error());
    return kExitOk;
}

} // namespace

// xl block-list (output.hpp has the columns).
int block_list_command(const Globals& g, const Args& args) {
    return one_domain(g, args, "block-list", [](const hv::sdk::Domain& d) -> hv::Result<void> {
        auto disks = d.block_list();
        if (!disks) return disks.error();
        std::fputs(block_list(d.id(), *disks).c_str(), stdout);
        return {};
    });
}

// xl network-list; -l adds hv's own columns (output.hpp has both).
int network_list_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "network-list [-l] DOMAIN";
    const ParsedArgs p = parse_args("network-list", args, "l", kUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "network-list", kUsage, 1, 1)) return kExitError;
    auto dom = find_domain(g, p.positional[0]);
    if (!dom) return fail(dom.error());
    auto vifs = dom->network_list();
    if (!vifs) return fail(vifs.error());
    std::fputs(network_list(dom->id(), *vifs, p.has('l')).c_str(), stdout);
    return kExitOk;
}

// vif-rate: a vif's transmit limit while the domain runs, in xl.cfg's
// rate= syntax (the config reader's parser, so both take the same text);
// "none" or "0" lifts it. The monitor checks the 100Gb/s ceiling.
int vif_rate_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "vif-rate DOMAIN DEVID RATE";
    const ParsedArgs p = parse_args("vif-rate", args, "", kUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "vif-rate", kUsage, 3, 3)) return kExitError;
    const std::string& d = p.positional[1];
    uint32_t devid = 0;
    const auto [ptr, ec] = std::from_chars(d.data(), d.data() + d.size(), devid);
    if (d.empty() || d.find_first_not_of("0123456789") != std::string::npos || ec != std::errc() || ptr != d.data() + d.size())
        return usage_error("vif-rate", kUsage, "'" + d + "' is not a devid (the vif's number in network-list's Idx)");
    const std::string& rate = p.positional[2];
    uint64_t bytes = 0;
    uint32_t interval_us = 0;
    if (rate != "none" && rate != "0") {
        std::string problem;
        if (!hv::config::parse_vif_rate(rate, bytes, interval_us, problem))
            return usage_error("vif-rate", kUsage, "rate '" + rate + "': " + problem);
        if (bytes == 0)
            return usage_error("vif-rate", kUsage, "rate '" + rate + "' is less than one byte per interval (none: no limit)");
    }
    auto dom = find_domain(g, p.positional[0]);
    if (!dom) return fail(dom.error());
    if (auto r = dom->set_vif_rate(devid, bytes, interval_us); !r) return fail(r.error());
    return kExitOk;
}

int pause_command(const Globals& g, const Args& args) {
    return one_domain(g, args, "pause", [](const hv::sdk::Domain& d) { return d.pause(); });
}

int unpause_command(const Globals& g, const Args& args) {
    return one_domain(g, args, "unpause", [](const hv::sdk::Domain& d) { return d.unpause(); });
}

// xl vcpu-set: the guest is told the new count and follows in its own time
// (`hvctl list` shows the vCPUs online); the monitor checks 1..maxvcpus.
int vcpu_set_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "vcpu-set DOMAIN VCPUS";
    const ParsedArgs p = parse_args("vcpu-set", args, "", kUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "vcpu-set", kUsage, 2, 2)) return kExitError;
    const std::string& v = p.positional[1];
    uint32_t n = 0;
    const char* end = v.data() + v.size();
    const auto [ptr, ec] = std::from_chars(v.data(), end, n);
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || ec != std::errc() || ptr != end)
        return usage_error("vcpu-set", kUsage, "'" + v + "' is not a number of vCPUs");
    auto dom = find_domain(g, p.positional[0]);
    if (!dom) return fail(dom.error());
    if (auto r = dom->set_vcpus(n); !r) return fail(r.error());
    return kExitOk;
}

int destroy_command(const Globals& g, const Args& args) {
    return one_domain(g, args, "destroy", [](const hv::sdk::Domain& d) { return d.destroy(); });
}

int rename_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "rename DOMAIN NEWNAME";
    const ParsedArgs p = parse_args("rename", args, "", kUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "rename", kUsage, 2, 2)) return kExitError;
    auto dom = find_domain(g, p.positional[0]);
    if (!dom) return fail(dom.error());
    if (auto r = dom->rename(p.positional[1]); !r) return fail(r.error());
    return kExitOk;
}

int domid_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "domid NAME";
    const ParsedArgs p = parse_args("domid", args, "", kUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "domid", kUsage, 1, 1)) return kExitError;
    auto dom = find_domain(g, p.positional[0]);
    if (!dom) return fail(dom.error());
    std::printf("%u\n", dom->id());
    return kExitOk;
}

int domname_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "domname ID";
    const ParsedArgs p = parse_args("domname", args, "", kUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "domname", kUsage, 1, 1)) return kExitError;
    const std::string& id = p.positional[0];
    uint32_t value = 0;
    const char* end = id.data() + id.size();
    if (id.empty() || std::from_chars(id.data(), end, value).ptr != end)
        return usage_error("domname", kUsage, "'" + id + "' is not a domain id");
    auto dom = find_domain(g, id);
    if (!dom) return fail(dom.error());
    auto info = dom->info();
    if (!info) return fail(info.error());
    std::printf("%s\n", info->name.c_str());
    return kExitOk;
}

} // namespace hvctl
