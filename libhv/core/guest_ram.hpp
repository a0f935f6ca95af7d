// GuestRam: one contiguous range of guest-physical memory mapped at `base`
// in the monitor. Every guest address the ABI hands the monitor passes
// through here, so the bounds (and overflow) checks live in one place.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace hv::core {

struct GuestRam {
    uint8_t* base = nullptr;
    uint64_t size = 0;

    // True when [gpa, gpa + len) lies inside RAM, without overflow.
    bool contains(uint64_t gpa, uint64_t len) const { return gpa <= size && len <= size - gpa; }

    // Host pointer to [gpa, gpa + len), or nullptr when out of range.
    uint8_t* at(uint64_t gpa, uint64_t len) const { return contains(gpa, len) ? base + gpa : nullptr; }

    bool read(uint64_t gpa, void* dst, uint64_t len) const;
    bool write(uint64_t gpa, const void* src, uint64_t len) const;
};

} // namespace hv::core
