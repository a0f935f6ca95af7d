// hv-domain: one domain's monitor process. hvd starts one per domain so
// that a fault in one domain's device models cannot take down the others,
// and so that domains outlive hvd (kill -9 included). It serves the
// control ABI on its own socket to hvd, and exits once its domain (with
// all of its restarts) is gone, or when no domain was created in it in
// time (hvd died mid-create: nobody would ever use it).
//   hv-domain --socket PATH --state-dir DIR [--log-level LEVEL]
//             [--ready-fd N] [--create-deadline-ms MS]
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "control/backend_service.hpp"
#include "control/control_server.hpp"
#include "control/domid_counter.hpp"
#include "control/monitor_backend.hpp"
#include "devices/block/io_share.hpp"
#include "monitor/sched_page.hpp"
#include "monitor/shared_mapping.hpp"

namespace {
bool parse_number(const std::string& s, long& out) {
    const char* end = s.data() + s.size();
    return !s.empty() && std::from_chars(s.data(), end, out).ptr == end;
}
} // namespace

int main(int argc, char** argv) {
    std::string socket, state_dir, log_level = "info";
    long ready_fd = -1, create_deadline_ms = 10000;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--socket") socket = v;
        else if (k == "--state-dir") state_dir = v;
        else if (k == "--log-level") log_level = v;
        else if (k == "--ready-fd" && parse_number(v, ready_fd)) {
        } else if (k == "--create-deadline-ms" && parse_number(v, create_deadline_ms)) {
        } else {
            std::fprintf(stderr, "hv-domain: unknown or malformed option '%s %s'\n", k.c_str(), v.c_str());
            return 1;
        }
    }
    if (socket.empty() || state_dir.empty()) {
        std::fputs("usage: hv-domain --socket PATH --state-dir DIR [--log-level LEVEL] [--ready-fd N] [--create-deadline-ms MS]\n",
                   stderr);
        return 1;
    }
    ::signal(SIGPIPE, SIG_IGN);

    auto counter = std::make_shared<hv::control::DomidCounter>(state_dir);
    hv::Monitor::Options mo;
    mo.log_level = log_level;
    mo.domid_source = [counter] { return counter->next(); };
    // io_weight: the domains' disks on one device share it through a
    // table there (hvd made the folder).
    mo.io_share_dir = hv::dev::IoShare::dir_in(state_dir);
    // hvd's scheduler decides when this process's vCPUs run: they meet
    // through SOCKET.sched (this process's page) and STATE/run/sched.bell
    // (hvd's). Without the bell (hvd runs with --sched none) Linux does.
    const std::string page_path = hv::sched::page_path_of(socket);
    hv::sched::SharedMapping bell_map, page_map;
    // The page goes with the process, on every way out.
    struct Unlink {
        std::string path;
        ~Unlink() {
            if (!path.empty()) ::unlink(path.c_str());
        }
    } page_file;
    if (auto b = hv::sched::SharedMapping::open(hv::sched::bell_path_of(state_dir), sizeof(hv::sched::SchedBell))) {
        ::unlink(page_path.c_str()); // a stale one of a process that had this socket
        auto pg = hv::sched::SharedMapping::create(page_path, sizeof(hv::sched::SchedPage));
        if (!pg) {
            std::fprintf(stderr, "hv-domain: %s\n", pg.error().message.c_str());
            return 1;
        }
        page_file.path = page_path;
        bell_map = std::move(*b);
        page_map = std::move(*pg);
        mo.sched.mode = hv::Monitor::Options::Sched::Mode::external;
        mo.sched.bell = static_cast<hv::sched::SchedBell*>(bell_map.data());
        mo.sched.page = new (page_map.data()) hv::sched::SchedPage();
    } else {
        mo.sched.mode = hv::Monitor::Options::Sched::Mode::none;
    }
    auto monitor = hv::Monitor::open(mo);
    if (!monitor) {
        std::fprintf(stderr, "hv-domain: %s\n", monitor.error().message.c_str());
        return 1;
    }
    hv::control::MonitorBackend backend(std::move(*monitor));
    hv::control::BackendService service(backend);

    boost::asio::io_context io;
    hv::control::ServerOptions so;
    so.socket_path = socket;
    so.log = [&backend](const std::string& line) { backend.monitor().log().warn("{}", line); };
    hv::control::ControlServer server(io, service, so);
    if (auto r = server.start(); !r) {
        std::fprintf(stderr, "hv-domain: %s\n", r.error().message.c_str());
        return 1;
    }
    // Tell hvd we are listening (it waits on this pipe, not on a poll loop).
    if (ready_fd >= 0) {
        const int fd = static_cast<int>(ready_fd);
        [[maybe_unused]] const ssize_t n = ::write(fd, "R", 1);
        ::close(fd);
    }

    // A domain gone: its id's lease goes back. Done when the last domain
    // is gone (after having had one). The grace period (1 s) lets the reply
    // to the request that destroyed it (and hvd's last questions) reach hvd
    // before the socket goes away, even on a loaded host.
    boost::asio::steady_timer grace(io);
    bool log_named = false;
    auto sub = backend.subscribe_events([&](const hv::sdk::Event& e) {
        // A process started ahead of its domain (hvd's spare) logs to
        // STATE/log/<name>.log from its domain's creation on.
        if (e.kind == hv::sdk::Event::Kind::created && !log_named) {
            log_named = true;
            const std::string path = state_dir + "/log/" + e.name + ".log"; // the name passed the name rule
            const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
                ::close(fd);
            }
        }
        if (e.kind != hv::sdk::Event::Kind::destroyed) return;
        counter->release(e.domid);
        boost::asio::post(io, [&] {
            grace.expires_after(std::chrono::seconds(1));
            grace.async_wait([&](const boost::system::error_code& ec) {
                auto still = backend.list(); // a restart may have come in between
                if (!ec && still && still->empty()) io.stop();
            });
        });
    });
    // Without a domain and without anyone connected (hvd was killed
    // mid-create, or before it used this spare) it exits: no domain-less
    // process lingers for a later hvd to find. While hvd is connected it
    // waits (a spare), looking again every second.
    boost::asio::steady_timer deadline(io);
    deadline.expires_after(std::chrono::milliseconds(create_deadline_ms));
    std::function<void(const boost::system::error_code&)> check = [&](const boost::system::error_code& ec) {
        if (ec) return;
        auto l = backend.list();
        if (l && !l->empty()) return; // it has its domain; the destroyed path ends it
        if (server.connections() > 0) {
            deadline.expires_after(std::chrono::seconds(1));
            return deadline.async_wait(check);
        }
        std::fprintf(stderr, "hv-domain: no domain created and nobody connected after %ld ms; exiting\n", create_deadline_ms);
        io.stop();
    };
    deadline.async_wait(check);

    boost::asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    io.run();
    server.stop();
    sub->reset();
    service.join();
    return 0;
}
