#include "core/acpi/acpi_tables.hpp"

#include "core/memory_map.hpp"

namespace hv::core::acpi {

namespace {

constexpr uint32_t kHeaderLen = 36;
constexpr uint32_t kFadtLen = 276; // revision 6
constexpr uint8_t kGasSystemIo = 1;

// Little-endian writes into the caller's buffer; a write past `cap` sets
// `overflow` and is dropped, so one check at the end covers every table.
struct Writer {
    uint8_t* buf;
    uint32_t cap;
    bool overflow = false;

    void put(uint32_t off, uint64_t v, uint32_t n) {
        if (off > cap || n > cap - off) {
            overflow = true;
            return;
        }
        for (uint32_t i = 0; i < n; ++i) buf[off + i] = static_cast<uint8_t>(v >> (8 * i));
    }
    void u8(uint32_t off, uint8_t v) { put(off, v, 1); }
    void u16(uint32_t off, uint16_t v) { put(off, v, 2); }
    void u32(uint32_t off, uint32_t v) { put(off, v, 4); }
    void u64(uint32_t off, uint64_t v) { put(off, v, 8); }
    void bytes(uint32_t off, const char* s, uint32_t n) {
        for (uint32_t i = 0; i < n; ++i) u8(off + i, static_cast<uint8_t>(s[i]));
    }
    void zero(uint32_t off, uint32_t n) {
        for (uint32_t i = 0; i < n; ++i) u8(off + i, 0);
    }
    // The standard description header; the checksum is set by seal().
    void header(uint32_t off, const char* sig, uint32_t len, uint8_t rev) {
        zero(off, len);
        bytes(off, sig, 4);
        u32(off + 4, len);
        u8(off + 8, rev);
        bytes(off + 10, "HVHVHV", 6);
        bytes(off + 16, "HVMACHIN", 8);
        u32(off + 24, 1);
        bytes(off + 28, "HV  ", 4);
        u32(off + 32, 1);
    }
    void seal(uint32_t off, uint32_t len, uint32_t sum_at) {
        if (overflow || off > cap || len > cap - off) return;
        buf[sum_at] = 0;
        buf[sum_at] = static_cast<uint8_t>(0x100 - checksum(buf + off, len));
    }
    // A Generic Address Structure for an I/O port block.
    void gas_io(uint32_t off, uint16_t port, uint8_t bits, uint8_t access) {
        u8(off, kGasSystemIo);
        u8(off + 1, bits);
        u8(off + 2, 0);
        u8(off + 3, access);
        u64(off + 4, port);
    }
};

constexpr uint32_t align16(uint32_t v) { return (v + 15u) & ~15u; }

// The DSDT: core/acpi/dsdt.asl, compiled by iasl at build time (a complete
// table, header and checksum included).
#include "dsdt.hex"

uint32_t write_dsdt(Writer& w, uint32_t off) {
    const uint32_t len = sizeof dsdt_aml_code;
    for (uint32_t i = 0; i < len; ++i) w.u8(off + i, dsdt_aml_code[i]);
    return len;
}

// MCFG: where the ECAM of PCI segment 0 is (PCI Firmware 3.2, 4.1.2).
constexpr uint32_t kMcfgLen = kHeaderLen + 8 + 16;

uint32_t write_mcfg(Writer& w, uint32_t off) {
    w.header(off, "MCFG", kMcfgLen, 1);
    const uint32_t e = off + kHeaderLen + 8;
    w.u64(e, kPciEcamBase);
    w.u16(e + 8, 0);                                               // segment
    w.u8(e + 10, 0);                                               // first bus
    w.u8(e + 11, static_cast<uint8_t>(kPciEcamSize / (1u << 20) - 1)); // last bus: 1 MiB each
    w.seal(off, kMcfgLen, off + 9);
    return kMcfgLen;
}

// FACS (no checksum): required with a FADT that is not hardware-reduced;
// ACPICA would otherwise see a global lock with no FACS to hold it.
constexpr uint32_t kFacsLen = 64;

void write_facs(Writer& w, uint32_t off) {
    w.zero(off, kFacsLen);
    w.bytes(off, "FACS", 4);
    w.u32(off + 4, kFacsLen);
    w.u8(off + 32, 2); // version
}

uint32_t write_fadt(Writer& w, uint32_t off, uint64_t dsdt_gpa, uint64_t facs_gpa) {
    w.header(off, "FACP", kFadtLen, 6);
    w.u32(off + 36, static_cast<uint32_t>(facs_gpa)); // FIRMWARE_CTRL
    w.u32(off + 40, static_cast<uint32_t>(dsdt_gpa));
    w.u16(off + 46, kSciIrq);
    // SMI_CMD (48) stays 0: no SMM, always in ACPI mode.
    w.u32(off + 56, kPm1EvtPort);
    w.u32(off + 64, kPm1CntPort);
    w.u32(off + 80, kGpe0Port);
    w.u8(off + 88, 4); // PM1_EVT_LEN
    w.u8(off + 89, 2); // PM1_CNT_LEN
    w.u8(off + 92, kGpe0Ports); // GPE0_BLK_LEN: status half, enable half
    w.u16(off + 96, 101);  // P_LVL2_LAT > 100: no C2
    w.u16(off + 98, 1001); // P_LVL3_LAT > 1000: no C3
    w.u8(off + 108, 0x32); // CENTURY: CMOS register 0x32
    // IAPC_BOOT_ARCH: legacy ISA devices (the 16550, the RTC), no 8042
    // (Linux then skips the PS/2 probe), no VGA.
    w.u16(off + 109, 0x0001 | 0x0004);
    // Flags: WBINVD, PROC_C1, SLP_BUTTON (none), FIX_RTC (no RTC wake
    // status in PM1), RESET_REG_SUP. PWR_BUTTON clear: the power button is
    // fixed hardware (PM1 PWRBTN_STS).
    w.u32(off + 112, (1u << 0) | (1u << 2) | (1u << 5) | (1u << 6) | (1u << 10));
    w.gas_io(off + 116, kResetPort, 8, 1);
    w.u8(off + 128, kResetValue);
    w.u64(off + 140, dsdt_gpa); // X_DSDT
    w.gas_io(off + 148, kPm1EvtPort, 32, 2);
    w.gas_io(off + 172, kPm1CntPort, 16, 2);
    w.gas_io(off + 220, kGpe0Port, 8 * kGpe0Ports, 1); // X_GPE0_BLK
    w.bytes(off + 268, "HVHVHVHV", 8); // hypervisor vendor identity
    w.seal(off, kFadtLen, off + 9);
    return kFadtLen;
}

uint32_t write_madt(Writer& w, uint32_t off, uint32_t nr_cpus) {
    const uint32_t len = 44 + 8 * nr_cpus + 12 + 10 + 6;
    w.header(off, "APIC", len, 5);
    w.u32(off + 36, static_cast<uint32_t>(kLapicBase));
    w.u32(off + 40, 1); // PCAT_COMPAT: there are 8259s to mask
    uint32_t p = off + 44;
    for (uint32_t i = 0; i < nr_cpus; ++i, p += 8) {
        w.u8(p, 0); // processor local APIC
        w.u8(p + 1, 8);
        w.u8(p + 2, static_cast<uint8_t>(i)); // ACPI processor UID
        w.u8(p + 3, static_cast<uint8_t>(i)); // APIC id (as CPUID says)
        w.u32(p + 4, 1);                      // enabled
    }
    w.u8(p, 1); // I/O APIC
    w.u8(p + 1, 12);
    w.u8(p + 2, 0); // its id: KVM's in-kernel IOAPIC answers as 0
    w.u32(p + 4, static_cast<uint32_t>(kIoApicBase));
    w.u32(p + 8, 0); // GSI base
    p += 12;
    // ISA IRQs are GSIs of the same number (KVM's default routing: the
    // PIT's IRQ 0 reaches IOAPIC pin 0, so there is no 0 -> 2 override as
    // on QEMU's boards); the SCI is level-triggered, active high.
    const struct { uint8_t irq; uint32_t gsi; uint16_t flags; } overrides[1] = {{kSciIrq, kSciIrq, 0x000d}};
    for (const auto& o : overrides) {
        w.u8(p, 2);
        w.u8(p + 1, 10);
        w.u8(p + 2, 0); // ISA bus
        w.u8(p + 3, o.irq);
        w.u32(p + 4, o.gsi);
        w.u16(p + 8, o.flags);
        p += 10;
    }
    w.u8(p, 4); // local APIC NMI: LINT1 of every processor
    w.u8(p + 1, 6);
    w.u8(p + 2, 0xff);
    w.u16(p + 3, 0);
    w.u8(p + 5, 1);
    w.seal(off, len, off + 9);
    return len;
}

} // namespace

uint8_t checksum(const uint8_t* p, uint32_t len) {
    uint8_t s = 0;
    for (uint32_t i = 0; i < len; ++i) s = static_cast<uint8_t>(s + p[i]);
    return s;
}

Built build_tables(const MachineDescription& m, uint8_t* buf, uint32_t cap, uint64_t base_gpa) {
    if (buf == nullptr || m.nr_cpus == 0 || m.nr_cpus > 255 || (base_gpa & 63) != 0 || base_gpa >= (1ull << 32) - cap)
        return {};
    Writer w{buf, cap};
    const uint32_t rsdp = 0;
    const uint32_t xsdt = 48;
    const uint32_t xsdt_len = kHeaderLen + 8 * 3;
    const uint32_t facs = 128; // 64-byte aligned (base_gpa is checked to be too)
    const uint32_t fadt = align16(facs + kFacsLen);
    const uint32_t dsdt = align16(fadt + kFadtLen);
    const uint32_t madt = align16(dsdt + write_dsdt(w, dsdt));
    const uint32_t mcfg = align16(madt + write_madt(w, madt, m.nr_cpus));
    const uint32_t end = mcfg + write_mcfg(w, mcfg);
    write_facs(w, facs);
    write_fadt(w, fadt, base_gpa + dsdt, base_gpa + facs);

    w.header(xsdt, "XSDT", xsdt_len, 1);
    w.u64(xsdt + kHeaderLen, base_gpa + fadt);
    w.u64(xsdt + kHeaderLen + 8, base_gpa + madt);
    w.u64(xsdt + kHeaderLen + 16, base_gpa + mcfg);
    w.seal(xsdt, xsdt_len, xsdt + 9);

    // RSDP (ACPI 2.0+, 36 bytes): the first 20 bytes have their own checksum.
    w.zero(rsdp, 36);
    w.bytes(rsdp, "RSD PTR ", 8);
    w.bytes(rsdp + 9, "HVHVHV", 6);
    w.u8(rsdp + 15, 2);
    w.u32(rsdp + 20, 36);
    w.u64(rsdp + 24, base_gpa + xsdt);
    w.seal(rsdp, 20, rsdp + 8);
    w.seal(rsdp, 36, rsdp + 32);
    if (w.overflow) return {};
    return Built{base_gpa + rsdp, end};
}

} // namespace hv::core::acpi
