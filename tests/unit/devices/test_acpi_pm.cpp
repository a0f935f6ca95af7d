// AcpiPm: the PM1a event block (the power button's status and enable bits
// and the SCI they drive), the PM1a control block (SCI_EN always set;
// SLP_EN with \_S5's SLP_TYP asks for poweroff, other sleep types do
// nothing) and the 0xcf9 reset register (bit 2 asks for a reset), with the
// SCI level and the requests recorded in order.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "core/acpi/acpi_tables.hpp"
#include "devices/acpi_pm.hpp"

using hv::dev::AcpiPm;

namespace {

// Byte offsets in the PM1 blocks (kPm1EvtPort + offset).
constexpr uint16_t kStsLo = 0, kStsHi = 1, kEnLo = 2, kEnHi = 3, kCntLo = 4, kCntHi = 5;
constexpr uint8_t kPwrBtnHi = 0x01;  // bit 8: the high byte's bit 0
constexpr uint8_t kSlpEnHi = 0x20;   // bit 13
constexpr uint8_t slp_typ_hi(uint8_t typ) { return static_cast<uint8_t>(typ << 2); } // bits 10-12
// PM1 control's high byte: SLP_TYP `typ` with SLP_EN.
constexpr uint8_t sleep_now(uint8_t typ) { return static_cast<uint8_t>(slp_typ_hi(typ) | kSlpEnHi); }

struct Wired {
    std::vector<AcpiPm::Request> requests;
    std::vector<int> sci; // each level set, 0 or 1
    AcpiPm pm{[this](AcpiPm::Request r) { requests.push_back(r); }, [this](bool level) { sci.push_back(level ? 1 : 0); }};
    int reg(uint16_t off) { return pm.read(off); }
};

} // namespace

TEST_CASE("acpi pm: the block fits the FADT's ports", "[devices][acpi_pm]") {
    CHECK(hv::core::acpi::kPm1CntPort - hv::core::acpi::kPm1EvtPort == kCntLo);
    CHECK(hv::core::acpi::kPmPorts == 6);
}

TEST_CASE("acpi pm: a power button press with the enable bit set raises the SCI", "[devices][acpi_pm]") {
    Wired w;
    w.pm.write(kEnHi, kPwrBtnHi);
    CHECK(w.reg(kEnHi) == kPwrBtnHi);
    CHECK(w.sci.empty());
    w.pm.press_power_button();
    CHECK(w.reg(kStsHi) == kPwrBtnHi); // PWRBTN_STS
    CHECK(w.reg(kStsLo) == 0);
    CHECK(w.sci == std::vector<int>{1});
    CHECK(w.requests.empty()); // the guest decides what a press means
    // A second press while it is pending changes nothing.
    w.pm.press_power_button();
    CHECK(w.sci == std::vector<int>{1});
}

TEST_CASE("acpi pm: a press without the enable bit sets the status only", "[devices][acpi_pm]") {
    Wired w;
    w.pm.press_power_button();
    CHECK(w.reg(kStsHi) == kPwrBtnHi);
    CHECK(w.sci.empty());
    // Enabling it later, with the status still set, raises the SCI then.
    w.pm.write(kEnHi, kPwrBtnHi);
    CHECK(w.sci == std::vector<int>{1});
    // And disabling lowers it, the status staying set.
    w.pm.write(kEnHi, 0);
    CHECK(w.sci == std::vector<int>{1, 0});
    CHECK(w.reg(kStsHi) == kPwrBtnHi);
}

TEST_CASE("acpi pm: writing 1 to the status bit clears it and lowers the SCI", "[devices][acpi_pm]") {
    Wired w;
    w.pm.write(kEnHi, kPwrBtnHi);
    w.pm.press_power_button();
    REQUIRE(w.sci == std::vector<int>{1});
    // Writing 0s (or to the other byte) clears nothing.
    w.pm.write(kStsHi, 0x00);
    w.pm.write(kStsLo, 0xff);
    CHECK(w.reg(kStsHi) == kPwrBtnHi);
    CHECK(w.sci == std::vector<int>{1});
    w.pm.write(kStsHi, kPwrBtnHi);
    CHECK(w.reg(kStsHi) == 0);
    CHECK(w.sci == std::vector<int>{1, 0});
    // The next press raises it again.
    w.pm.press_power_button();
    CHECK(w.sci == std::vector<int>{1, 0, 1});
}

TEST_CASE("acpi pm: only the power button's enable bit sticks", "[devices][acpi_pm]") {
    Wired w;
    w.pm.write(kEnLo, 0xff);
    w.pm.write(kEnHi, 0xff);
    CHECK(w.reg(kEnLo) == 0);
    CHECK(w.reg(kEnHi) == kPwrBtnHi);
    CHECK(w.sci.empty());
}

TEST_CASE("acpi pm: SLP_TYP 5 with SLP_EN asks for poweroff", "[devices][acpi_pm]") {
    Wired w;
    SECTION("in one write") { w.pm.write(kCntHi, sleep_now(5)); }
    SECTION("SLP_TYP first, then SLP_EN (as ACPICA writes them)") {
        w.pm.write(kCntHi, slp_typ_hi(5));
        CHECK(w.requests.empty());
        w.pm.write(kCntHi, sleep_now(5));
    }
    REQUIRE(w.requests.size() == 1);
    CHECK(w.requests[0] == AcpiPm::Request::poweroff);
    // SLP_EN reads back as 0; SLP_TYP stays; no SCI.
    CHECK((w.reg(kCntHi) & kSlpEnHi) == 0);
    CHECK((w.reg(kCntHi) & slp_typ_hi(7)) == slp_typ_hi(5));
    CHECK(w.sci.empty());
}

TEST_CASE("acpi pm: other sleep types do nothing", "[devices][acpi_pm]") {
    Wired w;
    for (uint8_t typ = 0; typ < 8; ++typ) {
        if (typ == hv::core::acpi::kSlpTypS5) continue;
        INFO("SLP_TYP " << int{typ});
        w.pm.write(kCntHi, sleep_now(typ));
        CHECK(w.requests.empty());
    }
    // S5 without SLP_EN: nothing either.
    w.pm.write(kCntHi, slp_typ_hi(5));
    CHECK(w.requests.empty());
}

TEST_CASE("acpi pm: SCI_EN always reads as set", "[devices][acpi_pm]") {
    Wired w;
    CHECK((w.reg(kCntLo) & 0x01) == 1);
    w.pm.write(kCntLo, 0x00);
    CHECK((w.reg(kCntLo) & 0x01) == 1);
    w.pm.write(kCntLo, 0xfe);
    CHECK((w.reg(kCntLo) & 0x01) == 1);
}

TEST_CASE("acpi pm: the reset register resets on bit 2 only", "[devices][acpi_pm]") {
    Wired w;
    AcpiPm::ResetRegister reset(w.pm);
    CHECK(reset.read(0) == 0);
    reset.write(0, 0x02); // "hard reset" type, without the reset bit
    CHECK(w.requests.empty());
    reset.write(0, 0x00);
    CHECK(w.requests.empty());
    reset.write(0, 0x06); // the FADT's RESET_VALUE
    REQUIRE(w.requests.size() == 1);
    CHECK(w.requests[0] == AcpiPm::Request::reset);
    CHECK(w.sci.empty());
}

TEST_CASE("acpi pm: without handlers nothing breaks", "[devices][acpi_pm]") {
    AcpiPm pm({}, {});
    pm.write(kEnHi, kPwrBtnHi);
    pm.press_power_button();
    CHECK(pm.read(kStsHi) == kPwrBtnHi);
    pm.write(kCntHi, sleep_now(5));
    AcpiPm::ResetRegister reset(pm);
    reset.write(0, 0x06);
    CHECK(pm.read(kStsHi) == kPwrBtnHi);
}

TEST_CASE("acpi pm: a GPE raises the SCI while enabled; the guest clears its status", "[devices][acpi_pm]") {
    Wired w;
    AcpiPm::Gpe0Block gpe(w.pm);
    CHECK(hv::core::acpi::kGpe0Ports == 4); // status 2 bytes, enable 2 bytes
    w.pm.raise_gpe(hv::core::acpi::kGpePciHotplug);
    CHECK(gpe.read(0) == 1u << hv::core::acpi::kGpePciHotplug);
    CHECK(w.sci.empty()); // not enabled yet
    gpe.write(2, 1u << hv::core::acpi::kGpePciHotplug); // what ACPICA does for a GPE with an _E01 method
    CHECK(gpe.read(2) == 1u << hv::core::acpi::kGpePciHotplug);
    CHECK(w.sci == std::vector<int>{1});
    gpe.write(0, 0x01); // a bit not set: nothing changes
    CHECK(w.sci == std::vector<int>{1});
    gpe.write(0, 1u << hv::core::acpi::kGpePciHotplug); // write 1 to clear
    CHECK(gpe.read(0) == 0u);
    CHECK(w.sci == std::vector<int>{1, 0});
    // The PM1 power button and a GPE share the one SCI line.
    w.pm.write(kEnHi, kPwrBtnHi);
    w.pm.press_power_button();
    w.pm.raise_gpe(hv::core::acpi::kGpePciHotplug);
    CHECK(w.sci == std::vector<int>{1, 0, 1});
    w.pm.write(kStsHi, kPwrBtnHi);
    CHECK(w.sci == std::vector<int>{1, 0, 1}); // the GPE still holds it
    gpe.write(0, 1u << hv::core::acpi::kGpePciHotplug);
    CHECK(w.sci == std::vector<int>{1, 0, 1, 0});
    w.pm.raise_gpe(16); // no such event
    CHECK(gpe.read(0) == 0u);
    CHECK(gpe.read(1) == 0u);
}
