// CmosRtc: the PC's MC146818 real-time clock and CMOS memory (ports
// 0x70/0x71). Linux reads the wall-clock time here at boot (without it,
// boot is 3-4 s slower on this machine's nested KVM) and the FADT points
// its century byte at register 0x32. The time is the host's UTC clock,
// read on each access; the update-in-progress bit never shows. Writes to
// the time registers are ignored (a guest's `hwclock -w` does not move
// the host's clock); the rest of CMOS is plain memory. No alarm or
// periodic interrupt (IRQ 8) yet.
#pragma once

#include <cstdint>
#include <mutex>

#include "devices/io_device.hpp"

namespace hv::dev {

class CmosRtc final : public IoDevice {
public:
    static constexpr uint16_t kBase = 0x70;
    static constexpr uint16_t kPorts = 2;
    static constexpr uint8_t kCenturyRegister = 0x32;

    CmosRtc();

    uint8_t read(uint16_t offset) override;
    void write(uint16_t offset, uint8_t value) override;

private:
    uint8_t read_register(uint8_t index) const;

    std::mutex mu_;
    uint8_t index_ = 0;
    uint8_t mem_[128] = {};
};

} // namespace hv::dev
