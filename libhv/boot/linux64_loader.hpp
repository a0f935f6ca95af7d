// Linux64Loader: the Linux/x86 64-bit boot protocol (Documentation/arch/
// x86/boot.rst, "64-bit boot protocol"), the fallback for bzImages whose
// payload hv cannot boot through PVH. The protected-mode kernel goes at its
// preferred address (it decompresses itself there, within init_size), a
// zero page (boot_params) carries the setup header, command line, initrd,
// e820 map (from core::memory_map) and the RSDP, and the vCPU enters the
// kernel's 64-bit entry (load address + 0x200) in long mode with an
// identity map of the first 4 GiB, the boot GDT's __BOOT_CS/__BOOT_DS
// (0x10/0x18) and rsi = the zero page.
#pragma once

#include <cstdint>
#include <span>

#include "boot/bzimage.hpp"
#include "boot/pvh_loader.hpp"
#include "core/guest_ram.hpp"
#include "hv/result.hpp"

namespace hv::boot {

// Low memory the loader writes (below 640 KiB, where kernels are not
// loaded): the zero page, then hv's boot area (command line at
// kCmdlineGpa), the boot GDT and the page tables.
constexpr uint64_t kBootParamsGpa = 0x5000;
constexpr uint64_t kBootGdtGpa = 0x8000;
constexpr uint64_t kBootPml4Gpa = 0x9000; // then the PDPT and four page directories
constexpr uint64_t kBootTablesEnd = 0xf000;
constexpr uint16_t kBootCodeSelector = 0x10; // __BOOT_CS
constexpr uint16_t kBootDataSelector = 0x18; // __BOOT_DS

Result<BootInfo> load_linux64(std::span<const uint8_t> image, const BzImage& bz, const BootRequest& req,
                              const core::GuestRam& ram);

} // namespace hv::boot
