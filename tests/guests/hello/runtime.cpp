// hello guest: runtime support (see runtime.hpp) and the C functions the
// compiler may call in a freestanding build.
#include "runtime.hpp"

#include <hv/guest/hypercall.hpp>

// rep movsb/stosb: short, native speed in ring 3, and never turned back into
// a call to themselves by the optimizer.
extern "C" void* memcpy(void* dst, const void* src, size_t n) {
    void* d = dst;
    asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

extern "C" void* memset(void* dst, int c, size_t n) {
    void* d = dst;
    asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

namespace hello {

namespace {
constexpr uint16_t com1 = 0x3f8;
constexpr uint16_t com1_lsr = com1 + 5;
constexpr uint8_t lsr_thr_empty = 0x20;
} // namespace

bool g_on_hv = false;

void serial_write(const char* s, uint32_t len) {
    for (uint32_t i = 0; i < len; ++i) {
        while ((inb(com1_lsr) & lsr_thr_empty) == 0) cpu_relax();
        outb(com1, static_cast<uint8_t>(s[i]));
    }
}

Line& Line::udec(uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) ch(tmp[--n]);
    return *this;
}

Line& Line::dec(int64_t v) {
    if (v < 0) {
        ch('-');
        return udec(0 - static_cast<uint64_t>(v));
    }
    return udec(static_cast<uint64_t>(v));
}

Line& Line::hex(uint64_t v) {
    str("0x");
    int shift = 60;
    while (shift > 0 && (v >> shift) == 0) shift -= 4;
    for (; shift >= 0; shift -= 4) ch("0123456789abcdef"[(v >> shift) & 0xf]);
    return *this;
}

void say(Line& line) {
    line.ch('\n');
    if (!g_on_hv) {
        serial_write(line.buf, line.len);
        return;
    }
    const int64_t r = hv::guest::console_write(line.buf, line.len);
    if (r != static_cast<int64_t>(line.len)) {
        Line err;
        err.str("hello: console_write failed: ").dec(r).ch('\n');
        serial_write(err.buf, err.len);
        hv::guest::shutdown(HV_SHUTDOWN_CRASH);
        triple_fault();
    }
}

void say(const char* text) {
    Line line;
    line.str(text);
    say(line);
}

// Read by boot.S's exception entry: set, the next exception triple-faults.
extern "C" {
bool triple_requested = false;
}

void triple_fault() {
    uint16_t cs;
    asm volatile("mov %%cs, %0" : "=r"(cs));
    if ((cs & 3) == 0) asm volatile("jmp triple_stub"); // ring 0 (an exception handler)
    __atomic_store_n(&triple_requested, true, __ATOMIC_SEQ_CST);
    asm volatile("ud2" ::: "memory");
    for (;;) cpu_relax();
}

void fail(Line& line) {
    say(line);
    if (g_on_hv) hv::guest::shutdown(HV_SHUTDOWN_CRASH);
    triple_fault();
}

const char* reason_name(uint32_t reason) {
    switch (reason) {
    case HV_SHUTDOWN_POWEROFF: return "poweroff";
    case HV_SHUTDOWN_REBOOT: return "reboot";
    case HV_SHUTDOWN_SUSPEND: return "suspend";
    case HV_SHUTDOWN_CRASH: return "crash";
    default: return "unknown";
    }
}

} // namespace hello
