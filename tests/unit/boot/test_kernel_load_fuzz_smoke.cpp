// The kernel-load fuzz target (tests/fuzz/kernel_load_fuzz.cpp) run as a
// unit test: hand-picked kernels (PVH ELFs, bzImages with xz, lzma, gzip
// and zstd payloads, a decompression bomb, headers that fit the 64-bit
// entry in the target's RAM) and 10,000 seeded inputs, ELFs and bzImages
// built and then edited (load address, init_size and the loader limits
// varied), compressed payloads corrupted or cut, and random bytes, through
// the same checks libFuzzer runs. Reproducible:
// the seed is fixed and a failure prints its input in hex.
#include <catch2/catch.hpp>

#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "../../fuzz/fuzz_smoke.hpp"
#include "../../fuzz/kernel_load_fuzz.hpp"
#include "bzimage_builder.hpp"
#include "compress.hpp"
#include "kernel_image.hpp"
#include "pvh_image.hpp"

using hv::fuzz::KernelLoadFuzzStats;

namespace {

std::string run(const std::vector<uint8_t>& input, KernelLoadFuzzStats& total) {
    KernelLoadFuzzStats s;
    const std::string why = hv::fuzz::kernel_load_fuzz_check(input.data(), input.size(), s);
    total.bzimages += s.bzimages;
    total.decompressed += s.decompressed;
    total.loaded += s.loaded;
    total.refused += s.refused;
    total.linux64 += s.linux64;
    return why;
}

std::string hex(const std::vector<uint8_t>& v) { return hv::fuzz::hex(std::string(v.begin(), v.end())); }

std::vector<uint8_t> bz_of(const std::vector<uint8_t>& payload, hvtest::BzImageBuilder b = {}) {
    return hvtest::bzimage_around(payload, b);
}

// A header whose kernel fits the target's 16 MiB through the 64-bit entry.
hvtest::BzImageBuilder small_kernel() {
    hvtest::BzImageBuilder b;
    b.pref_address = 0x200000;
    b.init_size = 0x400000;
    return b;
}

class Gen : public hv::fuzz::SmokeGen {
public:
    using SmokeGen::SmokeGen;

    std::vector<uint8_t> raw(size_t n) {
        const std::string s = bytes(n);
        return std::vector<uint8_t>(s.begin(), s.end());
    }

    void mutate(std::vector<uint8_t>& v, size_t max_flips) {
        for (size_t m = below(max_flips + 1); m > 0 && !v.empty(); --m) v[below(v.size())] = static_cast<uint8_t>(rng_());
        if (one_in(16) && !v.empty()) v.resize(below(v.size() + 1));
    }

    // A PVH ELF kernel, sometimes without one of its notes or moved to an
    // address near one of the loader's limits, sometimes with bytes changed.
    std::vector<uint8_t> elf() {
        auto e = hvbench::pvh_elf(raw(1 + below(64)));
        switch (below(8)) {
        case 0: e = hvtest::without_hv_note(std::move(e)); break;
        case 1: e = hvtest::without_pvh_note(std::move(e)); break;
        case 2:
        case 3: {
            static const uint64_t addrs[] = {0x5000, 0x7fff, 0x8000, 0xd0000, 0xdffff, 0xe0000, 0xfffff, 0x100000, 0x200000,
                                             hv::fuzz::kKernelLoadFuzzRam - 0x1000, hv::fuzz::kKernelLoadFuzzRam - 8,
                                             hv::fuzz::kKernelLoadFuzzRam, 0xffffffff};
            static const uint64_t sizes[] = {1, 0x40, 0x1000, 0x10000, 0x100000, 15ull << 20};
            e = hvtest::moved_to(std::move(e), addrs[below(std::size(addrs))], sizes[below(std::size(sizes))]);
            break;
        }
        default: break;
        }
        if (one_in(3)) mutate(e, 4);
        return e;
    }

    // A bzImage around a compressed kernel (or junk), sometimes corrupted.
    std::vector<uint8_t> bzimage() {
        const auto inner = one_in(8) ? raw(below(4096)) : elf();
        std::vector<uint8_t> packed;
        switch (below(8)) {
        case 0:
        case 1: packed = hvtest::xz_compress(inner); break;
        case 2: packed = hvtest::lzma_alone_compress(inner); break;
        case 3: {
            packed = {0x28, 0xb5, 0x2f, 0xfd}; // zstd, which hv does not decompress
            const auto rest = raw(below(64));
            packed.insert(packed.end(), rest.begin(), rest.end());
            break;
        }
        default: packed = hvtest::gzip_compress(inner); break;
        }
        if (!one_in(4)) packed = hvtest::with_size_suffix(std::move(packed), static_cast<uint32_t>(inner.size()));
        if (one_in(4)) mutate(packed, 3);
        if (packed.empty()) packed.push_back(0);
        hvtest::BzImageBuilder b;
        b.payload = std::string(packed.begin(), packed.end());
        // Where the 64-bit entry would put the kernel, and the loader's limits.
        static const uint64_t prefs[] = {0, 0x100000, 0x123456, 0x200000, 0x1000000, 0xfff000};
        static const uint32_t inits[] = {0, 0x100000, 0x400000, 0x2000000, 0xffffffff};
        static const uint32_t aligns[] = {0, 0x1000, 0x200000, 0x1000000};
        static const uint32_t cmdlines[] = {0, 8, 27, 28, 2047};
        static const uint32_t initrd_maxes[] = {0, 0x600000, 0x7fffff, 0x7fffffff, 0xffffffff};
        b.pref_address = prefs[below(std::size(prefs))];
        b.init_size = inits[below(std::size(inits))];
        if (one_in(4)) b.kernel_alignment = aligns[below(std::size(aligns))];
        if (one_in(4)) b.cmdline_size = cmdlines[below(std::size(cmdlines))];
        if (one_in(4)) b.initrd_addr_max = initrd_maxes[below(std::size(initrd_maxes))];
        if (one_in(8)) b.xloadflags = 0;
        if (one_in(16)) b.setup_sects = static_cast<uint8_t>(below(8));
        if (one_in(16)) b.payload_offset = static_cast<uint32_t>(below(0x400));
        if (one_in(16)) b.payload_length = static_cast<uint32_t>(below(packed.size() + 64) + 1);
        if (one_in(16)) b.loadflags = 0;
        b.tail = below(32);
        auto v = b.build();
        if (one_in(8)) mutate(v, 2);
        return v;
    }

    std::vector<uint8_t> input() {
        if (one_in(10)) return raw(below(0x400));
        return one_in(3) ? elf() : bzimage();
    }
};

} // namespace

TEST_CASE("kernel load fuzz: hand-picked kernels keep every invariant", "[boot][kernel_loader][fuzz]") {
    KernelLoadFuzzStats total;
    const auto elf = hvbench::pvh_elf(hvbench::first_byte_code());
    std::vector<std::vector<uint8_t>> inputs = {
        {},
        elf,
        hvtest::without_hv_note(elf),
        hvtest::without_pvh_note(elf),
        bz_of(hvtest::with_size_suffix(hvtest::xz_compress(elf), static_cast<uint32_t>(elf.size()))),
        bz_of(hvtest::lzma_alone_compress(elf)),
        bz_of(hvtest::gzip_compress(elf)),
        bz_of(hvtest::xz_compress(hvtest::without_pvh_note(elf))),
        bz_of({0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3}),
        bz_of({0xfd, '7', 'z', 'X', 'Z', 0}), // xz magic alone: truncated
        // Through the 64-bit entry: no PVH note, and a payload hv cannot decompress.
        bz_of(hvtest::xz_compress(hvtest::without_pvh_note(elf)), small_kernel()),
        bz_of({0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3}, small_kernel()),
    };
    // A decompression bomb: 20 MiB of zeros, refused at the target's 8 MiB.
    inputs.push_back(bz_of(hvtest::xz_compress(std::vector<uint8_t>(20u << 20, 0))));
    for (const auto& input : inputs) {
        INFO("input " << hex(input).substr(0, 4096));
        REQUIRE(run(input, total) == "");
    }
    CHECK(total.loaded == 7u);       // the ELFs with the note, their three bzImages, the two 64-bit ones
    CHECK(total.linux64 == 2u);
    CHECK(total.decompressed == 5u); // xz, lzma, gzip, and the two payloads without the note
    CHECK(hv_kernel_load_fuzz_one(nullptr, 0) == 0);
}

TEST_CASE("kernel load fuzz: 10,000 seeded inputs keep every invariant", "[boot][kernel_loader][fuzz]") {
    Gen g(0x6b6c6f61);
    KernelLoadFuzzStats total;
    for (int i = 0; i < 10000; ++i) {
        const auto input = g.input();
        const std::string why = run(input, total);
        if (!why.empty()) {
            INFO("input #" << i << ": " << hex(input));
            REQUIRE(why == "");
        }
    }
    CHECK(total.bzimages > 4000);
    CHECK(total.decompressed > 2500);
    CHECK(total.loaded > 3000);
    CHECK(total.linux64 > 300);
    CHECK(total.refused > 3000);
}
