// Converting between the SDK's types and the control ABI's structs, and
// between hv::Errc and the ABI's status codes. Header-only; the client and
// the servers use the same functions, so the two ends cannot disagree.
#pragma once

#include <chrono>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include <hv/abi/control.h>
#include <hv/result.hpp>
#include <hv/sdk/types.hpp>
#include <hv/sdk/wire.hpp>

namespace hv::sdk::wire {

inline int32_t status_of(Errc e) {
    switch (e) {
    case Errc::invalid_argument: return HV_EINVAL;
    case Errc::not_found: return HV_ENOENT;
    case Errc::exists: return HV_EEXIST;
    case Errc::io_error: return HV_EIO;
    case Errc::parse_error: return HV_EBADMSG;
    case Errc::not_supported: return HV_ENOTSUP;
    case Errc::busy: return HV_EBUSY;
    case Errc::timed_out: return HV_ETIMEDOUT;
    case Errc::platform_error: return HV_ENODEV;
    case Errc::bad_image: return HV_ENOEXEC;
    case Errc::permission_denied: return HV_EACCES;
    case Errc::protocol_error: return HV_EPROTO;
    }
    return HV_EINVAL;
}

inline Errc errc_of(int32_t status) {
    switch (status) {
    case HV_ENOENT: return Errc::not_found;
    case HV_EEXIST: return Errc::exists;
    case HV_EIO: return Errc::io_error;
    case HV_EBADMSG: return Errc::parse_error;
    case HV_ENOTSUP: case HV_ENOSYS: return Errc::not_supported;
    case HV_EBUSY: return Errc::busy;
    case HV_ETIMEDOUT: return Errc::timed_out;
    case HV_ENODEV: return Errc::platform_error;
    case HV_ENOEXEC: return Errc::bad_image;
    case HV_EACCES: case HV_EPERM: return Errc::permission_denied;
    case HV_EPROTO: return Errc::protocol_error;
    default: return Errc::invalid_argument;
    }
}

inline uint32_t state_code(State s) {
    switch (s) {
    case State::running: return HV_CTL_STATE_RUNNING;
    case State::blocked: return HV_CTL_STATE_BLOCKED;
    case State::paused: return HV_CTL_STATE_PAUSED;
    case State::shutdown: return HV_CTL_STATE_SHUTDOWN;
    case State::crashed: return HV_CTL_STATE_CRASHED;
    case State::dying: return HV_CTL_STATE_DYING;
    }
    return HV_CTL_STATE_DYING;
}

inline State state_of(uint32_t code) {
    constexpr State states[] = {State::running, State::blocked, State::paused, State::shutdown, State::crashed, State::dying};
    return code < 6 ? states[code] : State::dying;
}

inline hv_ctl_domain_info_t to_wire(const DomainInfo& d) {
    hv_ctl_domain_info_t w{};
    w.domid = d.domid;
    w.state = state_code(d.state);
    w.vcpus = d.vcpus;
    w.vcpus_online = d.vcpus_online;
    w.memory_mib = d.memory_mib;
    w.cpu_time_ns = static_cast<uint64_t>(d.cpu_seconds * 1e9);
    w.uptime_ns = static_cast<uint64_t>(d.uptime_seconds * 1e9);
    w.shutdown_reason = d.shutdown_reason ? static_cast<uint32_t>(*d.shutdown_reason) : HV_CTL_NO_REASON;
    w.restarted_as = d.restarted_as;
    w.exists = d.exists ? 1 : 0;
    w.flags = d.unresponsive ? HV_CTL_INFO_UNRESPONSIVE : 0;
    std::memcpy(w.uuid, d.uuid.data(), 16);
    put_name(w.name, d.name);
    return w;
}

inline Result<DomainInfo> from_wire(const hv_ctl_domain_info_t& w) {
    auto name = get_name(w.name);
    if (!name) return make_error(Errc::protocol_error, "domain info: name is not NUL-terminated");
    if (w.shutdown_reason != HV_CTL_NO_REASON && w.shutdown_reason > HV_SHUTDOWN_CRASH)
        return make_error(Errc::protocol_error, "domain info: unknown shutdown reason " + std::to_string(w.shutdown_reason));
    DomainInfo d;
    d.domid = w.domid;
    d.name = *name;
    std::memcpy(d.uuid.data(), w.uuid, 16);
    d.state = state_of(w.state);
    d.vcpus = w.vcpus;
    d.vcpus_online = w.vcpus_online;
    d.memory_mib = w.memory_mib;
    d.cpu_seconds = static_cast<double>(w.cpu_time_ns) * 1e-9;
    d.uptime_seconds = static_cast<double>(w.uptime_ns) * 1e-9;
    if (w.shutdown_reason != HV_CTL_NO_REASON) d.shutdown_reason = static_cast<ShutdownReason>(w.shutdown_reason);
    d.restarted_as = w.restarted_as;
    d.exists = w.exists != 0;
    d.unresponsive = (w.flags & HV_CTL_INFO_UNRESPONSIVE) != 0;
    return d;
}

// Strings are cut to fit their fields (NUL-terminated); topology beyond
// the ABI's tables (CPUs from HV_CTL_PHYS_MAX_CPUS, nodes from
// HV_CTL_PHYS_MAX_NODES) is left out.
inline hv_ctl_physinfo_t to_wire(const HostInfo& h) {
    hv_ctl_physinfo_t w{};
    w.nr_cpus = h.nr_cpus;
    w.nr_domains = h.nr_domains;
    w.total_mib = h.total_mib;
    w.free_mib = h.free_mib;
    w.abi_version = h.abi_version;
    w.ctl_version = h.ctl_version;
    w.nr_nodes = h.nr_nodes;
    w.cores_per_socket = h.cores_per_socket;
    w.threads_per_core = h.threads_per_core;
    w.cpu_khz = h.cpu_khz;
    w.hv_major = h.hv_major;
    w.hv_minor = h.hv_minor;
    const auto put = [](auto& field, const std::string& s) {
        std::memcpy(field, s.data(), s.size() < sizeof field ? s.size() : sizeof field - 1);
    };
    put(w.hv_extra, h.hv_extra);
    put(w.scheduler, h.scheduler);
    put(w.host, h.host);
    put(w.release, h.release);
    put(w.version, h.version);
    put(w.machine, h.machine);
    const auto small = [](uint32_t v) { return static_cast<uint16_t>(v < HV_CTL_PHYS_UNKNOWN ? v : HV_CTL_PHYS_UNKNOWN); };
    for (uint32_t i = 0; i < HV_CTL_PHYS_MAX_CPUS; ++i)
        w.cpu_node[i] = w.cpu_core[i] = w.cpu_socket[i] = HV_CTL_PHYS_UNKNOWN;
    for (const HostInfo::Cpu& c : h.cpus) {
        if (c.cpu >= HV_CTL_PHYS_MAX_CPUS) continue;
        w.cpu_node[c.cpu] = small(c.node);
        w.cpu_core[c.cpu] = small(c.core);
        w.cpu_socket[c.cpu] = small(c.socket);
    }
    for (const HostInfo::Node& n : h.nodes) {
        if (n.node >= HV_CTL_PHYS_MAX_NODES) continue;
        w.node_mask |= 1u << n.node;
        w.node_total_mib[n.node] = n.total_mib;
        w.node_free_mib[n.node] = n.free_mib;
        for (size_t to = 0; to < n.distances.size() && to < HV_CTL_PHYS_MAX_NODES; ++to)
            w.node_distance[n.node][to] = static_cast<uint8_t>(n.distances[to] < 255 ? n.distances[to] : 255);
    }
    return w;
}

inline HostInfo from_wire(const hv_ctl_physinfo_t& p) {
    HostInfo h;
    h.nr_cpus = p.nr_cpus;
    h.nr_domains = p.nr_domains;
    h.total_mib = p.total_mib;
    h.free_mib = p.free_mib;
    h.abi_version = p.abi_version;
    h.ctl_version = p.ctl_version;
    h.nr_nodes = p.nr_nodes;
    h.cores_per_socket = p.cores_per_socket;
    h.threads_per_core = p.threads_per_core;
    h.cpu_khz = p.cpu_khz;
    h.hv_major = p.hv_major;
    h.hv_minor = p.hv_minor;
    const auto get = [](const auto& field) { // up to its first NUL (all of it if a peer left none)
        const void* nul = std::memchr(field, 0, sizeof field);
        return std::string(field, nul != nullptr ? static_cast<const char*>(nul) : field + sizeof field);
    };
    h.hv_extra = get(p.hv_extra);
    h.scheduler = get(p.scheduler);
    h.host = get(p.host);
    h.release = get(p.release);
    h.version = get(p.version);
    h.machine = get(p.machine);
    const auto wide = [](uint16_t v) { return v == HV_CTL_PHYS_UNKNOWN ? HostInfo::kUnknown : uint32_t{v}; };
    for (uint32_t i = 0; i < HV_CTL_PHYS_MAX_CPUS; ++i) {
        if (p.cpu_node[i] == HV_CTL_PHYS_UNKNOWN && p.cpu_core[i] == HV_CTL_PHYS_UNKNOWN &&
            p.cpu_socket[i] == HV_CTL_PHYS_UNKNOWN)
            continue;
        h.cpus.push_back(HostInfo::Cpu{i, wide(p.cpu_core[i]), wide(p.cpu_socket[i]), wide(p.cpu_node[i])});
    }
    uint32_t top = 0; // one past the highest node reported
    for (uint32_t n = 0; n < HV_CTL_PHYS_MAX_NODES; ++n)
        if ((p.node_mask & (1u << n)) != 0) top = n + 1;
    for (uint32_t n = 0; n < top; ++n) {
        if ((p.node_mask & (1u << n)) == 0) continue;
        HostInfo::Node node{n, p.node_total_mib[n], p.node_free_mib[n], {}};
        for (uint32_t to = 0; to < top; ++to) node.distances.push_back(p.node_distance[n][to]);
        h.nodes.push_back(std::move(node));
    }
    return h;
}

// ---- scheduler ----

inline Result<SchedPolicy> policy_of(uint32_t code) {
    if (code == HV_CTL_SCHED_CREDIT) return SchedPolicy::credit;
    if (code == HV_CTL_SCHED_RTDS) return SchedPolicy::rtds;
    return make_error(Errc::invalid_argument, "scheduler policy code " + std::to_string(code) + " is not credit (1) or rtds (2)");
}

inline hv_ctl_sched_host_t to_wire(const SchedHost& h) {
    hv_ctl_sched_host_t w{};
    w.policy = static_cast<uint32_t>(h.policy);
    w.tslice_us = h.tslice_us;
    w.tick_us = h.tick_us;
    w.ratelimit_us = !h.ratelimit_us ? 0 : *h.ratelimit_us == 0 ? HV_CTL_SCHED_NO_RATELIMIT : *h.ratelimit_us;
    w.pcpus = h.pcpus;
    return w;
}

inline Result<SchedHost> from_wire(const hv_ctl_sched_host_t& w) {
    auto p = policy_of(w.policy);
    if (!p) return p.error();
    SchedHost h;
    h.policy = *p;
    h.tslice_us = w.tslice_us;
    h.tick_us = w.tick_us;
    if (w.ratelimit_us == HV_CTL_SCHED_NO_RATELIMIT) h.ratelimit_us = 0;
    else if (w.ratelimit_us != 0) h.ratelimit_us = w.ratelimit_us;
    h.pcpus = w.pcpus;
    return h;
}

inline hv_ctl_sched_domain_t to_wire(const SchedParams& p) {
    hv_ctl_sched_domain_t w{};
    w.domid = p.domid;
    w.policy = static_cast<uint32_t>(p.policy);
    const auto put = [&w](const auto& v, uint32_t bit, uint32_t& field) {
        if (!v) return;
        w.set |= bit;
        field = static_cast<uint32_t>(*v);
    };
    put(p.weight, HV_CTL_SCHED_SET_WEIGHT, w.weight);
    put(p.cap, HV_CTL_SCHED_SET_CAP, w.cap);
    put(p.period_us, HV_CTL_SCHED_SET_PERIOD, w.period_us);
    put(p.budget_us, HV_CTL_SCHED_SET_BUDGET, w.budget_us);
    put(p.extratime, HV_CTL_SCHED_SET_EXTRATIME, w.extratime);
    return w;
}

// Fields flagged in `set`; in a reply (`reply`), every field of the
// policy, whatever `set` says.
inline Result<SchedParams> from_wire(const hv_ctl_sched_domain_t& w, bool reply) {
    auto policy = policy_of(w.policy);
    if (!policy) return policy.error();
    constexpr uint32_t known = HV_CTL_SCHED_SET_WEIGHT | HV_CTL_SCHED_SET_CAP | HV_CTL_SCHED_SET_PERIOD |
                               HV_CTL_SCHED_SET_BUDGET | HV_CTL_SCHED_SET_EXTRATIME;
    if ((w.set & ~known) != 0) return make_error(Errc::invalid_argument, "scheduler parameters: unknown bits in set");
    if (w.extratime > 1) return make_error(Errc::invalid_argument, "scheduler parameters: extratime is 0 or 1");
    // A request carries only what it sets: a value in a field it does not
    // flag is a mistake to report, not to ignore.
    const std::pair<uint32_t, uint32_t> fields[] = {{HV_CTL_SCHED_SET_WEIGHT, w.weight}, {HV_CTL_SCHED_SET_CAP, w.cap},
                                                    {HV_CTL_SCHED_SET_PERIOD, w.period_us}, {HV_CTL_SCHED_SET_BUDGET, w.budget_us},
                                                    {HV_CTL_SCHED_SET_EXTRATIME, w.extratime}};
    for (const auto& [bit, value] : fields)
        if (!reply && (w.set & bit) == 0 && value != 0)
            return make_error(Errc::invalid_argument, "scheduler parameters: a value in a field `set` does not flag");
    SchedParams p;
    p.domid = w.domid;
    p.policy = *policy;
    const uint32_t set = reply ? (*policy == SchedPolicy::credit ? HV_CTL_SCHED_SET_WEIGHT | HV_CTL_SCHED_SET_CAP
                                                                  : HV_CTL_SCHED_SET_PERIOD | HV_CTL_SCHED_SET_BUDGET |
                                                                        HV_CTL_SCHED_SET_EXTRATIME)
                               : w.set;
    if (set & HV_CTL_SCHED_SET_WEIGHT) p.weight = w.weight;
    if (set & HV_CTL_SCHED_SET_CAP) p.cap = w.cap;
    if (set & HV_CTL_SCHED_SET_PERIOD) p.period_us = w.period_us;
    if (set & HV_CTL_SCHED_SET_BUDGET) p.budget_us = w.budget_us;
    if (set & HV_CTL_SCHED_SET_EXTRATIME) p.extratime = w.extratime != 0;
    return p;
}

inline hv_ctl_block_info_t to_wire(const BlockInfo& b) {
    hv_ctl_block_info_t w{};
    w.devid = b.devid;
    w.flags = (b.read_only ? HV_CTL_BLOCK_READ_ONLY : 0u) | (b.connected ? HV_CTL_BLOCK_CONNECTED : 0u);
    w.bytes = b.bytes;
    // Checked at create (a vdev is short, a target at most 1023 bytes).
    (void)put_name(w.vdev, b.vdev);
    (void)put_name(w.guest, b.guest);
    (void)put_name(w.target, b.target);
    return w;
}

inline Result<BlockInfo> from_wire(const hv_ctl_block_info_t& w) {
    auto vdev = get_name(w.vdev);
    auto guest = get_name(w.guest);
    auto target = get_name(w.target);
    if (!vdev || !guest || !target || (w.flags & ~(HV_CTL_BLOCK_READ_ONLY | HV_CTL_BLOCK_CONNECTED)) != 0)
        return make_error(Errc::protocol_error, "block record with an unterminated name or unknown flags");
    BlockInfo b;
    b.devid = w.devid;
    b.vdev = std::move(*vdev);
    b.guest = std::move(*guest);
    b.target = std::move(*target);
    b.bytes = w.bytes;
    b.read_only = (w.flags & HV_CTL_BLOCK_READ_ONLY) != 0;
    b.connected = (w.flags & HV_CTL_BLOCK_CONNECTED) != 0;
    return b;
}

inline hv_ctl_vif_info_t to_wire(const VifInfo& v) {
    hv_ctl_vif_info_t w{};
    w.devid = v.devid;
    std::memcpy(w.mac, v.mac.data(), sizeof w.mac);
    w.mtu = v.mtu;
    w.rate_interval_us = v.rate_interval_us;
    w.rate_bytes = v.rate_bytes;
    w.rx_frames = v.rx_frames, w.rx_bytes = v.rx_bytes, w.rx_dropped = v.rx_dropped;
    w.tx_frames = v.tx_frames, w.tx_bytes = v.tx_bytes, w.tx_dropped = v.tx_dropped;
    // Interface names are at most 15 bytes (config/interface_name.hpp);
    // the script is vif-bridge or vif-route.
    (void)put_name(w.tap, v.tap);
    (void)put_name(w.bridge, v.bridge);
    (void)put_name(w.script, v.script);
    // Create takes at most 16 ip= (config::kMaxVifIps), and 16 of the
    // longest fit the field.
    (void)put_name(w.ips, v.ips);
    w.flags = v.connected ? HV_CTL_VIF_CONNECTED : 0u;
    return w;
}

inline Result<VifInfo> from_wire(const hv_ctl_vif_info_t& w) {
    auto tap = get_name(w.tap);
    auto bridge = get_name(w.bridge);
    auto script = get_name(w.script);
    auto ips = get_name(w.ips);
    if (!tap || !bridge || !script || !ips || (w.flags & ~HV_CTL_VIF_CONNECTED) != 0 || w._pad0 != 0)
        return make_error(Errc::protocol_error, "vif record with an unterminated name, unknown flags or nonzero padding");
    VifInfo v;
    v.devid = w.devid;
    std::memcpy(v.mac.data(), w.mac, sizeof w.mac);
    v.tap = std::move(*tap);
    v.bridge = std::move(*bridge);
    v.script = std::move(*script);
    v.ips = std::move(*ips);
    v.mtu = w.mtu;
    v.rate_bytes = w.rate_bytes;
    v.rate_interval_us = w.rate_interval_us;
    v.connected = (w.flags & HV_CTL_VIF_CONNECTED) != 0;
    v.rx_frames = w.rx_frames, v.rx_bytes = w.rx_bytes, v.rx_dropped = w.rx_dropped;
    v.tx_frames = w.tx_frames, v.tx_bytes = w.tx_bytes, v.tx_dropped = w.tx_dropped;
    return v;
}

inline hv_ctl_vcpu_info_t to_wire(const VcpuInfo& v) {
    hv_ctl_vcpu_info_t w{};
    w.domid = v.domid;
    w.vcpu = v.vcpu;
    w.state = static_cast<uint32_t>(v.state); // offline 0 .. running 3, as HV_CTL_VCPU_*
    w.cpu = v.cpu ? *v.cpu : HV_CTL_NO_CPU;
    w.runtime_ns = v.runtime_ns;
    w.hard = v.hard;
    w.soft = v.soft;
    return w;
}

inline Result<VcpuInfo> from_wire(const hv_ctl_vcpu_info_t& w) {
    if (w.state > HV_CTL_VCPU_RUNNING) return make_error(Errc::protocol_error, "vcpu state code " + std::to_string(w.state));
    VcpuInfo v;
    v.domid = w.domid;
    v.vcpu = w.vcpu;
    v.state = static_cast<VcpuState>(w.state);
    if (w.cpu != HV_CTL_NO_CPU) v.cpu = w.cpu;
    v.runtime_ns = w.runtime_ns;
    v.hard = w.hard;
    v.soft = w.soft;
    return v;
}

inline hv_ctl_vcpu_pin_t to_wire(const VcpuPin& p) {
    hv_ctl_vcpu_pin_t w{};
    w.domid = p.domid;
    w.vcpu = p.vcpu ? *p.vcpu : HV_CTL_ALL_VCPUS;
    if (p.hard) {
        w.set |= HV_CTL_PIN_HARD;
        w.hard = *p.hard;
    }
    if (p.soft) {
        w.set |= HV_CTL_PIN_SOFT;
        w.soft = *p.soft;
    }
    return w;
}

inline Result<VcpuPin> from_wire(const hv_ctl_vcpu_pin_t& w) {
    if ((w.set & ~(HV_CTL_PIN_HARD | HV_CTL_PIN_SOFT)) != 0 || w._pad0 != 0)
        return make_error(Errc::invalid_argument, "vcpu pin: unknown bits in set or nonzero padding");
    VcpuPin p;
    p.domid = w.domid;
    if (w.vcpu != HV_CTL_ALL_VCPUS) p.vcpu = w.vcpu;
    if (w.set & HV_CTL_PIN_HARD) p.hard = w.hard;
    if (w.set & HV_CTL_PIN_SOFT) p.soft = w.soft;
    return p;
}

inline hv_ctl_event_t to_wire(const Event& e) {
    hv_ctl_event_t w{};
    w.kind = static_cast<uint32_t>(e.kind);
    w.domid = e.domid;
    w.reason = e.reason ? static_cast<uint32_t>(*e.reason) : HV_CTL_NO_REASON;
    w.new_domid = e.new_domid;
    put_name(w.name, e.name);
    return w;
}

inline Result<Event> from_wire(const hv_ctl_event_t& w) {
    auto name = get_name(w.name);
    if (!name) return make_error(Errc::protocol_error, "event: name is not NUL-terminated");
    if (w.kind < HV_CTL_EV_CREATED || w.kind > HV_CTL_EV_RESPONSIVE)
        return make_error(Errc::protocol_error, "event: unknown kind " + std::to_string(w.kind));
    if (w.reason != HV_CTL_NO_REASON && w.reason > HV_SHUTDOWN_CRASH)
        return make_error(Errc::protocol_error, "event: unknown shutdown reason " + std::to_string(w.reason));
    Event e;
    e.kind = static_cast<Event::Kind>(w.kind);
    e.domid = w.domid;
    e.name = *name;
    if (w.reason != HV_CTL_NO_REASON) e.reason = static_cast<ShutdownReason>(w.reason);
    e.new_domid = w.new_domid;
    return e;
}

static_assert(static_cast<uint32_t>(Action::destroy) == HV_CTL_ACTION_DESTROY &&
                  static_cast<uint32_t>(Action::restart) == HV_CTL_ACTION_RESTART &&
                  static_cast<uint32_t>(Action::preserve) == HV_CTL_ACTION_PRESERVE &&
                  static_cast<uint32_t>(Action::rename_restart) == HV_CTL_ACTION_RENAME_RESTART &&
                  static_cast<uint32_t>(Action::coredump_destroy) == HV_CTL_ACTION_COREDUMP_DESTROY &&
                  static_cast<uint32_t>(Action::coredump_restart) == HV_CTL_ACTION_COREDUMP_RESTART &&
                  static_cast<uint32_t>(Action::soft_reset) == HV_CTL_ACTION_SOFT_RESET,
              "sdk::Action is the ABI's HV_CTL_ACTION_*");

// CREATE_SPEC's payload: hv_ctl_domain_spec_t, then kernel, ramdisk and
// command line. Refuses (naming the field) what the ABI cannot carry.
inline Result<std::string> spec_payload(const DomainSpec& d, bool paused) {
    hv_ctl_domain_spec_t w{};
    if (d.name.find('\0') != std::string::npos)
        return make_error(Errc::invalid_argument, "DomainSpec.name: contains a NUL byte");
    if (!put_name(w.name, d.name))
        return make_error(Errc::invalid_argument, "DomainSpec.name: " + std::to_string(d.name.size()) +
                                                      " bytes; at most " + std::to_string(HV_CTL_NAME_MAX - 1) + " fit");
    w.flags = (paused ? HV_CTL_CREATE_PAUSED : 0u) | (d.uuid ? HV_CTL_SPEC_UUID : 0u);
    w.vcpus = d.vcpus;
    w.memory_mib = d.memory_mib;
    if (d.uuid) std::memcpy(w.uuid, d.uuid->data(), sizeof w.uuid);
    w.on_poweroff = static_cast<uint32_t>(d.on_poweroff);
    w.on_reboot = static_cast<uint32_t>(d.on_reboot);
    w.on_crash = static_cast<uint32_t>(d.on_crash);
    const uint64_t trailer = uint64_t{d.kernel.size()} + d.ramdisk.size() + d.cmdline.size();
    if (trailer > HV_CTL_MAX_PAYLOAD - sizeof w)
        return make_error(Errc::invalid_argument, "DomainSpec: kernel, ramdisk and cmdline come to " +
                                                      std::to_string(trailer) + " bytes, over the control protocol's " +
                                                      std::to_string(HV_CTL_MAX_PAYLOAD) + "-byte limit");
    w.kernel_len = static_cast<uint32_t>(d.kernel.size());
    w.ramdisk_len = static_cast<uint32_t>(d.ramdisk.size());
    w.cmdline_len = static_cast<uint32_t>(d.cmdline.size());
    return pack(w, d.kernel + d.ramdisk + d.cmdline);
}

// The other way; `paused` gets the flag. What is wrong is named: the
// payload's shape ("create: ...") or a field ("DomainSpec.on_crash: ...").
// Values (an action code out of range too) are checked by the monitor, as
// a config file's are.
inline Result<DomainSpec> spec_from_payload(std::string_view payload, bool& paused) {
    auto w = unpack<hv_ctl_domain_spec_t>(payload);
    if (!w)
        return make_error(Errc::invalid_argument, "create (typed): payload of " + std::to_string(payload.size()) +
                                                      " bytes, want at least " + std::to_string(sizeof(hv_ctl_domain_spec_t)));
    if (const uint32_t unknown = w->flags & ~(HV_CTL_CREATE_PAUSED | HV_CTL_SPEC_UUID); unknown != 0)
        return make_error(Errc::invalid_argument, "create (typed): unknown flags " + std::to_string(unknown));
    const std::string_view trailer = payload.substr(sizeof(hv_ctl_domain_spec_t));
    if (trailer.size() != uint64_t{w->kernel_len} + w->ramdisk_len + w->cmdline_len)
        return make_error(Errc::invalid_argument, "create (typed): trailer of " + std::to_string(trailer.size()) +
                                                      " bytes, kernel_len + ramdisk_len + cmdline_len say " +
                                                      std::to_string(w->kernel_len) + " + " + std::to_string(w->ramdisk_len) +
                                                      " + " + std::to_string(w->cmdline_len));
    DomainSpec d;
    auto name = get_name(w->name);
    if (!name) return make_error(Errc::invalid_argument, "DomainSpec.name: not NUL-terminated");
    // Padding is zero (docs/abi.md): bytes after the name's NUL, and a
    // uuid sent without its flag, would be read differently by another
    // decoder.
    for (size_t i = name->size(); i < sizeof w->name; ++i)
        if (w->name[i] != 0) return make_error(Errc::invalid_argument, "DomainSpec.name: bytes after its NUL terminator");
    if ((w->flags & HV_CTL_SPEC_UUID) == 0)
        for (uint8_t b : w->uuid)
            if (b != 0) return make_error(Errc::invalid_argument, "DomainSpec.uuid: bytes set without HV_CTL_SPEC_UUID");
    d.name = std::move(*name);
    d.kernel = std::string(trailer.substr(0, w->kernel_len));
    d.ramdisk = std::string(trailer.substr(w->kernel_len, w->ramdisk_len));
    d.cmdline = std::string(trailer.substr(uint64_t{w->kernel_len} + w->ramdisk_len));
    d.memory_mib = w->memory_mib;
    d.vcpus = w->vcpus;
    if ((w->flags & HV_CTL_SPEC_UUID) != 0) {
        Uuid u{};
        std::memcpy(u.data(), w->uuid, u.size());
        d.uuid = u;
    }
    d.on_poweroff = static_cast<Action>(w->on_poweroff);
    d.on_reboot = static_cast<Action>(w->on_reboot);
    d.on_crash = static_cast<Action>(w->on_crash);
    paused = (w->flags & HV_CTL_CREATE_PAUSED) != 0;
    return d;
}

} // namespace hv::sdk::wire
