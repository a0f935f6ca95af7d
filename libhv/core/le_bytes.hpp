// Little-endian fields of 1..8 bytes in byte buffers (guest registers,
// descriptors, firmware tables): one pair of helpers for the core and the
// hosted device models. Freestanding.
#pragma once

#include <stdint.h>

namespace hv::core {

inline uint64_t load_le(const uint8_t* p, uint32_t n) {
    uint64_t v = 0;
    for (uint32_t i = 0; i < n && i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
    return v;
}

inline void store_le(uint8_t* p, uint64_t v, uint32_t n) {
    for (uint32_t i = 0; i < n && i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

} // namespace hv::core
