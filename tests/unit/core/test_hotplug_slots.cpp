// core::pci::HotplugSlots: what hv's ACPI PCI hotplug registers mean. UP
// announces plugged (or force-removed) slots once; DOWN holds the host's
// eject requests until the slot is gone; GONE announces forced removals
// once; the guest's EJECT write counts only for slots the host made
// removable (never the bridge, never the PV console), whether or not the
// host asked.
#include <catch2/catch.hpp>

#include "core/pci/hotplug_slots.hpp"

using hv::core::pci::HotplugSlots;

TEST_CASE("hotplug slots: a plug is announced in UP once; boot devices are not", "[core][hotplug]") {
    HotplugSlots s;
    CHECK_FALSE(s.plug(1, true, false)); // at boot: the guest scans by itself
    CHECK(s.read(HotplugSlots::kUp) == 0u);
    CHECK(s.plug(3, true));
    CHECK(s.read(HotplugSlots::kUp) == (1u << 3));
    CHECK(s.read(HotplugSlots::kUp) == 0u); // reading cleared it
    CHECK(s.read(HotplugSlots::kDown) == 0u);
    CHECK(s.read(HotplugSlots::kEject) == 0u); // write-only: reads 0
    CHECK(s.read(2) == 0u);                    // not a register
}

TEST_CASE("hotplug slots: an eject request stays in DOWN until the slot is gone", "[core][hotplug]") {
    HotplugSlots s;
    s.plug(2, true, false);
    s.plug(4, false, false); // the console: not removable
    CHECK(s.request_eject(2));
    CHECK_FALSE(s.request_eject(4));
    CHECK_FALSE(s.request_eject(5)); // empty
    CHECK_FALSE(s.request_eject(0)); // the bridge
    CHECK_FALSE(s.request_eject(32));
    CHECK(s.eject_requested(2));
    CHECK(s.read(HotplugSlots::kDown) == (1u << 2));
    CHECK(s.read(HotplugSlots::kDown) == (1u << 2)); // reading does not clear it
    CHECK_FALSE(s.removed(2, false));                // the guest ejected it: nothing to tell
    CHECK(s.read(HotplugSlots::kDown) == 0u);
    CHECK_FALSE(s.eject_requested(2));
    CHECK(s.read(HotplugSlots::kUp) == 0u);
}

TEST_CASE("hotplug slots: the guest's eject counts for removable slots only", "[core][hotplug]") {
    HotplugSlots s;
    s.plug(1, true, false);
    s.plug(2, false, false);
    s.plug(3, true, false);
    CHECK(s.request_eject(3));
    // Asked (3) or not (1): a removable device is the guest's to give up;
    // the console (2), the bridge (0) and empty slots are not.
    CHECK(s.write(HotplugSlots::kEject, 0xffffffffu) == ((1u << 1) | (1u << 3)));
    CHECK(s.write(HotplugSlots::kUp, 0xffffffffu) == 0u); // read-only registers
    CHECK(s.write(HotplugSlots::kDown, 0xffffffffu) == 0u);
    CHECK(s.read(HotplugSlots::kDown) == (1u << 3)); // still asked until removed()
    s.removed(1, false);
    s.removed(3, false);
    CHECK(s.write(HotplugSlots::kEject, 0xffffffffu) == 0u); // gone: nothing more to remove
}

TEST_CASE("hotplug slots: a forced removal is announced in GONE, once", "[core][hotplug]") {
    HotplugSlots s;
    s.plug(6, true, false);
    CHECK(s.request_eject(6));
    CHECK(s.removed(6, true));
    CHECK(s.read(HotplugSlots::kGone) == (1u << 6));
    CHECK(s.read(HotplugSlots::kGone) == 0u); // reading cleared it
    CHECK(s.read(HotplugSlots::kUp) == 0u);
    CHECK(s.read(HotplugSlots::kDown) == 0u);
    CHECK(s.write(HotplugSlots::kEject, 1u << 6) == 0u); // a belated _EJ0 removes nothing
    // Until the guest has read of a removal, the slot is not to be filled
    // again; a device removed before the guest saw its plug voids that.
    CHECK(s.removed(6, true));
    CHECK(s.unannounced_removals() == (1u << 6));
    CHECK(s.read(HotplugSlots::kGone) == (1u << 6));
    CHECK(s.unannounced_removals() == 0u);
    CHECK(s.plug(6, true));
    CHECK_FALSE(s.eject_requested(6));
    CHECK(s.removed(6, true));
    CHECK(s.read(HotplugSlots::kUp) == 0u);
    CHECK(s.read(HotplugSlots::kGone) == (1u << 6));
    CHECK_FALSE(s.plug(0, true)); // the bridge's slot is never plugged
}
