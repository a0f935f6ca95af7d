// The xl.cfg(5) scheduling keys (cpus, cpus_soft, cpu_weight, cap) read
// into DomainConfig::sched: honoured, range-checked against the
// scheduler's constants with file:line:column, refused by check_creatable
// when built in code out of range, and shown by `hvctl create -n`'s JSON.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/config_json.hpp"
#include "config/domain_config.hpp"
#include "config/domain_config_loader.hpp"

using hv::Errc;
using hv::config::check_creatable;
using hv::config::DomainConfig;
using hv::config::parse_domain_config;

namespace {

constexpr uint64_t kAll = ~uint64_t{0};
const std::string base = "name = 'g'\nkernel = '/k'\n"; // then the settings under test, from line 3

DomainConfig ok_with(const std::string& more, const std::vector<std::string>& overrides = {}) {
    auto r = parse_domain_config(base + more, "t.cfg", overrides);
    INFO((r.ok() ? std::string("ok") : r.error().message));
    REQUIRE(r.ok());
    return std::move(r).value();
}

// The reader's refusal (invalid_argument) of `more`.
std::string invalid_with(const std::string& more, const std::vector<std::string>& overrides = {}) {
    auto r = parse_domain_config(base + more, "t.cfg", overrides);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_argument);
    return r.error().message;
}

hv::Error not_creatable(const DomainConfig& c) {
    auto r = check_creatable(c);
    REQUIRE_FALSE(r.ok());
    return r.error();
}

DomainConfig built() {
    DomainConfig c;
    c.name = "coded";
    c.kernel = "/k";
    return c;
}

std::string unsupported_list(const DomainConfig& c) {
    std::string out;
    for (const auto& u : c.unsupported) out += u.key + "@" + u.where + ":" + u.why + "\n";
    return out;
}

} // namespace

TEST_CASE("sched config: unset keys leave the scheduler's defaults", "[config][sched]") {
    const DomainConfig c = ok_with("");
    CHECK_FALSE(c.sched.weight.has_value());
    CHECK_FALSE(c.sched.cap.has_value());
    CHECK(c.sched.cpus_hard.empty());
    CHECK(c.sched.cpus_soft.empty());
}

TEST_CASE("sched config: the keys are honoured, not reported unsupported", "[config][sched]") {
    const DomainConfig c =
        ok_with("vcpus = 2\nmaxvcpus = 4\ncpus = \"0-3,^1\"\ncpus_soft = 'all,^7'\ncpu_weight = 512\ncap = 150\n");
    CHECK(c.unsupported.empty());
    CHECK(c.sched.weight == 512u);
    CHECK(c.sched.cap == 150u);
    CHECK(c.sched.cpus_hard == std::vector<uint64_t>{0xd});
    CHECK(c.sched.cpus_soft == std::vector<uint64_t>{kAll & ~uint64_t{0x80}});
    CHECK(c.locations.at("cpus").str() == "t.cfg:5:8");
    CHECK(c.locations.at("cap").str() == "t.cfg:8:7");
    CHECK(check_creatable(c).ok());
}

TEST_CASE("sched config: cpu_weight is 1..65535", "[config][sched]") {
    CHECK(ok_with("cpu_weight = 1").sched.weight == 1u);
    CHECK(ok_with("cpu_weight = 65535").sched.weight == 65535u);
    CHECK(ok_with("cpu_weight = '256'").sched.weight == 256u);
    CHECK(ok_with("cpu_weight = 0x200").sched.weight == 512u);
    CHECK(invalid_with("cpu_weight = 0") == "t.cfg:3:14: cpu_weight: 0 is out of range (1..65535)");
    CHECK(invalid_with("cpu_weight = 65536") == "t.cfg:3:14: cpu_weight: 65536 is out of range (1..65535)");
    CHECK(invalid_with("cpu_weight = 'heavy'") == "t.cfg:3:14: cpu_weight: 'heavy' is not a number");
    CHECK(invalid_with("cpu_weight = [1]") == "t.cfg:3:14: cpu_weight: expected a number, found a list");
    CHECK(invalid_with("x = 1", {"cpu_weight=99999"}) ==
          "override 1:1:12: cpu_weight: 99999 is out of range (1..65535)");
}

TEST_CASE("sched config: cap is 0..100 x the max vCPUs", "[config][sched]") {
    CHECK(ok_with("cap = 0").sched.cap == 0u); // set: no cap, said explicitly
    CHECK(ok_with("cap = 100").sched.cap == 100u);
    CHECK(ok_with("vcpus = 3\ncap = 300").sched.cap == 300u);
    CHECK(ok_with("vcpus = 2\nmaxvcpus = 4\ncap = 400").sched.cap == 400u);
    CHECK(ok_with("vcpus = 128\ncap = 12800").sched.cap == 12800u);
    CHECK(invalid_with("cap = 101") == "t.cfg:3:7: cap: 101 is above 100 x vcpus (1) = 100");
    CHECK(invalid_with("vcpus = 2\nmaxvcpus = 4\ncap = 900") ==
          "t.cfg:5:7: cap: 900 is above 100 x maxvcpus (4) = 400");
    CHECK(invalid_with("cap = 18446744073709551615") ==
          "t.cfg:3:7: cap: 18446744073709551615 is above 100 x vcpus (1) = 100");
    CHECK(invalid_with("cap = 'none'") == "t.cfg:3:7: cap: 'none' is not a number");
    // Checked against the vCPUs in effect after every override.
    CHECK(ok_with("cap = 800", {"vcpus=8"}).sched.cap == 800u);
    CHECK(invalid_with("vcpus = 8\ncap = 800", {"vcpus=2"}) == "t.cfg:4:7: cap: 800 is above 100 x vcpus (2) = 200");
    CHECK(invalid_with("cap = 800", {"maxvcpus=4"}) == "t.cfg:3:7: cap: 800 is above 100 x maxvcpus (4) = 400");
    CHECK(invalid_with("x = 1", {"cap=200"}) == "override 1:1:5: cap: 200 is above 100 x vcpus (1) = 100");
}

TEST_CASE("sched config: cpus and cpus_soft as one CPU list for every vCPU", "[config][sched]") {
    CHECK(ok_with("cpus = '3'").sched.cpus_hard == std::vector<uint64_t>{0x8});
    CHECK(ok_with("cpus = 3").sched.cpus_hard == std::vector<uint64_t>{0x8});
    CHECK(ok_with("cpus = 'all'").sched.cpus_hard == std::vector<uint64_t>{kAll});
    CHECK(ok_with("vcpus = 4\ncpus_soft = ' 4-7 '").sched.cpus_soft == std::vector<uint64_t>{0xf0});
    CHECK(ok_with("cpus = '0'\ncpus += ',2'").sched.cpus_hard == std::vector<uint64_t>{0x5});
    // A command line's bare word is a string.
    CHECK(ok_with("x = 1", {"cpus=0-1,^0"}).sched.cpus_hard == std::vector<uint64_t>{0x2});
    CHECK(ok_with("cpus = '9'", {"cpus=2"}).sched.cpus_hard == std::vector<uint64_t>{0x4});

    CHECK(invalid_with("cpus = '0-3,70'") == "t.cfg:3:8: cpus: '70' is not a CPU: valid CPUs are 0..63");
    CHECK(invalid_with("cpus_soft = '3-1'") == "t.cfg:3:13: cpus_soft: '3-1': range goes backwards");
    CHECK(invalid_with("cpus = ''") == "t.cfg:3:8: cpus: empty CPU list");
    CHECK(invalid_with("cpus = 'abc'") == "t.cfg:3:8: cpus: 'abc' is not a CPU number or range");
    CHECK(invalid_with("cpus = '^2'") == "t.cfg:3:8: cpus: '^2' leaves no CPU");
    CHECK(invalid_with("cpus = 0x3") == "t.cfg:3:8: cpus: '0x3' is not a CPU number or range");
    CHECK(invalid_with("x = 1", {"cpus=64"}) == "override 1:1:6: cpus: '64' is not a CPU: valid CPUs are 0..63");
}

TEST_CASE("sched config: cpus as a list is one CPU list per vCPU", "[config][sched]") {
    DomainConfig c = ok_with("vcpus = 2\ncpus = ['2', '3-8,^5']\ncpus_soft = [0, 1]");
    CHECK(c.sched.cpus_hard == std::vector<uint64_t>{0x4, 0x1d8});
    CHECK(c.sched.cpus_soft == std::vector<uint64_t>{0x1, 0x2});
    CHECK(check_creatable(c).ok());
    // Shorter than the vCPUs: the rest have no affinity (as xl).
    c = ok_with("vcpus = 2\nmaxvcpus = 4\ncpus = ['1', '2']");
    CHECK(c.sched.cpus_hard == std::vector<uint64_t>{0x2, 0x4});
    CHECK(check_creatable(c).ok());
    // Up to maxvcpus, not just vcpus.
    CHECK(ok_with("vcpus = 1\nmaxvcpus = 3\ncpus = ['1', '2', '3']").sched.cpus_hard.size() == 3);
    // One vCPU: a list of one is that vCPU's, the same as a string.
    CHECK(ok_with("cpus = ['5']").sched.cpus_hard == std::vector<uint64_t>{0x20});
    // An empty list gives none (xl pins nothing).
    c = ok_with("cpus = []");
    CHECK(c.sched.cpus_hard.empty());
    CHECK(c.unsupported.empty());

    CHECK(invalid_with("vcpus = 2\nmaxvcpus = 3\ncpus = ['1', '2', '3', '4']") ==
          "t.cfg:5:8: cpus: 4 per-vCPU CPU lists are more than maxvcpus (3)");
    CHECK(invalid_with("cpus_soft = ['1', '2']") ==
          "t.cfg:3:13: cpus_soft: 2 per-vCPU CPU lists are more than vcpus (1)");
    CHECK(invalid_with("vcpus = 4\ncpus = ['1', '2', '3', '4']", {"vcpus=3"}) ==
          "t.cfg:4:8: cpus: 4 per-vCPU CPU lists are more than vcpus (3)");
    CHECK(invalid_with("vcpus = 2\ncpus = ['1',\n        '70']") ==
          "t.cfg:5:9: cpus: '70' is not a CPU: valid CPUs are 0..63");
}

TEST_CASE("sched config: what the reader records as unsupported, and create refuses", "[config][sched]") {
    // NUMA node lists.
    DomainConfig c = ok_with("vcpus = 2\ncpus = 'nodes:0'\ncpus_soft = ['0', '^node:1']\n");
    CHECK(unsupported_list(c) == "cpus@t.cfg:4:1:NUMA node lists are not supported: hv has no NUMA placement\n"
                                 "cpus_soft@t.cfg:5:1:NUMA node lists are not supported: hv has no NUMA placement\n");
    CHECK(c.sched.cpus_hard.empty());
    CHECK(c.sched.cpus_soft.empty());
    hv::Error e = not_creatable(c);
    CHECK(e.code == Errc::not_supported);
    CHECK(e.message == "t.cfg:4:1: cpus: NUMA node lists are not supported: hv has no NUMA placement");

    // A list of one CPU list with more than one vCPU: xl pins vCPU 0 alone,
    // which one mask (every vCPU's) cannot say.
    c = ok_with("vcpus = 2\ncpus = ['1']\n");
    CHECK(c.sched.cpus_hard.empty());
    CHECK(c.locations.count("cpus") == 0);
    e = not_creatable(c);
    CHECK(e.code == Errc::not_supported);
    CHECK(e.message == "t.cfg:4:1: cpus: a list of one CPU list pins vCPU 0 alone, which is not supported yet with "
                       "vcpus (2): write it as a string to pin every vCPU, or list one per vCPU");
    c = ok_with("maxvcpus = 4\ncpus_soft = ['1']\n");
    CHECK(not_creatable(c).message.find("cpus_soft: a list of one CPU list pins vCPU 0 alone, which is not supported "
                                        "yet with maxvcpus (4)") != std::string::npos);
}

TEST_CASE("sched config: check_creatable holds values set in code to the same ranges", "[config][sched][creatable]") {
    DomainConfig c = built();
    c.sched.weight = 0;
    CHECK(not_creatable(c).message == "cpu_weight: 0 is out of range (1..65535)");
    c.sched.weight = 65536;
    CHECK(not_creatable(c).message == "cpu_weight: 65536 is out of range (1..65535)");
    c.sched.weight = 65535;
    CHECK(check_creatable(c).ok());

    c = built();
    c.vcpus = 2;
    c.sched.cap = 201;
    CHECK(not_creatable(c).message == "cap: 201 is above 100 x vcpus (2) = 200");
    c.maxvcpus = 4;
    c.sched.cap = 401;
    CHECK(not_creatable(c).message == "cap: 401 is above 100 x maxvcpus (4) = 400");
    c.sched.cap = 400;
    CHECK(check_creatable(c).ok());

    c = built();
    c.vcpus = 2;
    c.sched.cpus_hard = {0x1, 0x2, 0x4};
    CHECK(not_creatable(c).message == "cpus: 3 per-vCPU CPU lists are more than vcpus (2)");
    c.maxvcpus = 3;
    CHECK(check_creatable(c).ok());
    c.sched.cpus_hard = {0x1, 0};
    CHECK(not_creatable(c).message == "cpus: vCPU 1's CPU mask is empty");
    c.sched.cpus_hard = {kAll};
    c.sched.cpus_soft = {0};
    CHECK(not_creatable(c).message == "cpus_soft: the CPU mask is empty");
    c.sched.cpus_soft = {0x1, 0x2, 0x4, 0x8};
    CHECK(not_creatable(c).message == "cpus_soft: 4 per-vCPU CPU lists are more than maxvcpus (3)");

    // A typed DomainSpec's fields are named as the caller wrote them.
    c = built();
    c.sched.cap = 101;
    c.fields = {{"cap", "DomainSpec.cap"}};
    CHECK(not_creatable(c).code == Errc::invalid_argument);
    CHECK(not_creatable(c).message == "DomainSpec.cap: 101 is above 100 x vcpus (1) = 100");

    // A read config changed afterwards is refused at the key's place.
    c = ok_with("vcpus = 2\ncap = 200\n");
    c.vcpus = 1;
    CHECK(not_creatable(c).message == "t.cfg:4:7: cap: 200 is above 100 x vcpus (1) = 100");
}

TEST_CASE("sched config: create -n's JSON shows the keys as xl.cfg writes them", "[config][sched][json]") {
    const DomainConfig c = ok_with("vcpus = 3\nmaxvcpus = 4\ncpus = '0-3,^1'\ncpus_soft = ['4-5', '6', 'all']\n"
                                   "cpu_weight = 512\ncap = 0\n");
    const std::string json = hv::config::domain_config_to_json(c);
    CHECK(json.find(R"(  "vcpus": 3,
  "maxvcpus": 4,
  "cpus": "0,2-3",
  "cpus_soft": ["4-5", "6", "0-63"],
  "cpu_weight": 512,
  "cap": 0,
  "io_weight": 100,
  "on_poweroff": "destroy",
)") != std::string::npos);
    const std::string per_vcpu = hv::config::domain_config_to_json(ok_with("vcpus = 2\ncpus = [1, '2-3']\n"));
    CHECK(per_vcpu.find(R"(  "maxvcpus": 2,
  "cpus": ["1", "2-3"],
  "cpus_soft": null,
  "cpu_weight": null,
  "cap": null,
)") != std::string::npos);
}

TEST_CASE("io_weight is hv's key, 1..10000, 100 when unset", "[config][qos]") {
    CHECK(ok_with("x = 1").io_weight == 100u);
    CHECK(ok_with("io_weight = 1").io_weight == 1u);
    CHECK(ok_with("io_weight = 10000").io_weight == 10000u);
    CHECK(invalid_with("io_weight = 0") == "t.cfg:3:13: io_weight: 0 is out of range (1..10000)");
    CHECK(invalid_with("io_weight = 10001") == "t.cfg:3:13: io_weight: 10001 is out of range (1..10000)");
    CHECK(invalid_with("io_weight = 'fast'") == "t.cfg:3:13: io_weight: 'fast' is not a number");
    DomainConfig c = ok_with("x = 1");
    c.io_weight = 0;
    CHECK(not_creatable(c).message == "t.cfg: io_weight: 0 is out of range (1..10000)");
}
