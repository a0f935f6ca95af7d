// hvctl list and hvctl uptime: xl's tables, or JSON with list -l.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "cli_args.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace hvctl {

namespace {

// The named domains (in the order given), or all of them by domid.
hv::Result<std::vector<hv::sdk::DomainInfo>> collect(const hv::sdk::Connection& conn,
                                                     const std::vector<std::string>& names) {
    if (names.empty()) {
        auto all = conn.list();
        if (!all) return all.error();
        std::sort(all->begin(), all->end(), [](const auto& a, const auto& b) { return a.domid < b.domid; });
        return all;
    }
    std::vector<hv::sdk::DomainInfo> out;
    for (const std::string& n : names) {
        auto dom = conn.domain(n);
        if (!dom) return dom.error();
        auto info = dom->info();
        if (!info) return info.error();
        out.push_back(std::move(*info));
    }
    return out;
}

} // namespace

int list_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "list [-l] [DOMAIN...]";
    const ParsedArgs p = parse_args("list", args, "l", kUsage);
    if (p.done) return *p.done;
    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    auto domains = collect(*conn, p.positional);
    if (!domains) return fail(domains.error());
    if (p.has('l')) {
        std::fputs(list_json(*domains).c_str(), stdout);
        return kExitOk;
    }
    std::printf("%s\n", list_header().c_str());
    for (const auto& d : *domains) std::printf("%s\n", list_row(d).c_str());
    if (!p.positional.empty()) return kExitOk;
    // Managed domains (hvctl new) that are not running: name only, as xl
    // shows them. A backend without managed domains has none to show.
    if (auto defined = conn->backend().list_defined()) {
        for (const std::string& name : *defined) {
            bool running = false;
            for (const auto& d : *domains) running = running || d.name == name;
            if (!running) std::printf("%s\n", defined_row(name).c_str());
        }
    }
    return kExitOk;
}

int uptime_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "uptime [-s] [DOMAIN...]";
    const ParsedArgs p = parse_args("uptime", args, "s", kUsage);
    if (p.done) return *p.done;
    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    auto domains = collect(*conn, p.positional);
    if (!domains) return fail(domains.error());
    if (p.has('s')) { // xl uptime -s: " HH:MM:SS up UPTIME, NAME (ID)"
        const std::time_t now = std::time(nullptr);
        char clock[16] = "";
        std::tm tm{};
        if (::localtime_r(&now, &tm) != nullptr) std::strftime(clock, sizeof clock, "%H:%M:%S", &tm);
        for (const auto& d : *domains)
            std::printf(" %s up %s, %s (%u)\n", clock, uptime_string(d.uptime_seconds, true).c_str(), d.name.c_str(),
                        d.domid);
        return kExitOk;
    }
    std::printf("%s\n", uptime_header().c_str());
    for (const auto& d : *domains) std::printf("%s\n", uptime_row(d).c_str());
    return kExitOk;
}

} // namespace hvctl
