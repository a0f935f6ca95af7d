// PciHost: hv's PCI host bridge, segment 0, bus 0 (what the DSDT's PCI0 and
// the MCFG describe). Configuration space is reached two ways, as on a PC:
//
//  - ports 0xcf8 (address, dword accesses only) and 0xcfc-0xcff (data):
//    PCI Local Bus 3.0 section 3.2.2.3.2 "configuration mechanism #1";
//    a byte at 0xcf9 is the PC's reset register, handed on;
//  - ECAM at kPciEcamBase: bus 0's 32 devices x 8 functions x 4 KiB.
//
// Slot 0 is the bridge itself; devices take the lowest free slot of 1..31
// (so at create they are in the order added, which the guest enumerates:
// config order for disks). Function 0 only. Devices come and go while the
// guest runs (hotplug, devices/pci/pci_hotplug.hpp): remove() returns once
// no vCPU is inside the device, and none reaches it after.
#pragma once

#include <cstdint>
#include <array>
#include <mutex>
#include <shared_mutex>

#include "core/pci/config_space.hpp"
#include "devices/io_device.hpp"
#include "devices/pci/pci_device.hpp"
#include "hv/result.hpp"

namespace hv::dev {

class PciHost final : public IoDevice {
public:
    static constexpr uint16_t kPortBase = 0xcf8;
    static constexpr uint16_t kPorts = 8;
    static constexpr uint32_t kSlots = 32;

    // `reset` takes byte accesses to port 0xcf9 (may be null: none).
    explicit PciHost(IoDevice* reset);

    // The lowest free slot for `device` (not owned), or an error when bus 0 is full.
    Result<uint32_t> add(PciDevice* device);
    // The lowest free slot not in `avoid` (a bit per slot), or an error
    // when there is none.
    Result<uint32_t> free_slot(uint32_t avoid = 0);
    // `device` (not owned) into `slot` (1..31, free).
    Result<void> add_at(uint32_t slot, PciDevice* device);
    // `slot` is empty from now on; waits for accesses to its device to end.
    void remove(uint32_t slot);

    // An MMIO exit: ECAM or a device's BAR. false when nobody decodes it.
    bool mmio(uint64_t gpa, uint8_t* data, uint8_t size, bool write);

    // IoDevice: bytes (0xcf9, data-port bytes) and whole accesses.
    uint8_t read(uint16_t offset) override;
    void write(uint16_t offset, uint8_t value) override;
    void read_access(uint16_t offset, uint8_t* data, uint8_t size) override;
    void write_access(uint16_t offset, const uint8_t* data, uint8_t size) override;

private:
    // Config access to slot `dev` of bus 0 (others: all ones, dropped).
    uint32_t config_read(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t offset, uint8_t size);
    void config_write(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t offset, uint32_t value, uint8_t size);

    IoDevice* reset_;
    // Configuration accesses, add and remove hold mu_ (the address latch,
    // the bridge's own config space); BAR accesses only share devices_mu_,
    // which add and remove also take alone, so vCPUs reach different
    // devices' BARs at once.
    std::mutex mu_;
    uint32_t address_ = 0;
    core::pci::ConfigSpace bridge_;
    std::shared_mutex devices_mu_;
    std::array<PciDevice*, kSlots> devices_{}; // by slot; [0], the bridge, stays null
};

} // namespace hv::dev
