// CmosRtc: the index/data port pair, the clock registers in BCD or binary
// (status B bit 2) and sane whatever the host's time, the status registers
// (A without UIP, B always 24-hour, C clear, D "valid"), the century byte
// the FADT names, time registers that ignore writes, the rest of CMOS as
// plain memory, and the NMI-mask bit 7 of the index port.
#include <catch2/catch.hpp>

#include <cstdint>

#include "devices/cmos_rtc.hpp"

using hv::dev::CmosRtc;

namespace {

constexpr uint16_t kIndex = 0, kData = 1;
constexpr uint8_t kSeconds = 0x00, kMinutes = 0x02, kHours = 0x04, kWeekday = 0x06, kDay = 0x07, kMonth = 0x08,
                  kYear = 0x09, kStatusA = 0x0a, kStatusB = 0x0b, kStatusC = 0x0c, kStatusD = 0x0d, kCentury = 0x32;

int get(CmosRtc& rtc, uint8_t index) {
    rtc.write(kIndex, index);
    return rtc.read(kData);
}

void set(CmosRtc& rtc, uint8_t index, uint8_t value) {
    rtc.write(kIndex, index);
    rtc.write(kData, value);
}

bool is_bcd(int v) { return (v & 0x0f) <= 9 && (v >> 4) <= 9; }
int from_bcd(int v) { return (v >> 4) * 10 + (v & 0x0f); }

// Every clock field in range, read in the current mode.
void check_clock(CmosRtc& rtc, bool bcd) {
    const struct {
        uint8_t index;
        int lo, hi;
    } fields[] = {{kSeconds, 0, 59}, {kMinutes, 0, 59}, {kHours, 0, 23}, {kWeekday, 1, 7},
                  {kDay, 1, 31},     {kMonth, 1, 12},   {kYear, 0, 99},  {kCentury, 20, 99}};
    for (const auto& f : fields) {
        INFO("register " << int{f.index} << (bcd ? " (BCD)" : " (binary)"));
        int v = get(rtc, f.index);
        if (bcd) {
            CHECK(is_bcd(v));
            v = from_bcd(v);
        }
        CHECK(v >= f.lo);
        CHECK(v <= f.hi);
    }
}

} // namespace

TEST_CASE("cmos: the clock reads in BCD by default, sane in every field", "[devices][cmos]") {
    CmosRtc rtc;
    CHECK((get(rtc, kStatusB) & 0x04) == 0); // BCD
    CHECK((get(rtc, kStatusB) & 0x02) != 0); // 24-hour
    check_clock(rtc, true);
    // The century of a 21st-century host: 0x20 in BCD.
    CHECK(get(rtc, kCentury) == 0x20);
}

TEST_CASE("cmos: status B bit 2 switches the clock to binary and back", "[devices][cmos]") {
    CmosRtc rtc;
    set(rtc, kStatusB, 0x02 | 0x04);
    CHECK(get(rtc, kStatusB) == 0x06);
    check_clock(rtc, false);
    CHECK(get(rtc, kCentury) == 20);
    // The same value in both modes (the month hardly ever changes between
    // two reads; either side of a change is accepted).
    set(rtc, kStatusB, 0x02);
    const int bcd_before = get(rtc, kMonth);
    set(rtc, kStatusB, 0x06);
    const int binary = get(rtc, kMonth);
    set(rtc, kStatusB, 0x02);
    const int bcd_after = get(rtc, kMonth);
    CHECK((binary == from_bcd(bcd_before) || binary == from_bcd(bcd_after)));
}

TEST_CASE("cmos: status registers", "[devices][cmos]") {
    CmosRtc rtc;
    CHECK(get(rtc, kStatusA) == 0x26);      // 32.768 kHz, 1024 Hz, no update in progress
    CHECK((get(rtc, kStatusA) & 0x80) == 0); // UIP never shows
    set(rtc, kStatusA, 0xff);
    CHECK(get(rtc, kStatusA) == 0x7f); // UIP is read-only
    set(rtc, kStatusB, 0x00);
    CHECK(get(rtc, kStatusB) == 0x02); // 12-hour mode is not offered
    CHECK(get(rtc, kStatusC) == 0);
    set(rtc, kStatusC, 0xff);
    CHECK(get(rtc, kStatusC) == 0);
    CHECK(get(rtc, kStatusD) == 0x80); // valid RAM and time
    set(rtc, kStatusD, 0x00);
    CHECK(get(rtc, kStatusD) == 0x80);
}

TEST_CASE("cmos: writes to the time registers are ignored", "[devices][cmos]") {
    CmosRtc rtc;
    for (uint8_t index : {kSeconds, kMinutes, kHours, kWeekday, kDay, kMonth, kYear, kCentury}) {
        set(rtc, index, 0x99);
        INFO("register " << int{index});
        CHECK(get(rtc, index) != 0x99); // 99 is out of range for every one of them now
    }
    set(rtc, kCentury, 0x19);
    CHECK(get(rtc, kCentury) == 0x20);
    check_clock(rtc, true);
}

TEST_CASE("cmos: plain CMOS bytes keep what is written", "[devices][cmos]") {
    CmosRtc rtc;
    CHECK(get(rtc, 0x40) == 0); // starts zeroed
    set(rtc, 0x40, 0x5a);
    set(rtc, 0x41, 0xa5);
    set(rtc, 0x7f, 0x11);
    set(rtc, 0x0e, 0x22); // the first byte past the clock's registers
    CHECK(get(rtc, 0x40) == 0x5a);
    CHECK(get(rtc, 0x41) == 0xa5);
    CHECK(get(rtc, 0x7f) == 0x11);
    CHECK(get(rtc, 0x0e) == 0x22);
    // Reading the data port again reads the same register.
    rtc.write(kIndex, 0x40);
    CHECK(rtc.read(kData) == 0x5a);
    CHECK(rtc.read(kData) == 0x5a);
}

TEST_CASE("cmos: the index port masks bit 7 (NMI) and is write-only", "[devices][cmos]") {
    CmosRtc rtc;
    set(rtc, 0x40, 0x77);
    CHECK(get(rtc, 0x80 | 0x40) == 0x77); // NMI-disable bit set: still register 0x40
    set(rtc, 0xc1, 0x33);                 // lands in 0x41
    CHECK(get(rtc, 0x41) == 0x33);
    CHECK(get(rtc, 0x80 | kStatusD) == 0x80);
    CHECK(rtc.read(kIndex) == 0xff);
}

TEST_CASE("cmos: the device's ports", "[devices][cmos]") {
    CHECK(CmosRtc::kBase == 0x70);
    CHECK(CmosRtc::kPorts == 2);
    CHECK(CmosRtc::kCenturyRegister == 0x32);
}
