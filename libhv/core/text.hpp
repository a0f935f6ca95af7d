// Small freestanding string helpers for the core (no <cstring> needed).
#pragma once

#include <stddef.h>

namespace hv::core {

constexpr size_t text_length(const char* s) {
    size_t n = 0;
    while (s[n] != '\0') ++n;
    return n;
}

// True when text[0, len) equals the NUL-terminated word.
constexpr bool text_equals(const char* text, size_t len, const char* word) {
    size_t i = 0;
    for (; i < len; ++i)
        if (word[i] == '\0' || word[i] != text[i]) return false;
    return word[i] == '\0';
}

// The core's only byte copy; the compiler inlines it or calls memcpy, which
// is in the documented runtime list (docs/architecture.md).
inline void copy_bytes(void* dst, const void* src, size_t n) { __builtin_memcpy(dst, src, n); }
inline void fill_bytes(void* dst, int value, size_t n) { __builtin_memset(dst, value, n); }

// Copies at most cap-1 bytes and always NUL-terminates; returns false when
// the text did not fit.
constexpr bool text_copy(char* dst, size_t cap, const char* src, size_t len) {
    if (cap == 0) return false;
    const bool fits = len < cap;
    const size_t n = fits ? len : cap - 1;
    for (size_t i = 0; i < n; ++i) dst[i] = src[i];
    dst[n] = '\0';
    return fits;
}

} // namespace hv::core
