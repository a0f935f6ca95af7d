#include "devices/cmos_rtc.hpp"

#include <time.h>

namespace hv::dev {

namespace {
constexpr uint8_t kSeconds = 0x00, kMinutes = 0x02, kHours = 0x04, kWeekday = 0x06, kDay = 0x07, kMonth = 0x08,
                  kYear = 0x09, kStatusA = 0x0a, kStatusB = 0x0b, kStatusC = 0x0c, kStatusD = 0x0d;
constexpr uint8_t kStatusB24h = 0x02;
constexpr uint8_t kStatusBBinary = 0x04;
} // namespace

CmosRtc::CmosRtc() {
    mem_[kStatusA] = 0x26;       // 32.768 kHz time base, 1024 Hz rate; UIP clear
    mem_[kStatusB] = kStatusB24h; // BCD, 24-hour
    mem_[kStatusD] = 0x80;        // valid RAM and time
}

uint8_t CmosRtc::read_register(uint8_t index) const {
    const auto field = [&](int v) -> uint8_t {
        if ((mem_[kStatusB] & kStatusBBinary) != 0) return static_cast<uint8_t>(v);
        return static_cast<uint8_t>(((v / 10) << 4) | (v % 10));
    };
    switch (index) {
    case kSeconds: case kMinutes: case kHours: case kWeekday: case kDay: case kMonth: case kYear:
    case CmosRtc::kCenturyRegister: {
        const time_t now = ::time(nullptr);
        struct tm t{};
        ::gmtime_r(&now, &t);
        switch (index) {
        case kSeconds: return field(t.tm_sec);
        case kMinutes: return field(t.tm_min);
        case kHours: return field(t.tm_hour); // 24-hour mode only
        case kWeekday: return field(t.tm_wday + 1);
        case kDay: return field(t.tm_mday);
        case kMonth: return field(t.tm_mon + 1);
        case kYear: return field(t.tm_year % 100);
        default: return field((t.tm_year + 1900) / 100);
        }
    }
    case kStatusC: return 0; // no interrupt flags
    default: return mem_[index];
    }
}

uint8_t CmosRtc::read(uint16_t offset) {
    std::lock_guard lock(mu_);
    if (offset == 0) return 0xff; // the index port is write-only
    return read_register(index_);
}

void CmosRtc::write(uint16_t offset, uint8_t value) {
    std::lock_guard lock(mu_);
    if (offset == 0) {
        index_ = value & 0x7f; // bit 7 is the NMI mask
        return;
    }
    switch (index_) {
    case kSeconds: case kMinutes: case kHours: case kWeekday: case kDay: case kMonth: case kYear:
    case kCenturyRegister: case kStatusC: case kStatusD: return; // the clock follows the host's
    case kStatusA: mem_[kStatusA] = value & 0x7f; return;         // UIP is read-only
    case kStatusB: mem_[kStatusB] = static_cast<uint8_t>(value | kStatusB24h); return; // 12-hour mode is not offered
    default: mem_[index_] = value;
    }
}

} // namespace hv::dev
