#include "core/memory_map.hpp"

namespace hv::core {

uint32_t memory_map(uint64_t ram_size, MemoryRegion (&out)[kMaxMemoryRegions]) {
    if (ram_size < 2 * kHighRamBase) return 0;
    out[0] = {0, kConventionalEnd, MemoryType::ram};
    out[1] = {kConventionalEnd, kFirmwareBase - kConventionalEnd, MemoryType::reserved};
    out[2] = {kFirmwareBase, kFirmwareEnd - kFirmwareBase, MemoryType::reserved};
    out[3] = {kHighRamBase, ram_size - kHighRamBase, MemoryType::ram};
    if (ram_size > kDeviceWindowBase) return 4; // hv's PV machine: no devices there
    out[4] = {kPciEcamBase, kPciEcamSize, MemoryType::reserved};
    return 5;
}

} // namespace hv::core
