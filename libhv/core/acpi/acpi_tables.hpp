// AcpiTables: the firmware tables of hv's PC machine (ACPI 6.x), written
// into guest RAM by the monitor before the first vCPU runs, as Cloud
// Hypervisor's and Firecracker's VMMs do instead of running a BIOS:
//
//   RSDP -> XSDT -> FADT -> FACS, DSDT (AML from dsdt.asl: \_S5 for poweroff,
//                                       the PCI host bridge, the pvpanic device)
//                -> MADT (one local APIC per vCPU, the IOAPIC, ISA overrides)
//                -> MCFG (the PCI ECAM)
//
// The FADT describes the fixed-hardware power button and sleep control in
// hv's ACPI PM block (ports kPm1EvtPort.., devices/acpi_pm.hpp), the GPE0
// block whose event 1 is PCI hotplug (kGpe0Port), the reset
// register (port 0xcf9) and the CMOS century byte. No SMI port: the
// machine is always in ACPI mode. Freestanding: the ring-0 image builds the
// same tables.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/pc_layout.h"

namespace hv::core::acpi {

// hv's fixed ACPI hardware (I/O ports), described by the FADT.
constexpr uint16_t kPm1EvtPort = 0x600; // PM1a status (2 bytes) + enable (2 bytes)
constexpr uint16_t kPm1CntPort = 0x604; // PM1a control (2 bytes)
constexpr uint16_t kPmPorts = 6;
// The GPE0 block: status (2 bytes) then enable (2 bytes); one event so far.
constexpr uint16_t kGpe0Port = HV_GPE0_PORT;
constexpr uint16_t kGpe0Ports = 4;
constexpr uint32_t kGpePciHotplug = HV_GPE_PCI_HOTPLUG; // the DSDT's \_GPE._E01
// The PCI hotplug controller the DSDT drives (core/pci/hotplug_slots.hpp).
constexpr uint16_t kPciHotplugPort = HV_PCI_HOTPLUG_PORT;
constexpr uint16_t kResetPort = 0xcf9;
constexpr uint8_t kResetValue = 0x06;
constexpr uint8_t kSciIrq = 9;
// QEMU's pvpanic device, described in the DSDT (devices/pvpanic.hpp).
constexpr uint16_t kPvPanicPort = HV_PVPANIC_PORT;
// SLP_TYP values the DSDT's \_S5 gives for soft-off.
constexpr uint8_t kSlpTypS5 = HV_SLP_TYP_S5;

struct MachineDescription {
    uint32_t nr_cpus = 1; // local APICs 0..nr_cpus-1, all enabled
};

struct Built {
    uint64_t rsdp_gpa = 0; // 0: the tables did not fit
    uint32_t bytes = 0;    // used from the start of the buffer
};

// Writes the tables into `buf` (`cap` bytes) that the guest sees at
// `base_gpa` (64-byte aligned, below 4 GiB), RSDP first.
Built build_tables(const MachineDescription& m, uint8_t* buf, uint32_t cap, uint64_t base_gpa);

// Sum of `len` bytes mod 256 (a valid table sums to 0).
uint8_t checksum(const uint8_t* p, uint32_t len);

} // namespace hv::core::acpi
