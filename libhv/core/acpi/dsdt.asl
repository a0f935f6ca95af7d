/*
 * The DSDT of hv's PC machine, compiled by iasl at build time into the AML
 * core/acpi/acpi_tables.cpp copies into guest RAM (DESIGN.md section 5).
 * Static: nothing here depends on the domain (the MADT carries the vCPUs).
 *
 *   \_S5            the SLP_TYP Linux writes to PM1a_CNT to power off
 *   \_SB.PCI0       the PCI host bridge: bus 0, config ports 0xcf8-0xcff,
 *                   every other port, and the BAR window; ECAM per MCFG
 *   \_SB.MRES       motherboard resources: the ECAM range, which Linux
 *                   wants reserved before it trusts the MCFG
 *   \_SB.PEVT       QEMU's pvpanic at port 0x505 (Linux's pvpanic driver)
 *   \_SB.PCI0.Sxx   slots 1..31 of bus 0, each ejectable: ACPI PCI hotplug
 *                   (Linux's acpiphp). The hotplug controller's registers
 *                   (core/pci/hotplug_slots.hpp) say which slots changed;
 *                   \_GPE._E01 (GPE HV_GPE_PCI_HOTPLUG: iasl needs the
 *                   number in the name) has PCNT notify them: 1, device
 *                   check (scan the slot); 3, eject request (stop the
 *                   driver, then _EJ0 tells hv the slot is let go); and
 *                   0 on PCI0, a bus check, after a forced removal.
 *
 * No _PRT: PCI functions on hv offer MSI-X only, no INTx pin.
 */
#include "pc_layout.h"

DefinitionBlock ("dsdt.aml", "DSDT", 2, "HVHVHV", "HVMACHIN", 1)
{
    Name (\_S5, Package () { HV_SLP_TYP_S5, HV_SLP_TYP_S5, 0, 0 })

    Scope (\_GPE)
    {
        Method (_E01, 0, NotSerialized) { \_SB.PCI0.PCNT () }
    }

    Scope (\_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A08"))
            Name (_CID, EisaId ("PNP0A03"))
            Name (_UID, 0)
            Name (_SEG, 0)
            Name (_BBN, 0)
            Name (_CRS, ResourceTemplate ()
            {
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                    0x0000, 0x0000, 0x0000, 0x0000, 0x0001)
                IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                    0x00000000, HV_PCI_MMIO_BASE, HV_PCI_MMIO_LIMIT,
                    0x00000000, HV_PCI_MMIO_SIZE)
            })

            OperationRegion (PHPR, SystemIO, HV_PCI_HOTPLUG_PORT, HV_PCI_HOTPLUG_LEN)
            Field (PHPR, DWordAcc, NoLock, WriteAsZeros)
            {
                PCIU, 32, // UP: slots to check (reading clears)
                PCID, 32, // DOWN: slots the host asks to let go
                B0EJ, 32, // EJECT: slots let go
                PCGO, 32, // GONE: slots emptied by the host (reading clears)
            }
            Method (PCEJ, 1, NotSerialized) { B0EJ = (One << Arg0) }

            Device (S01) { Name (_ADR, 0x010000) Name (_SUN, 1) Method (_EJ0, 1) { PCEJ (1) } }
            Device (S02) { Name (_ADR, 0x020000) Name (_SUN, 2) Method (_EJ0, 1) { PCEJ (2) } }
            Device (S03) { Name (_ADR, 0x030000) Name (_SUN, 3) Method (_EJ0, 1) { PCEJ (3) } }
            Device (S04) { Name (_ADR, 0x040000) Name (_SUN, 4) Method (_EJ0, 1) { PCEJ (4) } }
            Device (S05) { Name (_ADR, 0x050000) Name (_SUN, 5) Method (_EJ0, 1) { PCEJ (5) } }
            Device (S06) { Name (_ADR, 0x060000) Name (_SUN, 6) Method (_EJ0, 1) { PCEJ (6) } }
            Device (S07) { Name (_ADR, 0x070000) Name (_SUN, 7) Method (_EJ0, 1) { PCEJ (7) } }
            Device (S08) { Name (_ADR, 0x080000) Name (_SUN, 8) Method (_EJ0, 1) { PCEJ (8) } }
            Device (S09) { Name (_ADR, 0x090000) Name (_SUN, 9) Method (_EJ0, 1) { PCEJ (9) } }
            Device (S0A) { Name (_ADR, 0x0A0000) Name (_SUN, 10) Method (_EJ0, 1) { PCEJ (10) } }
            Device (S0B) { Name (_ADR, 0x0B0000) Name (_SUN, 11) Method (_EJ0, 1) { PCEJ (11) } }
            Device (S0C) { Name (_ADR, 0x0C0000) Name (_SUN, 12) Method (_EJ0, 1) { PCEJ (12) } }
            Device (S0D) { Name (_ADR, 0x0D0000) Name (_SUN, 13) Method (_EJ0, 1) { PCEJ (13) } }
            Device (S0E) { Name (_ADR, 0x0E0000) Name (_SUN, 14) Method (_EJ0, 1) { PCEJ (14) } }
            Device (S0F) { Name (_ADR, 0x0F0000) Name (_SUN, 15) Method (_EJ0, 1) { PCEJ (15) } }
            Device (S10) { Name (_ADR, 0x100000) Name (_SUN, 16) Method (_EJ0, 1) { PCEJ (16) } }
            Device (S11) { Name (_ADR, 0x110000) Name (_SUN, 17) Method (_EJ0, 1) { PCEJ (17) } }
            Device (S12) { Name (_ADR, 0x120000) Name (_SUN, 18) Method (_EJ0, 1) { PCEJ (18) } }
            Device (S13) { Name (_ADR, 0x130000) Name (_SUN, 19) Method (_EJ0, 1) { PCEJ (19) } }
            Device (S14) { Name (_ADR, 0x140000) Name (_SUN, 20) Method (_EJ0, 1) { PCEJ (20) } }
            Device (S15) { Name (_ADR, 0x150000) Name (_SUN, 21) Method (_EJ0, 1) { PCEJ (21) } }
            Device (S16) { Name (_ADR, 0x160000) Name (_SUN, 22) Method (_EJ0, 1) { PCEJ (22) } }
            Device (S17) { Name (_ADR, 0x170000) Name (_SUN, 23) Method (_EJ0, 1) { PCEJ (23) } }
            Device (S18) { Name (_ADR, 0x180000) Name (_SUN, 24) Method (_EJ0, 1) { PCEJ (24) } }
            Device (S19) { Name (_ADR, 0x190000) Name (_SUN, 25) Method (_EJ0, 1) { PCEJ (25) } }
            Device (S1A) { Name (_ADR, 0x1A0000) Name (_SUN, 26) Method (_EJ0, 1) { PCEJ (26) } }
            Device (S1B) { Name (_ADR, 0x1B0000) Name (_SUN, 27) Method (_EJ0, 1) { PCEJ (27) } }
            Device (S1C) { Name (_ADR, 0x1C0000) Name (_SUN, 28) Method (_EJ0, 1) { PCEJ (28) } }
            Device (S1D) { Name (_ADR, 0x1D0000) Name (_SUN, 29) Method (_EJ0, 1) { PCEJ (29) } }
            Device (S1E) { Name (_ADR, 0x1E0000) Name (_SUN, 30) Method (_EJ0, 1) { PCEJ (30) } }
            Device (S1F) { Name (_ADR, 0x1F0000) Name (_SUN, 31) Method (_EJ0, 1) { PCEJ (31) } }

            Method (PCNT, 0, Serialized)
            {
                // A bus check: acpiphp drops the devices no longer there
                // (and adds any new ones) on every slot.
                If (PCGO) { Notify (PCI0, 0) }
                Local0 = PCIU
                Local1 = PCID
                If (Local0 & 0x00000002) { Notify (S01, 1) } If (Local1 & 0x00000002) { Notify (S01, 3) }
                If (Local0 & 0x00000004) { Notify (S02, 1) } If (Local1 & 0x00000004) { Notify (S02, 3) }
                If (Local0 & 0x00000008) { Notify (S03, 1) } If (Local1 & 0x00000008) { Notify (S03, 3) }
                If (Local0 & 0x00000010) { Notify (S04, 1) } If (Local1 & 0x00000010) { Notify (S04, 3) }
                If (Local0 & 0x00000020) { Notify (S05, 1) } If (Local1 & 0x00000020) { Notify (S05, 3) }
                If (Local0 & 0x00000040) { Notify (S06, 1) } If (Local1 & 0x00000040) { Notify (S06, 3) }
                If (Local0 & 0x00000080) { Notify (S07, 1) } If (Local1 & 0x00000080) { Notify (S07, 3) }
                If (Local0 & 0x00000100) { Notify (S08, 1) } If (Local1 & 0x00000100) { Notify (S08, 3) }
                If (Local0 & 0x00000200) { Notify (S09, 1) } If (Local1 & 0x00000200) { Notify (S09, 3) }
                If (Local0 & 0x00000400) { Notify (S0A, 1) } If (Local1 & 0x00000400) { Notify (S0A, 3) }
                If (Local0 & 0x00000800) { Notify (S0B, 1) } If (Local1 & 0x00000800) { Notify (S0B, 3) }
                If (Local0 & 0x00001000) { Notify (S0C, 1) } If (Local1 & 0x00001000) { Notify (S0C, 3) }
                If (Local0 & 0x00002000) { Notify (S0D, 1) } If (Local1 & 0x00002000) { Notify (S0D, 3) }
                If (Local0 & 0x00004000) { Notify (S0E, 1) } If (Local1 & 0x00004000) { Notify (S0E, 3) }
                If (Local0 & 0x00008000) { Notify (S0F, 1) } If (Local1 & 0x00008000) { Notify (S0F, 3) }
                If (Local0 & 0x00010000) { Notify (S10, 1) } If (Local1 & 0x00010000) { Notify (S10, 3) }
                If (Local0 & 0x00020000) { Notify (S11, 1) } If (Local1 & 0x00020000) { Notify (S11, 3) }
                If (Local0 & 0x00040000) { Notify (S12, 1) } If (Local1 & 0x00040000) { Notify (S12, 3) }
                If (Local0 & 0x00080000) { Notify (S13, 1) } If (Local1 & 0x00080000) { Notify (S13, 3) }
                If (Local0 & 0x00100000) { Notify (S14, 1) } If (Local1 & 0x00100000) { Notify (S14, 3) }
                If (Local0 & 0x00200000) { Notify (S15, 1) } If (Local1 & 0x00200000) { Notify (S15, 3) }
                If (Local0 & 0x00400000) { Notify (S16, 1) } If (Local1 & 0x00400000) { Notify (S16, 3) }
                If (Local0 & 0x00800000) { Notify (S17, 1) } If (Local1 & 0x00800000) { Notify (S17, 3) }
                If (Local0 & 0x01000000) { Notify (S18, 1) } If (Local1 & 0x01000000) { Notify (S18, 3) }
                If (Local0 & 0x02000000) { Notify (S19, 1) } If (Local1 & 0x02000000) { Notify (S19, 3) }
                If (Local0 & 0x04000000) { Notify (S1A, 1) } If (Local1 & 0x04000000) { Notify (S1A, 3) }
                If (Local0 & 0x08000000) { Notify (S1B, 1) } If (Local1 & 0x08000000) { Notify (S1B, 3) }
                If (Local0 & 0x10000000) { Notify (S1C, 1) } If (Local1 & 0x10000000) { Notify (S1C, 3) }
                If (Local0 & 0x20000000) { Notify (S1D, 1) } If (Local1 & 0x20000000) { Notify (S1D, 3) }
                If (Local0 & 0x40000000) { Notify (S1E, 1) } If (Local1 & 0x40000000) { Notify (S1E, 3) }
                If (Local0 & 0x80000000) { Notify (S1F, 1) } If (Local1 & 0x80000000) { Notify (S1F, 3) }
            }
        }

        Device (MRES)
        {
            Name (_HID, EisaId ("PNP0C02"))
            Name (_UID, 1)
            Name (_CRS, ResourceTemplate ()
            {
                Memory32Fixed (ReadOnly, HV_PCI_ECAM_BASE, HV_PCI_ECAM_SIZE)
            })
        }

        Device (PEVT)
        {
            Name (_HID, "QEMU0001")
            Name (_STA, 0x0F)
            Name (_CRS, ResourceTemplate ()
            {
                IO (Decode16, HV_PVPANIC_PORT, HV_PVPANIC_PORT, 0x01, 0x01)
            })
        }
    }
}
