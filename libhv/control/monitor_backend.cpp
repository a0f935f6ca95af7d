#include "control/monitor_backend.hpp"

#include <sys/sysinfo.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>

#include <fmt/format.h>

#include "config/domain_config_loader.hpp"
#include "hv/abi/control.h"
#include "hv/sdk/connection.hpp"

namespace hv::control {

namespace {

// Unsubscribes on destruction.
class MonitorSubscription final : public sdk::Subscription {
public:
    explicit MonitorSubscription(std::function<void()> undo) : undo_(std::move(undo)) {}
    ~MonitorSubscription() override { undo_(); }

private:
    std::function<void()> undo_;
};

} // namespace

sdk::DomainInfo to_sdk(const DomainInfo& i) {
    sdk::DomainInfo d;
    d.domid = i.domid;
    d.name = i.name;
    d.uuid = i.uuid;
    d.state = static_cast<sdk::State>(core::state_letter(i.state));
    d.vcpus = i.vcpus;
    d.vcpus_online = i.vcpus_online;
    d.memory_mib = i.memory_mib;
    d.cpu_seconds = i.cpu_seconds;
    d.uptime_seconds = i.uptime_seconds;
    if (i.shutdown_reason) d.shutdown_reason = static_cast<sdk::ShutdownReason>(*i.shutdown_reason);
    d.restarted_as = i.restarted_as;
    d.exists = i.exists;
    return d;
}

sdk::Event to_sdk(const DomainEvent& e) {
    sdk::Event out;
    switch (e.kind) {
    case DomainEvent::Kind::created: out.kind = sdk::Event::Kind::created; break;
    case DomainEvent::Kind::paused: out.kind = sdk::Event::Kind::paused; break;
    case DomainEvent::Kind::unpaused: out.kind = sdk::Event::Kind::unpaused; break;
    case DomainEvent::Kind::shutdown: out.kind = sdk::Event::Kind::shutdown; break;
    case DomainEvent::Kind::restarted: out.kind = sdk::Event::Kind::restarted; break;
    case DomainEvent::Kind::renamed: out.kind = sdk::Event::Kind::renamed; break;
    case DomainEvent::Kind::destroyed: out.kind = sdk::Event::Kind::destroyed; break;
    }
    out.domid = e.domid;
    out.name = e.name;
    if (e.reason) out.reason = static_cast<sdk::ShutdownReason>(*e.reason);
    out.new_domid = e.new_domid;
    return out;
}

sdk::HostInfo host_figures(uint32_t nr_domains) {
    sdk::HostInfo h;
    h.nr_cpus = static_cast<uint32_t>(::sysconf(_SC_NPROCESSORS_ONLN));
    struct sysinfo si {};
    if (::sysinfo(&si) == 0) {
        h.total_mib = static_cast<uint64_t>(si.totalram) * si.mem_unit >> 20;
        h.free_mib = static_cast<uint64_t>(si.freeram) * si.mem_unit >> 20;
    }
    h.nr_domains = nr_domains;
    h.abi_version = HV_ABI_VERSION;
    h.ctl_version = HV_CTL_VERSION;
    return h;
}

Result<uint32_t> MonitorBackend::create(const sdk::CreateRequest& req) {
    auto cfg = config::parse_domain_config(req.config_text, req.source.empty() ? "config" : req.source, req.overrides);
    if (!cfg) return cfg.error();
    // Relative kernel paths mean the folder the config came from (as
    // load_domain_config does for files read here).
    const auto dir = std::filesystem::path(req.source).parent_path();
    if (!cfg->kernel.empty() && std::filesystem::path(cfg->kernel).is_relative() && !dir.empty())
        cfg->kernel = (dir / cfg->kernel).lexically_normal().string();
    return m_->create(*cfg, req.paused);
}

Result<void> MonitorBackend::shutdown(uint32_t domid, const sdk::ShutdownRequest& req) {
    if (auto r = m_->shutdown(domid, static_cast<core::ShutdownReason>(req.reason)); !r) return r;
    if (!req.wait) return {};
    auto stopped = m_->wait_stopped(domid, std::chrono::milliseconds(req.timeout_ms));
    if (stopped) return {};
    if (stopped.error().code == Errc::timed_out && req.force) return m_->destroy(domid);
    return stopped.error();
}

Result<sdk::DomainInfo> MonitorBackend::info(uint32_t domid) {
    auto i = m_->info(domid);
    if (!i) return i.error();
    return to_sdk(*i);
}

Result<std::vector<sdk::DomainInfo>> MonitorBackend::list() {
    std::vector<sdk::DomainInfo> out;
    for (const auto& i : m_->list()) out.push_back(to_sdk(i));
    return out;
}

Result<sdk::DomainInfo> MonitorBackend::wait(uint32_t domid, uint32_t timeout_ms) {
    auto i = m_->wait_stopped(domid, std::chrono::milliseconds(timeout_ms));
    if (!i) return i.error();
    return to_sdk(*i);
}

Result<sdk::HostInfo> MonitorBackend::host_info() { return host_figures(static_cast<uint32_t>(m_->list().size())); }

Result<std::unique_ptr<sdk::Subscription>> MonitorBackend::subscribe_events(std::function<void(const sdk::Event&)> fn) {
    Monitor* m = m_.get();
    const int id = m->subscribe([fn = std::move(fn)](const DomainEvent& e) { fn(to_sdk(e)); });
    return std::unique_ptr<sdk::Subscription>(new MonitorSubscription([m, id] { m->unsubscribe(id); }));
}

Result<std::unique_ptr<sdk::Subscription>> MonitorBackend::subscribe_console(uint32_t domid,
                                                                             std::function<void(std::string_view)> fn) {
    Monitor* m = m_.get();
    auto id = m->console_subscribe(domid, std::move(fn), true);
    if (!id) return id.error();
    const int sub = *id;
    return std::unique_ptr<sdk::Subscription>(new MonitorSubscription([m, domid, sub] { m->console_unsubscribe(domid, sub); }));
}

} // namespace hv::control

// The SDK's embedded:// hook (declared weak in hv/sdk/connection.hpp):
// linking libhv makes embedded connections possible.
hv::Result<std::unique_ptr<hv::sdk::Backend>> hv_sdk_make_embedded_backend() {
    auto m = hv::Monitor::open();
    if (!m) return m.error();
    return std::unique_ptr<hv::sdk::Backend>(new hv::control::MonitorBackend(std::move(*m)));
}
