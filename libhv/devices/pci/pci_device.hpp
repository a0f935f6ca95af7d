// PciDevice: one function on hv's PCI bus, as the host bridge
// (pci_host.hpp) reaches it: configuration space by either mechanism, and
// the memory its BARs decode.
#pragma once

#include <cstdint>

namespace hv::dev {

class PciDevice {
public:
    virtual ~PciDevice() = default;
    // 1, 2 or 4 bytes at `offset` (< 4096), naturally aligned.
    virtual uint32_t config_read(uint32_t offset, uint8_t size) = 0;
    virtual void config_write(uint32_t offset, uint32_t value, uint8_t size) = 0;
    // An MMIO access: false when none of its BARs decodes `gpa`.
    virtual bool mmio(uint64_t gpa, uint8_t* data, uint8_t size, bool write) = 0;
};

} // namespace hv::dev
