// MemoryMap: the guest-physical layout of hv's PC machine, the one fact the
// e820 map, the PVH memory map, the ACPI tables and the device models all
// read. RAM is one range from 0 in the platform (a single memory slot); the
// map says which parts of it the guest may use as RAM and which hold the
// firmware tables, and where the device window sits above RAM.
//
//   0        .. 0x9ffff    RAM (conventional memory; real-mode AP trampolines)
//   0xa0000  .. 0xdffff    legacy VGA/ROM hole (reserved)
//   0xe0000  .. 0xfffff    firmware: ACPI tables, RSDP (reserved, as on a PC
//                          BIOS, where Linux scans for the RSDP)
//   0x100000 .. ram_end    RAM
//   kDeviceWindowBase ..   4 GiB: PCI BARs, ECAM (reserved), IOAPIC, LAPIC
//                          (never RAM; pc_layout.h places the PCI parts)
#pragma once

#include <stdint.h>

#include "core/pc_layout.h"

namespace hv::core {

// E820 types, as both the Linux boot protocol and PVH's memmap use them.
enum class MemoryType : uint32_t { ram = 1, reserved = 2, acpi = 3 };

struct MemoryRegion {
    uint64_t base;
    uint64_t size;
    MemoryType type;
};

constexpr uint64_t kConventionalEnd = 0xa0000;
constexpr uint64_t kFirmwareBase = 0xe0000; // ACPI tables live here
constexpr uint64_t kFirmwareEnd = 0x100000;
constexpr uint64_t kHighRamBase = 0x100000;
// Devices own everything from here to 4 GiB, so a PC machine's RAM ends
// below it (guests with more RAM than this need a second slot above 4 GiB,
// which hv does not make yet).
constexpr uint64_t kDeviceWindowBase = 0xc0000000;
constexpr uint64_t kIoApicBase = 0xfec00000;
constexpr uint64_t kLapicBase = 0xfee00000;
constexpr uint64_t kMaxPcRam = kDeviceWindowBase;
constexpr uint64_t kPciMmioBase = HV_PCI_MMIO_BASE;
constexpr uint64_t kPciMmioSize = HV_PCI_MMIO_SIZE;
constexpr uint64_t kPciEcamBase = HV_PCI_ECAM_BASE;
constexpr uint64_t kPciEcamSize = HV_PCI_ECAM_SIZE;
static_assert(kPciMmioBase == kDeviceWindowBase && HV_PCI_MMIO_LIMIT == kPciMmioBase + kPciMmioSize - 1 &&
              kPciEcamBase >= kPciMmioBase + kPciMmioSize && kPciEcamBase + kPciEcamSize <= kIoApicBase);
constexpr uint32_t kMaxMemoryRegions = 5;

// Fills `out` with the map of a machine with `ram_size` bytes of RAM (at
// least 2 MiB); returns how many regions it wrote, 0 for a size it cannot
// describe. When RAM ends below the device window, the PCI ECAM follows
// as reserved (Linux trusts an MCFG only over reserved ranges). A PC machine's RAM must also end below the device window
// (kMaxPcRam, the caller's check): hv's own PV machine has no devices
// there and may use RAM up to the platform's limit.
uint32_t memory_map(uint64_t ram_size, MemoryRegion (&out)[kMaxMemoryRegions]);

} // namespace hv::core
