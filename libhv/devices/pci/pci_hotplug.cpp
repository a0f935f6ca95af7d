#include "devices/pci/pci_hotplug.hpp"

#include <cstring>

#include "core/le_bytes.hpp"

namespace hv::dev {

void PciHotplug::plug(uint32_t slot, bool removable, bool announce) {
    bool raise = false;
    {
        std::lock_guard lock(mu_);
        raise = slots_.plug(slot, removable, announce);
    }
    if (raise && raise_) raise_();
}

bool PciHotplug::request_eject(uint32_t slot) {
    bool asked = false;
    {
        std::lock_guard lock(mu_);
        asked = slots_.request_eject(slot);
    }
    if (asked && raise_) raise_();
    return asked;
}

void PciHotplug::removed(uint32_t slot, bool tell_guest) {
    bool raise = false;
    {
        std::lock_guard lock(mu_);
        raise = slots_.removed(slot, tell_guest);
    }
    if (raise && raise_) raise_();
}

bool PciHotplug::eject_requested(uint32_t slot) {
    std::lock_guard lock(mu_);
    return slots_.eject_requested(slot);
}

uint32_t PciHotplug::unannounced_removals() {
    std::lock_guard lock(mu_);
    return slots_.unannounced_removals();
}

void PciHotplug::read_access(uint16_t offset, uint8_t* data, uint8_t size) {
    if (size != 4 || offset % 4 != 0) {
        std::memset(data, 0xff, size);
        return;
    }
    std::lock_guard lock(mu_);
    core::store_le(data, slots_.read(offset), 4);
}

void PciHotplug::write_access(uint16_t offset, const uint8_t* data, uint8_t size) {
    if (size != 4 || offset % 4 != 0) return;
    uint32_t let_go = 0;
    {
        std::lock_guard lock(mu_);
        let_go = slots_.write(offset, static_cast<uint32_t>(core::load_le(data, 4)));
    }
    // Outside the lock: removing a device takes time and calls back here.
    if (let_go != 0 && ejected_) ejected_(let_go);
}

} // namespace hv::dev
