#include "boot/pvh_loader.hpp"

#include <elf.h>

#include <cstring>

#include <fmt/format.h>

#include "core/memory_map.hpp"
#include "hv/abi/pvh.h"

namespace hv::boot {

namespace {

constexpr uint32_t kMaxNoteSegments = 16;
constexpr uint64_t kMaxNoteBytes = 64u << 10;

Error bad(std::string what) { return make_error(Errc::bad_image, std::move(what)); }

// [off, off + len) inside a buffer of `size` bytes, without overflow.
bool within(uint64_t off, uint64_t len, uint64_t size) { return off <= size && len <= size - off; }

template <class T>
T read_at(std::span<const uint8_t> bytes, uint64_t off) {
    T v;
    std::memcpy(&v, bytes.data() + off, sizeof v);
    return v;
}

// What the notes of an ELF kernel say.
struct Notes {
    bool have_entry = false;
    uint32_t entry = 0;
    bool hv_abi = false;
};

// Walks one PT_NOTE segment (`seg`, read from file offset `base`) for the
// PVH entry note and hv's ABI note.
Result<void> scan_notes(std::span<const uint8_t> seg, uint64_t base, Notes& notes) {
    uint64_t off = 0;
    const uint64_t end = seg.size();
    while (off < end) {
        if (!within(off, sizeof(Elf64_Nhdr), end)) return bad(fmt::format("truncated ELF note at offset {:#x}", base + off));
        const auto nh = read_at<Elf64_Nhdr>(seg, off);
        const uint64_t name_off = off + sizeof(Elf64_Nhdr);
        const uint64_t desc_off = name_off + ((uint64_t{nh.n_namesz} + 3) & ~3ull);
        const uint64_t next = desc_off + ((uint64_t{nh.n_descsz} + 3) & ~3ull);
        if (!within(name_off, nh.n_namesz, end) || !within(desc_off, nh.n_descsz, end))
            return bad(fmt::format("ELF note at offset {:#x} runs past its segment", base + off));
        const auto named = [&](const char* owner, uint32_t len) {
            return nh.n_namesz == len && std::memcmp(seg.data() + name_off, owner, len) == 0;
        };
        if (named("Xen", 4) && nh.n_type == HV_PVH_ELFNOTE_PHYS32_ENTRY && !notes.have_entry) {
            if (nh.n_descsz != 4 && nh.n_descsz != 8)
                return bad(fmt::format("PVH entry note at offset {:#x} has a {}-byte value (want 4 or 8)", base + off, nh.n_descsz));
            const uint64_t v = nh.n_descsz == 4 ? read_at<uint32_t>(seg, desc_off) : read_at<uint64_t>(seg, desc_off);
            if (v > 0xffffffffull) return bad(fmt::format("PVH entry {:#x} is above 4 GiB", v));
            notes.entry = static_cast<uint32_t>(v);
            notes.have_entry = true;
        } else if (named(HV_ELFNOTE_OWNER, sizeof HV_ELFNOTE_OWNER) && nh.n_type == HV_ELFNOTE_ABI) {
            if (nh.n_descsz != 4)
                return bad(fmt::format("hv ABI note at offset {:#x} has a {}-byte value (want 4)", base + off, nh.n_descsz));
            notes.hv_abi = true;
        }
        off = next;
    }
    return {};
}

Result<void> write_start_info(const BootRequest& req, uint64_t image_end, const core::GuestRam& ram) {
    std::memset(ram.at(kStartInfoGpa, kLowReservedEnd - kStartInfoGpa), 0, kLowReservedEnd - kStartInfoGpa);
    if (auto r = write_cmdline(req.cmdline, ram); !r) return r.error();

    core::MemoryRegion regions[core::kMaxMemoryRegions];
    const uint32_t n = core::memory_map(ram.size, regions);
    if (n == 0) return make_error(Errc::invalid_argument, fmt::format("{} bytes of RAM cannot be described", ram.size));
    hv_pvh_memmap_entry_t map[core::kMaxMemoryRegions]{};
    for (uint32_t i = 0; i < n; ++i) map[i] = {regions[i].base, regions[i].size, static_cast<uint32_t>(regions[i].type), 0};
    ram.write(kMemmapGpa, map, sizeof(map[0]) * n);
    hv_pvh_start_info_t si{};
    si.magic = HV_PVH_START_MAGIC;
    si.version = 1;
    si.cmdline_paddr = kCmdlineGpa;
    si.memmap_paddr = kMemmapGpa;
    si.memmap_entries = n;
    si.rsdp_paddr = req.rsdp_gpa;
    if (req.initrd != nullptr && req.initrd->size() != 0) {
        const uint64_t size = req.initrd->size();
        const uint64_t at = place_initrd(size, image_end, UINT64_MAX, ram);
        if (at == 0)
            return make_error(Errc::invalid_argument, fmt::format("the initrd ({} KiB) does not fit above the kernel in {} MiB of RAM",
                                                                  size >> 10, ram.size >> 20));
        if (auto r = req.initrd->read(0, ram.at(at, size), size); !r) return r.error();
        const hv_pvh_modlist_entry_t mod{at, size, 0, 0};
        ram.write(kModlistGpa, &mod, sizeof mod);
        si.nr_modules = 1;
        si.modlist_paddr = kModlistGpa;
    }
    ram.write(kStartInfoGpa, &si, sizeof si);
    return {};
}

// An ELF64 x86-64 image's header, program headers and notes.
struct Elf {
    Elf64_Ehdr eh{};
    std::vector<Elf64_Phdr> ph;
    Notes notes;
};

// Reads and checks the headers and notes of `image`, or says what is wrong.
Result<Elf> read_elf(const ImageSource& image) {
    Elf elf;
    if (image.size() < sizeof(Elf64_Ehdr)) return bad("not an ELF file (bad magic)");
    if (auto r = image.read(0, &elf.eh, sizeof elf.eh); !r) return r.error(); // names the file
    if (std::memcmp(elf.eh.e_ident, ELFMAG, SELFMAG) != 0) return bad("not an ELF file (bad magic)");
    const Elf64_Ehdr& eh = elf.eh;
    if (eh.e_ident[EI_CLASS] != ELFCLASS64) return bad("not a 64-bit ELF (only ELFCLASS64 kernels are supported)");
    if (eh.e_ident[EI_DATA] != ELFDATA2LSB) return bad("ELF is not little-endian");
    if (eh.e_machine != EM_X86_64) return bad(fmt::format("ELF machine {} is not x86-64", eh.e_machine));
    if (eh.e_phentsize != sizeof(Elf64_Phdr)) return bad(fmt::format("ELF program header size {} (want {})", eh.e_phentsize, sizeof(Elf64_Phdr)));
    if (eh.e_phnum == 0 || !within(eh.e_phoff, uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr), image.size()))
        return bad("ELF program headers missing or past the end of the file");
    // At most 65535 headers (3.5 MiB), and only if the file is that big.
    elf.ph.resize(eh.e_phnum);
    if (auto r = image.read(eh.e_phoff, elf.ph.data(), elf.ph.size() * sizeof(Elf64_Phdr)); !r) return r.error();
    // Real kernels have one or two note segments of well under 1 KiB; a
    // hostile image must not make the scan cost minutes.
    uint32_t note_segments = 0;
    uint64_t note_bytes = 0;
    std::vector<uint8_t> seg;
    for (size_t i = 0; i < elf.ph.size(); ++i) {
        const Elf64_Phdr& ph = elf.ph[i];
        if (ph.p_type != PT_NOTE) continue;
        if (!within(ph.p_offset, ph.p_filesz, image.size()))
            return bad(fmt::format("ELF segment {} (offset {:#x}, {} bytes) runs past the end of the file", i, ph.p_offset, ph.p_filesz));
        note_bytes += ph.p_filesz;
        if (++note_segments > kMaxNoteSegments || note_bytes > kMaxNoteBytes)
            return bad(fmt::format("ELF has more notes than a kernel carries (at most {} note segments, {} KiB)",
                                   kMaxNoteSegments, kMaxNoteBytes >> 10));
        seg.resize(ph.p_filesz);
        if (auto r = image.read(ph.p_offset, seg.data(), seg.size()); !r) return r.error();
        if (auto r = scan_notes(seg, ph.p_offset, elf.notes); !r) return r.error();
    }
    return elf;
}

} // namespace

bool has_pvh_note(const ImageSource& image) {
    auto e = read_elf(image);
    return e && e->notes.have_entry;
}

bool speaks_hv_abi(const ImageSource& image) {
    auto e = read_elf(image);
    return e && e->notes.hv_abi;
}

bool has_pvh_note(std::span<const uint8_t> image) { return has_pvh_note(SpanImage(image)); }
bool speaks_hv_abi(std::span<const uint8_t> image) { return speaks_hv_abi(SpanImage(image)); }

Result<void> write_cmdline(std::string_view cmdline, const core::GuestRam& ram) {
    if (cmdline.size() + 1 > kCmdlineMax)
        return make_error(Errc::invalid_argument,
                          fmt::format("kernel command line is {} bytes; at most {} fit", cmdline.size(), kCmdlineMax - 1));
    if (cmdline.find('\0') != std::string_view::npos)
        return make_error(Errc::invalid_argument, "kernel command line contains a NUL byte");
    std::memset(ram.at(kCmdlineGpa, kCmdlineMax), 0, kCmdlineMax);
    ram.write(kCmdlineGpa, cmdline.data(), cmdline.size());
    return {};
}

uint64_t place_initrd(uint64_t size, uint64_t floor, uint64_t ceiling, const core::GuestRam& ram) {
    if (size == 0) return 0;
    // RAM the guest may use: below the device window on a PC machine.
    uint64_t top = std::min(ram.size, core::kMaxPcRam); // one past the last usable byte
    if (ceiling != UINT64_MAX) top = std::min(top, ceiling + 1);
    if (size > top) return 0;
    const uint64_t at = (top - size) & ~0xfffull;
    const uint64_t low = std::max<uint64_t>(floor, core::kHighRamBase);
    return at >= low ? at : 0;
}

Result<std::vector<uint8_t>> read_kernel_file(const std::string& path, std::string_view what) {
    auto file = FileImage::open(path, what);
    if (!file) return file.error();
    return (*file)->read_all();
}

Result<BootInfo> load_pvh(const ImageSource& image, const BootRequest& req, const core::GuestRam& ram) {
    if (ram.size < kMinRam) return make_error(Errc::invalid_argument, "guest RAM under 2 MiB cannot hold a PVH kernel");
    uint8_t magic[4]{};
    if (image.size() >= 0x206) {
        if (auto r = image.read(0x202, magic, sizeof magic); !r) return r.error();
        if (std::memcmp(magic, "HdrS", 4) == 0)
            return make_error(Errc::not_supported, "this is a Linux bzImage, not a PVH ELF (boot::load_kernel boots bzImages)");
    }
    auto elf = read_elf(image);
    if (!elf) return elf.error();
    BootInfo info;
    bool loaded = false;
    bool entry_loaded = false;
    std::vector<std::pair<uint64_t, uint64_t>> segments; // [start, end) loaded
    uint64_t total = 0; // bytes the segments fill
    for (size_t i = 0; i < elf->ph.size(); ++i) {
        const Elf64_Phdr& ph = elf->ph[i];
        if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE) continue;
        if (!within(ph.p_offset, ph.p_filesz, image.size()))
            return bad(fmt::format("ELF segment {} (offset {:#x}, {} bytes) runs past the end of the file", i, ph.p_offset, ph.p_filesz));
        if (ph.p_type == PT_NOTE) continue; // read above
        if (ph.p_filesz > ph.p_memsz) return bad(fmt::format("ELF segment {} has file size above memory size", i));
        if (!ram.contains(ph.p_paddr, ph.p_memsz))
            return make_error(Errc::invalid_argument,
                              fmt::format("ELF segment {} at {:#x}+{:#x} does not fit in {} MiB of guest RAM", i,
                                          ph.p_paddr, ph.p_memsz, ram.size >> 20));
        if (ph.p_paddr < kLowReservedEnd && kStartInfoGpa < ph.p_paddr + ph.p_memsz)
            return bad(fmt::format("ELF segment {} at {:#x} overlaps the boot area {:#x}-{:#x}", i, ph.p_paddr,
                                   kStartInfoGpa, kLowReservedEnd));
        if (ph.p_paddr < core::kFirmwareEnd && core::kConventionalEnd < ph.p_paddr + ph.p_memsz)
            return bad(fmt::format("ELF segment {} at {:#x} overlaps the reserved area {:#x}-{:#x} (legacy hole, firmware)", i,
                                   ph.p_paddr, core::kConventionalEnd, core::kFirmwareEnd));
        // Up to 65535 segments, each as big as RAM, would be that many
        // RAM-sized copies: a real kernel's segments fit in RAM side by side.
        total += ph.p_memsz;
        if (total > ram.size) return bad(fmt::format("ELF segments add up to more than {} MiB of guest RAM", ram.size >> 20));
        // Straight from the image into guest RAM: no copy of the file in
        // the monitor (image_source.hpp).
        if (ph.p_filesz != 0)
            if (auto r = image.read(ph.p_offset, ram.at(ph.p_paddr, ph.p_filesz), ph.p_filesz); !r) return r.error();
        std::memset(ram.at(ph.p_paddr + ph.p_filesz, ph.p_memsz - ph.p_filesz), 0, ph.p_memsz - ph.p_filesz);
        info.image_end = std::max(info.image_end, ph.p_paddr + ph.p_memsz);
        segments.emplace_back(ph.p_paddr, ph.p_paddr + ph.p_memsz);
        loaded = true;
    }
    if (!loaded) return bad("ELF has no loadable segment");
    info.entry = elf->notes.entry;
    info.hv_abi = elf->notes.hv_abi;
    if (!elf->notes.have_entry) return bad("ELF has no PVH entry note (Xen ELF note 18, XEN_ELFNOTE_PHYS32_ENTRY)");
    if (!ram.contains(info.entry, 1)) return bad(fmt::format("PVH entry {:#x} is outside guest RAM", info.entry));
    for (const auto& [start, end] : segments) entry_loaded = entry_loaded || (info.entry >= start && info.entry < end);
    if (!entry_loaded) return bad(fmt::format("PVH entry {:#x} is not inside a loaded segment", info.entry));
    if (auto r = write_start_info(req, info.image_end, ram); !r) return r.error();
    info.start_info = static_cast<uint32_t>(kStartInfoGpa);
    return info;
}

Result<BootInfo> load_pvh(std::span<const uint8_t> image, const BootRequest& req, const core::GuestRam& ram) {
    return load_pvh(SpanImage(image), req, ram);
}

} // namespace hv::boot
