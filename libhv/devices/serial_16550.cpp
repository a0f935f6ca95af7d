#include "devices/serial_16550.hpp"

namespace hv::dev {

namespace {
// Register offsets (DLAB=0 unless noted).
constexpr uint16_t kData = 0; // THR/RBR, DLL with DLAB
constexpr uint16_t kIer = 1;  // DLM with DLAB
constexpr uint16_t kIirFcr = 2;
constexpr uint16_t kLcr = 3;
constexpr uint16_t kMcr = 4;
constexpr uint16_t kLsr = 5;
constexpr uint16_t kMsr = 6;
constexpr uint16_t kScr = 7;

constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr uint8_t kLsrIdle = 0x40;
constexpr uint8_t kMcrLoop = 0x10;
} // namespace

uint8_t Serial16550::read(uint16_t offset) {
    std::lock_guard lock(mu_);
    switch (offset) {
    case kData: {
        if (dlab()) return dll_;
        uint8_t b = 0;
        console_.read_input(&b, 1);
        return b;
    }
    case kIer: return dlab() ? dlm_ : ier_;
    case kIirFcr: return (fcr_ & 1) != 0 ? 0xc1 : 0x01; // no interrupt pending; FIFOs on if enabled
    case kLcr: return lcr_;
    case kMcr: return mcr_;
    case kLsr: return static_cast<uint8_t>(kLsrThrEmpty | kLsrIdle | (console_.has_input() ? kLsrDataReady : 0));
    case kMsr:
        // In loopback the modem inputs mirror the outputs, wired as on a
        // real 16550: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD (Linux's and
        // Xen's UART probes check exactly this).
        if ((mcr_ & kMcrLoop) != 0)
            return static_cast<uint8_t>(((mcr_ & 0x02) << 3) | ((mcr_ & 0x01) << 5) | ((mcr_ & 0x04) << 4) | ((mcr_ & 0x08) << 4));
        return 0xb0; // DCD, DSR, CTS
    case kScr: return scr_;
    default: return 0xff;
    }
}

void Serial16550::write(uint16_t offset, uint8_t value) {
    std::lock_guard lock(mu_);
    switch (offset) {
    case kData:
        if (dlab()) dll_ = value;
        else if ((mcr_ & kMcrLoop) == 0) console_.write(&value, 1);
        break;
    case kIer:
        if (dlab()) dlm_ = value;
        else ier_ = value & 0x0f;
        break;
    case kIirFcr: fcr_ = value; break;
    case kLcr: lcr_ = value; break;
    case kMcr: mcr_ = value & 0x1f; break;
    case kScr: scr_ = value; break;
    default: break; // LSR and MSR are read-only
    }
}

} // namespace hv::dev
