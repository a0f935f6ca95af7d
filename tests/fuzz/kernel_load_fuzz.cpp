// Fuzz target for loading a kernel file, hv::boot::load_kernel
// (libhv/boot/kernel_loader.cpp) with what it calls: the bzImage header
// reader (bzimage.cpp), the payload decompressor (payload.cpp: liblzma and
// zlib), the PVH ELF loader (pvh_loader.cpp) and the Linux 64-bit boot
// protocol loader (linux64_loader.cpp), on the bytes of a kernel file a
// domain config names. Each input is loaded into a 16 MiB guest RAM with a
// command line, a small initrd and an RSDP address, with every
// KernelEntry. Besides "no crash" (and no sanitizer report), it checks,
// aborting on the first broken:
//   - a bzImage payload decompresses (decompress_payload, capped at 8 MiB)
//     to at most the cap, or is refused with Errc::bad_image and a message
//     naming its format; a format hv does not decompress is not_supported;
//   - load_kernel does what its contract says: an input that is not a
//     bzImage loads exactly as load_pvh loads it (automatic and pvh entry)
//     and KernelEntry::bzimage refuses it as bad_image; a bzImage header
//     read_bzimage refuses is that refusal on every entry;
//     KernelEntry::bzimage on a bzImage is exactly load_linux64; a bzImage
//     whose payload is a PVH ELF loads exactly as load_pvh loads that
//     payload (automatic and pvh), unless the command line is longer than
//     the header's cmdline_size (invalid_argument); one whose payload is
//     no PVH ELF, or in a format hv does not decompress, is load_linux64
//     (automatic) and bad_image or not_supported naming the format (pvh);
//   - a refusal is bad_image, not_supported or invalid_argument with a
//     message;
//   - a PVH load has its entry and image end inside RAM, the hv_abi its
//     notes say, and a start_info in RAM with hv's magic, the command
//     line, core::memory_map's map, the RSDP address, and one module: the
//     initrd's bytes, page-aligned above the kernel and inside RAM;
//   - a 64-bit load has the protected-mode kernel's bytes at an aligned
//     address at or above 1 MiB with init_size inside usable RAM, and a
//     zero page with the setup header, the command line, the RSDP, e820
//     from core::memory_map and the initrd, page-aligned above the kernel
//     and below initrd_addr_max, its bytes in RAM.
// load_kernel decompresses with its own cap, larger than the target's, so
// it is called with a decompressible bzImage's automatic or pvh entry only
// once decompress_payload has shown the payload fits in 8 MiB: nothing
// here allocates by a size the input chooses beyond that (liblzma's own
// 128 MiB memory limit aside).
//
// Built two ways: as a libFuzzer binary (tests/fuzz/meson.build, with
// HV_LIBFUZZER defined) and into the unit tests, whose smoke test calls
// hv::fuzz::kernel_load_fuzz_check directly.
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "boot/bzimage.hpp"
#include "boot/kernel_loader.hpp"
#include "boot/linux64_loader.hpp"
#include "boot/payload.hpp"
#include "boot/pvh_loader.hpp"
#include "core/guest_ram.hpp"
#include "core/memory_map.hpp"
#include "hv/abi/pvh.h"

#include "fuzz_check.hpp"
#include "kernel_load_fuzz.hpp"

namespace hv::fuzz {

namespace {

constexpr std::string_view kCmdline = "console=ttyS0 root=/dev/ram0";
constexpr uint8_t kInitrd[] = {0x30, 0x37, 0x30, 0x37, 0x30, 0x31, 'h', 'v', 0x00, 0xff}; // "070701" newc magic, then anything

// One guest RAM for every input (allocated once: the target must stay fast).
const core::GuestRam& guest_ram() {
    static std::vector<uint8_t> mem(kKernelLoadFuzzRam);
    static const core::GuestRam ram{mem.data(), mem.size()};
    return ram;
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

bool same(const Result<boot::BootInfo>& a, const Result<boot::BootInfo>& b) {
    if (a.ok() != b.ok()) return false;
    if (!a.ok()) return a.error().code == b.error().code && a.error().message == b.error().message;
    return a->mode == b->mode && a->entry == b->entry && a->start_info == b->start_info && a->image_end == b->image_end &&
           a->hv_abi == b->hv_abi;
}

// A refusal any loader may give.
std::string check_refusal(const Error& e) {
    HV_FUZZ_CHECK(e.code == Errc::bad_image || e.code == Errc::not_supported || e.code == Errc::invalid_argument,
                  "a refusal other than bad_image, not_supported or invalid_argument");
    HV_FUZZ_CHECK(!e.message.empty(), "a refusal without a message");
    return {};
}

// What a successful load of the ELF `elf` left in guest RAM.
std::string check_loaded(const boot::BootInfo& info, std::span<const uint8_t> elf) {
    const core::GuestRam& ram = guest_ram();
    HV_FUZZ_CHECK(info.mode == boot::BootInfo::Mode::pvh, "a PVH load that is not in PVH mode");
    HV_FUZZ_CHECK(info.start_info == boot::kStartInfoGpa, "start_info not at kStartInfoGpa");
    HV_FUZZ_CHECK(info.entry < ram.size, "the entry is outside RAM");
    HV_FUZZ_CHECK(info.image_end > info.entry && info.image_end <= ram.size, "the image end is not past the entry inside RAM");
    HV_FUZZ_CHECK(boot::has_pvh_note(elf), "loaded an ELF has_pvh_note() says has no PVH note");
    HV_FUZZ_CHECK(info.hv_abi == boot::speaks_hv_abi(elf), "hv_abi differs from speaks_hv_abi()");

    hv_pvh_start_info_t si{};
    HV_FUZZ_CHECK(ram.read(boot::kStartInfoGpa, &si, sizeof si), "start_info outside RAM");
    HV_FUZZ_CHECK(si.magic == HV_PVH_START_MAGIC && si.version == 1 && si.flags == 0, "start_info header");
    HV_FUZZ_CHECK(si.cmdline_paddr == boot::kCmdlineGpa, "command line address");
    const uint8_t* cmd = ram.at(boot::kCmdlineGpa, kCmdline.size() + 1);
    HV_FUZZ_CHECK(cmd != nullptr && std::memcmp(cmd, kCmdline.data(), kCmdline.size()) == 0 && cmd[kCmdline.size()] == 0,
                  "the command line in RAM is not the one given");
    HV_FUZZ_CHECK(si.rsdp_paddr == core::kFirmwareBase, "rsdp_paddr is not the one given");

    core::MemoryRegion want[core::kMaxMemoryRegions];
    const uint32_t n = core::memory_map(ram.size, want);
    HV_FUZZ_CHECK(si.memmap_paddr == boot::kMemmapGpa && si.memmap_entries == n, "memory map address or size");
    for (uint32_t i = 0; i < n; ++i) {
        hv_pvh_memmap_entry_t e{};
        HV_FUZZ_CHECK(ram.read(si.memmap_paddr + i * sizeof e, &e, sizeof e), "memory map outside RAM");
        HV_FUZZ_CHECK(e.addr == want[i].base && e.size == want[i].size && e.type == static_cast<uint32_t>(want[i].type),
                      "memory map entry differs from core::memory_map");
    }

    HV_FUZZ_CHECK(si.nr_modules == 1 && si.modlist_paddr == boot::kModlistGpa, "the initrd's module entry is missing");
    hv_pvh_modlist_entry_t mod{};
    HV_FUZZ_CHECK(ram.read(si.modlist_paddr, &mod, sizeof mod), "module list outside RAM");
    HV_FUZZ_CHECK(mod.size == sizeof kInitrd && mod.cmdline_paddr == 0, "module size or command line");
    HV_FUZZ_CHECK(mod.paddr % 4096 == 0, "the initrd is not page-aligned");
    HV_FUZZ_CHECK(mod.paddr >= info.image_end && mod.paddr >= core::kHighRamBase, "the initrd overlaps the kernel or low memory");
    const uint8_t* rd = ram.at(mod.paddr, mod.size);
    HV_FUZZ_CHECK(rd != nullptr, "the initrd is outside RAM");
    HV_FUZZ_CHECK(std::memcmp(rd, kInitrd, sizeof kInitrd) == 0, "the initrd's bytes in RAM differ");
    return {};
}

template <class T>
T ram_at(uint64_t gpa) {
    T v{};
    guest_ram().read(gpa, &v, sizeof v);
    return v;
}

// What a successful 64-bit boot-protocol load of `image` left in RAM.
std::string check_linux64(const boot::BootInfo& info, std::span<const uint8_t> image, const boot::BzImage& bz) {
    const core::GuestRam& ram = guest_ram();
    HV_FUZZ_CHECK(info.mode == boot::BootInfo::Mode::linux64, "a 64-bit load that is not in linux64 mode");
    HV_FUZZ_CHECK(info.start_info == boot::kBootParamsGpa, "the zero page is not at kBootParamsGpa");
    HV_FUZZ_CHECK(!info.hv_abi, "a bzImage booted through the 64-bit entry claims hv's ABI");
    HV_FUZZ_CHECK(info.entry >= core::kHighRamBase + 0x200, "the kernel is loaded below 1 MiB");
    const uint64_t load = info.entry - 0x200;
    const uint64_t align = bz.kernel_alignment > 0x1000 ? bz.kernel_alignment : 0x1000;
    HV_FUZZ_CHECK(load % align == 0, "the kernel is not loaded at its alignment");
    const uint64_t need = bz.init_size > bz.kernel_size ? bz.init_size : bz.kernel_size;
    HV_FUZZ_CHECK(info.image_end == load + need, "image_end is not load + max(init_size, kernel size)");
    HV_FUZZ_CHECK(info.image_end <= ram.size && info.image_end <= core::kMaxPcRam, "the kernel's init_size runs past usable RAM");
    const uint8_t* k = ram.at(load, bz.kernel_size);
    HV_FUZZ_CHECK(k != nullptr && std::memcmp(k, image.data() + bz.kernel_offset, bz.kernel_size) == 0,
                  "the protected-mode kernel in RAM differs from the file's");

    const uint64_t zp = boot::kBootParamsGpa;
    HV_FUZZ_CHECK(ram_at<uint32_t>(zp + 0x202) == 0x53726448u, "the zero page lacks the setup header");
    HV_FUZZ_CHECK(ram_at<uint8_t>(zp + 0x210) == 0xff && (ram_at<uint8_t>(zp + 0x211) & 1u) != 0,
                  "type_of_loader or LOADED_HIGH");
    HV_FUZZ_CHECK(ram_at<uint32_t>(zp + 0x228) == boot::kCmdlineGpa, "cmd_line_ptr");
    const uint8_t* cmd = ram.at(boot::kCmdlineGpa, kCmdline.size() + 1);
    HV_FUZZ_CHECK(cmd != nullptr && std::memcmp(cmd, kCmdline.data(), kCmdline.size()) == 0 && cmd[kCmdline.size()] == 0,
                  "the command line in RAM is not the one given");
    HV_FUZZ_CHECK(ram_at<uint64_t>(zp + 0x070) == core::kFirmwareBase, "acpi_rsdp_addr is not the one given");
    core::MemoryRegion want[core::kMaxMemoryRegions];
    const uint32_t n = core::memory_map(ram.size, want);
    HV_FUZZ_CHECK(ram_at<uint8_t>(zp + 0x1e8) == n, "e820_entries");
    for (uint32_t i = 0; i < n; ++i) {
        const uint64_t e = zp + 0x2d0 + 20 * uint64_t{i};
        HV_FUZZ_CHECK(ram_at<uint64_t>(e) == want[i].base && ram_at<uint64_t>(e + 8) == want[i].size &&
                          ram_at<uint32_t>(e + 16) == static_cast<uint32_t>(want[i].type),
                      "an e820 entry differs from core::memory_map");
    }
    const uint64_t rd = ram_at<uint32_t>(zp + 0x218) | (uint64_t{ram_at<uint32_t>(zp + 0x0c0)} << 32);
    HV_FUZZ_CHECK(ram_at<uint32_t>(zp + 0x21c) == sizeof kInitrd, "ramdisk_size");
    HV_FUZZ_CHECK(rd % 4096 == 0 && rd >= info.image_end, "the initrd is not page-aligned above the kernel");
    HV_FUZZ_CHECK(rd + sizeof kInitrd - 1 <= bz.initrd_addr_max, "the initrd runs past initrd_addr_max");
    const uint8_t* p = ram.at(rd, sizeof kInitrd);
    HV_FUZZ_CHECK(p != nullptr && std::memcmp(p, kInitrd, sizeof kInitrd) == 0, "the initrd's bytes in RAM differ");
    return {};
}

// One load_kernel result against the model's expectation. `elf` is the
// ELF a success loaded (the input, or the bzImage's payload).
std::string check_result(const Result<boot::BootInfo>& got, const Result<boot::BootInfo>& want, std::span<const uint8_t> elf,
                         const char* what) {
    HV_FUZZ_CHECK(same(got, want), std::string("load_kernel (") + what + ") differs from what its contract says");
    if (!got) return check_refusal(got.error());
    return check_loaded(*got, elf);
}

} // namespace

std::string kernel_load_fuzz_check(const uint8_t* data, size_t size, KernelLoadFuzzStats& stats) {
    const std::span<const uint8_t> image(data, size);
    const core::GuestRam& ram = guest_ram();
    const boot::SpanImage initrd(kInitrd);
    const boot::BootRequest req{kCmdline, &initrd, core::kFirmwareBase};
    const auto load = [&](boot::KernelEntry e) { return boot::load_kernel(image, req, e, ram); };
    const auto count = [&](const Result<boot::BootInfo>& automatic) {
        ++(automatic ? stats.loaded : stats.refused);
        if (automatic && automatic->mode == boot::BootInfo::Mode::linux64) ++stats.linux64;
    };

    if (!boot::looks_like_bzimage(image)) {
        // A plain ELF (or anything else): load_pvh's answer, twice, and
        // never the 64-bit entry.
        auto b64 = load(boot::KernelEntry::bzimage);
        HV_FUZZ_CHECK(!b64 && b64.error().code == Errc::bad_image, "KernelEntry::bzimage on a non-bzImage is not bad_image");
        auto want = boot::load_pvh(image, req, ram);
        if (want) {
            if (auto why = check_loaded(*want, image); !why.empty()) return why;
        }
        auto automatic = load(boot::KernelEntry::automatic);
        if (auto why = check_result(automatic, want, image, "automatic"); !why.empty()) return why;
        auto pvh = load(boot::KernelEntry::pvh);
        if (auto why = check_result(pvh, want, image, "pvh"); !why.empty()) return why;
        count(automatic);
        return {};
    }

    auto bz = boot::read_bzimage(image);
    if (!bz) {
        // Every entry gives read_bzimage's refusal.
        HV_FUZZ_CHECK(bz.error().code == Errc::bad_image && starts_with(bz.error().message, "bzImage: "),
                      "read_bzimage refused with something else than a bzImage bad_image");
        const Result<boot::BootInfo> want = bz.error();
        for (auto e : {boot::KernelEntry::automatic, boot::KernelEntry::pvh, boot::KernelEntry::bzimage})
            HV_FUZZ_CHECK(same(load(e), want), "load_kernel does not pass read_bzimage's refusal on");
        ++stats.refused;
        return {};
    }
    ++stats.bzimages;
    HV_FUZZ_CHECK(bz->payload_offset <= size && bz->payload_length <= size - bz->payload_offset, "payload outside the file");
    const auto payload = image.subspan(bz->payload_offset, bz->payload_length);
    const char* format = boot::payload_format_name(bz->payload_format);

    // The 64-bit entry, chosen or as the fallback: load_linux64's answer.
    const auto check_64 = [&](boot::KernelEntry e, const char* what) -> std::string {
        auto want = boot::load_linux64(image, *bz, req, ram);
        if (want) {
            if (auto why = check_linux64(*want, image, *bz); !why.empty()) return why;
        }
        auto got = load(e);
        HV_FUZZ_CHECK(same(got, want), std::string("load_kernel (") + what + ") differs from load_linux64");
        if (e == boot::KernelEntry::automatic) count(got);
        if (!got) return check_refusal(got.error());
        return check_linux64(*got, image, *bz);
    };
    if (auto why = check_64(boot::KernelEntry::bzimage, "bzimage"); !why.empty()) return why;

    if (!boot::can_decompress(bz->payload_format)) {
        auto d = boot::decompress_payload(payload, bz->payload_format, kKernelLoadFuzzMaxOut);
        HV_FUZZ_CHECK(!d && d.error().code == Errc::not_supported, "decompressed a format can_decompress() refuses");
        auto pvh = load(boot::KernelEntry::pvh);
        HV_FUZZ_CHECK(!pvh && pvh.error().code == Errc::not_supported, "pvh: an undecompressible payload is not not_supported");
        HV_FUZZ_CHECK(pvh.error().message.find(format) != std::string::npos, "pvh: the refusal does not name the format");
        return check_64(boot::KernelEntry::automatic, "automatic");
    }

    auto elf = boot::decompress_payload(payload, bz->payload_format, kKernelLoadFuzzMaxOut);
    if (!elf) {
        HV_FUZZ_CHECK(elf.error().code == Errc::bad_image, "a decompression refusal other than bad_image");
        HV_FUZZ_CHECK(starts_with(elf.error().message, std::string(format) + " payload: "),
                      "a decompression refusal that does not name the format");
        // load_kernel would decompress again with a larger cap: not here.
        ++stats.refused;
        return {};
    }
    HV_FUZZ_CHECK(elf->size() <= kKernelLoadFuzzMaxOut, "decompressed past max_out");
    ++stats.decompressed;

    if (!boot::has_pvh_note(*elf)) {
        auto pvh = load(boot::KernelEntry::pvh);
        HV_FUZZ_CHECK(!pvh && pvh.error().code == Errc::bad_image, "pvh: a payload without the PVH note is not bad_image");
        return check_64(boot::KernelEntry::automatic, "automatic");
    }
    // A PVH ELF payload: load_pvh's answer on it, twice (each result is
    // checked against RAM before the next load rewrites it), unless the
    // command line is longer than the kernel's setup header allows.
    if (kCmdline.size() > bz->cmdline_size) {
        for (auto e : {boot::KernelEntry::automatic, boot::KernelEntry::pvh}) {
            auto r = load(e);
            HV_FUZZ_CHECK(!r && r.error().code == Errc::invalid_argument &&
                              r.error().message.find("command line") != std::string::npos,
                          "a command line over cmdline_size is not refused as such");
        }
        ++stats.refused;
        return {};
    }
    auto want = boot::load_pvh(*elf, req, ram);
    if (want) {
        if (auto why = check_loaded(*want, *elf); !why.empty()) return why;
    }
    auto automatic = load(boot::KernelEntry::automatic);
    if (auto why = check_result(automatic, want, *elf, "automatic"); !why.empty()) return why;
    auto pvh = load(boot::KernelEntry::pvh);
    if (auto why = check_result(pvh, want, *elf, "pvh"); !why.empty()) return why;
    count(automatic);
    return {};
}

} // namespace hv::fuzz

int hv_kernel_load_fuzz_one(const uint8_t* data, size_t size) {
    return hv::fuzz::run_or_abort("kernel_load_fuzz", hv::fuzz::kernel_load_fuzz_check, data, size);
}

#ifdef HV_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return hv_kernel_load_fuzz_one(data, size); }
#endif
