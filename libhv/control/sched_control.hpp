// SchedControl: the control ABI's scheduling ops (xl sched-credit,
// sched-rtds, vcpu-list, vcpu-pin) carried out on a host scheduler, in the
// SDK's types. hvd uses it for its host-wide SchedHost, MonitorBackend for
// an embedded monitor's own. handle_sched_request decodes an op's payload
// for either it or any sdk::Backend (same method names), so both servers
// check the bytes the same way.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "control/request_handler.hpp"
#include "hv/sdk/types.hpp"
#include "hv/sdk/wire_types.hpp"
#include "monitor/sched_host.hpp"

namespace hv::control {

class SchedControl {
public:
    explicit SchedControl(sched::SchedHost* host) : host_(host) {}

    Result<sdk::SchedHost> sched_host();
    Result<void> set_sched_host(const sdk::SchedHost& h);
    Result<sdk::SchedParams> sched_params(uint32_t domid);
    Result<void> set_sched_params(const sdk::SchedParams& p);
    Result<std::vector<sdk::VcpuInfo>> vcpu_list(std::optional<uint32_t> domid);
    Result<void> vcpu_pin(const sdk::VcpuPin& p);

private:
    sched::SchedHost* host_;
};

namespace sched_wire {
template <class T>
std::optional<T> exactly(std::string_view payload) {
    if (payload.size() != sizeof(T)) return std::nullopt;
    T t;
    std::memcpy(&t, payload.data(), sizeof t);
    return t;
}
inline Reply size_error(uint32_t op, size_t got, size_t want) {
    return Reply{HV_EINVAL, fmt::format("{}: payload of {} bytes, want {}", op_name(op), got, want)};
}
inline Reply done(const Result<void>& r) { return r ? Reply{HV_OK, {}} : error_reply(r.error()); }
} // namespace sched_wire

// One HV_SCHEDCTL_* request on `ops`: a SchedControl or an sdk::Backend.
template <class Ops>
Reply handle_sched_request(Ops& ops, uint32_t op, std::string_view payload) {
    using namespace sched_wire;
    namespace wire = sdk::wire;
    switch (op) {
    case HV_SCHEDCTL_HOST_GET: {
        if (!payload.empty()) return size_error(op, payload.size(), 0);
        auto h = ops.sched_host();
        return h ? Reply{HV_OK, wire::pack(wire::to_wire(*h))} : error_reply(h.error());
    }
    case HV_SCHEDCTL_HOST_SET: {
        auto w = exactly<hv_ctl_sched_host_t>(payload);
        if (!w) return size_error(op, payload.size(), sizeof(hv_ctl_sched_host_t));
        auto h = wire::from_wire(*w);
        if (!h) return error_reply(h.error());
        return done(ops.set_sched_host(*h));
    }
    case HV_SCHEDCTL_DOMAIN_GET:
    case HV_SCHEDCTL_VCPU_LIST: {
        auto w = exactly<hv_ctl_domid_t>(payload);
        if (!w) return size_error(op, payload.size(), sizeof(hv_ctl_domid_t));
        if (w->_pad0 != 0) return Reply{HV_EINVAL, fmt::format("{}: nonzero padding", op_name(op))};
        if (op == HV_SCHEDCTL_DOMAIN_GET) {
            auto p = ops.sched_params(w->domid);
            return p ? Reply{HV_OK, wire::pack(wire::to_wire(*p))} : error_reply(p.error());
        }
        auto rows = ops.vcpu_list(w->domid == HV_CTL_ALL_DOMAINS ? std::nullopt : std::optional<uint32_t>(w->domid));
        if (!rows) return error_reply(rows.error());
        std::string out;
        for (const auto& r : *rows) out += wire::pack(wire::to_wire(r));
        return Reply{HV_OK, std::move(out)};
    }
    case HV_SCHEDCTL_DOMAIN_SET: {
        auto w = exactly<hv_ctl_sched_domain_t>(payload);
        if (!w) return size_error(op, payload.size(), sizeof(hv_ctl_sched_domain_t));
        auto p = wire::from_wire(*w, false);
        if (!p) return error_reply(p.error());
        return done(ops.set_sched_params(*p));
    }
    case HV_SCHEDCTL_VCPU_PIN: {
        auto w = exactly<hv_ctl_vcpu_pin_t>(payload);
        if (!w) return size_error(op, payload.size(), sizeof(hv_ctl_vcpu_pin_t));
        auto p = wire::from_wire(*w);
        if (!p) return error_reply(p.error());
        return done(ops.vcpu_pin(*p));
    }
    default: return Reply{HV_ENOSYS, fmt::format("unknown control op {:#x}", op)};
    }
}

inline bool is_sched_op(uint32_t op) { return (op >> 16) == HV_CTL_GROUP_SCHEDCTL; }

} // namespace hv::control
