// hello guest: the little runtime the ring-3 code needs (port I/O, the
// 16550, a line builder, output that picks the hv console or the UART).
#pragma once

#include <stdint.h>

#include "layout.h"

namespace hello {

inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }

inline uint8_t inb(uint16_t port) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

inline void cpu_relax() { asm volatile("pause" ::: "memory"); }

// Writes to the 16550 at 0x3f8, waiting for THR empty (LSR bit 5) before
// each byte. Usable from ring 0 and from ring 3 (IOPL=3). '\n' is sent as is.
void serial_write(const char* s, uint32_t len);

// A fixed-size line under construction; overflow truncates.
struct Line {
    char buf[200];
    uint32_t len = 0;

    Line& ch(char c) {
        if (len < sizeof buf) buf[len++] = c;
        return *this;
    }
    Line& str(const char* s) {
        while (*s != 0) ch(*s++);
        return *this;
    }
    Line& str(const char* s, uint32_t n) {
        for (uint32_t i = 0; i < n; ++i) ch(s[i]);
        return *this;
    }
    Line& udec(uint64_t v);
    Line& dec(int64_t v);
    Line& hex(uint64_t v); // 0x-prefixed, lowercase, no padding
};

// True once bsp_main found hv's CPUID signature.
extern bool g_on_hv;

// Writes `line` plus '\n': through console_write on hv, else the 16550.
// A console_write failure on hv is fatal (crash), since tests read the console.
void say(Line& line);
void say(const char* text);

// Ends the domain with a triple fault (an empty IDT, then a fault).
[[noreturn]] void triple_fault();

// Reports `line` and stops the domain with shutdown(crash) (on hv) or a
// triple fault (elsewhere).
[[noreturn]] void fail(Line& line);

const char* reason_name(uint32_t reason); // "poweroff", ..., "unknown"

} // namespace hello
