// DomainConfig: the typed result of reading an xl.cfg(5) domain config.
// What the monitor needs to build a domain; keys hv does not honour yet
// are kept by name in `unsupported` so callers can warn or refuse.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "boot/kernel_loader.hpp"
#include "config/disk_spec.hpp"
#include "config/vif_spec.hpp"
#include "config/xl_cfg_parser.hpp"
#include "core/domain_state.hpp"
#include "core/qos/share_arbiter.hpp"
#include "hv/result.hpp"

namespace hv::config {

using Uuid = std::array<uint8_t, 16>;

// What hv can create (check_creatable). Guest RAM is one KVM memory slot
// from guest-physical 0 up to the pages KVM keeps just under 4 GiB
// (platform/kvm/kvm_vm.hpp), and a PVH kernel needs 2 MiB of it
// (boot/pvh_loader.hpp); domain_config.cpp asserts that these agree.
inline constexpr uint64_t kMinMemoryMib = 2;
inline constexpr uint64_t kMaxMemoryMib = 4095;
inline constexpr uint32_t kMaxVcpus = 128;

// How the domain's vCPUs are scheduled: xl.cfg(5) cpu_weight=, cap=, cpus=
// and cpus_soft=. Unset fields leave the scheduler's defaults. The ranges
// are the scheduler's (core/sched/scheduler.hpp), checked by the reader and
// by check_creatable:
//  - weight: kCreditWeightMin..kCreditWeightMax (1..65535; the credit
//    scheduler's default is 256);
//  - cap: percent of one physical CPU, 0 (no cap) .. kCreditCapPerVcpu (100)
//    x the domain's max vCPUs (maxvcpus, or vcpus when unset);
//  - cpus_hard (cpus=) / cpus_soft (cpus_soft=): CPU masks (CPU n is bit n,
//    CPUs below core::sched::kMaxPcpus = 64), none empty. Empty vector: no
//    affinity given (any host CPU). One mask: every vCPU's. More: one per
//    vCPU, mask i for vCPU i, at most the max vCPUs; vCPUs past the end
//    have no affinity (xl's list form, which may be shorter than the vCPUs).
//    The reader makes a string one mask and a list one mask per element
//    (config/cpu_list.hpp). Two forms it records in `unsupported` instead,
//    so create refuses them: NUMA node lists ("nodes:0"), and a list of one
//    CPU list when there is more than one vCPU (xl pins vCPU 0 alone; one
//    mask here means every vCPU).
// Weight and cap are the credit scheduler's; the policy the host runs is
// not known here. Whether the CPUs exist on the host is not checked here
// either: the monitor checks the masks against the host CPUs it was given
// when it creates the domain. A mask read from "all" holds every CPU below
// 64 (see config/cpu_list.hpp).
struct SchedConfig {
    std::optional<uint32_t> weight;
    std::optional<uint32_t> cap;
    std::vector<uint64_t> cpus_hard;
    std::vector<uint64_t> cpus_soft;
};

// A key that parsed but that hv does not act on yet, with where it was set.
struct Unsupported {
    std::string key;
    std::string where; // "file:line:column"
    std::string why;   // e.g. "not supported yet", "unknown key"
    // What a create that goes ahead tells the user about it, wherever it
    // runs (embedded, hvd, a dry run): "file:line:col: key: why (ignored)".
    std::string warning() const { return where + ": " + key + ": " + why + " (ignored)"; }
};

struct DomainConfig {
    std::string name;
    std::optional<Uuid> uuid;   // generated at create when absent
    std::string kernel;         // path, resolved against the config's folder
    std::string cmdline;        // extra= (or cmdline=); root= is prepended as "root=..."
    std::string ramdisk;        // the initrd; empty: none
    // hv's own key kernel_entry = "auto" | "pvh" | "bzimage": how a Linux
    // bzImage is entered (boot/kernel_loader.hpp).
    boot::KernelEntry kernel_entry = boot::KernelEntry::automatic;
    uint64_t memory_mib = 128;  // xl's default
    uint64_t maxmem_mib = 0;    // 0: same as memory
    uint32_t vcpus = 1;
    uint32_t maxvcpus = 0;      // 0: same as vcpus; vCPUs vcpus..maxvcpus-1 start offline
    SchedConfig sched;
    // hv's own key io_weight = 1..10000 (cgroup v2's io.weight scale): the
    // domain's proportional share of each backing device its disks share
    // with other domains' (core/qos/share_arbiter.hpp). Xen has no such
    // key; the seeds do this with ionice on dom0.
    uint32_t io_weight = core::qos::ShareArbiter::kDefaultWeight;
    core::ShutdownActions actions{};
    // disk= and vif=, parsed and checked; the devices do not exist yet, so
    // both keys are also listed in `unsupported` and create refuses them.
    std::vector<DiskSpec> disks;
    std::vector<VifSpec> vifs;
    std::string source;         // the file it came from ("" when built in code)
    std::vector<Unsupported> unsupported;
    // Where each honoured key was set (its value), by the key as written
    // ("maxvcpu" for the legacy spelling), so checks made after reading
    // still name file:line:column and the key. Empty when built in code.
    std::map<std::string, CfgLocation, std::less<>> locations;
    // A config built in code from typed fields (the SDK's DomainSpec): the
    // field each key came from, as messages name it ("memory" ->
    // "DomainSpec.memory_mib"), so check_creatable's refusals name the
    // caller's field rather than an xl.cfg key it never wrote.
    std::map<std::string, std::string, std::less<>> fields;
};

std::string uuid_to_string(const Uuid& u);

// The vCPUs a domain may have: maxvcpus, or vcpus when unset. vcpus of
// them are online at start (the guest is asked to bring up that many).
uint32_t max_vcpus_of(const DomainConfig& dc);

// Whether hv can create this domain, checked before anything is created:
// the name (hv/abi/domain_name.h), a kernel, memory within
// kMinMemoryMib..kMaxMemoryMib, vcpus within 1..kMaxVcpus, maxvcpus (when
// set) within vcpus..kMaxVcpus (the vCPUs past vcpus start offline), the
// scheduling settings within the ranges SchedConfig gives, a kernel command
// line that fits the PVH loader, and nothing in `unsupported` but unknown
// keys. The monitor runs it on every create, and `hvctl create -n` too, so a
// dry run refuses exactly what a real create refuses. Errors are
// "FILE:LINE:COLUMN: key: what is wrong" ("FIELD: what is wrong" for a
// config built from typed fields, the key alone for one built in code):
// Errc::not_supported for what hv does not do yet, Errc::invalid_argument
// otherwise.
hv::Result<void> check_creatable(const DomainConfig& cfg);

} // namespace hv::config
