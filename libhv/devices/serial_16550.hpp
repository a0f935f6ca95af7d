// Serial16550: the PC's COM1 UART, enough of it for a guest's console
// driver (Linux 8250, early printk, our test guests). Transmit is
// immediate (LSR always says the holding register is empty); receive reads
// the console's input queue. On a PC machine it drives ISA IRQ 4 through
// `irq` (received data, transmitter empty) as a 16550 does; on hv's PV
// machine there is no interrupt controller and guests poll.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

#include "devices/console.hpp"
#include "devices/io_device.hpp"

namespace hv::dev {

class Serial16550 final : public IoDevice {
public:
    static constexpr uint16_t kCom1Base = 0x3f8;
    static constexpr uint16_t kPorts = 8;
    static constexpr uint32_t kCom1Irq = 4;
    // Sets the interrupt line's level; called only when it changes, with
    // the UART's lock held (it must not call back into the UART).
    using IrqLine = std::function<void(bool level)>;

    explicit Serial16550(Console& console) : console_(console) {}

    // Before the guest runs.
    void connect_irq(IrqLine irq) { irq_ = std::move(irq); }
    // The console has new input: raise the receive interrupt if enabled.
    void input_arrived();

    uint8_t read(uint16_t offset) override;
    void write(uint16_t offset, uint8_t value) override;

private:
    bool dlab() const { return (lcr_ & 0x80) != 0; }
    // Which interrupt the IIR reports now (0x01: none).
    uint8_t pending_locked() const;
    void update_irq_locked();

    Console& console_;
    IrqLine irq_;
    std::mutex mu_; // every vCPU thread may touch the UART
    uint8_t ier_ = 0, lcr_ = 0x03, mcr_ = 0x08, scr_ = 0, fcr_ = 0;
    uint8_t dll_ = 0x0c, dlm_ = 0; // 9600 baud, as after a BIOS
    // The transmitter-empty interrupt: set when the holding register
    // empties (at once, after each write) or THRE is enabled; cleared by
    // a THR write or by reading the IIR that reports it.
    bool thre_pending_ = false;
    bool line_ = false;
};

} // namespace hv::dev
