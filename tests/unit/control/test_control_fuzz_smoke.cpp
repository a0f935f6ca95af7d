// The control fuzz target (tests/fuzz/control_fuzz.cpp) run as a unit
// test: 50,000 seeded inputs, random bytes and valid request/reply/event
// streams with a few mutations each, through the same checks libFuzzer
// runs. Reproducible: the seed is fixed and a failure prints its input.
#include <catch2/catch.hpp>

#include "../../fuzz/fuzz_smoke.hpp"

#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "hv/sdk/wire_types.hpp"

#include "../../fuzz/control_fuzz.hpp"

namespace wire = hv::sdk::wire;
using hv::fuzz::ControlFuzzStats;

namespace {

// The ops control_fuzz.cpp's direct pass picks from (first byte).
constexpr const auto& ops = hv::fuzz::kFuzzOps;
constexpr size_t kEventPick = std::size(ops);    // a domain event for the client
constexpr size_t kListPick = std::size(ops) + 1; // a list reply

class Gen : public hv::fuzz::SmokeGen {
public:
    using SmokeGen::SmokeGen;

    uint32_t u32() { return static_cast<uint32_t>(rng_()); }
    // Mostly small; one in eight is one the fuzz backend does not know.
    uint32_t domid() { return one_in(8) ? 0xffff0000u + u32() % 16 : u32() % 16; }
    std::string text(size_t n) {
        static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789-_=\" /.";
        std::string s(n, 'a');
        for (auto& c : s) c = alphabet[below(sizeof alphabet - 1)];
        return s;
    }
    uint32_t interesting() {
        static constexpr uint32_t values[] = {0u, 1u, 2u, 3u, 4u, 7u, 8u, 16u, 63u, 64u, 72u, 136u, 0x7fffffffu,
                                              0x80000000u, 0xfffffffeu, 0xffffffffu, HV_CTL_MAX_PAYLOAD,
                                              HV_CTL_MAX_PAYLOAD + 1, HV_CTL_MAGIC};
        return values[below(std::size(values))];
    }

    std::string name() {
        hv_ctl_lookup_t l{};
        wire::put_name(l.name, text(below(HV_CTL_NAME_MAX)));
        return wire::pack(l);
    }

    // A well-formed payload for `op`.
    std::string request_payload(uint32_t op) {
        switch (op) {
        case HV_DOMCTL_CREATE:
        case HV_DOMCTL_DEFINE: {
            const std::string source = "/etc/hv/" + text(below(12)) + ".cfg";
            const std::string cfg = "name = \"" + text(below(10)) + "\"\nmemory = " + std::to_string(below(4096)) + "\n";
            std::string overrides;
            for (size_t i = below(3); i > 0; --i) overrides += text(below(8)) + "=" + text(below(5)) + "\n";
            hv_ctl_create_t c{one_in(2) ? HV_CTL_CREATE_PAUSED : 0u, static_cast<uint32_t>(source.size()),
                              static_cast<uint32_t>(cfg.size()), static_cast<uint32_t>(overrides.size())};
            return wire::pack(c, source + cfg + overrides);
        }
        case HV_DOMCTL_CREATE_SPEC: {
            hv::sdk::DomainSpec d;
            d.name = text(below(10));
            d.kernel = "/boot/" + text(below(8));
            if (one_in(4)) d.ramdisk = "/boot/" + text(below(8));
            d.cmdline = text(below(20));
            d.memory_mib = u32() % 8192;
            d.vcpus = u32() % 200;
            if (one_in(2)) d.uuid = hv::sdk::Uuid{};
            d.on_crash = static_cast<hv::sdk::Action>(u32() % 9);
            return *wire::spec_payload(d, one_in(2));
        }
        case HV_DOMCTL_DESTROY:
        case HV_DOMCTL_PAUSE:
        case HV_DOMCTL_UNPAUSE:
        case HV_DOMCTL_INFO:
        case HV_DOMCTL_BLOCK_LIST:
        case HV_DOMCTL_NETWORK_LIST: return wire::pack(hv_ctl_domid_t{domid(), 0});
        case HV_DOMCTL_VIF_SET_RATE: // mostly a rate xl.cfg could give; one in four no limit
            return wire::pack(hv_ctl_vif_rate_t{domid(), u32() % 4, one_in(8) ? 0u : 50000u, 0, one_in(4) ? 0u : uint64_t{u32() % 1000000}});
        case HV_DOMCTL_DEVICE_ATTACH: { // mostly a kind and flags the ABI knows; specs of either kind
            hv_ctl_device_attach_t a{};
            a.domid = domid();
            a.kind = one_in(8) ? u32() % 4 : 1 + u32() % 2;
            a.flags = one_in(8) ? u32() % 4 : u32() % 2;
            wire::put_name(a.spec, one_in(4) ? "" : one_in(2) ? "/images/" + text(below(12)) + ",raw,xvdb,w" : "bridge=" + text(below(8)));
            return wire::pack(a);
        }
        case HV_DOMCTL_DEVICE_DETACH: {
            hv_ctl_device_detach_t d{};
            d.domid = domid();
            d.kind = one_in(8) ? u32() % 4 : 1 + u32() % 2;
            d.flags = u32() % (one_in(8) ? 8 : 4);
            d.timeout_ms = one_in(8) ? interesting() : u32() % (HV_CTL_DEVICE_TIMEOUT_MAX_MS + 1);
            wire::put_name(d.device, one_in(8) ? "" : text(1 + below(HV_CTL_DEVICE_NAME_MAX - 1)));
            return wire::pack(d);
        }
        case HV_DOMCTL_DISK_SET_LIMITS: // one in eight amounts without an interval
            return wire::pack(hv_ctl_disk_limits_t{domid(), u32(), one_in(8) ? 0u : 50000u, one_in(8) ? 0u : 1000000u,
                                                   one_in(4) ? 0u : uint64_t{u32()}, one_in(4) ? 0u : uint64_t{u32() % 5000}});
        case HV_DOMCTL_CONSOLE_HISTORY: return wire::pack(hv_ctl_console_t{domid(), u32() % 3});
        case HV_DOMCTL_CONSOLE_WRITE: return wire::pack(hv_ctl_console_t{domid(), u32() % 3}, bytes(below(40)));
        case HV_DOMCTL_VCPU_SET: return wire::pack(hv_ctl_vcpu_set_t{domid(), u32() % 8});
        case HV_DOMCTL_SHUTDOWN:
            return wire::pack(hv_ctl_shutdown_t{domid(), u32() % 2, u32() % 4, u32() % 10000});
        case HV_DOMCTL_RENAME: {
            hv_ctl_rename_t r{};
            r.domid = domid();
            wire::put_name(r.name, text(below(HV_CTL_NAME_MAX)));
            return wire::pack(r);
        }
        case HV_DOMCTL_LOOKUP:
        case HV_DOMCTL_START:
        case HV_DOMCTL_UNDEFINE: return name();
        case HV_DOMCTL_WAIT: return wire::pack(hv_ctl_wait_t{domid(), u32() % 1000});
        case HV_SYSCTL_HELLO: return wire::pack(hv_ctl_hello_t{1, 1, 0, 0, 0});
        case HV_SYSCTL_SUBSCRIBE: return wire::pack(hv_ctl_subscribe_t{HV_CTL_SUB_EVENTS, 0});
        default: return {};
        }
    }

    std::string frame() {
        const size_t pick = below(10);
        if (pick == 0) { // an event, as a client receives it
            hv::sdk::Event e;
            e.kind = static_cast<hv::sdk::Event::Kind>(1 + below(7));
            e.domid = domid();
            e.name = text(below(HV_CTL_NAME_MAX));
            if (one_in(2)) e.reason = static_cast<hv::sdk::ShutdownReason>(below(4));
            return wire::encode(1, HV_CTL_EVENT, HV_CTL_EVENT_DOMAIN, 0, 0, wire::pack(wire::to_wire(e)));
        }
        if (pick == 1) { // a reply carrying domain infos
            hv::sdk::DomainInfo d;
            d.domid = domid();
            d.name = text(below(HV_CTL_NAME_MAX));
            d.vcpus = 1;
            std::string p;
            for (size_t i = 1 + below(3); i > 0; --i) p += wire::pack(wire::to_wire(d));
            return wire::encode(1, HV_CTL_REPLY, HV_DOMCTL_LIST, u32(), HV_OK, p);
        }
        const uint32_t op = ops[below(std::size(ops))];
        return wire::encode(1, HV_CTL_REQUEST, op, u32(), 0, request_payload(op));
    }

    void mutate(std::string& s) {
        if (s.empty()) {
            s = bytes(1 + below(8));
            return;
        }
        switch (below(7)) {
        case 0: s[below(s.size())] ^= static_cast<char>(1u << below(8)); break;
        case 1: s[below(s.size())] = static_cast<char>(u32()); break;
        case 2: { // an interesting 32-bit value at a 4-byte boundary
            const size_t off = below((s.size() + 3) / 4) * 4;
            if (off + 4 <= s.size()) {
                const uint32_t v = interesting();
                std::memcpy(s.data() + off, &v, 4);
            }
            break;
        }
        case 3: s.insert(below(s.size() + 1), bytes(1 + below(8))); break;
        case 4: s.erase(below(s.size()), 1 + below(8)); break;
        case 5: s.resize(below(s.size())); break;
        case 6: { // duplicate a range
            const size_t at = below(s.size());
            s.insert(below(s.size() + 1), s.substr(at, 1 + below(48)));
            break;
        }
        }
    }
};

using hv::fuzz::as_bytes;
using hv::fuzz::hex;

ControlFuzzStats check(const std::string& input) {
    ControlFuzzStats stats;
    const std::string why = hv::fuzz::control_fuzz_check(as_bytes(input), input.size(), stats);
    INFO("input " << hex(input));
    CHECK(why == "");
    return stats;
}

} // namespace

TEST_CASE("control fuzz: the harness sees what a valid stream does", "[control][fuzz]") {
    std::string stream;
    stream += wire::encode(1, HV_CTL_REQUEST, HV_DOMCTL_LIST, 1, 0, "");
    stream += wire::encode(1, HV_CTL_REQUEST, HV_DOMCTL_INFO, 1, 0, wire::pack(hv_ctl_domid_t{1, 0}));
    stream += wire::encode(1, HV_CTL_REQUEST, HV_DOMCTL_SHUTDOWN, 1, 0, wire::pack(hv_ctl_shutdown_t{1, 0, 0, 0}));
    stream += wire::encode(1, HV_CTL_REQUEST, HV_DOMCTL_PAUSE, 2, 0, wire::pack(hv_ctl_domid_t{1, 1})); // padding
    stream += wire::encode(1, HV_CTL_REQUEST, 0x00090009u, 3, 0, "");                                  // unknown op
    stream += wire::encode(1, HV_CTL_REQUEST, HV_DOMCTL_UNPAUSE, 3, 0, wire::pack(hv_ctl_domid_t{0xffff0001u, 0}));
    stream += wire::encode(1, HV_CTL_REQUEST, HV_DOMCTL_INFO, 4, 0, wire::pack(hv_ctl_domid_t{1, 0})).substr(0, 30);
    ControlFuzzStats s = check(stream);
    CHECK(s.frames == 6);
    CHECK(s.requests == 6);
    CHECK(s.ok_replies == 3);
    CHECK(s.refused == 1);
    CHECK(s.unknown_ops == 1);
    CHECK(s.backend_errors == 1); // the fuzz backend knows no domid from 0xffff0000 up
    CHECK(s.stream_errors == 0);
    CHECK(s.client_decoded == 4); // list's 3 infos + info's 1

    // The last frame is partial: 30 of its 32 bytes.
    s = check(stream.substr(0, 8) + std::string(4, 'x') + stream.substr(12));
    CHECK(s.stream_errors == 0); // op bytes are not the decoder's business
    CHECK(s.unknown_ops == 2);
    s = check(std::string("HVCQ") + stream.substr(4));
    CHECK(s.stream_errors == 1);
    CHECK(s.frames == 0);
    CHECK(hv_control_fuzz_one(as_bytes(stream), stream.size()) == 0);

    // The direct pass: first byte 6 is SHUTDOWN, the rest its payload.
    REQUIRE(ops[6] == HV_DOMCTL_SHUTDOWN);
    s = check(std::string(1, '\x06') + wire::pack(hv_ctl_shutdown_t{1, HV_SHUTDOWN_REBOOT, 0, 0}));
    CHECK(s.frames == 0);
    CHECK(s.direct_ok == 1);
    CHECK(s.direct_refused == 0);
    s = check(std::string(1, static_cast<char>(6 + kListPick + 1)) + wire::pack(hv_ctl_shutdown_t{1, 99, 0, 0}));
    CHECK(s.direct_ok == 0);
    CHECK(s.direct_refused == 1);
    // After the ops: a domain event for the client, then a list reply.
    hv::sdk::Event e;
    e.kind = hv::sdk::Event::Kind::renamed;
    e.name = "x";
    s = check(std::string(1, static_cast<char>(kEventPick)) + wire::pack(wire::to_wire(e)));
    CHECK(s.client_decoded == 1);
    hv::sdk::DomainInfo d;
    d.name = "y";
    s = check(std::string(1, static_cast<char>(kListPick)) + wire::pack(wire::to_wire(d)) + wire::pack(wire::to_wire(d)));
    CHECK(s.client_decoded == 2);
    CHECK(s.direct_ok + s.direct_refused == 0);
    CHECK(hv_control_fuzz_one(nullptr, 0) == 0);
}

TEST_CASE("control fuzz: 50,000 seeded random and mutated inputs keep every invariant", "[control][fuzz]") {
    Gen g(0x6876'6374'6c66'7a7aull); // "hvctlfzz"
    ControlFuzzStats total;
    size_t failures = 0;
    constexpr int kInputs = 50'000;
    for (int i = 0; i < kInputs; ++i) {
        std::string input;
        if (i % 10 == 0) {
            input = g.bytes(g.below(200));
            if (g.one_in(2) && input.size() >= 4) std::memcpy(input.data(), "HVCP", 4);
        } else if (i % 10 == 1) { // one request for the direct pass: op index, payload
            const size_t op = g.below(std::size(ops));
            input = std::string(1, static_cast<char>(op)) + g.request_payload(ops[op]);
            for (size_t m = g.below(3); m > 0; --m) g.mutate(input);
        } else if (i % 10 == 2) { // a direct event or reply: the frame's payload after its header
            do input = g.frame();
            while (input[6] == HV_CTL_REQUEST); // the header's kind
            input = std::string(1, static_cast<char>(input[6] == HV_CTL_EVENT ? kEventPick : kListPick)) + input.substr(sizeof(hv_ctl_header_t));
            for (size_t m = g.below(3); m > 0; --m) g.mutate(input);
        } else {
            for (size_t n = 1 + g.below(4); n > 0; --n) input += g.frame();
            for (size_t m = g.below(5); m > 0; --m) g.mutate(input);
        }
        ControlFuzzStats s;
        const std::string why = hv::fuzz::control_fuzz_check(as_bytes(input), input.size(), s);
        if (!why.empty() && ++failures <= 5) {
            INFO("input #" << i << ": " << hex(input));
            CHECK(why == "");
        }
        total.frames += s.frames;
        total.requests += s.requests;
        total.ok_replies += s.ok_replies;
        total.refused += s.refused;
        total.unknown_ops += s.unknown_ops;
        total.stream_errors += s.stream_errors;
        total.client_decoded += s.client_decoded;
        total.direct_ok += s.direct_ok;
        total.direct_refused += s.direct_refused;
        total.backend_errors += s.backend_errors;
    }
    CHECK(failures == 0);
    INFO("frames " << total.frames << " requests " << total.requests << " ok " << total.ok_replies << " refused "
                   << total.refused << " unknown " << total.unknown_ops << " stream errors " << total.stream_errors
                   << " client decoded " << total.client_decoded << " direct ok " << total.direct_ok
                   << " direct refused " << total.direct_refused << " backend errors " << total.backend_errors);
    // The mix reaches every outcome, so passing means something.
    CHECK(total.ok_replies > 20'000);
    CHECK(total.refused > 1'500);
    CHECK(total.unknown_ops > 2'000);
    CHECK(total.stream_errors > 5'000);
    CHECK(total.client_decoded > 5'000);
    CHECK(total.direct_ok > 1'000);
    CHECK(total.direct_refused > 5'000);
    CHECK(total.backend_errors > 1'000);
}
