// hvctl shutdown and reboot: ask guests to stop (xl semantics: a request
// the guest answers), optionally wait for them (-w) and destroy those that
// do not answer in time (-F).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli_args.hpp"
#include "commands.hpp"
#include "domain_watcher.hpp"

namespace hvctl {

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kDefaultTimeoutS = 60;

struct Target {
    hv::sdk::Domain dom;
    std::string name;
};

// Parses --timeout: seconds, decimal, > 0.
bool parse_timeout(const ParsedArgs& p, const char* cmd, const char* usage, uint32_t& ms) {
    ms = static_cast<uint32_t>(kDefaultTimeoutS * 1000);
    const auto v = p.value("timeout");
    if (!v) return true;
    char* end = nullptr;
    const double s = std::strtod(v->c_str(), &end);
    if (v->empty() || *end != '\0' || !(s > 0) || s > 4e6) {
        usage_error(cmd, usage, "--timeout wants a number of seconds, not '" + *v + "'");
        return false;
    }
    ms = static_cast<uint32_t>(std::lround(s * 1000));
    return true;
}

// Waits for one target until `deadline`; returns its exit status.
int wait_one(DomainWatcher& watcher, const Target& t, Clock::time_point deadline, bool force, uint32_t timeout_ms) {
    auto r = watcher.wait(t.dom, deadline);
    if (r) {
        const DomainWatcher::Stop& s = *r;
        if (s.reason)
            std::fprintf(stderr, "Domain %u has been shut down, reason code %u\n", t.dom.id(),
                         static_cast<unsigned>(*s.reason));
        else std::fprintf(stderr, "Domain %u has been destroyed.\n", t.dom.id());
        if (s.restarted_as != 0) std::fprintf(stderr, "Domain %u restarted as %u\n", t.dom.id(), s.restarted_as);
        if (s.crashed()) {
            std::fprintf(stderr, "hvctl: domain %u (%s) crashed\n", t.dom.id(), t.name.c_str());
            return kExitGuestCrashed;
        }
        return kExitOk;
    }
    if (r.error().code != hv::Errc::timed_out) return fail(r.error());
    const std::string after = fmt::format("{:g} s", timeout_ms / 1000.0);
    if (!force) return fail(fmt::format("domain {} ({}) did not shut down within {}", t.dom.id(), t.name, after));
    std::fprintf(stderr, "Domain %u (%s) did not shut down within %s; destroying it\n", t.dom.id(), t.name.c_str(),
                 after.c_str());
    if (auto d = t.dom.destroy(); !d && d.error().code != hv::Errc::not_found) return fail(d.error());
    return kExitOk;
}

int shutdown_or_reboot(const Globals& g, const Args& args, hv::sdk::ShutdownReason reason) {
    const bool reboot = reason == hv::sdk::ShutdownReason::reboot;
    const char* cmd = reboot ? "reboot" : "shutdown";
    const char* usage = reboot ? "reboot [-w] [-F] [--timeout S] (-a | DOMAIN)"
                               : "shutdown [-w] [-F] [--timeout S] (-a | DOMAIN)";
    const ParsedArgs p = parse_args(cmd, args, "awF", usage, {"timeout"});
    if (p.done) return *p.done;
    const bool all = p.has('a');
    if (!positional_count(p, cmd, usage, all ? 0 : 1, all ? 0 : 1)) return kExitError;
    uint32_t timeout_ms = 0;
    if (!parse_timeout(p, cmd, usage, timeout_ms)) return kExitError;
    const bool force = p.has('F');
    const bool wait = p.has('w') || force;

    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    std::vector<Target> targets;
    if (all) {
        auto list = conn->list();
        if (!list) return fail(list.error());
        for (const auto& d : *list) {
            using hv::sdk::State;
            if (d.state == State::shutdown || d.state == State::crashed || d.state == State::dying) continue;
            auto dom = conn->domain(std::to_string(d.domid));
            if (dom) targets.push_back({*dom, d.name});
        }
    } else {
        auto dom = conn->domain(p.positional[0]);
        if (!dom) return fail(dom.error());
        auto info = dom->info();
        if (!info) return fail(info.error());
        targets.push_back({*dom, info->name});
    }

    std::unique_ptr<DomainWatcher> watcher; // subscribed before any request goes out
    if (wait) {
        auto w = DomainWatcher::start(*conn);
        if (!w) return fail(w.error());
        watcher = std::move(*w);
    }
    int status = kExitOk;
    std::vector<Target> asked;
    for (const Target& t : targets) {
        std::fprintf(stderr, "%s domain %u\n", reboot ? "Rebooting" : "Shutting down", t.dom.id());
        if (auto r = t.dom.shutdown(hv::sdk::ShutdownRequest{reason, false, 0, false}); !r) status = fail(r.error());
        else asked.push_back(t);
    }
    if (!wait || asked.empty()) return status;

    std::fprintf(stderr, "Waiting for %zu domains\n", asked.size());
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    bool crashed = false;
    for (const Target& t : asked) {
        const int s = wait_one(*watcher, t, deadline, force, timeout_ms);
        if (s == kExitError) status = kExitError;
        crashed = crashed || s == kExitGuestCrashed;
    }
    return status == kExitOk && crashed ? kExitGuestCrashed : status;
}

} // namespace

int shutdown_command(const Globals& g, const Args& args) {
    return shutdown_or_reboot(g, args, hv::sdk::ShutdownReason::poweroff);
}

int reboot_command(const Globals& g, const Args& args) {
    return shutdown_or_reboot(g, args, hv::sdk::ShutdownReason::reboot);
}

} // namespace hvctl
