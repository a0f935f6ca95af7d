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

struct Listed {
    std::vector<hv::sdk::DomainInfo> running;
    std::vector<std::string> defined; // managed domains that are not running
};

// The named domains (in the order given), or all of them by domid; with
// the managed domains that are not running (hvd only; an embedded
// monitor has none). A name that is only managed lists as such.
hv::Result<Listed> collect(const hv::sdk::Connection& conn, const std::vector<std::string>& names, bool with_defined) {
    Listed out;
    std::vector<std::string> managed;
    if (auto d = conn.list_defined()) managed = std::move(*d);
    const auto is_managed = [&](const std::string& n) { return std::find(managed.begin(), managed.end(), n) != managed.end(); };
    if (names.empty()) {
        auto all = conn.list();
        if (!all) return all.error();
        std::sort(all->begin(), all->end(), [](const auto& a, const auto& b) { return a.domid < b.domid; });
        out.running = std::move(*all);
        if (with_defined)
            for (const std::string& n : managed) {
                const bool running = std::any_of(out.running.begin(), out.running.end(), [&](const auto& d) { return d.name == n; });
                if (!running) out.defined.push_back(n);
            }
        return out;
    }
    for (const std::string& n : names) {
        auto dom = conn.domain(n);
        if (!dom) {
            if (dom.error().code == hv::Errc::not_found && is_managed(n)) {
                out.defined.push_back(n);
                continue;
            }
            return dom.error();
        }
        auto info = dom->info();
        if (!info) return info.error();
        out.running.push_back(std::move(*info));
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
    auto listed = collect(*conn, p.positional, true);
    if (!listed) return fail(listed.error());
    if (p.has('l')) {
        std::fputs(list_json(listed->running, listed->defined).c_str(), stdout);
        return kExitOk;
    }
    std::printf("%s\n", list_header().c_str());
    for (const auto& d : listed->running) std::printf("%s\n", list_row(d).c_str());
    for (const std::string& name : listed->defined) std::printf("%s\n", defined_row(name).c_str());
    return kExitOk;
}

int uptime_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "uptime [-s] [DOMAIN...]";
    const ParsedArgs p = parse_args("uptime", args, "s", kUsage);
    if (p.done) return *p.done;
    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    auto listed = collect(*conn, p.positional, false);
    if (!listed) return fail(listed.error());
    const auto& domains = listed->running;
    if (p.has('s')) { // xl uptime -s: " HH:MM:SS up UPTIME, NAME (ID)"
        const std::time_t now = std::time(nullptr);
        char clock[16] = "";
        std::tm tm{};
        if (::localtime_r(&now, &tm) != nullptr) std::strftime(clock, sizeof clock, "%H:%M:%S", &tm);
        for (const auto& d : domains)
            std::printf(" %s up %s, %s (%u)\n", clock, uptime_string(d.uptime_seconds, true).c_str(), d.name.c_str(),
                        d.domid);
        return kExitOk;
    }
    std::printf("%s\n", uptime_header().c_str());
    for (const auto& d : domains) std::printf("%s\n", uptime_row(d).c_str());
    return kExitOk;
}

} // namespace hvctl
