#include "control/control_server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "hv/sdk/wire_types.hpp"

namespace hv::control {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;
namespace wire = sdk::wire;

namespace {
constexpr uint32_t kNotConsole = ~0u;
constexpr size_t kMaxCoalesced = 64 * 1024; // console bytes merged into one frame
constexpr auto kConsoleGather = std::chrono::milliseconds(4); // how long console bytes wait for more
} // namespace

std::vector<gid_t> process_groups(pid_t pid) {
    std::vector<gid_t> out;
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("Groups:", 0) != 0) continue;
        std::istringstream ss(line.substr(7));
        unsigned long g = 0;
        while (ss >> g) out.push_back(static_cast<gid_t>(g));
        break;
    }
    return out;
}

// One connection. All its state is touched on the io_context's thread;
// the service's completions post back to it.
class ControlServer::Session : public std::enable_shared_from_this<Session> {
public:
    Session(ControlServer& server, stream::socket socket, Peer peer, std::string who)
        : server_(server), census_(server.census_), socket_(std::move(socket)), deadline_(socket_.get_executor()), peer_(peer),
          who_(std::move(who)) {
        ++census_->sessions;
        ++census_->per_user[peer_.uid];
    }
    ~Session() {
        census_->unread -= out_bytes_;
        --census_->sessions;
        if (--census_->per_user[peer_.uid] == 0) census_->per_user.erase(peer_.uid);
    }

    void start() {
        arm_deadline(); // HELLO must come within the frame timeout
        read();
    }

    // Sends one error frame, then closes once the peer has read it (the
    // peer's own first request is read and dropped meanwhile, so that the
    // close does not reset the connection under the refusal).
    void refuse(int32_t status, const std::string& why) {
        send(wire::encode(HV_CTL_VERSION, HV_CTL_REPLY, 0, 0, status, why));
        close_after_write_ = true;
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        deadline_armed_ = false;
        subs_.clear();
        peer_wait_.reset();
        boost::system::error_code ec;
        deadline_.cancel();
        flush_timer_.cancel();
        socket_.shutdown(stream::socket::shutdown_both, ec);
        socket_.close(ec);
    }

private:
    const ServerLimits& limits() const { return server_.options_.limits; }

    void read() {
        if (closed_ || reading_) return;
        reading_ = true;
        auto self = shared_from_this();
        socket_.async_read_some(asio::buffer(buf_), [self](boost::system::error_code ec, size_t n) {
            self->reading_ = false;
            if (ec) return self->close();
            if (self->lingering_) return self->read(); // dropping what a refused peer still sends
            self->decoder_.feed(self->buf_.data(), n);
            self->process();
        });
    }

    // A half-sent frame, or a connection that never says HELLO, may hold
    // its slot for the frame timeout at most.
    void arm_deadline() {
        const bool waiting = version_ == 0 || decoder_.buffered() > 0;
        if (!waiting) {
            if (deadline_armed_) deadline_.cancel();
            deadline_armed_ = false;
            return;
        }
        if (deadline_armed_) return;
        deadline_armed_ = true;
        deadline_.expires_after(limits().frame_timeout);
        std::weak_ptr<Session> weak = shared_from_this();
        deadline_.async_wait([weak](boost::system::error_code ec) {
            auto self = weak.lock();
            if (!self || ec || !self->deadline_armed_) return;
            self->deadline_armed_ = false;
            if (self->busy_) return; // a request in progress: not the peer's fault
            if (self->version_ == 0 || self->decoder_.buffered() > 0) {
                self->log(fmt::format("{}: {} for {} ms; closing", self->who_,
                                      self->version_ == 0 ? "no HELLO" : "half-sent frame", self->limits().frame_timeout.count()));
                self->close();
            }
        });
    }

    // Takes the next whole frame, unless a request is still running.
    void process() {
        if (busy_ || closed_ || lingering_ || throttled_) return;
        wire::Frame f;
        switch (decoder_.next(f)) {
        case wire::Decoder::Status::need_more:
            arm_deadline();
            return read();
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
        if (out_bytes_ > limits().max_unread_output || (out_bytes_ > 0 && census_->unread > limits().max_unread_total)) {
            // Refused, and nothing more is read from this peer until it
            // has read enough: its backlog stays bounded, and it sees why.
            reply(f, HV_EBUSY, fmt::format("refused: {} bytes of earlier replies and events are unread (limit {}); read them first",
                                           out_bytes_, limits().max_unread_output));
            throttled_ = true;
            return;
        }
        if (f.header.op == HV_SYSCTL_SUBSCRIBE) return subscribe(f);
        busy_ = true;
        watch_hangup();
        auto self = shared_from_this();
        auto exec = socket_.get_executor();
        const wire::Frame head{f.header, {}};
        server_.service_.call(peer_, f.header.op, std::move(f.payload), [self, exec, head](Reply r) {
            asio::post(exec, [self, head, r = std::move(r)]() mutable {
                self->busy_ = false;
                self->peer_wait_.reset();
                if (self->closed_) return;
                self->reply(head, r.status, std::move(r.payload));
                self->process();
            });
        });
    }

    // While a request runs nothing is read; a peer that hangs up meanwhile
    // (a waiter given up) is noticed here, so its session and whatever it
    // waits on end now, not at the request's timeout.
    void watch_hangup() {
        if (reading_ || closed_) return;
        auto token = std::make_shared<bool>(true);
        peer_wait_ = token;
        std::weak_ptr<Session> weak = shared_from_this();
        socket_.async_wait(stream::socket::wait_read, [weak, token](boost::system::error_code ec) {
            auto self = weak.lock();
            if (!self || ec || self->peer_wait_ != token || !self->busy_) return;
            char c;
            const ssize_t n = ::recv(self->socket_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n == 0) return self->close(); // hung up
            // Data (a pipelined request): it waits its turn; stop watching.
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
            (req->flags & ~(HV_CTL_SUB_EVENTS | HV_CTL_SUB_CONSOLE | HV_CTL_SUB_CONSOLE_SERIAL | HV_CTL_SUB_CONSOLE_PV)) != 0 ||
            ((req->flags & (HV_CTL_SUB_CONSOLE_SERIAL | HV_CTL_SUB_CONSOLE_PV)) != 0 && (req->flags & HV_CTL_SUB_CONSOLE) == 0) ||
            (req->flags & (HV_CTL_SUB_CONSOLE_SERIAL | HV_CTL_SUB_CONSOLE_PV)) == (HV_CTL_SUB_CONSOLE_SERIAL | HV_CTL_SUB_CONSOLE_PV)) {
            reply(f, HV_EINVAL, "subscribe: bad flags or size");
            return process();
        }
        const bool events = (req->flags & HV_CTL_SUB_EVENTS) != 0, console = (req->flags & HV_CTL_SUB_CONSOLE) != 0;
        if ((events && events_subscribed_) || (console && consoles_ >= limits().max_console_subscriptions)) {
            reply(f, HV_EBUSY, fmt::format("subscribe: a connection holds one event stream and at most {} consoles",
                                           limits().max_console_subscriptions));
            return process();
        }
        events_subscribed_ = events_subscribed_ || events;
        consoles_ += console ? 1 : 0;
        std::weak_ptr<Session> weak = shared_from_this();
        auto exec = socket_.get_executor();
        // The reply goes out first; events posted meanwhile queue behind it.
        reply(f, HV_OK, {});
        if ((req->flags & HV_CTL_SUB_EVENTS) != 0) {
            auto s = server_.service_.subscribe_events([weak, exec](const sdk::Event& e) {
                asio::post(exec, [weak, w = wire::to_wire(e)] {
                    if (auto self = weak.lock()) self->send_event(wire::pack(w));
                });
            });
            if (s) subs_.push_back(std::move(*s));
        }
        if ((req->flags & HV_CTL_SUB_CONSOLE) != 0) {
            const uint32_t domid = req->domid;
            ConsoleSink sink;
            sink.data = [weak, exec, domid](std::string_view bytes) {
                asio::post(exec, [weak, domid, b = std::string(bytes)] {
                    if (auto self = weak.lock()) self->send_console(domid, b);
                });
            };
            sink.end = [weak, exec, domid](const Error& why) {
                asio::post(exec, [weak, domid, r = error_reply(why)] {
                    if (auto self = weak.lock())
                        self->send(wire::encode(self->version_, HV_CTL_EVENT, HV_CTL_EVENT_CONSOLE, 0, r.status,
                                                wire::pack(hv_ctl_domid_t{domid, 0}, r.payload)));
                });
            };
            auto end = sink.end;
            const sdk::ConsoleType type = (req->flags & HV_CTL_SUB_CONSOLE_SERIAL) != 0 ? sdk::ConsoleType::serial
                                          : (req->flags & HV_CTL_SUB_CONSOLE_PV) != 0   ? sdk::ConsoleType::pv
                                                                                        : sdk::ConsoleType::automatic;
            server_.service_.subscribe_console(peer_, domid, type, std::move(sink),
                                               [weak, exec, end](Result<std::unique_ptr<sdk::Subscription>> s) {
                if (!s) return end(s.error());
                auto sub = std::make_shared<std::unique_ptr<sdk::Subscription>>(std::move(*s));
                asio::post(exec, [weak, sub] {
                    if (auto self = weak.lock(); self && !self->closed_) self->subs_.push_back(std::move(*sub));
                });
            });
        }
        process();
    }

    // Events: a subscriber that lets them pile up is cut off.
    void send_event(std::string payload) {
        if (closed_) return;
        if (out_bytes_ > limits().max_unread_output) {
            log(fmt::format("{}: {} bytes of events unread; closing", who_, out_bytes_));
            return close();
        }
        send(wire::encode(version_, HV_CTL_EVENT, HV_CTL_EVENT_DOMAIN, 0, 0, payload));
    }

    // Console bytes: a guest writes them one exit at a time, so they are
    // gathered for a few milliseconds (or up to kMaxCoalesced) into one
    // frame, merged into the last queued frame when that is console output
    // of the same domain, and dropped (counted, then reported in the
    // stream) while the peer is too far behind.
    void send_console(uint32_t domid, std::string_view bytes) {
        if (closed_ || bytes.empty()) return;
        if (dropped_ > 0 || out_bytes_ + pending_console_.size() + bytes.size() > limits().max_console_backlog) {
            dropped_ += bytes.size();
            dropped_domid_ = domid;
            return;
        }
        if (!pending_console_.empty() && pending_domid_ != domid) flush_console();
        pending_domid_ = domid;
        pending_console_.append(bytes);
        if (pending_console_.size() >= kMaxCoalesced) return flush_console();
        if (flush_armed_) return;
        flush_armed_ = true;
        flush_timer_.expires_after(kConsoleGather);
        std::weak_ptr<Session> weak = shared_from_this();
        flush_timer_.async_wait([weak](boost::system::error_code) {
            if (auto self = weak.lock()) self->flush_console();
        });
    }

    void flush_console() {
        if (flush_armed_) {
            flush_armed_ = false;
            flush_timer_.cancel();
        }
        if (pending_console_.empty() || closed_) return;
        std::string bytes;
        bytes.swap(pending_console_);
        append_console(pending_domid_, bytes);
    }

    void append_console(uint32_t domid, std::string_view bytes) {
        const bool back_idle = !out_.empty() && (out_.size() > 1 || !writing_);
        if (back_idle && out_.back().console_domid == domid && out_.back().bytes.size() + bytes.size() < kMaxCoalesced) {
            std::string& frame = out_.back().bytes;
            frame.append(bytes);
            hv_ctl_header_t h;
            std::memcpy(&h, frame.data(), sizeof h);
            h.length = static_cast<uint32_t>(frame.size() - sizeof h);
            std::memcpy(frame.data(), &h, sizeof h);
            out_bytes_ += bytes.size();
            census_->unread += bytes.size();
            return;
        }
        queue(wire::encode(version_, HV_CTL_EVENT, HV_CTL_EVENT_CONSOLE, 0, 0, wire::pack(hv_ctl_domid_t{domid, 0}, bytes)),
              domid);
    }

    void send(std::string bytes) { queue(std::move(bytes), kNotConsole); }

    // Bounded by its callers: replies (one per request, and no request is
    // taken past the cap), events (cut off past the cap) and console data
    // (dropped past its backlog).
    void queue(std::string bytes, uint32_t console_domid) {
        if (closed_) return;
        out_bytes_ += bytes.size();
        census_->unread += bytes.size();
        out_.push_back(Out{std::move(bytes), console_domid});
        if (!writing_) write_next();
    }

    void write_next() {
        if (throttled_ && out_bytes_ < limits().max_unread_output / 2) {
            throttled_ = false;
            process();
        }
        if (dropped_ > 0 && out_bytes_ < limits().max_console_backlog / 2) {
            const std::string marker = fmt::format("\r\n[hv: {} bytes of console output dropped: the reader fell behind]\r\n", dropped_);
            dropped_ = 0;
            append_console(dropped_domid_, marker);
        }
        if (out_.empty()) {
            writing_ = false;
            if (close_after_write_) linger();
            return;
        }
        writing_ = true;
        auto self = shared_from_this();
        asio::async_write(socket_, asio::buffer(out_.front().bytes), [self](boost::system::error_code ec, size_t) {
            self->out_bytes_ -= self->out_.front().bytes.size();
            self->census_->unread -= self->out_.front().bytes.size();
            self->out_.pop_front();
            if (ec) return self->close();
            self->write_next();
        });
    }

    // After a refusal: no more sending, drop what the peer still sends for
    // a moment (so it can read the refusal), then close.
    void linger() {
        if (closed_ || lingering_) return;
        lingering_ = true;
        boost::system::error_code ec;
        socket_.shutdown(stream::socket::shutdown_send, ec);
        deadline_.cancel();
        deadline_armed_ = false;
        deadline_.expires_after(std::chrono::seconds(1));
        auto self = shared_from_this();
        deadline_.async_wait([self](boost::system::error_code) { self->close(); });
        read();
    }

    void log(const std::string& line) const { server_.log(line); }

    struct Out {
        std::string bytes;
        uint32_t console_domid; // kNotConsole unless a console frame (may grow)
    };

    ControlServer& server_; // used only while open: stop() closes every session
    std::shared_ptr<Census> census_;
    stream::socket socket_;
    asio::steady_timer deadline_;
    Peer peer_;
    std::string who_;
    std::array<char, 16 * 1024> buf_{}; // per connection: 1,000 of them cost 16 MiB
    wire::Decoder decoder_;
    uint16_t version_ = 0; // 0 until HELLO
    bool busy_ = false;
    bool reading_ = false;
    bool writing_ = false;
    bool closed_ = false;
    bool lingering_ = false;
    bool throttled_ = false; // over the unread-output cap: no request is read
    bool events_subscribed_ = false;
    size_t consoles_ = 0;
    std::shared_ptr<bool> peer_wait_; // set while watching for the peer's hang-up during a request
    bool deadline_armed_ = false;
    bool close_after_write_ = false;
    std::deque<Out> out_;
    size_t out_bytes_ = 0;
    std::string pending_console_; // gathered, not yet queued
    uint32_t pending_domid_ = 0;
    asio::steady_timer flush_timer_{socket_.get_executor()};
    bool flush_armed_ = false;
    size_t dropped_ = 0;
    uint32_t dropped_domid_ = 0;
    std::vector<std::unique_ptr<sdk::Subscription>> subs_;
};

ControlServer::ControlServer(asio::io_context& io, Service& service, ServerOptions options)
    : io_(io), service_(service), options_(std::move(options)), acceptor_(io), backoff_(io) {}

ControlServer::~ControlServer() {
    stop();
    if (reserve_fd_ >= 0) ::close(reserve_fd_);
}

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
    if (!ec) acceptor_.listen(128, ec);
    if (ec) return make_error(Errc::io_error, fmt::format("{}: {}", path, ec.message()));
    ::chmod(path.c_str(), 0660);
    if (options_.allowed_gid) {
        if (::chown(path.c_str(), static_cast<uid_t>(-1), *options_.allowed_gid) != 0)
            return make_error(Errc::io_error, fmt::format("{}: chown to gid {}: {}", path, *options_.allowed_gid, std::strerror(errno)));
    }
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    accept();
    return {};
}

void ControlServer::stop() {
    *alive_ = false;
    boost::system::error_code ec;
    backoff_.cancel();
    if (acceptor_.is_open()) {
        acceptor_.close(ec);
        std::error_code fec;
        std::filesystem::remove(options_.socket_path, fec);
    }
    for (auto& weak : live_)
        if (auto s = weak.lock()) s->close();
    live_.clear();
}

bool ControlServer::admit(int fd, Peer& peer, std::string& who, std::string& why) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        who = "unknown peer";
        why = "permission denied: the peer's credentials are unknown";
        return false;
    }
    peer = Peer{cred.pid, cred.uid, cred.gid};
    who = fmt::format("pid {} uid {}", cred.pid, cred.uid);
    if (census_->sessions >= options_.limits.max_connections) {
        why = fmt::format("busy: hvd serves its limit of {} connections; try again later", options_.limits.max_connections);
        return false;
    }
    if (!peer.root() && census_->per_user[peer.uid] >= options_.limits.max_connections_per_user) {
        why = fmt::format("busy: uid {} holds its limit of {} connections", peer.uid, options_.limits.max_connections_per_user);
        return false;
    }
    if (peer.root() || cred.uid == ::geteuid()) return true;
    const std::string group = options_.group_name.empty() ? std::string("hv") : options_.group_name;
    why = options_.allowed_gid
              ? fmt::format("permission denied: {} is not root, not the server's user and not in group '{}'", who, group)
              : fmt::format("permission denied: {} is not root and not the server's user (no group '{}' is configured)", who, group);
    if (!options_.allowed_gid) return false;
    // The connecting process's own groups: what it holds, not what its
    // user's entry in /etc/group says (a process may have dropped them).
    if (cred.gid == *options_.allowed_gid) return true;
    for (gid_t g : process_groups(cred.pid))
        if (g == *options_.allowed_gid) return true;
    return false;
}

// Out of descriptors: give up the reserve to take the waiting client,
// tell it why, and back off before accepting again.
void ControlServer::refuse_at_emfile() {
    if (reserve_fd_ >= 0) {
        ::close(reserve_fd_);
        reserve_fd_ = -1;
    }
    const int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
        const std::string frame = wire::encode(HV_CTL_VERSION, HV_CTL_REPLY, 0, 0, HV_EBUSY,
                                               "busy: hvd is out of file descriptors; try again later");
        [[maybe_unused]] const ssize_t n = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        ::shutdown(fd, SHUT_WR);
        ::close(fd);
    }
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void ControlServer::accept() {
    auto alive = alive_;
    acceptor_.async_accept([this, alive](boost::system::error_code ec, stream::socket socket) {
        if (!*alive || ec == asio::error::operation_aborted) return;
        if (ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
            ec == asio::error::no_memory) {
            log(fmt::format("accept: {}; backing off {} ms", ec.message(), options_.limits.accept_backoff.count()));
            refuse_at_emfile();
            backoff_.expires_after(options_.limits.accept_backoff);
            backoff_.async_wait([this, alive](boost::system::error_code e) {
                if (!e && *alive) accept();
            });
            return;
        }
        if (!ec) {
            Peer peer;
            std::string who, why;
            const bool allowed = admit(socket.native_handle(), peer, who, why);
            auto session = std::make_shared<Session>(*this, std::move(socket), peer, who);
            std::erase_if(live_, [](const std::weak_ptr<Session>& w) { return w.expired(); });
            live_.push_back(session);
            if (allowed) {
                session->start();
            } else {
                log(fmt::format("refused {}: {}", who, why));
                session->refuse(why.rfind("busy", 0) == 0 ? HV_EBUSY : HV_EACCES, why);
            }
        }
        accept();
    });
}

} // namespace hv::control
