#include "devices/io_bus.hpp"

#include <fmt/format.h>

namespace hv::dev {

Result<void> IoBus::attach(uint16_t base, uint16_t length, IoDevice* device) {
    if (length == 0 || uint32_t{base} + length > 0x10000u)
        return make_error(Errc::invalid_argument, fmt::format("I/O range {:#x}+{} is empty or past port 0xffff", base, length));
    for (const Range& r : ranges_)
        if (base < r.base + r.length && r.base < base + length)
            return make_error(Errc::exists, fmt::format("I/O range {:#x}+{} overlaps {:#x}+{}", base, length, r.base, r.length));
    ranges_.push_back(Range{base, length, device});
    return {};
}

const IoBus::Range* IoBus::find(uint16_t port) const {
    for (const Range& r : ranges_)
        if (port >= r.base && port - r.base < r.length) return &r;
    return nullptr;
}

// An access inside one device's range reaches it whole (its registers may
// be wider than a byte). Otherwise each byte goes to whoever owns its port:
// an `outl` may straddle two devices, or run past a device's last register.
const IoBus::Range* IoBus::find_whole(uint16_t port, uint8_t size) const {
    const Range* r = find(port);
    return r != nullptr && size > 0 && port - r->base + uint32_t{size} <= r->length ? r : nullptr;
}

bool IoBus::read(uint16_t port, uint8_t* data, uint8_t size) {
    if (const Range* r = find_whole(port, size)) {
        r->device->read_access(static_cast<uint16_t>(port - r->base), data, size);
        return true;
    }
    bool claimed = false;
    for (uint32_t i = 0; i < size; ++i) {
        const uint32_t p = uint32_t{port} + i;
        const Range* r = p <= 0xffff ? find(static_cast<uint16_t>(p)) : nullptr;
        data[i] = r != nullptr ? r->device->read(static_cast<uint16_t>(p - r->base)) : 0xff;
        claimed = claimed || r != nullptr;
    }
    return claimed;
}

bool IoBus::write(uint16_t port, const uint8_t* data, uint8_t size) {
    if (const Range* r = find_whole(port, size)) {
        r->device->write_access(static_cast<uint16_t>(port - r->base), data, size);
        return true;
    }
    bool claimed = false;
    for (uint32_t i = 0; i < size; ++i) {
        const uint32_t p = uint32_t{port} + i;
        const Range* r = p <= 0xffff ? find(static_cast<uint16_t>(p)) : nullptr;
        if (r != nullptr) r->device->write(static_cast<uint16_t>(p - r->base), data[i]);
        claimed = claimed || r != nullptr;
    }
    return claimed;
}

} // namespace hv::dev
