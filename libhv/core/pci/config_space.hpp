// ConfigSpace: one PCI function's 256-byte configuration space (PCI Local
// Bus 3.0 chapter 6), as a device model presents it: a type-0 header, up to
// six memory BARs, and a capability list. Every byte has a write mask, so
// a driver can change only what the spec lets it change, and BAR sizing
// (write all ones, read back the size mask) falls out of the masks.
//
// The extended space (256..4095, ECAM only) reads as zeros: no extended
// capabilities. Freestanding (DESIGN.md section 3); not thread-safe.
#pragma once

#include <stdint.h>

namespace hv::core::pci {

constexpr uint32_t kConfigSize = 256;
constexpr uint32_t kBars = 6;

// Header offsets and bits used outside this file.
constexpr uint16_t kCommand = 0x04;
constexpr uint16_t kCommandMemory = 1u << 1;
constexpr uint16_t kCommandBusMaster = 1u << 2;
constexpr uint16_t kCommandIntxDisable = 1u << 10;
constexpr uint8_t kCapMsix = 0x11;
constexpr uint8_t kCapVendor = 0x09;

struct Identity {
    uint16_t vendor = 0;
    uint16_t device = 0;
    uint8_t revision = 0;
    uint32_t class_code = 0; // base class, subclass, prog-if (24 bits)
    uint16_t subsystem_vendor = 0;
    uint16_t subsystem = 0;
    uint8_t interrupt_pin = 0; // 0: none, 1..4: INTA#..INTD#
};

class ConfigSpace {
public:
    explicit ConfigSpace(const Identity& id);

    // A memory BAR of `size` bytes (a power of two, at least 16) at `gpa`
    // (aligned to its size): 64-bit BARs take slots i and i + 1. The
    // firmware's job, done by the monitor before the guest runs. false
    // for a bad slot, size or address.
    bool add_memory_bar(uint32_t i, uint64_t size, uint64_t gpa, bool is64);
    // Appends a capability: `body` is the bytes after its ID and next
    // pointer (`len` bytes), `wmask` (may be null: read-only) says which
    // bits of them the driver may write. Returns its offset, 0 when full.
    uint8_t add_capability(uint8_t id, const uint8_t* body, uint8_t len, const uint8_t* wmask);

    // Reads and writes of 1, 2 or 4 bytes at `offset` (< 4096; accesses
    // are naturally aligned by both config mechanisms).
    uint32_t read(uint32_t offset, uint8_t size) const;
    void write(uint32_t offset, uint32_t value, uint8_t size);

    // Where BAR `i` is now (0 when not a BAR), and its size.
    uint64_t bar_address(uint32_t i) const;
    uint64_t bar_size(uint32_t i) const { return i < kBars ? bar_size_[i] : 0; }
    uint16_t command() const { return static_cast<uint16_t>(read(kCommand, 2)); }
    // Direct access for the device model (its capabilities' state).
    uint8_t byte(uint32_t offset) const { return offset < kConfigSize ? bytes_[offset] : 0; }

private:
    void set(uint32_t offset, uint32_t value, uint8_t size, uint32_t wmask);

    uint8_t bytes_[kConfigSize] = {};
    uint8_t wmask_[kConfigSize] = {};
    uint64_t bar_size_[kBars] = {};
    bool bar_high_[kBars] = {}; // the upper half of a 64-bit BAR
    uint32_t next_cap_ = 0x40;  // where the next capability goes
    uint8_t last_cap_ = 0;      // the previous capability's offset (0: none yet)
};

} // namespace hv::core::pci
