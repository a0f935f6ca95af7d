// Fuzz target for the xl.cfg reader: a config's text and xl create's
// KEY=VALUE overrides go through hv::config::parse_domain_config (the
// xl.cfg syntax of config/xl_cfg_parser.cpp, then the key checks and the
// DomainConfig builder of config/domain_config.cpp, with disk= and vif=
// specs and the cpus= CPU lists), and a DomainConfig it builds through
// check_creatable and domain_config_to_json. The CPU list decoder
// (config/cpu_list.cpp) also reads the text, each override and every string
// the syntax holds on its own. The input splits at its first 0xFF byte:
// before it the config text, after it the overrides, one per '\n' (see
// split_config_fuzz_input). Besides "no crash" (and, under libFuzzer, no
// leak, no timeout and no allocation over -rss_limit_mb), it checks the
// invariants below and aborts on the first one broken:
//   - parse_xl_cfg on the text alone keeps the limits xl_cfg_parser.hpp
//     promises (settings, key length, list items, string length, no nested
//     lists, positions from 1:1, numbers that re-parse to their value), and
//     when it refuses the text, parse_domain_config refuses it with the same
//     error; an error is parse_error "source:line:column: ..." with a message;
//   - parse_cpu_list answers a mask of CPUs below its limit that is not
//     empty, from a text of at most kMaxCpuListBytes, and format_cpu_list
//     gives a text that reads back to the same mask; or invalid_argument /
//     not_supported with a message of at most 400 bytes (it shows at most
//     64 bytes of the input, each as at most 4 characters);
//   - parse_domain_config answers a DomainConfig or parse_error /
//     invalid_argument with a message that starts with the source's name
//     ("fuzz.cfg", or "override N" for an override);
//   - a DomainConfig has a name that passes hv_domain_name_problem, a
//     kernel, source == the source name, 1 <= vcpus <= kMaxVcpus, maxvcpus
//     0 or within vcpus..kMaxVcpus, memory >= 1, maxmem 0 or >= memory, an
//     io_weight within 1..10000, a cpu_weight within the scheduler's range, a cap of at most 100 x the
//     max vCPUs, CPU masks none empty and at most one per max vCPU, and
//     every unsupported key has a key, a position and a reason;
//   - check_creatable answers ok, or invalid_argument / not_supported with
//     a message; ok means memory, vcpus, maxvcpus and the command line are
//     within what hv can create and nothing but unknown keys is unsupported;
//   - domain_config_to_json gives one JSON object ending in a newline.
//
// Built two ways: as a libFuzzer binary (tests/fuzz/meson.build, with
// HV_LIBFUZZER defined) and into the unit tests, whose smoke test calls
// hv::fuzz::config_fuzz_check directly.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "boot/pvh_loader.hpp"
#include "config/config_json.hpp"
#include "config/cpu_list.hpp"
#include "config/domain_config.hpp"
#include "config/domain_config_loader.hpp"
#include "config/xl_cfg_parser.hpp"
#include "core/sched/scheduler.hpp"
#include "hv/abi/domain_name.h"

#include "config_fuzz.hpp"
#include "fuzz_check.hpp"

namespace hv::fuzz {
namespace {

using config::CfgValue;

constexpr std::string_view kSource = "fuzz.cfg";

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string check_location(const config::CfgLocation& at) {
    HV_FUZZ_CHECK(at.source && *at.source == kSource, "a location without the text's source name");
    HV_FUZZ_CHECK(at.line >= 1 && at.column >= 1, "a location before 1:1");
    return {};
}

std::string check_scalar(const CfgValue& v) {
    if (auto why = check_location(v.where); !why.empty()) return why;
    if (v.kind == CfgValue::Kind::string) {
        HV_FUZZ_CHECK(v.text.size() <= config::kMaxCfgStringBytes, "a string over kMaxCfgStringBytes");
        HV_FUZZ_CHECK(v.items.empty(), "a string with list items");
        return {};
    }
    HV_FUZZ_CHECK(v.kind == CfgValue::Kind::number, "a list inside a list");
    uint64_t n = 0;
    HV_FUZZ_CHECK(config::parse_cfg_number(v.text, n) && n == v.number, "a number whose text is not its value");
    return {};
}

// parse_xl_cfg on the text alone: the limits xl_cfg_parser.hpp promises.
std::string check_syntax(const config::XlCfg& cfg, ConfigFuzzStats& stats) {
    HV_FUZZ_CHECK(cfg.settings.size() <= config::kMaxCfgSettings, "more settings than kMaxCfgSettings");
    HV_FUZZ_CHECK(cfg.list_items() <= config::kMaxCfgItems, "more list items than kMaxCfgItems");
    size_t items = 0;
    for (const auto& s : cfg.settings) {
        ++stats.settings;
        HV_FUZZ_CHECK(!s.key.empty() && s.key.size() <= config::kMaxCfgKeyBytes, "a key empty or over kMaxCfgKeyBytes");
        HV_FUZZ_CHECK(cfg.find(s.key) == &s, "find() does not find a setting by its key");
        if (auto why = check_location(s.where); !why.empty()) return why;
        if (s.value.kind == CfgValue::Kind::list) {
            if (auto why = check_location(s.value.where); !why.empty()) return why;
            HV_FUZZ_CHECK(s.value.items.size() <= config::kMaxCfgListItems, "a list over kMaxCfgListItems");
            items += s.value.items.size();
            for (const auto& item : s.value.items)
                if (auto why = check_scalar(item); !why.empty()) return why;
        } else if (auto why = check_scalar(s.value); !why.empty()) {
            return why;
        }
    }
    HV_FUZZ_CHECK(items <= cfg.list_items(), "list_items() counts fewer items than the lists hold");
    return {};
}

// One text through parse_cpu_list, at the config's limit and at one that
// depends on the text (so small limits are reached too).
std::string check_cpu_list(std::string_view text, ConfigFuzzStats& stats) {
    const uint32_t varied = 1 + static_cast<uint32_t>(text.size() % config::kMaxCpuListCpus);
    for (const uint32_t limit : {config::kMaxCpuListCpus, varied}) {
        const auto r = config::parse_cpu_list(text, limit);
        if (!r) {
            ++stats.cpu_list_errors;
            const Error& e = r.error();
            HV_FUZZ_CHECK(e.code == Errc::invalid_argument || e.code == Errc::not_supported,
                          "parse_cpu_list: an error other than invalid_argument/not_supported");
            HV_FUZZ_CHECK(!e.message.empty() && e.message.size() <= 400,
                          "parse_cpu_list: an error without a message or with a long one");
            continue;
        }
        ++stats.cpu_lists;
        const uint64_t mask = *r;
        HV_FUZZ_CHECK(text.size() <= config::kMaxCpuListBytes, "parse_cpu_list took a text over kMaxCpuListBytes");
        HV_FUZZ_CHECK(mask != 0, "parse_cpu_list: an empty mask");
        HV_FUZZ_CHECK(limit == 64 || (mask >> limit) == 0, "parse_cpu_list: a CPU at or above the limit");
        const std::string compact = config::format_cpu_list(mask);
        const auto back = config::parse_cpu_list(compact, limit);
        HV_FUZZ_CHECK(back.ok() && *back == mask, "format_cpu_list: a text that does not read back to its mask");
    }
    return {};
}

// parse_cpu_list on the text, the overrides and every string the syntax
// holds (the values a generator or libFuzzer puts after cpus =).
std::string check_cpu_lists(const ConfigFuzzInput& in, const config::XlCfg* cfg, ConfigFuzzStats& stats) {
    if (auto why = check_cpu_list(in.text, stats); !why.empty()) return why;
    for (const std::string& o : in.overrides)
        if (auto why = check_cpu_list(o, stats); !why.empty()) return why;
    if (cfg == nullptr) return {};
    for (const auto& s : cfg->settings) {
        if (s.value.kind != CfgValue::Kind::list) {
            if (auto why = check_cpu_list(s.value.text, stats); !why.empty()) return why;
            continue;
        }
        for (const auto& item : s.value.items)
            if (auto why = check_cpu_list(item.text, stats); !why.empty()) return why;
    }
    return {};
}

// The scheduling settings within the scheduler's ranges (SchedConfig).
std::string check_sched(const config::DomainConfig& dc) {
    const config::SchedConfig& sc = dc.sched;
    const uint32_t max_vcpus = dc.maxvcpus != 0 ? dc.maxvcpus : dc.vcpus;
    HV_FUZZ_CHECK(!sc.weight || (*sc.weight >= core::sched::kCreditWeightMin &&
                                 *sc.weight <= core::sched::kCreditWeightMax),
                  "cpu_weight out of the scheduler's range");
    HV_FUZZ_CHECK(!sc.cap || *sc.cap <= core::sched::kCreditCapPerVcpu * max_vcpus,
                  "cap above 100 x the max vCPUs");
    for (const auto* masks : {&sc.cpus_hard, &sc.cpus_soft}) {
        HV_FUZZ_CHECK(masks->size() <= 1 || masks->size() <= max_vcpus, "more per-vCPU CPU masks than max vCPUs");
        for (const uint64_t m : *masks) HV_FUZZ_CHECK(m != 0, "an empty CPU mask");
    }
    return {};
}

std::string check_built(const config::DomainConfig& dc) {
    HV_FUZZ_CHECK(hv_domain_name_problem(dc.name.data(), dc.name.size()) == HV_DOMAIN_NAME_OK,
                  "a DomainConfig whose name breaks the name rule");
    HV_FUZZ_CHECK(!dc.kernel.empty(), "a DomainConfig without a kernel");
    HV_FUZZ_CHECK(dc.source == kSource, "a DomainConfig with another source");
    HV_FUZZ_CHECK(dc.vcpus >= 1 && dc.vcpus <= config::kMaxVcpus, "vcpus out of 1..kMaxVcpus");
    HV_FUZZ_CHECK(dc.maxvcpus == 0 || (dc.maxvcpus >= dc.vcpus && dc.maxvcpus <= config::kMaxVcpus),
                  "maxvcpus below vcpus or over kMaxVcpus");
    HV_FUZZ_CHECK(dc.memory_mib >= 1, "memory below 1 MiB");
    HV_FUZZ_CHECK(dc.maxmem_mib == 0 || dc.maxmem_mib >= dc.memory_mib, "maxmem below memory");
    HV_FUZZ_CHECK(dc.io_weight >= core::qos::ShareArbiter::kMinWeight && dc.io_weight <= core::qos::ShareArbiter::kMaxWeight,
                  "io_weight out of 1..10000");
    if (auto why = check_sched(dc); !why.empty()) return why;
    for (const auto& u : dc.unsupported)
        HV_FUZZ_CHECK(!u.key.empty() && !u.where.empty() && !u.why.empty(), "an unsupported key without key/where/why");
    for (const auto& [key, at] : dc.locations) {
        HV_FUZZ_CHECK(!key.empty(), "a location for an empty key");
        HV_FUZZ_CHECK(at.source && (*at.source == kSource || starts_with(*at.source, "override ")),
                      "a location from an unknown source");
    }
    return {};
}

std::string check_creatable(const config::DomainConfig& dc, ConfigFuzzStats& stats) {
    const auto r = config::check_creatable(dc);
    if (!r) {
        ++stats.not_creatable;
        HV_FUZZ_CHECK(!r.error().message.empty(), "check_creatable: an error without a message");
        HV_FUZZ_CHECK(r.error().code == Errc::invalid_argument || r.error().code == Errc::not_supported,
                      "check_creatable: an error other than invalid_argument/not_supported");
        return {};
    }
    ++stats.creatable;
    HV_FUZZ_CHECK(dc.memory_mib >= config::kMinMemoryMib && dc.memory_mib <= config::kMaxMemoryMib,
                  "creatable with memory out of range");
    HV_FUZZ_CHECK(dc.vcpus >= 1 && dc.vcpus <= config::kMaxVcpus, "creatable with vcpus out of range");
    HV_FUZZ_CHECK(dc.maxvcpus == 0 || (dc.maxvcpus >= dc.vcpus && dc.maxvcpus <= config::kMaxVcpus),
                  "creatable with maxvcpus out of vcpus..kMaxVcpus");
    if (auto why = check_sched(dc); !why.empty()) return why;
    HV_FUZZ_CHECK(dc.cmdline.size() < boot::kCmdlineMax && dc.cmdline.find('\0') == std::string::npos,
                  "creatable with a command line the loader cannot take");
    for (const auto& u : dc.unsupported)
        HV_FUZZ_CHECK(u.why == "unknown key", "creatable with an unsupported key");
    return {};
}

} // namespace

ConfigFuzzInput split_config_fuzz_input(const uint8_t* data, size_t size) {
    ConfigFuzzInput in;
    const std::string_view all(reinterpret_cast<const char*>(data), data == nullptr ? 0 : size);
    const size_t sep = all.find('\xff');
    in.text = all.substr(0, sep);
    if (sep == std::string_view::npos) return in;
    std::string_view rest = all.substr(sep + 1);
    while (in.overrides.size() < kConfigFuzzMaxOverrides) {
        const size_t nl = rest.find('\n');
        in.overrides.emplace_back(rest.substr(0, nl));
        if (nl == std::string_view::npos) break;
        rest.remove_prefix(nl + 1);
    }
    return in;
}

std::string config_fuzz_check(const uint8_t* data, size_t size, ConfigFuzzStats& stats) {
    const ConfigFuzzInput in = split_config_fuzz_input(data, size);

    // The syntax alone.
    auto syntax = config::parse_xl_cfg(in.text, kSource);
    if (!syntax) {
        ++stats.syntax_errors;
        HV_FUZZ_CHECK(syntax.error().code == Errc::parse_error, "parse_xl_cfg: an error other than parse_error");
        HV_FUZZ_CHECK(starts_with(syntax.error().message, std::string(kSource) + ":"),
                      "parse_xl_cfg: an error that does not start with the source's name");
    } else if (auto why = check_syntax(*syntax, stats); !why.empty()) {
        return why;
    }
    if (auto why = check_cpu_lists(in, syntax ? &*syntax : nullptr, stats); !why.empty()) return why;

    // The whole reader.
    auto dc = config::parse_domain_config(in.text, kSource, in.overrides);
    if (!dc) {
        ++stats.refused;
        const Error& e = dc.error();
        HV_FUZZ_CHECK(!e.message.empty(), "parse_domain_config: an error without a message");
        HV_FUZZ_CHECK(e.code == Errc::parse_error || e.code == Errc::invalid_argument,
                      "parse_domain_config: an error other than parse_error/invalid_argument");
        if (!syntax) {
            HV_FUZZ_CHECK(e.code == syntax.error().code && e.message == syntax.error().message,
                          "parse_domain_config refused the text differently from parse_xl_cfg");
            return {};
        }
        if (starts_with(e.message, "override ")) {
            ++stats.override_errors;
            HV_FUZZ_CHECK(!in.overrides.empty(), "an override error without overrides");
        } else {
            HV_FUZZ_CHECK(starts_with(e.message, std::string(kSource) + ":"),
                          "parse_domain_config: an error that names neither the source nor an override");
        }
        return {};
    }
    HV_FUZZ_CHECK(syntax.ok(), "parse_domain_config took a text parse_xl_cfg refused");
    ++stats.built;
    if (auto why = check_built(*dc); !why.empty()) return why;
    if (auto why = check_creatable(*dc, stats); !why.empty()) return why;
    const std::string json = config::domain_config_to_json(*dc);
    HV_FUZZ_CHECK(json.size() >= 3 && json.front() == '{' && json.substr(json.size() - 2) == "}\n",
                  "domain_config_to_json: not one object ending in a newline");
    return {};
}

} // namespace hv::fuzz

int hv_config_fuzz_one(const uint8_t* data, size_t size) {
    return hv::fuzz::run_or_abort("config_fuzz", hv::fuzz::config_fuzz_check, data, size);
}

#ifdef HV_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return hv_config_fuzz_one(data, size); }
#endif
