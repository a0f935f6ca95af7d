#include "domain_link.hpp"

#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "hv/sdk/wire_types.hpp"

namespace hvd {

namespace asio = boost::asio;
namespace wire = hv::sdk::wire;
using stream = asio::local::stream_protocol;

DomainLink::DomainLink(asio::io_context& io, std::string socket, Handlers h)
    : io_(io), socket_(io), socket_path_(std::move(socket)), h_(std::move(h)) {}

DomainLink::~DomainLink() {
    h_.on_close = nullptr; // nobody to tell
    close("link destroyed");
}

void DomainLink::open(hv_ctl_subscribe_t subscribe, std::chrono::milliseconds timeout, std::function<void(Reply)> ready) {
    // Non-blocking: a process that does not accept (stopped, hung) fills
    // its listen backlog, and a blocking connect would then hold hvd's
    // only thread. Then it is simply not answering.
    boost::system::error_code ec;
    socket_.open(stream(), ec);
    if (!ec) socket_.non_blocking(true, ec);
    if (!ec) socket_.connect(stream::endpoint(socket_path_), ec);
    if (ec) {
        closed_ = true;
        const bool gone = ec == asio::error::connection_refused || ec == asio::error::not_found;
        const bool full = ec == asio::error::would_block || ec == asio::error::try_again;
        boost::system::error_code ignored;
        socket_.close(ignored);
        return asio::post(io_, [ready = std::move(ready), gone, full, why = fmt::format("{}: {}", socket_path_, ec.message())] {
            ready(Reply{gone ? HV_ENOENT : full ? HV_ETIMEDOUT : HV_EIO, why});
        });
    }
    open_ = true;
    read();
    const hv_ctl_hello_t hello{1, HV_CTL_VERSION, 0, 0, 0};
    auto self = shared_from_this();
    send_request(HV_SYSCTL_HELLO, wire::pack(hello), timeout,
                 [self, subscribe, timeout, ready = std::move(ready)](Reply r) mutable {
        if (r.status != HV_OK) return ready(std::move(r));
        auto h = wire::unpack<hv_ctl_hello_t>(r.payload);
        if (!h || h->max_version < 1 || h->max_version > HV_CTL_VERSION) {
            self->close("malformed HELLO reply");
            return ready(Reply{HV_EPROTO, fmt::format("{}: malformed HELLO reply", self->socket_path_)});
        }
        self->version_ = h->max_version;
        self->server_pid_ = h->server_pid;
        if (subscribe.flags == 0) return ready(Reply{HV_OK, {}});
        self->call(HV_SYSCTL_SUBSCRIBE, wire::pack(subscribe), timeout, std::move(ready));
    });
}

pid_t DomainLink::peer_pid() const {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (!socket_.is_open() ||
        ::getsockopt(const_cast<stream::socket&>(socket_).native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return -1;
    return cred.pid;
}

void DomainLink::call(uint32_t op, std::string payload, std::chrono::milliseconds timeout, std::function<void(Reply)> done) {
    if (!is_open()) {
        return asio::post(io_, [done = std::move(done), path = socket_path_] {
            done(Reply{HV_EIO, fmt::format("{}: the domain's monitor process is not connected", path)});
        });
    }
    if (pending_.size() >= kMaxPending || out_bytes_ + payload.size() > kMaxUnsent) {
        return asio::post(io_, [done = std::move(done), n = pending_.size()] {
            done(Reply{HV_EBUSY, fmt::format("the domain's monitor process has {} requests unanswered", n)});
        });
    }
    send_request(op, std::move(payload), timeout, std::move(done));
}

void DomainLink::send_request(uint32_t op, std::string payload, std::chrono::milliseconds timeout,
                              std::function<void(Reply)> done) {
    uint32_t id = ++next_id_;
    if (id == 0) id = ++next_id_; // 0 marks events
    Pending p{std::move(done), std::make_unique<asio::steady_timer>(io_), op};
    std::weak_ptr<DomainLink> weak = shared_from_this();
    p.timer->expires_after(timeout);
    p.timer->async_wait([weak, id, timeout](boost::system::error_code ec) {
        auto self = weak.lock();
        if (!self || ec || self->pending_.count(id) == 0) return;
        if (self->h_.on_timeout) self->h_.on_timeout();
        self->finish(id, Reply{HV_ETIMEDOUT, fmt::format("domain process {} did not answer within {} ms", self->server_pid_,
                                                         timeout.count())});
    });
    pending_.emplace(id, std::move(p));
    out_.push_back(wire::encode(version_, HV_CTL_REQUEST, op, id, 0, payload));
    out_bytes_ += out_.back().size();
    if (!writing_) write_next();
}

void DomainLink::finish(uint32_t id, Reply r) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return; // timed out earlier: a late answer
    auto done = std::move(it->second.done);
    it->second.timer->cancel();
    pending_.erase(it);
    done(std::move(r));
}

void DomainLink::write_next() {
    if (out_.empty() || closed_) {
        writing_ = false;
        return;
    }
    writing_ = true;
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_.front()), [self](boost::system::error_code ec, size_t) {
        if (self->closed_) return;
        self->out_bytes_ -= self->out_.front().size();
        self->out_.pop_front();
        if (ec) return self->close(fmt::format("write: {}", ec.message()));
        self->write_next();
    });
}

void DomainLink::read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(buf_), [self](boost::system::error_code ec, size_t n) {
        if (self->closed_) return;
        if (ec) return self->close(ec == asio::error::eof ? "the domain's monitor process closed the connection"
                                                          : fmt::format("read: {}", ec.message()));
        self->decoder_.feed(self->buf_.data(), n);
        if (self->h_.on_answer) self->h_.on_answer();
        wire::Frame f;
        for (;;) {
            const auto st = self->decoder_.next(f);
            if (st == wire::Decoder::Status::need_more) break;
            if (st == wire::Decoder::Status::error) return self->close("protocol error: " + self->decoder_.error());
            if (f.header.kind == HV_CTL_EVENT) {
                if (self->h_.on_event) self->h_.on_event(f);
            } else if (f.header.kind == HV_CTL_REPLY) {
                self->finish(f.header.request_id, Reply{f.header.status, std::move(f.payload)});
            }
            if (self->closed_) return;
        }
        self->read();
    });
}

void DomainLink::close(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    socket_.shutdown(stream::socket::shutdown_both, ec);
    socket_.close(ec);
    out_.clear();
    out_bytes_ = 0;
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [id, p] : pending) {
        p.timer->cancel();
        p.done(Reply{HV_EIO, fmt::format("domain process {}: {}", server_pid_, why)});
    }
    if (auto cb = std::move(h_.on_close)) cb(why);
}

} // namespace hvd
