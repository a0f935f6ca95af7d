// hvd: the hv daemon. Serves the control ABI on a unix socket to hvctl and
// SDK programs; runs each domain in its own hv-domain process.
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "control/control_server.hpp"
#include "hv/abi/control.h"
#include "hvd_service.hpp"
#include "state_lock.hpp"

namespace {

constexpr const char* kUsage = R"(usage: hvd [options]
  --socket PATH          control socket (default /run/hv/hvd.sock)
  --state-dir DIR        state: managed configs, domain sockets, logs (default /var/lib/hv)
  --group NAME           members of this group may connect too (default: hv, if it exists)
  --max-connections N    connections in all (default 4096; non-root users get a quarter each)
  --log-level LEVEL      trace|debug|info|warn|error (default info)
  --call-timeout-ms MS   how long a domain process may take to answer (default 5000)
  --frame-timeout-ms MS  how long a client may take to send a whole frame, or its HELLO (default 10000)
  --domain-binary PATH   the per-domain monitor process (default: hv-domain next to hvd)
  --sched POLICY         credit|rtds: who runs on the host CPUs (default credit; switch live
                         with hvctl sched-policy); none: Linux schedules the vCPU threads
  --cpus LIST            the host CPUs given to hv's scheduler, as xl writes CPU lists
                         (default: every CPU hvd may run on)
  --daemonize            detach from the terminal
  --version              print the version and exit
)";

// hv-domain sits next to hvd (build tree and install alike).
std::string sibling(const char* name) {
    char self[PATH_MAX] = {};
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return name;
    return (std::filesystem::path(std::string(self, static_cast<size_t>(n))).parent_path() / name).string();
}

// Every connection and subscription holds a descriptor: take what the
// hard limit allows, so the connection limit (not EMFILE) is what binds.
void raise_fd_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

} // namespace

int main(int argc, char** argv) {
    std::string socket = "/run/hv/hvd.sock", state_dir = "/var/lib/hv", group_arg, log_level = "info";
    bool group_given = false, daemonize = false;
    size_t max_connections = 4096, call_timeout_ms = 5000, frame_timeout_ms = 10000;
    std::string domain_binary = sibling("hv-domain");
    std::optional<hv::core::sched::Policy> sched_policy = hv::core::sched::Policy::credit;
    hv::core::sched::CpuMask host_cpus;
    const auto number = [](const std::string& opt, const char* v, size_t& out) {
        const std::string s = v;
        if (std::from_chars(s.data(), s.data() + s.size(), out).ptr != s.data() + s.size() || s.empty() || out == 0) {
            std::fprintf(stderr, "hvd: %s: '%s' is not a positive number\n", opt.c_str(), v);
            return false;
        }
        return true;
    };
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        const bool has_value = i + 1 < argc;
        if (k == "--daemonize") daemonize = true;
        else if (k == "--version") {
            std::printf("hvd %s (guest ABI %u, control ABI %u)\n", HV_VERSION, HV_ABI_VERSION, HV_CTL_VERSION);
            return 0;
        } else if (k == "--socket" && has_value) socket = argv[++i];
        else if (k == "--state-dir" && has_value) state_dir = argv[++i];
        else if (k == "--group" && has_value) group_arg = argv[++i], group_given = true;
        else if (k == "--log-level" && has_value) log_level = argv[++i];
        else if (k == "--max-connections" && has_value) {
            if (!number(k, argv[++i], max_connections)) return 1;
        } else if (k == "--call-timeout-ms" && has_value) {
            if (!number(k, argv[++i], call_timeout_ms)) return 1;
        } else if (k == "--frame-timeout-ms" && has_value) {
            if (!number(k, argv[++i], frame_timeout_ms)) return 1;
        } else if (k == "--domain-binary" && has_value) {
            domain_binary = argv[++i];
        } else if (k == "--sched" && has_value) {
            const std::string v = argv[++i];
            if (v == "none") sched_policy.reset();
            else if (auto p = hv::sched::parse_policy(v)) sched_policy = *p;
            else {
                std::fprintf(stderr, "hvd: --sched: %s (or none)\n", p.error().message.c_str());
                return 1;
            }
        } else if (k == "--cpus" && has_value) {
            auto m = hv::config::parse_cpu_list(argv[++i]);
            if (!m) {
                std::fprintf(stderr, "hvd: --cpus: %s\n", m.error().message.c_str());
                return 1;
            }
            if (*m != ~uint64_t{0}) host_cpus = hv::sched::cpu_mask_of(*m); // "all": every CPU hvd may use
        } else if (k == "-h" || k == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        } else {
            std::fprintf(stderr, "hvd: unknown or incomplete option '%s'\n%s", k.c_str(), kUsage);
            return 1;
        }
    }

    auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(2000);
    auto err = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto log = std::make_shared<spdlog::logger>("hvd", spdlog::sinks_init_list{ring, err});
    log->set_level(spdlog::level::from_str(log_level));
    log->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [hvd] [%l] %v");

    hv::control::ServerOptions so;
    so.socket_path = socket;
    so.log = [log](const std::string& line) { log->warn("{}", line); };
    so.group_name = group_given ? group_arg : "hv";
    so.limits.max_connections = max_connections;
    so.limits.max_connections_per_user = std::max<size_t>(1, max_connections / 4);
    so.limits.frame_timeout = std::chrono::milliseconds(frame_timeout_ms);
    if (const struct group* g = ::getgrnam(so.group_name.c_str())) so.allowed_gid = g->gr_gid;
    else if (group_given) {
        std::fprintf(stderr, "hvd: no group named '%s'\n", so.group_name.c_str());
        return 1;
    }

    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(socket).parent_path(), ec);
    std::filesystem::create_directories(state_dir, ec);
    if (ec) {
        std::fprintf(stderr, "hvd: %s: %s\n", state_dir.c_str(), ec.message().c_str());
        return 1;
    }
    // Before any domain or file is touched: one hvd per state dir.
    auto lock = hvd::StateLock::take(state_dir);
    if (!lock) {
        std::fprintf(stderr, "hvd: %s\n", lock.error().message.c_str());
        return 1;
    }
    ::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    if (daemonize && ::daemon(0, 0) != 0) {
        std::perror("hvd: daemon");
        return 1;
    }

    boost::asio::io_context io;
    hvd::HvdOptions ho;
    ho.state_dir = state_dir;
    ho.domain_binary = domain_binary;
    ho.log_level = log_level;
    ho.sched = sched_policy;
    ho.pcpus = host_cpus;
    ho.call_timeout = std::chrono::milliseconds(call_timeout_ms);
    hvd::HvdService service(io, ho, log, ring);
    if (auto r = service.start(); !r) {
        log->error("{}", r.error().message);
        return 1;
    }
    hv::control::ControlServer server(io, service, so);
    if (auto r = server.start(); !r) {
        log->error("{}", r.error().message);
        return 1;
    }
    log->info("listening on {} (state in {})", socket, state_dir);

    boost::asio::signal_set stop(io, SIGTERM, SIGINT);
    stop.async_wait([&](const boost::system::error_code&, int sig) {
        log->info("signal {}: stopping (domains keep running)", sig);
        server.stop();
        io.stop();
    });
    io.run();
    server.stop();
    return 0;
}
