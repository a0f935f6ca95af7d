#include "devices/pci/pci_host.hpp"

#include <cstring>

#include <fmt/format.h>

#include "core/le_bytes.hpp"
#include "core/memory_map.hpp"

namespace hv::dev {

namespace {

constexpr uint32_t kEnable = 1u << 31;
constexpr uint16_t kResetOffset = 1; // port 0xcf9
constexpr uint16_t kDataOffset = 4;  // ports 0xcfc..0xcff

// Red Hat's PCIe host bridge ID (QEMU's "gpex"): a bridge with no registers
// of its own that every OS binds nothing to.
constexpr core::pci::Identity kBridge{0x1b36, 0x0008, 0, 0x060000, 0x1b36, 0x0008, 0};

uint32_t load(const uint8_t* d, uint8_t size) { return static_cast<uint32_t>(core::load_le(d, size)); }
void store(uint8_t* d, uint32_t v, uint8_t size) { core::store_le(d, v, size); }

} // namespace

PciHost::PciHost(IoDevice* reset) : reset_(reset), bridge_(kBridge) {}

Result<uint32_t> PciHost::free_slot(uint32_t avoid) {
    std::lock_guard lock(mu_);
    for (uint32_t slot = 1; slot < kSlots; ++slot)
        if (devices_[slot] == nullptr && (avoid & (1u << slot)) == 0) return slot;
    return make_error(Errc::invalid_argument, "PCI bus 0 is full (31 devices at most, and a slot emptied by force is free "
                                              "again once the guest has seen it)");
}

Result<uint32_t> PciHost::add(PciDevice* device) {
    auto slot = free_slot();
    if (!slot) return slot.error();
    if (auto r = add_at(*slot, device); !r) return r.error();
    return *slot;
}

Result<void> PciHost::add_at(uint32_t slot, PciDevice* device) {
    std::lock_guard lock(mu_);
    std::unique_lock devices(devices_mu_);
    if (slot == 0 || slot >= kSlots || device == nullptr) return make_error(Errc::invalid_argument, fmt::format("PCI slot {}: no such slot", slot));
    if (devices_[slot] != nullptr) return make_error(Errc::busy, fmt::format("PCI slot {} is taken", slot));
    devices_[slot] = device;
    return {};
}

void PciHost::remove(uint32_t slot) {
    std::lock_guard lock(mu_);
    std::unique_lock devices(devices_mu_);
    if (slot < kSlots) devices_[slot] = nullptr;
}

uint32_t PciHost::config_read(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t offset, uint8_t size) {
    const uint32_t none = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    if (bus != 0 || fn != 0 || dev >= kSlots) return none;
    if (dev == 0) return bridge_.read(offset, size); // under mu_
    if (devices_[dev] == nullptr) return none;
    return devices_[dev]->config_read(offset, size);
}

void PciHost::config_write(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t offset, uint32_t value, uint8_t size) {
    if (bus != 0 || fn != 0 || dev >= kSlots) return;
    if (dev == 0) {
        bridge_.write(offset, value, size);
    } else if (devices_[dev] != nullptr) {
        devices_[dev]->config_write(offset, value, size);
    }
}

bool PciHost::mmio(uint64_t gpa, uint8_t* data, uint8_t size, bool write) {
    if (gpa >= core::kPciEcamBase && gpa - core::kPciEcamBase < core::kPciEcamSize) {
        const uint64_t off = gpa - core::kPciEcamBase;
        const uint32_t reg = static_cast<uint32_t>(off & 0xfff);
        // Naturally aligned 1, 2 or 4 bytes (PCIe 5.0 7.2.2); anything else
        // reads all ones and is dropped.
        const bool aligned = (size == 1 || size == 2 || size == 4) && reg % size == 0;
        std::lock_guard lock(mu_);
        if (!write && !aligned) {
            std::memset(data, 0xff, size);
        } else if (!write) {
            store(data, config_read(0, (off >> 15) & 31, (off >> 12) & 7, reg, size), size);
        } else if (aligned) {
            config_write(0, (off >> 15) & 31, (off >> 12) & 7, reg, load(data, size), size);
        }
        return true;
    }
    std::shared_lock devices(devices_mu_);
    for (PciDevice* d : devices_)
        if (d != nullptr && d->mmio(gpa, data, size, write)) return true;
    return false;
}

uint8_t PciHost::read(uint16_t offset) {
    uint8_t b = 0xff;
    read_access(offset, &b, 1);
    return b;
}

void PciHost::write(uint16_t offset, uint8_t value) { write_access(offset, &value, 1); }

void PciHost::read_access(uint16_t offset, uint8_t* data, uint8_t size) {
    if (offset == 0 && size == 4) {
        std::lock_guard lock(mu_);
        store(data, address_, 4);
        return;
    }
    if (offset == kResetOffset && size == 1 && reset_ != nullptr) {
        data[0] = reset_->read(0);
        return;
    }
    if (offset >= kDataOffset && (offset - kDataOffset) % size == 0) {
        std::lock_guard lock(mu_);
        const uint32_t a = address_;
        if ((a & kEnable) != 0) {
            store(data, config_read((a >> 16) & 0xff, (a >> 11) & 31, (a >> 8) & 7, (a & 0xfc) + (offset - kDataOffset), size), size);
            return;
        }
    }
    std::memset(data, 0xff, size);
}

void PciHost::write_access(uint16_t offset, const uint8_t* data, uint8_t size) {
    if (offset == 0 && size == 4) {
        std::lock_guard lock(mu_);
        address_ = load(data, 4) & 0x80fffffcu; // enable, bus, device, function, dword register
        return;
    }
    if (offset == kResetOffset && size == 1 && reset_ != nullptr) {
        reset_->write(0, data[0]);
        return;
    }
    if (offset >= kDataOffset && (offset - kDataOffset) % size == 0) {
        std::lock_guard lock(mu_);
        const uint32_t a = address_;
        if ((a & kEnable) != 0)
            config_write((a >> 16) & 0xff, (a >> 11) & 31, (a >> 8) & 7, (a & 0xfc) + (offset - kDataOffset), load(data, size), size);
    }
}

} // namespace hv::dev
