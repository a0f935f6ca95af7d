// load_kernel: a bzImage whose xz (or lzma, gzip) payload is a PVH ELF
// boots through PVH, automatically or with KernelEntry::pvh; one whose
// payload is no PVH ELF (or is in a format hv cannot decompress) falls back
// to the Linux 64-bit boot protocol (load_linux64: kernel at its preferred
// address, the zero page, GDT and page tables), which KernelEntry::bzimage
// also chooses; KernelEntry::pvh refuses what has no PVH entry, a plain ELF
// asked to boot as a bzImage is refused, payloads are capped at guest RAM
// and the header's cmdline_size holds on every path. The notes
// (has_pvh_note, speaks_hv_abi), the BootRequest (initrd at the top of RAM,
// its module entry, the RSDP pointer), place_initrd's limits and the
// firmware area the loader keeps free.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "boot/bzimage.hpp"
#include "boot/kernel_loader.hpp"
#include "boot/linux64_loader.hpp"
#include "boot/pvh_loader.hpp"
#include "compress.hpp"
#include "core/guest_ram.hpp"
#include "core/memory_map.hpp"
#include "hv/abi/pvh.h"
#include "kernel_image.hpp"
#include "pvh_image.hpp"

using Catch::Matchers::Contains;
using hv::Errc;
using hv::boot::BootInfo;
using hv::boot::BootRequest;
using hv::boot::KernelEntry;
using hv::boot::load_kernel;

namespace {

constexpr uint64_t kRamSize = 16ull << 20;
constexpr uint8_t kPoison = 0xaa;
constexpr uint32_t kEntry = hvbench::kPvhLoadAddr;

struct Ram {
    std::vector<uint8_t> mem;
    hv::core::GuestRam ram;
    explicit Ram(uint64_t size = kRamSize) : mem(size, kPoison), ram{mem.data(), mem.size()} {}
};

// The smallest PVH kernel, with hv's ABI note (bench/pvh_image.cpp).
std::vector<uint8_t> pvh_kernel() { return hvbench::pvh_elf(hvbench::first_byte_code()); }

// A bzImage whose payload is `elf` compressed as the kernel's build does
// (with the 4-byte size suffix).
std::vector<uint8_t> bzimage_of(const std::vector<uint8_t>& elf, hv::boot::PayloadFormat f = hv::boot::PayloadFormat::xz,
                                hvtest::BzImageBuilder b = {}) {
    std::vector<uint8_t> packed;
    switch (f) {
    case hv::boot::PayloadFormat::xz: packed = hvtest::xz_compress(elf); break;
    case hv::boot::PayloadFormat::lzma: packed = hvtest::lzma_alone_compress(elf); break;
    case hv::boot::PayloadFormat::gzip: packed = hvtest::gzip_compress(elf); break;
    default: FAIL("no compressor"); break;
    }
    return hvtest::bzimage_around(hvtest::with_size_suffix(packed, static_cast<uint32_t>(elf.size())), b);
}

// A setup header whose kernel fits the tests' 16 MiB: loaded at 2 MiB,
// 4 MiB to decompress itself in, an initrd anywhere below 8 MiB.
constexpr uint64_t kLoad64 = 0x200000;
constexpr uint64_t kInitSize = 0x400000;
constexpr uint32_t kInitrdMax = 0x7fffff;
hvtest::BzImageBuilder small_kernel() {
    hvtest::BzImageBuilder b;
    b.pref_address = kLoad64;
    b.kernel_alignment = 0x200000;
    b.init_size = static_cast<uint32_t>(kInitSize);
    b.initrd_addr_max = kInitrdMax;
    return b;
}
constexpr uint64_t kKernelOffset = 3 * 512; // small_kernel()'s setup_sects 2, plus the boot sector

template <class T>
T at(const std::vector<uint8_t>& mem, uint64_t gpa) {
    T v;
    std::memcpy(&v, mem.data() + gpa, sizeof v);
    return v;
}

// What load_linux64 leaves in RAM for `image` (built from small_kernel()).
void check_linux64(const hv::Result<BootInfo>& res, const Ram& r, const std::vector<uint8_t>& image,
                   std::string_view cmdline, uint64_t rsdp) {
    INFO((res ? std::string() : res.error().message));
    REQUIRE(res.ok());
    CHECK(res->mode == BootInfo::Mode::linux64);
    CHECK(res->entry == kLoad64 + 0x200); // startup_64
    CHECK(res->start_info == hv::boot::kBootParamsGpa);
    CHECK(res->image_end == kLoad64 + kInitSize);
    CHECK_FALSE(res->hv_abi);
    // The protected-mode kernel, as is, at its preferred address.
    CHECK(std::equal(image.begin() + kKernelOffset, image.end(), r.mem.begin() + kLoad64));
    // The zero page: the setup header, then what the loader fills in.
    const uint64_t zp = hv::boot::kBootParamsGpa;
    CHECK(at<uint32_t>(r.mem, zp + 0x202) == 0x53726448u); // "HdrS"
    CHECK(at<uint16_t>(r.mem, zp + 0x206) == 0x020fu);
    CHECK(int{r.mem[zp + 0x210]} == 0xff); // type_of_loader: undefined
    CHECK((r.mem[zp + 0x211] & 0x01) != 0); // LOADED_HIGH
    CHECK(at<uint32_t>(r.mem, zp + 0x228) == hv::boot::kCmdlineGpa);
    CHECK(std::string(reinterpret_cast<const char*>(r.mem.data() + hv::boot::kCmdlineGpa)) == cmdline);
    CHECK(at<uint64_t>(r.mem, zp + 0x070) == rsdp);
    // The e820 map is core::memory_map's.
    REQUIRE(int{r.mem[zp + 0x1e8]} == 5);
    hv::core::MemoryRegion want[hv::core::kMaxMemoryRegions];
    REQUIRE(hv::core::memory_map(r.ram.size, want) == 5u);
    for (uint64_t i = 0; i < 5; ++i) {
        const uint64_t e = zp + 0x2d0 + 20 * i;
        CHECK(at<uint64_t>(r.mem, e) == want[i].base);
        CHECK(at<uint64_t>(r.mem, e + 8) == want[i].size);
        CHECK(at<uint32_t>(r.mem, e + 16) == static_cast<uint32_t>(want[i].type));
    }
    // The boot GDT's __BOOT_CS is a 64-bit code segment; the identity map
    // starts at PML4[0].
    CHECK(at<uint64_t>(r.mem, hv::boot::kBootGdtGpa + 8 * (hv::boot::kBootCodeSelector / 8)) == 0x00af9b000000ffffull);
    CHECK((at<uint64_t>(r.mem, hv::boot::kBootPml4Gpa) & 1u) == 1u);
    // No PVH start_info: its area stays as it was.
    CHECK(int{r.mem[hv::boot::kStartInfoGpa]} == kPoison);
}

template <class T>
void check_error(const hv::Result<T>& res, Errc code, std::initializer_list<const char*> fragments) {
    REQUIRE_FALSE(res.ok());
    CHECK(hv::errc_name(res.error().code) == hv::errc_name(code));
    for (const char* f : fragments) CHECK_THAT(res.error().message, Contains(f));
}

hv_pvh_start_info_t start_info(const Ram& r) {
    hv_pvh_start_info_t si{};
    REQUIRE(r.ram.read(hv::boot::kStartInfoGpa, &si, sizeof si));
    return si;
}

// The first-byte code at the PVH entry, and a start_info with hv's magic.
void check_loaded(const hv::Result<BootInfo>& res, const Ram& r, bool hv_abi) {
    INFO((res ? std::string() : res.error().message));
    REQUIRE(res.ok());
    CHECK(res->mode == BootInfo::Mode::pvh);
    CHECK(res->entry == kEntry);
    CHECK(res->start_info == hv::boot::kStartInfoGpa);
    CHECK(res->hv_abi == hv_abi);
    const auto code = hvbench::first_byte_code();
    CHECK(res->image_end == kEntry + code.size());
    CHECK(std::equal(code.begin(), code.end(), r.mem.begin() + kEntry));
    const auto si = start_info(r);
    CHECK(si.magic == HV_PVH_START_MAGIC);
    CHECK(si.memmap_entries == 5u);
}

} // namespace

TEST_CASE("kernel: a bzImage with a compressed PVH ELF payload boots through PVH", "[boot][kernel_loader]") {
    const auto elf = pvh_kernel();
    for (auto f : {hv::boot::PayloadFormat::xz, hv::boot::PayloadFormat::lzma, hv::boot::PayloadFormat::gzip}) {
        INFO(hv::boot::payload_format_name(f));
        const auto bz = bzimage_of(elf, f);
        REQUIRE(hv::boot::looks_like_bzimage(bz));
        // The bzImage itself is no ELF: the notes are the payload's.
        CHECK_FALSE(hv::boot::has_pvh_note(bz));
        CHECK_FALSE(hv::boot::speaks_hv_abi(bz));
        Ram r;
        check_loaded(load_kernel(bz, {"console=ttyS0", {}, 0}, KernelEntry::automatic, r.ram), r, true);
        Ram p;
        check_loaded(load_kernel(bz, {"console=ttyS0", {}, 0}, KernelEntry::pvh, p.ram), p, true);
    }
}

TEST_CASE("kernel: the decompressed payload loads as the ELF alone would", "[boot][kernel_loader]") {
    const auto elf = pvh_kernel();
    Ram direct, via_bz;
    auto a = load_kernel(elf, {"quiet", {}, 0}, KernelEntry::automatic, direct.ram);
    auto b = load_kernel(bzimage_of(elf), {"quiet", {}, 0}, KernelEntry::automatic, via_bz.ram);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->entry == b->entry);
    CHECK(a->image_end == b->image_end);
    CHECK(a->hv_abi == b->hv_abi);
    CHECK(direct.mem == via_bz.mem); // byte for byte the same guest RAM
}

TEST_CASE("kernel: a plain PVH ELF loads with automatic and pvh entry", "[boot][kernel_loader]") {
    const auto elf = pvh_kernel();
    Ram r;
    check_loaded(load_kernel(elf, {"", {}, 0}, KernelEntry::automatic, r.ram), r, true);
    Ram p;
    check_loaded(load_kernel(elf, {"", {}, 0}, KernelEntry::pvh, p.ram), p, true);
    // A stock PVH kernel (no hv note) loads the same, without hv's ABI.
    Ram s;
    check_loaded(load_kernel(hvtest::without_hv_note(elf), {"", {}, 0}, KernelEntry::automatic, s.ram), s, false);
}

TEST_CASE("kernel: a bzImage whose payload lacks hv's note loads with hv_abi false", "[boot][kernel_loader]") {
    Ram r;
    check_loaded(load_kernel(bzimage_of(hvtest::without_hv_note(pvh_kernel())), {"", {}, 0}, KernelEntry::automatic, r.ram), r,
                 false);
}

TEST_CASE("kernel: KernelEntry::bzimage boots the 64-bit entry, even with a PVH payload", "[boot][kernel_loader][linux64]") {
    const auto bz = bzimage_of(pvh_kernel(), hv::boot::PayloadFormat::xz, small_kernel());
    Ram r;
    check_linux64(load_kernel(bz, {"console=ttyS0", {}, 0xe0000}, KernelEntry::bzimage, r.ram), r, bz, "console=ttyS0", 0xe0000);
    // No initrd: no ramdisk in the zero page.
    CHECK(at<uint32_t>(r.mem, hv::boot::kBootParamsGpa + 0x218) == 0u);
    CHECK(at<uint32_t>(r.mem, hv::boot::kBootParamsGpa + 0x21c) == 0u);
    // The PVH ELF inside was not loaded at its address.
    CHECK(int{r.mem[kEntry + 0x1000]} == kPoison);
}

TEST_CASE("kernel: the 64-bit entry puts the initrd below initrd_addr_max", "[boot][kernel_loader][linux64]") {
    const auto bz = bzimage_of(std::vector<uint8_t>(4096, 0x90), hv::boot::PayloadFormat::gzip, small_kernel());
    std::vector<uint8_t> initrd(10000);
    for (size_t i = 0; i < initrd.size(); ++i) initrd[i] = static_cast<uint8_t>(i * 7 + 3);
    const hv::boot::SpanImage initrd_image(initrd);
    Ram r;
    auto res = load_kernel(bz, {"", &initrd_image, 0}, KernelEntry::automatic, r.ram);
    check_linux64(res, r, bz, "", 0);
    const uint32_t image = at<uint32_t>(r.mem, hv::boot::kBootParamsGpa + 0x218);
    CHECK(image == ((kInitrdMax + 1 - initrd.size()) & ~0xfffull)); // as high as initrd_addr_max allows
    CHECK(image % 4096 == 0);
    CHECK(image >= kLoad64 + kInitSize);
    CHECK(at<uint32_t>(r.mem, hv::boot::kBootParamsGpa + 0x21c) == initrd.size());
    CHECK(at<uint32_t>(r.mem, hv::boot::kBootParamsGpa + 0x0c0) == 0u); // ext_ramdisk_image
    CHECK(std::equal(initrd.begin(), initrd.end(), r.mem.begin() + image));
}

TEST_CASE("kernel: 64-bit entry refusals", "[boot][kernel_loader][linux64][errors]") {
    Ram r;
    SECTION("no XLF_KERNEL_64") {
        auto b = small_kernel();
        b.xloadflags = 0;
        check_error(load_kernel(bzimage_of(pvh_kernel(), hv::boot::PayloadFormat::xz, b), {}, KernelEntry::bzimage, r.ram),
                    Errc::bad_image, {"64-bit entry", "XLF_KERNEL_64"});
    }
    SECTION("init_size beyond RAM") {
        // The default header: 32 MiB from 16 MiB.
        check_error(load_kernel(bzimage_of(pvh_kernel()), {}, KernelEntry::bzimage, r.ram), Errc::invalid_argument,
                    {"32 MiB", "0x1000000", "16 MiB of RAM"});
    }
    SECTION("a command line over the kernel's cmdline_size") {
        auto b = small_kernel();
        b.cmdline_size = 8;
        check_error(load_kernel(bzimage_of(pvh_kernel(), hv::boot::PayloadFormat::xz, b), {"123456789", {}, 0},
                                KernelEntry::bzimage, r.ram),
                    Errc::invalid_argument, {"9 bytes", "at most 8"});
    }
    SECTION("an initrd with no room below initrd_addr_max") {
        const std::vector<uint8_t> initrd(kInitrdMax + 1 - (kLoad64 + kInitSize) + 1, 1); // one byte too many
        const hv::boot::SpanImage initrd_image(initrd);
        check_error(load_kernel(bzimage_of(pvh_kernel(), hv::boot::PayloadFormat::xz, small_kernel()), {"", &initrd_image, 0},
                                KernelEntry::bzimage, r.ram),
                    Errc::invalid_argument, {"initrd", "0x7fffff"});
    }
}

TEST_CASE("kernel: the largest initrd below initrd_addr_max fits", "[boot][kernel_loader][linux64]") {
    const std::vector<uint8_t> initrd(kInitrdMax + 1 - (kLoad64 + kInitSize), 1);
    const hv::boot::SpanImage initrd_image(initrd);
    Ram r;
    const auto bz = bzimage_of(pvh_kernel(), hv::boot::PayloadFormat::xz, small_kernel());
    REQUIRE(load_kernel(bz, {"", &initrd_image, 0}, KernelEntry::bzimage, r.ram).ok());
    CHECK(at<uint32_t>(r.mem, hv::boot::kBootParamsGpa + 0x218) == kLoad64 + kInitSize);
}

TEST_CASE("kernel: a plain ELF asked to boot as a bzImage is bad_image", "[boot][kernel_loader][errors]") {
    Ram r;
    check_error(load_kernel(pvh_kernel(), {}, KernelEntry::bzimage, r.ram), Errc::bad_image, {"not a bzImage"});
    check_error(load_kernel(std::vector<uint8_t>(4096, 0), {}, KernelEntry::bzimage, r.ram), Errc::bad_image, {"not a bzImage"});
    CHECK(int{r.mem[kEntry]} == kPoison);
}

TEST_CASE("kernel: a bzImage whose payload is not a PVH ELF", "[boot][kernel_loader][linux64]") {
    std::vector<uint8_t> inner;
    SECTION("payload is not an ELF") { inner = std::vector<uint8_t>(8192, 0x90); }
    SECTION("payload is an ELF without the PVH note") { inner = hvtest::without_pvh_note(pvh_kernel()); }
    const auto bz = bzimage_of(inner, hv::boot::PayloadFormat::xz, small_kernel());
    Ram r;
    // Asked for PVH: the payload has no entry note.
    check_error(load_kernel(bz, {}, KernelEntry::pvh, r.ram), Errc::bad_image, {"payload", "no PVH entry note"});
    CHECK(int{r.mem[kEntry]} == kPoison);
    // Automatic: the kernel decompresses itself, through the 64-bit entry.
    check_linux64(load_kernel(bz, {"quiet", {}, 0}, KernelEntry::automatic, r.ram), r, bz, "quiet", 0);
}

TEST_CASE("kernel: a bzImage payload hv cannot decompress", "[boot][kernel_loader][linux64]") {
    // zstd magic, then anything.
    std::vector<uint8_t> zstd = {0x28, 0xb5, 0x2f, 0xfd};
    zstd.resize(256, 0x11);
    const auto bz = hvtest::bzimage_around(zstd, small_kernel());
    Ram r;
    check_error(load_kernel(bz, {}, KernelEntry::pvh, r.ram), Errc::not_supported, {"zstd payload", "PVH"});
    check_linux64(load_kernel(bz, {"", {}, 0}, KernelEntry::automatic, r.ram), r, bz, "", 0);
}

TEST_CASE("kernel: a corrupt compressed payload or setup header is bad_image", "[boot][kernel_loader][errors]") {
    Ram r;
    SECTION("xz payload corrupted") {
        auto packed = hvtest::xz_compress(pvh_kernel());
        packed[packed.size() / 2] ^= 0xff;
        check_error(load_kernel(hvtest::bzimage_around(packed), {}, KernelEntry::automatic, r.ram), Errc::bad_image,
                    {"xz payload"});
    }
    SECTION("xz payload truncated") {
        auto packed = hvtest::xz_compress(pvh_kernel());
        packed.resize(packed.size() / 2);
        check_error(load_kernel(hvtest::bzimage_around(packed), {}, KernelEntry::automatic, r.ram), Errc::bad_image,
                    {"xz payload", "truncated"});
    }
    SECTION("payload runs past the file") {
        hvtest::BzImageBuilder b;
        b.payload_length = 0x100000;
        check_error(load_kernel(b.build(), {}, KernelEntry::automatic, r.ram), Errc::bad_image, {"bzImage:", "payload"});
    }
    CHECK(int{r.mem[kEntry]} == kPoison);
}

TEST_CASE("kernel: a payload that decompresses past guest RAM is refused", "[boot][kernel_loader][errors]") {
    // 5 MiB of zeros (a few KiB compressed) for a 4 MiB guest: the cap is
    // the guest's RAM, not kMaxDecompressed.
    const auto bz = bzimage_of(std::vector<uint8_t>(5u << 20, 0), hv::boot::PayloadFormat::gzip);
    REQUIRE(bz.size() < (1u << 20));
    Ram r(4ull << 20);
    check_error(load_kernel(bz, {}, KernelEntry::automatic, r.ram), Errc::bad_image, {"gzip payload", "more than 4 MiB"});
    check_error(load_kernel(bz, {}, KernelEntry::pvh, r.ram), Errc::bad_image, {"more than 4 MiB"});
}

TEST_CASE("kernel: the bzImage's cmdline_size limits the PVH path too", "[boot][kernel_loader][errors]") {
    auto b = small_kernel();
    b.cmdline_size = 12;
    const auto bz = bzimage_of(pvh_kernel(), hv::boot::PayloadFormat::xz, b);
    Ram r;
    check_error(load_kernel(bz, {"console=ttyS0", {}, 0}, KernelEntry::automatic, r.ram), Errc::invalid_argument,
                {"13 bytes", "at most 12"});
    check_error(load_kernel(bz, {"console=ttyS0", {}, 0}, KernelEntry::pvh, r.ram), Errc::invalid_argument, {"at most 12"});
    // Exactly cmdline_size bytes is fine.
    Ram ok;
    check_loaded(load_kernel(bz, {"console=tty0", {}, 0}, KernelEntry::automatic, ok.ram), ok, true);
}

TEST_CASE("kernel: has_pvh_note and speaks_hv_abi", "[boot][kernel_loader][notes]") {
    const auto elf = pvh_kernel();
    CHECK(hv::boot::has_pvh_note(elf));
    CHECK(hv::boot::speaks_hv_abi(elf));

    const auto stock = hvtest::without_hv_note(elf);
    CHECK(hv::boot::has_pvh_note(stock));
    CHECK_FALSE(hv::boot::speaks_hv_abi(stock));

    const auto no_entry = hvtest::without_pvh_note(elf);
    CHECK_FALSE(hv::boot::has_pvh_note(no_entry));
    CHECK(hv::boot::speaks_hv_abi(no_entry));

    const auto neither = hvtest::without_pvh_note(stock);
    CHECK_FALSE(hv::boot::has_pvh_note(neither));
    CHECK_FALSE(hv::boot::speaks_hv_abi(neither));

    // Malformed input is simply false.
    CHECK_FALSE(hv::boot::has_pvh_note({}));
    CHECK_FALSE(hv::boot::speaks_hv_abi({}));
    const std::vector<uint8_t> junk(4096, 0x7f);
    CHECK_FALSE(hv::boot::has_pvh_note(junk));
    CHECK_FALSE(hv::boot::speaks_hv_abi(junk));
    const std::vector<uint8_t> header_only(elf.begin(), elf.begin() + 64);
    CHECK_FALSE(hv::boot::has_pvh_note(header_only));
    CHECK_FALSE(hv::boot::speaks_hv_abi(header_only));
    // A note segment running past the file hides both notes.
    auto broken = elf;
    hvtest::for_each_phdr(broken, [&](uint64_t off, Elf64_Phdr ph) {
        if (ph.p_type != PT_NOTE) return;
        ph.p_filesz = broken.size();
        hvtest::elf_set(broken, off, ph);
    });
    CHECK_FALSE(hv::boot::has_pvh_note(broken));
    CHECK_FALSE(hv::boot::speaks_hv_abi(broken));
}

TEST_CASE("kernel: an hv note with another owner length or type does not count", "[boot][kernel_loader][notes]") {
    auto elf = pvh_kernel();
    // "hv" without its NUL (namesz 2) is not hv's owner.
    hvtest::for_each_note(elf, [&](uint64_t off, Elf64_Nhdr nh, const std::string& name) {
        if (name != std::string(HV_ELFNOTE_OWNER, sizeof HV_ELFNOTE_OWNER)) return;
        nh.n_namesz = 2;
        hvtest::elf_set(elf, off, nh);
    });
    CHECK_FALSE(hv::boot::speaks_hv_abi(elf));
    CHECK(hv::boot::has_pvh_note(elf));
}

TEST_CASE("kernel: an initrd goes page-aligned at the top of RAM with its module entry", "[boot][kernel_loader][initrd]") {
    std::vector<uint8_t> initrd(5000);
    for (size_t i = 0; i < initrd.size(); ++i) initrd[i] = static_cast<uint8_t>(i * 13 + 5);
    const hv::boot::SpanImage initrd_image(initrd);
    for (bool via_bz : {false, true}) {
        INFO((via_bz ? "bzImage" : "ELF"));
        const auto image = via_bz ? bzimage_of(pvh_kernel()) : pvh_kernel();
        Ram r;
        auto res = load_kernel(image, {"root=/dev/ram0", &initrd_image, 0}, KernelEntry::automatic, r.ram);
        INFO((res ? std::string() : res.error().message));
        REQUIRE(res.ok());
        const auto si = start_info(r);
        REQUIRE(si.nr_modules == 1u);
        CHECK(si.modlist_paddr == hv::boot::kModlistGpa);
        hv_pvh_modlist_entry_t mod{};
        REQUIRE(r.ram.read(si.modlist_paddr, &mod, sizeof mod));
        const uint64_t want = (kRamSize - initrd.size()) & ~0xfffull; // 0xffe000
        CHECK(mod.paddr == want);
        CHECK(mod.paddr % 4096 == 0);
        CHECK(mod.size == initrd.size());
        CHECK(mod.cmdline_paddr == 0u);
        CHECK(mod.reserved == 0u);
        CHECK(mod.paddr + mod.size <= kRamSize);
        CHECK(mod.paddr + mod.size > kRamSize - 4096); // as high as it goes
        CHECK(mod.paddr >= res->image_end);
        CHECK(std::equal(initrd.begin(), initrd.end(), r.mem.begin() + static_cast<long>(want)));
        // Around it RAM is untouched.
        CHECK(int{r.mem[want - 1]} == kPoison);
        CHECK(int{r.mem[want + initrd.size()]} == kPoison);
    }
}

TEST_CASE("kernel: an initrd that does not fit is invalid_argument naming the initrd", "[boot][kernel_loader][initrd]") {
    Ram r;
    SECTION("as big as RAM") {
        const std::vector<uint8_t> initrd(kRamSize, 1);
        const hv::boot::SpanImage initrd_image(initrd);
        check_error(load_kernel(pvh_kernel(), {"", &initrd_image, 0}, KernelEntry::automatic, r.ram), Errc::invalid_argument,
                    {"initrd", "16 MiB"});
    }
    SECTION("it would overlap the kernel") {
        // The kernel ends a few bytes past 1 MiB: an initrd starting at
        // 1 MiB would cover it.
        const std::vector<uint8_t> initrd(kRamSize - 0x100000, 1);
        const hv::boot::SpanImage initrd_image(initrd);
        check_error(load_kernel(bzimage_of(pvh_kernel()), {"", &initrd_image, 0}, KernelEntry::automatic, r.ram),
                    Errc::invalid_argument, {"initrd", "above the kernel"});
    }
    // The initrd was not copied.
    CHECK(int{r.mem[kRamSize - 1]} == kPoison);
}

TEST_CASE("kernel: the largest initrd that fits starts on the page after the kernel", "[boot][kernel_loader][initrd]") {
    Ram r;
    const std::vector<uint8_t> initrd(kRamSize - 0x101000, 2);
    const hv::boot::SpanImage initrd_image(initrd);
    auto res = load_kernel(pvh_kernel(), {"", &initrd_image, 0}, KernelEntry::automatic, r.ram);
    INFO((res ? std::string() : res.error().message));
    REQUIRE(res.ok());
    hv_pvh_modlist_entry_t mod{};
    REQUIRE(r.ram.read(hv::boot::kModlistGpa, &mod, sizeof mod));
    CHECK(mod.paddr == 0x101000u);
    CHECK(mod.size == initrd.size());
    CHECK(int{r.mem[kRamSize - 1]} == 2);
    // The kernel is intact below it.
    const auto code = hvbench::first_byte_code();
    CHECK(std::equal(code.begin(), code.end(), r.mem.begin() + kEntry));
}

TEST_CASE("kernel: no initrd leaves no module", "[boot][kernel_loader][initrd]") {
    Ram r;
    REQUIRE(load_kernel(pvh_kernel(), {"", {}, 0}, KernelEntry::automatic, r.ram).ok());
    const auto si = start_info(r);
    CHECK(si.nr_modules == 0u);
    CHECK(si.modlist_paddr == 0u);
    CHECK(int{r.mem[kRamSize - 1]} == kPoison);
}

TEST_CASE("kernel: the RSDP address lands in start_info", "[boot][kernel_loader]") {
    for (bool via_bz : {false, true}) {
        Ram r;
        const auto image = via_bz ? bzimage_of(pvh_kernel()) : pvh_kernel();
        REQUIRE(load_kernel(image, {"", {}, hv::core::kFirmwareBase}, KernelEntry::automatic, r.ram).ok());
        CHECK(start_info(r).rsdp_paddr == 0xe0000u);
    }
    Ram none;
    REQUIRE(load_kernel(pvh_kernel(), {"", {}, 0}, KernelEntry::automatic, none.ram).ok());
    CHECK(start_info(none).rsdp_paddr == 0u);
}

TEST_CASE("kernel: place_initrd limits", "[boot][kernel_loader][initrd]") {
    using hv::boot::place_initrd;
    // place_initrd reads only the RAM size: no memory needed behind it.
    const hv::core::GuestRam ram16{nullptr, 16ull << 20};
    const uint64_t none = UINT64_MAX;
    SECTION("empty: nowhere") { CHECK(place_initrd(0, 0, none, ram16) == 0u); }
    SECTION("one page or less: the last page") {
        CHECK(place_initrd(1, 0, none, ram16) == (16ull << 20) - 0x1000);
        CHECK(place_initrd(0x1000, 0, none, ram16) == (16ull << 20) - 0x1000);
        CHECK(place_initrd(0x1001, 0, none, ram16) == (16ull << 20) - 0x2000);
    }
    SECTION("never below 1 MiB, whatever the floor") {
        CHECK(place_initrd((15ull << 20), 0, none, ram16) == 0x100000u);
        CHECK(place_initrd((15ull << 20) + 1, 0, none, ram16) == 0u);
        CHECK(place_initrd(16ull << 20, 0, none, ram16) == 0u);
        CHECK(place_initrd((16ull << 20) + 1, 0, none, ram16) == 0u);
    }
    SECTION("at or above the floor") {
        CHECK(place_initrd(0x1000, (16ull << 20) - 0x1000, none, ram16) == (16ull << 20) - 0x1000);
        CHECK(place_initrd(0x1000, (16ull << 20) - 0xfff, none, ram16) == 0u);
        CHECK(place_initrd(0x1000, 16ull << 20, none, ram16) == 0u);
        CHECK(place_initrd(1, UINT64_MAX, none, ram16) == 0u);
    }
    SECTION("the ceiling is the last byte it may use") {
        CHECK(place_initrd(0x1000, 0, 0x7fffff, ram16) == 0x7ff000u);
        CHECK(place_initrd(0x1000, 0, 0x7ffffe, ram16) == 0x7fe000u);
        CHECK(place_initrd(0x1000, 0, UINT64_MAX - 1, ram16) == (16ull << 20) - 0x1000); // above RAM: RAM's end
        CHECK(place_initrd(0x1000, 0, 0, ram16) == 0u);
        CHECK(place_initrd(0x1000, 0, 0x100fff, ram16) == 0x100000u);
        CHECK(place_initrd(0x1000, 0, 0x100ffe, ram16) == 0u);
        CHECK(place_initrd(0x1000, 0x200000, 0x1fffff, ram16) == 0u); // ceiling under the floor
    }
    SECTION("RAM beyond the device window: below kMaxPcRam") {
        const hv::core::GuestRam big{nullptr, 8ull << 30};
        CHECK(place_initrd(0x1000, 0, none, big) == hv::core::kMaxPcRam - 0x1000);
        CHECK(place_initrd(100ull << 20, 0, none, big) == hv::core::kMaxPcRam - (100ull << 20));
        const hv::core::GuestRam exact{nullptr, hv::core::kMaxPcRam};
        CHECK(place_initrd(0x1000, 0, none, exact) == hv::core::kMaxPcRam - 0x1000);
    }
    SECTION("RAM size not page-aligned: rounded down inside RAM") {
        const hv::core::GuestRam odd{nullptr, (16ull << 20) + 0x123};
        const uint64_t at = place_initrd(0x1000, 0, none, odd);
        CHECK(at == (16ull << 20) - 0x1000); // (end - size) & ~0xfff
        CHECK(at + 0x1000 <= odd.size);
    }
}

TEST_CASE("kernel: a segment overlapping the reserved legacy hole or firmware area is refused", "[boot][kernel_loader][errors]") {
    const auto elf = pvh_kernel();
    uint64_t paddr = 0, memsz = 0;
    SECTION("ends one byte into it") {
        paddr = 0xd0000;
        memsz = 0x10001;
    }
    SECTION("starts at its last byte") {
        paddr = 0xfffff;
        memsz = 0x10;
    }
    SECTION("inside it") {
        paddr = 0xe8000;
        memsz = 0x100;
    }
    SECTION("covers it") {
        paddr = 0xc0000;
        memsz = 0x80000;
    }
    SECTION("in the legacy hole") {
        paddr = 0xa0000;
        memsz = 0x100;
    }
    SECTION("ends one byte into the legacy hole") {
        paddr = 0x90000;
        memsz = 0x10001;
    }
    Ram r;
    check_error(load_kernel(hvtest::moved_to(elf, paddr, memsz), {}, KernelEntry::automatic, r.ram), Errc::bad_image,
                {"segment 0", "overlaps the reserved area 0xa0000-0x100000"});
    check_error(load_kernel(bzimage_of(hvtest::moved_to(elf, paddr, memsz)), {}, KernelEntry::automatic, r.ram),
                Errc::bad_image, {"overlaps the reserved area"});
    CHECK(int{r.mem[paddr]} == kPoison);
}

TEST_CASE("kernel: segments right next to the reserved area load", "[boot][kernel_loader]") {
    const auto elf = pvh_kernel();
    const auto code = hvbench::first_byte_code();
    SECTION("ending at its start") {
        Ram r;
        auto res = load_kernel(hvtest::moved_to(elf, 0x90000, 0x10000), {}, KernelEntry::automatic, r.ram);
        INFO((res ? std::string() : res.error().message));
        REQUIRE(res.ok());
        CHECK(res->entry == 0x90000u);
        CHECK(res->image_end == 0xa0000u);
        CHECK(std::equal(code.begin(), code.end(), r.mem.begin() + 0x90000));
        CHECK(int{r.mem[0x9ffff]} == 0); // bss
        CHECK(int{r.mem[0xa0000]} == kPoison);
    }
    SECTION("starting at its end") {
        Ram r;
        auto res = load_kernel(hvtest::moved_to(elf, 0x100000, 0x1000), {}, KernelEntry::automatic, r.ram);
        REQUIRE(res.ok());
        CHECK(int{r.mem[0xfffff]} == kPoison);
    }
}

TEST_CASE("kernel: read_kernel_file names what it reads", "[boot][kernel_loader]") {
    auto missing = hv::boot::read_kernel_file("/nonexistent/hv-initrd.img", "initrd");
    check_error(missing, Errc::not_found, {"initrd /nonexistent/hv-initrd.img"});
    const hvbench::TempFile f(pvh_kernel());
    auto ok = hv::boot::read_kernel_file(f.path(), "initrd");
    REQUIRE(ok.ok());
    CHECK(*ok == pvh_kernel());
}
