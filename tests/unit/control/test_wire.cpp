// The control ABI's framing and conversions (hv/sdk/wire.hpp,
// hv/sdk/wire_types.hpp): the incremental Decoder fed at every split, the
// headers it must refuse, pack/unpack, name fields, status codes, and the
// DomainInfo/Event structs in both directions.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "hv/sdk/unix_backend.hpp"
#include "hv/sdk/wire.hpp"
#include "hv/sdk/wire_types.hpp"

using hv::Errc;
using hv::sdk::DomainInfo;
using hv::sdk::Event;
using hv::sdk::ShutdownReason;
using hv::sdk::State;
namespace wire = hv::sdk::wire;
using Status = wire::Decoder::Status;

namespace {

struct Sent {
    uint16_t kind;
    uint32_t op;
    uint32_t request_id;
    int32_t status;
    std::string payload;
};

std::string bytes_of(const Sent& s) {
    return wire::encode(HV_CTL_VERSION, s.kind, s.op, s.request_id, s.status, s.payload);
}

// Every frame the decoder has now; stops at need_more or error.
Status drain(wire::Decoder& d, std::vector<wire::Frame>& out) {
    for (;;) {
        wire::Frame f;
        const Status s = d.next(f);
        if (s != Status::frame) return s;
        out.push_back(std::move(f));
    }
}

void check_same(const std::vector<wire::Frame>& got, const std::vector<Sent>& want) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        INFO("frame " << i);
        CHECK(got[i].header.magic == HV_CTL_MAGIC);
        CHECK(got[i].header.version == HV_CTL_VERSION);
        CHECK(got[i].header.kind == want[i].kind);
        CHECK(got[i].header.op == want[i].op);
        CHECK(got[i].header.request_id == want[i].request_id);
        CHECK(got[i].header.status == want[i].status);
        CHECK(got[i].header.length == want[i].payload.size());
        CHECK(got[i].payload == want[i].payload);
    }
}

std::string header_bytes(uint32_t magic, uint16_t kind, uint32_t length) {
    hv_ctl_header_t h{};
    h.magic = magic;
    h.version = HV_CTL_VERSION;
    h.kind = kind;
    h.op = HV_DOMCTL_LIST;
    h.request_id = 9;
    h.length = length;
    return wire::pack(h);
}

std::string binary_payload() {
    std::string p;
    for (int i = 0; i < 300; ++i) p.push_back(static_cast<char>(i * 7));
    return p; // holds NULs and bytes that look like the magic's
}

const std::vector<Sent> three_frames = {
    {HV_CTL_REQUEST, HV_DOMCTL_LIST, 1, 0, ""},
    {HV_CTL_REPLY, HV_DOMCTL_INFO, 0xfffffffeu, HV_ENOENT, "no domain 7"},
    {HV_CTL_EVENT, HV_CTL_EVENT_CONSOLE, 0, 0, binary_payload()},
};

std::string stream_of(const std::vector<Sent>& frames) {
    std::string s;
    for (const auto& f : frames) s += bytes_of(f);
    return s;
}

DomainInfo sample_info() {
    DomainInfo d;
    d.domid = 42;
    d.name = "web-01";
    for (size_t i = 0; i < d.uuid.size(); ++i) d.uuid[i] = static_cast<uint8_t>(0xa0 + i);
    d.state = State::blocked;
    d.vcpus = 4;
    d.vcpus_online = 3;
    d.memory_mib = 2048;
    d.cpu_seconds = 1.5;     // exact in binary and as nanoseconds
    d.uptime_seconds = 60.25;
    d.shutdown_reason = std::nullopt;
    d.restarted_as = 0;
    d.exists = true;
    return d;
}

} // namespace

// ---------------------------------------------------------------- Decoder

TEST_CASE("wire: encode writes the header the ABI describes", "[control][wire]") {
    const std::string b = wire::encode(1, HV_CTL_REPLY, HV_DOMCTL_PAUSE, 77, HV_EBUSY, "abc");
    REQUIRE(b.size() == sizeof(hv_ctl_header_t) + 3);
    hv_ctl_header_t h;
    std::memcpy(&h, b.data(), sizeof h);
    CHECK(h.magic == HV_CTL_MAGIC);
    CHECK(std::memcmp(b.data(), "HVCP", 4) == 0); // little-endian "HVCP"
    CHECK(h.version == 1);
    CHECK(h.kind == HV_CTL_REPLY);
    CHECK(h.op == HV_DOMCTL_PAUSE);
    CHECK(h.request_id == 77);
    CHECK(h.status == HV_EBUSY);
    CHECK(h.length == 3);
    CHECK(b.substr(sizeof h) == "abc");
    CHECK(wire::encode(1, HV_CTL_REQUEST, HV_DOMCTL_LIST, 1, 0, "").size() == sizeof(hv_ctl_header_t));
}

TEST_CASE("wire: a frame split at every byte boundary decodes the same", "[control][wire][decoder]") {
    const std::string all = stream_of(three_frames);
    for (size_t cut = 0; cut <= all.size(); ++cut) {
        INFO("cut at " << cut);
        wire::Decoder d;
        std::vector<wire::Frame> got;
        d.feed(all.data(), cut);
        REQUIRE(drain(d, got) == Status::need_more);
        d.feed(all.data() + cut, all.size() - cut);
        REQUIRE(drain(d, got) == Status::need_more);
        check_same(got, three_frames);
        CHECK(d.buffered() == 0);
        CHECK(d.error().empty());
    }
}

TEST_CASE("wire: a stream fed one byte at a time decodes the same", "[control][wire][decoder]") {
    const std::string all = stream_of(three_frames);
    wire::Decoder d;
    std::vector<wire::Frame> got;
    size_t frames_seen_at_byte = 0;
    for (size_t i = 0; i < all.size(); ++i) {
        d.feed(all.data() + i, 1);
        const size_t before = got.size();
        REQUIRE(drain(d, got) == Status::need_more);
        if (got.size() != before) frames_seen_at_byte += i + 1;
    }
    check_same(got, three_frames);
    // Each frame comes out on exactly its last byte, not earlier.
    const size_t end0 = bytes_of(three_frames[0]).size();
    const size_t end1 = end0 + bytes_of(three_frames[1]).size();
    CHECK(frames_seen_at_byte == end0 + end1 + all.size());
}

TEST_CASE("wire: several frames in one feed come out in order", "[control][wire][decoder]") {
    std::vector<Sent> many;
    for (uint32_t i = 0; i < 20; ++i)
        many.push_back({HV_CTL_REQUEST, HV_DOMCTL_DESTROY, i, 0, wire::pack(hv_ctl_domid_t{i, 0})});
    many.push_back({HV_CTL_REQUEST, HV_DOMCTL_LIST, 99, 0, ""});
    const std::string all = stream_of(many);
    wire::Decoder d;
    d.feed(all.data(), all.size());
    CHECK(d.buffered() == all.size());
    std::vector<wire::Frame> got;
    CHECK(drain(d, got) == Status::need_more);
    check_same(got, many);
    CHECK(d.buffered() == 0);
}

TEST_CASE("wire: need_more until the header, then until the payload, is whole", "[control][wire][decoder]") {
    const std::string b = bytes_of(three_frames[1]);
    wire::Decoder d;
    wire::Frame f;
    CHECK(d.next(f) == Status::need_more);
    d.feed(b.data(), sizeof(hv_ctl_header_t) - 1);
    CHECK(d.next(f) == Status::need_more);
    d.feed(b.data() + sizeof(hv_ctl_header_t) - 1, 1);
    CHECK(d.next(f) == Status::need_more); // header whole, payload not
    CHECK(d.buffered() == sizeof(hv_ctl_header_t));
    d.feed(b.data() + sizeof(hv_ctl_header_t), b.size() - sizeof(hv_ctl_header_t));
    REQUIRE(d.next(f) == Status::frame);
    CHECK(f.payload == "no domain 7");
    CHECK(d.next(f) == Status::need_more);
}

TEST_CASE("wire: a bad magic is an error that poisons the stream", "[control][wire][decoder]") {
    const std::string good = bytes_of(three_frames[0]);
    // A good frame, then garbage: the good one still comes out first.
    std::string stream = good + header_bytes(0x50435649u, HV_CTL_REQUEST, 0) + good;
    wire::Decoder d;
    d.feed(stream.data(), stream.size());
    wire::Frame f;
    REQUIRE(d.next(f) == Status::frame);
    CHECK(d.next(f) == Status::error);
    CHECK_THAT(d.error(), Catch::Contains("magic"));
    CHECK(d.buffered() == 0);
    // Nothing after it is framed, however good.
    CHECK(d.next(f) == Status::error);
    d.feed(good.data(), good.size());
    CHECK(d.buffered() == 0);
    CHECK(d.next(f) == Status::error);
    CHECK_THAT(d.error(), Catch::Contains("magic"));
}

TEST_CASE("wire: a bad kind is an error that poisons the stream", "[control][wire][decoder]") {
    for (uint16_t kind : {uint16_t{0}, uint16_t{4}, uint16_t{0xffff}}) {
        INFO("kind " << kind);
        wire::Decoder d;
        const std::string b = header_bytes(HV_CTL_MAGIC, kind, 0);
        d.feed(b.data(), b.size());
        wire::Frame f;
        CHECK(d.next(f) == Status::error);
        CHECK_THAT(d.error(), Catch::Contains("kind") && Catch::Contains(std::to_string(kind)));
        const std::string good = bytes_of(three_frames[0]);
        d.feed(good.data(), good.size());
        CHECK(d.next(f) == Status::error);
        CHECK(d.buffered() == 0);
    }
    for (uint16_t kind : {uint16_t{HV_CTL_REQUEST}, uint16_t{HV_CTL_REPLY}, uint16_t{HV_CTL_EVENT}}) {
        wire::Decoder d;
        const std::string b = header_bytes(HV_CTL_MAGIC, kind, 0);
        d.feed(b.data(), b.size());
        wire::Frame f;
        CHECK(d.next(f) == Status::frame);
        CHECK(f.header.kind == kind);
    }
}

TEST_CASE("wire: an oversized length is refused from the header alone", "[control][wire][decoder]") {
    for (uint32_t len : {HV_CTL_MAX_PAYLOAD + 1, 0x80000000u, 0xffffffffu}) {
        INFO("length " << len);
        wire::Decoder d;
        const std::string b = header_bytes(HV_CTL_MAGIC, HV_CTL_REQUEST, len);
        d.feed(b.data(), b.size()); // no payload sent: the decoder must not wait for it
        wire::Frame f;
        CHECK(d.next(f) == Status::error);
        CHECK_THAT(d.error(), Catch::Contains(std::to_string(len)) && Catch::Contains("limit"));
        CHECK(d.buffered() == 0);
        d.feed(b.data(), b.size());
        CHECK(d.next(f) == Status::error);
        CHECK(d.buffered() == 0);
    }
}

TEST_CASE("wire: a payload of exactly HV_CTL_MAX_PAYLOAD bytes is accepted", "[control][wire][decoder]") {
    std::string payload(HV_CTL_MAX_PAYLOAD, '\0');
    for (size_t i = 0; i < payload.size(); i += 4093) payload[i] = static_cast<char>(i);
    const std::string b = wire::encode(1, HV_CTL_REPLY, HV_DOMCTL_CONSOLE_HISTORY, 5, 0, payload);
    wire::Decoder d;
    wire::Frame f;
    d.feed(b.data(), b.size() - 1);
    CHECK(d.next(f) == Status::need_more);
    d.feed(b.data() + b.size() - 1, 1);
    REQUIRE(d.next(f) == Status::frame);
    CHECK(f.header.length == HV_CTL_MAX_PAYLOAD);
    CHECK(f.payload == payload);
    CHECK(d.buffered() == 0);
    CHECK(d.error().empty());
}

TEST_CASE("wire: the decoder does not judge version, op or status", "[control][wire][decoder]") {
    // Those are the session's business (HELLO negotiation, unknown ops).
    const std::string b = wire::encode(0xffff, HV_CTL_REQUEST, 0xdeadbeef, 0, -12345, "x");
    wire::Decoder d;
    d.feed(b.data(), b.size());
    wire::Frame f;
    REQUIRE(d.next(f) == Status::frame);
    CHECK(f.header.version == 0xffff);
    CHECK(f.header.op == 0xdeadbeef);
    CHECK(f.header.status == -12345);
}

// --------------------------------------------------------- pack / unpack

TEST_CASE("wire: pack and unpack round-trip every request struct", "[control][wire]") {
    hv_ctl_shutdown_t s{7, HV_SHUTDOWN_REBOOT, HV_CTL_SHUTDOWN_WAIT | HV_CTL_SHUTDOWN_FORCE, 2500};
    std::string b = wire::pack(s);
    REQUIRE(b.size() == sizeof s);
    auto back = wire::unpack<hv_ctl_shutdown_t>(b);
    REQUIRE(back);
    CHECK(back->domid == 7);
    CHECK(back->reason == HV_SHUTDOWN_REBOOT);
    CHECK(back->flags == (HV_CTL_SHUTDOWN_WAIT | HV_CTL_SHUTDOWN_FORCE));
    CHECK(back->timeout_ms == 2500);

    hv_ctl_physinfo_t p{};
    p.nr_cpus = 2;
    p.total_mib = 24576;
    std::memcpy(p.host, "h", 2);
    p.node_distance[15][15] = 10;
    auto pb = wire::unpack<hv_ctl_physinfo_t>(wire::pack(p));
    REQUIRE(pb);
    CHECK(std::memcmp(&*pb, &p, sizeof p) == 0);

    hv_ctl_rename_t r{};
    r.domid = 3;
    REQUIRE(wire::put_name(r.name, "renamed"));
    auto rb = wire::unpack<hv_ctl_rename_t>(wire::pack(r));
    REQUIRE(rb);
    CHECK(std::memcmp(&*rb, &r, sizeof r) == 0);
}

TEST_CASE("wire: pack appends the trailer; unpack reads the head and refuses short input", "[control][wire]") {
    const std::string b = wire::pack(hv_ctl_create_t{HV_CTL_CREATE_PAUSED, 3, 2, 0}, std::string("/a\0cfg", 6));
    REQUIRE(b.size() == sizeof(hv_ctl_create_t) + 6);
    CHECK(b.substr(sizeof(hv_ctl_create_t)) == std::string("/a\0cfg", 6));
    auto c = wire::unpack<hv_ctl_create_t>(b);
    REQUIRE(c);
    CHECK(c->flags == HV_CTL_CREATE_PAUSED);
    CHECK(c->source_len == 3);
    CHECK(c->text_len == 2);
    CHECK(c->overrides_len == 0);

    for (size_t n = 0; n < sizeof(hv_ctl_create_t); ++n) CHECK_FALSE(wire::unpack<hv_ctl_create_t>(b.substr(0, n)));
    CHECK(wire::unpack<hv_ctl_create_t>(b.substr(0, sizeof(hv_ctl_create_t))));
    CHECK_FALSE(wire::unpack<hv_ctl_domain_info_t>(std::string(135, '\0')));
    CHECK(wire::unpack<hv_ctl_domain_info_t>(std::string(136, '\0')));
}

// ------------------------------------------------------------ name fields

TEST_CASE("wire: put_name takes up to 63 characters and NUL-pads the field", "[control][wire][name]") {
    char field[HV_CTL_NAME_MAX];
    std::memset(field, 'x', sizeof field);
    const std::string n63(63, 'a');
    REQUIRE(wire::put_name(field, n63));
    CHECK(std::memcmp(field, n63.data(), 63) == 0);
    CHECK(field[63] == '\0');
    CHECK(wire::get_name(field) == n63);

    std::memset(field, 'x', sizeof field);
    REQUIRE(wire::put_name(field, "dom"));
    CHECK(wire::get_name(field) == std::string("dom"));
    for (size_t i = 3; i < sizeof field; ++i) CHECK(field[i] == '\0');

    REQUIRE(wire::put_name(field, ""));
    CHECK(wire::get_name(field) == std::string());
}

TEST_CASE("wire: put_name refuses 64 characters and more", "[control][wire][name]") {
    char field[HV_CTL_NAME_MAX];
    std::memset(field, 'x', sizeof field);
    CHECK_FALSE(wire::put_name(field, std::string(64, 'b')));
    // What it leaves behind is a valid, empty field, not a half copy.
    CHECK(wire::get_name(field) == std::string());
    CHECK_FALSE(wire::put_name(field, std::string(1000, 'b')));
}

TEST_CASE("wire: get_name is nullopt when the field has no NUL", "[control][wire][name]") {
    char field[HV_CTL_NAME_MAX];
    std::memset(field, 'z', sizeof field);
    CHECK_FALSE(wire::get_name(field));
    field[63] = '\0';
    CHECK(wire::get_name(field) == std::string(63, 'z'));
    field[5] = '\0'; // the name ends at the first NUL; what follows is ignored
    CHECK(wire::get_name(field) == std::string(5, 'z'));
}

// ------------------------------------------------------------ status codes

TEST_CASE("wire: every Errc maps to its own status and back", "[control][wire][status]") {
    std::vector<int32_t> seen;
    const int last = static_cast<int>(Errc::protocol_error);
    for (int i = 0; i <= last; ++i) {
        const auto e = static_cast<Errc>(i);
        INFO(hv::errc_name(e));
        REQUIRE(hv::errc_name(e) != "unknown");
        const int32_t s = wire::status_of(e);
        CHECK(s < 0);
        CHECK(wire::errc_of(s) == e);
        for (int32_t other : seen) CHECK(other != s);
        seen.push_back(s);
    }
    CHECK(seen.size() == 12);
}

TEST_CASE("wire: status codes map to the documented Errc", "[control][wire][status]") {
    CHECK(wire::status_of(Errc::invalid_argument) == HV_EINVAL);
    CHECK(wire::status_of(Errc::not_found) == HV_ENOENT);
    CHECK(wire::status_of(Errc::exists) == HV_EEXIST);
    CHECK(wire::status_of(Errc::io_error) == HV_EIO);
    CHECK(wire::status_of(Errc::parse_error) == HV_EBADMSG);
    CHECK(wire::status_of(Errc::not_supported) == HV_ENOTSUP);
    CHECK(wire::status_of(Errc::busy) == HV_EBUSY);
    CHECK(wire::status_of(Errc::timed_out) == HV_ETIMEDOUT);
    CHECK(wire::status_of(Errc::platform_error) == HV_ENODEV);
    CHECK(wire::status_of(Errc::bad_image) == HV_ENOEXEC);
    CHECK(wire::status_of(Errc::permission_denied) == HV_EACCES);
    CHECK(wire::status_of(Errc::protocol_error) == HV_EPROTO);
    // Codes with no Errc of their own.
    CHECK(wire::errc_of(HV_ENOSYS) == Errc::not_supported);
    CHECK(wire::errc_of(HV_EPERM) == Errc::permission_denied);
    CHECK(wire::errc_of(HV_E2BIG) == Errc::invalid_argument);
    CHECK(wire::errc_of(-9999) == Errc::invalid_argument);
}

// ---------------------------------------------------------- DomainInfo

TEST_CASE("wire: DomainInfo survives to_wire/from_wire", "[control][wire][types]") {
    DomainInfo d = sample_info();
    hv_ctl_domain_info_t w = wire::to_wire(d);
    CHECK(w.domid == 42);
    CHECK(w.state == HV_CTL_STATE_BLOCKED);
    CHECK(w.cpu_time_ns == 1'500'000'000u);
    CHECK(w.uptime_ns == 60'250'000'000u);
    CHECK(w.shutdown_reason == HV_CTL_NO_REASON);
    CHECK(w.exists == 1);
    CHECK(w.flags == 0); // not unresponsive
    CHECK(w.uuid[0] == 0xa0);
    CHECK(w.uuid[15] == 0xaf);

    auto back = wire::from_wire(wire::unpack<hv_ctl_domain_info_t>(wire::pack(w)).value());
    REQUIRE(back.ok());
    CHECK(back->domid == d.domid);
    CHECK(back->name == d.name);
    CHECK(back->uuid == d.uuid);
    CHECK(back->state == d.state);
    CHECK(back->vcpus == 4);
    CHECK(back->vcpus_online == 3);
    CHECK(back->memory_mib == 2048);
    CHECK(back->cpu_seconds == Approx(1.5));
    CHECK(back->uptime_seconds == Approx(60.25));
    CHECK_FALSE(back->shutdown_reason);
    CHECK(back->restarted_as == 0);
    CHECK(back->exists);
}

TEST_CASE("wire: HostInfo survives to_wire/from_wire with every figure", "[control][wire][types]") {
    hv::sdk::HostInfo h;
    h.nr_cpus = 4;
    h.nr_domains = 2;
    h.total_mib = 32768;
    h.free_mib = 30000;
    h.abi_version = HV_ABI_VERSION;
    h.ctl_version = HV_CTL_VERSION;
    h.host = "myhost";
    h.release = "6.1.0-18-amd64";
    h.version = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1";
    h.machine = "x86_64";
    h.nr_nodes = 2;
    h.cores_per_socket = 2;
    h.threads_per_core = 2;
    h.cpu_khz = 2394454;
    h.hv_major = 0;
    h.hv_minor = 1;
    h.hv_extra = ".0-rc1";
    h.scheduler = "none";
    h.cpus = {{0, 0, 0, 0}, {1, 0, 0, 0}, {2, 1, 0, 2}, {5, hv::sdk::HostInfo::kUnknown, 1, 2}};
    h.nodes = {{0, 16384, 15000, {10, 0, 21}}, {2, 16384, 15000, {21, 0, 10}}};

    const hv_ctl_physinfo_t w = wire::to_wire(h);
    CHECK(w._pad0 == 0);
    CHECK(w.node_mask == 0b101u);
    CHECK(w.cpu_node[3] == HV_CTL_PHYS_UNKNOWN);
    CHECK(w.cpu_core[5] == HV_CTL_PHYS_UNKNOWN);
    CHECK(std::string(w.host) == "myhost");
    auto back = wire::from_wire(*wire::unpack<hv_ctl_physinfo_t>(wire::pack(w)));
    CHECK(back.nr_cpus == 4);
    CHECK(back.nr_domains == 2);
    CHECK(back.total_mib == 32768);
    CHECK(back.free_mib == 30000);
    CHECK(back.abi_version == HV_ABI_VERSION);
    CHECK(back.ctl_version == HV_CTL_VERSION);
    CHECK(back.host == "myhost");
    CHECK(back.release == "6.1.0-18-amd64");
    CHECK(back.version == "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1");
    CHECK(back.machine == "x86_64");
    CHECK(back.nr_nodes == 2);
    CHECK(back.cores_per_socket == 2);
    CHECK(back.threads_per_core == 2);
    CHECK(back.cpu_khz == 2394454);
    CHECK(back.hv_version() == "0.1.0-rc1");
    CHECK(back.scheduler == "none");
    REQUIRE(back.cpus.size() == 4);
    CHECK(back.cpus[2].cpu == 2);
    CHECK(back.cpus[2].core == 1);
    CHECK(back.cpus[2].socket == 0);
    CHECK(back.cpus[2].node == 2);
    CHECK(back.cpus[3].cpu == 5);
    CHECK(back.cpus[3].core == hv::sdk::HostInfo::kUnknown);
    CHECK(back.cpus[3].socket == 1);
    REQUIRE(back.nodes.size() == 2);
    CHECK(back.nodes[1].node == 2);
    CHECK(back.nodes[1].total_mib == 16384);
    CHECK(back.nodes[1].free_mib == 15000);
    CHECK(back.nodes[0].distances == std::vector<uint32_t>{10, 0, 21});
    CHECK(back.nodes[1].distances == std::vector<uint32_t>{21, 0, 10});
}

TEST_CASE("wire: HostInfo is cut to the ABI's fields and tables, and a peer's unterminated string is read to its end",
          "[control][wire][types]") {
    hv::sdk::HostInfo h;
    h.host = std::string(100, 'h');
    h.hv_extra = std::string(40, 'x');
    h.cpus = {{0, 0, 0, 0}, {HV_CTL_PHYS_MAX_CPUS, 1, 1, 1}};
    h.nodes = {{0, 1, 1, {10}}, {HV_CTL_PHYS_MAX_NODES, 1, 1, {10}}};
    hv_ctl_physinfo_t w = wire::to_wire(h);
    CHECK(std::string(w.host) == std::string(63, 'h'));
    CHECK(std::string(w.hv_extra) == std::string(15, 'x'));
    CHECK(w.node_mask == 1u);
    auto back = wire::from_wire(w);
    CHECK(back.cpus.size() == 1);
    CHECK(back.nodes.size() == 1);

    std::memset(w.machine, 'm', sizeof w.machine); // no NUL
    CHECK(wire::from_wire(w).machine == std::string(sizeof w.machine, 'm'));
}

TEST_CASE("wire: DomainInfo carries every state, reason, and the restart fields", "[control][wire][types]") {
    for (State s : {State::running, State::blocked, State::paused, State::shutdown, State::crashed, State::dying}) {
        DomainInfo d = sample_info();
        d.state = s;
        auto back = wire::from_wire(wire::to_wire(d));
        REQUIRE(back.ok());
        CHECK(back->state == s);
    }
    for (auto r : {ShutdownReason::poweroff, ShutdownReason::reboot, ShutdownReason::suspend, ShutdownReason::crash}) {
        DomainInfo d = sample_info();
        d.shutdown_reason = r;
        d.restarted_as = 43;
        d.exists = false;
        d.name = std::string(63, 'n');
        const auto w = wire::to_wire(d);
        CHECK(w.shutdown_reason == static_cast<uint32_t>(r));
        auto back = wire::from_wire(w);
        REQUIRE(back.ok());
        CHECK(back->shutdown_reason == r);
        CHECK(back->restarted_as == 43);
        CHECK_FALSE(back->exists);
        CHECK(back->name == d.name);
    }
}

TEST_CASE("wire: DomainInfo from_wire refuses an unterminated name and an unknown reason", "[control][wire][types]") {
    hv_ctl_domain_info_t w = wire::to_wire(sample_info());
    std::memset(w.name, 'q', sizeof w.name);
    auto r = wire::from_wire(w);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::protocol_error);
    CHECK_THAT(r.error().message, Catch::Contains("name"));

    for (uint32_t reason : {4u, 99u, 0xfffffffeu}) {
        w = wire::to_wire(sample_info());
        w.shutdown_reason = reason;
        auto rr = wire::from_wire(w);
        INFO("reason " << reason);
        REQUIRE_FALSE(rr.ok());
        CHECK(rr.error().code == Errc::protocol_error);
        CHECK_THAT(rr.error().message, Catch::Contains(std::to_string(reason)));
    }
}

// ---------------------------------------------------------------- Event

TEST_CASE("wire: every Event kind survives to_wire/from_wire", "[control][wire][types]") {
    for (uint32_t k = HV_CTL_EV_CREATED; k <= HV_CTL_EV_DESTROYED; ++k) {
        Event e;
        e.kind = static_cast<Event::Kind>(k);
        e.domid = 10 + k;
        e.name = "dom-" + std::to_string(k);
        e.new_domid = k == HV_CTL_EV_RESTARTED ? 99 : 0;
        e.reason = k == HV_CTL_EV_SHUTDOWN ? std::optional<ShutdownReason>(ShutdownReason::crash) : std::nullopt;
        const hv_ctl_event_t w = wire::to_wire(e);
        CHECK(w.kind == k);
        CHECK(w.reason == (k == HV_CTL_EV_SHUTDOWN ? HV_SHUTDOWN_CRASH : HV_CTL_NO_REASON));
        auto back = wire::from_wire(wire::unpack<hv_ctl_event_t>(wire::pack(w)).value());
        REQUIRE(back.ok());
        CHECK(back->kind == e.kind);
        CHECK(back->domid == e.domid);
        CHECK(back->name == e.name);
        CHECK(back->reason == e.reason);
        CHECK(back->new_domid == e.new_domid);
    }
    Event e;
    e.name = std::string(63, 'e');
    for (auto r : {ShutdownReason::poweroff, ShutdownReason::reboot, ShutdownReason::suspend, ShutdownReason::crash}) {
        e.reason = r;
        auto back = wire::from_wire(wire::to_wire(e));
        REQUIRE(back.ok());
        CHECK(back->reason == r);
        CHECK(back->name == e.name);
    }
}

TEST_CASE("wire: Event from_wire refuses an unterminated name and an unknown kind", "[control][wire][types]") {
    Event e;
    e.kind = Event::Kind::paused;
    e.domid = 3;
    e.name = "x";
    hv_ctl_event_t w = wire::to_wire(e);
    std::memset(w.name, 'q', sizeof w.name);
    auto r = wire::from_wire(w);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::protocol_error);
    CHECK_THAT(r.error().message, Catch::Contains("name"));

    for (uint32_t kind : {0u, HV_CTL_EV_RESPONSIVE + 1, 0xffffffffu}) {
        INFO("kind " << kind);
        w = wire::to_wire(e);
        w.kind = kind;
        auto rk = wire::from_wire(w);
        REQUIRE_FALSE(rk.ok());
        CHECK(rk.error().code == Errc::protocol_error);
        CHECK_THAT(rk.error().message, Catch::Contains(std::to_string(kind)));
    }
}

TEST_CASE("wire: Event from_wire refuses an unknown shutdown reason", "[control][wire][types][regression]") {
    // DomainInfo's from_wire refuses reason 4..0xfffffffe as a protocol
    // error; Event's silently drops it (reason = nullopt), so a peer's bad
    // reason reads as "no reason" on one path and fails on the other.
    Event e;
    e.kind = Event::Kind::shutdown;
    e.domid = 3;
    e.name = "x";
    for (uint32_t reason : {4u, 99u}) {
        INFO("reason " << reason);
        hv_ctl_event_t w = wire::to_wire(e);
        w.reason = reason;
        auto r = wire::from_wire(w);
        CHECK_FALSE(r.ok());
    }
}

// ------------------------------------------------------------ client side

TEST_CASE("wire: the client builds create payloads the server decodes", "[control][wire][client]") {
    hv::sdk::CreateRequest req;
    req.source = "/etc/hv/a.cfg";
    req.config_text = "name = \"a\"\n";
    req.overrides = {"memory=64", "vcpus=2"};
    req.paused = true;
    auto p = hv::sdk::UnixBackend::create_payload(req);
    REQUIRE(p.ok());
    auto c = wire::unpack<hv_ctl_create_t>(*p).value();
    CHECK(c.flags == HV_CTL_CREATE_PAUSED);
    CHECK(c.source_len == req.source.size());
    CHECK(c.text_len == req.config_text.size());
    CHECK(p->substr(sizeof c) == req.source + req.config_text + "memory=64\nvcpus=2\n");
    req.overrides = {"a=1\nb=2"};
    CHECK_FALSE(hv::sdk::UnixBackend::create_payload(req).ok());
}

TEST_CASE("wire: a DomainSpec travels as typed fields and comes back whole", "[control][wire][client]") {
    hv::sdk::DomainSpec d;
    d.name = "typed";
    d.kernel = "/k/\"quoted\"\nline";
    d.ramdisk = "/r";
    d.cmdline = std::string("a\0b \\ \"c\"", 9);
    d.memory_mib = 0x123456789ull;
    d.vcpus = 7;
    d.uuid = hv::sdk::Uuid{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    d.on_poweroff = hv::sdk::Action::preserve;
    d.on_reboot = hv::sdk::Action::rename_restart;
    d.on_crash = static_cast<hv::sdk::Action>(99); // the monitor's to refuse, not the wire's
    hv::sdk::CreateRequest req;
    req.spec = d;
    req.paused = true;
    CHECK(hv::sdk::UnixBackend::create_op(req) == HV_DOMCTL_CREATE_SPEC);
    auto p = hv::sdk::UnixBackend::create_payload(req);
    REQUIRE(p.ok());
    auto w = wire::unpack<hv_ctl_domain_spec_t>(*p).value();
    CHECK(w.flags == (HV_CTL_CREATE_PAUSED | HV_CTL_SPEC_UUID));
    CHECK(w.memory_mib == 0x123456789ull);
    CHECK(w.on_reboot == HV_CTL_ACTION_RENAME_RESTART);
    CHECK(p->substr(sizeof w) == d.kernel + d.ramdisk + d.cmdline);
    bool paused = false;
    auto back = wire::spec_from_payload(*p, paused);
    REQUIRE(back.ok());
    CHECK(paused);
    CHECK(back->name == d.name);
    CHECK(back->kernel == d.kernel);
    CHECK(back->ramdisk == d.ramdisk);
    CHECK(back->cmdline == d.cmdline);
    CHECK(back->memory_mib == d.memory_mib);
    CHECK(back->vcpus == 7);
    CHECK(back->uuid == d.uuid);
    CHECK(back->on_poweroff == hv::sdk::Action::preserve);
    CHECK(back->on_reboot == hv::sdk::Action::rename_restart);
    CHECK(static_cast<uint32_t>(back->on_crash) == 99);

    // No uuid flag: no uuid, whatever the bytes say.
    d.uuid.reset();
    p = wire::spec_payload(d, false);
    REQUIRE(p.ok());
    back = wire::spec_from_payload(*p, paused);
    REQUIRE(back.ok());
    CHECK_FALSE(back->uuid.has_value());
    CHECK_FALSE(paused);

    // What the wire itself cannot carry is refused by field or by shape.
    d.name = std::string(HV_CTL_NAME_MAX, 'n');
    CHECK(wire::spec_payload(d, false).error().message == "DomainSpec.name: 64 bytes; at most 63 fit");
    d.name = "typed";
    d.cmdline = std::string(HV_CTL_MAX_PAYLOAD, 'c');
    CHECK(wire::spec_payload(d, false).error().message.rfind("DomainSpec: kernel, ramdisk and cmdline come to ", 0) == 0);
    d.cmdline = "x";
    std::string good = *wire::spec_payload(d, false);
    CHECK(wire::spec_from_payload(good.substr(0, 100), paused).error().message ==
          "create (typed): payload of 100 bytes, want at least 120");
    CHECK(wire::spec_from_payload(good + "z", paused).error().message.rfind("create (typed): trailer of ", 0) == 0);
    auto bad = good;
    bad[0] = 4; // an unknown flag
    CHECK(wire::spec_from_payload(bad, paused).error().message == "create (typed): unknown flags 4");
    bad = good;
    std::memset(bad.data() + offsetof(hv_ctl_domain_spec_t, name), 'n', HV_CTL_NAME_MAX);
    CHECK(wire::spec_from_payload(bad, paused).error().message == "DomainSpec.name: not NUL-terminated");
    // Padding must be zero: bytes after the name's NUL, a uuid without its flag.
    bad = good;
    bad[offsetof(hv_ctl_domain_spec_t, name) + 10] = 'x';
    CHECK(wire::spec_from_payload(bad, paused).error().message == "DomainSpec.name: bytes after its NUL terminator");
    bad = good;
    bad[offsetof(hv_ctl_domain_spec_t, uuid)] = 1;
    CHECK(wire::spec_from_payload(bad, paused).error().message == "DomainSpec.uuid: bytes set without HV_CTL_SPEC_UUID");
    // A NUL inside the name never leaves the client (it would cut the name short).
    d.name = std::string("ok\0../../evil", 13);
    CHECK(wire::spec_payload(d, false).error().message == "DomainSpec.name: contains a NUL byte");
}

TEST_CASE("wire: the client refuses a request payload over HV_CTL_MAX_PAYLOAD", "[control][wire][client][regression]") {
    // Regression (fixed): UnixBackend::create_payload and UnixChannel::call
    // did not check the payload against
    // HV_CTL_MAX_PAYLOAD, and wire::encode casts its size to uint32_t
    // unchecked. A config (or console_write) over 1 MiB goes out; the
    // server's Decoder refuses the header, replies HV_EPROTO and closes,
    // so the caller sees "write: Broken pipe" (or the protocol error) and
    // every later call on the same UnixBackend failed: the shared channel
    // was gone. Now: Errc::invalid_argument naming the size and limit,
    // before anything is sent.
    hv::sdk::CreateRequest req;
    req.source = "/etc/hv/big.cfg";
    req.config_text = "name = \"big\"\n#" + std::string(HV_CTL_MAX_PAYLOAD, 'x') + "\n";
    auto p = hv::sdk::UnixBackend::create_payload(req);
    CHECK_FALSE(p.ok());
    if (!p.ok()) CHECK(p.error().code == Errc::invalid_argument);
}
