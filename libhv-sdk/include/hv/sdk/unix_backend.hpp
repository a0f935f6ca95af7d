// UnixBackend: the Backend spoken over the control ABI to hvd (or to a
// domain's monitor process). Requests share one channel; each
// subscription gets its own channel and reader thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <hv/abi/domain_name.h>
#include <hv/sdk/backend.hpp>
#include <hv/sdk/unix_channel.hpp>

namespace hv::sdk {

class UnixBackend final : public Backend {
public:
    static Result<std::unique_ptr<UnixBackend>> open(const std::string& path) {
        auto ch = UnixChannel::open(path);
        if (!ch) return ch.error();
        return std::unique_ptr<UnixBackend>(new UnixBackend(path, std::move(*ch)));
    }

    uint32_t server_pid() const { return ch_->server_pid(); }

    Result<uint32_t> create(const CreateRequest& req) override {
        auto payload = create_payload(req);
        if (!payload) return payload.error();
        auto r = ch_->call(create_op(req), *payload);
        auto id = domid_reply(r);
        if (id && req.warn) // the warnings follow the domid, one per line
            for (const auto& w : *lines(r->substr(sizeof(hv_ctl_domid_t)))) req.warn(w);
        return id;
    }
    Result<void> define(const CreateRequest& req) override {
        if (req.spec)
            return make_error(Errc::not_supported, "define: managed domains are defined from xl.cfg text, not a DomainSpec");
        auto payload = create_payload(req);
        if (!payload) return payload.error();
        return none(ch_->call(HV_DOMCTL_DEFINE, *payload));
    }
    Result<uint32_t> start(std::string_view name) override {
        auto l = lookup_payload(name);
        if (!l) return l.error();
        return domid_reply(ch_->call(HV_DOMCTL_START, *l));
    }
    Result<void> undefine(std::string_view name) override {
        auto l = lookup_payload(name);
        if (!l) return l.error();
        return none(ch_->call(HV_DOMCTL_UNDEFINE, *l));
    }
    Result<std::vector<std::string>> list_defined() override { return lines(ch_->call(HV_DOMCTL_LIST_DEFINED, {})); }

    // The op that carries `req` to the monitor: CREATE (xl.cfg text) or
    // CREATE_SPEC (typed fields).
    static uint32_t create_op(const CreateRequest& req) { return req.spec ? HV_DOMCTL_CREATE_SPEC : HV_DOMCTL_CREATE; }
    static Result<std::string> create_payload(const CreateRequest& req) {
        if (req.spec) return wire::spec_payload(*req.spec, req.paused);
        std::string overrides;
        for (const auto& o : req.overrides) {
            if (o.find('\n') != std::string::npos)
                return make_error(Errc::invalid_argument, "override '" + o + "' contains a newline");
            overrides += o + "\n";
        }
        const hv_ctl_create_t c{(req.paused ? HV_CTL_CREATE_PAUSED : 0u) | (req.replace ? HV_CTL_CREATE_REPLACE : 0u), static_cast<uint32_t>(req.source.size()),
                                static_cast<uint32_t>(req.config_text.size()), static_cast<uint32_t>(overrides.size())};
        std::string payload = wire::pack(c, req.source + req.config_text + overrides);
        if (payload.size() > HV_CTL_MAX_PAYLOAD)
            return make_error(Errc::invalid_argument, "config of " + std::to_string(payload.size()) +
                                                          " bytes is over the control protocol's " +
                                                          std::to_string(HV_CTL_MAX_PAYLOAD) + "-byte limit");
        return payload;
    }
    // A domain name, checked by the one rule (hv/abi/domain_name.h) before
    // it leaves this process; `or_domid`: a domid in decimal will do too.
    static Result<void> check_name(std::string_view name, bool or_domid = false) {
        if (or_domid && !name.empty() && name.find_first_not_of("0123456789") == std::string_view::npos) return {};
        if (const char* why = hv_domain_name_problem(name.data(), name.size()))
            return make_error(Errc::invalid_argument, "domain name '" + std::string(name) + "': " + why);
        return {};
    }
    static Result<std::string> lookup_payload(std::string_view name, bool or_domid = false) {
        if (auto c = check_name(name, or_domid); !c) return c.error();
        hv_ctl_lookup_t l{};
        if (!wire::put_name(l.name, name)) return make_error(Errc::invalid_argument, "name '" + std::string(name) + "' is too long");
        return wire::pack(l);
    }
    Result<void> destroy(uint32_t domid) override { return simple(HV_DOMCTL_DESTROY, domid); }
    Result<void> pause(uint32_t domid) override { return simple(HV_DOMCTL_PAUSE, domid); }
    Result<void> unpause(uint32_t domid) override { return simple(HV_DOMCTL_UNPAUSE, domid); }
    Result<void> shutdown(uint32_t domid, const ShutdownRequest& req) override {
        const hv_ctl_shutdown_t s{domid, static_cast<uint32_t>(req.reason),
                                  (req.wait ? HV_CTL_SHUTDOWN_WAIT : 0u) | (req.force ? HV_CTL_SHUTDOWN_FORCE : 0u), req.timeout_ms};
        return none(ch_->call(HV_DOMCTL_SHUTDOWN, wire::pack(s)));
    }
    Result<void> rename(uint32_t domid, std::string_view name) override {
        if (auto c = check_name(name); !c) return c.error();
        hv_ctl_rename_t r{};
        r.domid = domid;
        if (!wire::put_name(r.name, name)) return make_error(Errc::invalid_argument, "name '" + std::string(name) + "' is too long");
        return none(ch_->call(HV_DOMCTL_RENAME, wire::pack(r)));
    }
    Result<void> set_vcpus(uint32_t domid, uint32_t online) override {
        return none(ch_->call(HV_DOMCTL_VCPU_SET, wire::pack(hv_ctl_vcpu_set_t{domid, online})));
    }
    Result<DomainInfo> info(uint32_t domid) override {
        return info_reply(ch_->call(HV_DOMCTL_INFO, wire::pack(hv_ctl_domid_t{domid, 0})));
    }
    Result<std::vector<DomainInfo>> list() override { return info_list_reply(ch_->call(HV_DOMCTL_LIST, {})); }
    // LIST's reply: whole hv_ctl_domain_info_t records.
    static Result<std::vector<DomainInfo>> info_list_reply(const Result<std::string>& r) {
        if (!r) return r.error();
        if (r->size() % sizeof(hv_ctl_domain_info_t) != 0)
            return make_error(Errc::protocol_error, "list reply is not a whole number of domain records");
        std::vector<DomainInfo> out;
        for (size_t off = 0; off < r->size(); off += sizeof(hv_ctl_domain_info_t)) {
            auto d = wire::from_wire(*wire::unpack<hv_ctl_domain_info_t>(std::string_view(*r).substr(off)));
            if (!d) return d.error();
            out.push_back(std::move(*d));
        }
        return out;
    }
    Result<uint32_t> lookup(std::string_view name_or_id) override {
        auto l = lookup_payload(name_or_id, true);
        if (!l) return l.error();
        return domid_reply(ch_->call(HV_DOMCTL_LOOKUP, *l));
    }
    Result<DomainInfo> wait(uint32_t domid, uint32_t timeout_ms) override {
        return info_reply(ch_->call(HV_DOMCTL_WAIT, wire::pack(hv_ctl_wait_t{domid, timeout_ms})));
    }
    Result<void> console_write(uint32_t domid, ConsoleType type, std::string_view bytes) override {
        return none(ch_->call(HV_DOMCTL_CONSOLE_WRITE, wire::pack(hv_ctl_console_t{domid, static_cast<uint32_t>(type)}, bytes)));
    }
    Result<std::string> console_history(uint32_t domid, ConsoleType type) override {
        return ch_->call(HV_DOMCTL_CONSOLE_HISTORY, wire::pack(hv_ctl_console_t{domid, static_cast<uint32_t>(type)}));
    }
    Result<HostInfo> host_info() override {
        auto r = ch_->call(HV_SYSCTL_PHYSINFO, {});
        if (!r) return r.error();
        auto p = wire::unpack<hv_ctl_physinfo_t>(*r);
        if (!p) return make_error(Errc::protocol_error, "short physinfo reply");
        return wire::from_wire(*p);
    }
    Result<std::vector<std::string>> dmesg() override { return lines(ch_->call(HV_SYSCTL_DMESG, {})); }

    Result<SchedHost> sched_host() override {
        auto r = ch_->call(HV_SCHEDCTL_HOST_GET, {});
        if (!r) return r.error();
        auto w = wire::unpack<hv_ctl_sched_host_t>(*r);
        if (!w || r->size() != sizeof *w) return make_error(Errc::protocol_error, "scheduler reply of a wrong size");
        return wire::from_wire(*w);
    }
    Result<void> set_sched_host(const SchedHost& h) override {
        return none(ch_->call(HV_SCHEDCTL_HOST_SET, wire::pack(wire::to_wire(h))));
    }
    Result<SchedParams> sched_params(uint32_t domid) override {
        auto r = ch_->call(HV_SCHEDCTL_DOMAIN_GET, wire::pack(hv_ctl_domid_t{domid, 0}));
        if (!r) return r.error();
        auto w = wire::unpack<hv_ctl_sched_domain_t>(*r);
        if (!w || r->size() != sizeof *w) return make_error(Errc::protocol_error, "scheduler parameters reply of a wrong size");
        return wire::from_wire(*w, true);
    }
    Result<void> set_sched_params(const SchedParams& p) override {
        return none(ch_->call(HV_SCHEDCTL_DOMAIN_SET, wire::pack(wire::to_wire(p))));
    }
    Result<std::vector<BlockInfo>> block_list(uint32_t domid) override {
        auto r = ch_->call(HV_DOMCTL_BLOCK_LIST, wire::pack(hv_ctl_domid_t{domid, 0}));
        if (!r) return r.error();
        if (r->size() % sizeof(hv_ctl_block_info_t) != 0) return make_error(Errc::protocol_error, "block list reply of a wrong size");
        std::vector<BlockInfo> out;
        for (size_t at = 0; at < r->size(); at += sizeof(hv_ctl_block_info_t)) {
            auto b = wire::from_wire(*wire::unpack<hv_ctl_block_info_t>(std::string_view(*r).substr(at)));
            if (!b) return b.error();
            out.push_back(std::move(*b));
        }
        return out;
    }
    Result<std::vector<VifInfo>> network_list(uint32_t domid) override {
        auto r = ch_->call(HV_DOMCTL_NETWORK_LIST, wire::pack(hv_ctl_domid_t{domid, 0}));
        if (!r) return r.error();
        if (r->size() % sizeof(hv_ctl_vif_info_t) != 0) return make_error(Errc::protocol_error, "network list reply of a wrong size");
        std::vector<VifInfo> out;
        for (size_t at = 0; at < r->size(); at += sizeof(hv_ctl_vif_info_t)) {
            auto v = wire::from_wire(*wire::unpack<hv_ctl_vif_info_t>(std::string_view(*r).substr(at)));
            if (!v) return v.error();
            out.push_back(std::move(*v));
        }
        return out;
    }
    Result<void> set_vif_rate(uint32_t domid, uint32_t devid, uint64_t bytes, uint32_t interval_us) override {
        return none(ch_->call(HV_DOMCTL_VIF_SET_RATE, wire::pack(hv_ctl_vif_rate_t{domid, devid, interval_us, 0, bytes})));
    }
    Result<uint32_t> attach_device(uint32_t domid, DeviceKind kind, std::string_view spec, uint32_t flags) override {
        auto payload = device_attach_payload(domid, kind, spec, flags);
        if (!payload) return payload.error();
        auto r = ch_->call(HV_DOMCTL_DEVICE_ATTACH, *payload);
        if (!r) return r.error();
        auto id = wire::unpack<hv_ctl_device_id_t>(*r);
        if (!id || r->size() != sizeof *id) return make_error(Errc::protocol_error, "device attach reply of a wrong size");
        return id->devid;
    }
    Result<void> detach_device(uint32_t domid, DeviceKind kind, std::string_view device, uint32_t flags,
                               uint32_t timeout_ms) override {
        auto payload = device_detach_payload(domid, kind, device, flags, timeout_ms);
        if (!payload) return payload.error();
        return none(ch_->call(HV_DOMCTL_DEVICE_DETACH, *payload));
    }
    Result<void> set_disk_limits(uint32_t domid, uint32_t devid, const DiskLimits& l) override {
        return none(ch_->call(HV_DOMCTL_DISK_SET_LIMITS, wire::pack(hv_ctl_disk_limits_t{
                                                              domid, devid, l.rate_interval_us, l.iops_interval_us,
                                                              l.rate_bytes, l.iops})));
    }
    // DEVICE_ATTACH's and DEVICE_DETACH's payloads; a string that the
    // ABI's field cannot carry (too long, or holding a NUL) is refused
    // here, naming it.
    static Result<std::string> device_attach_payload(uint32_t domid, DeviceKind kind, std::string_view spec, uint32_t flags) {
        hv_ctl_device_attach_t a{};
        a.domid = domid;
        a.kind = static_cast<uint32_t>(kind);
        a.flags = flags;
        if (spec.find('\0') != std::string_view::npos || !wire::put_name(a.spec, spec))
            return make_error(Errc::invalid_argument, std::string(device_kind_name(kind)) + " spec of " + std::to_string(spec.size()) +
                                                          " bytes: at most " + std::to_string(HV_CTL_DEVICE_SPEC_MAX - 1) +
                                                          ", without NUL bytes");
        return wire::pack(a);
    }
    static Result<std::string> device_detach_payload(uint32_t domid, DeviceKind kind, std::string_view device, uint32_t flags,
                                                     uint32_t timeout_ms) {
        hv_ctl_device_detach_t d{};
        d.domid = domid;
        d.kind = static_cast<uint32_t>(kind);
        d.flags = flags;
        d.timeout_ms = timeout_ms;
        if (device.find('\0') != std::string_view::npos || !wire::put_name(d.device, device))
            return make_error(Errc::invalid_argument, std::string(device_kind_name(kind)) + " '" + std::string(device) +
                                                          "' is not a device name (at most " +
                                                          std::to_string(HV_CTL_DEVICE_NAME_MAX - 1) + " bytes)");
        return wire::pack(d);
    }
    Result<std::vector<VcpuInfo>> vcpu_list(std::optional<uint32_t> domid) override {
        auto r = ch_->call(HV_SCHEDCTL_VCPU_LIST, wire::pack(hv_ctl_domid_t{domid ? *domid : HV_CTL_ALL_DOMAINS, 0}));
        if (!r) return r.error();
        if (r->size() % sizeof(hv_ctl_vcpu_info_t) != 0) return make_error(Errc::protocol_error, "vcpu list reply of a wrong size");
        std::vector<VcpuInfo> out;
        for (size_t at = 0; at < r->size(); at += sizeof(hv_ctl_vcpu_info_t)) {
            auto w = wire::unpack<hv_ctl_vcpu_info_t>(std::string_view(*r).substr(at));
            auto v = wire::from_wire(*w);
            if (!v) return v.error();
            out.push_back(*v);
        }
        return out;
    }
    Result<void> vcpu_pin(const VcpuPin& p) override { return none(ch_->call(HV_SCHEDCTL_VCPU_PIN, wire::pack(wire::to_wire(p)))); }

    static Result<std::vector<std::string>> lines(const Result<std::string>& r) {
        if (!r) return r.error();
        std::vector<std::string> lines;
        size_t start = 0;
        while (start < r->size()) {
            const size_t nl = r->find('\n', start);
            const size_t end = nl == std::string::npos ? r->size() : nl;
            lines.push_back(r->substr(start, end - start));
            start = end + 1;
        }
        return lines;
    }

    Result<std::unique_ptr<Subscription>> subscribe_events(std::function<void(const Event&)> fn) override {
        return Reader::start(path_, hv_ctl_subscribe_t{HV_CTL_SUB_EVENTS, 0}, [fn = std::move(fn)](const wire::Frame& f) {
            if (f.header.op != HV_CTL_EVENT_DOMAIN) return true;
            auto w = wire::unpack<hv_ctl_event_t>(f.payload);
            if (!w) return false;
            auto e = wire::from_wire(*w);
            if (!e) return false;
            fn(*e);
            return true;
        });
    }

    Result<std::unique_ptr<Subscription>> subscribe_console(uint32_t domid, ConsoleType type,
                                                            std::function<void(std::string_view)> fn) override {
        const uint32_t flags = HV_CTL_SUB_CONSOLE | (type == ConsoleType::serial ? HV_CTL_SUB_CONSOLE_SERIAL
                                                     : type == ConsoleType::pv   ? HV_CTL_SUB_CONSOLE_PV
                                                                                 : 0u);
        return Reader::start(path_, hv_ctl_subscribe_t{flags, domid}, [fn = std::move(fn)](const wire::Frame& f) {
            if (f.header.op != HV_CTL_EVENT_CONSOLE || f.header.status < 0) return false; // the domain is gone
            if (f.payload.size() < sizeof(hv_ctl_domid_t)) return false;
            fn(std::string_view(f.payload).substr(sizeof(hv_ctl_domid_t)));
            return true;
        });
    }

private:
    // A subscription: its own channel and a thread reading event frames
    // until the server closes or the subscription is destroyed.
    class Reader final : public Subscription {
    public:
        using OnFrame = std::function<bool(const wire::Frame&)>;
        static Result<std::unique_ptr<Subscription>> start(const std::string& path, hv_ctl_subscribe_t req, OnFrame fn) {
            auto ch = UnixChannel::open(path);
            if (!ch) return ch.error();
            if (auto r = (*ch)->call(HV_SYSCTL_SUBSCRIBE, wire::pack(req)); !r) return r.error();
            std::unique_ptr<Reader> reader(new Reader(std::move(*ch)));
            Reader* raw = reader.get();
            reader->thread_ = std::thread([raw, fn = std::move(fn)] {
                for (;;) {
                    auto f = raw->ch_->read_frame();
                    if (!f || !fn(*f)) return;
                }
            });
            return std::unique_ptr<Subscription>(std::move(reader));
        }
        ~Reader() override {
            ch_->interrupt();
            if (thread_.joinable()) thread_.join();
        }

    private:
        explicit Reader(std::unique_ptr<UnixChannel> ch) : ch_(std::move(ch)) {}
        std::unique_ptr<UnixChannel> ch_;
        std::thread thread_;
    };

    UnixBackend(std::string path, std::unique_ptr<UnixChannel> ch) : path_(std::move(path)), ch_(std::move(ch)) {}

    Result<void> simple(uint32_t op, uint32_t domid) { return none(ch_->call(op, wire::pack(hv_ctl_domid_t{domid, 0}))); }
    static Result<void> none(const Result<std::string>& r) {
        if (!r) return r.error();
        return {};
    }
    static Result<uint32_t> domid_reply(const Result<std::string>& r) {
        if (!r) return r.error();
        auto d = wire::unpack<hv_ctl_domid_t>(*r);
        if (!d) return make_error(Errc::protocol_error, "short domid reply");
        return d->domid;
    }
    static Result<DomainInfo> info_reply(const Result<std::string>& r) {
        if (!r) return r.error();
        auto w = wire::unpack<hv_ctl_domain_info_t>(*r);
        if (!w) return make_error(Errc::protocol_error, "short domain info reply");
        return wire::from_wire(*w);
    }

    std::string path_;
    std::unique_ptr<UnixChannel> ch_;
};

} // namespace hv::sdk
