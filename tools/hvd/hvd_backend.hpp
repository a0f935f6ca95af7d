// HvdBackend: what hvd serves. Every domain runs in its own hv-domain
// process (fault isolation; domains outlive hvd); this backend starts
// them, finds them again after an hvd restart (their sockets under
// STATE/run), routes each request to the process that holds the domain,
// merges their events, and keeps managed domains' configs.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include "hv/sdk/backend.hpp"
#include "hv/sdk/unix_backend.hpp"
#include "managed_store.hpp"

namespace hvd {

struct HvdOptions {
    std::string state_dir;
    std::string domain_binary; // hv-domain
    std::string log_level = "info";
};

class HvdBackend final : public hv::sdk::Backend {
public:
    HvdBackend(HvdOptions options, std::shared_ptr<spdlog::logger> log,
               std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring);
    ~HvdBackend() override;

    // Creates the state folders and re-attaches to the domain processes a
    // previous hvd left running. Returns how many it found.
    hv::Result<size_t> start();

    hv::Result<uint32_t> create(const hv::sdk::CreateRequest& req) override;
    hv::Result<void> destroy(uint32_t domid) override;
    hv::Result<void> pause(uint32_t domid) override;
    hv::Result<void> unpause(uint32_t domid) override;
    hv::Result<void> shutdown(uint32_t domid, const hv::sdk::ShutdownRequest& req) override;
    hv::Result<void> rename(uint32_t domid, std::string_view name) override;
    hv::Result<hv::sdk::DomainInfo> info(uint32_t domid) override;
    hv::Result<std::vector<hv::sdk::DomainInfo>> list() override;
    hv::Result<uint32_t> lookup(std::string_view name_or_id) override;
    hv::Result<hv::sdk::DomainInfo> wait(uint32_t domid, uint32_t timeout_ms) override;
    hv::Result<void> console_write(uint32_t domid, std::string_view bytes) override;
    hv::Result<std::string> console_history(uint32_t domid) override;
    hv::Result<hv::sdk::HostInfo> host_info() override;
    hv::Result<std::vector<std::string>> dmesg() override;
    hv::Result<void> define(const hv::sdk::CreateRequest& req) override;
    hv::Result<uint32_t> start(std::string_view name) override;
    hv::Result<void> undefine(std::string_view name) override;
    hv::Result<std::vector<std::string>> list_defined() override;
    hv::Result<std::unique_ptr<hv::sdk::Subscription>> subscribe_events(std::function<void(const hv::sdk::Event&)> fn) override;
    hv::Result<std::unique_ptr<hv::sdk::Subscription>> subscribe_console(uint32_t domid,
                                                                         std::function<void(std::string_view)> fn) override;

    // Reaps exited children (call on SIGCHLD).
    void reap_children();

private:
    struct Proc {
        std::string socket;
        pid_t pid = 0;
        std::unique_ptr<hv::sdk::UnixBackend> backend;
        std::unique_ptr<hv::sdk::Subscription> events;
    };
    using ProcPtr = std::shared_ptr<Proc>;

    hv::Result<ProcPtr> attach(const std::string& socket);
    hv::Result<ProcPtr> spawn(const std::string& name);
    hv::Result<ProcPtr> route(uint32_t domid);
    // Runs f on the backend of the process holding `domid`.
    template <class F>
    auto routed(uint32_t domid, F f) -> decltype(f(std::declval<hv::sdk::UnixBackend&>())) {
        auto p = route(domid);
        if (!p) return p.error();
        return f(*(*p)->backend);
    }
    std::vector<ProcPtr> procs() const;
    void drop(const ProcPtr& p, const std::string& why);
    void remember_gone(const std::string& socket, uint32_t domid);
    void publish(const hv::sdk::Event& e);
    hv::Result<std::string> config_name(const hv::sdk::CreateRequest& req) const;

    HvdOptions options_;
    std::shared_ptr<spdlog::logger> log_;
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring_;
    ManagedStore managed_;

    mutable std::mutex mu_;
    std::vector<ProcPtr> procs_;
    std::map<uint32_t, hv::sdk::DomainInfo> gone_; // the newest 256
    std::mutex create_mu_; // one create at a time: names must stay unique across processes
    unsigned spawned_ = 0;

    std::mutex sub_mu_;
    std::map<int, std::shared_ptr<std::function<void(const hv::sdk::Event&)>>> subscribers_;
    int next_sub_ = 1;
};

} // namespace hvd
