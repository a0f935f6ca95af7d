// Backend: the control operations, whoever carries them out: an embedded
// monitor in this process, or hvd over its socket. Connection wraps one.
// Every call is synchronous and thread-safe; errors are hv::Result with a
// stable Errc and a message. Subscription callbacks run on a backend
// thread; destroying the Subscription stops them (and waits for a running
// one to return).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <hv/result.hpp>
#include <hv/sdk/types.hpp>

namespace hv::sdk {

// "disk" or "vif", for messages. DeviceKind's values are the control
// ABI's HV_CTL_DEVICE_*.
inline const char* device_kind_name(DeviceKind k) { return k == DeviceKind::vif ? "vif" : "disk"; }

class Subscription {
public:
    virtual ~Subscription() = default;
};

class Backend {
public:
    virtual ~Backend() = default;
    static Error no_scheduler() { return make_error(Errc::not_supported, "this monitor runs no vCPU scheduler"); }

    virtual Result<uint32_t> create(const CreateRequest& req) = 0;
    virtual Result<void> destroy(uint32_t domid) = 0;
    virtual Result<void> pause(uint32_t domid) = 0;
    virtual Result<void> unpause(uint32_t domid) = 0;
    virtual Result<void> shutdown(uint32_t domid, const ShutdownRequest& req) = 0;
    virtual Result<void> rename(uint32_t domid, std::string_view name) = 0;
    // xl vcpu-set: asks the guest to have `online` vCPUs up (1..maxvcpus).
    virtual Result<void> set_vcpus(uint32_t domid, uint32_t online) = 0;
    virtual Result<DomainInfo> info(uint32_t domid) = 0;
    virtual Result<std::vector<DomainInfo>> list() = 0;
    virtual Result<uint32_t> lookup(std::string_view name_or_id) = 0;
    // Returns once the domain has stopped (s/c, or destroyed) or with
    // Errc::timed_out.
    virtual Result<DomainInfo> wait(uint32_t domid, uint32_t timeout_ms) = 0;
    virtual Result<void> console_write(uint32_t domid, ConsoleType type, std::string_view bytes) = 0;
    virtual Result<std::string> console_history(uint32_t domid, ConsoleType type) = 0;
    virtual Result<HostInfo> host_info() = 0;
    // xl block-list: the domain's disks in the guest's order.
    virtual Result<std::vector<BlockInfo>> block_list(uint32_t domid) {
        (void)domid;
        return make_error(Errc::not_supported, "this backend does not list disks");
    }
    // xl network-list: the domain's vifs in the config's order.
    virtual Result<std::vector<VifInfo>> network_list(uint32_t domid) {
        (void)domid;
        return make_error(Errc::not_supported, "this backend does not list vifs");
    }
    // A vif's transmit limit (xl.cfg's rate=) while it runs: `bytes` per
    // `interval_us`; 0 bytes lifts it.
    virtual Result<void> set_vif_rate(uint32_t domid, uint32_t devid, uint64_t bytes, uint32_t interval_us) {
        (void)domid, (void)devid, (void)bytes, (void)interval_us;
        return make_error(Errc::not_supported, "this backend does not set vif rates");
    }
    // xl block-attach / network-attach: `spec` is one xl disk= or vif= spec
    // (the text a config's list holds; "" is one vif with every default).
    // `flags`: HV_CTL_DEVICE_PERSIST (hvd: the managed domain's stored
    // definition gets it too). Returns the new device's devid.
    virtual Result<uint32_t> attach_device(uint32_t domid, DeviceKind kind, std::string_view spec, uint32_t flags) {
        (void)domid, (void)kind, (void)spec, (void)flags;
        return make_error(Errc::not_supported, "this backend does not attach devices");
    }
    // xl block-detach / network-detach: `device` is a disk's vdev or devid,
    // a vif's devid or MAC. Waits up to `timeout_ms` (0: 10 s) for the
    // guest to release it; `flags`: HV_CTL_DEVICE_FORCE (remove it without
    // waiting), HV_CTL_DEVICE_PERSIST.
    virtual Result<void> detach_device(uint32_t domid, DeviceKind kind, std::string_view device, uint32_t flags,
                                       uint32_t timeout_ms) {
        (void)domid, (void)kind, (void)device, (void)flags, (void)timeout_ms;
        return make_error(Errc::not_supported, "this backend does not detach devices");
    }
    // A disk's rate= and iops= limits while it runs (0 lifts one).
    virtual Result<void> set_disk_limits(uint32_t domid, uint32_t devid, const DiskLimits& limits) {
        (void)domid, (void)devid, (void)limits;
        return make_error(Errc::not_supported, "this backend does not set disk limits");
    }
    virtual Result<std::vector<std::string>> dmesg() = 0;

    // Managed domains (xl new / start / delete): hvd keeps their configs
    // across restarts; an embedded monitor has nowhere to keep them.
    virtual Result<void> define(const CreateRequest& req) = 0;
    virtual Result<uint32_t> start(std::string_view name) = 0;
    virtual Result<void> undefine(std::string_view name) = 0;
    virtual Result<std::vector<std::string>> list_defined() = 0;

    // The host's vCPU scheduler. A backend without one answers
    // Errc::not_supported.
    virtual Result<SchedHost> sched_host() { return no_scheduler(); }
    // A policy other than the running one switches live; then credit's
    // host-wide parameters given are set.
    virtual Result<void> set_sched_host(const SchedHost&) { return no_scheduler(); }
    virtual Result<SchedParams> sched_params(uint32_t) { return no_scheduler(); }
    virtual Result<void> set_sched_params(const SchedParams&) { return no_scheduler(); }
    // Every domain's vCPUs, or one domain's.
    virtual Result<std::vector<VcpuInfo>> vcpu_list(std::optional<uint32_t>) { return no_scheduler(); }
    virtual Result<void> vcpu_pin(const VcpuPin&) { return no_scheduler(); }

    virtual Result<std::unique_ptr<Subscription>> subscribe_events(std::function<void(const Event&)> fn) = 0;
    // History first, then live bytes, neither missed nor repeated.
    virtual Result<std::unique_ptr<Subscription>> subscribe_console(uint32_t domid, ConsoleType type,
                                                                    std::function<void(std::string_view)> fn) = 0;
};

} // namespace hv::sdk
