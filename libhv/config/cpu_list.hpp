// xl's CPU lists (xl.cfg(5) "cpus", also what `xl vcpu-pin` takes), as a
// bitmask of physical CPUs: CPU n is bit n.
//
//   all            every CPU below the limit (0..limit-1)
//   3              one CPU
//   0-3            a range, both ends included
//   0-3,5,^1       items split by ','; '^' excludes a CPU or a range
//   all,^7         every CPU but 7
//
// Blanks (space, tab, CR, LF) around an item, after '^' and around '-' are
// dropped. Numbers are decimal (as xl, which reads them with strtoul(.., 10)).
//
// Whether the CPUs exist on the host is not checked here: a config is read
// where the host may not be known. The monitor checks a domain's masks
// against the host CPUs it was given when it creates the domain. "all"
// therefore means every CPU the mask can name (0..limit-1), not the
// host's: a caller that checks against the host must take it as "every
// host CPU" (xl's bitmaps are sized to the host, so there it is).
//
// Where we differ from xl (tools/xl/xl_parse.c, parse_cpurange), on purpose:
//  - exclusions apply after every inclusion, wherever they are written: xl
//    applies the items in order, so its "^1,0-3" is 0-3 and ours is 0,2,3;
//  - an empty item ("0,,1", a trailing ',') is an error (xl's strtok skips it);
//  - a list that leaves no CPU ("^1" alone) is an error;
//  - "node:N" / "nodes:N" (NUMA nodes) are refused: hv has no NUMA placement;
//  - CPUs at or above the limit are an error (xl drops them silently).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/xl_cfg_parser.hpp"
#include "core/sched/cpu_mask.hpp"
#include "hv/result.hpp"

namespace hv::config {

// The most CPUs a mask holds: the scheduler's (core/sched/cpu_mask.hpp).
inline constexpr uint32_t kMaxCpuListCpus = core::sched::kMaxPcpus;
static_assert(kMaxCpuListCpus >= 1 && kMaxCpuListCpus <= 64, "a CPU mask is one uint64_t");

// What one CPU list may be: its text at most 4,096 bytes, at most 256 items.
// (64 CPUs take at most 64 items; the rest is room for exclusions.)
inline constexpr size_t kMaxCpuListBytes = 4096;
inline constexpr size_t kMaxCpuListItems = 256;

// Why a list with node:/nodes: items is refused (Errc::not_supported).
inline constexpr std::string_view kNumaNotSupported = "NUMA node lists are not supported: hv has no NUMA placement";

// Parses one CPU list into a mask of CPUs below `limit` (1..kMaxCpuListCpus).
// Errors name the item at fault as written (blanks dropped) and, for a CPU
// out of range, the valid range:
//   Errc::invalid_argument  "empty CPU list", "'70' is not a CPU: valid CPUs
//     are 0..63", "'60-70' is not a CPU range: valid CPUs are 0..63",
//     "'3-1': range goes backwards", "'abc' is not a CPU number or range",
//     "'^all': cannot exclude every CPU", "'0,,1': empty item",
//     "'^1' leaves no CPU", and the length, item count and limit bounds;
//   Errc::not_supported  "'nodes:0': " + kNumaNotSupported.
// Costs time linear in `text`; never throws.
hv::Result<uint64_t> parse_cpu_list(std::string_view text, uint32_t limit = kMaxCpuListCpus);

// The compact form of `mask`, lowest CPU first: "0-3,5", "4-5", "7". A form
// parse_cpu_list reads back to `mask`. Never "all" (the limit is not known
// here). An empty mask gives "" (which parse_cpu_list refuses as empty).
std::string format_cpu_list(uint64_t mask);

// A cpus= or cpus_soft= value as xl reads it (xl_parse.c,
// parse_vcpu_affinity):
//  - a string is one CPU list for every vCPU: one mask, per_vcpu false;
//  - a list holds one CPU list per vCPU, element i for vCPU i: one mask per
//    element, per_vcpu true (an empty list: no masks).
// A number (cpus = 3, or an element of a list) is read as its text, as
// libxlutil keeps every scalar as text: cpus = 010 is CPU 10, as in xl.
struct CpuAffinity {
    std::vector<uint64_t> masks;
    bool per_vcpu = false;
};

// `setting` is the cpus= or cpus_soft= setting. Errors carry
// parse_cpu_list's code and read "FILE:LINE:COLUMN: KEY: message" with the
// position of the string, or of the list element, at fault.
hv::Result<CpuAffinity> parse_cpu_affinity(const CfgSetting& setting, uint32_t limit = kMaxCpuListCpus);

} // namespace hv::config
