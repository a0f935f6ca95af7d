// DomainLink: hvd's asynchronous connection to one domain's monitor
// process (hv-domain), on hvd's io_context: HELLO, an optional
// subscription, then requests multiplexed by request id, each with its
// own timeout. No thread, no blocking call: a stopped or hung process
// costs hvd a timer per request, never a thread. Event frames go to
// on_event; when the connection ends every pending request fails and
// on_close runs once.
#pragma once

#include <chrono>
#include <cstdint>
#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "control/request_handler.hpp"
#include "hv/sdk/wire.hpp"

namespace hvd {

using hv::control::Reply;

class DomainLink : public std::enable_shared_from_this<DomainLink> {
public:
    struct Handlers {
        std::function<void(const hv::sdk::wire::Frame&)> on_event;
        std::function<void(const std::string& why)> on_close;
        std::function<void()> on_timeout; // a request went unanswered
        std::function<void()> on_answer;  // a frame came in (it is alive)
    };
    // At most this many requests wait for a process at once; more fail
    // at once (the process is not keeping up).
    static constexpr size_t kMaxPending = 256;
    // ... and at most this many bytes wait to be sent to it (requests that
    // timed out still count until sent: the process is not reading).
    static constexpr size_t kMaxUnsent = 8u << 20;

    static std::shared_ptr<DomainLink> make(boost::asio::io_context& io, std::string socket, Handlers h) {
        return std::shared_ptr<DomainLink>(new DomainLink(io, std::move(socket), std::move(h)));
    }
    ~DomainLink();

    // Connects, says HELLO, subscribes when `subscribe` has flags; `ready`
    // gets HV_OK (payload: nothing) or why not, within `timeout`.
    void open(hv_ctl_subscribe_t subscribe, std::chrono::milliseconds timeout, std::function<void(Reply)> ready);
    // One request; `done` gets the reply, or HV_ETIMEDOUT / HV_EIO.
    void call(uint32_t op, std::string payload, std::chrono::milliseconds timeout, std::function<void(Reply)> done);
    void close(const std::string& why = "closed by hvd");
    // Closes without telling on_close or on_event (the owner is leaving).
    void detach() {
        h_ = Handlers{};
        close("detached");
    }

    bool is_open() const { return open_ && !closed_; }
    uint32_t server_pid() const { return server_pid_; }
    // The connected process's pid as the kernel says (SO_PEERCRED); -1 if unknown.
    pid_t peer_pid() const;
    const std::string& socket_path() const { return socket_path_; }
    size_t pending() const { return pending_.size(); }

private:
    struct Pending {
        std::function<void(Reply)> done;
        std::unique_ptr<boost::asio::steady_timer> timer;
        uint32_t op;
    };
    DomainLink(boost::asio::io_context& io, std::string socket, Handlers h);
    void send_request(uint32_t op, std::string payload, std::chrono::milliseconds timeout, std::function<void(Reply)> done);
    void read();
    void write_next();
    void finish(uint32_t id, Reply r);

    boost::asio::io_context& io_;
    boost::asio::local::stream_protocol::socket socket_;
    std::string socket_path_;
    Handlers h_;
    hv::sdk::wire::Decoder decoder_;
    std::array<char, 16384> buf_{};
    std::map<uint32_t, Pending> pending_;
    std::deque<std::string> out_;
    size_t out_bytes_ = 0;
    bool writing_ = false;
    bool open_ = false;
    bool closed_ = false;
    uint16_t version_ = HV_CTL_VERSION;
    uint32_t next_id_ = 0;
    uint32_t server_pid_ = 0;
};

} // namespace hvd
