// PciHotplug: hv's ACPI PCI hotplug controller on the port bus (at
// core::acpi::kPciHotplugPort): the core's HotplugSlots (what the
// registers mean, which ejects count) behind a lock, its GPE raised
// through `raise`, and the slots the guest lets go handed to `ejected`
// (on the vCPU thread that wrote _EJ0's register).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

#include "core/pci/hotplug_slots.hpp"
#include "devices/io_device.hpp"

namespace hv::dev {

class PciHotplug final : public IoDevice {
public:
    static constexpr uint16_t kPorts = core::pci::HotplugSlots::kRegisterBytes;

    PciHotplug(std::function<void()> raise, std::function<void(uint32_t slots)> ejected)
        : raise_(std::move(raise)), ejected_(std::move(ejected)) {}

    // HotplugSlots' host side, each raising the GPE when the guest must look.
    void plug(uint32_t slot, bool removable, bool announce);
    bool request_eject(uint32_t slot);
    void removed(uint32_t slot, bool tell_guest);
    bool eject_requested(uint32_t slot);
    uint32_t unannounced_removals();

    // Registers are dwords (the DSDT's Field is DWordAcc); other accesses
    // read all ones and are dropped.
    uint8_t read(uint16_t) override { return 0xff; }
    void write(uint16_t, uint8_t) override {}
    void read_access(uint16_t offset, uint8_t* data, uint8_t size) override;
    void write_access(uint16_t offset, const uint8_t* data, uint8_t size) override;

private:
    std::function<void()> raise_;
    std::function<void(uint32_t)> ejected_;
    std::mutex mu_;
    core::pci::HotplugSlots slots_;
};

} // namespace hv::dev
