// cloud_agent: the skeleton of a host agent on the hv SDK.
//   cloud_agent [URI] [--report-interval S] [--run-for S] CONFIG...
// Creates the domains, prints a JSON line per domain event and a report per
// domain every S seconds (default 5), and creates a crashed domain again
// after a back-off (1 s, 2 s, 4 s ... 30 s; 1 s again once a run lasted
// 60 s): give the configs on_crash = "destroy" or "preserve". Runs until
// --run-for passes or SIGINT/SIGTERM, then destroys what it created.
// URI: embedded:// or unix:///path (default $HV_CONNECT, else hvd's socket).
// Lines ("t": seconds since the agent started):
//   {"event":"shutdown","domid":1,"name":"web","reason":"crash","t":0.050}
//   {"action":"restart","name":"web","delay_s":1,"t":0.051}
//   {"report":{"name":"web","domid":2,"state":"running",...},"t":5.000}
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <hv/sdk/connection.hpp>

namespace asio = boost::asio;
namespace sdk = hv::sdk;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr std::chrono::seconds kFirstBackoff = 1s, kMaxBackoff = 30s, kStableRun = 60s;
const Clock::time_point g_start = Clock::now();

// One JSON object on one line, fields in the order added.
class Json {
public:
    Json& str(const char* key, std::string_view v) { return raw(key, quote(v)); }
    Json& num(const char* key, uint64_t v) { return raw(key, std::to_string(v)); }
    Json& num(const char* key, double v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3f", v);
        return raw(key, buf);
    }
    Json& raw(const char* key, const std::string& json) {
        body_ += (body_.empty() ? "" : ",") + quote(key) + ":" + json;
        return *this;
    }
    std::string text() const { return "{" + body_ + "}"; }
    void print() { // stamped with the time since the agent started
        num("t", std::chrono::duration<double>(Clock::now() - g_start).count());
        std::printf("%s\n", text().c_str());
        std::fflush(stdout);
    }

private:
    static std::string quote(std::string_view s) {
        std::string out = "\"";
        for (const char c : s) {
            char esc[8] = {c, '\0'};
            if (static_cast<unsigned char>(c) < 0x20) std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(c));
            out += (c == '"' || c == '\\' ? "\\" : "") + std::string(esc);
        }
        return out + "\"";
    }
    std::string body_;
};

// xl's state letters, spelled out.
const char* state_name(sdk::State s) {
    const char* names[] = {"running", "blocked", "paused", "shutdown", "crashed", "dying"};
    return names[std::string_view("rbpscd").find(static_cast<char>(s))];
}

void print_error(const std::string& what, const hv::Error& e) { Json().str("error", e.message).str("during", what).print(); }

// A domain the agent keeps running.
struct Managed {
    Managed(asio::io_context& io, std::string cfg) : config(cfg), name(std::move(cfg)), restart_timer(io) {}
    std::string config;
    std::string name;                  // the config's path until the monitor tells the name
    std::optional<sdk::Domain> domain; // empty while none runs
    Clock::time_point started;
    std::chrono::seconds backoff = kFirstBackoff;
    uint64_t restarts = 0;
    asio::steady_timer restart_timer;
};

class Agent {
public:
    Agent(asio::io_context& io, sdk::Connection conn, const std::vector<std::string>& configs, Clock::duration every)
        : io_(io), conn_(std::move(conn)), report_every_(every), report_timer_(io) {
        for (const auto& c : configs) managed_.emplace_back(io, c);
    }

    // Subscribes before creating anything, so that no event is missed.
    // Events arrive on an SDK thread; they are handled on the io_context's.
    hv::Result<void> start() {
        auto sub = conn_.subscribe_events([this](const sdk::Event& e) { asio::post(io_, [this, e] { on_event(e); }); });
        if (!sub) return sub.error();
        events_ = std::move(*sub);
        for (auto& m : managed_)
            if (auto r = create(m); !r) return r;
        schedule_report();
        return {};
    }

    void stop() { // stops listening, destroys what still runs
        events_.reset();
        for (auto& m : managed_) {
            if (!m.domain) continue;
            auto r = m.domain->destroy(); // not_found: it went away meanwhile
            if (!r && r.error().code != hv::Errc::not_found) print_error("destroy " + m.name, r.error());
            Json().str("action", "destroy").num("domid", uint64_t{m.domain->id()}).str("name", m.name).print();
            m.domain.reset();
        }
    }

private:
    hv::Result<void> create(Managed& m) {
        auto d = conn_.create_from_file(m.config);
        if (!d) return d.error(); // its message names the file
        m.domain = *d;
        m.started = Clock::now();
        return {};
    }

    void on_event(const sdk::Event& e) {
        Json line;
        line.str("event", sdk::event_name(e.kind)).num("domid", uint64_t{e.domid}).str("name", e.name);
        if (e.reason) line.str("reason", sdk::reason_name(*e.reason));
        if (e.new_domid != 0) line.num("new_domid", uint64_t{e.new_domid});
        line.print();
        auto m = std::find_if(managed_.begin(), managed_.end(), [&](auto& x) { return x.domain && x.domain->id() == e.domid; });
        if (m == managed_.end()) return; // not one of ours that runs
        if (e.kind == sdk::Event::Kind::created) m->name = e.name;
        if (e.kind == sdk::Event::Kind::shutdown && e.reason == sdk::ShutdownReason::crash) crashed(*m);
        if (e.kind == sdk::Event::Kind::destroyed) m->domain.reset();
    }

    // Clears the crashed domain away and creates it again after the back-off.
    void crashed(Managed& m) {
        if (m.domain && Clock::now() - m.started >= kStableRun) m.backoff = kFirstBackoff;
        if (m.domain) (void)m.domain->destroy(); // on_crash = "preserve" kept it
        m.domain.reset();
        Json().str("action", "restart").str("name", m.name).num("delay_s", static_cast<uint64_t>(m.backoff.count())).print();
        m.restart_timer.expires_after(m.backoff);
        m.restart_timer.async_wait([this, &m](boost::system::error_code ec) {
            if (ec) return; // cancelled
            ++m.restarts;
            if (auto r = create(m); !r) {
                print_error("restart " + m.name, r.error());
                crashed(m); // try again, backing off further
            }
        });
        m.backoff = std::min(m.backoff * 2, kMaxBackoff);
    }

    void schedule_report() {
        report_timer_.expires_after(report_every_);
        report_timer_.async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            for (const auto& m : managed_) report(m);
            schedule_report();
        });
    }

    void report(const Managed& m) {
        Json r = Json().str("name", m.name);
        if (!m.domain) {
            r.str("state", m.restart_timer.expiry() > Clock::now() ? "restarting" : "stopped");
        } else if (auto i = m.domain->info()) {
            r.num("domid", uint64_t{i->domid}).str("state", state_name(i->state)).num("memory_mib", i->memory_mib);
            r.num("vcpus", uint64_t{i->vcpus_online}).num("cpu_s", i->cpu_seconds).num("uptime_s", i->uptime_seconds);
        } else {
            r.str("error", i.error().message);
        }
        Json().raw("report", r.num("restarts", m.restarts).text()).print();
    }

    asio::io_context& io_;
    sdk::Connection conn_;
    Clock::duration report_every_;
    asio::steady_timer report_timer_;
    std::deque<Managed> managed_; // never resized after the constructor: timers hold references
    std::unique_ptr<sdk::Subscription> events_;
};

struct Options {
    std::string uri;
    Clock::duration report_every = 5s;
    std::optional<Clock::duration> run_for;
    std::vector<std::string> configs;
};

std::optional<Options> parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if ((a == "--report-interval" || a == "--run-for") && i + 1 < argc) {
            char* end = nullptr;
            const double s = std::strtod(argv[++i], &end);
            if (*end != '\0' || !(s > 0)) return std::nullopt;
            const auto d = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
            if (a == "--run-for") o.run_for = d;
            else o.report_every = d;
        } else if (a[0] == '-') {
            return std::nullopt;
        } else if (o.uri.empty() && o.configs.empty() && a.find("://") != std::string::npos) {
            o.uri = a;
        } else {
            o.configs.push_back(a);
        }
    }
    if (o.configs.empty()) return std::nullopt;
    return o;
}

} // namespace

int main(int argc, char** argv) {
    const auto opt = parse_options(argc, argv);
    if (!opt) {
        std::fprintf(stderr, "usage: cloud_agent [URI] [--report-interval S] [--run-for S] CONFIG...\n");
        return 2;
    }
    auto conn = sdk::Connection::open(opt->uri);
    if (!conn) {
        std::fprintf(stderr, "cloud_agent: connect: %s\n", conn.error().message.c_str());
        return 1;
    }
    asio::io_context io;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&io](boost::system::error_code, int) { io.stop(); });
    Agent agent(io, std::move(*conn), opt->configs, opt->report_every);
    if (auto r = agent.start(); !r) {
        std::fprintf(stderr, "cloud_agent: %s\n", r.error().message.c_str());
        agent.stop();
        return 1;
    }
    if (opt->run_for) io.run_for(*opt->run_for);
    else io.run();
    agent.stop();
    return 0;
}
