// The xl.cfg fuzz target's entry points, shared by the libFuzzer binary
// (tests/fuzz/meson.build) and the unit test's smoke run (tests/unit/config).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hv::fuzz {

// What one input exercised; the smoke test sums these to show coverage.
struct ConfigFuzzStats {
    uint64_t syntax_errors = 0;   // parse_xl_cfg refused the text
    uint64_t settings = 0;        // settings parse_xl_cfg read from the text
    uint64_t refused = 0;         // parse_domain_config refused (text ok or not)
    uint64_t override_errors = 0; // ... with the error in an override
    uint64_t built = 0;           // parse_domain_config built a DomainConfig
    uint64_t creatable = 0;       // ... that check_creatable accepted
    uint64_t not_creatable = 0;   // ... that check_creatable refused
    uint64_t cpu_lists = 0;       // texts parse_cpu_list read as a CPU list
    uint64_t cpu_list_errors = 0; // ... and refused
};

// How the fuzz input splits: the bytes before the first 0xFF are the config
// text; the bytes after it are overrides, one per '\n'-separated piece (at
// most kConfigFuzzMaxOverrides; the rest are dropped).
inline constexpr size_t kConfigFuzzMaxOverrides = 8;
struct ConfigFuzzInput {
    std::string_view text;
    std::vector<std::string> overrides;
};
ConfigFuzzInput split_config_fuzz_input(const uint8_t* data, size_t size);

// "" when every invariant held, else what broke.
std::string config_fuzz_check(const uint8_t* data, size_t size, ConfigFuzzStats& stats);

} // namespace hv::fuzz

int hv_config_fuzz_one(const uint8_t* data, size_t size);
