#include "control/control_server.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <deque>
#include <filesystem>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "control/request_handler.hpp"
#include "hv/sdk/wire_types.hpp"

namespace hv::control {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;
namespace wire = sdk::wire;

// One connection. All its state is touched on the io_context's thread;
// backend calls run on the pool and post their reply back.
class ControlServer::Session : public std::enable_shared_from_this<Session> {
public:
    Session(ControlServer& server, stream::socket socket, std::string who)
        : server_(server), socket_(std::move(socket)), who_(std::move(who)) {
        ++server_.sessions_;
    }
    ~Session() { --server_.sessions_; }

    void start() { read(); }

    void refuse(int32_t status, const std::string& why) {
        send(wire::encode(HV_CTL_VERSION, HV_CTL_REPLY, 0, 0, status, why));
        close_after_write_ = true;
    }

    void close() {
        subs_.clear(); // waits for callbacks in flight; they only post
        boost::system::error_code ec;
        socket_.shutdown(stream::socket::shutdown_both, ec);
        socket_.close(ec);
    }

private:
    void read() {
        auto self = shared_from_this();
        socket_.async_read_some(asio::buffer(buf_), [self](boost::system::error_code ec, size_t n) {
            if (ec) return self->close();
            self->decoder_.feed(self->buf_.data(), n);
            self->process();
        });
    }

    // Takes the next whole frame, unless a request is still running.
    void process() {
        if (busy_ || !socket_.is_open()) return;
        wire::Frame f;
        switch (decoder_.next(f)) {
        case wire::Decoder::Status::need_more: return read();
        case wire::Decoder::Status::error:
            log(fmt::format("{}: {}; closing", who_, decoder_.error()));
            return refuse(HV_EPROTO, decoder_.error());
        case wire::Decoder::Status::frame: return handle(std::move(f));
        }
    }

    void reply(const wire::Frame& req, int32_t status, std::string payload) {
        send(wire::encode(version_, HV_CTL_REPLY, req.header.op, req.header.request_id, status, payload));
    }

    void handle(wire::Frame f) {
        if (f.header.kind != HV_CTL_REQUEST) {
            reply(f, HV_EPROTO, "expected a request frame");
            return process();
        }
        if (f.header.op == HV_SYSCTL_HELLO) return hello(f);
        if (version_ == 0) return refuse(HV_EPROTO, "the first request must be HELLO (version negotiation)");
        if (f.header.version != version_) {
            reply(f, HV_EPROTO, fmt::format("frame version {}, negotiated {}", f.header.version, version_));
            return process();
        }
        if (f.header.op == HV_SYSCTL_SUBSCRIBE) return subscribe(f);
        busy_ = true;
        auto self = shared_from_this();
        asio::post(server_.pool_, [self, f = std::move(f)] {
            Reply r = handle_request(self->server_.backend_, f.header.op, f.payload);
            asio::post(self->socket_.get_executor(), [self, f, r = std::move(r)]() mutable {
                self->busy_ = false;
                self->reply(f, r.status, std::move(r.payload));
                self->process();
            });
        });
    }

    void hello(const wire::Frame& f) {
        auto h = wire::unpack<hv_ctl_hello_t>(f.payload);
        if (version_ != 0) {
            reply(f, HV_EPROTO, "HELLO twice");
            return process();
        }
        if (!h || f.payload.size() != sizeof(hv_ctl_hello_t) || h->min_version > h->max_version)
            return refuse(HV_EPROTO, "malformed HELLO");
        if (h->min_version > HV_CTL_VERSION || h->max_version < 1)
            return refuse(HV_EPROTO, fmt::format("no common protocol version: client speaks {}-{}, server 1-{}",
                                                 h->min_version, h->max_version, HV_CTL_VERSION));
        version_ = static_cast<uint16_t>(std::min<uint32_t>(h->max_version, HV_CTL_VERSION));
        hv_ctl_hello_t out{1, version_, 0, static_cast<uint32_t>(::getpid()), 0};
        reply(f, HV_OK, wire::pack(out));
        process();
    }

    void subscribe(const wire::Frame& f) {
        auto req = wire::unpack<hv_ctl_subscribe_t>(f.payload);
        if (!req || f.payload.size() != sizeof(hv_ctl_subscribe_t) || req->flags == 0 ||
            (req->flags & ~(HV_CTL_SUB_EVENTS | HV_CTL_SUB_CONSOLE)) != 0) {
            reply(f, HV_EINVAL, "subscribe: bad flags or size");
            return process();
        }
        std::weak_ptr<Session> weak = shared_from_this();
        auto exec = socket_.get_executor();
        const uint16_t v = version_;
        auto push = [weak, exec, v](uint32_t op, std::string payload) {
            asio::post(exec, [weak, v, op, payload = std::move(payload)] {
                if (auto s = weak.lock()) s->send(wire::encode(v, HV_CTL_EVENT, op, 0, 0, payload));
            });
        };
        // The reply goes out first; events posted meanwhile queue behind it.
        reply(f, HV_OK, {});
        if ((req->flags & HV_CTL_SUB_EVENTS) != 0) {
            auto s = server_.backend_.subscribe_events(
                [push](const sdk::Event& e) { push(HV_CTL_EVENT_DOMAIN, wire::pack(wire::to_wire(e))); });
            if (s) subs_.push_back(std::move(*s));
        }
        if ((req->flags & HV_CTL_SUB_CONSOLE) != 0) {
            const uint32_t domid = req->domid;
            auto s = server_.backend_.subscribe_console(domid, [push, domid](std::string_view bytes) {
                push(HV_CTL_EVENT_CONSOLE, wire::pack(hv_ctl_domid_t{domid, 0}, bytes));
            });
            if (!s) {
                const Reply r = error_reply(s.error());
                send(wire::encode(version_, HV_CTL_EVENT, HV_CTL_EVENT_CONSOLE, 0, r.status, r.payload));
            } else {
                subs_.push_back(std::move(*s));
            }
        }
        process();
    }

    void send(std::string bytes) {
        out_.push_back(std::move(bytes));
        if (!writing_) write_next();
    }

    void write_next() {
        if (out_.empty()) {
            writing_ = false;
            if (close_after_write_) close();
            return;
        }
        writing_ = true;
        auto self = shared_from_this();
        asio::async_write(socket_, asio::buffer(out_.front()), [self](boost::system::error_code ec, size_t) {
            self->out_.pop_front();
            if (ec) return self->close();
            self->write_next();
        });
    }

    void log(const std::string& line) {
        if (server_.options_.log) server_.options_.log(line);
    }

    ControlServer& server_;
    stream::socket socket_;
    std::string who_;
    std::array<char, 64 * 1024> buf_{};
    wire::Decoder decoder_;
    uint16_t version_ = 0; // 0 until HELLO
    bool busy_ = false;
    bool writing_ = false;
    bool close_after_write_ = false;
    std::deque<std::string> out_;
    std::vector<std::unique_ptr<sdk::Subscription>> subs_;
};

ControlServer::ControlServer(asio::io_context& io, sdk::Backend& backend, ServerOptions options)
    : io_(io), backend_(backend), options_(std::move(options)), acceptor_(io) {}

ControlServer::~ControlServer() { stop(); }

Result<void> ControlServer::start() {
    const std::string& path = options_.socket_path;
    if (path.size() >= sizeof(sockaddr_un::sun_path))
        return make_error(Errc::invalid_argument, fmt::format("socket path {} is too long", path));
    std::error_code fec;
    if (std::filesystem::exists(path, fec)) {
        // A socket nobody answers on is stale; a live one is another server.
        stream::socket probe(io_);
        boost::system::error_code ec;
        probe.connect(stream::endpoint(path), ec);
        if (!ec) return make_error(Errc::busy, fmt::format("{}: another server is listening there", path));
        std::filesystem::remove(path, fec);
    }
    boost::system::error_code ec;
    acceptor_.open(stream(), ec);
    if (!ec) acceptor_.bind(stream::endpoint(path), ec);
    if (!ec) acceptor_.listen(64, ec);
    if (ec) return make_error(Errc::io_error, fmt::format("{}: {}", path, ec.message()));
    ::chmod(path.c_str(), 0660);
    if (options_.allowed_gid) {
        if (::chown(path.c_str(), static_cast<uid_t>(-1), *options_.allowed_gid) != 0)
            return make_error(Errc::io_error, fmt::format("{}: chown to gid {}: {}", path, *options_.allowed_gid, std::strerror(errno)));
    }
    accept();
    return {};
}

void ControlServer::stop() {
    *alive_ = false;
    boost::system::error_code ec;
    if (acceptor_.is_open()) {
        acceptor_.close(ec);
        std::error_code fec;
        std::filesystem::remove(options_.socket_path, fec);
    }
    for (auto& weak : live_)
        if (auto s = weak.lock()) s->close();
    live_.clear();
    pool_.join();
}

bool ControlServer::peer_allowed(int fd, std::string& who) const {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        who = "unknown peer";
        return false;
    }
    who = fmt::format("pid {} uid {}", cred.pid, cred.uid);
    if (cred.uid == 0 || cred.uid == ::geteuid()) return true;
    if (!options_.allowed_gid) return false;
    if (cred.gid == *options_.allowed_gid) return true;
    // Supplementary groups of the peer's user.
    const passwd* pw = ::getpwuid(cred.uid);
    if (pw == nullptr) return false;
    int n = 64;
    std::vector<gid_t> groups(static_cast<size_t>(n));
    if (::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) < 0) {
        groups.resize(static_cast<size_t>(n));
        if (::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) < 0) return false;
    }
    groups.resize(static_cast<size_t>(n));
    for (gid_t g : groups)
        if (g == *options_.allowed_gid) return true;
    return false;
}

void ControlServer::accept() {
    auto alive = alive_;
    acceptor_.async_accept([this, alive](boost::system::error_code ec, stream::socket socket) {
        if (!*alive || ec == asio::error::operation_aborted) return;
        if (!ec) {
            std::string who;
            const bool allowed = peer_allowed(socket.native_handle(), who);
            auto session = std::make_shared<Session>(*this, std::move(socket), who);
            std::erase_if(live_, [](const std::weak_ptr<Session>& w) { return w.expired(); });
            live_.push_back(session);
            if (allowed) {
                session->start();
            } else {
                if (options_.log) options_.log(fmt::format("refused {}: not root, not the server's user, not in its group", who));
                session->refuse(HV_EACCES, fmt::format("permission denied: {} is not root and not in the hv group", who));
            }
        }
        accept();
    });
}

} // namespace hv::control
