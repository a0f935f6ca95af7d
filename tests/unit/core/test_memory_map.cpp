// core::memory_map: the four regions of hv's PC machine (low RAM, the
// legacy hole, the firmware area, high RAM) for several RAM sizes, and no
// map for a machine under 2 MiB.
#include <catch2/catch.hpp>

#include <cstdint>

#include "core/memory_map.hpp"

using hv::core::MemoryRegion;
using hv::core::MemoryType;
using hv::core::memory_map;

namespace {

// As integers, so a failed CHECK prints numbers.
uint32_t type_of(const MemoryRegion& r) { return static_cast<uint32_t>(r.type); }

void check_map(uint64_t ram_size) {
    INFO("ram_size " << ram_size);
    MemoryRegion map[hv::core::kMaxMemoryRegions]{};
    REQUIRE(memory_map(ram_size, map) == 5u);
    CHECK(map[0].base == 0u);
    CHECK(map[0].size == 0xa0000u);
    CHECK(type_of(map[0]) == 1u); // E820 RAM
    CHECK(map[1].base == 0xa0000u);
    CHECK(map[1].size == 0x40000u);
    CHECK(type_of(map[1]) == 2u); // reserved: the VGA/ROM hole
    CHECK(map[2].base == 0xe0000u);
    CHECK(map[2].size == 0x20000u);
    CHECK(type_of(map[2]) == 2u); // reserved: the ACPI tables live here
    CHECK(map[3].base == 0x100000u);
    CHECK(map[3].size == ram_size - 0x100000u);
    CHECK(type_of(map[3]) == 1u);
    // Contiguous, in order, ending at the end of RAM.
    for (int i = 1; i < 4; ++i) CHECK(map[i].base == map[i - 1].base + map[i - 1].size);
    CHECK(map[3].base + map[3].size == ram_size);
    // The PCI ECAM, reserved so Linux trusts the MCFG, above RAM.
    CHECK(map[4].base == 0xe0000000u);
    CHECK(map[4].size == 0x100000u);
    CHECK(type_of(map[4]) == 2u);
    CHECK(map[4].base >= ram_size);
}

} // namespace

TEST_CASE("memory map: five regions for RAM sizes from 2 MiB up to the device window", "[core][memory_map]") {
    check_map(2ull << 20); // the smallest: 1 MiB of high RAM
    check_map((2ull << 20) + 1);
    check_map(16ull << 20);
    check_map(512ull << 20);
    check_map(hv::core::kMaxPcRam); // the largest PC machine
}

TEST_CASE("memory map: hv's PV machine may have RAM over the device window, and no ECAM then", "[core][memory_map]") {
    MemoryRegion map[hv::core::kMaxMemoryRegions]{};
    const uint64_t big = hv::core::kDeviceWindowBase + (64ull << 20);
    REQUIRE(memory_map(big, map) == 4u);
    CHECK(map[3].base + map[3].size == big);
}

TEST_CASE("memory map: the constants describe the PC layout", "[core][memory_map]") {
    CHECK(hv::core::kConventionalEnd == 0xa0000u);
    CHECK(hv::core::kFirmwareBase == 0xe0000u);
    CHECK(hv::core::kFirmwareEnd == 0x100000u);
    CHECK(hv::core::kHighRamBase == 0x100000u);
    CHECK(hv::core::kMaxPcRam == hv::core::kDeviceWindowBase);
    CHECK(hv::core::kIoApicBase >= hv::core::kDeviceWindowBase);
    CHECK(hv::core::kLapicBase >= hv::core::kDeviceWindowBase);
}

TEST_CASE("memory map: under 2 MiB there is no map and nothing is written", "[core][memory_map]") {
    for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{0xa0000}, uint64_t{1} << 20, (uint64_t{2} << 20) - 1}) {
        INFO("ram_size " << size);
        MemoryRegion map[hv::core::kMaxMemoryRegions];
        for (auto& r : map) r = {0x1234, 0x5678, MemoryType::acpi};
        CHECK(memory_map(size, map) == 0u);
        for (const auto& r : map) {
            CHECK(r.base == 0x1234u);
            CHECK(r.size == 0x5678u);
            CHECK(type_of(r) == 3u);
        }
    }
}
