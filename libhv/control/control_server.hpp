// ControlServer: serves a Backend over the control ABI on a unix socket
// (hvd, and each domain's monitor process). Boost.Asio does the socket
// work on the caller's io_context; backend calls, which may block (wait,
// shutdown with wait), run on a small thread pool so one slow request
// never stalls other connections. Requests on one connection are answered
// in order. Peers are checked with SO_PEERCRED before anything is read.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/thread_pool.hpp>

#include "hv/result.hpp"
#include "hv/sdk/backend.hpp"

namespace hv::control {

struct ServerOptions {
    std::string socket_path;
    // Who may connect besides root and the server's own user: members of
    // this group (primary or supplementary).
    std::optional<gid_t> allowed_gid;
    std::function<void(const std::string&)> log; // one line per event worth logging
};

class ControlServer {
public:
    ControlServer(boost::asio::io_context& io, sdk::Backend& backend, ServerOptions options);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Binds (replacing a stale socket file, refusing a live one) and starts
    // accepting. The socket is made 0660.
    Result<void> start();
    // Stops accepting, closes every connection, waits for running requests.
    void stop();

    size_t connections() const { return sessions_.load(); }

private:
    class Session;
    void accept();
    bool peer_allowed(int fd, std::string& who) const;

    boost::asio::io_context& io_;
    sdk::Backend& backend_;
    ServerOptions options_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    boost::asio::thread_pool pool_{4};
    std::atomic<size_t> sessions_{0};
    std::vector<std::weak_ptr<Session>> live_; // to close them at stop()
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace hv::control
