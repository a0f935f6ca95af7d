// Serial16550: the PC's COM1 UART, enough of it for a guest's console
// driver (Linux 8250, early printk, our test guests). Transmit is
// immediate (LSR always says the holding register is empty); receive reads
// the console's input queue. No interrupt line yet: the hosted platform
// has no interrupt controller model, so guests poll (docs/architecture.md).
#pragma once

#include <cstdint>
#include <mutex>

#include "devices/console.hpp"
#include "devices/io_device.hpp"

namespace hv::dev {

class Serial16550 final : public IoDevice {
public:
    static constexpr uint16_t kCom1Base = 0x3f8;
    static constexpr uint16_t kPorts = 8;

    explicit Serial16550(Console& console) : console_(console) {}

    uint8_t read(uint16_t offset) override;
    void write(uint16_t offset, uint8_t value) override;

private:
    bool dlab() const { return (lcr_ & 0x80) != 0; }

    Console& console_;
    std::mutex mu_; // every vCPU thread may touch the UART
    uint8_t ier_ = 0, lcr_ = 0x03, mcr_ = 0x08, scr_ = 0, fcr_ = 0;
    uint8_t dll_ = 0x0c, dlm_ = 0; // 9600 baud, as after a BIOS
};

} // namespace hv::dev
