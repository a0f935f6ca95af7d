// CpuMask: a fixed-size set of physical CPU numbers, the core's cpumask_t.
// Hard and soft affinity, the host CPUs given to a scheduler and the set of
// pCPUs that must reschedule are all CpuMasks. No allocation, constexpr, and
// no compiler builtins that become libgcc calls (__builtin_popcountll is
// __popcountdi2 without -mpopcnt, which the freestanding link refuses).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace hv::core::sched {

// Physical CPUs one scheduler instance can drive. 64 keeps a mask in one
// word; raising it only changes kWords below.
constexpr uint32_t kMaxPcpus = 64;

class CpuMask {
public:
    static constexpr uint32_t kWords = (kMaxPcpus + 63) / 64;

    constexpr CpuMask() = default;

    static constexpr CpuMask of(uint32_t cpu) {
        CpuMask m;
        m.set(cpu);
        return m;
    }
    // CPUs 0 .. n-1 (n is clamped to kMaxPcpus).
    static constexpr CpuMask first_n(uint32_t n) {
        CpuMask m;
        for (uint32_t c = 0; c < n && c < kMaxPcpus; ++c) m.set(c);
        return m;
    }

    // False when the CPU number cannot be held (>= kMaxPcpus): callers turn
    // that into "CPU outside the host set" rather than dropping it silently.
    constexpr bool set(uint32_t cpu) {
        if (cpu >= kMaxPcpus) return false;
        w_[cpu / 64] |= uint64_t{1} << (cpu % 64);
        return true;
    }
    constexpr void clear(uint32_t cpu) {
        if (cpu < kMaxPcpus) w_[cpu / 64] &= ~(uint64_t{1} << (cpu % 64));
    }
    constexpr bool test(uint32_t cpu) const {
        return cpu < kMaxPcpus && ((w_[cpu / 64] >> (cpu % 64)) & 1u) != 0;
    }

    constexpr bool empty() const {
        for (uint64_t w : w_)
            if (w != 0) return false;
        return true;
    }
    constexpr uint32_t count() const {
        uint32_t n = 0;
        for (uint64_t w : w_)
            for (; w != 0; w &= w - 1) ++n;
        return n;
    }
    // The lowest CPU in the mask, kMaxPcpus when empty.
    constexpr uint32_t first() const { return next_from(0); }
    // The lowest CPU >= cpu in the mask, kMaxPcpus when none.
    constexpr uint32_t next_from(uint32_t cpu) const {
        for (; cpu < kMaxPcpus; ++cpu)
            if (test(cpu)) return cpu;
        return kMaxPcpus;
    }

    constexpr CpuMask operator&(const CpuMask& o) const {
        CpuMask m;
        for (uint32_t i = 0; i < kWords; ++i) m.w_[i] = w_[i] & o.w_[i];
        return m;
    }
    constexpr CpuMask operator|(const CpuMask& o) const {
        CpuMask m;
        for (uint32_t i = 0; i < kWords; ++i) m.w_[i] = w_[i] | o.w_[i];
        return m;
    }
    constexpr bool subset_of(const CpuMask& o) const {
        for (uint32_t i = 0; i < kWords; ++i)
            if ((w_[i] & ~o.w_[i]) != 0) return false;
        return true;
    }
    constexpr bool intersects(const CpuMask& o) const { return !(*this & o).empty(); }
    constexpr bool operator==(const CpuMask&) const = default;

    // Raw words, CPU n in bit n % 64 of word n / 64: for ABI bitmaps.
    constexpr uint64_t word(uint32_t i) const { return i < kWords ? w_[i] : 0; }
    constexpr void set_word(uint32_t i, uint64_t bits) {
        if (i < kWords) w_[i] = bits;
    }

private:
    uint64_t w_[kWords] = {};
};

} // namespace hv::core::sched
