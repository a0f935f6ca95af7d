// hvctl create in embedded mode: the monitor runs in this process, which
// lives as long as the domain (and its restarts) does. Signals stand in for
// the commands no other process can send it: the first SIGINT/SIGTERM/SIGHUP
// asks for a poweroff, the next destroys; SIGUSR1 unpauses, SIGUSR2 pauses.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "terminal.hpp"
#include "config/domain_config_loader.hpp"
#include "monitor/monitor.hpp"

namespace hvctl {

namespace {

// How long a guest may take to answer a shutdown request before hvctl says
// it did not (it keeps waiting; the next signal destroys it).
constexpr auto kShutdownAnswerTimeout = std::chrono::seconds(30);

std::atomic<int> g_stop_signals{0};
std::atomic<int> g_pause_request{0}; // 1 unpause, 2 pause

struct Options {
    bool console = false;
    bool paused = false;
};

void on_signal(int sig) {
    if (sig == SIGUSR1) g_pause_request = 1;
    else if (sig == SIGUSR2) g_pause_request = 2;
    else ++g_stop_signals;
}

// Reads what is on stdin without blocking; false once stdin is closed or
// the user detached.
// create -c attaches the guest's own console, as xl create -c does.
constexpr hv::Domain::ConsoleKind kConsole = hv::Domain::ConsoleKind::automatic;

bool forward_input(hv::Monitor& m, uint32_t domid, bool& detached) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return true;
    char buf[256];
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return true; // a signal, not the end of input
    if (n <= 0) return false;
    std::string bytes(buf, static_cast<size_t>(n));
    if (const auto pos = bytes.find(kDetachKey); pos != std::string::npos) {
        bytes.resize(pos);
        detached = true;
    }
    if (!bytes.empty()) (void)m.console_input(domid, kConsole, bytes);
    return !detached;
}

int run_domain(hv::Monitor& m, uint32_t domid, const Options& o) {
    int console_id = -1;
    bool detached = false;
    bool stdin_open = o.console;
    auto attach = [&](uint32_t id) {
        auto sub = m.console_subscribe(
            id, kConsole,
            [](std::string_view text) {
                std::fwrite(text.data(), 1, text.size(), stdout);
                std::fflush(stdout);
            },
            true);
        console_id = sub ? *sub : -1;
    };
    std::optional<RawTerminal> raw;
    if (o.console) raw.emplace();
    if (o.console) attach(domid);

    int stop_signals_seen = 0;
    bool shutdown_pending = false; // asked, not answered, not yet reported
    auto shutdown_asked = std::chrono::steady_clock::now();
    for (;;) {
        auto r = m.wait_stopped(domid, std::chrono::milliseconds(50));
        if (r) {
            const hv::DomainInfo& info = *r;
            if (console_id >= 0) m.console_unsubscribe(domid, kConsole, console_id);
            console_id = -1;
            const bool crashed = info.shutdown_reason == hv::core::ShutdownReason::crash;
            if (info.restarted_as != 0) {
                std::fprintf(stderr, "hvctl: domain %u restarted as %u\n", domid, info.restarted_as);
                domid = info.restarted_as;
                if (o.console && !detached) attach(domid);
                continue;
            }
            const char* reason = info.shutdown_reason ? hv::core::reason_name(*info.shutdown_reason) : "destroyed";
            std::fprintf(stderr, "hvctl: domain %u (%s) %s: %s%s%s\n", info.domid, info.name.c_str(),
                         info.exists ? "stopped and preserved" : "is gone", reason, info.detail.empty() ? "" : ": ",
                         info.detail.c_str());
            return crashed ? kExitGuestCrashed : kExitOk;
        }
        if (r.error().code != hv::Errc::timed_out) {
            std::fprintf(stderr, "hvctl: %s\n", r.error().message.c_str());
            return kExitError;
        }
        if (const int req = g_pause_request.exchange(0); req != 0) (void)(req == 1 ? m.unpause(domid) : m.pause(domid));
        const int sigs = g_stop_signals.load();
        if (sigs > stop_signals_seen) {
            stop_signals_seen = sigs;
            if (sigs == 1) {
                std::fprintf(stderr, "\r\nhvctl: asking domain %u to power off (signal again to destroy)\r\n", domid);
                (void)m.shutdown(domid, hv::core::ShutdownReason::poweroff);
                shutdown_asked = std::chrono::steady_clock::now();
                shutdown_pending = true;
            } else {
                std::fprintf(stderr, "\r\nhvctl: destroying domain %u\r\n", domid);
                (void)m.destroy(domid);
            }
        }
        if (shutdown_pending && std::chrono::steady_clock::now() - shutdown_asked > kShutdownAnswerTimeout) {
            std::fprintf(stderr, "\r\nhvctl: domain %u did not answer the shutdown request within %lld s; "
                                 "signal again to destroy it\r\n",
                         domid, static_cast<long long>(kShutdownAnswerTimeout.count()));
            shutdown_pending = false;
        }
        if (stdin_open && !detached) {
            stdin_open = forward_input(m, domid, detached);
            if (detached) {
                if (console_id >= 0) m.console_unsubscribe(domid, kConsole, console_id);
                console_id = -1;
                raw.reset(); // the terminal is the user's again: Ctrl-C works
                std::fprintf(stderr, "\nhvctl: console detached; the domain keeps running in this process "
                                     "(Ctrl-C asks it to power off)\n");
            }
        }
    }
}

} // namespace

int create_embedded(const std::string& file, const std::vector<std::string>& overrides, bool console, bool paused) {
    const Options o{console, paused};
    auto cfg = hv::config::load_domain_config(file, overrides);
    if (!cfg) return fail(cfg.error());

    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2}) ::sigaction(sig, &sa, nullptr);
    // A closed stdout (hvctl create -c ... | head) must not kill the
    // process with the terminal left raw: writes just fail.
    ::signal(SIGPIPE, SIG_IGN);

    hv::Monitor::Options mo;
    if (const char* lvl = std::getenv("HV_LOG_LEVEL")) mo.log_level = lvl;
    auto monitor = hv::Monitor::open(mo);
    if (!monitor) return fail(monitor.error());
    auto domid = (*monitor)->create(*cfg, o.paused);
    if (!domid) return fail(domid.error());
    std::fprintf(stderr, "hvctl: domain %u (%s) created%s; embedded mode: it lives in this process\n", *domid,
                 cfg->name.c_str(), o.paused ? " paused (send SIGUSR1 to unpause)" : "");
    return run_domain(**monitor, *domid, o);
}

} // namespace hvctl
