// hv-domain: one domain's monitor process. hvd starts one per domain so
// that a fault in one domain's device models cannot take down the others,
// and so that domains outlive hvd (kill -9 included). It serves the
// control ABI on its own socket to hvd, and exits once its domain (with
// all of its restarts) is gone.
//   hv-domain --socket PATH --state-dir DIR [--log-level LEVEL]
#include <signal.h>

#include <cstdio>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "control/control_server.hpp"
#include "control/domid_counter.hpp"
#include "control/monitor_backend.hpp"

int main(int argc, char** argv) {
    std::string socket, state_dir, log_level = "info";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        if (k == "--socket") socket = argv[i + 1];
        else if (k == "--state-dir") state_dir = argv[i + 1];
        else if (k == "--log-level") log_level = argv[i + 1];
        else {
            std::fprintf(stderr, "hv-domain: unknown option '%s'\n", k.c_str());
            return 1;
        }
    }
    if (socket.empty() || state_dir.empty()) {
        std::fputs("usage: hv-domain --socket PATH --state-dir DIR [--log-level LEVEL]\n", stderr);
        return 1;
    }
    ::signal(SIGPIPE, SIG_IGN);

    auto counter = std::make_shared<hv::control::DomidCounter>(state_dir + "/domid.next");
    hv::Monitor::Options mo;
    mo.log_level = log_level;
    mo.domid_source = [counter] { return counter->next(); };
    auto monitor = hv::Monitor::open(mo);
    if (!monitor) {
        std::fprintf(stderr, "hv-domain: %s\n", monitor.error().message.c_str());
        return 1;
    }
    hv::control::MonitorBackend backend(std::move(*monitor));

    boost::asio::io_context io;
    hv::control::ServerOptions so;
    so.socket_path = socket;
    so.log = [&backend](const std::string& line) { backend.monitor().log().warn("{}", line); };
    hv::control::ControlServer server(io, backend, so);
    if (auto r = server.start(); !r) {
        std::fprintf(stderr, "hv-domain: %s\n", r.error().message.c_str());
        return 1;
    }

    // Done when the last domain is gone (after having had one). The grace
    // period lets the reply to the request that destroyed it (and a waiter's
    // reply) reach hvd before the socket goes away.
    boost::asio::steady_timer grace(io);
    auto sub = backend.subscribe_events([&](const hv::sdk::Event& e) {
        if (e.kind != hv::sdk::Event::Kind::destroyed) return;
        boost::asio::post(io, [&] {
            grace.expires_after(std::chrono::milliseconds(300));
            grace.async_wait([&](const boost::system::error_code& ec) {
                auto still = backend.list(); // a restart may have come in between
                if (!ec && still && still->empty()) io.stop();
            });
        });
    });

    boost::asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    io.run();
    server.stop();
    sub->reset();
    return 0;
}
