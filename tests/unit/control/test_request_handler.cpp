// handle_request (libhv/control/request_handler.cpp) against a fake
// Backend: every op's good payload reaches the backend with the right
// arguments and gets the right reply; every malformed payload is refused
// with HV_EINVAL before the backend sees it; backend errors keep their code.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "control/request_handler.hpp"
#include "hv/sdk/wire_types.hpp"

#include "fake_backend.hpp"

using hv::Errc;
using hv::Error;
using hv::Result;
using hv::control::handle_request;
using hv::control::Reply;
using hv::sdk::CreateRequest;
using hv::sdk::DomainInfo;
using hv::sdk::HostInfo;
using hv::sdk::ShutdownReason;
using hv::sdk::ShutdownRequest;
namespace wire = hv::sdk::wire;
using hv::control_test::FakeBackend;

namespace {

std::string domid_payload(uint32_t domid, uint32_t pad = 0) { return wire::pack(hv_ctl_domid_t{domid, pad}); }

std::string lookup_payload(std::string_view name) {
    hv_ctl_lookup_t l{};
    REQUIRE(wire::put_name(l.name, name));
    return wire::pack(l);
}

std::string rename_payload(uint32_t domid, std::string_view name, uint32_t pad = 0) {
    hv_ctl_rename_t r{};
    r.domid = domid;
    r._pad0 = pad;
    REQUIRE(wire::put_name(r.name, name));
    return wire::pack(r);
}

std::string create_payload(uint32_t flags, std::string_view source, std::string_view text, std::string_view overrides) {
    hv_ctl_create_t c{flags, static_cast<uint32_t>(source.size()), static_cast<uint32_t>(text.size()),
                      static_cast<uint32_t>(overrides.size())};
    return wire::pack(c, std::string(source) + std::string(text) + std::string(overrides));
}

std::string create_header(uint32_t flags, uint32_t source_len, uint32_t text_len, uint32_t overrides_len,
                          std::string_view trailer) {
    return wire::pack(hv_ctl_create_t{flags, source_len, text_len, overrides_len}, trailer);
}

std::string shutdown_payload(uint32_t domid, uint32_t reason, uint32_t flags, uint32_t timeout_ms) {
    return wire::pack(hv_ctl_shutdown_t{domid, reason, flags, timeout_ms});
}

std::string vif_rate_payload(uint32_t domid, uint32_t devid, uint64_t bytes, uint32_t interval_us, uint32_t pad = 0) {
    return wire::pack(hv_ctl_vif_rate_t{domid, devid, interval_us, pad, bytes});
}

uint32_t reply_domid(const Reply& r) {
    REQUIRE(r.payload.size() == sizeof(hv_ctl_domid_t));
    auto d = wire::unpack<hv_ctl_domid_t>(r.payload);
    REQUIRE(d);
    CHECK(d->_pad0 == 0);
    return d->domid;
}

DomainInfo reply_info(std::string_view payload) {
    REQUIRE(payload.size() == sizeof(hv_ctl_domain_info_t));
    auto w = wire::unpack<hv_ctl_domain_info_t>(payload);
    REQUIRE(w);
    auto d = wire::from_wire(*w);
    REQUIRE(d.ok());
    return *d;
}

const std::string cfg_source = "/etc/hv/web.cfg";
const std::string cfg_text = "name = \"web\"\nmemory = 512\n";

// A good payload for every op that reaches the backend, and the method it calls.
struct GoodCase {
    const char* name;
    uint32_t op;
    std::string payload;
    const char* method;
};

std::vector<GoodCase> good_cases() {
    return {
        {"physinfo", HV_SYSCTL_PHYSINFO, "", "host_info"},
        {"dmesg", HV_SYSCTL_DMESG, "", "dmesg"},
        {"create", HV_DOMCTL_CREATE, create_payload(0, cfg_source, cfg_text, "memory=256\n"), "create"},
        {"define", HV_DOMCTL_DEFINE, create_payload(0, cfg_source, cfg_text, ""), "define"},
        {"destroy", HV_DOMCTL_DESTROY, domid_payload(7), "destroy"},
        {"pause", HV_DOMCTL_PAUSE, domid_payload(7), "pause"},
        {"unpause", HV_DOMCTL_UNPAUSE, domid_payload(7), "unpause"},
        {"shutdown", HV_DOMCTL_SHUTDOWN, shutdown_payload(7, HV_SHUTDOWN_POWEROFF, 0, 0), "shutdown"},
        {"rename", HV_DOMCTL_RENAME, rename_payload(7, "new"), "rename"},
        {"info", HV_DOMCTL_INFO, domid_payload(7), "info"},
        {"vcpu set", HV_DOMCTL_VCPU_SET, wire::pack(hv_ctl_vcpu_set_t{7, 3}), "set_vcpus"},
        {"list", HV_DOMCTL_LIST, "", "list"},
        {"lookup", HV_DOMCTL_LOOKUP, lookup_payload("web"), "lookup"},
        {"console write", HV_DOMCTL_CONSOLE_WRITE, domid_payload(7) + "ls\n", "console_write"},
        {"console history", HV_DOMCTL_CONSOLE_HISTORY, domid_payload(7), "console_history"},
        {"wait", HV_DOMCTL_WAIT, wire::pack(hv_ctl_wait_t{7, 100}), "wait"},
        {"start", HV_DOMCTL_START, lookup_payload("alpha"), "start"},
        {"undefine", HV_DOMCTL_UNDEFINE, lookup_payload("alpha"), "undefine"},
        {"list defined", HV_DOMCTL_LIST_DEFINED, "", "list_defined"},
        {"block list", HV_DOMCTL_BLOCK_LIST, domid_payload(7), "block_list"},
        {"network list", HV_DOMCTL_NETWORK_LIST, domid_payload(7), "network_list"},
        {"vif rate", HV_DOMCTL_VIF_SET_RATE, vif_rate_payload(7, 0, 62500, 50000), "set_vif_rate"},
    };
}

// A payload that must be refused before the backend sees it; `op_word` is
// the op's name as an error message should cite it.
struct BadCase {
    std::string what;
    uint32_t op;
    std::string payload;
    const char* op_word;
};

std::string with_name_unterminated(std::string payload, size_t name_offset) {
    std::memset(payload.data() + name_offset, 'n', HV_CTL_NAME_MAX);
    return payload;
}

std::vector<BadCase> bad_cases() {
    std::vector<BadCase> v;
    // Ops that take no payload.
    const std::pair<uint32_t, const char*> empty_ops[] = {{HV_SYSCTL_PHYSINFO, "physinfo"},
                                                          {HV_SYSCTL_DMESG, "dmesg"},
                                                          {HV_DOMCTL_LIST, "list"},
                                                          {HV_DOMCTL_LIST_DEFINED, "list defined"}};
    for (const auto& [op, word] : empty_ops) {
        v.push_back({std::string(word) + " with 1 byte", op, "x", word});
        v.push_back({std::string(word) + " with 8 bytes", op, domid_payload(1), word});
    }
    // hv_ctl_domid_t ops: wrong size, nonzero padding.
    const std::pair<uint32_t, const char*> domid_ops[] = {{HV_DOMCTL_DESTROY, "destroy"},
                                                          {HV_DOMCTL_PAUSE, "pause"},
                                                          {HV_DOMCTL_UNPAUSE, "unpause"},
                                                          {HV_DOMCTL_INFO, "info"},
                                                          {HV_DOMCTL_BLOCK_LIST, "block list"},
                                                          {HV_DOMCTL_NETWORK_LIST, "network list"}};
    for (const auto& [op, word] : domid_ops) {
        v.push_back({std::string(word) + " empty", op, "", word});
        v.push_back({std::string(word) + " 7 bytes", op, domid_payload(7).substr(0, 7), word});
        v.push_back({std::string(word) + " 9 bytes", op, domid_payload(7) + "x", word});
        v.push_back({std::string(word) + " padding", op, domid_payload(7, 1), word});
        v.push_back({std::string(word) + " high padding", op, domid_payload(7, 0x80000000u), word});
    }
    // console history and write: the hv_ctl_console_t head is short, or
    // names a console that does not exist (its second word is the console).
    v.push_back({"console history empty", HV_DOMCTL_CONSOLE_HISTORY, "", "console history"});
    v.push_back({"console history 7 bytes", HV_DOMCTL_CONSOLE_HISTORY, domid_payload(7).substr(0, 7), "console history"});
    v.push_back({"console history 9 bytes", HV_DOMCTL_CONSOLE_HISTORY, domid_payload(7) + "x", "console history"});
    v.push_back({"console history console 3", HV_DOMCTL_CONSOLE_HISTORY, domid_payload(7, 3), "console history"});
    v.push_back({"console history high console", HV_DOMCTL_CONSOLE_HISTORY, domid_payload(7, 0x80000000u), "console history"});
    v.push_back({"console write empty", HV_DOMCTL_CONSOLE_WRITE, "", "console write"});
    v.push_back({"console write 7 bytes", HV_DOMCTL_CONSOLE_WRITE, domid_payload(7).substr(0, 7), "console write"});
    v.push_back({"console write console 3", HV_DOMCTL_CONSOLE_WRITE, domid_payload(7, 3) + "ls\n", "console write"});
    // shutdown
    v.push_back({"shutdown 15 bytes", HV_DOMCTL_SHUTDOWN, shutdown_payload(7, 0, 0, 0).substr(0, 15), "shutdown"});
    v.push_back({"shutdown 17 bytes", HV_DOMCTL_SHUTDOWN, shutdown_payload(7, 0, 0, 0) + "x", "shutdown"});
    for (uint32_t reason : {HV_SHUTDOWN_SUSPEND, HV_SHUTDOWN_CRASH, 99u, 0xffffffffu})
        v.push_back({"shutdown reason " + std::to_string(reason), HV_DOMCTL_SHUTDOWN,
                     shutdown_payload(7, reason, 0, 0), "shutdown"});
    for (uint32_t flags : {4u, 0x80000000u, 0xffffffffu})
        v.push_back({"shutdown flags " + std::to_string(flags), HV_DOMCTL_SHUTDOWN,
                     shutdown_payload(7, HV_SHUTDOWN_REBOOT, flags, 0), "shutdown"});
    // rename
    v.push_back({"rename 71 bytes", HV_DOMCTL_RENAME, rename_payload(7, "x").substr(0, 71), "rename"});
    v.push_back({"rename 73 bytes", HV_DOMCTL_RENAME, rename_payload(7, "x") + "y", "rename"});
    v.push_back({"rename padding", HV_DOMCTL_RENAME, rename_payload(7, "x", 1), "rename"});
    v.push_back({"rename unterminated", HV_DOMCTL_RENAME,
                 with_name_unterminated(rename_payload(7, "x"), offsetof(hv_ctl_rename_t, name)), "rename"});
    // vcpu set
    v.push_back({"vcpu set 7 bytes", HV_DOMCTL_VCPU_SET, wire::pack(hv_ctl_vcpu_set_t{7, 3}).substr(0, 7), "vcpu set"});
    v.push_back({"vcpu set 9 bytes", HV_DOMCTL_VCPU_SET, wire::pack(hv_ctl_vcpu_set_t{7, 3}) + "x", "vcpu set"});
    // vif rate: wrong size, padding, a limit without an interval, past 100Gb/s
    v.push_back({"vif rate empty", HV_DOMCTL_VIF_SET_RATE, "", "vif rate"});
    v.push_back({"vif rate 8 bytes", HV_DOMCTL_VIF_SET_RATE, domid_payload(7), "vif rate"});
    v.push_back({"vif rate 23 bytes", HV_DOMCTL_VIF_SET_RATE, vif_rate_payload(7, 0, 1, 1).substr(0, 23), "vif rate"});
    v.push_back({"vif rate 25 bytes", HV_DOMCTL_VIF_SET_RATE, vif_rate_payload(7, 0, 1, 1) + "x", "vif rate"});
    v.push_back({"vif rate padding", HV_DOMCTL_VIF_SET_RATE, vif_rate_payload(7, 0, 1, 1, 1), "vif rate"});
    v.push_back({"vif rate no interval", HV_DOMCTL_VIF_SET_RATE, vif_rate_payload(7, 0, 62500, 0), "vif rate"});
    v.push_back({"vif rate over 100Gb/s", HV_DOMCTL_VIF_SET_RATE, vif_rate_payload(7, 0, 12500001, 1000), "vif rate"});
    v.push_back({"vif rate all ones", HV_DOMCTL_VIF_SET_RATE, vif_rate_payload(7, 0, ~0ull, 1), "vif rate"});
    // lookup / start / undefine
    const std::pair<uint32_t, const char*> name_ops[] = {
        {HV_DOMCTL_LOOKUP, "lookup"}, {HV_DOMCTL_START, "start"}, {HV_DOMCTL_UNDEFINE, "undefine"}};
    for (const auto& [op, word] : name_ops) {
        v.push_back({std::string(word) + " empty", op, "", word});
        v.push_back({std::string(word) + " 63 bytes", op, lookup_payload("a").substr(0, 63), word});
        v.push_back({std::string(word) + " 65 bytes", op, lookup_payload("a") + "b", word});
        v.push_back({std::string(word) + " unterminated", op, with_name_unterminated(lookup_payload("a"), 0), word});
    }
    // wait
    v.push_back({"wait empty", HV_DOMCTL_WAIT, "", "wait"});
    v.push_back({"wait 12 bytes", HV_DOMCTL_WAIT, wire::pack(hv_ctl_wait_t{7, 1}) + "abcd", "wait"});
    // create and define share the parser.
    const std::pair<uint32_t, const char*> create_ops[] = {{HV_DOMCTL_CREATE, "create"}, {HV_DOMCTL_DEFINE, "define"}};
    for (const auto& [op, word] : create_ops) {
        const std::string w = word;
        v.push_back({w + " empty", op, "", word});
        v.push_back({w + " 15 bytes", op, create_payload(0, "", "", "").substr(0, 15), word});
        v.push_back({w + " flag 4", op, create_payload(4, cfg_source, cfg_text, ""), word}); // 2 is REPLACE (define)
        v.push_back({w + " flag 31", op, create_payload(0x80000000u, cfg_source, cfg_text, ""), word});
        v.push_back({w + " trailer one byte long", op, create_payload(0, cfg_source, cfg_text, "") + "x", word});
        std::string short_trailer = create_payload(0, cfg_source, cfg_text, "");
        short_trailer.pop_back();
        v.push_back({w + " trailer one byte short", op, short_trailer, word});
        v.push_back({w + " lengths but no trailer", op, create_header(0, 3, 4, 5, ""), word});
        // Lengths whose 32-bit sum wraps around to the trailer's size.
        v.push_back({w + " source_len 0xffffffff", op, create_header(0, 0xffffffffu, 2, 0, "x"), word});
        v.push_back({w + " text_len 0xffffffff", op, create_header(0, 1, 0xffffffffu, 1, "x"), word});
        v.push_back({w + " overrides_len 0xffffffff", op, create_header(0, 0, 2, 0xffffffffu, "x"), word});
        v.push_back({w + " all 0xffffffff", op, create_header(0, 0xffffffffu, 0xffffffffu, 0xffffffffu, "xy"),
                     word}); // 3 * (2^32 - 1) = 2^33 + 2^32 - 3 wraps to -3 mod 2^32
        v.push_back({w + " halves", op, create_header(0, 0x80000000u, 0x80000000u, 3, "abc"), word});
        v.push_back({w + " override without newline", op, create_payload(0, cfg_source, cfg_text, "memory=256"), word});
        v.push_back({w + " last override without newline", op,
                     create_payload(0, cfg_source, cfg_text, "memory=256\nvcpus=2"), word});
    }
    return v;
}

} // namespace

// ------------------------------------------------------------- good calls

TEST_CASE("request: physinfo returns the backend's host info", "[control][request]") {
    FakeBackend b;
    b.host.host = "myhost";
    b.host.machine = "x86_64";
    b.host.nr_nodes = 1;
    b.host.cpu_khz = 2400000;
    b.host.hv_minor = 1;
    b.host.hv_extra = ".0";
    b.host.scheduler = "none";
    b.host.cpus = {{0, 0, 0, 0}, {1, 1, 0, 0}};
    b.host.nodes = {{0, 24576, 20000, {10}}};
    Reply r = handle_request(b, HV_SYSCTL_PHYSINFO, "");
    REQUIRE(r.status == HV_OK);
    CHECK(b.only_call().method == "host_info");
    REQUIRE(r.payload.size() == sizeof(hv_ctl_physinfo_t));
    auto p = wire::unpack<hv_ctl_physinfo_t>(r.payload).value();
    CHECK(p.nr_cpus == 2);
    CHECK(p.nr_domains == 3);
    CHECK(p.total_mib == 24576);
    CHECK(p.free_mib == 20000);
    CHECK(p.abi_version == 1);
    CHECK(p.ctl_version == 1);
    CHECK(std::string(p.host) == "myhost");
    CHECK(std::string(p.machine) == "x86_64");
    CHECK(p.nr_nodes == 1);
    CHECK(p.cpu_khz == 2400000);
    CHECK(p.hv_minor == 1);
    CHECK(std::string(p.hv_extra) == ".0");
    CHECK(std::string(p.scheduler) == "none");
    CHECK(p.cpu_core[1] == 1);
    CHECK(p.cpu_node[2] == HV_CTL_PHYS_UNKNOWN);
    CHECK(p.node_mask == 1u);
    CHECK(p.node_total_mib[0] == 24576);
    CHECK(p.node_distance[0][0] == 10);
}

TEST_CASE("request: dmesg returns the lines, one per line", "[control][request]") {
    FakeBackend b;
    Reply r = handle_request(b, HV_SYSCTL_DMESG, "");
    REQUIRE(r.status == HV_OK);
    CHECK(b.only_call().method == "dmesg");
    CHECK(r.payload == "hv: started\ndom 1: created\n");
    b.dmesg_lines.clear();
    CHECK(handle_request(b, HV_SYSCTL_DMESG, "").payload.empty());
}

TEST_CASE("request: create hands the source, text, overrides and flags to the backend", "[control][request]") {
    FakeBackend b;
    Reply r = handle_request(b, HV_DOMCTL_CREATE,
                             create_payload(HV_CTL_CREATE_PAUSED, cfg_source, cfg_text, "memory=256\nvcpus=2\n"));
    REQUIRE(r.status == HV_OK);
    const auto& c = b.only_call();
    CHECK(c.method == "create");
    CHECK(c.create.source == cfg_source);
    CHECK(c.create.config_text == cfg_text);
    CHECK(c.create.overrides == std::vector<std::string>{"memory=256", "vcpus=2"});
    CHECK(c.create.paused);
    CHECK(reply_domid(r) == 11);
}

TEST_CASE("request: create with no flags, no overrides, and empty strings", "[control][request]") {
    FakeBackend b;
    b.create_id = 0xfffffff0u;
    Reply r = handle_request(b, HV_DOMCTL_CREATE, create_payload(0, cfg_source, cfg_text, ""));
    REQUIRE(r.status == HV_OK);
    CHECK_FALSE(b.only_call().create.paused);
    CHECK(b.only_call().create.overrides.empty());
    CHECK(reply_domid(r) == 0xfffffff0u);

    b.calls.clear();
    r = handle_request(b, HV_DOMCTL_CREATE, create_payload(0, "", "", ""));
    REQUIRE(r.status == HV_OK); // an empty config is the backend's to judge
    CHECK(b.only_call().create.source.empty());
    CHECK(b.only_call().create.config_text.empty());

    // Bytes that would confuse a NUL-terminated reader pass through intact.
    b.calls.clear();
    const std::string text("a\0b", 3);
    r = handle_request(b, HV_DOMCTL_CREATE, create_payload(0, "/s", text, "k=v\n"));
    REQUIRE(r.status == HV_OK);
    CHECK(b.only_call().create.config_text == text);
    CHECK(b.only_call().create.source == "/s");
    CHECK(b.only_call().create.overrides == std::vector<std::string>{"k=v"});
}

TEST_CASE("request: create_spec hands the typed spec to the backend", "[control][request]") {
    FakeBackend b;
    hv::sdk::DomainSpec d;
    d.name = "typed";
    d.kernel = "/boot/k";
    d.memory_mib = 64;
    d.on_crash = hv::sdk::Action::preserve;
    Reply r = handle_request(b, HV_DOMCTL_CREATE_SPEC, *hv::sdk::wire::spec_payload(d, true));
    REQUIRE(r.status == HV_OK);
    const auto& c = b.only_call();
    CHECK(c.method == "create");
    REQUIRE(c.create.spec.has_value());
    CHECK(c.create.spec->name == "typed");
    CHECK(c.create.spec->memory_mib == 64);
    CHECK(c.create.spec->on_crash == hv::sdk::Action::preserve);
    CHECK(c.create.config_text.empty());
    CHECK(c.create.paused);
    CHECK(reply_domid(r) == 11);
    r = handle_request(b, HV_DOMCTL_CREATE_SPEC, "short");
    CHECK(r.status == HV_EINVAL);
    CHECK(r.payload == "create (typed): payload of 5 bytes, want at least 120");
}

TEST_CASE("request: define parses like create and replies with nothing", "[control][request]") {
    FakeBackend b;
    Reply r = handle_request(b, HV_DOMCTL_DEFINE, create_payload(0, cfg_source, cfg_text, "on_crash=destroy\n"));
    REQUIRE(r.status == HV_OK);
    CHECK(r.payload.empty());
    const auto& c = b.only_call();
    CHECK(c.method == "define");
    CHECK(c.create.source == cfg_source);
    CHECK(c.create.config_text == cfg_text);
    CHECK(c.create.overrides == std::vector<std::string>{"on_crash=destroy"});
}

TEST_CASE("request: destroy, pause and unpause pass the domid", "[control][request]") {
    const std::pair<uint32_t, const char*> ops[] = {
        {HV_DOMCTL_DESTROY, "destroy"}, {HV_DOMCTL_PAUSE, "pause"}, {HV_DOMCTL_UNPAUSE, "unpause"}};
    for (const auto& [op, method] : ops) {
        for (uint32_t domid : {0u, 7u, 0xffffffffu}) {
            FakeBackend b;
            Reply r = handle_request(b, op, domid_payload(domid));
            INFO(method << " " << domid);
            CHECK(r.status == HV_OK);
            CHECK(r.payload.empty());
            CHECK(b.only_call().method == method);
            CHECK(b.only_call().domid == domid);
        }
    }
}

TEST_CASE("request: shutdown passes reason, flags and timeout", "[control][request]") {
    struct Case {
        uint32_t reason, flags, timeout;
        ShutdownReason want_reason;
        bool wait, force;
    };
    const Case cases[] = {
        {HV_SHUTDOWN_POWEROFF, 0, 0, ShutdownReason::poweroff, false, false},
        {HV_SHUTDOWN_REBOOT, 0, 0, ShutdownReason::reboot, false, false},
        {HV_SHUTDOWN_POWEROFF, HV_CTL_SHUTDOWN_WAIT, 5000, ShutdownReason::poweroff, true, false},
        {HV_SHUTDOWN_REBOOT, HV_CTL_SHUTDOWN_WAIT | HV_CTL_SHUTDOWN_FORCE, 1, ShutdownReason::reboot, true, true},
        {HV_SHUTDOWN_POWEROFF, HV_CTL_SHUTDOWN_FORCE, 0xffffffffu, ShutdownReason::poweroff, false, true},
    };
    for (const auto& c : cases) {
        FakeBackend b;
        Reply r = handle_request(b, HV_DOMCTL_SHUTDOWN, shutdown_payload(9, c.reason, c.flags, c.timeout));
        INFO("reason " << c.reason << " flags " << c.flags);
        REQUIRE(r.status == HV_OK);
        CHECK(r.payload.empty());
        const auto& call = b.only_call();
        CHECK(call.method == "shutdown");
        CHECK(call.domid == 9);
        CHECK(call.shutdown.reason == c.want_reason);
        CHECK(call.shutdown.wait == c.wait);
        CHECK(call.shutdown.force == c.force);
        CHECK(call.shutdown.timeout_ms == c.timeout);
    }
}

TEST_CASE("request: rename passes the domid and the new name", "[control][request]") {
    for (const std::string& name : {std::string("new-name"), std::string(63, 'r'), std::string()}) {
        FakeBackend b;
        Reply r = handle_request(b, HV_DOMCTL_RENAME, rename_payload(5, name));
        REQUIRE(r.status == HV_OK);
        CHECK(r.payload.empty());
        CHECK(b.only_call().method == "rename");
        CHECK(b.only_call().domid == 5);
        CHECK(b.only_call().text == name);
    }
    // Bytes after the name's NUL are padding the name does not include.
    FakeBackend b;
    std::string p = rename_payload(5, "ab");
    p[offsetof(hv_ctl_rename_t, name) + 10] = 'z';
    REQUIRE(handle_request(b, HV_DOMCTL_RENAME, p).status == HV_OK);
    CHECK(b.only_call().text == "ab");
}

TEST_CASE("request: info and wait return the domain as hv_ctl_domain_info_t", "[control][request]") {
    FakeBackend b;
    Reply r = handle_request(b, HV_DOMCTL_INFO, domid_payload(7));
    REQUIRE(r.status == HV_OK);
    CHECK(b.only_call().method == "info");
    CHECK(b.only_call().domid == 7);
    DomainInfo d = reply_info(r.payload);
    CHECK(d.domid == 7);
    CHECK(d.name == "web");
    CHECK(d.vcpus == 2);
    CHECK(d.memory_mib == 512);
    CHECK(d.uuid[3] == 0x33);

    b.calls.clear();
    r = handle_request(b, HV_DOMCTL_WAIT, wire::pack(hv_ctl_wait_t{7, 2500}));
    REQUIRE(r.status == HV_OK);
    CHECK(b.only_call().method == "wait");
    CHECK(b.only_call().domid == 7);
    CHECK(b.only_call().timeout_ms == 2500);
    d = reply_info(r.payload);
    CHECK(d.state == hv::sdk::State::shutdown);
    CHECK(d.shutdown_reason == ShutdownReason::reboot);
    CHECK(d.restarted_as == 8);
}

TEST_CASE("request: list returns one hv_ctl_domain_info_t per domain", "[control][request]") {
    FakeBackend b;
    Reply r = handle_request(b, HV_DOMCTL_LIST, "");
    REQUIRE(r.status == HV_OK);
    CHECK(b.only_call().method == "list");
    REQUIRE(r.payload.size() == 2 * sizeof(hv_ctl_domain_info_t));
    DomainInfo first = reply_info(std::string_view(r.payload).substr(0, sizeof(hv_ctl_domain_info_t)));
    DomainInfo second = reply_info(std::string_view(r.payload).substr(sizeof(hv_ctl_domain_info_t)));
    CHECK(first.domid == 7);
    CHECK(first.name == "web");
    CHECK(second.domid == 9);
    CHECK(second.name == "db");
    CHECK(second.state == hv::sdk::State::paused);

    b.list_value.clear();
    r = handle_request(b, HV_DOMCTL_LIST, "");
    CHECK(r.status == HV_OK);
    CHECK(r.payload.empty());
}

TEST_CASE("request: lookup, start and undefine pass the name", "[control][request]") {
    FakeBackend b;
    Reply r = handle_request(b, HV_DOMCTL_LOOKUP, lookup_payload("web"));
    REQUIRE(r.status == HV_OK);
    CHECK(b.only_call().method == "lookup");
    CHECK(b.only_call().text == "web");
    CHECK(reply_domid(r) == 12);

    b.calls.clear();
    r = handle_request(b, HV_DOMCTL_LOOKUP, lookup_payload("7")); // a domid in decimal is the backend's to parse
    REQUIRE(r.status == HV_OK);
    CHECK(b.only_call().text == "7");

    b.calls.clear();
    r = handle_request(b, HV_DOMCTL_START, lookup_payload(std::string(63, 's')));
    REQUIRE(r.status == HV_OK);
    CHECK(b.only_call().method == "start");
    CHECK(b.only_call().text == std::string(63, 's'));
    CHECK(reply_domid(r) == 13);

    b.calls.clear();
    r = handle_request(b, HV_DOMCTL_UNDEFINE, lookup_payload("alpha"));
    REQUIRE(r.status == HV_OK);
    CHECK(r.payload.empty());
    CHECK(b.only_call().method == "undefine");
    CHECK(b.only_call().text == "alpha");
}

TEST_CASE("request: list defined returns the names, one per line", "[control][request]") {
    FakeBackend b;
    Reply r = handle_request(b, HV_DOMCTL_LIST_DEFINED, "");
    REQUIRE(r.status == HV_OK);
    CHECK(b.only_call().method == "list_defined");
    CHECK(r.payload == "alpha\nbeta\n");
}

TEST_CASE("request: console write passes the bytes after the domid; history returns them", "[control][request]") {
    FakeBackend b;
    const std::string bytes("echo hi\n\0\xff", 10);
    Reply r = handle_request(b, HV_DOMCTL_CONSOLE_WRITE, domid_payload(4) + bytes);
    REQUIRE(r.status == HV_OK);
    CHECK(r.payload.empty());
    CHECK(b.only_call().method == "console_write");
    CHECK(b.only_call().domid == 4);
    CHECK(b.only_call().text == bytes);

    b.calls.clear();
    r = handle_request(b, HV_DOMCTL_CONSOLE_WRITE, domid_payload(4)); // nothing to write is still fine
    REQUIRE(r.status == HV_OK);
    CHECK(b.only_call().text.empty());

    b.calls.clear();
    r = handle_request(b, HV_DOMCTL_CONSOLE_HISTORY, domid_payload(4));
    REQUIRE(r.status == HV_OK);
    CHECK(b.only_call().method == "console_history");
    CHECK(b.only_call().domid == 4);
    CHECK(r.payload == std::string("boot\0ok\n", 8));
    CHECK(b.last_console == hv::sdk::ConsoleType::automatic);
}

TEST_CASE("request: block list returns one record per disk, decoded as sent", "[control][request]") {
    FakeBackend b;
    b.blocks = {{51714, "xvda2", "vda", "/xen/domains/prueba/disk.img", 1ull << 30, false, true},
                {51713, "xvda1", "vdb", "/xen/domains/prueba/swap.img", 1ull << 27, true, false}};
    Reply r = handle_request(b, HV_DOMCTL_BLOCK_LIST, domid_payload(3));
    REQUIRE(r.status == HV_OK);
    CHECK(b.only_call().method == "block_list");
    CHECK(b.only_call().domid == 3);
    REQUIRE(r.payload.size() == 2 * sizeof(hv_ctl_block_info_t));
    for (size_t i = 0; i < 2; ++i) {
        auto w = wire::unpack<hv_ctl_block_info_t>(std::string_view(r.payload).substr(i * sizeof(hv_ctl_block_info_t)));
        REQUIRE(w);
        auto got = wire::from_wire(*w);
        REQUIRE(got);
        CHECK(got->devid == b.blocks[i].devid);
        CHECK(got->vdev == b.blocks[i].vdev);
        CHECK(got->guest == b.blocks[i].guest);
        CHECK(got->target == b.blocks[i].target);
        CHECK(got->bytes == b.blocks[i].bytes);
        CHECK(got->read_only == b.blocks[i].read_only);
        CHECK(got->connected == b.blocks[i].connected);
    }
    // A record with an unterminated name does not decode.
    hv_ctl_block_info_t bad{};
    std::memset(bad.target, 'x', sizeof bad.target);
    CHECK_FALSE(wire::from_wire(bad));
    CHECK(handle_request(b, HV_DOMCTL_BLOCK_LIST, domid_payload(3, 1)).status == HV_EINVAL);
}

namespace {

hv::sdk::VifInfo vif(uint32_t devid, std::string tap, std::string bridge, std::string script, std::string ips) {
    hv::sdk::VifInfo v;
    v.devid = devid;
    v.mac = {0x00, 0x16, 0x3e, 0x6e, 0xdb, static_cast<uint8_t>(0xf4 + devid)};
    v.tap = std::move(tap);
    v.bridge = std::move(bridge);
    v.script = std::move(script);
    v.ips = std::move(ips);
    return v;
}

std::vector<hv::sdk::VifInfo> network_reply(const Reply& r) {
    REQUIRE(r.payload.size() % sizeof(hv_ctl_vif_info_t) == 0);
    std::vector<hv::sdk::VifInfo> out;
    for (size_t at = 0; at < r.payload.size(); at += sizeof(hv_ctl_vif_info_t)) {
        auto w = wire::unpack<hv_ctl_vif_info_t>(std::string_view(r.payload).substr(at));
        REQUIRE(w);
        auto v = wire::from_wire(*w);
        REQUIRE(v);
        out.push_back(*v);
    }
    return out;
}

} // namespace

TEST_CASE("request: network list returns one record per vif, decoded as sent", "[control][request]") {
    FakeBackend b;
    b.vifs = {vif(0, "vif3.0", "xenbr0", "vif-bridge", ""), vif(1, "web-ext", "", "vif-route", "172.16.30.130 10.0.0.1")};
    b.vifs[0].connected = true;
    b.vifs[0].mtu = 9000;
    b.vifs[0].rate_bytes = 62500;
    b.vifs[0].rate_interval_us = 50000;
    b.vifs[0].rx_frames = 1, b.vifs[0].rx_bytes = 2, b.vifs[0].rx_dropped = 3;
    b.vifs[0].tx_frames = 4, b.vifs[0].tx_bytes = 5, b.vifs[0].tx_dropped = 6ull << 40;
    Reply r = handle_request(b, HV_DOMCTL_NETWORK_LIST, domid_payload(3));
    REQUIRE(r.status == HV_OK);
    CHECK(b.only_call().method == "network_list");
    CHECK(b.only_call().domid == 3);
    const auto got = network_reply(r);
    REQUIRE(got.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
        const hv::sdk::VifInfo& want = b.vifs[i];
        CHECK(got[i].devid == want.devid);
        CHECK(got[i].mac == want.mac);
        CHECK(got[i].tap == want.tap);
        CHECK(got[i].bridge == want.bridge);
        CHECK(got[i].script == want.script);
        CHECK(got[i].ips == want.ips);
        CHECK(got[i].mtu == want.mtu);
        CHECK(got[i].rate_bytes == want.rate_bytes);
        CHECK(got[i].rate_interval_us == want.rate_interval_us);
        CHECK(got[i].connected == want.connected);
        CHECK(got[i].rx_frames == want.rx_frames);
        CHECK(got[i].rx_bytes == want.rx_bytes);
        CHECK(got[i].rx_dropped == want.rx_dropped);
        CHECK(got[i].tx_frames == want.tx_frames);
        CHECK(got[i].tx_bytes == want.tx_bytes);
        CHECK(got[i].tx_dropped == want.tx_dropped);
    }

    // No vifs: an empty reply. A domain that is not there keeps its error.
    b.vifs.clear();
    b.calls.clear();
    r = handle_request(b, HV_DOMCTL_NETWORK_LIST, domid_payload(3));
    REQUIRE(r.status == HV_OK);
    CHECK(r.payload.empty());
    b.fail = Error{Errc::not_found, "no domain with id 9"};
    r = handle_request(b, HV_DOMCTL_NETWORK_LIST, domid_payload(9));
    CHECK(r.status == HV_ENOENT);
    CHECK(r.payload == "no domain with id 9");
    CHECK(handle_request(b, HV_DOMCTL_NETWORK_LIST, domid_payload(3, 1)).status == HV_EINVAL);
    CHECK(handle_request(b, HV_DOMCTL_NETWORK_LIST, domid_payload(3) + "x").status == HV_EINVAL);
}

TEST_CASE("wire: a vif's 16 longest ip= addresses fit its record; bad records are refused", "[control][wire]") {
    // Create takes at most 16 (config::kMaxVifIps): 15 bytes and a blank
    // each, the last blank's byte for the NUL.
    std::string sixteen;
    for (int i = 0; i < 16; ++i) sixteen += (i == 0 ? "" : " ") + std::string("255.255.255.") + std::to_string(100 + i);
    REQUIRE(sixteen.size() == HV_CTL_VIF_IPS_MAX - 1);
    hv_ctl_vif_info_t w = wire::to_wire(vif(0, "vif1.0", "xenbr0", "vif-bridge", sixteen));
    CHECK(wire::from_wire(w)->ips == sixteen);

    // What a client refuses: an unterminated name, unknown flags, padding.
    hv_ctl_vif_info_t bad = wire::to_wire(vif(0, "vif1.0", "", "vif-route", "10.0.0.2"));
    std::memset(bad.tap, 'x', sizeof bad.tap);
    CHECK_FALSE(wire::from_wire(bad));
    bad = wire::to_wire(vif(0, "vif1.0", "", "vif-route", "10.0.0.2"));
    bad.flags = 1u << 5;
    CHECK_FALSE(wire::from_wire(bad));
    bad = wire::to_wire(vif(0, "vif1.0", "", "vif-route", "10.0.0.2"));
    bad._pad0 = 1;
    CHECK_FALSE(wire::from_wire(bad));
}

TEST_CASE("request: vif rate hands devid, bytes and interval to the backend; bad ones never reach it", "[control][request]") {
    FakeBackend b;
    Reply r = handle_request(b, HV_DOMCTL_VIF_SET_RATE, vif_rate_payload(3, 1, 62500, 20000));
    REQUIRE(r.status == HV_OK);
    CHECK(r.payload.empty());
    CHECK(b.only_call().method == "set_vif_rate");
    CHECK(b.only_call().domid == 3);
    CHECK(b.only_call().text == "1 62500 20000");

    // 0 bytes lifts the limit, whatever the interval.
    for (uint32_t interval : {0u, 50000u}) {
        b.calls.clear();
        r = handle_request(b, HV_DOMCTL_VIF_SET_RATE, vif_rate_payload(3, 0, 0, interval));
        REQUIRE(r.status == HV_OK);
        CHECK(b.only_call().text == "0 0 " + std::to_string(interval));
    }
    // 100Gb/s exactly is create's limit, and allowed.
    b.calls.clear();
    CHECK(handle_request(b, HV_DOMCTL_VIF_SET_RATE, vif_rate_payload(3, 0, 12500000, 1000)).status == HV_OK);

    // A limit without an interval is EINVAL, and says why.
    b.calls.clear();
    r = handle_request(b, HV_DOMCTL_VIF_SET_RATE, vif_rate_payload(3, 0, 62500, 0));
    CHECK(r.status == HV_EINVAL);
    CHECK(r.payload.find("interval") != std::string::npos);
    r = handle_request(b, HV_DOMCTL_VIF_SET_RATE, vif_rate_payload(3, 0, 12500001, 1000));
    CHECK(r.status == HV_EINVAL);
    CHECK(r.payload.find("100Gb/s") != std::string::npos);
    CHECK(handle_request(b, HV_DOMCTL_VIF_SET_RATE, vif_rate_payload(3, 0, 1, 1, 7)).status == HV_EINVAL);
    CHECK(handle_request(b, HV_DOMCTL_VIF_SET_RATE, domid_payload(3)).status == HV_EINVAL);
    CHECK(b.calls.empty());

    // No such domain or devid: the backend's not_found, as HV_ENOENT.
    b.fail = Error{Errc::not_found, "domain 3: no vif with devid 9"};
    r = handle_request(b, HV_DOMCTL_VIF_SET_RATE, vif_rate_payload(3, 9, 0, 0));
    CHECK(r.status == HV_ENOENT);
    CHECK(r.payload == "domain 3: no vif with devid 9");
}

TEST_CASE("request: console ops name the console (xl console -t); an unknown one is refused", "[control][request]") {
    FakeBackend b;
    Reply r = handle_request(b, HV_DOMCTL_CONSOLE_WRITE, wire::pack(hv_ctl_console_t{4, HV_CTL_CONSOLE_PV}) + "ls\n");
    REQUIRE(r.status == HV_OK);
    CHECK(b.last_console == hv::sdk::ConsoleType::pv);
    CHECK(b.only_call().text == "ls\n");
    b.calls.clear();
    r = handle_request(b, HV_DOMCTL_CONSOLE_HISTORY, wire::pack(hv_ctl_console_t{4, HV_CTL_CONSOLE_SERIAL}));
    REQUIRE(r.status == HV_OK);
    CHECK(b.last_console == hv::sdk::ConsoleType::serial);
    b.calls.clear();
    for (uint32_t op : {HV_DOMCTL_CONSOLE_WRITE, HV_DOMCTL_CONSOLE_HISTORY}) {
        r = handle_request(b, op, wire::pack(hv_ctl_console_t{4, 3}));
        CHECK(r.status == HV_EINVAL);
        CHECK(r.payload.find("unknown console 3") != std::string::npos);
    }
    CHECK(b.calls.empty());
}

// -------------------------------------------------------------- bad calls

TEST_CASE("request: malformed payloads get HV_EINVAL and never reach the backend", "[control][request][bad]") {
    size_t n = 0;
    for (const auto& c : bad_cases()) {
        FakeBackend b;
        Reply r = handle_request(b, c.op, c.payload);
        INFO(c.what << " -> " << r.status << " " << r.payload);
        CHECK(r.status == HV_EINVAL);
        CHECK(b.calls.empty());
        CHECK_FALSE(r.payload.empty());
        ++n;
    }
    CHECK(n > 80);
}

TEST_CASE("request: error messages name what is wrong", "[control][request][bad]") {
    FakeBackend b;
    auto msg = [&](uint32_t op, const std::string& p) { return handle_request(b, op, p).payload; };
    CHECK_THAT(msg(HV_DOMCTL_SHUTDOWN, shutdown_payload(1, 2, 0, 0)), Catch::Contains("shutdown") && Catch::Contains("2"));
    CHECK_THAT(msg(HV_DOMCTL_SHUTDOWN, shutdown_payload(1, 99, 0, 0)), Catch::Contains("99"));
    CHECK_THAT(msg(HV_DOMCTL_SHUTDOWN, shutdown_payload(1, 0, 8, 0)), Catch::Contains("flags"));
    CHECK_THAT(msg(HV_DOMCTL_RENAME, rename_payload(1, "x").substr(0, 10)),
               Catch::Contains("rename") && Catch::Contains("10") && Catch::Contains("72"));
    CHECK_THAT(msg(HV_DOMCTL_WAIT, "abc"), Catch::Contains("wait") && Catch::Contains("3") && Catch::Contains("8"));
    CHECK_THAT(msg(HV_DOMCTL_CREATE, create_payload(0, "/a", "b", "c")), Catch::Contains("newline"));
    CHECK_THAT(msg(HV_DOMCTL_CREATE, create_payload(4, "/a", "b", "")), Catch::Contains("flags"));
    CHECK_THAT(msg(HV_DOMCTL_CREATE, create_header(0, 0xffffffffu, 2, 0, "x")),
               Catch::Contains("trailer") && Catch::Contains("4294967295"));
    CHECK_THAT(msg(HV_DOMCTL_LOOKUP, with_name_unterminated(lookup_payload("a"), 0)), Catch::Contains("NUL"));
    CHECK_THAT(msg(HV_SYSCTL_PHYSINFO, "xy"), Catch::Contains("physinfo") && Catch::Contains("2"));
    CHECK(b.calls.empty());
}

TEST_CASE("request: every refusal names the op it refuses", "[control][request][bad][regression]") {
    // DESIGN.md section 6: a clear error naming what is wrong and where.
    // request_handler.cpp reports destroy/pause/unpause/info/console history
    // payload errors as "domctl: ..." (request_handler.cpp, the shared
    // hv_ctl_domid_t case), and DEFINE's errors as "create: ..."
    // (parse_create), so the client cannot tell which op it got wrong.
    for (const auto& c : bad_cases()) {
        FakeBackend b;
        Reply r = handle_request(b, c.op, c.payload);
        INFO(c.what << " -> " << r.payload);
        CHECK_THAT(r.payload, Catch::Contains(c.op_word));
    }
}

TEST_CASE("request: unknown ops get HV_ENOSYS and never reach the backend", "[control][request][bad]") {
    const uint32_t ops[] = {0u,
                            0xdeadbeefu,
                            HV_CTL_OP(HV_CTL_GROUP_SYSCTL, 99),
                            HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 25), // the first domctl number not taken
                            HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 0),
                            HV_CTL_EVENT_DOMAIN,
                            HV_CTL_EVENT_CONSOLE,
                            // The connection's own ops: the session handles them, never the handler.
                            HV_SYSCTL_HELLO,
                            HV_SYSCTL_SUBSCRIBE};
    for (uint32_t op : ops) {
        FakeBackend b;
        for (const std::string& p : {std::string(), domid_payload(1), std::string(16, '\0')}) {
            Reply r = handle_request(b, op, p);
            INFO("op " << op);
            CHECK(r.status == HV_ENOSYS);
            char hex[16];
            std::snprintf(hex, sizeof hex, "%#x", op);
            CHECK_THAT(r.payload, Catch::Contains(op == 0 ? "0" : hex));
        }
        CHECK(b.calls.empty());
    }
}

TEST_CASE("request: backend errors keep their code, with the message as payload", "[control][request][errors]") {
    const int last = static_cast<int>(Errc::protocol_error);
    for (const auto& c : good_cases()) {
        for (int i = 0; i <= last; ++i) {
            const auto e = static_cast<Errc>(i);
            FakeBackend b;
            const std::string message = std::string(c.name) + " failed: " + std::string(hv::errc_name(e));
            b.fail = Error{e, message};
            Reply r = handle_request(b, c.op, c.payload);
            INFO(c.name << " / " << hv::errc_name(e));
            CHECK(r.status == wire::status_of(e));
            CHECK(r.payload == message);
            CHECK(b.only_call().method == c.method);
        }
    }
}

TEST_CASE("request: the common backend errors map to the expected codes", "[control][request][errors]") {
    FakeBackend b;
    b.fail = Error{Errc::not_found, "no domain 7"};
    Reply r = handle_request(b, HV_DOMCTL_INFO, domid_payload(7));
    CHECK(r.status == HV_ENOENT);
    CHECK(r.payload == "no domain 7");
    b.fail = Error{Errc::exists, "name web taken"};
    CHECK(handle_request(b, HV_DOMCTL_RENAME, rename_payload(1, "web")).status == HV_EEXIST);
    b.fail = Error{Errc::timed_out, "still running"};
    CHECK(handle_request(b, HV_DOMCTL_WAIT, wire::pack(hv_ctl_wait_t{1, 1})).status == HV_ETIMEDOUT);
    b.fail = Error{Errc::busy, "paused already"};
    CHECK(handle_request(b, HV_DOMCTL_PAUSE, domid_payload(1)).status == HV_EBUSY);
    b.fail = Error{Errc::parse_error, "web.cfg:3: bad"};
    r = handle_request(b, HV_DOMCTL_CREATE, create_payload(0, cfg_source, cfg_text, ""));
    CHECK(r.status == HV_EBADMSG);
    CHECK(r.payload == "web.cfg:3: bad");
    b.fail = Error{Errc::not_supported, "no managed domains here"};
    CHECK(handle_request(b, HV_DOMCTL_LIST_DEFINED, "").status == HV_ENOTSUP);
    CHECK(hv::control::error_reply(Error{Errc::permission_denied, "no"}).status == HV_EACCES);
}

TEST_CASE("request: every good case succeeds and calls its method once", "[control][request]") {
    for (const auto& c : good_cases()) {
        FakeBackend b;
        Reply r = handle_request(b, c.op, c.payload);
        INFO(c.name << " -> " << r.payload);
        CHECK(r.status == HV_OK);
        CHECK(b.only_call().method == c.method);
    }
}
