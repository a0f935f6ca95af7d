#include "core/pci/hotplug_slots.hpp"

namespace hv::core::pci {

namespace {
constexpr uint32_t kBridgeSlot = 1u << 0; // never a hotplug slot
bool valid(uint32_t slot) { return slot > 0 && slot < 32; }
} // namespace

bool HotplugSlots::plug(uint32_t slot, bool removable, bool announce) {
    if (!valid(slot)) return false;
    const uint32_t bit = 1u << slot;
    down_ &= ~bit;
    if (removable) removable_ |= bit;
    else removable_ &= ~bit;
    if (!announce) return false;
    up_ |= bit;
    return true;
}

bool HotplugSlots::request_eject(uint32_t slot) {
    if (!valid(slot) || (removable_ & (1u << slot)) == 0) return false;
    down_ |= 1u << slot;
    return true;
}

bool HotplugSlots::removed(uint32_t slot, bool tell_guest) {
    if (!valid(slot)) return false;
    const uint32_t bit = 1u << slot;
    down_ &= ~bit;
    removable_ &= ~bit;
    if (!tell_guest) return false;
    up_ &= ~bit; // a plug not yet seen is void
    gone_ |= bit;
    return true;
}

uint32_t HotplugSlots::read(uint32_t offset) {
    if (offset == kUp) {
        const uint32_t v = up_;
        up_ = 0;
        return v;
    }
    if (offset == kDown) return down_;
    if (offset == kGone) {
        const uint32_t v = gone_;
        gone_ = 0;
        return v;
    }
    return 0;
}

uint32_t HotplugSlots::write(uint32_t offset, uint32_t value) {
    if (offset != kEject) return 0;
    // A guest may eject a removable device the host did not ask for (a
    // user's echo 0 > /sys/bus/pci/slots/N/power): it is the guest's to
    // give up, as on QEMU. Anything else is not the guest's to remove.
    return value & removable_ & ~kBridgeSlot;
}

} // namespace hv::core::pci
