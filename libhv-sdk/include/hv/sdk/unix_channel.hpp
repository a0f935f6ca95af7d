// UnixChannel: one negotiated connection to an hv control socket (hvd or
// a domain's monitor process), with blocking request/reply. Header-only;
// plain POSIX sockets, so the client needs no event loop.
#pragma once

#include <grp.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include <hv/result.hpp>
#include <hv/sdk/wire_types.hpp>

namespace hv::sdk {

class UnixChannel {
public:
    static Result<std::unique_ptr<UnixChannel>> open(const std::string& path) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (path.empty() || path.size() >= sizeof addr.sun_path)
            return make_error(Errc::invalid_argument, "control socket path '" + path + "' is empty or too long");
        std::memcpy(addr.sun_path, path.data(), path.size());
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return make_error(Errc::io_error, std::string("socket: ") + std::strerror(errno));
        std::unique_ptr<UnixChannel> ch(new UnixChannel(fd));
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            const int err = errno;
            if (err == EACCES) { // the socket's mode refused us: say whose group lets one in
                struct stat st {};
                std::string group = "its group";
                if (::stat(path.c_str(), &st) == 0) {
                    const struct group* g = ::getgrgid(st.st_gid);
                    group = g != nullptr ? "group '" + std::string(g->gr_name) + "'" : "gid " + std::to_string(st.st_gid);
                }
                return make_error(Errc::permission_denied,
                                  "permission denied: cannot connect to " + path + "; members of " + group + " may");
            }
            return make_error(err == ENOENT || err == ECONNREFUSED ? Errc::not_found : Errc::io_error,
                              "cannot connect to " + path + ": " + std::strerror(err) +
                                  (err == ENOENT || err == ECONNREFUSED ? " (is hvd running?)" : ""));
        }
        hv_ctl_hello_t hello{1, HV_CTL_VERSION, 0, 0, 0};
        auto r = ch->call(HV_SYSCTL_HELLO, wire::pack(hello));
        if (!r) return r.error();
        auto reply = wire::unpack<hv_ctl_hello_t>(*r);
        if (!reply || reply->max_version < 1 || reply->max_version > HV_CTL_VERSION)
            return make_error(Errc::protocol_error, path + ": malformed HELLO reply");
        ch->version_ = reply->max_version;
        ch->server_pid_ = reply->server_pid;
        return ch;
    }

    ~UnixChannel() { ::close(fd_); }
    UnixChannel(const UnixChannel&) = delete;
    UnixChannel& operator=(const UnixChannel&) = delete;

    uint32_t server_pid() const { return server_pid_; }

    // Sends a request and waits for its reply; the reply's payload, or the
    // server's error (its status as an Errc, its message).
    Result<std::string> call(uint32_t op, std::string_view payload) {
        if (payload.size() > HV_CTL_MAX_PAYLOAD) // refused here, so the connection stays usable
            return make_error(Errc::invalid_argument, "request of " + std::to_string(payload.size()) +
                                                          " bytes is over the control protocol's " +
                                                          std::to_string(HV_CTL_MAX_PAYLOAD) + "-byte limit");
        std::lock_guard lock(mu_);
        const uint32_t id = ++next_id_;
        if (auto w = write_all(wire::encode(version_, HV_CTL_REQUEST, op, id, 0, payload)); !w) {
            // A server that refuses a peer says why, then closes: that
            // message, not "Broken pipe", is the answer.
            auto f = read_frame();
            if (f && f->header.kind == HV_CTL_REPLY && f->header.status < 0)
                return make_error(wire::errc_of(f->header.status), f->payload);
            return w.error();
        }
        for (;;) {
            auto f = read_frame();
            if (!f) return f.error();
            if (f->header.kind == HV_CTL_EVENT) continue; // not ours to deliver here
            if (f->header.request_id != id && f->header.request_id != 0)
                return make_error(Errc::protocol_error, "reply to request " + std::to_string(f->header.request_id) +
                                                            ", expected " + std::to_string(id));
            if (f->header.status < 0) return make_error(wire::errc_of(f->header.status), f->payload);
            return std::move(f->payload);
        }
    }

    // Blocks until the next whole frame (for subscription readers).
    Result<wire::Frame> read_frame() {
        wire::Frame f;
        for (;;) {
            switch (decoder_.next(f)) {
            case wire::Decoder::Status::frame: return f;
            case wire::Decoder::Status::error: return make_error(Errc::protocol_error, decoder_.error());
            case wire::Decoder::Status::need_more: break;
            }
            char buf[16384];
            const ssize_t n = ::read(fd_, buf, sizeof buf);
            if (n == 0) return make_error(Errc::io_error, "the server closed the connection");
            if (n < 0) {
                if (errno == EINTR) continue;
                return make_error(Errc::io_error, std::string("read: ") + std::strerror(errno));
            }
            decoder_.feed(buf, static_cast<size_t>(n));
        }
    }

    // Wakes a reader blocked in read_frame() (it then fails); any thread.
    void interrupt() { ::shutdown(fd_, SHUT_RDWR); }

    Result<void> write_all(const std::string& bytes) {
        size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                return make_error(Errc::io_error, std::string("write: ") + std::strerror(errno));
            }
            done += static_cast<size_t>(n);
        }
        return {};
    }

    uint16_t version() const { return version_; }

private:
    explicit UnixChannel(int fd) : fd_(fd) {}
    int fd_;
    std::mutex mu_;
    uint32_t next_id_ = 0;
    uint16_t version_ = HV_CTL_VERSION;
    uint32_t server_pid_ = 0;
    wire::Decoder decoder_;
};

} // namespace hv::sdk
