// handle_request's hotplug and disk-limit ops (DEVICE_ATTACH,
// DEVICE_DETACH, DISK_SET_LIMITS) against the fake Backend: good payloads
// reach the backend with the decoded values; each rule of the ABI
// (docs/abi.md) refuses its payload with HV_EINVAL, naming the op and what
// is wrong, before the backend sees it; the SDK's payloads are ones the
// handler takes.
#include <catch2/catch.hpp>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "control/monitor_backend.hpp"
#include "control/request_handler.hpp"
#include "hv/sdk/unix_backend.hpp"
#include "hv/sdk/wire_types.hpp"

#include "fake_backend.hpp"

using hv::Errc;
using hv::Error;
using hv::control::handle_request;
using hv::control::Reply;
using hv::control_test::FakeBackend;
using hv::sdk::DeviceKind;
namespace wire = hv::sdk::wire;

namespace {

std::string attach_payload(uint32_t domid, uint32_t kind, std::string_view spec, uint32_t flags = 0, uint32_t pad = 0) {
    hv_ctl_device_attach_t a{};
    a.domid = domid;
    a.kind = kind;
    a.flags = flags;
    a._pad0 = pad;
    REQUIRE(wire::put_name(a.spec, spec));
    return wire::pack(a);
}

std::string detach_payload(uint32_t domid, uint32_t kind, std::string_view device, uint32_t flags = 0,
                           uint32_t timeout_ms = 0) {
    hv_ctl_device_detach_t d{};
    d.domid = domid;
    d.kind = kind;
    d.flags = flags;
    d.timeout_ms = timeout_ms;
    REQUIRE(wire::put_name(d.device, device));
    return wire::pack(d);
}

std::string limits_payload(uint32_t domid, uint32_t devid, uint64_t rate, uint32_t rate_us, uint64_t iops, uint32_t iops_us) {
    return wire::pack(hv_ctl_disk_limits_t{domid, devid, rate_us, iops_us, rate, iops});
}

// `payload` with its string field at `offset` (`size` bytes) filled, no NUL.
std::string unterminated(std::string payload, size_t offset, size_t size) {
    std::memset(payload.data() + offset, 'x', size);
    return payload;
}

const std::string disk_spec = "/images/b.img,raw,xvdb,w";
const std::string vif_spec = "mac=00:16:3e:00:00:01,bridge=xenbr0";

using Call = FakeBackend::Call;

struct GoodCase {
    const char* name;
    uint32_t op;
    std::string payload;
    std::function<void(const Call&)> check; // what the backend got
};

std::vector<GoodCase> good_cases() {
    const auto attached = [](DeviceKind kind, std::string spec, uint32_t flags) {
        return [=](const Call& c) {
            CHECK(c.method == "attach_device");
            CHECK(c.domid == 7);
            CHECK(c.kind == kind);
            CHECK(c.text == spec);
            CHECK(c.flags == flags);
        };
    };
    const auto detached = [](DeviceKind kind, std::string device, uint32_t flags, uint32_t timeout) {
        return [=](const Call& c) {
            CHECK(c.method == "detach_device");
            CHECK(c.domid == 7);
            CHECK(c.kind == kind);
            CHECK(c.text == device);
            CHECK(c.flags == flags);
            CHECK(c.timeout_ms == timeout); // as sent: 0 is the backend's to read as the default
        };
    };
    const auto limited = [](uint64_t rate, uint32_t rate_us, uint64_t iops, uint32_t iops_us) {
        return [=](const Call& c) {
            CHECK(c.method == "set_disk_limits");
            CHECK(c.domid == 7);
            CHECK(c.text == "51728");
            CHECK(c.limits.rate_bytes == rate);
            CHECK(c.limits.rate_interval_us == rate_us);
            CHECK(c.limits.iops == iops);
            CHECK(c.limits.iops_interval_us == iops_us);
        };
    };
    const std::string longest_spec(HV_CTL_DEVICE_SPEC_MAX - 1, 's');
    const std::string longest_name(HV_CTL_DEVICE_NAME_MAX - 1, 'n');
    const uint32_t persist = HV_CTL_DEVICE_PERSIST, force = HV_CTL_DEVICE_FORCE;
    return {
        {"attach disk", HV_DOMCTL_DEVICE_ATTACH, attach_payload(7, HV_CTL_DEVICE_DISK, disk_spec),
         attached(DeviceKind::disk, disk_spec, 0)},
        {"attach disk, persist", HV_DOMCTL_DEVICE_ATTACH, attach_payload(7, HV_CTL_DEVICE_DISK, disk_spec, persist),
         attached(DeviceKind::disk, disk_spec, persist)},
        {"attach vif", HV_DOMCTL_DEVICE_ATTACH, attach_payload(7, HV_CTL_DEVICE_VIF, vif_spec),
         attached(DeviceKind::vif, vif_spec, 0)},
        {"attach vif, empty spec (every default)", HV_DOMCTL_DEVICE_ATTACH, attach_payload(7, HV_CTL_DEVICE_VIF, ""),
         attached(DeviceKind::vif, "", 0)},
        {"attach, the longest spec", HV_DOMCTL_DEVICE_ATTACH, attach_payload(7, HV_CTL_DEVICE_DISK, longest_spec),
         attached(DeviceKind::disk, longest_spec, 0)},
        {"detach disk by vdev", HV_DOMCTL_DEVICE_DETACH, detach_payload(7, HV_CTL_DEVICE_DISK, "xvdb"),
         detached(DeviceKind::disk, "xvdb", 0, 0)},
        {"detach disk by devid, force", HV_DOMCTL_DEVICE_DETACH, detach_payload(7, HV_CTL_DEVICE_DISK, "51728", force, 1000),
         detached(DeviceKind::disk, "51728", force, 1000)},
        {"detach vif by mac, force and persist, the longest timeout", HV_DOMCTL_DEVICE_DETACH,
         detach_payload(7, HV_CTL_DEVICE_VIF, "00:16:3e:00:00:01", force | persist, HV_CTL_DEVICE_TIMEOUT_MAX_MS),
         detached(DeviceKind::vif, "00:16:3e:00:00:01", force | persist, HV_CTL_DEVICE_TIMEOUT_MAX_MS)},
        {"detach, the longest name", HV_DOMCTL_DEVICE_DETACH, detach_payload(7, HV_CTL_DEVICE_VIF, longest_name),
         detached(DeviceKind::vif, longest_name, 0, 0)},
        {"limits", HV_DOMCTL_DISK_SET_LIMITS, limits_payload(7, 51728, 62500, 50000, 100, 1000000),
         limited(62500, 50000, 100, 1000000)},
        {"limits lifted, intervals 0", HV_DOMCTL_DISK_SET_LIMITS, limits_payload(7, 51728, 0, 0, 0, 0), limited(0, 0, 0, 0)},
        {"limits: iops alone", HV_DOMCTL_DISK_SET_LIMITS, limits_payload(7, 51728, 0, 0, 5, 20000), limited(0, 0, 5, 20000)},
        // create sets no ceiling on a disk's rate= or iops=, and neither does this.
        {"limits past any vif's", HV_DOMCTL_DISK_SET_LIMITS, limits_payload(7, 51728, ~0ull, 1, ~0ull, 1),
         limited(~0ull, 1, ~0ull, 1)},
    };
}

struct BadCase {
    std::string what;
    uint32_t op;
    std::string payload;
    std::string says; // besides the op's name
};

std::vector<BadCase> bad_cases() {
    std::vector<BadCase> v;
    const uint32_t disk = HV_CTL_DEVICE_DISK, vif = HV_CTL_DEVICE_VIF;
    const std::string a = attach_payload(7, disk, disk_spec);
    v.push_back({"attach empty", HV_DOMCTL_DEVICE_ATTACH, "", "1040"});
    v.push_back({"attach a domid only", HV_DOMCTL_DEVICE_ATTACH, wire::pack(hv_ctl_domid_t{7, 0}), "1040"});
    v.push_back({"attach one byte short", HV_DOMCTL_DEVICE_ATTACH, a.substr(0, a.size() - 1), "1039"});
    v.push_back({"attach one byte long", HV_DOMCTL_DEVICE_ATTACH, a + "x", "1041"});
    for (uint32_t flags : {HV_CTL_DEVICE_FORCE, 4u, 0x80000000u, 0xffffffffu}) // FORCE is a detach's
        v.push_back({"attach flags " + std::to_string(flags), HV_DOMCTL_DEVICE_ATTACH, attach_payload(7, disk, disk_spec, flags), "flags"});
    for (uint32_t kind : {0u, 3u, 0xffffffffu})
        v.push_back({"attach kind " + std::to_string(kind), HV_DOMCTL_DEVICE_ATTACH, attach_payload(7, kind, disk_spec), "kind"});
    for (uint32_t pad : {1u, 0x80000000u})
        v.push_back({"attach padding " + std::to_string(pad), HV_DOMCTL_DEVICE_ATTACH, attach_payload(7, disk, disk_spec, 0, pad),
                     "padding"});
    for (uint32_t kind : {disk, vif})
        v.push_back({"attach spec unterminated, kind " + std::to_string(kind), HV_DOMCTL_DEVICE_ATTACH,
                     unterminated(attach_payload(7, kind, ""), offsetof(hv_ctl_device_attach_t, spec), HV_CTL_DEVICE_SPEC_MAX),
                     "NUL"});
    std::string after_nul = attach_payload(7, vif, "");
    after_nul[offsetof(hv_ctl_device_attach_t, spec) + HV_CTL_DEVICE_SPEC_MAX - 1] = 'x';
    v.push_back({"attach bytes after the spec's NUL", HV_DOMCTL_DEVICE_ATTACH, after_nul, "after its NUL"});
    v.push_back({"attach empty disk spec", HV_DOMCTL_DEVICE_ATTACH, attach_payload(7, disk, ""), "empty"});
    v.push_back({"attach empty disk spec, persist", HV_DOMCTL_DEVICE_ATTACH, attach_payload(7, disk, "", HV_CTL_DEVICE_PERSIST), "empty"});

    const std::string d = detach_payload(7, disk, "xvdb");
    v.push_back({"detach empty", HV_DOMCTL_DEVICE_DETACH, "", "80"});
    v.push_back({"detach one byte short", HV_DOMCTL_DEVICE_DETACH, d.substr(0, d.size() - 1), "79"});
    v.push_back({"detach one byte long", HV_DOMCTL_DEVICE_DETACH, d + "x", "81"});
    v.push_back({"detach an attach's payload", HV_DOMCTL_DEVICE_DETACH, a, "1040"});
    for (uint32_t flags : {4u, 0x80000000u, 0xffffffffu})
        v.push_back({"detach flags " + std::to_string(flags), HV_DOMCTL_DEVICE_DETACH, detach_payload(7, disk, "xvdb", flags), "flags"});
    for (uint32_t kind : {0u, 3u, 0xffffffffu})
        v.push_back({"detach kind " + std::to_string(kind), HV_DOMCTL_DEVICE_DETACH, detach_payload(7, kind, "xvdb"), "kind"});
    for (uint32_t timeout : {HV_CTL_DEVICE_TIMEOUT_MAX_MS + 1, 0xffffffffu})
        v.push_back({"detach timeout " + std::to_string(timeout), HV_DOMCTL_DEVICE_DETACH,
                     detach_payload(7, vif, "0", 0, timeout), "timeout"});
    v.push_back({"detach name unterminated", HV_DOMCTL_DEVICE_DETACH,
                 unterminated(d, offsetof(hv_ctl_device_detach_t, device), HV_CTL_DEVICE_NAME_MAX), "NUL"});
    std::string name_after_nul = detach_payload(7, disk, "xvdb");
    name_after_nul[offsetof(hv_ctl_device_detach_t, device) + 5] = 'x';
    v.push_back({"detach bytes after the name's NUL", HV_DOMCTL_DEVICE_DETACH, name_after_nul, "after its NUL"});
    v.push_back({"detach empty disk name", HV_DOMCTL_DEVICE_DETACH, detach_payload(7, disk, ""), "empty"});
    v.push_back({"detach empty vif name", HV_DOMCTL_DEVICE_DETACH, detach_payload(7, vif, ""), "empty"});

    const std::string l = limits_payload(7, 51728, 1, 1, 1, 1);
    v.push_back({"limits empty", HV_DOMCTL_DISK_SET_LIMITS, "", "32"});
    v.push_back({"limits a vif rate's payload", HV_DOMCTL_DISK_SET_LIMITS, wire::pack(hv_ctl_vif_rate_t{7, 0, 1, 0, 1}), "24"});
    v.push_back({"limits one byte short", HV_DOMCTL_DISK_SET_LIMITS, l.substr(0, l.size() - 1), "31"});
    v.push_back({"limits one byte long", HV_DOMCTL_DISK_SET_LIMITS, l + "x", "33"});
    v.push_back({"limits rate without an interval", HV_DOMCTL_DISK_SET_LIMITS, limits_payload(7, 51728, 62500, 0, 0, 0),
                 "rate"});
    v.push_back({"limits iops without an interval", HV_DOMCTL_DISK_SET_LIMITS, limits_payload(7, 51728, 0, 0, 100, 0),
                 "iops"});
    v.push_back({"limits both without intervals", HV_DOMCTL_DISK_SET_LIMITS, limits_payload(7, 51728, 1, 0, 1, 0),
                 "interval"});
    return v;
}

} // namespace

TEST_CASE("request devices: good payloads reach the backend with what they say", "[control][request][devices]") {
    for (const auto& c : good_cases()) {
        FakeBackend b;
        const Reply r = handle_request(b, c.op, c.payload);
        INFO(c.name << " -> " << r.payload);
        REQUIRE(r.status == HV_OK);
        c.check(b.only_call());
        if (c.op == HV_DOMCTL_DEVICE_ATTACH) { // the new device's devid
            REQUIRE(r.payload.size() == sizeof(hv_ctl_device_id_t));
            const auto id = wire::unpack<hv_ctl_device_id_t>(r.payload);
            CHECK(id->devid == b.attach_id);
            CHECK(id->_pad0 == 0);
        } else {
            CHECK(r.payload.empty());
        }
    }
}

TEST_CASE("request devices: every rule refuses its payload before the backend sees it", "[control][request][devices][bad]") {
    const char* names[] = {"device attach", "device detach", "disk limits"};
    for (const auto& c : bad_cases()) {
        FakeBackend b;
        const Reply r = handle_request(b, c.op, c.payload);
        INFO(c.what << " -> " << r.status << " " << r.payload);
        CHECK(r.status == HV_EINVAL);
        CHECK(b.calls.empty());
        const char* op = names[c.op == HV_DOMCTL_DEVICE_ATTACH ? 0 : c.op == HV_DOMCTL_DEVICE_DETACH ? 1 : 2];
        CHECK_THAT(r.payload, Catch::StartsWith(std::string(op) + ": ") && Catch::Contains(c.says));
    }
}

TEST_CASE("request devices: backend errors keep their code and message", "[control][request][devices][errors]") {
    const int last = static_cast<int>(Errc::protocol_error);
    for (const auto& c : good_cases()) {
        for (int i = 0; i <= last; ++i) {
            const auto e = static_cast<Errc>(i);
            FakeBackend b;
            b.fail = Error{e, std::string(c.name) + ": " + std::string(hv::errc_name(e))};
            const Reply r = handle_request(b, c.op, c.payload);
            INFO(c.name << " / " << hv::errc_name(e));
            CHECK(r.status == wire::status_of(e));
            CHECK(r.payload == b.fail->message);
            CHECK(b.calls.size() == 1);
        }
    }
    // The common ones: a detach the guest did not answer, no such device.
    FakeBackend b;
    b.fail = Error{Errc::timed_out, "domain 7: the guest did not release disk xvdb within 10000 ms"};
    CHECK(handle_request(b, HV_DOMCTL_DEVICE_DETACH, detach_payload(7, HV_CTL_DEVICE_DISK, "xvdb")).status == HV_ETIMEDOUT);
    b.fail = Error{Errc::not_found, "domain 7: no disk xvdz"};
    CHECK(handle_request(b, HV_DOMCTL_DISK_SET_LIMITS, limits_payload(7, 1, 0, 0, 0, 0)).status == HV_ENOENT);
}

TEST_CASE("request devices: a decoded request encodes to the bytes it came from", "[control][request][devices]") {
    for (const auto& c : good_cases()) {
        INFO(c.name);
        if (c.op == HV_DOMCTL_DEVICE_ATTACH) {
            hv::control::DeviceAttach a;
            REQUIRE(hv::control::decode_device_attach(c.payload, a).empty());
            CHECK(hv::control::encode_device_attach(a) == c.payload);
        } else if (c.op == HV_DOMCTL_DEVICE_DETACH) {
            hv::control::DeviceDetach d;
            REQUIRE(hv::control::decode_device_detach(c.payload, d).empty());
            CHECK(hv::control::encode_device_detach(d) == c.payload);
        }
    }
    CHECK(hv::control::device_timeout_ms(0) == HV_CTL_DEVICE_TIMEOUT_DEFAULT_MS);
    CHECK(hv::control::device_timeout_ms(1) == 1);
}

TEST_CASE("request devices: the SDK's payloads are ones the handler takes", "[control][request][devices][sdk]") {
    using hv::sdk::UnixBackend;
    FakeBackend b;
    auto a = UnixBackend::device_attach_payload(7, DeviceKind::vif, "", HV_CTL_DEVICE_PERSIST);
    REQUIRE(a);
    REQUIRE(handle_request(b, HV_DOMCTL_DEVICE_ATTACH, *a).status == HV_OK);
    CHECK(b.only_call().kind == DeviceKind::vif);
    CHECK(b.only_call().flags == HV_CTL_DEVICE_PERSIST);
    b.calls.clear();
    auto d = UnixBackend::device_detach_payload(7, DeviceKind::disk, "xvdb", HV_CTL_DEVICE_FORCE, 2000);
    REQUIRE(d);
    REQUIRE(handle_request(b, HV_DOMCTL_DEVICE_DETACH, *d).status == HV_OK);
    CHECK(b.only_call().text == "xvdb");
    CHECK(b.only_call().timeout_ms == 2000);

    // What the fields cannot carry is refused in the client, naming it.
    auto long_spec = UnixBackend::device_attach_payload(7, DeviceKind::disk, std::string(HV_CTL_DEVICE_SPEC_MAX, 's'), 0);
    REQUIRE_FALSE(long_spec);
    CHECK(long_spec.error().code == Errc::invalid_argument);
    CHECK_THAT(long_spec.error().message, Catch::Contains("1023"));
    CHECK_FALSE(UnixBackend::device_attach_payload(7, DeviceKind::disk, std::string("/a\0b,xvdb", 9), 0));
    CHECK_FALSE(UnixBackend::device_detach_payload(7, DeviceKind::vif, std::string(HV_CTL_DEVICE_NAME_MAX, 'n'), 0, 0));
    CHECK_FALSE(UnixBackend::device_detach_payload(7, DeviceKind::vif, std::string("0\0", 2), 0, 0));
}

TEST_CASE("request devices: a monitor without hvd refuses persist rather than drop it", "[control][devices]") {
    // The refusal comes before the monitor is asked anything, so none is needed here.
    hv::control::MonitorBackend m(nullptr);
    auto id = m.attach_device(1, DeviceKind::disk, disk_spec, HV_CTL_DEVICE_PERSIST);
    REQUIRE_FALSE(id);
    CHECK(id.error().code == Errc::not_supported);
    CHECK_THAT(id.error().message, Catch::Contains("hvd"));
    auto r = m.detach_device(1, DeviceKind::vif, "0", HV_CTL_DEVICE_PERSIST | HV_CTL_DEVICE_FORCE, 0);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::not_supported);
}
