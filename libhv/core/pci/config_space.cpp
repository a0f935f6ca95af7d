#include "core/pci/config_space.hpp"

namespace hv::core::pci {

namespace {

constexpr uint32_t kStatus = 0x06;
constexpr uint8_t kStatusCapList = 1u << 4;
constexpr uint32_t kBar0 = 0x10;
constexpr uint32_t kCapPointer = 0x34;
constexpr uint32_t kInterruptLine = 0x3c;
constexpr uint32_t kInterruptPin = 0x3d;
constexpr uint8_t kBarMem64 = 0x4;

bool power_of_two(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

} // namespace

ConfigSpace::ConfigSpace(const Identity& id) {
    set(0x00, id.vendor, 2, 0);
    set(0x02, id.device, 2, 0);
    // Command: memory space, bus master and INTx disable are the driver's.
    set(kCommand, 0, 2, kCommandMemory | kCommandBusMaster | kCommandIntxDisable);
    set(0x08, id.revision, 1, 0);
    set(0x09, id.class_code & 0xff, 1, 0);          // prog-if
    set(0x0a, (id.class_code >> 8) & 0xffff, 2, 0); // subclass, base class
    set(0x2c, id.subsystem_vendor, 2, 0);
    set(0x2e, id.subsystem, 2, 0);
    set(kInterruptLine, 0, 1, 0xff); // scratch for the OS
    set(kInterruptPin, id.interrupt_pin, 1, 0);
}

void ConfigSpace::set(uint32_t offset, uint32_t value, uint8_t size, uint32_t wmask) {
    for (uint32_t i = 0; i < size && offset + i < kConfigSize; ++i) {
        bytes_[offset + i] = static_cast<uint8_t>(value >> (8 * i));
        wmask_[offset + i] = static_cast<uint8_t>(wmask >> (8 * i));
    }
}

bool ConfigSpace::add_memory_bar(uint32_t i, uint64_t size, uint64_t gpa, bool is64) {
    if (i >= kBars || (is64 && i + 1 >= kBars) || !power_of_two(size) || size < 16 || gpa % size != 0 ||
        bar_size_[i] != 0 || bar_high_[i] || (is64 && (bar_size_[i + 1] != 0 || bar_high_[i + 1])))
        return false;
    if (!is64 && (size > (1ull << 31) || gpa + size > (1ull << 32))) return false;
    const uint64_t mask = ~(size - 1);
    set(kBar0 + 4 * i, static_cast<uint32_t>(gpa) | (is64 ? kBarMem64 : 0), 4, static_cast<uint32_t>(mask) & ~0xfu);
    bar_size_[i] = size;
    if (is64) {
        set(kBar0 + 4 * (i + 1), static_cast<uint32_t>(gpa >> 32), 4, static_cast<uint32_t>(mask >> 32));
        bar_high_[i + 1] = true;
    }
    return true;
}

uint8_t ConfigSpace::add_capability(uint8_t id, const uint8_t* body, uint8_t len, const uint8_t* wmask) {
    const uint32_t at = next_cap_;
    const uint32_t total = (2u + len + 3u) & ~3u; // capabilities stay dword aligned
    if (at + total > kConfigSize) return 0;
    set(at, id, 1, 0);
    set(at + 1, 0, 1, 0);
    for (uint32_t i = 0; i < len; ++i) set(at + 2 + i, body[i], 1, wmask != nullptr ? wmask[i] : 0);
    if (last_cap_ == 0) {
        set(kCapPointer, at, 1, 0);
        bytes_[kStatus] |= kStatusCapList;
    } else {
        bytes_[last_cap_ + 1] = static_cast<uint8_t>(at);
    }
    last_cap_ = static_cast<uint8_t>(at);
    next_cap_ = at + total;
    return static_cast<uint8_t>(at);
}

uint32_t ConfigSpace::read(uint32_t offset, uint8_t size) const {
    uint32_t v = 0;
    for (uint32_t i = 0; i < size; ++i) v |= uint32_t{byte(offset + i)} << (8 * i);
    return v;
}

void ConfigSpace::write(uint32_t offset, uint32_t value, uint8_t size) {
    for (uint32_t i = 0; i < size; ++i) {
        const uint32_t at = offset + i;
        if (at >= kConfigSize) return;
        const uint8_t m = wmask_[at];
        bytes_[at] = static_cast<uint8_t>((bytes_[at] & ~m) | (static_cast<uint8_t>(value >> (8 * i)) & m));
    }
}

uint64_t ConfigSpace::bar_address(uint32_t i) const {
    if (i >= kBars || bar_size_[i] == 0) return 0;
    uint64_t a = read(kBar0 + 4 * i, 4) & ~0xfull;
    if ((bytes_[kBar0 + 4 * i] & kBarMem64) != 0) a |= uint64_t{read(kBar0 + 4 * (i + 1), 4)} << 32;
    return a;
}

} // namespace hv::core::pci
