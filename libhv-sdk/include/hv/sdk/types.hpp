// The SDK's value types: what a domain, an event and the host look like to
// a control-plane program, whichever monitor (embedded or hvd) answers.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hv::sdk {

using Uuid = std::array<uint8_t, 16>;

// xl list's letters.
enum class State : char { running = 'r', blocked = 'b', paused = 'p', shutdown = 's', crashed = 'c', dying = 'd' };

enum class ShutdownReason : uint32_t { poweroff = 0, reboot = 1, suspend = 2, crash = 3 };

// Which console of a domain (xl console -t pv|serial); automatic: the one
// the guest's kernel command line names (HV_CTL_CONSOLE_DEFAULT).
enum class ConsoleType : uint32_t { automatic = 0, serial = 1, pv = 2 };

// One disk of a domain (xl block-list).
struct BlockInfo {
    uint32_t devid = 0;      // Xen's number for the vdev (xen-vbd-interface(7))
    std::string vdev;        // the config's name (xvda2)
    std::string guest;       // the guest's (vda)
    std::string target;      // the image or block device
    uint64_t bytes = 0;
    bool read_only = false;
    bool connected = false;  // the guest's driver has it running
};

// One network interface of a domain (xl network-list): a virtio-net
// device over a TAP on the host.
struct VifInfo {
    uint32_t devid = 0;
    std::array<uint8_t, 6> mac{};
    std::string tap;         // the host's interface (vif<domid>.<devid> or vifname=)
    std::string bridge;      // "" when routed
    std::string script;      // vif-bridge or vif-route
    std::string ips;         // ip=, blank-separated ("" for none)
    uint32_t mtu = 0;        // 0: not set (1500)
    uint64_t rate_bytes = 0; // the transmit limit: bytes per rate_interval_us; 0: none
    uint32_t rate_interval_us = 0;
    bool connected = false;  // the guest's driver has it running
    uint64_t rx_frames = 0, rx_bytes = 0, rx_dropped = 0; // to the guest
    uint64_t tx_frames = 0, tx_bytes = 0, tx_dropped = 0; // from the guest
};

// Which kind of device a hotplug call is about.
enum class DeviceKind : uint32_t { disk = 1, vif = 2 };

// A disk's limits (the disk spec's rate= and iops=): `rate_bytes` read or
// written per `rate_interval_us`, `iops` requests per `iops_interval_us`;
// 0 for none.
struct DiskLimits {
    uint64_t rate_bytes = 0;
    uint32_t rate_interval_us = 0;
    uint64_t iops = 0;
    uint32_t iops_interval_us = 0;
};

inline const char* reason_name(ShutdownReason r) {
    switch (r) {
    case ShutdownReason::poweroff: return "poweroff";
    case ShutdownReason::reboot: return "reboot";
    case ShutdownReason::suspend: return "suspend";
    case ShutdownReason::crash: return "crash";
    }
    return "unknown";
}

struct DomainInfo {
    uint32_t domid = 0;
    std::string name;
    Uuid uuid{};
    State state = State::running;
    uint32_t vcpus = 0;
    uint32_t vcpus_online = 0;
    uint64_t memory_mib = 0;
    double cpu_seconds = 0;
    double uptime_seconds = 0;
    std::optional<ShutdownReason> shutdown_reason;
    uint32_t restarted_as = 0; // on_* restart: the new domid
    bool exists = true;        // false: destroyed (last word from wait)
    bool unresponsive = false; // hvd: its monitor process does not answer (figures are the last known)
};

struct Event {
    enum class Kind : uint32_t { created = 1, paused, unpaused, shutdown, restarted, renamed, destroyed, unresponsive, responsive };
    Kind kind = Kind::created;
    uint32_t domid = 0;
    std::string name;
    std::optional<ShutdownReason> reason;
    uint32_t new_domid = 0;
};

inline const char* event_name(Event::Kind k) {
    switch (k) {
    case Event::Kind::created: return "created";
    case Event::Kind::paused: return "paused";
    case Event::Kind::unpaused: return "unpaused";
    case Event::Kind::shutdown: return "shutdown";
    case Event::Kind::restarted: return "restarted";
    case Event::Kind::renamed: return "renamed";
    case Event::Kind::destroyed: return "destroyed";
    case Event::Kind::unresponsive: return "unresponsive";
    case Event::Kind::responsive: return "responsive";
    }
    return "unknown";
}

// The host the monitor runs on (hvd's host, or this process's for
// embedded://) and the monitor's own hv build: what `hvctl info` prints.
// A figure the monitor could not learn is 0 (a string: empty).
struct HostInfo {
    uint32_t nr_cpus = 0; // online CPUs
    uint32_t nr_domains = 0;
    uint64_t total_mib = 0;
    uint64_t free_mib = 0;
    uint32_t abi_version = 0; // the guest ABI (HV_ABI_VERSION)
    uint32_t ctl_version = 0; // the control protocol spoken
    // uname(2): nodename, release, version, machine.
    std::string host, release, version, machine;
    uint32_t nr_nodes = 0; // NUMA nodes; 1 on a kernel without NUMA
    uint32_t cores_per_socket = 0;
    uint32_t threads_per_core = 0;
    uint32_t cpu_khz = 0; // as the host kernel reports it (/proc/cpuinfo)
    // The monitor's hv version: hv_major.hv_minor followed by hv_extra
    // (0, 1, ".0" for 0.1.0).
    uint32_t hv_major = 0;
    uint32_t hv_minor = 0;
    std::string hv_extra;
    std::string scheduler; // hv's own vCPU scheduler; "none": vCPUs are host threads the host kernel schedules

    static constexpr uint32_t kUnknown = 0xffff;
    // Where a host CPU sits (xl info -n's cpu_topology). kUnknown where
    // not known. The control ABI carries CPUs 0..255.
    struct Cpu {
        uint32_t cpu = 0;
        uint32_t core = kUnknown;   // core id within its socket
        uint32_t socket = kUnknown; // physical package
        uint32_t node = kUnknown;   // NUMA node
    };
    std::vector<Cpu> cpus; // ascending cpu
    // A NUMA node (xl info -n's numa_info). The control ABI carries nodes
    // 0..15.
    struct Node {
        uint32_t node = 0;
        uint64_t total_mib = 0;
        uint64_t free_mib = 0;
        std::vector<uint32_t> distances; // [n]: distance to node n (SLIT units, 10 = local); 0: unknown
    };
    std::vector<Node> nodes; // ascending node

    // "0.1.0": what hvd --version and xl's xen_version print.
    std::string hv_version() const { return std::to_string(hv_major) + "." + std::to_string(hv_minor) + hv_extra; }
};

// What a domain does when it stops for a reason (xl.cfg(5)'s on_poweroff,
// on_reboot, on_crash). The values are the control ABI's HV_CTL_ACTION_*.
enum class Action : uint32_t {
    destroy = 0,
    restart,
    preserve,
    rename_restart,
    coredump_destroy,
    coredump_restart,
    soft_reset,
};

// xl.cfg's spelling ("rename-restart").
inline const char* action_name(Action a) {
    switch (a) {
    case Action::destroy: return "destroy";
    case Action::restart: return "restart";
    case Action::preserve: return "preserve";
    case Action::rename_restart: return "rename-restart";
    case Action::coredump_destroy: return "coredump-destroy";
    case Action::coredump_restart: return "coredump-restart";
    case Action::soft_reset: return "soft-reset";
    }
    return "unknown";
}

// A domain described in code instead of a file. It travels to the monitor
// as typed fields (the control ABI's CREATE_SPEC), is checked there by the
// same rules as a config file, and a refusal names the field
// ("DomainSpec.memory_mib: ...").
struct DomainSpec {
    std::string name;
    std::string kernel;  // absolute path
    std::string ramdisk; // absolute path; "" for none
    std::string cmdline;
    uint64_t memory_mib = 128;
    uint32_t vcpus = 1;
    std::optional<Uuid> uuid; // generated when absent
    Action on_poweroff = Action::destroy;
    Action on_reboot = Action::restart;
    Action on_crash = Action::destroy;
};

// A domain to create: xl.cfg text, where it came from (an absolute path:
// errors cite it and relative paths such as kernel= resolve against its
// folder), and xl-style KEY=VALUE overrides; or a typed DomainSpec.
struct CreateRequest {
    std::string config_text;
    std::string source;
    std::vector<std::string> overrides;
    // Set: the domain is this spec, and config_text, source and overrides
    // are not used.
    std::optional<DomainSpec> spec;
    bool paused = false;
    bool replace = false; // define (xl new): replace a managed domain of that name
    // create: called with each warning (a key the monitor accepts but does
    // not act on, "file:line:col: key: why (ignored)") once it is created.
    std::function<void(const std::string&)> warn;
};

// ---- the host's vCPU scheduler (xl sched-credit, sched-rtds, vcpu-list,
// vcpu-pin). CPU masks: bit n = host CPU n; 0 = every host CPU. ----

enum class SchedPolicy : uint32_t { credit = 1, rtds = 2 }; // = HV_CTL_SCHED_*

inline const char* policy_name(SchedPolicy p) { return p == SchedPolicy::rtds ? "rtds" : "credit"; }

struct SchedHost {
    SchedPolicy policy = SchedPolicy::credit;
    // Credit's host-wide parameters (xl sched-credit -s); 0: leave as is.
    uint32_t tslice_us = 0;
    uint32_t tick_us = 0;
    std::optional<uint32_t> ratelimit_us; // unset: leave as is; 0: no rate limit
    uint64_t pcpus = 0;                   // replies: the host CPUs hv schedules on
};

// One domain's parameters. Replies fill the running policy's; a set
// changes only the fields given (they must be the running policy's).
struct SchedParams {
    uint32_t domid = 0;
    SchedPolicy policy = SchedPolicy::credit;
    std::optional<uint32_t> weight;    // credit 1..65535
    std::optional<uint32_t> cap;       // credit, percent of one CPU; 0: none
    std::optional<uint32_t> period_us; // rtds
    std::optional<uint32_t> budget_us; // rtds
    std::optional<bool> extratime;     // rtds
};

enum class VcpuState { offline, blocked, runnable, running };

struct VcpuInfo {
    uint32_t domid = 0;
    uint32_t vcpu = 0;
    VcpuState state = VcpuState::offline;
    std::optional<uint32_t> cpu; // where it runs or last ran
    uint64_t runtime_ns = 0;
    uint64_t hard = 0;
    uint64_t soft = 0;
};

// xl vcpu-pin: one vCPU (or all), new hard and/or soft affinity.
struct VcpuPin {
    uint32_t domid = 0;
    std::optional<uint32_t> vcpu; // unset: every vCPU
    std::optional<uint64_t> hard;
    std::optional<uint64_t> soft;
};

struct ShutdownRequest {
    ShutdownReason reason = ShutdownReason::poweroff;
    bool wait = false;        // return once the domain has stopped
    uint32_t timeout_ms = 0;  // with wait; Errc::timed_out after it
    bool force = false;       // with wait: destroy it at the timeout
};

} // namespace hv::sdk
