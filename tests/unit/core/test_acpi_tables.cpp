// core::acpi::build_tables: the tables are parsed back here independently
// of the writer (own offsets from the ACPI 6.x spec, own checksum):
// RSDP -> XSDT -> FADT (-> DSDT) and MADT, every checksum, the fixed
// hardware the FADT describes, the MADT's processors, IOAPIC, SCI override
// and NMI, the DSDT's \_S5_ package; buffers too small, bad CPU counts and
// bad base addresses are refused without writing past the buffer. With
// iasl (Debian's acpica-tools) installed, each table also disassembles.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/acpi/acpi_tables.hpp"
#include "core/pci/hotplug_slots.hpp"
#include "core/memory_map.hpp"

namespace acpi = hv::core::acpi;

namespace {

constexpr uint64_t kBase = 0xe0000; // where hv's monitor puts them
constexpr uint8_t kPoison = 0xa5;

// A spec-side checksum, not acpi::checksum().
uint32_t byte_sum(const std::vector<uint8_t>& b, size_t off, size_t len) {
    uint32_t s = 0;
    for (size_t i = 0; i < len; ++i) s += b.at(off + i);
    return s & 0xff;
}

template <class T>
T rd(const std::vector<uint8_t>& b, size_t off) {
    REQUIRE(off + sizeof(T) <= b.size());
    T v;
    std::memcpy(&v, b.data() + off, sizeof v);
    return v;
}

std::string str(const std::vector<uint8_t>& b, size_t off, size_t n) {
    REQUIRE(off + n <= b.size());
    return std::string(b.begin() + static_cast<long>(off), b.begin() + static_cast<long>(off + n));
}

struct Table {
    size_t off = 0; // in the buffer
    uint32_t len = 0;
};

// The tables of one machine, built into a poisoned 8 KiB buffer.
struct Built {
    std::vector<uint8_t> buf = std::vector<uint8_t>(8192, kPoison);
    acpi::Built built;

    explicit Built(uint32_t nr_cpus) {
        acpi::MachineDescription m;
        m.nr_cpus = nr_cpus;
        built = acpi::build_tables(m, buf.data(), static_cast<uint32_t>(buf.size()), kBase);
    }

    // The table at `gpa`: inside what was written, signature `sig`, a
    // length covering its header, a checksum summing to 0.
    Table table(uint64_t gpa, const char* sig) const {
        INFO("table " << sig << " at gpa " << gpa);
        REQUIRE(gpa >= kBase);
        const size_t off = gpa - kBase;
        REQUIRE(off + 36 <= built.bytes);
        CHECK(str(buf, off, 4) == sig);
        const auto len = rd<uint32_t>(buf, off + 4);
        REQUIRE(len >= 36);
        REQUIRE(off + len <= built.bytes);
        CHECK(byte_sum(buf, off, len) == 0u);
        CHECK(str(buf, off + 10, 6) == "HVHVHV"); // OEM ID
        return {off, len};
    }

    // The XSDT's entries, by signature of the table each points at.
    std::vector<uint64_t> xsdt_entries() const {
        const auto xsdt_gpa = rd<uint64_t>(buf, 24);
        const Table x = table(xsdt_gpa, "XSDT");
        REQUIRE((x.len - 36) % 8 == 0);
        std::vector<uint64_t> out;
        for (size_t p = x.off + 36; p < x.off + x.len; p += 8) out.push_back(rd<uint64_t>(buf, p));
        return out;
    }

    uint64_t find(const char* sig) const {
        for (uint64_t gpa : xsdt_entries())
            if (gpa >= kBase && gpa - kBase + 4 <= buf.size() && str(buf, gpa - kBase, 4) == sig) return gpa;
        FAIL("no " << sig << " in the XSDT");
        return 0;
    }
};

// A Generic Address Structure for a system I/O port.
void check_gas_io(const std::vector<uint8_t>& b, size_t off, uint64_t port) {
    CHECK(int{b[off]} == 1); // System I/O
    CHECK(int{b[off + 1]} > 0); // register bit width
    CHECK(rd<uint64_t>(b, off + 4) == port);
}

// The MADT's entries, walked by their own lengths.
struct MadtEntry {
    uint8_t type;
    size_t off;
    uint8_t len;
};

std::vector<MadtEntry> madt_entries(const std::vector<uint8_t>& b, const Table& t) {
    std::vector<MadtEntry> out;
    size_t p = t.off + 44;
    while (p < t.off + t.len) {
        REQUIRE(p + 2 <= t.off + t.len);
        const uint8_t len = b[p + 1];
        REQUIRE(len >= 2);
        REQUIRE(p + len <= t.off + t.len);
        out.push_back({b[p], p, len});
        p += len;
    }
    CHECK(p == t.off + t.len);
    return out;
}

} // namespace

namespace {
// The DSDT's AML after its header, found through the FADT's X_DSDT.
std::vector<uint8_t> dsdt_body(const Built& t) {
    const Table f = t.table(t.find("FACP"), "FACP");
    const Table d = t.table(rd<uint64_t>(t.buf, f.off + 140), "DSDT");
    return {t.buf.begin() + static_cast<long>(d.off + 36), t.buf.begin() + static_cast<long>(d.off + d.len)};
}
} // namespace

TEST_CASE("acpi: the RSDP has its signature, revision 2 and both checksums", "[core][acpi]") {
    const Built t(1);
    REQUIRE(t.built.rsdp_gpa == kBase); // first in the buffer
    REQUIRE(t.built.bytes > 36);
    REQUIRE(t.built.bytes <= t.buf.size());
    CHECK(str(t.buf, 0, 8) == "RSD PTR ");
    CHECK(byte_sum(t.buf, 0, 20) == 0u); // the ACPI 1.0 part
    CHECK(int{t.buf[15]} == 2);          // revision: XSDT present
    CHECK(rd<uint32_t>(t.buf, 20) == 36u);
    CHECK(byte_sum(t.buf, 0, 36) == 0u); // the extended checksum
    CHECK(str(t.buf, 9, 6) == "HVHVHV");
    const auto xsdt = rd<uint64_t>(t.buf, 24);
    CHECK(xsdt % 4 == 0);
    CHECK(xsdt > kBase);
    CHECK(xsdt < kBase + t.built.bytes);
    // Nothing written past what build_tables says it used.
    for (size_t i = t.built.bytes; i < t.buf.size(); ++i) REQUIRE(int{t.buf[i]} == kPoison);
}

TEST_CASE("acpi: the XSDT points at the FADT, the MADT and the MCFG, all checksums sum to 0", "[core][acpi]") {
    const Built t(2);
    REQUIRE(t.built.rsdp_gpa != 0u);
    const auto entries = t.xsdt_entries();
    REQUIRE(entries.size() == 3);
    std::vector<std::string> sigs;
    for (uint64_t gpa : entries) {
        REQUIRE(gpa >= kBase);
        REQUIRE(gpa - kBase + 4 <= t.built.bytes);
        sigs.push_back(str(t.buf, gpa - kBase, 4));
    }
    std::sort(sigs.begin(), sigs.end());
    CHECK(sigs == std::vector<std::string>{"APIC", "FACP", "MCFG"});
    // Each table checks out (table() verifies length and checksum).
    t.table(t.find("FACP"), "FACP");
    t.table(t.find("APIC"), "APIC");
    t.table(t.find("MCFG"), "MCFG");
    const Table fadt = t.table(t.find("FACP"), "FACP");
    t.table(rd<uint64_t>(t.buf, fadt.off + 140), "DSDT");
}

TEST_CASE("acpi: the FADT describes hv's fixed hardware", "[core][acpi]") {
    const Built t(1);
    const Table f = t.table(t.find("FACP"), "FACP");
    const auto& b = t.buf;
    CHECK(f.len == 276u); // revision 6
    CHECK(int{b[f.off + 8]} == 6);
    // DSDT and X_DSDT both name the DSDT.
    const uint32_t dsdt32 = rd<uint32_t>(b, f.off + 40);
    const uint64_t dsdt64 = rd<uint64_t>(b, f.off + 140);
    CHECK(dsdt32 == dsdt64);
    t.table(dsdt64, "DSDT");
    // SCI_INT, no SMI command port (always in ACPI mode).
    CHECK(rd<uint16_t>(b, f.off + 46) == 9u);
    CHECK(rd<uint16_t>(b, f.off + 46) == acpi::kSciIrq);
    CHECK(rd<uint32_t>(b, f.off + 48) == 0u);
    // PM1a event and control blocks, in the 32-bit and GAS fields.
    CHECK(rd<uint32_t>(b, f.off + 56) == acpi::kPm1EvtPort);
    CHECK(rd<uint32_t>(b, f.off + 64) == acpi::kPm1CntPort);
    CHECK(int{b[f.off + 88]} == 4); // PM1_EVT_LEN
    CHECK(int{b[f.off + 89]} == 2); // PM1_CNT_LEN
    check_gas_io(b, f.off + 148, acpi::kPm1EvtPort); // X_PM1a_EVT_BLK
    check_gas_io(b, f.off + 172, acpi::kPm1CntPort); // X_PM1a_CNT_BLK
    // The GPE0 block (PCI hotplug's event), in the 32-bit and GAS fields.
    CHECK(rd<uint32_t>(b, f.off + 80) == acpi::kGpe0Port);
    CHECK(int{b[f.off + 92]} == acpi::kGpe0Ports);
    CHECK(int{b[f.off + 220]} == 1); // system I/O
    CHECK(int{b[f.off + 221]} == 8 * acpi::kGpe0Ports);
    CHECK(rd<uint64_t>(b, f.off + 224) == acpi::kGpe0Port);
    // No PM1b blocks.
    CHECK(rd<uint32_t>(b, f.off + 60) == 0u);
    CHECK(rd<uint32_t>(b, f.off + 68) == 0u);
    // The reset register: port 0xcf9, value 6, and RESET_REG_SUP set.
    CHECK(int{b[f.off + 116]} == 1);
    CHECK(int{b[f.off + 117]} == 8);
    CHECK(rd<uint64_t>(b, f.off + 120) == 0xcf9u);
    CHECK(int{b[f.off + 128]} == 6);
    const auto flags = rd<uint32_t>(b, f.off + 112);
    CHECK((flags & (1u << 10)) != 0); // RESET_REG_SUP
    CHECK((flags & (1u << 4)) == 0);  // PWR_BUTTON clear: a fixed-hardware power button
    // The RTC's century byte.
    CHECK(int{b[f.off + 108]} == 0x32);
}

TEST_CASE("acpi: a FADT that is not hardware-reduced points at a FACS", "[core][acpi]") {
    const Built t(1);
    const Table f = t.table(t.find("FACP"), "FACP");
    const auto& b = t.buf;
    REQUIRE((rd<uint32_t>(b, f.off + 112) & (1u << 20)) == 0); // HW_REDUCED_ACPI clear: PM1 blocks, so a FACS
    const uint64_t facs32 = rd<uint32_t>(b, f.off + 36);   // FIRMWARE_CTRL
    const uint64_t facs64 = rd<uint64_t>(b, f.off + 132);  // X_FIRMWARE_CTRL
    const uint64_t facs = facs64 != 0 ? facs64 : facs32;
    REQUIRE(facs != 0);
    if (facs32 != 0 && facs64 != 0) CHECK(facs32 == facs64);
    CHECK(facs % 64 == 0); // the spec's alignment
    REQUIRE(facs >= kBase);
    const size_t off = facs - kBase;
    REQUIRE(off + 64 <= t.built.bytes);
    CHECK(str(b, off, 4) == "FACS");
    CHECK(rd<uint32_t>(b, off + 4) >= 64u);
    CHECK(rd<uint32_t>(b, off + 12) == 0u); // Firmware Waking Vector: none
}

TEST_CASE("acpi: the MADT has one enabled local APIC per vCPU, the IOAPIC and the SCI override",
          "[core][acpi]") {
    for (uint32_t n : {1u, 2u, 4u, 64u, 255u}) {
        INFO(n << " vCPUs");
        const Built t(n);
        REQUIRE(t.built.rsdp_gpa == kBase);
        const Table m = t.table(t.find("APIC"), "APIC");
        const auto& b = t.buf;
        CHECK(rd<uint32_t>(b, m.off + 36) == 0xfee00000u); // local APIC address
        CHECK((rd<uint32_t>(b, m.off + 40) & 1u) == 1u);   // PCAT_COMPAT
        std::vector<uint32_t> apic_ids;
        uint32_t ioapics = 0, overrides = 0, nmis = 0;
        for (const auto& e : madt_entries(b, m)) {
            switch (e.type) {
            case 0: // processor local APIC
                REQUIRE(int{e.len} == 8);
                CHECK(int{b[e.off + 2]} == int{b[e.off + 3]}); // UID == APIC id
                CHECK((rd<uint32_t>(b, e.off + 4) & 1u) == 1u); // enabled
                apic_ids.push_back(b[e.off + 3]);
                break;
            case 1: // I/O APIC
                REQUIRE(int{e.len} == 12);
                CHECK(rd<uint32_t>(b, e.off + 4) == 0xfec00000u);
                CHECK(rd<uint32_t>(b, e.off + 8) == 0u); // GSI base
                ++ioapics;
                break;
            case 2: // interrupt source override
                REQUIRE(int{e.len} == 10);
                CHECK(int{b[e.off + 2]} == 0); // ISA
                CHECK(int{b[e.off + 3]} == 9); // the SCI
                CHECK(rd<uint32_t>(b, e.off + 4) == 9u);
                CHECK(rd<uint16_t>(b, e.off + 8) == 0x000du); // level, active high
                ++overrides;
                break;
            case 4: // local APIC NMI
                REQUIRE(int{e.len} == 6);
                CHECK(int{b[e.off + 2]} == 0xff); // every processor
                CHECK(int{b[e.off + 5]} == 1);    // LINT1
                ++nmis;
                break;
            default: FAIL("unexpected MADT entry type " << int{e.type});
            }
        }
        REQUIRE(apic_ids.size() == n);
        for (uint32_t i = 0; i < n; ++i) CHECK(apic_ids[i] == i);
        CHECK(ioapics == 1u);
        CHECK(overrides == 1u);
        CHECK(nmis == 1u);
    }
}

TEST_CASE("acpi: the DSDT holds the \\_S5_ package with SLP_TYP 5", "[core][acpi]") {
    const Built t(1);
    const std::vector<uint8_t> body = dsdt_body(t);
    // NameOp "_S5_" PackageOp in the root scope (iasl drops the redundant
    // root prefix of "\_S5"): the name Linux evaluates for soft-off.
    const std::vector<uint8_t> name = {0x08, '_', 'S', '5', '_', 0x12};
    const auto it = std::search(body.begin(), body.end(), name.begin(), name.end());
    REQUIRE(it != body.end());
    // PkgLength, NumElements >= 2, then the first two elements: SLP_TYPa and
    // SLP_TYPb as BytePrefix constants equal to kSlpTypS5.
    const size_t at = static_cast<size_t>(it - body.begin()) + name.size();
    REQUIRE(at + 6 <= body.size());
    CHECK(at + size_t{body[at]} <= body.size()); // one-byte PkgLength inside the body
    CHECK(int{body[at + 1]} >= 2);
    CHECK(int{body[at + 2]} == 0x0a);
    CHECK(int{body[at + 3]} == acpi::kSlpTypS5);
    CHECK(int{body[at + 4]} == 0x0a);
    CHECK(int{body[at + 5]} == acpi::kSlpTypS5);
}

TEST_CASE("acpi: the DSDT describes the pvpanic device at its port", "[core][acpi]") {
    const Built t(1);
    const std::vector<uint8_t> body = dsdt_body(t);
    const auto has = [&](const std::vector<uint8_t>& bytes) {
        return std::search(body.begin(), body.end(), bytes.begin(), bytes.end()) != body.end();
    };
    // Scope (\_SB_), Device (PEVT), _HID "QEMU0001" as a string.
    CHECK(has({0x10}));
    CHECK(has({'_', 'S', 'B', '_'}));
    CHECK(has({0x5b, 0x82}));
    CHECK(has({0x0d, 'Q', 'E', 'M', 'U', '0', '0', '0', '1', 0x00}));
    // _CRS: an I/O port descriptor (16-bit decode) for exactly kPvPanicPort.
    const uint8_t lo = acpi::kPvPanicPort & 0xff, hi = acpi::kPvPanicPort >> 8;
    CHECK(acpi::kPvPanicPort == 0x505);
    CHECK(has({0x47, 0x01, lo, hi, lo, hi, 0x01, 0x01, 0x79, 0x00}));
}

TEST_CASE("acpi: the DSDT has the hotplug slots, their eject method and the GPE that notifies them", "[core][acpi]") {
    const Built t(1);
    const std::vector<uint8_t> body = dsdt_body(t);
    const auto has = [&](const std::vector<uint8_t>& bytes) {
        return std::search(body.begin(), body.end(), bytes.begin(), bytes.end()) != body.end();
    };
    // \_GPE._E01: the method ACPICA binds to GPE kGpePciHotplug.
    CHECK(acpi::kGpePciHotplug == 1);
    CHECK(has({'_', 'E', '0', '1', 0x00})); // a method of no arguments
    // The controller's registers: OperationRegion (PHPR, SystemIO, port, length).
    const uint8_t lo = acpi::kPciHotplugPort & 0xff, hi = acpi::kPciHotplugPort >> 8;
    CHECK(hv::core::pci::HotplugSlots::kRegisterBytes == 16);
    CHECK(has({0x5b, 0x80, 'P', 'H', 'P', 'R', 0x01, 0x0b, lo, hi, 0x0a, 0x10}));
    // PCNT's bus check after a forced removal: Notify (PCI0, Zero).
    CHECK(has({0x86, 'P', 'C', 'I', '0', 0x00}));
    // Every slot 1..31 is a device (DeviceOp, PkgLength, its name) whose
    // _ADR is slot << 16 (a DWordConst), with _SUN and _EJ0.
    for (int n = 1; n < 32; ++n) {
        const uint8_t s1 = static_cast<uint8_t>("0123456789ABCDEF"[n >> 4]), s2 = static_cast<uint8_t>("0123456789ABCDEF"[n & 15]);
        INFO("slot " << n);
        const std::vector<uint8_t> dev = {'S', s1, s2, '_', 0x08, '_', 'A', 'D', 'R', 0x0c, 0x00, 0x00, static_cast<uint8_t>(n), 0x00};
        CHECK(has(dev));
    }
    CHECK(has({'_', 'E', 'J', '0'}));
    CHECK(has({'_', 'S', 'U', 'N'}));
    CHECK(has({'P', 'C', 'N', 'T'}));
}

TEST_CASE("acpi: the PCI host bridge's window and the MCFG's ECAM are the memory map's", "[core][acpi]") {
    const Built t(1);
    const std::vector<uint8_t> body = dsdt_body(t);
    const auto has = [&](const std::vector<uint8_t>& bytes) {
        return std::search(body.begin(), body.end(), bytes.begin(), bytes.end()) != body.end();
    };
    const auto le32 = [](std::vector<uint8_t>& v, uint64_t x) {
        for (int i = 0; i < 4; ++i) v.push_back(static_cast<uint8_t>(x >> (8 * i)));
    };
    // PNP0A08 (EisaId 0x080ad041) for PCI0, PNP0C02 for the reservation.
    CHECK(has({0x0c, 0x41, 0xd0, 0x0a, 0x08}));
    CHECK(has({0x0c, 0x41, 0xd0, 0x0c, 0x02}));
    // DWordMemory: granularity 0, min, max, translation 0, length.
    std::vector<uint8_t> window = {0, 0, 0, 0};
    le32(window, hv::core::kPciMmioBase);
    le32(window, hv::core::kPciMmioBase + hv::core::kPciMmioSize - 1);
    le32(window, 0);
    le32(window, hv::core::kPciMmioSize);
    CHECK(has(window));
    // Memory32Fixed (tag 0x86, length 9, read-only) over the ECAM.
    std::vector<uint8_t> ecam = {0x86, 0x09, 0x00, 0x00};
    le32(ecam, hv::core::kPciEcamBase);
    le32(ecam, hv::core::kPciEcamSize);
    CHECK(has(ecam));

    const Table m = t.table(t.find("MCFG"), "MCFG");
    REQUIRE(m.len == 60u);
    CHECK(rd<uint64_t>(t.buf, m.off + 44) == hv::core::kPciEcamBase);
    CHECK(rd<uint16_t>(t.buf, m.off + 52) == 0u); // segment 0
    CHECK(int{t.buf[m.off + 54]} == 0);           // buses 0..0
    CHECK(int{t.buf[m.off + 55]} == 0);
}

TEST_CASE("acpi: checksum() is the byte sum mod 256", "[core][acpi]") {
    const uint8_t bytes[] = {0x01, 0x02, 0xff, 0x10};
    CHECK(int{acpi::checksum(bytes, 0)} == 0);
    CHECK(int{acpi::checksum(bytes, 2)} == 3);
    CHECK(int{acpi::checksum(bytes, 4)} == 0x12);
}

TEST_CASE("acpi: a buffer too small for the tables gives rsdp_gpa 0 and no write past it", "[core][acpi]") {
    const Built full(4);
    REQUIRE(full.built.rsdp_gpa == kBase);
    const uint32_t need = full.built.bytes;
    acpi::MachineDescription m;
    m.nr_cpus = 4;
    // Every size below what the tables need is refused; exactly that fits.
    for (uint32_t cap = 0; cap < need; ++cap) {
        INFO("cap " << cap);
        std::vector<uint8_t> buf(need + 64, kPoison);
        const auto r = acpi::build_tables(m, buf.data(), cap, kBase);
        REQUIRE(r.rsdp_gpa == 0u);
        for (size_t i = cap; i < buf.size(); ++i) REQUIRE(int{buf[i]} == kPoison);
    }
    std::vector<uint8_t> exact(need, kPoison);
    const auto r = acpi::build_tables(m, exact.data(), need, kBase);
    CHECK(r.rsdp_gpa == kBase);
    CHECK(r.bytes == need);
    CHECK(std::equal(exact.begin(), exact.end(), full.buf.begin()));
}

TEST_CASE("acpi: 0 or more than 255 CPUs, a null buffer or a bad base are refused", "[core][acpi]") {
    std::vector<uint8_t> buf(8192, kPoison);
    const auto cap = static_cast<uint32_t>(buf.size());
    acpi::MachineDescription m;
    m.nr_cpus = 0;
    CHECK(acpi::build_tables(m, buf.data(), cap, kBase).rsdp_gpa == 0u);
    m.nr_cpus = 256;
    CHECK(acpi::build_tables(m, buf.data(), cap, kBase).rsdp_gpa == 0u);
    m.nr_cpus = 0xffffffffu;
    CHECK(acpi::build_tables(m, buf.data(), cap, kBase).rsdp_gpa == 0u);
    CHECK(std::all_of(buf.begin(), buf.end(), [](uint8_t v) { return v == kPoison; }));
    m.nr_cpus = 255;
    CHECK(acpi::build_tables(m, buf.data(), cap, kBase).rsdp_gpa == kBase);

    m.nr_cpus = 1;
    CHECK(acpi::build_tables(m, nullptr, cap, kBase).rsdp_gpa == 0u);
    CHECK(acpi::build_tables(m, buf.data(), cap, kBase + 8).rsdp_gpa == 0u); // not 16-byte aligned
    CHECK(acpi::build_tables(m, buf.data(), cap, 1ull << 32).rsdp_gpa == 0u); // above 4 GiB
    CHECK(acpi::build_tables(m, buf.data(), cap, (1ull << 32) - 4096).rsdp_gpa == 0u); // would cross 4 GiB
    // Elsewhere below 4 GiB, the pointers follow the base.
    const uint64_t other = 0x7ff00000;
    const auto r = acpi::build_tables(m, buf.data(), cap, other);
    REQUIRE(r.rsdp_gpa == other);
    const auto xsdt = rd<uint64_t>(buf, 24);
    CHECK(xsdt > other);
    CHECK(xsdt < other + r.bytes);
}

namespace {

// A mkdtemp directory removed, with everything in it, at scope end.
struct ScratchDir {
    std::string path;
    ScratchDir() {
        char tmpl[] = "/tmp/hv-acpi-test-XXXXXX";
        const char* p = ::mkdtemp(tmpl);
        REQUIRE(p != nullptr);
        path = p;
    }
    ~ScratchDir() {
        const std::string cmd = "rm -rf '" + path + "'";
        if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "cannot remove %s\n", path.c_str());
    }
};

} // namespace

TEST_CASE("acpi: iasl disassembles every table behind the RSDP", "[core][acpi][iasl]") {
    if (std::system("command -v iasl >/dev/null 2>&1") != 0) {
        WARN("iasl (Debian's acpica-tools) is not installed: the disassembly check is skipped");
        return;
    }
    const Built t(4);
    REQUIRE(t.built.rsdp_gpa == kBase);
    ScratchDir dir;
    struct Named {
        const char* file;
        size_t off;
        size_t len;
    };
    const Table fadt = t.table(t.find("FACP"), "FACP");
    const Table madt = t.table(t.find("APIC"), "APIC");
    const Table xsdt = t.table(rd<uint64_t>(t.buf, 24), "XSDT");
    const Table dsdt = t.table(rd<uint64_t>(t.buf, fadt.off + 140), "DSDT");
    const Table mcfg = t.table(t.find("MCFG"), "MCFG");
    // Not the RSDP: `iasl -d` takes only tables with a standard header
    // (its file check wants a name-like signature; "RSD PTR " is not).
    const Named tables[] = {
        {"xsdt.dat", xsdt.off, xsdt.len},
        {"facp.dat", fadt.off, fadt.len},
        {"dsdt.dat", dsdt.off, dsdt.len},
        {"apic.dat", madt.off, madt.len},
        {"mcfg.dat", mcfg.off, mcfg.len},
    };
    for (const auto& n : tables) {
        INFO(n.file);
        const std::string path = dir.path + "/" + n.file;
        {
            std::ofstream out(path, std::ios::binary);
            out.write(reinterpret_cast<const char*>(t.buf.data() + n.off), static_cast<std::streamsize>(n.len));
            REQUIRE(out.good());
        }
        const std::string cmd = "cd '" + dir.path + "' && iasl -d '" + n.file + "' >iasl.log 2>&1";
        const int status = std::system(cmd.c_str());
        std::ifstream log(dir.path + "/iasl.log");
        const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
        INFO("iasl output:\n" << text);
        CHECK(status == 0);
        // It wrote the disassembly next to the table.
        const std::string dsl = dir.path + "/" + std::string(n.file).substr(0, 4) + ".dsl";
        CHECK(std::ifstream(dsl).good());
    }
}
