// hv::sdk::Connection: the one door to an hv monitor for a control-plane
// program. Open it from a URI:
//   embedded://        a monitor inside this process (link libhv)
//   unix:///path       hvd listening on /path (header-only, no library)
// and the same API drives both. Synchronous calls return hv::Result;
// async_* take any Boost.Asio completion token (a handler bound to an
// executor, asio::use_future, ...), run the call off the caller's thread
// and complete on the token's associated executor.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>

#include <hv/sdk/backend.hpp>
#include <hv/sdk/unix_backend.hpp>

// Defined by libhv (control/monitor_backend.cpp); weak, so a program that
// only speaks to hvd links without libhv and gets a clear error instead.
hv::Result<std::unique_ptr<hv::sdk::Backend>> hv_sdk_make_embedded_backend() __attribute__((weak));

#define HV_HAVE_SDK_CONNECTION 1
#define HV_HAVE_SDK_ASYNC 1

namespace hv::sdk {

constexpr const char* kDefaultSocket = "/run/hv/hvd.sock";

namespace detail {

// Runs fn() on a short-lived thread and completes the token with its result.
template <class R, class Token, class Fn>
auto async_run(Fn fn, Token&& token) {
    return boost::asio::async_initiate<Token, void(R)>(
        [](auto handler, Fn f) {
            auto ex = boost::asio::get_associated_executor(handler);
            std::thread([handler = std::move(handler), f = std::move(f), ex]() mutable {
                R r = f();
                boost::asio::post(ex, [handler = std::move(handler), r = std::move(r)]() mutable { std::move(handler)(std::move(r)); });
            }).detach();
        },
        token, std::move(fn));
}

} // namespace detail

class Domain;

class Connection {
public:
    // The URI from $HV_CONNECT, else unix:// on hvd's default socket.
    static std::string default_uri() {
        const char* env = std::getenv("HV_CONNECT");
        return env != nullptr && *env != '\0' ? env : std::string("unix://") + kDefaultSocket;
    }

    static Result<Connection> open(std::string_view uri = {}) {
        const std::string u = uri.empty() ? default_uri() : std::string(uri);
        if (u == "embedded://" || u == "embedded:") {
            if (hv_sdk_make_embedded_backend == nullptr)
                return make_error(Errc::not_supported, "embedded:// needs the program linked with libhv (pkg-config libhv)");
            auto b = hv_sdk_make_embedded_backend();
            if (!b) return b.error();
            return Connection(std::shared_ptr<Backend>(std::move(*b)), u);
        }
        if (u.rfind("unix://", 0) == 0) {
            auto b = UnixBackend::open(u.substr(7));
            if (!b) return b.error();
            return Connection(std::shared_ptr<Backend>(std::move(*b)), u);
        }
        return make_error(Errc::invalid_argument, "unknown connection URI '" + u + "' (want embedded:// or unix:///path)");
    }

    const std::string& uri() const { return uri_; }
    Backend& backend() const { return *backend_; }

    Result<Domain> create(const CreateRequest& req) const;
    // A domain described by a typed struct: it travels as typed fields and
    // is checked by the monitor as a config file would be; a refusal names
    // the field ("DomainSpec.vcpus: ...").
    Result<Domain> create(const DomainSpec& spec, bool paused = false) const;
    // An xl.cfg file plus xl-style KEY=VALUE overrides (each one more line).
    // `warn` gets each warning (keys accepted but ignored) once it exists.
    Result<Domain> create_from_file(const std::string& path, const std::vector<std::string>& overrides = {},
                                    bool paused = false,
                                    std::function<void(const std::string&)> warn = nullptr) const;
    Result<Domain> domain(std::string_view name_or_id) const;

    Result<std::vector<DomainInfo>> list() const { return backend_->list(); }

    // Managed domains (xl new / start / delete; hvd only).
    Result<void> define(const CreateRequest& req) const { return backend_->define(req); }
    Result<Domain> start(std::string_view name) const;
    Result<void> undefine(std::string_view name) const { return backend_->undefine(name); }
    Result<std::vector<std::string>> list_defined() const { return backend_->list_defined(); }
    Result<HostInfo> host_info() const { return backend_->host_info(); }
    Result<std::vector<std::string>> dmesg() const { return backend_->dmesg(); }

    // The host's vCPU scheduler (see Backend).
    Result<SchedHost> sched_host() const { return backend_->sched_host(); }
    Result<void> set_sched_host(const SchedHost& h) const { return backend_->set_sched_host(h); }
    Result<SchedParams> sched_params(uint32_t domid) const { return backend_->sched_params(domid); }
    Result<void> set_sched_params(const SchedParams& p) const { return backend_->set_sched_params(p); }
    Result<std::vector<VcpuInfo>> vcpu_list(std::optional<uint32_t> domid = std::nullopt) const {
        return backend_->vcpu_list(domid);
    }
    Result<void> vcpu_pin(const VcpuPin& p) const { return backend_->vcpu_pin(p); }
    Result<std::unique_ptr<Subscription>> subscribe_events(std::function<void(const Event&)> fn) const {
        return backend_->subscribe_events(std::move(fn));
    }

    template <class Token>
    auto async_list(Token&& token) const {
        return detail::async_run<Result<std::vector<DomainInfo>>>([b = backend_] { return b->list(); },
                                                                 std::forward<Token>(token));
    }
    template <class Token>
    auto async_create(CreateRequest req, Token&& token) const;

private:
    Connection(std::shared_ptr<Backend> b, std::string uri) : backend_(std::move(b)), uri_(std::move(uri)) {}
    std::shared_ptr<Backend> backend_;
    std::string uri_;
};

// A handle on one domain (by domid). Cheap to copy.
class Domain {
public:
    Domain(std::shared_ptr<Backend> b, uint32_t domid) : b_(std::move(b)), id_(domid) {}

    uint32_t id() const { return id_; }
    Result<DomainInfo> info() const { return b_->info(id_); }
    Result<void> pause() const { return b_->pause(id_); }
    Result<void> unpause() const { return b_->unpause(id_); }
    Result<void> destroy() const { return b_->destroy(id_); }
    Result<void> rename(std::string_view name) const { return b_->rename(id_, name); }
    // xl vcpu-set: the guest is asked to have `online` vCPUs up; it follows
    // in its own time (watch info().vcpus_online).
    Result<void> set_vcpus(uint32_t online) const { return b_->set_vcpus(id_, online); }
    Result<void> shutdown(const ShutdownRequest& req = {}) const { return b_->shutdown(id_, req); }
    Result<void> reboot(bool wait = false, uint32_t timeout_ms = 0) const {
        return b_->shutdown(id_, ShutdownRequest{ShutdownReason::reboot, wait, timeout_ms, false});
    }
    Result<DomainInfo> wait(uint32_t timeout_ms) const { return b_->wait(id_, timeout_ms); }
    // `type`: which console (xl console -t); by default the guest's own.
    Result<std::unique_ptr<Subscription>> console(std::function<void(std::string_view)> fn,
                                                  ConsoleType type = ConsoleType::automatic) const {
        return b_->subscribe_console(id_, type, std::move(fn));
    }
    Result<void> console_write(std::string_view bytes, ConsoleType type = ConsoleType::automatic) const {
        return b_->console_write(id_, type, bytes);
    }
    Result<std::string> console_history(ConsoleType type = ConsoleType::automatic) const {
        return b_->console_history(id_, type);
    }
    // xl block-list.
    Result<std::vector<BlockInfo>> block_list() const { return b_->block_list(id_); }
    // xl network-list.
    Result<std::vector<VifInfo>> network_list() const { return b_->network_list(id_); }
    // Vif `devid`'s transmit limit, as xl.cfg's rate= gives it: `bytes`
    // per `interval_us`; 0 bytes for none.
    Result<void> set_vif_rate(uint32_t devid, uint64_t bytes, uint32_t interval_us) const {
        return b_->set_vif_rate(id_, devid, bytes, interval_us);
    }

    // xl block-attach / network-attach: one xl disk= or vif= spec, as a
    // config's list holds it ("" is a vif with every default). Returns the
    // devid. The attach lasts for the domain's life, restarts included;
    // `persist` also adds it to a managed domain's stored definition
    // (hvd), so the next start has it.
    Result<uint32_t> attach_disk(std::string_view spec, bool persist = false) const {
        return b_->attach_device(id_, DeviceKind::disk, spec, persist ? HV_CTL_DEVICE_PERSIST : 0u);
    }
    Result<uint32_t> attach_vif(std::string_view spec, bool persist = false) const {
        return b_->attach_device(id_, DeviceKind::vif, spec, persist ? HV_CTL_DEVICE_PERSIST : 0u);
    }
    // xl block-detach / network-detach: `device` is a disk's vdev ("xvdb")
    // or devid, a vif's devid or MAC. Waits up to `timeout_ms` (0: 10 s,
    // at most 600 s) for the guest to release it; `force` removes it
    // without the guest's consent. `persist` also removes it from a
    // managed domain's stored definition.
    Result<void> detach_disk(std::string_view device, bool force = false, uint32_t timeout_ms = 0, bool persist = false) const {
        return b_->detach_device(id_, DeviceKind::disk, device, device_flags(force, persist), timeout_ms);
    }
    Result<void> detach_vif(std::string_view device, bool force = false, uint32_t timeout_ms = 0, bool persist = false) const {
        return b_->detach_device(id_, DeviceKind::vif, device, device_flags(force, persist), timeout_ms);
    }
    // Disk `devid`'s rate= and iops= limits while it runs (block_list()
    // gives the devids); an amount of 0 lifts that limit.
    Result<void> set_disk_limits(uint32_t devid, const DiskLimits& limits) const {
        return b_->set_disk_limits(id_, devid, limits);
    }

    template <class Token>
    auto async_shutdown(ShutdownRequest req, Token&& token) const {
        return detail::async_run<Result<void>>([b = b_, id = id_, req] { return b->shutdown(id, req); },
                                               std::forward<Token>(token));
    }
    template <class Token>
    auto async_wait(uint32_t timeout_ms, Token&& token) const {
        return detail::async_run<Result<DomainInfo>>([b = b_, id = id_, timeout_ms] { return b->wait(id, timeout_ms); },
                                                     std::forward<Token>(token));
    }

private:
    static uint32_t device_flags(bool force, bool persist) {
        return (force ? HV_CTL_DEVICE_FORCE : 0u) | (persist ? HV_CTL_DEVICE_PERSIST : 0u);
    }
    std::shared_ptr<Backend> b_;
    uint32_t id_;
};

inline Result<Domain> Connection::create(const CreateRequest& req) const {
    auto id = backend_->create(req);
    if (!id) return id.error();
    return Domain(backend_, *id);
}

inline Result<Domain> Connection::create(const DomainSpec& spec, bool paused) const {
    CreateRequest req;
    req.spec = spec;
    req.paused = paused;
    return create(req);
}

template <class Token>
auto Connection::async_create(CreateRequest req, Token&& token) const {
    return detail::async_run<Result<Domain>>(
        [b = backend_, req = std::move(req)]() -> Result<Domain> {
            auto id = b->create(req);
            if (!id) return id.error();
            return Domain(b, *id);
        },
        std::forward<Token>(token));
}

inline Result<Domain> Connection::create_from_file(const std::string& path, const std::vector<std::string>& overrides,
                                                   bool paused, std::function<void(const std::string&)> warn) const {
    std::ifstream in(path);
    if (!in) return make_error(Errc::not_found, path + ": cannot open the config file");
    std::stringstream text;
    text << in.rdbuf();
    CreateRequest req;
    req.config_text = text.str();
    req.source = std::filesystem::absolute(path).lexically_normal().string();
    req.overrides = overrides;
    req.paused = paused;
    req.warn = std::move(warn);
    return create(req);
}

inline Result<Domain> Connection::start(std::string_view name) const {
    auto id = backend_->start(name);
    if (!id) return id.error();
    return Domain(backend_, *id);
}

inline Result<Domain> Connection::domain(std::string_view name_or_id) const {
    auto id = backend_->lookup(name_or_id);
    if (!id) return id.error();
    return Domain(backend_, *id);
}

} // namespace hv::sdk
