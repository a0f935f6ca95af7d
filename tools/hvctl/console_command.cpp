// hvctl console, and the console attachment `create -c` uses with hvd:
// guest output (history first) to stdout, stdin to the guest, until
// Ctrl-] (0x1d), a signal, or the domain stops.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli_args.hpp"
#include "commands.hpp"
#include "domain_watcher.hpp"
#include "terminal.hpp"

namespace hvctl {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kUsage = "console [-t pv|serial] [-n NUM] DOMAIN";
constexpr int kTickMs = 100; // how often the domain's state is checked
// After the domain stops, output still in flight is shown until the
// stream has been quiet this long (at most kDrainMax).
constexpr auto kDrainQuiet = std::chrono::milliseconds(150);
constexpr auto kDrainMax = std::chrono::seconds(1);

std::atomic<int> g_signal{0};
void on_signal(int sig) { g_signal = sig; }

// Catches SIGINT/SIGTERM/SIGHUP for the life of the object (they detach,
// so the terminal is restored), ignores SIGPIPE; puts the old actions back.
class SignalGuard {
public:
    SignalGuard() {
        g_signal = 0;
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < 3; ++i) ::sigaction(kSignals[i], &sa, &saved_[i]);
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        ::sigaction(SIGPIPE, &ign, &saved_[3]);
    }
    ~SignalGuard() {
        for (size_t i = 0; i < 4; ++i) ::sigaction(kSignals[i], &saved_[i], nullptr);
    }
    SignalGuard(const SignalGuard&) = delete;
    SignalGuard& operator=(const SignalGuard&) = delete;

private:
    static constexpr int kSignals[4] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    struct sigaction saved_[4] {};
};

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

void write_stdout(std::string_view text) {
    while (!text.empty()) {
        const ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text.remove_prefix(static_cast<size_t>(n));
    }
}

enum class Input { open, closed, detached };

// Waits up to one tick for stdin and forwards what came, up to Ctrl-].
Input forward_input(const hv::sdk::Domain& dom, Input state, hv::sdk::ConsoleType type) {
    if (state != Input::open) {
        ::poll(nullptr, 0, kTickMs);
        return state;
    }
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (::poll(&p, 1, kTickMs) <= 0) return Input::open;
    char buf[1024];
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return Input::open;
    if (n <= 0) return Input::closed; // end of input: keep showing output
    std::string_view bytes(buf, static_cast<size_t>(n));
    const size_t key = bytes.find(kDetachKey);
    if (!bytes.substr(0, key).empty()) (void)dom.console_write(bytes.substr(0, key), type);
    return key == std::string_view::npos ? Input::open : Input::detached;
}

// A line on stderr that reads right in raw mode too.
void say(const std::optional<RawTerminal>& raw, const std::string& line) {
    if (raw && raw->active()) std::fprintf(stderr, "\r\n%s\r\n", line.c_str());
    else std::fprintf(stderr, "%s\n", line.c_str());
}

// The domain a restart chain starting at `id` has reached: a guest that
// reboots at once may have been restarted again before it is looked up.
hv::Result<std::optional<hv::sdk::Domain>> follow(const hv::sdk::Connection& conn, const DomainWatcher& watcher,
                                                  uint32_t id) {
    for (;;) {
        auto dom = conn.domain(std::to_string(id));
        if (dom) return std::optional<hv::sdk::Domain>(*dom);
        if (dom.error().code != hv::Errc::not_found) return dom.error();
        const auto stop = watcher.known(id);
        if (!stop || stop->restarted_as == 0) return std::optional<hv::sdk::Domain>();
        id = stop->restarted_as;
    }
}

} // namespace

int attach_console(const hv::sdk::Connection& conn, hv::sdk::Domain dom, bool follow_restarts, bool unpause,
                   hv::sdk::ConsoleType type) {
    SignalGuard signals;
    auto watcher = DomainWatcher::start(conn); // before anything can stop unseen
    if (!watcher) return fail(watcher.error());
    std::atomic<int64_t> last_output{now_ns()};
    auto subscribe = [&last_output, type](const hv::sdk::Domain& d) {
        return d.console(
            [&last_output](std::string_view text) {
                write_stdout(text);
                last_output = now_ns();
            },
            type);
    };
    auto sub = subscribe(dom);
    if (!sub) return fail(sub.error());
    if (unpause) {
        if (auto u = dom.unpause(); !u) return fail(u.error());
    }
    std::optional<RawTerminal> raw;
    raw.emplace();
    auto bail = [&raw](const hv::Error& e) { // the message on a restored terminal
        raw.reset();
        return fail(e);
    };
    Input input = Input::open;
    for (;;) {
        input = forward_input(dom, input, type);
        if (input == Input::detached || g_signal != 0) return kExitOk;
        auto stop = (*watcher)->check(dom);
        if (!stop) return bail(stop.error());
        if (!*stop) continue;
        // Stopped: show what is still on its way, then let go of it.
        const auto drain_end = Clock::now() + kDrainMax;
        const auto quiet = std::chrono::duration_cast<std::chrono::nanoseconds>(kDrainQuiet).count();
        while (Clock::now() < drain_end && now_ns() - last_output.load() < quiet) ::poll(nullptr, 0, 20);
        sub->reset();
        const DomainWatcher::Stop& s = **stop;
        if (follow_restarts && s.restarted_as != 0) {
            auto next = follow(conn, **watcher, s.restarted_as);
            if (!next) return bail(next.error());
            if (!*next) return kExitOk; // the chain of restarts ended with nothing left running
            say(raw, fmt::format("hvctl: domain {} restarted as {}", dom.id(), (*next)->id()));
            dom = **next;
            sub = subscribe(dom);
            if (!sub) return bail(sub.error());
            continue;
        }
        if (s.crashed()) {
            raw.reset();
            std::fprintf(stderr, "hvctl: domain %u crashed\n", dom.id());
            return kExitGuestCrashed;
        }
        return kExitOk;
    }
}

int console_command(const Globals& g, const Args& args) {
    const ParsedArgs p = parse_args("console", args, "t:n:", kUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "console", kUsage, 1, 1)) return kExitError;
    auto type = hv::sdk::ConsoleType::automatic;
    if (auto t = p.value("t")) {
        if (*t != "pv" && *t != "serial") return usage_error("console", kUsage, "unknown console type '" + *t + "' (pv or serial)");
        type = *t == "pv" ? hv::sdk::ConsoleType::pv : hv::sdk::ConsoleType::serial;
    }
    if (auto n = p.value("n"); n && *n != "0")
        return fail("domain consoles other than 0 do not exist: hv gives each domain one console");
    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    auto dom = conn->domain(p.positional[0]);
    if (!dom) return fail(dom.error());
    return attach_console(*conn, *dom, false, false, type);
}

} // namespace hvctl
