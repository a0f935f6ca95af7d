// Fuzz target for the control plane's input path: the bytes a peer sends
// go through wire::Decoder, and every request frame it yields through
// handle_request on a permissive backend (which succeeds with plausible
// values, so every payload check is reachable). Reply and event frames go
// through the client's decoders (from_wire). The input is also run as one
// frame (first byte: op, rest: payload), to reach every op's checks without
// having to find a frame header first. Besides "no crash", it checks
// the invariants below and aborts on the first one broken:
//   - the decoder yields the same frames and the same end state whether
//     the input arrives whole or in pieces;
//   - a frame has the magic, a known kind, length == payload size <=
//     HV_CTL_MAX_PAYLOAD, and re-encodes to exactly the bytes it came from;
//     frames plus what is still buffered account for every byte fed;
//   - an error leaves nothing buffered, has a message, and sticks;
//   - handle_request answers HV_OK, HV_EINVAL (with a message, backend not
//     called), HV_ENOSYS (backend not called) or the backend's error with
//     its message; an HV_OK reply called the backend once and has the op's
//     reply shape.
//
// Built two ways: as a libFuzzer binary (tests/fuzz/meson.build, with
// HV_LIBFUZZER defined) and into the unit tests, whose smoke test calls
// hv::fuzz::control_fuzz_check directly.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "control/request_handler.hpp"
#include "hv/sdk/wire_types.hpp"

#include "control_fuzz.hpp"
#include "fuzz_check.hpp"

namespace hv::fuzz {
namespace {

namespace wire = sdk::wire;
using sdk::DomainInfo;

// Succeeds with plausible values, except that domids from 0xffff0000 up do
// not exist (Errc::not_found, to reach the error replies); counts its calls
// and checks that what handle_request passes it is well formed.
class PermissiveBackend final : public sdk::Backend {
public:
    static constexpr const char* kNotFound = "fuzz: no such domain";
    uint64_t calls = 0;
    std::string violation;

    Result<uint32_t> create(const sdk::CreateRequest& req) override {
        note();
        for (const auto& o : req.overrides)
            if (o.find('\n') != std::string::npos) bad("create: an override holds a newline");
        if (req.spec && (!req.config_text.empty() || !req.source.empty() || !req.overrides.empty()))
            bad("create: a spec request also carries xl.cfg text");
        return next_domid_++;
    }
    Result<void> destroy(uint32_t domid) override { return note_void(domid); }
    Result<void> pause(uint32_t domid) override { return note_void(domid); }
    Result<void> unpause(uint32_t domid) override { return note_void(domid); }
    Result<void> shutdown(uint32_t domid, const sdk::ShutdownRequest& req) override {
        if (req.reason != sdk::ShutdownReason::poweroff && req.reason != sdk::ShutdownReason::reboot)
            bad("shutdown: reason other than poweroff/reboot reached the backend");
        return note_void(domid);
    }
    Result<void> rename(uint32_t, std::string_view name) override {
        check_name("rename", name);
        name_.assign(name);
        return note_void();
    }
    Result<void> set_vcpus(uint32_t domid, uint32_t) override { return note_void(domid); }
    Result<DomainInfo> info(uint32_t domid) override {
        note();
        if (missing(domid)) return not_found();
        return make_info(domid);
    }
    Result<std::vector<DomainInfo>> list() override {
        note();
        return std::vector<DomainInfo>{make_info(0), make_info(1), make_info(next_domid_)};
    }
    Result<uint32_t> lookup(std::string_view name) override {
        check_name("lookup", name);
        note();
        return 1u;
    }
    Result<DomainInfo> wait(uint32_t domid, uint32_t) override {
        note();
        if (missing(domid)) return not_found();
        DomainInfo d = make_info(domid);
        d.state = sdk::State::shutdown;
        d.shutdown_reason = sdk::ShutdownReason::crash;
        d.exists = false;
        return d;
    }
    Result<void> console_write(uint32_t domid, sdk::ConsoleType, std::string_view bytes) override {
        if (console_.size() < 4096) console_.append(bytes.substr(0, 4096 - console_.size()));
        return note_void(domid);
    }
    Result<std::vector<sdk::BlockInfo>> block_list(uint32_t domid) override {
        note();
        if (missing(domid)) return not_found();
        return std::vector<sdk::BlockInfo>{{51712, "xvda", "vda", "/images/a.img", 1ull << 30, false, true}};
    }
    Result<std::vector<sdk::VifInfo>> network_list(uint32_t domid) override {
        note();
        if (missing(domid)) return not_found();
        sdk::VifInfo v;
        v.tap = "vif1.0";
        v.bridge = "xenbr0";
        v.script = "vif-bridge";
        v.ips = "10.0.0.2 10.0.0.3";
        return std::vector<sdk::VifInfo>{v};
    }
    Result<void> set_vif_rate(uint32_t domid, uint32_t, uint64_t bytes, uint32_t interval_us) override {
        if (bytes != 0 && interval_us == 0) bad("vif rate: a limit without an interval reached the backend");
        return note_void(domid);
    }
    Result<uint32_t> attach_device(uint32_t domid, sdk::DeviceKind kind, std::string_view spec, uint32_t flags) override {
        check_kind("device attach", kind);
        if ((flags & ~uint32_t{HV_CTL_DEVICE_PERSIST}) != 0) bad("device attach: unknown flags reached the backend");
        if (spec.size() >= HV_CTL_DEVICE_SPEC_MAX || spec.find('\0') != std::string_view::npos)
            bad("device attach: a spec that does not fit the ABI reached the backend");
        if (spec.empty() && kind == sdk::DeviceKind::disk) bad("device attach: an empty disk spec reached the backend");
        note();
        if (missing(domid)) return not_found();
        return 1u;
    }
    Result<void> detach_device(uint32_t domid, sdk::DeviceKind kind, std::string_view device, uint32_t flags,
                               uint32_t timeout_ms) override {
        check_kind("device detach", kind);
        if ((flags & ~(HV_CTL_DEVICE_PERSIST | HV_CTL_DEVICE_FORCE)) != 0) bad("device detach: unknown flags reached the backend");
        if (timeout_ms > HV_CTL_DEVICE_TIMEOUT_MAX_MS) bad("device detach: a timeout over the limit reached the backend");
        if (device.empty() || device.size() >= HV_CTL_DEVICE_NAME_MAX || device.find('\0') != std::string_view::npos)
            bad("device detach: a device name that does not fit the ABI reached the backend");
        return note_void(domid);
    }
    Result<void> set_disk_limits(uint32_t domid, uint32_t, const sdk::DiskLimits& l) override {
        if ((l.rate_bytes != 0 && l.rate_interval_us == 0) || (l.iops != 0 && l.iops_interval_us == 0))
            bad("disk limits: a limit without an interval reached the backend");
        return note_void(domid);
    }
    Result<std::string> console_history(uint32_t domid, sdk::ConsoleType) override {
        note();
        if (missing(domid)) return not_found();
        return console_;
    }
    Result<sdk::HostInfo> host_info() override {
        note();
        sdk::HostInfo h;
        h.nr_cpus = 2;
        h.nr_domains = next_domid_;
        h.total_mib = 24576;
        h.free_mib = 16384;
        h.abi_version = 1;
        h.ctl_version = HV_CTL_VERSION;
        h.host = "fuzz";
        h.cpus = {{0, 0, 0, 0}, {1, 1, 0, 0}};
        h.nodes = {{0, 24576, 16384, {10}}};
        return h;
    }
    Result<std::vector<std::string>> dmesg() override {
        note();
        return std::vector<std::string>{"hv: started", "fuzz: a line"};
    }
    Result<void> define(const sdk::CreateRequest&) override { return note_void(); }
    Result<uint32_t> start(std::string_view name) override {
        check_name("start", name);
        note();
        return next_domid_++;
    }
    Result<void> undefine(std::string_view name) override {
        check_name("undefine", name);
        return note_void();
    }
    Result<std::vector<std::string>> list_defined() override {
        note();
        return std::vector<std::string>{"alpha", name_};
    }
    Result<std::unique_ptr<sdk::Subscription>> subscribe_events(std::function<void(const sdk::Event&)>) override {
        bad("subscribe_events reached the backend through handle_request");
        return make_error(Errc::not_supported, "fuzz backend");
    }
    Result<std::unique_ptr<sdk::Subscription>> subscribe_console(uint32_t, sdk::ConsoleType,
                                                                 std::function<void(std::string_view)>) override {
        bad("subscribe_console reached the backend through handle_request");
        return make_error(Errc::not_supported, "fuzz backend");
    }

private:
    void note() { ++calls; }
    Result<void> note_void(uint32_t domid = 0) {
        ++calls;
        if (missing(domid)) return not_found();
        return {};
    }
    static bool missing(uint32_t domid) { return domid >= 0xffff0000u; }
    static Error not_found() { return make_error(Errc::not_found, kNotFound); }
    void bad(const std::string& why) {
        if (violation.empty()) violation = why;
    }
    void check_kind(const char* op, sdk::DeviceKind kind) {
        if (kind != sdk::DeviceKind::disk && kind != sdk::DeviceKind::vif) bad(std::string(op) + ": an unknown device kind reached the backend");
    }
    void check_name(const char* op, std::string_view name) {
        if (name.size() >= HV_CTL_NAME_MAX || name.find('\0') != std::string_view::npos)
            bad(std::string(op) + ": a name that does not fit the ABI reached the backend");
    }
    DomainInfo make_info(uint32_t domid) const {
        DomainInfo d;
        d.domid = domid;
        d.name = name_;
        d.uuid[0] = static_cast<uint8_t>(domid);
        d.state = sdk::State::running;
        d.vcpus = 2;
        d.vcpus_online = 2;
        d.memory_mib = 512;
        d.cpu_seconds = 3.25;
        d.uptime_seconds = 10.5;
        return d;
    }

    uint32_t next_domid_ = 1;
    std::string name_ = "fuzz-dom";
    std::string console_;
};

struct Decoded {
    std::vector<wire::Frame> frames;
    wire::Decoder::Status end = wire::Decoder::Status::need_more;
    std::string error;
    size_t buffered = 0;
};

// Drains every frame now decodable, checking each one.
std::string drain(wire::Decoder& d, Decoded& out) {
    for (;;) {
        wire::Frame f;
        const auto s = d.next(f);
        out.end = s;
        if (s == wire::Decoder::Status::need_more) return {};
        if (s == wire::Decoder::Status::error) {
            HV_FUZZ_CHECK(!d.error().empty(), "decoder error without a message");
            HV_FUZZ_CHECK(d.buffered() == 0, "decoder error left bytes buffered");
            wire::Frame again;
            HV_FUZZ_CHECK(d.next(again) == wire::Decoder::Status::error, "decoder error did not stick");
            return {};
        }
        HV_FUZZ_CHECK(f.header.magic == HV_CTL_MAGIC, "frame with a bad magic");
        HV_FUZZ_CHECK(f.header.kind >= HV_CTL_REQUEST && f.header.kind <= HV_CTL_EVENT, "frame with a bad kind");
        HV_FUZZ_CHECK(f.header.length <= HV_CTL_MAX_PAYLOAD, "frame over the payload limit");
        HV_FUZZ_CHECK(f.header.length == f.payload.size(), "frame length differs from its payload");
        out.frames.push_back(std::move(f));
    }
}

// Decodes `data` fed as `chunk`-byte pieces (0: all at once).
std::string decode(const uint8_t* data, size_t size, size_t chunk, Decoded& out) {
    wire::Decoder d;
    size_t off = 0;
    do {
        const size_t n = chunk == 0 ? size : std::min(chunk, size - off);
        d.feed(data + off, n);
        off += n;
        if (auto why = drain(d, out); !why.empty()) return why;
        if (out.end == wire::Decoder::Status::error) break;
    } while (off < size);
    if (out.end == wire::Decoder::Status::error) {
        const std::string more = "more";
        d.feed(more.data(), more.size());
        HV_FUZZ_CHECK(d.buffered() == 0, "a poisoned decoder buffered new bytes");
    }
    out.error = d.error();
    out.buffered = d.buffered();
    return {};
}

bool same_frames(const Decoded& a, const Decoded& b) {
    if (a.frames.size() != b.frames.size() || a.end != b.end || a.error != b.error || a.buffered != b.buffered)
        return false;
    for (size_t i = 0; i < a.frames.size(); ++i) {
        if (std::memcmp(&a.frames[i].header, &b.frames[i].header, sizeof(hv_ctl_header_t)) != 0) return false;
        if (a.frames[i].payload != b.frames[i].payload) return false;
    }
    return true;
}

// The shape an HV_OK reply must have, by op.
std::string check_ok_reply(uint32_t op, const std::string& p, ControlFuzzStats& stats) {
    switch (op) {
    case HV_SYSCTL_PHYSINFO: HV_FUZZ_CHECK(p.size() == sizeof(hv_ctl_physinfo_t), "physinfo reply size"); break;
    case HV_DOMCTL_CREATE:
    case HV_DOMCTL_CREATE_SPEC:
    case HV_DOMCTL_START:
    case HV_DOMCTL_LOOKUP: {
        HV_FUZZ_CHECK(p.size() == sizeof(hv_ctl_domid_t), "domid reply size");
        HV_FUZZ_CHECK(wire::unpack<hv_ctl_domid_t>(p)->_pad0 == 0, "domid reply padding");
        break;
    }
    case HV_DOMCTL_INFO:
    case HV_DOMCTL_WAIT:
    case HV_DOMCTL_LIST: {
        const size_t n = sizeof(hv_ctl_domain_info_t);
        HV_FUZZ_CHECK(p.size() % n == 0 && (op == HV_DOMCTL_LIST || p.size() == n), "domain info reply size");
        for (size_t off = 0; off < p.size(); off += n) {
            auto d = wire::from_wire(*wire::unpack<hv_ctl_domain_info_t>(std::string_view(p).substr(off, n)));
            HV_FUZZ_CHECK(d.ok(), "a domain info reply the client cannot read");
            ++stats.client_decoded;
        }
        break;
    }
    case HV_DOMCTL_DESTROY:
    case HV_DOMCTL_PAUSE:
    case HV_DOMCTL_UNPAUSE:
    case HV_DOMCTL_SHUTDOWN:
    case HV_DOMCTL_RENAME:
    case HV_DOMCTL_DEFINE:
    case HV_DOMCTL_UNDEFINE:
    case HV_DOMCTL_VCPU_SET:
    case HV_DOMCTL_VIF_SET_RATE:
    case HV_DOMCTL_DEVICE_DETACH:
    case HV_DOMCTL_DISK_SET_LIMITS:
    case HV_DOMCTL_CONSOLE_WRITE: HV_FUZZ_CHECK(p.empty(), "empty reply expected"); break;
    case HV_DOMCTL_DEVICE_ATTACH:
        HV_FUZZ_CHECK(p.size() == sizeof(hv_ctl_device_id_t), "device attach reply size");
        HV_FUZZ_CHECK(wire::unpack<hv_ctl_device_id_t>(p)->_pad0 == 0, "device attach reply padding");
        break;
    case HV_SYSCTL_DMESG:
    case HV_DOMCTL_LIST_DEFINED: HV_FUZZ_CHECK(p.empty() || p.back() == '\n', "text reply not newline-terminated"); break;
    case HV_DOMCTL_CONSOLE_HISTORY: break;
    case HV_DOMCTL_BLOCK_LIST:
        HV_FUZZ_CHECK(p.size() % sizeof(hv_ctl_block_info_t) == 0, "block list reply not whole records");
        break;
    case HV_DOMCTL_NETWORK_LIST:
        HV_FUZZ_CHECK(p.size() % sizeof(hv_ctl_vif_info_t) == 0, "network list reply not whole records");
        for (size_t off = 0; off < p.size(); off += sizeof(hv_ctl_vif_info_t)) {
            HV_FUZZ_CHECK(wire::from_wire(*wire::unpack<hv_ctl_vif_info_t>(std::string_view(p).substr(off))).ok(),
                          "a vif record the client cannot read");
            ++stats.client_decoded;
        }
        break;
    default: return "HV_OK for an op the handler does not know";
    }
    return {};
}

// Runs one request and checks the reply; `status` gets its status.
std::string handle(PermissiveBackend& b, const wire::Frame& f, int32_t& status, ControlFuzzStats& stats) {
    const uint64_t before = b.calls;
    const control::Reply r = control::handle_request(b, f.header.op, f.payload);
    status = r.status;
    if (!b.violation.empty()) return b.violation;
    const uint64_t made = b.calls - before;
    switch (r.status) {
    case HV_OK:
        HV_FUZZ_CHECK(made == 1, "an HV_OK reply without exactly one backend call");
        return check_ok_reply(f.header.op, r.payload, stats);
    case HV_EINVAL:
        HV_FUZZ_CHECK(made == 0, "a refused request reached the backend");
        HV_FUZZ_CHECK(!r.payload.empty(), "a refusal without a message");
        return {};
    case HV_ENOENT:
        HV_FUZZ_CHECK(made == 1, "a backend error without exactly one backend call");
        HV_FUZZ_CHECK(r.payload == PermissiveBackend::kNotFound, "a backend error lost its message");
        return {};
    case HV_ENOSYS:
        HV_FUZZ_CHECK(made == 0, "an unknown op reached the backend");
        HV_FUZZ_CHECK(!r.payload.empty(), "an unknown-op reply without a message");
        return {};
    default: return "handle_request answered " + std::to_string(r.status) + " with a backend that never fails";
    }
}

// What a client does with reply and event frames: must not crash, and
// what it accepts must survive the trip back.
std::string client_side(const wire::Frame& f, ControlFuzzStats& stats) {
    if (f.header.kind == HV_CTL_EVENT && f.header.op == HV_CTL_EVENT_DOMAIN) {
        auto w = wire::unpack<hv_ctl_event_t>(f.payload);
        if (!w) return {};
        auto e = wire::from_wire(*w);
        if (!e) return {};
        ++stats.client_decoded;
        const hv_ctl_event_t back = wire::to_wire(*e);
        HV_FUZZ_CHECK(back.kind == w->kind && back.domid == w->domid && back.new_domid == w->new_domid,
                      "event fields changed on the round trip");
        HV_FUZZ_CHECK(wire::get_name(back.name) == wire::get_name(w->name), "event name changed on the round trip");
    } else if (f.header.kind == HV_CTL_REPLY && f.header.status == HV_OK &&
               (f.header.op == HV_DOMCTL_INFO || f.header.op == HV_DOMCTL_WAIT || f.header.op == HV_DOMCTL_LIST)) {
        const size_t n = sizeof(hv_ctl_domain_info_t);
        for (size_t off = 0; off + n <= f.payload.size(); off += n) {
            auto d = wire::from_wire(*wire::unpack<hv_ctl_domain_info_t>(std::string_view(f.payload).substr(off, n)));
            if (!d) continue;
            ++stats.client_decoded;
            HV_FUZZ_CHECK(d->name.size() < HV_CTL_NAME_MAX, "domain info name longer than the field");
        }
    }
    return {};
}

} // namespace

std::string control_fuzz_check(const uint8_t* data, size_t size, ControlFuzzStats& stats) {
    Decoded whole;
    if (auto why = decode(data, size, 0, whole); !why.empty()) return why;
    // The same bytes in pieces, sized from the input so the fuzzer steers it.
    const size_t chunk = size == 0 ? 1 : size_t{data[0]} % 29 + 1;
    Decoded pieces;
    if (auto why = decode(data, size, chunk, pieces); !why.empty()) return why;
    if (!same_frames(whole, pieces)) return "split input decoded differently (chunk " + std::to_string(chunk) + ")";

    // Every byte is a frame's or still buffered, unless the stream failed;
    // and each frame re-encodes to the bytes it came from.
    size_t used = 0;
    for (const auto& f : whole.frames) {
        const std::string again = wire::encode(f.header.version, f.header.kind, f.header.op, f.header.request_id,
                                               f.header.status, f.payload);
        HV_FUZZ_CHECK(used + again.size() <= size && std::memcmp(data + used, again.data(), again.size()) == 0,
                      "a frame does not re-encode to its bytes");
        used += again.size();
    }
    if (whole.end == wire::Decoder::Status::error) {
        ++stats.stream_errors;
        HV_FUZZ_CHECK(!whole.error.empty() && whole.buffered == 0, "error state");
        HV_FUZZ_CHECK(size - used >= sizeof(hv_ctl_header_t), "an error before a whole header arrived");
    } else {
        HV_FUZZ_CHECK(whole.error.empty(), "need_more with an error message");
        HV_FUZZ_CHECK(used + whole.buffered == size, "bytes lost: frames + buffered != fed");
        if (whole.buffered >= sizeof(hv_ctl_header_t)) {
            hv_ctl_header_t h;
            std::memcpy(&h, data + used, sizeof h);
            HV_FUZZ_CHECK(h.length > whole.buffered - sizeof h, "need_more with a whole frame buffered");
        }
    }

    PermissiveBackend backend;
    for (const auto& f : whole.frames) {
        ++stats.frames;
        if (f.header.kind != HV_CTL_REQUEST) {
            if (auto why = client_side(f, stats); !why.empty()) return why;
            continue;
        }
        ++stats.requests;
        int32_t status = 0;
        if (auto why = handle(backend, f, status, stats); !why.empty()) return why;
        if (status == HV_OK) ++stats.ok_replies;
        if (status == HV_EINVAL) ++stats.refused;
        if (status == HV_ENOSYS) ++stats.unknown_ops;
        if (status == HV_ENOENT) ++stats.backend_errors;
    }

    // The same bytes once more as one frame: the first byte picks an op
    // (or, past the ops, a domain event or a domain-info reply for the
    // client side), the rest is the payload. Raw bytes rarely carry the
    // magic, a kind and a known op number, so without this the fuzzer
    // would seldom get past the decoder into the payload checks.
    if (size > 0) {
        const auto& ops = kFuzzOps;
        const size_t pick = data[0] % (std::size(ops) + 2);
        uint16_t kind = HV_CTL_REQUEST;
        uint32_t op = HV_CTL_EVENT_DOMAIN;
        if (pick < std::size(ops)) op = ops[pick];
        else if (pick == std::size(ops)) kind = HV_CTL_EVENT;
        else kind = HV_CTL_REPLY, op = HV_DOMCTL_LIST;
        const size_t n = std::min(size - 1, size_t{HV_CTL_MAX_PAYLOAD});
        const std::string bytes = wire::encode(HV_CTL_VERSION, kind, op, kind == HV_CTL_EVENT ? 0 : 1, 0,
                                               std::string_view(reinterpret_cast<const char*>(data + 1), n));
        wire::Decoder d;
        d.feed(bytes.data(), bytes.size());
        wire::Frame f;
        HV_FUZZ_CHECK(d.next(f) == wire::Decoder::Status::frame && d.buffered() == 0, "an encoded frame did not decode");
        if (kind != HV_CTL_REQUEST) return client_side(f, stats);
        ControlFuzzStats unused;
        int32_t status = 0;
        if (auto why = handle(backend, f, status, unused); !why.empty()) return why;
        if (status == HV_OK) ++stats.direct_ok;
        if (status == HV_EINVAL) ++stats.direct_refused;
        if (status == HV_ENOENT) ++stats.backend_errors;
    }
    return {};
}

} // namespace hv::fuzz

int hv_control_fuzz_one(const uint8_t* data, size_t size) {
    return hv::fuzz::run_or_abort("control_fuzz", hv::fuzz::control_fuzz_check, data, size);
}

#ifdef HV_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return hv_control_fuzz_one(data, size); }
#endif
