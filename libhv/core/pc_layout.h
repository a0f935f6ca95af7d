/* The fixed addresses of hv's PC machine that its firmware tables' AML
 * (core/acpi/dsdt.asl, compiled by iasl at build time) and its C++ code
 * (core/memory_map.hpp, core/acpi/acpi_tables.hpp) both need: one source
 * for each. Plain #defines, because iasl's preprocessor reads this file
 * too (it knows #ifndef guards, not #pragma once). */
#ifndef HV_CORE_PC_LAYOUT_H
#define HV_CORE_PC_LAYOUT_H

/* The PCI host bridge's memory window for BARs, from the device window's
 * start; then its ECAM (bus 0 only: 32 devices x 8 functions x 4 KiB). */
#define HV_PCI_MMIO_BASE 0xC0000000
#define HV_PCI_MMIO_SIZE 0x20000000
#define HV_PCI_MMIO_LIMIT 0xDFFFFFFF /* base + size - 1: iasl takes no sums in resources */
#define HV_PCI_ECAM_BASE 0xE0000000
#define HV_PCI_ECAM_SIZE 0x00100000

/* The ACPI GPE0 block (status, enable: 2 bytes each), the GPE that
 * announces PCI hotplug, and the hotplug controller's registers (UP, DOWN,
 * EJECT, GONE: 4 bytes each; core/pci/hotplug_slots.hpp). */
#define HV_GPE0_PORT 0x0620
#define HV_GPE_PCI_HOTPLUG 1
#define HV_PCI_HOTPLUG_PORT 0x0610
#define HV_PCI_HOTPLUG_LEN 16

/* QEMU's pvpanic device (devices/pvpanic.hpp). */
#define HV_PVPANIC_PORT 0x0505
/* The SLP_TYP \_S5 gives for soft-off (devices/acpi_pm.hpp). */
#define HV_SLP_TYP_S5 5

#endif
