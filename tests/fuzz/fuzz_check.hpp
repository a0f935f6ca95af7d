// What every fuzz target shares: HV_FUZZ_CHECK returns the broken
// invariant's text from a check function answering std::string ("" when
// every invariant held), and run_or_abort turns a broken one into the
// crash libFuzzer reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#define HV_FUZZ_CHECK(cond, why)                                                                                      \
    do {                                                                                                              \
        if (!(cond)) return std::string(why);                                                                         \
    } while (0)

namespace hv::fuzz {

// `n` (<= 8) little-endian bytes at `p`.
inline uint64_t le(const uint8_t* p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
    return v;
}

// An input's field: bytes past the end read as zero, so every input
// means something.
inline uint64_t field(const uint8_t* data, size_t size, size_t at, size_t n) {
    uint8_t b[8] = {};
    for (size_t i = 0; i < n && at + i < size; ++i) b[i] = data[at + i];
    return le(b, n);
}

// One input through `check`; aborts, naming `target` and the invariant,
// when one broke. Each target's hv_*_fuzz_one (what the LLVMFuzzer entry
// point and a crash reproducer call) is this.
template <class Stats>
int run_or_abort(const char* target, std::string (*check)(const uint8_t*, size_t, Stats&), const uint8_t* data,
                 size_t size) {
    Stats stats;
    const std::string why = check(data, size, stats);
    if (!why.empty()) {
        std::fprintf(stderr, "%s: invariant broken: %s\n", target, why.c_str());
        std::abort();
    }
    return 0;
}

} // namespace hv::fuzz
