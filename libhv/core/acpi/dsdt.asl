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
 *
 * No _PRT: PCI functions on hv offer MSI-X only, no INTx pin.
 */
#include "pc_layout.h"

DefinitionBlock ("dsdt.aml", "DSDT", 2, "HVHVHV", "HVMACHIN", 1)
{
    Name (\_S5, Package () { HV_SLP_TYP_S5, HV_SLP_TYP_S5, 0, 0 })

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
