// HotplugSlots: the policy of hv's ACPI PCI hotplug controller, the
// register block the DSDT's \_SB.PCI0 reads and writes (core/acpi/dsdt.asl)
// in the style of QEMU's PIIX4 "acpi-pci-hotplug" that Linux's acpiphp
// drives:
//
//   +0 UP    (read)  slots to check: a device appeared (or went away
//                    without the guest's consent); reading clears it
//   +4 DOWN  (read)  slots whose device the host asks the guest to give up
//   +8 EJECT (write) slots the guest has let go (its _EJ0)
//   +12 GONE (read)  slots whose device the host removed without the
//                    guest's consent (detach -f); reading clears it
//
// The host plugs and asks; the guest, on the GPE this raises, has the
// DSDT's PCNT notify each slot in UP (device check) and DOWN (eject
// request), and the bus for GONE (bus check); Linux then scans the slot,
// or stops the device's driver and runs _EJ0, or drops the devices it no
// longer finds (a device check would not: acpiphp's rescan of a slot only
// looks for new functions). Which ejects count is decided here: only slots the host made
// removable, so a guest cannot take away the PV console. One bit per slot
// of bus 0; slot 0 is the host bridge. Freestanding.
#pragma once

#include <stdint.h>

#include "core/pc_layout.h"

namespace hv::core::pci {

class HotplugSlots {
public:
    static constexpr uint32_t kRegisterBytes = HV_PCI_HOTPLUG_LEN; // the DSDT's OperationRegion too
    static constexpr uint32_t kUp = 0, kDown = 4, kEject = 8, kGone = 12;
    static_assert(kGone + 4 == kRegisterBytes, "four dword registers");

    // The host put a device in `slot`; `removable`: the guest may eject
    // it. True: the guest must be told (raise the GPE). For devices there
    // at boot, plug with `announce` false: the guest finds them by itself.
    bool plug(uint32_t slot, bool removable, bool announce = true);
    // The host asks the guest to let go of `slot`'s device. False (and
    // nothing asked) when the slot holds nothing removable.
    bool request_eject(uint32_t slot);
    // The device in `slot` is gone (ejected by the guest or removed by
    // force). `tell_guest`: the guest did not eject it itself, so it is
    // told (GONE: its driver then finds no device). True: raise.
    bool removed(uint32_t slot, bool tell_guest);
    // Slots emptied by force whose news the guest has not read yet: not
    // to be filled again until it has (its acpiphp would take a new
    // device there for the one it still holds).
    uint32_t unannounced_removals() const { return gone_; }
    // Whether the host's request to let go of `slot` is still open.
    bool eject_requested(uint32_t slot) const { return slot < 32 && (down_ & (1u << slot)) != 0; }

    // The guest's 4-byte register accesses (others: reads 0, writes
    // dropped). write() returns the slots the guest has let go of that
    // the host must now remove (removable ones only).
    uint32_t read(uint32_t offset);
    uint32_t write(uint32_t offset, uint32_t value);

private:
    uint32_t up_ = 0;        // to announce (reads clear)
    uint32_t down_ = 0;      // eject requested, not yet done
    uint32_t removable_ = 0; // present and the guest may eject them
    uint32_t gone_ = 0;      // removed by force, to announce (reads clear)
};

} // namespace hv::core::pci
