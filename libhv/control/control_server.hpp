// ControlServer: serves a Service over the control ABI on a unix socket
// (hvd, and each domain's monitor process). Boost.Asio does all socket
// work on the caller's io_context (one thread); the Service answers
// without blocking it. Requests on one connection are answered in order,
// one at a time: the next is not even read before the current one is
// answered, so a pipelining client waits in its own socket buffer.
//
// Bounded by design (docs/security.md lists the figures): connections
// (in all and per non-root user), each connection's unread output
// (replies beyond it are refused, events and console data cut off or
// dropped with a marker), the time a half-sent frame or a missing HELLO
// may hold a connection, and at EMFILE the acceptor backs off instead of
// spinning, answering the waiting client with a clear refusal. Peers are
// checked with SO_PEERCRED (and their supplementary groups) before
// anything is read.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "control/service.hpp"
#include "hv/result.hpp"

namespace hv::control {

struct ServerLimits {
    size_t max_connections = 4096;
    size_t max_connections_per_user = 1024;  // non-root peers
    size_t max_unread_output = 2u << 20;     // bytes queued for one peer before its requests are refused
    size_t max_unread_total = 256u << 20;    // ... for all peers together: past it, peers with a backlog are refused
    size_t max_console_subscriptions = 8;    // per connection (and one event subscription)
    size_t max_console_backlog = 1u << 20;   // console bytes queued before they are dropped (with a marker)
    std::chrono::milliseconds frame_timeout{10000}; // a half-sent frame, or no HELLO, for this long: closed
    std::chrono::milliseconds accept_backoff{100};  // after EMFILE/ENFILE
};

struct ServerOptions {
    std::string socket_path;
    // Who may connect besides root and the server's own user: members of
    // this group (primary or supplementary, as the peer process holds them).
    std::optional<gid_t> allowed_gid;
    std::string group_name; // for refusals: names the group to join
    ServerLimits limits;
    std::function<void(const std::string&)> log; // one line per event worth logging
};

class ControlServer {
public:
    ControlServer(boost::asio::io_context& io, Service& service, ServerOptions options);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Binds (replacing a stale socket file, refusing a live one) and starts
    // accepting. The socket is made 0660.
    Result<void> start();
    // Stops accepting and closes every connection. Call on the io thread
    // (or after it has stopped).
    void stop();

    size_t connections() const { return census_->sessions; }

private:
    class Session;
    void accept();
    void refuse_at_emfile();
    // Whether the peer may connect; `why` is the refusal otherwise.
    bool admit(int fd, Peer& peer, std::string& who, std::string& why);
    void log(const std::string& line) const {
        if (options_.log) options_.log(line);
    }

    boost::asio::io_context& io_;
    Service& service_;
    ServerOptions options_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    boost::asio::steady_timer backoff_;
    int reserve_fd_ = -1; // given up at EMFILE to accept (and refuse) one client
    // Shared with the sessions: one may outlive the server (a handler of
    // its still queued on the io_context) and must count itself out.
    struct Census {
        size_t sessions = 0;
        std::map<uid_t, size_t> per_user;
        size_t unread = 0; // bytes queued for all peers
    };
    std::shared_ptr<Census> census_ = std::make_shared<Census>();
    std::vector<std::weak_ptr<Session>> live_; // to close them at stop()
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The supplementary groups of process `pid` (/proc/PID/status), which is
// what the connecting process holds, not what its user's entry says.
std::vector<gid_t> process_groups(pid_t pid);

} // namespace hv::control
