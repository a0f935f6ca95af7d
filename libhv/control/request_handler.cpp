#include "control/request_handler.hpp"

#include <fmt/format.h>

#include "config/guest_vifs.hpp"
#include "control/sched_control.hpp"
#include "hv/sdk/wire_types.hpp"

namespace hv::control {

namespace wire = sdk::wire;

namespace {

Reply ok(std::string payload = {}) { return Reply{HV_OK, std::move(payload)}; }

Reply bad(std::string why) { return Reply{HV_EINVAL, std::move(why)}; }

Reply from(const Result<void>& r) { return r ? ok() : error_reply(r.error()); }

// The request struct, which must be the whole payload (or its head, when
// the op has a trailer).
template <class T>
std::optional<T> exactly(std::string_view payload) {
    if (payload.size() != sizeof(T)) return std::nullopt;
    return wire::unpack<T>(payload);
}

// A limit given as `amount` per `interval_us` while the device runs (a
// vif's rate, a disk's rate and iops), by create's rule for the same key:
// 0 lifts it; any other amount needs an interval. `what` names it.
std::string limit_problem(std::string_view what, uint64_t amount, const char* unit, uint32_t interval_us) {
    if (amount == 0 || interval_us != 0) return {};
    return fmt::format("{}: {} {} per an interval of 0us (a limit needs an interval)", what, amount, unit);
}

// VIF_SET_RATE's numbers: the rule above, and create's ceiling for rate=.
std::string vif_rate_problem(const hv_ctl_vif_rate_t& r) {
    if (r._pad0 != 0) return "vif rate: nonzero padding";
    if (auto why = limit_problem("vif rate", r.rate_bytes, "bytes", r.interval_us); !why.empty()) return why;
    if (r.rate_bytes != 0 && config::vif_rate_over_limit(r.rate_bytes, r.interval_us))
        return fmt::format("vif rate: {} bytes per {}us is over 100Gb/s", r.rate_bytes, r.interval_us);
    return {};
}

// DISK_SET_LIMITS' numbers: the same rule for each (create sets no
// ceiling on a disk's rate= or iops=, so neither does this).
std::string disk_limits_problem(const hv_ctl_disk_limits_t& l) {
    if (auto why = limit_problem("disk limits: rate", l.rate_bytes, "bytes", l.rate_interval_us); !why.empty()) return why;
    return limit_problem("disk limits: iops", l.iops, "requests", l.iops_interval_us);
}

// A string field's text, or what is wrong with it: no NUL, or bytes after
// its NUL (padding, which is zero: docs/abi.md).
template <size_t N>
std::optional<std::string> field_text(const char (&field)[N], const char* op, const char* what, std::string& problem) {
    auto text = wire::get_name(field);
    if (!text) {
        problem = fmt::format("{}: {} not NUL-terminated (at most {} bytes)", op, what, N - 1);
        return std::nullopt;
    }
    for (size_t i = text->size(); i < N; ++i)
        if (field[i] != 0) {
            problem = fmt::format("{}: {} has nonzero bytes after its NUL", op, what);
            return std::nullopt;
        }
    return text;
}

// The checks DEVICE_ATTACH and DEVICE_DETACH share; "" or what is wrong.
std::string device_head_problem(const char* op, uint32_t kind, uint32_t flags, uint32_t known_flags) {
    if ((flags & ~known_flags) != 0) return fmt::format("{}: unknown flags {:#x}", op, flags & ~known_flags);
    if (kind != HV_CTL_DEVICE_DISK && kind != HV_CTL_DEVICE_VIF)
        return fmt::format("{}: unknown device kind {} ({} disk, {} vif)", op, kind, HV_CTL_DEVICE_DISK, HV_CTL_DEVICE_VIF);
    return {};
}

std::string info_list(const std::vector<sdk::DomainInfo>& list) {
    std::string out;
    for (const auto& d : list) out += wire::pack(wire::to_wire(d));
    return out;
}

Reply size_error(const char* op, size_t got, size_t want) {
    return bad(fmt::format("{}: payload of {} bytes, want {}", op, got, want));
}

} // namespace

const char* op_name(uint32_t op) {
    switch (op) {
    case HV_DOMCTL_CREATE: return "create";
    case HV_DOMCTL_CREATE_SPEC: return "create (typed)";
    case HV_DOMCTL_DEFINE: return "define";
    case HV_DOMCTL_DESTROY: return "destroy";
    case HV_DOMCTL_PAUSE: return "pause";
    case HV_DOMCTL_UNPAUSE: return "unpause";
    case HV_DOMCTL_INFO: return "info";
    case HV_DOMCTL_CONSOLE_HISTORY: return "console history";
    case HV_DOMCTL_START: return "start";
    case HV_DOMCTL_UNDEFINE: return "undefine";
    case HV_DOMCTL_SHUTDOWN: return "shutdown";
    case HV_DOMCTL_RENAME: return "rename";
    case HV_DOMCTL_VCPU_SET: return "vcpu set";
    case HV_DOMCTL_BLOCK_LIST: return "block list";
    case HV_DOMCTL_NETWORK_LIST: return "network list";
    case HV_DOMCTL_VIF_SET_RATE: return "vif rate";
    case HV_DOMCTL_DEVICE_ATTACH: return "device attach";
    case HV_DOMCTL_DEVICE_DETACH: return "device detach";
    case HV_DOMCTL_DISK_SET_LIMITS: return "disk limits";
    case HV_DOMCTL_LIST: return "list";
    case HV_DOMCTL_LOOKUP: return "lookup";
    case HV_DOMCTL_WAIT: return "wait";
    case HV_DOMCTL_CONSOLE_WRITE: return "console write";
    case HV_DOMCTL_LIST_DEFINED: return "list defined";
    case HV_SYSCTL_PHYSINFO: return "physinfo";
    case HV_SYSCTL_DMESG: return "dmesg";
    case HV_SCHEDCTL_HOST_GET: return "scheduler get";
    case HV_SCHEDCTL_HOST_SET: return "scheduler set";
    case HV_SCHEDCTL_DOMAIN_GET: return "scheduler parameters get";
    case HV_SCHEDCTL_DOMAIN_SET: return "scheduler parameters set";
    case HV_SCHEDCTL_VCPU_LIST: return "vcpu list";
    case HV_SCHEDCTL_VCPU_PIN: return "vcpu pin";
    default: return "request";
    }
}

std::string decode_create(std::string_view payload, sdk::CreateRequest& c, uint32_t op_code) {
    const char* op = op_name(op_code);
    if (op_code == HV_DOMCTL_CREATE_SPEC) {
        auto spec = wire::spec_from_payload(payload, c.paused);
        if (!spec) return spec.error().message;
        c.spec = std::move(*spec);
        return {};
    }
    auto req = wire::unpack<hv_ctl_create_t>(payload);
    if (!req) return fmt::format("{}: payload of {} bytes, want at least {}", op, payload.size(), sizeof(hv_ctl_create_t));
    const uint32_t known = op_code == HV_DOMCTL_DEFINE ? HV_CTL_CREATE_PAUSED | HV_CTL_CREATE_REPLACE : HV_CTL_CREATE_PAUSED;
    if ((req->flags & ~known) != 0) return fmt::format("{}: unknown flags", op);
    const std::string_view trailer = payload.substr(sizeof(hv_ctl_create_t));
    if (trailer.size() != uint64_t{req->source_len} + req->text_len + req->overrides_len)
        return fmt::format("{}: trailer of {} bytes, header says {} + {} + {}", op, trailer.size(), req->source_len,
                           req->text_len, req->overrides_len);
    c.source = std::string(trailer.substr(0, req->source_len));
    c.config_text = std::string(trailer.substr(req->source_len, req->text_len));
    std::string_view overrides = trailer.substr(uint64_t{req->source_len} + req->text_len);
    while (!overrides.empty()) {
        const size_t nl = overrides.find('\n');
        if (nl == std::string_view::npos) return fmt::format("{}: overrides must each end with a newline", op);
        c.overrides.emplace_back(overrides.substr(0, nl));
        overrides.remove_prefix(nl + 1);
    }
    c.paused = (req->flags & HV_CTL_CREATE_PAUSED) != 0;
    c.replace = (req->flags & HV_CTL_CREATE_REPLACE) != 0;
    return {};
}

std::string decode_device_attach(std::string_view payload, DeviceAttach& out) {
    const char* op = op_name(HV_DOMCTL_DEVICE_ATTACH);
    auto req = exactly<hv_ctl_device_attach_t>(payload);
    if (!req) return fmt::format("{}: payload of {} bytes, want {}", op, payload.size(), sizeof(hv_ctl_device_attach_t));
    if (auto why = device_head_problem(op, req->kind, req->flags, HV_CTL_DEVICE_PERSIST); !why.empty()) return why;
    if (req->_pad0 != 0) return fmt::format("{}: nonzero padding", op);
    std::string problem;
    auto spec = field_text(req->spec, op, "spec", problem);
    if (!spec) return problem;
    // vif = [''] is one vif with every default; a disk needs a target and a vdev.
    if (spec->empty() && req->kind == HV_CTL_DEVICE_DISK) return fmt::format("{}: empty disk spec", op);
    out = DeviceAttach{req->domid, static_cast<sdk::DeviceKind>(req->kind), req->flags, std::move(*spec)};
    return {};
}

std::string decode_device_detach(std::string_view payload, DeviceDetach& out) {
    const char* op = op_name(HV_DOMCTL_DEVICE_DETACH);
    auto req = exactly<hv_ctl_device_detach_t>(payload);
    if (!req) return fmt::format("{}: payload of {} bytes, want {}", op, payload.size(), sizeof(hv_ctl_device_detach_t));
    if (auto why = device_head_problem(op, req->kind, req->flags, HV_CTL_DEVICE_FORCE | HV_CTL_DEVICE_PERSIST); !why.empty())
        return why;
    if (req->timeout_ms > HV_CTL_DEVICE_TIMEOUT_MAX_MS)
        return fmt::format("{}: timeout of {} ms is over the limit of {} ms", op, req->timeout_ms, HV_CTL_DEVICE_TIMEOUT_MAX_MS);
    std::string problem;
    auto device = field_text(req->device, op, "device name", problem);
    if (!device) return problem;
    if (device->empty()) return fmt::format("{}: empty device name", op);
    out = DeviceDetach{req->domid, static_cast<sdk::DeviceKind>(req->kind), req->flags, req->timeout_ms, std::move(*device)};
    return {};
}

std::string encode_device_attach(const DeviceAttach& a) {
    hv_ctl_device_attach_t w{};
    w.domid = a.domid;
    w.kind = static_cast<uint32_t>(a.kind);
    w.flags = a.flags;
    (void)wire::put_name(w.spec, a.spec); // decoded from this field: it fits
    return wire::pack(w);
}

std::string encode_device_detach(const DeviceDetach& d) {
    hv_ctl_device_detach_t w{};
    w.domid = d.domid;
    w.kind = static_cast<uint32_t>(d.kind);
    w.flags = d.flags;
    w.timeout_ms = d.timeout_ms;
    (void)wire::put_name(w.device, d.device);
    return wire::pack(w);
}

Reply error_reply(const Error& e) { return Reply{wire::status_of(e.code), e.message}; }

Reply handle_request(sdk::Backend& b, uint32_t op, std::string_view payload) {
    switch (op) {
    case HV_SYSCTL_PHYSINFO: {
        if (!payload.empty()) return size_error("physinfo", payload.size(), 0);
        auto h = b.host_info();
        if (!h) return error_reply(h.error());
        return ok(wire::pack(wire::to_wire(*h)));
    }
    case HV_SYSCTL_DMESG: {
        if (!payload.empty()) return size_error("dmesg", payload.size(), 0);
        auto lines = b.dmesg();
        if (!lines) return error_reply(lines.error());
        std::string text;
        for (const auto& l : *lines) text += l + "\n";
        return ok(std::move(text));
    }
    case HV_DOMCTL_CREATE:
    case HV_DOMCTL_CREATE_SPEC:
    case HV_DOMCTL_DEFINE: {
        sdk::CreateRequest c;
        if (auto why = decode_create(payload, c, op); !why.empty()) return bad(why);
        if (op == HV_DOMCTL_DEFINE) return from(b.define(c));
        std::string warnings; // after the domid, one per line
        c.warn = [&warnings](const std::string& w) { warnings += w + "\n"; };
        auto id = b.create(c);
        if (!id) return error_reply(id.error());
        return ok(wire::pack(hv_ctl_domid_t{*id, 0}, warnings));
    }
    case HV_DOMCTL_START:
    case HV_DOMCTL_UNDEFINE: {
        auto req = exactly<hv_ctl_lookup_t>(payload);
        if (!req) return size_error(op_name(op), payload.size(), sizeof(hv_ctl_lookup_t));
        auto name = wire::get_name(req->name);
        if (!name) return bad(fmt::format("{}: name not NUL-terminated", op_name(op)));
        if (op == HV_DOMCTL_UNDEFINE) return from(b.undefine(*name));
        auto id = b.start(*name);
        return id ? ok(wire::pack(hv_ctl_domid_t{*id, 0})) : error_reply(id.error());
    }
    case HV_DOMCTL_LIST_DEFINED: {
        if (!payload.empty()) return size_error("list defined", payload.size(), 0);
        auto names = b.list_defined();
        if (!names) return error_reply(names.error());
        std::string text;
        for (const auto& n : *names) text += n + "\n";
        return ok(std::move(text));
    }
    case HV_DOMCTL_BLOCK_LIST: {
        auto req = exactly<hv_ctl_domid_t>(payload);
        if (!req) return size_error("block list", payload.size(), sizeof(hv_ctl_domid_t));
        if (req->_pad0 != 0) return bad("block list: nonzero padding");
        auto l = b.block_list(req->domid);
        if (!l) return error_reply(l.error());
        std::string out;
        for (const sdk::BlockInfo& d : *l) out += wire::pack(wire::to_wire(d));
        return ok(std::move(out));
    }
    case HV_DOMCTL_NETWORK_LIST: {
        auto req = exactly<hv_ctl_domid_t>(payload);
        if (!req) return size_error("network list", payload.size(), sizeof(hv_ctl_domid_t));
        if (req->_pad0 != 0) return bad("network list: nonzero padding");
        auto l = b.network_list(req->domid);
        if (!l) return error_reply(l.error());
        std::string out;
        for (const sdk::VifInfo& v : *l) out += wire::pack(wire::to_wire(v));
        return ok(std::move(out));
    }
    case HV_DOMCTL_VIF_SET_RATE: {
        auto req = exactly<hv_ctl_vif_rate_t>(payload);
        if (!req) return size_error("vif rate", payload.size(), sizeof(hv_ctl_vif_rate_t));
        if (auto why = vif_rate_problem(*req); !why.empty()) return bad(why);
        return from(b.set_vif_rate(req->domid, req->devid, req->rate_bytes, req->interval_us));
    }
    case HV_DOMCTL_DEVICE_ATTACH: {
        DeviceAttach a;
        if (auto why = decode_device_attach(payload, a); !why.empty()) return bad(why);
        auto id = b.attach_device(a.domid, a.kind, a.spec, a.flags);
        return id ? ok(wire::pack(hv_ctl_device_id_t{*id, 0})) : error_reply(id.error());
    }
    case HV_DOMCTL_DEVICE_DETACH: {
        DeviceDetach d;
        if (auto why = decode_device_detach(payload, d); !why.empty()) return bad(why);
        return from(b.detach_device(d.domid, d.kind, d.device, d.flags, d.timeout_ms));
    }
    case HV_DOMCTL_DISK_SET_LIMITS: {
        auto req = exactly<hv_ctl_disk_limits_t>(payload);
        if (!req) return size_error("disk limits", payload.size(), sizeof(hv_ctl_disk_limits_t));
        if (auto why = disk_limits_problem(*req); !why.empty()) return bad(why);
        return from(b.set_disk_limits(req->domid, req->devid,
                                      sdk::DiskLimits{req->rate_bytes, req->rate_interval_us, req->iops, req->iops_interval_us}));
    }
    case HV_DOMCTL_CONSOLE_HISTORY: {
        auto req = exactly<hv_ctl_console_t>(payload);
        if (!req) return size_error(op_name(op), payload.size(), sizeof(hv_ctl_console_t));
        if (req->console > HV_CTL_CONSOLE_PV) return bad(fmt::format("console history: unknown console {}", req->console));
        auto h = b.console_history(req->domid, static_cast<sdk::ConsoleType>(req->console));
        return h ? ok(*h) : error_reply(h.error());
    }
    case HV_DOMCTL_DESTROY:
    case HV_DOMCTL_PAUSE:
    case HV_DOMCTL_UNPAUSE:
    case HV_DOMCTL_INFO: {
        auto req = exactly<hv_ctl_domid_t>(payload);
        if (!req) return size_error(op_name(op), payload.size(), sizeof(hv_ctl_domid_t));
        if (req->_pad0 != 0) return bad(fmt::format("{}: nonzero padding", op_name(op)));
        if (op == HV_DOMCTL_DESTROY) return from(b.destroy(req->domid));
        if (op == HV_DOMCTL_PAUSE) return from(b.pause(req->domid));
        if (op == HV_DOMCTL_UNPAUSE) return from(b.unpause(req->domid));
        auto i = b.info(req->domid);
        return i ? ok(wire::pack(wire::to_wire(*i))) : error_reply(i.error());
    }
    case HV_DOMCTL_SHUTDOWN: {
        auto req = exactly<hv_ctl_shutdown_t>(payload);
        if (!req) return size_error("shutdown", payload.size(), sizeof(hv_ctl_shutdown_t));
        if (req->reason != HV_SHUTDOWN_POWEROFF && req->reason != HV_SHUTDOWN_REBOOT)
            return bad(fmt::format("shutdown: reason {} (the control plane may ask for poweroff or reboot)", req->reason));
        if ((req->flags & ~(HV_CTL_SHUTDOWN_WAIT | HV_CTL_SHUTDOWN_FORCE)) != 0) return bad("shutdown: unknown flags");
        sdk::ShutdownRequest s;
        s.reason = static_cast<sdk::ShutdownReason>(req->reason);
        s.wait = (req->flags & HV_CTL_SHUTDOWN_WAIT) != 0;
        s.force = (req->flags & HV_CTL_SHUTDOWN_FORCE) != 0;
        s.timeout_ms = req->timeout_ms;
        return from(b.shutdown(req->domid, s));
    }
    case HV_DOMCTL_RENAME: {
        auto req = exactly<hv_ctl_rename_t>(payload);
        if (!req) return size_error("rename", payload.size(), sizeof(hv_ctl_rename_t));
        auto name = wire::get_name(req->name);
        if (!name || req->_pad0 != 0) return bad("rename: name not NUL-terminated or nonzero padding");
        return from(b.rename(req->domid, *name));
    }
    case HV_DOMCTL_VCPU_SET: {
        auto req = exactly<hv_ctl_vcpu_set_t>(payload);
        if (!req) return size_error("vcpu set", payload.size(), sizeof(hv_ctl_vcpu_set_t));
        return from(b.set_vcpus(req->domid, req->online));
    }
    case HV_DOMCTL_LIST: {
        if (!payload.empty()) return size_error("list", payload.size(), 0);
        auto l = b.list();
        return l ? ok(info_list(*l)) : error_reply(l.error());
    }
    case HV_DOMCTL_LOOKUP: {
        auto req = exactly<hv_ctl_lookup_t>(payload);
        if (!req) return size_error("lookup", payload.size(), sizeof(hv_ctl_lookup_t));
        auto name = wire::get_name(req->name);
        if (!name) return bad("lookup: name not NUL-terminated");
        auto id = b.lookup(*name);
        return id ? ok(wire::pack(hv_ctl_domid_t{*id, 0})) : error_reply(id.error());
    }
    case HV_DOMCTL_WAIT: {
        auto req = exactly<hv_ctl_wait_t>(payload);
        if (!req) return size_error("wait", payload.size(), sizeof(hv_ctl_wait_t));
        auto i = b.wait(req->domid, req->timeout_ms);
        return i ? ok(wire::pack(wire::to_wire(*i))) : error_reply(i.error());
    }
    case HV_DOMCTL_CONSOLE_WRITE: {
        auto req = wire::unpack<hv_ctl_console_t>(payload);
        if (!req) return size_error("console write", payload.size(), sizeof(hv_ctl_console_t));
        if (req->console > HV_CTL_CONSOLE_PV) return bad(fmt::format("console write: unknown console {}", req->console));
        return from(b.console_write(req->domid, static_cast<sdk::ConsoleType>(req->console),
                                    payload.substr(sizeof(hv_ctl_console_t))));
    }
    default:
        if (is_sched_op(op)) return handle_sched_request(b, op, payload);
        return Reply{HV_ENOSYS, fmt::format("unknown control op {:#x}", op)};
    }
}

} // namespace hv::control
