// DomainConfig: the typed result of reading an xl.cfg(5) domain config.
// What the monitor needs to build a domain; keys hv does not honour yet
// are kept by name in `unsupported` so callers can warn or refuse.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/disk_spec.hpp"
#include "config/vif_spec.hpp"
#include "core/domain_state.hpp"

namespace hv::config {

using Uuid = std::array<uint8_t, 16>;

// A key that parsed but that hv does not act on yet, with where it was set.
struct Unsupported {
    std::string key;
    std::string where; // "file:line:column"
    std::string why;   // e.g. "not supported yet", "unknown key"
};

struct DomainConfig {
    std::string name;
    std::optional<Uuid> uuid;   // generated at create when absent
    std::string kernel;         // path, resolved against the config's folder
    std::string cmdline;        // extra= (or cmdline=); root= is prepended as "root=..."
    std::string ramdisk;        // parsed, not loaded yet (reported unsupported)
    uint64_t memory_mib = 128;  // xl's default
    uint64_t maxmem_mib = 0;    // 0: same as memory
    uint32_t vcpus = 1;
    uint32_t maxvcpus = 0;      // 0: same as vcpus
    core::ShutdownActions actions{};
    // disk= and vif=, parsed and checked; the devices do not exist yet, so
    // both keys are also listed in `unsupported` and create refuses them.
    std::vector<DiskSpec> disks;
    std::vector<VifSpec> vifs;
    std::string source;         // the file it came from ("" when built in code)
    std::vector<Unsupported> unsupported;
};

std::string uuid_to_string(const Uuid& u);

} // namespace hv::config
