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
constexpr uint8_t kMcrOut2 = 0x08;

constexpr uint8_t kIerRx = 0x01;
constexpr uint8_t kIerThre = 0x02;
constexpr uint8_t kIirNone = 0x01;
constexpr uint8_t kIirThre = 0x02;
constexpr uint8_t kIirRx = 0x04;
} // namespace

uint8_t Serial16550::pending_locked() const {
    if ((ier_ & kIerRx) != 0 && console_.has_input()) return kIirRx;
    if ((ier_ & kIerThre) != 0 && thre_pending_) return kIirThre;
    return kIirNone;
}

void Serial16550::update_irq_locked() {
    // On a PC, OUT2 gates the UART's interrupt onto the ISA line.
    const bool level = pending_locked() != kIirNone && (mcr_ & kMcrOut2) != 0;
    if (level == line_) return;
    line_ = level;
    if (irq_) irq_(level);
}

void Serial16550::input_arrived() {
    std::lock_guard lock(mu_);
    update_irq_locked();
}

uint8_t Serial16550::read(uint16_t offset) {
    std::lock_guard lock(mu_);
    switch (offset) {
    case kData: {
        if (dlab()) return dll_;
        uint8_t b = 0;
        console_.read_input(&b, 1);
        update_irq_locked();
        return b;
    }
    case kIer: return dlab() ? dlm_ : ier_;
    case kIirFcr: {
        const uint8_t iir = pending_locked();
        if (iir == kIirThre) { // reading the IIR that reports it acknowledges it
            thre_pending_ = false;
            update_irq_locked();
        }
        return static_cast<uint8_t>(iir | ((fcr_ & 1) != 0 ? 0xc0 : 0)); // FIFOs on if enabled
    }
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
        if (dlab()) {
            dll_ = value;
            break;
        }
        if ((mcr_ & kMcrLoop) == 0) console_.write(&value, 1);
        // Sent at once: the holding register is empty again, which is a
        // new transmitter-empty interrupt (an edge on the line).
        thre_pending_ = false;
        update_irq_locked();
        thre_pending_ = true;
        break;
    case kIer:
        if (dlab()) {
            dlm_ = value;
            break;
        }
        // Enabling THRE while the register is empty interrupts at once.
        if ((value & kIerThre) != 0 && (ier_ & kIerThre) == 0) thre_pending_ = true;
        ier_ = value & 0x0f;
        break;
    case kIirFcr: fcr_ = value; break;
    case kLcr: lcr_ = value; break;
    case kMcr: mcr_ = value & 0x1f; break;
    case kScr: scr_ = value; break;
    default: break; // LSR and MSR are read-only
    }
    update_irq_locked();
}

} // namespace hv::dev
