// The xl.cfg fuzz target (tests/fuzz/config_fuzz.cpp) run as a unit test:
// a seed corpus of configs and overrides, then 50,000 seeded inputs (random
// bytes, configs built from xl.cfg's tokens, and seeds with a few
// mutations each) through the same checks libFuzzer runs. Reproducible:
// the seed is fixed and a failure prints its input in hex.
#include <catch2/catch.hpp>

#include "../../fuzz/fuzz_smoke.hpp"

#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../../fuzz/config_fuzz.hpp"
#include "config/xl_cfg_parser.hpp"

using hv::fuzz::ConfigFuzzStats;

namespace {

// Configs as users write them, plus the corners of the syntax; after 0xFF
// come overrides, one a line.
const std::vector<std::string> seeds = {
    "name = \"guest\"\nkernel = \"/boot/vmlinuz\"\nmemory = 512\nvcpus = 2\n",
    "name = 'pvh-full'\ntype = \"pvh\"\nuuid = \"0123abcd-4567-89ab-cdef-0123456789ab\"\nkernel = \"vmlinuz\"\n"
    "ramdisk = \"initrd.img\"\ncmdline = \"console=hvc0 earlyprintk=xen\"\nmemory = 1024\nmaxmem = 2048\n"
    "vcpus = 2\nmaxvcpus = 4\non_poweroff = \"destroy\"\non_reboot = \"rename-restart\"\n"
    "on_crash = \"coredump-destroy\"\ncpus = \"0-3,^1\"\ncpu_weight = 512\n",
    "name = \"d\"; kernel = \"/k\"; memory = 0x100; vcpus = 010 # octal\nextra = 'console=hvc0\\tquiet'\n"
    "extra += \" debug\"\nroot = \"/dev/xvda1 ro\"\n",
    "name = \"lists\"\nkernel = \"/k\"\ndisk = [ 'file:/a.img,xvda,w',\n  'vdev=xvdb, format=qcow2, "
    "target=/img/b.qcow2,',\n  'backendtype=phy,vdev=xvdc,access=ro,target=/dev/vg/c', ]\n"
    "vif = [ 'mac=02:00:00:00:00:01,bridge=hvbr0,rate=100Mb/s', 'ip=10.0.0.2,script=vif-route' ]\n",
    "name=\"x\"\r\nkernel=\"/k\"\r\nmemory='128'\r\nbootloader_args=['-q']\r\nvfb=[\"vnc=1\"]\r\n"
    "pci=['01:00.0']\r\nunknown_key_here=1\r\nmaxvcpu=1\r\n",
    "name = \"esc\\x41\\101\\n\"\nkernel = \"/k\"\n",
    "name = \"ov\"\nkernel = \"/k\"\n\xff" "memory=256\nextra=console=hvc0 quiet\nvcpus=0x2\nname=renamed",
    "\xff" "name=only-overrides\nkernel=/boot/k\ndisk=['file:/x,xvda,w']",
    "name = \"bad\"\nkernel = \"/k\"\nmemory = 99999999999999999999\n",
    "x = [[1]]\n",
    "x = 1\nx += \"2\"\n",
    "name = \"a..b\"\nkernel = \"/k\"\n",
    "name = \"123\"\nkernel = \"/k\"\nmemory = 8192\n",
    "name = \"c\"\nkernel = \"/k\"\non_crash = \"soft-reset\"\nmaxmem = 1\nmemory = 2\n",
    "name = \"q\"\nkernel = \"/k\"\n\xff" "\n \t\nmemory=",
    "name = \"s\"\nkernel = \"/k\"\nvcpus = 2\nmaxvcpus = 4\ncpus = ['0-3,^1', '2', 'all,^7']\n"
    "cpus_soft = ' 4 - 7 '\ncpu_weight = 65535\ncap = 400\n",
    "name = \"n\"\nkernel = \"/k\"\ncpus = 'nodes:0'\n\xff" "cpus=0-3,^1\ncap=100\ncpu_weight=0",
};

// Pieces of xl.cfg text the generator strings together.
const char* const tokens[] = {
    "name", "kernel", "memory", "maxmem", "vcpus", "maxvcpus", "maxvcpu", "uuid", "extra", "root", "cmdline",
    "ramdisk", "on_crash", "on_reboot", "on_poweroff", "disk", "vif", "pci", "type", "cpus", "bootloader",
    "cpus_soft", "cpu_weight", "cap", "x", "_k9", " ", "\t", "\n", "\r\n", ";", "#c\n", "=", "+=", "[", "]", ",",
    "'", "\"", "\\", "\\x4", "\\x41", "\\101", "\\0", "\\n", "^", "-", "all", "nodes:", "0", "1", "0x", "0x1F",
    "010", "08", "18446744073709551615", "18446744073709551616",
    "1e3", "-1", "\"guest\"", "'/boot/k'", "\"destroy\"", "\"preserve\"", "'file:/a,xvda,w'",
    "'vdev=xvdb,target=/b'", "'mac=02:00:00:00:00:01'", "\"0123abcd-4567-89ab-cdef-0123456789ab\"", "\xff",
    "\xff" "memory=64\n", "\xc3\xa9", "\x00",
};

// Values for the generator's assignments, mostly ones a key may take.
const char* const values[] = {
    "0", "1", "2", "4", "128", "4095", "4096", "0x100", "010", "\"1024\"", "'2'", "18446744073709551615",
    "\"guest\"", "'g-1.x'", "\"a..b\"", "\"\"", "'/boot/k'", "\"k\"", "\"destroy\"", "'restart'",
    "\"preserve\"", "'soft-reset'", "\"console=hvc0\"", "'root=/dev/xvda\\tro'", "\"\\x41\\102\"",
    "'file:/a,xvda,w'", "'vdev=xvdb,target=/b'", "'mac=02:00:00:00:00:01'", "\"0123abcd-4567-89ab-cdef-0123456789ab\"",
    "'0-3'", "'0-3,^1'", "\"all,^7\"", "'all'", "'^2'", "' 5 - 9 ,12'", "'3-1'", "'70'", "'nodes:0'", "'0,,1'",
    "65535", "65536", "400",
};

class Gen : public hv::fuzz::SmokeGen {
public:
    using SmokeGen::SmokeGen;

    std::string token() {
        const char* t = tokens[below(std::size(tokens))];
        return t[0] == '\0' ? std::string(1, '\0') : std::string(t);
    }
    std::string value() { return values[below(std::size(values))]; }
    // Assignments, mostly well formed.
    std::string config() {
        std::string s;
        if (one_in(2)) s = "name = \"g\"\nkernel = \"/k\"\n";
        const bool soup = one_in(3); // now and then tokens in any order
        for (size_t n = below(12); n > 0; --n) {
            if (soup && one_in(4)) {
                for (size_t k = 1 + below(6); k > 0; --k) s += token();
                continue;
            }
            s += tokens[below(24)]; // a key hv knows
            s += one_in(10) ? " += " : " = ";
            if (one_in(4)) {
                s += "[ ";
                for (size_t k = below(4); k > 0; --k) s += value() + ", ";
                s += "]";
            } else {
                s += soup && one_in(4) ? token() : value();
            }
            s += one_in(4) ? ";" : "\n";
        }
        return s;
    }
    void mutate(std::string& s) {
        if (s.empty()) {
            s = token();
            return;
        }
        switch (below(7)) {
        case 0: s[below(s.size())] ^= static_cast<char>(1u << below(8)); break;
        case 1: s[below(s.size())] = static_cast<char>(rng_()); break;
        case 2: s.insert(below(s.size() + 1), token()); break;
        case 3: s.insert(below(s.size() + 1), bytes(1 + below(4))); break;
        case 4: s.erase(below(s.size()), 1 + below(12)); break;
        case 5: s.resize(below(s.size())); break;
        case 6: { // duplicate a range
            const size_t at = below(s.size());
            s.insert(below(s.size() + 1), s.substr(at, 1 + below(64)));
            break;
        }
        }
    }
};

using hv::fuzz::as_bytes;
using hv::fuzz::hex;

ConfigFuzzStats check(const std::string& input) {
    ConfigFuzzStats stats;
    const std::string why = hv::fuzz::config_fuzz_check(as_bytes(input), input.size(), stats);
    INFO("input " << hex(input));
    CHECK(why == "");
    return stats;
}

void add(ConfigFuzzStats& total, const ConfigFuzzStats& s) {
    total.syntax_errors += s.syntax_errors;
    total.settings += s.settings;
    total.refused += s.refused;
    total.override_errors += s.override_errors;
    total.built += s.built;
    total.creatable += s.creatable;
    total.not_creatable += s.not_creatable;
    total.cpu_lists += s.cpu_lists;
    total.cpu_list_errors += s.cpu_list_errors;
}

} // namespace

TEST_CASE("config fuzz: the input splits into a text and overrides at 0xFF", "[config][fuzz]") {
    const std::string in = std::string("a = 1\n\xff") + "b=2\n\nc=3\xff" + "d\n";
    const auto split = hv::fuzz::split_config_fuzz_input(as_bytes(in), in.size());
    CHECK(split.text == "a = 1\n");
    CHECK(split.overrides == std::vector<std::string>{"b=2", "", "c=3\xff" "d", ""});
    const std::string many = "\xff" + std::string(20, '\n');
    CHECK(hv::fuzz::split_config_fuzz_input(as_bytes(many), many.size()).overrides.size() ==
          hv::fuzz::kConfigFuzzMaxOverrides);
    CHECK(hv::fuzz::split_config_fuzz_input(nullptr, 0).text.empty());
    CHECK(hv::fuzz::split_config_fuzz_input(nullptr, 0).overrides.empty());
}

TEST_CASE("config fuzz: the harness sees what the seeds do", "[config][fuzz]") {
    ConfigFuzzStats s = check(seeds[0]);
    CHECK(s.built == 1);
    CHECK(s.creatable == 1);
    CHECK(s.settings == 4);
    s = check(seeds[1]); // maxvcpus above vcpus and cpus= are fine, type= is not supported yet
    CHECK(s.built == 1);
    CHECK(s.not_creatable == 1);
    CHECK(s.cpu_lists >= 2); // "0-3,^1" at two limits
    s = check(seeds[15]); // every scheduling key
    CHECK(s.creatable == 1);
    CHECK(s.cpu_lists >= 8);
    s = check(seeds[16]); // a NUMA node list (not supported), then overrides out of range
    CHECK(s.override_errors == 1);
    CHECK(s.cpu_list_errors >= 2);
    s = check(seeds[6]); // overrides
    CHECK(s.creatable == 1);
    s = check(seeds[7]); // all in overrides
    CHECK(s.built == 1);
    s = check(seeds[8]); // a number over 64 bits
    CHECK(s.syntax_errors == 1);
    CHECK(s.refused == 1);
    s = check(seeds[9]); // nested list
    CHECK(s.syntax_errors == 1);
    s = check(seeds[11]); // a bad name
    CHECK(s.syntax_errors == 0);
    CHECK(s.refused == 1);
    s = check(seeds[14]); // an empty override
    CHECK(s.override_errors == 1);
    s = check("");
    CHECK(s.refused == 1);
    ConfigFuzzStats total;
    for (const auto& seed : seeds) add(total, check(seed));
    CHECK(total.creatable >= 3);
    CHECK(hv_config_fuzz_one(as_bytes(seeds[0]), seeds[0].size()) == 0);
    CHECK(hv_config_fuzz_one(nullptr, 0) == 0);
}

TEST_CASE("config fuzz: inputs at and past the reader's limits keep every invariant", "[config][fuzz]") {
    const auto list = [](size_t n) {
        std::string s = "x = [";
        for (size_t i = 0; i < n; ++i) s += "1,";
        return s + "]\n";
    };
    const auto keys = [](size_t n) {
        std::string s;
        for (size_t i = 0; i < n; ++i) s += "k" + std::to_string(i) + " = 1\n";
        return s;
    };
    CHECK(check(list(hv::config::kMaxCfgListItems)).syntax_errors == 0);
    CHECK(check(list(hv::config::kMaxCfgListItems + 1)).syntax_errors == 1);
    CHECK(check(keys(hv::config::kMaxCfgSettings)).syntax_errors == 0);
    CHECK(check(keys(hv::config::kMaxCfgSettings + 1)).syntax_errors == 1);
    CHECK(check("x = '" + std::string(hv::config::kMaxCfgStringBytes, 'a') + "'").syntax_errors == 0);
    CHECK(check("x = '" + std::string(hv::config::kMaxCfgStringBytes + 1, 'a') + "'").syntax_errors == 1);
    CHECK(check(std::string(hv::config::kMaxCfgKeyBytes, 'k') + " = 1").syntax_errors == 0);
    CHECK(check(std::string(hv::config::kMaxCfgKeyBytes + 1, 'k') + " = 1").syntax_errors == 1);
    std::string lists;
    for (int i = 0; i < 5; ++i) lists += "l" + std::to_string(i) + list(4000).substr(1);
    CHECK(check(lists).syntax_errors == 1); // 20,000 items in all
    // An override past a limit names the override.
    const ConfigFuzzStats s = check(seeds[0] + "\xff" + "extra=" + std::string(hv::config::kMaxCfgStringBytes + 1, 'a'));
    CHECK(s.override_errors == 1);
}

TEST_CASE("config fuzz: 50,000 seeded random and mutated inputs keep every invariant", "[config][fuzz]") {
    Gen g(0x6876'6366'6766'7a7aull); // "hvcfgfzz"
    ConfigFuzzStats total;
    size_t failures = 0;
    constexpr int kInputs = 50'000;
    for (int i = 0; i < kInputs; ++i) {
        std::string input;
        if (i % 10 == 0) {
            input = g.bytes(g.below(200));
        } else if (i % 10 <= 5) {
            input = g.config();
            if (g.one_in(3)) input += "\xff" + g.config(); // overrides: one a line
            for (size_t m = g.below(3); m > 0; --m) g.mutate(input);
        } else {
            input = seeds[g.below(seeds.size())];
            for (size_t m = 1 + g.below(3); m > 0; --m) g.mutate(input);
        }
        ConfigFuzzStats s;
        const std::string why = hv::fuzz::config_fuzz_check(as_bytes(input), input.size(), s);
        if (!why.empty() && ++failures <= 5) {
            INFO("input #" << i << ": " << hex(input));
            CHECK(why == "");
        }
        add(total, s);
    }
    CHECK(failures == 0);
    INFO("syntax errors " << total.syntax_errors << " settings " << total.settings << " refused " << total.refused
                          << " override errors " << total.override_errors << " built " << total.built
                          << " creatable " << total.creatable << " not creatable " << total.not_creatable
                          << " CPU lists " << total.cpu_lists << " refused " << total.cpu_list_errors);
    // The mix reaches every outcome, so passing means something.
    CHECK(total.syntax_errors > 20'000);
    CHECK(total.refused - total.syntax_errors > 8'000); // refused by the key checks or an override
    CHECK(total.override_errors > 3'000);
    CHECK(total.built > 1'500);
    CHECK(total.creatable > 800);
    CHECK(total.cpu_lists > 10'000);
    CHECK(total.cpu_list_errors > 100'000);
    CHECK(total.not_creatable > 400);
}
