// hvd: the hv daemon. Serves the control ABI on a unix socket to hvctl and
// SDK programs; runs each domain in its own hv-domain process.
#include <grp.h>
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "control/control_server.hpp"
#include "hvd_backend.hpp"

namespace {

constexpr const char* kUsage = R"(usage: hvd [options]
  --socket PATH        control socket (default /run/hv/hvd.sock)
  --state-dir DIR      state: managed configs, domain sockets, logs (default /var/lib/hv)
  --group NAME         members of this group may connect too (default: hv, if it exists)
  --log-level LEVEL    trace|debug|info|warn|error (default info)
  --daemonize          detach from the terminal
)";

// hv-domain sits next to hvd (build tree and install alike).
std::string sibling(const char* name) {
    char self[PATH_MAX] = {};
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return name;
    return (std::filesystem::path(std::string(self, static_cast<size_t>(n))).parent_path() / name).string();
}

} // namespace

int main(int argc, char** argv) {
    std::string socket = "/run/hv/hvd.sock", state_dir = "/var/lib/hv", group_arg, log_level = "info";
    bool group_given = false, daemonize = false;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        const bool has_value = i + 1 < argc;
        if (k == "--daemonize") daemonize = true;
        else if (k == "--socket" && has_value) socket = argv[++i];
        else if (k == "--state-dir" && has_value) state_dir = argv[++i];
        else if (k == "--group" && has_value) group_arg = argv[++i], group_given = true;
        else if (k == "--log-level" && has_value) log_level = argv[++i];
        else if (k == "-h" || k == "--help") {
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
    const std::string group_name = group_given ? group_arg : "hv";
    if (const struct group* g = ::getgrnam(group_name.c_str())) so.allowed_gid = g->gr_gid;
    else if (group_given) {
        std::fprintf(stderr, "hvd: no group named '%s'\n", group_name.c_str());
        return 1;
    }

    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(socket).parent_path(), ec);
    std::filesystem::create_directories(state_dir, ec);
    if (ec) {
        std::fprintf(stderr, "hvd: %s: %s\n", state_dir.c_str(), ec.message().c_str());
        return 1;
    }
    ::signal(SIGPIPE, SIG_IGN);
    if (daemonize && ::daemon(0, 0) != 0) {
        std::perror("hvd: daemon");
        return 1;
    }

    hvd::HvdBackend backend({state_dir, sibling("hv-domain"), log_level}, log, ring);
    if (auto r = backend.start(); !r) {
        log->error("{}", r.error().message);
        return 1;
    }
    boost::asio::io_context io;
    hv::control::ControlServer server(io, backend, so);
    if (auto r = server.start(); !r) {
        log->error("{}", r.error().message);
        return 1;
    }
    log->info("listening on {} (state in {})", socket, state_dir);

    boost::asio::signal_set stop(io, SIGTERM, SIGINT);
    stop.async_wait([&](const boost::system::error_code&, int sig) {
        log->info("signal {}: stopping (domains keep running)", sig);
        io.stop();
    });
    boost::asio::signal_set child(io, SIGCHLD);
    std::function<void()> reap = [&] {
        child.async_wait([&](const boost::system::error_code& e, int) {
            if (e) return;
            backend.reap_children();
            reap();
        });
    };
    reap();
    io.run();
    server.stop();
    return 0;
}
