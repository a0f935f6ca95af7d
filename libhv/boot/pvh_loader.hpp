// PvhLoader: puts a PVH-bootable ELF kernel into guest RAM the way Xen's
// PVH boot ABI (and QEMU's microvm) does: PT_LOAD segments at their
// physical addresses, an hvm_start_info with the command line and a memory
// map, and the 32-bit entry point from the XEN_ELFNOTE_PHYS32_ENTRY note.
// Every field of the image is checked before it is trusted.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/guest_ram.hpp"
#include "hv/result.hpp"

namespace hv::boot {

// Where the loader puts its own structures (below 1 MiB, where kernels
// are not loaded).
constexpr uint64_t kStartInfoGpa = 0x6000;
constexpr uint64_t kMemmapGpa = 0x6800;
constexpr uint64_t kCmdlineGpa = 0x7000;
constexpr uint64_t kCmdlineMax = 0x1000; // including the NUL
constexpr uint64_t kLowReservedEnd = 0x8000;
constexpr uint64_t kMinRam = 2ull << 20;

struct BootInfo {
    uint32_t entry = 0;      // 32-bit physical entry
    uint32_t start_info = 0; // goes to ebx
    uint64_t image_end = 0;  // highest byte loaded + 1
};

// Reads a kernel image; errors name the path.
Result<std::vector<uint8_t>> read_kernel_file(const std::string& path);

// Checks `image` and loads it with `cmdline` into `ram`.
Result<BootInfo> load_pvh(std::span<const uint8_t> image, std::string_view cmdline, const core::GuestRam& ram);

} // namespace hv::boot
