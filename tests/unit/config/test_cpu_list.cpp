// xl CPU lists (config/cpu_list.hpp): the syntax of xl.cfg(5) "cpus", every
// refusal with the item at fault and the valid range, the compact form
// back, and cpus= / cpus_soft= values in xl's string and list forms.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "config/cpu_list.hpp"
#include "config/xl_cfg_parser.hpp"

using hv::Errc;
using hv::config::format_cpu_list;
using hv::config::parse_cpu_list;

namespace {

constexpr uint64_t kAll = ~uint64_t{0};

uint64_t mask_of(std::string_view text, uint32_t limit = 64) {
    auto r = parse_cpu_list(text, limit);
    INFO("'" << std::string(text) << "': " << (r.ok() ? std::string("ok") : r.error().message));
    REQUIRE(r.ok());
    return *r;
}

hv::Error error_of(std::string_view text, uint32_t limit = 64) {
    auto r = parse_cpu_list(text, limit);
    INFO("'" << std::string(text) << "'");
    REQUIRE_FALSE(r.ok());
    return r.error();
}

// The message of an invalid_argument refusal.
std::string invalid(std::string_view text, uint32_t limit = 64) {
    const hv::Error e = error_of(text, limit);
    CHECK(e.code == Errc::invalid_argument);
    return e.message;
}

} // namespace

TEST_CASE("cpu_list: CPUs, ranges and all", "[config][cpu_list]") {
    CHECK(mask_of("3") == 0x8);
    CHECK(mask_of("0") == 0x1);
    CHECK(mask_of("63") == uint64_t{1} << 63);
    CHECK(mask_of("0-3") == 0xf);
    CHECK(mask_of("5-5") == 0x20);
    CHECK(mask_of("0-63") == kAll);
    CHECK(mask_of("0-3,5") == 0x2f);
    CHECK(mask_of("5,0-3") == 0x2f);
    CHECK(mask_of("0,0,1-2,2") == 0x7);
    CHECK(mask_of("007") == 0x80); // decimal, as xl's strtoul(.., 10)
    CHECK(mask_of("all") == kAll);
    CHECK(mask_of("all", 4) == 0xf);
    CHECK(mask_of("all", 1) == 0x1);
    CHECK(mask_of("0-3", 4) == 0xf);
}

TEST_CASE("cpu_list: '^' excludes, after every inclusion", "[config][cpu_list]") {
    CHECK(mask_of("0-3,^1") == 0xd);
    CHECK(mask_of("0-3,5,^1") == 0x2d);
    CHECK(mask_of("all,^7") == (kAll & ~uint64_t{0x80}));
    CHECK(mask_of("all,^0-61") == (uint64_t{3} << 62));
    CHECK(mask_of("0-7,^2-3,^6") == 0xb3);
    // Wherever the exclusion is written (xl applies items in order, so its
    // "^1,0-3" is 0-3; an exclusion written first is not lost here).
    CHECK(mask_of("^1,0-3") == 0xd);
    CHECK(mask_of("1-2,^1-2,3") == 0x8);
    CHECK(mask_of("^9,0-3") == 0xf); // excluding a CPU not included is fine
}

TEST_CASE("cpu_list: blanks around items, after '^' and around '-' are dropped", "[config][cpu_list]") {
    CHECK(mask_of(" 0 - 3 , 5 ") == 0x2f);
    CHECK(mask_of("\t2\r\n") == 0x4);
    CHECK(mask_of("0-3, ^ 1") == 0xd);
    CHECK(mask_of(" all , ^ 0 ") == (kAll & ~uint64_t{1}));
    CHECK(mask_of("0" + std::string(4095, ' ')) == 0x1); // 4,096 bytes: the most read
}

TEST_CASE("cpu_list: a CPU out of range names it and the valid CPUs", "[config][cpu_list][bad-input]") {
    CHECK(invalid("70") == "'70' is not a CPU: valid CPUs are 0..63");
    CHECK(invalid("64") == "'64' is not a CPU: valid CPUs are 0..63");
    CHECK(invalid("0-3,70,5") == "'70' is not a CPU: valid CPUs are 0..63");
    CHECK(invalid("^70") == "'^70' is not a CPU: valid CPUs are 0..63");
    CHECK(invalid("99999999999999999999") == "'99999999999999999999' is not a CPU: valid CPUs are 0..63");
    CHECK(invalid("4294967296") == "'4294967296' is not a CPU: valid CPUs are 0..63");
    CHECK(invalid("60-70") == "'60-70' is not a CPU range: valid CPUs are 0..63");
    CHECK(invalid("70-80") == "'70-80' is not a CPU range: valid CPUs are 0..63");
    CHECK(invalid("0-99999999999999999999") == "'0-99999999999999999999' is not a CPU range: valid CPUs are 0..63");
    CHECK(invalid("4", 4) == "'4' is not a CPU: valid CPUs are 0..3");
    CHECK(invalid("2-4", 4) == "'2-4' is not a CPU range: valid CPUs are 0..3");
    CHECK(invalid("1", 1) == "'1' is not a CPU: valid CPUs are 0..0");
}

TEST_CASE("cpu_list: malformed items are named as written", "[config][cpu_list][bad-input]") {
    CHECK(invalid("3-1") == "'3-1': range goes backwards");
    CHECK(invalid("0,^ 9 - 2") == "'^ 9 - 2': range goes backwards");
    CHECK(invalid("abc") == "'abc' is not a CPU number or range");
    CHECK(invalid("0-3,x") == "'x' is not a CPU number or range");
    CHECK(invalid("0x3") == "'0x3' is not a CPU number or range");
    CHECK(invalid("-1") == "'-1' is not a CPU number or range");
    CHECK(invalid("+1") == "'+1' is not a CPU number or range");
    CHECK(invalid("1-") == "'1-' is not a CPU number or range");
    CHECK(invalid("-") == "'-' is not a CPU number or range");
    CHECK(invalid("1-2-3") == "'1-2-3' is not a CPU number or range");
    CHECK(invalid("1 2") == "'1 2' is not a CPU number or range");
    CHECK(invalid("1;2") == "'1;2' is not a CPU number or range");
    CHECK(invalid("3.5") == "'3.5' is not a CPU number or range");
    CHECK(invalid("ALL") == "'ALL' is not a CPU number or range");
    CHECK(invalid("^") == "'^' is not a CPU number or range");
    CHECK(invalid("^^1") == "'^^1' is not a CPU number or range");
    CHECK(invalid("^all") == "'^all': cannot exclude every CPU");
    CHECK(invalid("0-3,^ all") == "'^ all': cannot exclude every CPU");
    // Bytes a message must not print raw, and an item too long to show whole.
    CHECK(invalid(std::string("1\0", 2)) == "'1\\x00' is not a CPU number or range");
    CHECK(invalid("\x1b[31m") == "'\\x1b[31m' is not a CPU number or range");
    CHECK(invalid(std::string(100, 'z')) == "'" + std::string(64, 'z') + "...' is not a CPU number or range");
}

TEST_CASE("cpu_list: empty lists, empty items and lists that leave no CPU", "[config][cpu_list][bad-input]") {
    CHECK(invalid("") == "empty CPU list");
    CHECK(invalid(" \t\n") == "empty CPU list");
    CHECK(invalid("0,,1") == "'0,,1': empty item");
    CHECK(invalid("0-3,") == "'0-3,': empty item");
    CHECK(invalid(",0") == "',0': empty item");
    CHECK(invalid(" 0 , ") == "'0 ,': empty item");
    CHECK(invalid(",") == "',': empty item");
    CHECK(invalid("^1") == "'^1' leaves no CPU");
    CHECK(invalid("1, ^0-3") == "'1, ^0-3' leaves no CPU");
}

TEST_CASE("cpu_list: NUMA node lists are not supported", "[config][cpu_list]") {
    for (const char* text : {"nodes:0", "node:1", "^node:1", "0-3,nodes:1-2", "all,^nodes:0", " nodes:0 "}) {
        const hv::Error e = error_of(text);
        CHECK(e.code == Errc::not_supported);
        CHECK(e.message.find(": NUMA node lists are not supported: hv has no NUMA placement") != std::string::npos);
    }
    CHECK(error_of("0-3,^nodes:1").message ==
          "'^nodes:1': NUMA node lists are not supported: hv has no NUMA placement");
    // The first item at fault decides.
    CHECK(error_of("abc,nodes:0").code == Errc::invalid_argument);
    CHECK(error_of("nodes:0,abc").code == Errc::not_supported);
}

TEST_CASE("cpu_list: the length, item count and limit are bounded", "[config][cpu_list][bad-input]") {
    CHECK(invalid("0" + std::string(4096, ' ')) == "the CPU list is 4097 bytes; at most 4096 are read");
    CHECK(invalid(std::string(1 << 20, '1')) == "the CPU list is 1048576 bytes; at most 4096 are read");
    std::string items = "0";
    for (int i = 1; i < 256; ++i) items += ",0";
    CHECK(mask_of(items) == 0x1); // 256 items
    CHECK(invalid(items + ",0") == "the CPU list has more than 256 items");
    CHECK(invalid("0", 0) == "a CPU limit of 0 is outside 1..64");
    CHECK(invalid("0", 65) == "a CPU limit of 65 is outside 1..64");
}

TEST_CASE("cpu_list: format_cpu_list gives the compact form", "[config][cpu_list]") {
    CHECK(format_cpu_list(0) == "");
    CHECK(format_cpu_list(0x1) == "0");
    CHECK(format_cpu_list(0x2f) == "0-3,5");
    CHECK(format_cpu_list(0xd) == "0,2-3");
    CHECK(format_cpu_list(0x30) == "4-5");
    CHECK(format_cpu_list(kAll) == "0-63");
    CHECK(format_cpu_list(uint64_t{1} << 63) == "63");
    CHECK(format_cpu_list(uint64_t{3} << 62) == "62-63");
    CHECK(format_cpu_list(0x5555) == "0,2,4,6,8,10,12,14");
    CHECK(format_cpu_list(kAll & ~uint64_t{0x80}) == "0-6,8-63");
}

TEST_CASE("cpu_list: every mask formats to a list that reads back to it", "[config][cpu_list]") {
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 5000; ++i) {
        x ^= x << 13; // xorshift64
        x ^= x >> 7;
        x ^= x << 17;
        // Dense, sparse and runs: mask the random bits a few ways.
        const uint64_t mask = i % 3 == 0 ? x : i % 3 == 1 ? x & (x >> 1) & (x >> 2) : x | (x << 1) | (x << 2);
        if (mask == 0) continue;
        const std::string text = format_cpu_list(mask);
        INFO(text);
        auto back = parse_cpu_list(text);
        REQUIRE(back.ok());
        CHECK(*back == mask);
    }
}

namespace {

const hv::config::CfgSetting& setting(const hv::config::XlCfg& cfg, std::string_view key) {
    const hv::config::CfgSetting* s = cfg.find(key);
    REQUIRE(s != nullptr);
    return *s;
}

hv::config::XlCfg cfg_of(std::string_view text) {
    auto r = hv::config::parse_xl_cfg(text, "t.cfg");
    INFO((r.ok() ? std::string("ok") : r.error().message));
    REQUIRE(r.ok());
    return std::move(r).value();
}

} // namespace

TEST_CASE("cpu_list: cpus= as a string is one mask, as a list one per vCPU", "[config][cpu_list]") {
    const auto cfg = cfg_of("a = '0-3,^1'\nb = ['2', '3-8,^5', 4]\nc = 3\nd = 010\ne = []\n"
                            "f = '0'\nf += ',5'\ng = [ 'all' ]\n");
    auto a = parse_cpu_affinity(setting(cfg, "a"));
    REQUIRE(a.ok());
    CHECK(a->masks == std::vector<uint64_t>{0xd});
    CHECK_FALSE(a->per_vcpu);
    auto b = parse_cpu_affinity(setting(cfg, "b"));
    REQUIRE(b.ok());
    CHECK(b->masks == std::vector<uint64_t>{0x4, 0x1d8, 0x10});
    CHECK(b->per_vcpu);
    // A number is read as its text, in decimal, as xl does.
    CHECK(parse_cpu_affinity(setting(cfg, "c"))->masks == std::vector<uint64_t>{0x8});
    CHECK(parse_cpu_affinity(setting(cfg, "d"))->masks == std::vector<uint64_t>{uint64_t{1} << 10});
    auto e = parse_cpu_affinity(setting(cfg, "e"));
    REQUIRE(e.ok());
    CHECK(e->masks.empty());
    CHECK(e->per_vcpu);
    CHECK(parse_cpu_affinity(setting(cfg, "f"))->masks == std::vector<uint64_t>{0x21});
    auto g = parse_cpu_affinity(setting(cfg, "g"), 8);
    REQUIRE(g.ok());
    CHECK(g->masks == std::vector<uint64_t>{0xff});
    CHECK(g->per_vcpu);
}

TEST_CASE("cpu_list: cpus= errors name the string or the element at fault", "[config][cpu_list][bad-input]") {
    const auto cfg = cfg_of("cpus = '0-3,70'\ncpus_soft = ['1',\n  '3-1']\nx = 0x3\ny = ['0', 'nodes:1']\n");
    auto r = parse_cpu_affinity(setting(cfg, "cpus"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_argument);
    CHECK(r.error().message == "t.cfg:1:8: cpus: '70' is not a CPU: valid CPUs are 0..63");
    r = parse_cpu_affinity(setting(cfg, "cpus_soft"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "t.cfg:3:3: cpus_soft: '3-1': range goes backwards");
    r = parse_cpu_affinity(setting(cfg, "x"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "t.cfg:4:5: x: '0x3' is not a CPU number or range");
    r = parse_cpu_affinity(setting(cfg, "y"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::not_supported);
    CHECK(r.error().message ==
          "t.cfg:5:11: y: 'nodes:1': NUMA node lists are not supported: hv has no NUMA placement");
}
