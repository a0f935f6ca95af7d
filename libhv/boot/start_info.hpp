// The Xen PVH start-of-day structures (xen/include/public/arch-x86/
// hvm/start_info.h), as the boot ABI fixes them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv::boot {

constexpr uint32_t kStartInfoMagic = 0x336ec578;
constexpr uint32_t kMemmapRam = 1; // E820 RAM

struct HvmStartInfo {
    uint32_t magic;
    uint32_t version; // 1: has the memory map fields
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;
    uint32_t memmap_entries;
    uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56);
static_assert(offsetof(HvmStartInfo, memmap_paddr) == 40);

struct HvmMemmapEntry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24);

} // namespace hv::boot
