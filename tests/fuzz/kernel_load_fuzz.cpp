// Fuzz target for loading a kernel file, hv::boot::load_kernel
// (libhv/boot/kernel_loader.cpp) with what it calls: the bzImage header
// reader (bzimage.cpp), the payload decompressor (payload.cpp: liblzma and
// zlib) and the PVH ELF loader (pvh_loader.cpp), on the bytes of a kernel
// file a domain config names. Each input is loaded into a 16 MiB guest RAM
// with a command line, a small initrd and an RSDP address, with every
// KernelEntry. Besides "no crash" (and no sanitizer report), it checks,
// aborting on the first broken:
//   - a bzImage payload decompresses (decompress_payload, capped at 8 MiB)
//     to at most the cap, or is refused with Errc::bad_image and a message
//     naming its format; a format hv does not decompress is not_supported;
//   - load_kernel does what its contract says: an input that is not a
//     bzImage loads exactly as load_pvh loads it (automatic and pvh entry);
//     a bzImage whose payload is a PVH ELF loads exactly as load_pvh loads
//     that payload; one whose payload is not is not_supported (automatic)
//     or bad_image (pvh); a bzImage header read_bzimage refuses is that
//     refusal; KernelEntry::bzimage never loads (not_supported for a
//     bzImage, bad_image for anything else);
//   - a refusal is bad_image, not_supported or invalid_argument with a
//     message;
//   - a kernel that loads has its PVH entry and image end inside RAM, the
//     hv_abi its notes say, and a start_info in RAM with hv's magic, the
//     command line, core::memory_map's map, the RSDP address, and one
//     module: the initrd's bytes, page-aligned above the kernel and inside
//     RAM.
// load_kernel decompresses with its own 512 MiB cap, so it is called on a
// bzImage only once decompress_payload has shown the payload fits in
// 8 MiB: nothing here allocates by a size the input chooses beyond that
// (liblzma's own 128 MiB memory limit aside).
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
    const boot::BootRequest req{kCmdline, std::span<const uint8_t>(kInitrd), core::kFirmwareBase};
    const auto load = [&](std::span<const uint8_t> img, boot::KernelEntry e) { return boot::load_kernel(img, req, e, ram); };

    // KernelEntry::bzimage decompresses nothing and never loads yet.
    {
        auto r = load(image, boot::KernelEntry::bzimage);
        HV_FUZZ_CHECK(!r, "KernelEntry::bzimage loaded something");
        if (!boot::looks_like_bzimage(image))
            HV_FUZZ_CHECK(r.error().code == Errc::bad_image, "KernelEntry::bzimage on a non-bzImage is not bad_image");
        else
            HV_FUZZ_CHECK(r.error().code == Errc::bad_image || r.error().code == Errc::not_supported,
                          "KernelEntry::bzimage on a bzImage is neither bad_image nor not_supported");
        if (auto why = check_refusal(r.error()); !why.empty()) return why;
    }

    if (!boot::looks_like_bzimage(image)) {
        // A plain ELF (or anything else): load_pvh's answer, twice.
        auto want = boot::load_pvh(image, req, ram);
        if (want) {
            if (auto why = check_loaded(*want, image); !why.empty()) return why;
        }
        auto automatic = load(image, boot::KernelEntry::automatic);
        if (auto why = check_result(automatic, want, image, "automatic"); !why.empty()) return why;
        auto pvh = load(image, boot::KernelEntry::pvh);
        if (auto why = check_result(pvh, want, image, "pvh"); !why.empty()) return why;
        ++(automatic ? stats.loaded : stats.refused);
        return {};
    }

    auto bz = boot::read_bzimage(image);
    if (!bz) {
        // Every entry gives read_bzimage's refusal.
        HV_FUZZ_CHECK(bz.error().code == Errc::bad_image && starts_with(bz.error().message, "bzImage: "),
                      "read_bzimage refused with something else than a bzImage bad_image");
        const Result<boot::BootInfo> want = bz.error();
        for (auto e : {boot::KernelEntry::automatic, boot::KernelEntry::pvh})
            HV_FUZZ_CHECK(same(load(image, e), want), "load_kernel does not pass read_bzimage's refusal on");
        ++stats.refused;
        return {};
    }
    ++stats.bzimages;
    HV_FUZZ_CHECK(bz->payload_offset <= size && bz->payload_length <= size - bz->payload_offset, "payload outside the file");
    const auto payload = image.subspan(bz->payload_offset, bz->payload_length);
    const char* format = boot::payload_format_name(bz->payload_format);

    if (!boot::can_decompress(bz->payload_format)) {
        auto d = boot::decompress_payload(payload, bz->payload_format, kKernelLoadFuzzMaxOut);
        HV_FUZZ_CHECK(!d && d.error().code == Errc::not_supported, "decompressed a format can_decompress() refuses");
        auto automatic = load(image, boot::KernelEntry::automatic);
        auto pvh = load(image, boot::KernelEntry::pvh);
        HV_FUZZ_CHECK(!automatic && automatic.error().code == Errc::not_supported, "automatic: not not_supported");
        HV_FUZZ_CHECK(!pvh && pvh.error().code == Errc::not_supported, "pvh: not not_supported");
        HV_FUZZ_CHECK(pvh.error().message.find(format) != std::string::npos, "pvh: the refusal does not name the format");
        ++stats.refused;
        return {};
    }

    auto elf = boot::decompress_payload(payload, bz->payload_format, kKernelLoadFuzzMaxOut);
    if (!elf) {
        HV_FUZZ_CHECK(elf.error().code == Errc::bad_image, "a decompression refusal other than bad_image");
        HV_FUZZ_CHECK(starts_with(elf.error().message, std::string(format) + " payload: "),
                      "a decompression refusal that does not name the format");
        // load_kernel would decompress again with its 512 MiB cap: not here.
        ++stats.refused;
        return {};
    }
    HV_FUZZ_CHECK(elf->size() <= kKernelLoadFuzzMaxOut, "decompressed past max_out");
    ++stats.decompressed;

    if (!boot::has_pvh_note(*elf)) {
        auto automatic = load(image, boot::KernelEntry::automatic);
        HV_FUZZ_CHECK(!automatic && automatic.error().code == Errc::not_supported,
                      "automatic: a payload without the PVH note is not not_supported");
        auto pvh = load(image, boot::KernelEntry::pvh);
        HV_FUZZ_CHECK(!pvh && pvh.error().code == Errc::bad_image, "pvh: a payload without the PVH note is not bad_image");
        ++stats.refused;
        return {};
    }
    // A PVH ELF payload: load_pvh's answer on it, twice. Each result is
    // checked against RAM before the next load rewrites it.
    auto want = boot::load_pvh(*elf, req, ram);
    if (want) {
        if (auto why = check_loaded(*want, *elf); !why.empty()) return why;
    }
    auto automatic = load(image, boot::KernelEntry::automatic);
    if (auto why = check_result(automatic, want, *elf, "automatic"); !why.empty()) return why;
    auto pvh = load(image, boot::KernelEntry::pvh);
    if (auto why = check_result(pvh, want, *elf, "pvh"); !why.empty()) return why;
    ++(automatic ? stats.loaded : stats.refused);
    return {};
}

} // namespace hv::fuzz

int hv_kernel_load_fuzz_one(const uint8_t* data, size_t size) {
    return hv::fuzz::run_or_abort("kernel_load_fuzz", hv::fuzz::kernel_load_fuzz_check, data, size);
}

#ifdef HV_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return hv_kernel_load_fuzz_one(data, size); }
#endif
