// IoDevice: a device on the port-I/O bus. One device per file, behind this
// small interface (Firecracker's BusDevice in spirit).
#pragma once

#include <cstdint>

namespace hv::dev {

class IoDevice {
public:
    virtual ~IoDevice() = default;
    // One byte; `offset` is relative to the device's base port.
    virtual uint8_t read(uint16_t offset) = 0;
    virtual void write(uint16_t offset, uint8_t value) = 0;
    // A whole access of `size` bytes (1, 2 or 4, little endian) that lies
    // inside the device's range. Byte by byte unless the device's
    // registers are wider than a byte (the PCI configuration address
    // register at 0xcf8 is a dword; a byte at 0xcf9 is the reset register).
    virtual void read_access(uint16_t offset, uint8_t* data, uint8_t size) {
        for (uint8_t i = 0; i < size; ++i) data[i] = read(static_cast<uint16_t>(offset + i));
    }
    virtual void write_access(uint16_t offset, const uint8_t* data, uint8_t size) {
        for (uint8_t i = 0; i < size; ++i) write(static_cast<uint16_t>(offset + i), data[i]);
    }
};

} // namespace hv::dev
