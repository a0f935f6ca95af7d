// IoBus: routes port I/O exits to the device that owns the port range.
// Ports nobody owns read as all ones and swallow writes, as on a PC.
#pragma once

#include <cstdint>
#include <vector>

#include "devices/io_device.hpp"
#include "hv/result.hpp"

namespace hv::dev {

class IoBus {
public:
    // The bus does not own the device; ranges may not overlap.
    Result<void> attach(uint16_t base, uint16_t length, IoDevice* device);

    // An access of 1, 2 or 4 bytes (little endian). One that lies inside a
    // device's range reaches it whole (IoDevice::read_access); one that
    // straddles ranges is split into bytes. Returns false when no device
    // owns any of its ports.
    bool read(uint16_t port, uint8_t* data, uint8_t size);
    bool write(uint16_t port, const uint8_t* data, uint8_t size);

private:
    struct Range {
        uint16_t base;
        uint16_t length;
        IoDevice* device;
    };
    const Range* find(uint16_t port) const;
    const Range* find_whole(uint16_t port, uint8_t size) const;
    std::vector<Range> ranges_;
};

} // namespace hv::dev
