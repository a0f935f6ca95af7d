// What the fuzz targets' smoke tests (tests/unit/*/test_*_fuzz_smoke.cpp)
// share: a seeded generator's basics, and printing a failing input.
#pragma once

#include <cstdint>
#include <random>
#include <sstream>
#include <string>

namespace hv::fuzz {

// Deterministic: the same seed gives the same inputs on every run.
class SmokeGen {
public:
    explicit SmokeGen(uint64_t seed) : rng_(seed) {}

    size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng_() % n); }
    bool one_in(size_t n) { return below(n) == 0; }
    std::string bytes(size_t n) {
        std::string s(n, '\0');
        for (auto& c : s) c = static_cast<char>(rng_());
        return s;
    }

protected:
    std::mt19937_64 rng_;
};

inline std::string hex(const std::string& s) {
    std::ostringstream o;
    static constexpr char digits[] = "0123456789abcdef";
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        o << digits[c >> 4] << digits[c & 15];
    }
    return o.str();
}

inline const uint8_t* as_bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

} // namespace hv::fuzz
