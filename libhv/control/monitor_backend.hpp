// MonitorBackend: the SDK's Backend carried out by an hv::Monitor in this
// process. It is what `embedded://` connections use, and what each
// domain's monitor process serves to hvd.
#pragma once

#include <chrono>
#include <memory>

#include "control/request_handler.hpp"
#include "control/sched_control.hpp"
#include "hv/sdk/backend.hpp"
#include "monitor/monitor.hpp"

namespace hv::control {

class MonitorBackend final : public sdk::Backend {
public:
    explicit MonitorBackend(std::unique_ptr<Monitor> monitor) : m_(std::move(monitor)) {}

    Monitor& monitor() { return *m_; }

    Result<uint32_t> create(const sdk::CreateRequest& req) override;
    Result<void> destroy(uint32_t domid) override { return m_->destroy(domid); }
    Result<void> pause(uint32_t domid) override { return m_->pause(domid); }
    Result<void> unpause(uint32_t domid) override { return m_->unpause(domid); }
    Result<void> shutdown(uint32_t domid, const sdk::ShutdownRequest& req) override;
    Result<void> rename(uint32_t domid, std::string_view name) override { return m_->rename(domid, name); }
    Result<void> set_vcpus(uint32_t domid, uint32_t online) override { return m_->set_vcpus(domid, online); }
    Result<sdk::DomainInfo> info(uint32_t domid) override;
    Result<std::vector<sdk::DomainInfo>> list() override;
    Result<uint32_t> lookup(std::string_view name_or_id) override { return m_->lookup(name_or_id); }
    Result<sdk::DomainInfo> wait(uint32_t domid, uint32_t timeout_ms) override;
    Result<void> console_write(uint32_t domid, sdk::ConsoleType type, std::string_view bytes) override {
        return m_->console_input(domid, kind_of(type), bytes);
    }
    Result<std::string> console_history(uint32_t domid, sdk::ConsoleType type) override {
        return m_->console_history(domid, kind_of(type));
    }
    Result<sdk::HostInfo> host_info() override;
    Result<std::vector<std::string>> dmesg() override { return m_->dmesg(); }
    // The monitor's own host scheduler (Monitor::Options::Sched::Mode::own).
    Result<sdk::SchedHost> sched_host() override { return sched().sched_host(); }
    Result<void> set_sched_host(const sdk::SchedHost& h) override { return sched().set_sched_host(h); }
    Result<sdk::SchedParams> sched_params(uint32_t domid) override { return sched().sched_params(domid); }
    Result<void> set_sched_params(const sdk::SchedParams& p) override { return sched().set_sched_params(p); }
    Result<std::vector<sdk::VcpuInfo>> vcpu_list(std::optional<uint32_t> domid) override { return sched().vcpu_list(domid); }
    Result<void> vcpu_pin(const sdk::VcpuPin& p) override { return sched().vcpu_pin(p); }
    Result<void> define(const sdk::CreateRequest&) override { return managed_unsupported(); }
    Result<uint32_t> start(std::string_view) override { return managed_unsupported(); }
    Result<void> undefine(std::string_view) override { return managed_unsupported(); }
    Result<std::vector<std::string>> list_defined() override { return managed_unsupported(); }
    Result<std::unique_ptr<sdk::Subscription>> subscribe_events(std::function<void(const sdk::Event&)> fn) override;
    Result<std::vector<sdk::BlockInfo>> block_list(uint32_t domid) override { return m_->block_list(domid); }
    Result<std::vector<sdk::VifInfo>> network_list(uint32_t domid) override { return m_->network_list(domid); }
    Result<void> set_vif_rate(uint32_t domid, uint32_t devid, uint64_t bytes, uint32_t interval_us) override {
        return m_->set_vif_rate(domid, devid, bytes, interval_us);
    }
    // PERSIST changes a managed domain's stored definition, which is hvd's
    // (it acts on the flag and never passes it on): a monitor on its own
    // has none to change, and says so rather than drop the request's half.
    Result<uint32_t> attach_device(uint32_t domid, sdk::DeviceKind kind, std::string_view spec, uint32_t flags) override {
        if ((flags & HV_CTL_DEVICE_PERSIST) != 0) return persist_unsupported();
        return m_->attach_device(domid, kind, spec);
    }
    Result<void> detach_device(uint32_t domid, sdk::DeviceKind kind, std::string_view device, uint32_t flags,
                               uint32_t timeout_ms) override {
        if ((flags & HV_CTL_DEVICE_PERSIST) != 0) return persist_unsupported();
        return m_->detach_device(domid, kind, device, (flags & HV_CTL_DEVICE_FORCE) != 0,
                                 std::chrono::milliseconds(device_timeout_ms(timeout_ms)));
    }
    Result<void> set_disk_limits(uint32_t domid, uint32_t devid, const sdk::DiskLimits& limits) override {
        return m_->set_disk_limits(domid, devid, limits);
    }
    static Domain::ConsoleKind kind_of(sdk::ConsoleType t) {
        return t == sdk::ConsoleType::serial ? Domain::ConsoleKind::serial
               : t == sdk::ConsoleType::pv   ? Domain::ConsoleKind::pv
                                             : Domain::ConsoleKind::automatic;
    }
    Result<std::unique_ptr<sdk::Subscription>> subscribe_console(uint32_t domid, sdk::ConsoleType type,
                                                                 std::function<void(std::string_view)> fn) override;

private:
    SchedControl sched() { return SchedControl(m_->sched_host()); }
    static Error managed_unsupported() {
        return make_error(Errc::not_supported, "managed domains (new/start/delete) need hvd; an embedded monitor keeps no state");
    }
    static Error persist_unsupported() {
        return make_error(Errc::not_supported,
                          "persist changes a managed domain's stored definition, which needs hvd; an embedded monitor keeps no state");
    }
    std::unique_ptr<Monitor> m_;
};

// The DomainConfig a request describes, relative paths (kernel=,
// ramdisk=) resolved against the folder of its source.
Result<config::DomainConfig> config_of(const sdk::CreateRequest& req);

sdk::DomainInfo to_sdk(const DomainInfo& i);
sdk::Event to_sdk(const DomainEvent& e);

// Host figures (xl info): CPUs and memory from the OS; `scheduler`: hv's
// vCPU scheduler policy, "none" when the host kernel's runs the vCPUs.
sdk::HostInfo host_figures(uint32_t nr_domains, std::string scheduler);

} // namespace hv::control
