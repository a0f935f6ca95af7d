// Converting between the SDK's types and the control ABI's structs, and
// between hv::Errc and the ABI's status codes. Header-only; the client and
// the servers use the same functions, so the two ends cannot disagree.
#pragma once

#include <chrono>
#include <cstring>
#include <string>

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
    return d;
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
    if (w.kind < HV_CTL_EV_CREATED || w.kind > HV_CTL_EV_DESTROYED)
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

} // namespace hv::sdk::wire
