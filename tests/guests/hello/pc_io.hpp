// Ring-3 access to a PC's buses for the test guests that drive devices
// themselves (blkbench, netecho): port I/O (IOPL=3), PCI configuration
// space on bus 0 through 0xcf8/0xcfc, and MMIO through the identity map.
#pragma once

#include <stdint.h>

namespace hello::pc {

inline void outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
inline uint32_t inl(uint16_t port) {
    uint32_t v;
    asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline void outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }

// `fn` is (slot << 3) | function on bus 0.
inline uint32_t cfg_read(uint32_t fn, uint32_t off) {
    outl(0xcf8, 0x80000000u | (fn << 8) | (off & 0xfc));
    return inl(0xcfc) >> (8 * (off & 3));
}
inline void cfg_write32(uint32_t fn, uint32_t off, uint32_t v) {
    outl(0xcf8, 0x80000000u | (fn << 8) | (off & 0xfc));
    outl(0xcfc, v);
}

template <typename T> T mmio_read(uint64_t a) { return *reinterpret_cast<volatile T*>(a); }
template <typename T> void mmio_write(uint64_t a, T v) { *reinterpret_cast<volatile T*>(a) = v; }

} // namespace hello::pc
