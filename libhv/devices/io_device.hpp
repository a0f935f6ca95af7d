// IoDevice: a device on the port-I/O bus. One device per file, behind this
// small interface (Firecracker's BusDevice in spirit).
#pragma once

#include <cstdint>

namespace hv::dev {

class IoDevice {
public:
    virtual ~IoDevice() = default;
    // `offset` is relative to the device's base port.
    virtual uint8_t read(uint16_t offset) = 0;
    virtual void write(uint16_t offset, uint8_t value) = 0;
};

} // namespace hv::dev
