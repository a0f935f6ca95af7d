// core::pci::ConfigSpace: what a guest's PCI code sees of one function's
// configuration space. Identity fields read back and ignore writes, the
// command register takes only the bits a device model implements, BAR
// sizing (all ones in, size mask out) follows from the write masks, the
// capability list links up the way lspci walks it, and the extended space
// past 256 bytes is empty.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "core/pci/config_space.hpp"

using namespace hv::core::pci;

namespace {

// A virtio-blk-like function: the values are arbitrary but all distinct,
// so a field read from the wrong offset shows.
Identity blk_identity() {
    Identity id;
    id.vendor = 0x1af4;
    id.device = 0x1042;
    id.revision = 0x01;
    id.class_code = 0x010203;
    id.subsystem_vendor = 0x1af5;
    id.subsystem = 0x1100;
    id.interrupt_pin = 1;
    return id;
}

constexpr uint32_t kBar0 = 0x10;
constexpr uint32_t kStatus = 0x06;
constexpr uint32_t kCapPointer = 0x34;
constexpr uint16_t kStatusCapList = 1u << 4;

// The capability offsets in list order, as a driver walks them from 0x34.
// Stops after 48 hops so a looped list fails the test instead of hanging.
std::vector<uint8_t> walk_caps(const ConfigSpace& cs) {
    std::vector<uint8_t> out;
    uint8_t at = static_cast<uint8_t>(cs.read(kCapPointer, 1));
    while (at != 0 && out.size() < 48) {
        out.push_back(at);
        at = static_cast<uint8_t>(cs.read(at + 1u, 1));
    }
    return out;
}

} // namespace

TEST_CASE("pci config: identity fields read back at their offsets", "[pci]") {
    const ConfigSpace cs(blk_identity());
    CHECK(cs.read(0x00, 2) == 0x1af4);
    CHECK(cs.read(0x02, 2) == 0x1042);
    CHECK(cs.read(0x00, 4) == 0x10421af4u);
    CHECK(cs.read(0x08, 1) == 0x01);
    CHECK(cs.read(0x09, 1) == 0x03); // prog-if
    CHECK(cs.read(0x0a, 1) == 0x02); // subclass
    CHECK(cs.read(0x0b, 1) == 0x01); // base class
    CHECK(cs.read(0x08, 4) == 0x01020301u);
    CHECK(cs.read(0x2c, 2) == 0x1af5);
    CHECK(cs.read(0x2e, 2) == 0x1100);
    CHECK(cs.read(0x3d, 1) == 1);
    CHECK(cs.byte(0x00) == 0xf4);
    CHECK(cs.byte(0x01) == 0x1a);
    // A fresh function: decoding off, no capabilities, no BARs.
    CHECK(cs.command() == 0);
    CHECK((cs.read(kStatus, 2) & kStatusCapList) == 0);
    CHECK(cs.read(kCapPointer, 1) == 0);
    for (uint32_t i = 0; i < kBars; ++i) {
        CHECK(cs.read(kBar0 + 4 * i, 4) == 0);
        CHECK(cs.bar_address(i) == 0);
        CHECK(cs.bar_size(i) == 0);
    }
}

TEST_CASE("pci config: read-only fields ignore writes of every width", "[pci]") {
    ConfigSpace cs(blk_identity());
    for (uint8_t size : {uint8_t{1}, uint8_t{2}, uint8_t{4}}) {
        cs.write(0x00, 0xffffffff, size);
        cs.write(0x08, 0xffffffff, size);
        cs.write(0x2c, 0xffffffff, size);
        cs.write(kStatus, 0xffff, 2);
    }
    CHECK(cs.read(0x00, 4) == 0x10421af4u);
    CHECK(cs.read(0x08, 4) == 0x01020301u);
    CHECK(cs.read(0x2c, 4) == 0x11001af5u);
    CHECK(cs.read(kStatus, 2) == 0);
    // Interrupt line is the OS's scratch byte; the pin next to it is not.
    cs.write(0x3c, 0xffff, 2);
    CHECK(cs.read(0x3c, 1) == 0xff);
    CHECK(cs.read(0x3d, 1) == 1);
}

TEST_CASE("pci config: the command register takes only memory, bus master and INTx disable", "[pci]") {
    ConfigSpace cs(blk_identity());
    cs.write(kCommand, 0xffff, 2);
    CHECK(cs.command() == (kCommandMemory | kCommandBusMaster | kCommandIntxDisable));
    CHECK(cs.command() == 0x0406);
    cs.write(kCommand, 0, 2);
    CHECK(cs.command() == 0);
    // A dword write covers the status register too, which stays as it was.
    cs.write(kCommand, 0xffffffff, 4);
    CHECK(cs.command() == 0x0406);
    CHECK(cs.read(kStatus, 2) == 0);
    // Byte writes reach each half of the register.
    cs.write(kCommand, 0, 2);
    cs.write(kCommand + 1u, 0xff, 1);
    CHECK(cs.command() == kCommandIntxDisable);
}

TEST_CASE("pci config: sizing a 64-bit BAR pair and putting it back", "[pci]") {
    ConfigSpace cs(blk_identity());
    const uint64_t size = 0x8000, gpa = 0xfe000000;
    REQUIRE(cs.add_memory_bar(0, size, gpa, true));
    CHECK(cs.bar_size(0) == size);
    CHECK(cs.bar_size(1) == 0); // the upper half is no BAR of its own
    CHECK(cs.read(kBar0, 4) == (gpa | 0x4)); // memory, 64-bit type, not prefetchable
    CHECK(cs.read(kBar0 + 4, 4) == 0);
    CHECK(cs.bar_address(0) == gpa);
    CHECK(cs.bar_address(1) == 0);

    // What a BIOS or OS does: all ones into both halves, read the mask.
    cs.write(kBar0, 0xffffffff, 4);
    cs.write(kBar0 + 4, 0xffffffff, 4);
    CHECK(cs.read(kBar0, 4) == ((~static_cast<uint32_t>(size - 1) & ~0xfu) | 0x4));
    CHECK(cs.read(kBar0, 4) == 0xffff8004u);
    CHECK(cs.read(kBar0 + 4, 4) == 0xffffffffu); // a size under 4 GiB: the whole upper dword is address
    CHECK(cs.bar_size(0) == size);

    // Restoring the address it read first.
    cs.write(kBar0, static_cast<uint32_t>(gpa), 4);
    cs.write(kBar0 + 4, 0, 4);
    CHECK(cs.read(kBar0, 4) == (gpa | 0x4));
    CHECK(cs.bar_address(0) == gpa);

    // Moving it, above 4 GiB too: bar_address() follows.
    cs.write(kBar0, 0xc0008000, 4);
    cs.write(kBar0 + 4, 0x1, 4);
    CHECK(cs.bar_address(0) == 0x1c0008000ull);
    // Bits below the size are not address bits and do not stick.
    cs.write(kBar0, 0xc0001234, 4);
    CHECK(cs.bar_address(0) == 0x1c0000000ull);
    CHECK((cs.read(kBar0, 4) & 0xf) == 0x4);
}

TEST_CASE("pci config: a 32-bit BAR and a BAR larger than 4 GiB size correctly", "[pci]") {
    ConfigSpace cs(blk_identity());
    REQUIRE(cs.add_memory_bar(2, 0x1000, 0xfebf0000, false));
    CHECK(cs.read(kBar0 + 8, 4) == 0xfebf0000u); // type bits 0: 32-bit memory
    cs.write(kBar0 + 8, 0xffffffff, 4);
    CHECK(cs.read(kBar0 + 8, 4) == 0xfffff000u);
    cs.write(kBar0 + 8, 0xfebf0000, 4);
    CHECK(cs.bar_address(2) == 0xfebf0000u);
    // The next dword is not part of it.
    cs.write(kBar0 + 12, 0xffffffff, 4);
    CHECK(cs.read(kBar0 + 12, 4) == 0);
    CHECK(cs.bar_address(2) == 0xfebf0000u);

    // 8 GiB: the low dword holds no address bits at all, the upper one
    // all but its lowest.
    const uint64_t big = 8ull << 30, at = 16ull << 30;
    REQUIRE(cs.add_memory_bar(4, big, at, true));
    CHECK(cs.bar_address(4) == at);
    cs.write(kBar0 + 16, 0xffffffff, 4);
    cs.write(kBar0 + 20, 0xffffffff, 4);
    CHECK(cs.read(kBar0 + 16, 4) == 0x4u);
    CHECK(cs.read(kBar0 + 20, 4) == 0xfffffffeu);
    cs.write(kBar0 + 20, static_cast<uint32_t>(at >> 32), 4);
    CHECK(cs.bar_address(4) == at);
}

TEST_CASE("pci config: add_memory_bar refuses bad slots, sizes, addresses and overlaps", "[pci]") {
    ConfigSpace cs(blk_identity());
    CHECK_FALSE(cs.add_memory_bar(6, 0x1000, 0, false));            // no slot 6
    CHECK_FALSE(cs.add_memory_bar(5, 0x1000, 0, true));             // a pair needs slot 6 too
    CHECK_FALSE(cs.add_memory_bar(0, 0, 0, false));                 // no size
    CHECK_FALSE(cs.add_memory_bar(0, 8, 0, false));                 // under 16 bytes
    CHECK_FALSE(cs.add_memory_bar(0, 0x3000, 0, false));            // not a power of two
    CHECK_FALSE(cs.add_memory_bar(0, 0x1000, 0x800, false));        // not aligned to its size
    CHECK_FALSE(cs.add_memory_bar(0, 0x8000, 0xfe004000, true));    // likewise, 64-bit
    CHECK_FALSE(cs.add_memory_bar(0, 4ull << 30, 0, false));        // 32 bits cannot size 4 GiB
    CHECK_FALSE(cs.add_memory_bar(0, 0x1000, 1ull << 32, false));   // nor sit above 4 GiB
    // None of those left anything behind.
    for (uint32_t i = 0; i < kBars; ++i) {
        CHECK(cs.bar_size(i) == 0);
        CHECK(cs.read(kBar0 + 4 * i, 4) == 0);
    }

    // Slot 5 takes a 32-bit BAR, the largest a 32-bit BAR can be.
    CHECK(cs.add_memory_bar(5, 1ull << 31, 0x80000000, false));
    REQUIRE(cs.add_memory_bar(0, 0x8000, 0xfe000000, true));
    CHECK_FALSE(cs.add_memory_bar(0, 0x1000, 0xfebf0000, false)); // slot taken
    CHECK_FALSE(cs.add_memory_bar(1, 0x1000, 0xfebf0000, false)); // the pair's upper half
    CHECK_FALSE(cs.add_memory_bar(1, 0x1000, 0xfebf0000, true));  // likewise, as a pair
    REQUIRE(cs.add_memory_bar(3, 0x1000, 0xfebf0000, false));
    CHECK_FALSE(cs.add_memory_bar(2, 0x1000, 0xfebe0000, true));  // its upper half is slot 3
    CHECK(cs.add_memory_bar(2, 0x1000, 0xfebe0000, false));
    CHECK_FALSE(cs.add_memory_bar(4, 0x1000, 0xfebd0000, true)); // would take slot 5 again
    // The refusals did not disturb what was there.
    CHECK(cs.bar_address(0) == 0xfe000000u);
    CHECK(cs.bar_address(2) == 0xfebe0000u);
    CHECK(cs.bar_address(3) == 0xfebf0000u);
    CHECK(cs.bar_address(5) == 0x80000000u);
    CHECK(cs.bar_address(7) == 0);
    CHECK(cs.bar_size(7) == 0);
}

TEST_CASE("pci config: capabilities link from 0x34 in the order they were added", "[pci]") {
    ConfigSpace cs(blk_identity());
    const uint8_t vendor_body[14] = {16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x38, 0, 0, 0};
    const uint8_t msix_body[10] = {0x02, 0x00, 0x00, 0x40, 0, 0, 0x00, 0x50, 0, 0};
    const uint8_t a = cs.add_capability(kCapVendor, vendor_body, sizeof vendor_body, nullptr);
    const uint8_t b = cs.add_capability(kCapMsix, msix_body, sizeof msix_body, nullptr);
    const uint8_t c = cs.add_capability(0x05, nullptr, 0, nullptr); // an empty body is allowed
    REQUIRE(a != 0);
    REQUIRE(b != 0);
    REQUIRE(c != 0);
    CHECK(a == 0x40); // right after the type-0 header
    // Dword aligned, each past the previous one's bytes.
    CHECK(a % 4 == 0);
    CHECK(b % 4 == 0);
    CHECK(c % 4 == 0);
    CHECK(b >= a + 2u + sizeof vendor_body);
    CHECK(c >= b + 2u + sizeof msix_body);

    CHECK((cs.read(kStatus, 2) & kStatusCapList) != 0);
    CHECK(cs.read(kCapPointer, 1) == a);
    CHECK(walk_caps(cs) == std::vector<uint8_t>{a, b, c});
    CHECK(cs.read(c + 1u, 1) == 0); // the list ends
    CHECK(cs.read(a, 1) == kCapVendor);
    CHECK(cs.read(b, 1) == kCapMsix);
    CHECK(cs.read(c, 1) == 0x05);
    // The bodies follow the ID and next pointer byte for byte.
    for (uint32_t i = 0; i < sizeof vendor_body; ++i) CHECK(cs.byte(a + 2 + i) == vendor_body[i]);
    for (uint32_t i = 0; i < sizeof msix_body; ++i) CHECK(cs.byte(b + 2 + i) == msix_body[i]);

    // A driver cannot rewrite the list, a read-only body, or the status bit.
    cs.write(kCapPointer, 0, 1);
    cs.write(a, 0xffffffff, 4);
    cs.write(b + 4u, 0xffffffff, 4);
    cs.write(kStatus, 0, 2);
    CHECK(cs.read(kCapPointer, 1) == a);
    CHECK(cs.read(a, 1) == kCapVendor);
    CHECK(cs.read(a + 1u, 1) == b);
    CHECK(cs.read(b + 4u, 4) == 0x00004000u);
    CHECK((cs.read(kStatus, 2) & kStatusCapList) != 0);
}

TEST_CASE("pci config: add_capability answers 0 once the space is full", "[pci]") {
    ConfigSpace cs(blk_identity());
    uint8_t body[30] = {};
    std::vector<uint8_t> added;
    // 32 bytes each: 0x40, 0x60, ..., 0xe0 fill the space exactly.
    for (int i = 0; i < 6; ++i) {
        body[0] = static_cast<uint8_t>(i);
        const uint8_t at = cs.add_capability(kCapVendor, body, sizeof body, nullptr);
        REQUIRE(at != 0);
        added.push_back(at);
    }
    CHECK(added.back() == 0xe0);
    CHECK(cs.add_capability(kCapVendor, body, sizeof body, nullptr) == 0);
    CHECK(cs.add_capability(kCapVendor, nullptr, 0, nullptr) == 0); // not even 4 bytes left
    // Refused ones are not linked in; the list still ends at the last one.
    CHECK(walk_caps(cs) == added);
    CHECK(cs.read(0xe1, 1) == 0);

    // A capability too large for what is left is refused at once.
    ConfigSpace other(blk_identity());
    uint8_t huge[255] = {};
    CHECK(other.add_capability(kCapVendor, huge, 255, nullptr) == 0);
    CHECK(other.read(kCapPointer, 1) == 0);
    CHECK((other.read(kStatus, 2) & kStatusCapList) == 0);
    // 190 bytes of body plus ID and next end exactly at 256.
    CHECK(other.add_capability(kCapVendor, huge, 190, nullptr) == 0x40);
    CHECK(other.add_capability(kCapVendor, nullptr, 0, nullptr) == 0);
}

TEST_CASE("pci config: a capability's write mask lets through only its bits", "[pci]") {
    ConfigSpace cs(blk_identity());
    // Like MSI-X message control: only bits 14 and 15 are the driver's.
    const uint8_t body[6] = {0x08, 0x00, 0x11, 0x22, 0x33, 0x44};
    const uint8_t wmask[6] = {0x00, 0xc0, 0x0f, 0x00, 0xff, 0x00};
    const uint8_t at = cs.add_capability(kCapMsix, body, sizeof body, wmask);
    REQUIRE(at != 0);
    cs.write(at + 2u, 0xffff, 2);
    CHECK(cs.read(at + 2u, 2) == 0xc008);
    cs.write(at + 2u, 0x3ff7, 2); // clears the two writable bits only
    CHECK(cs.read(at + 2u, 2) == 0x0008);
    // Partially writable bytes: the masked bits take the value, the rest keep theirs.
    cs.write(at + 4u, 0xa5a5a5a5, 4);
    CHECK(cs.read(at + 4u, 4) == ((0x11u & 0xf0u) | 0x05u) + (0x22u << 8) + (0xa5u << 16) + (0x44u << 24));
    cs.write(at + 4u, 0, 4);
    CHECK(cs.read(at + 4u, 4) == 0x10u + (0x22u << 8) + (0x44u << 24));
    // The ID and next pointer stay read-only even with a mask given.
    cs.write(at, 0xffff, 2);
    CHECK(cs.read(at, 2) == kCapMsix);
}

TEST_CASE("pci config: the extended space reads 0 and drops writes", "[pci]") {
    ConfigSpace cs(blk_identity());
    const uint8_t body[2] = {};
    REQUIRE(cs.add_capability(kCapVendor, body, sizeof body, nullptr) != 0);
    for (uint32_t off : {0x100u, 0x104u, 0x800u, 0xffcu}) {
        cs.write(off, 0xffffffff, 4);
        CHECK(cs.read(off, 4) == 0);
        CHECK(cs.read(off, 2) == 0);
        CHECK(cs.read(off, 1) == 0);
        CHECK(cs.byte(off) == 0);
    }
    // The 256 bytes below are untouched by it.
    CHECK(cs.read(0x00, 4) == 0x10421af4u);
    CHECK(cs.read(0xfc, 4) == 0);
    CHECK(cs.command() == 0);
}
