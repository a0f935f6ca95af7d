#include "boot/pvh_loader.hpp"

#include <elf.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "hv/abi/pvh.h"

namespace hv::boot {

namespace {

constexpr uint64_t kMaxImage = 512ull << 20;

Error bad(std::string what) { return make_error(Errc::bad_image, std::move(what)); }

// [off, off + len) inside a buffer of `size` bytes, without overflow.
bool within(uint64_t off, uint64_t len, uint64_t size) { return off <= size && len <= size - off; }

template <class T>
T read_at(std::span<const uint8_t> image, uint64_t off) {
    T v;
    std::memcpy(&v, image.data() + off, sizeof v);
    return v;
}

// Walks one PT_NOTE segment; sets entry when the PVH note is there.
Result<bool> find_pvh_note(std::span<const uint8_t> image, const Elf64_Phdr& ph, uint32_t& entry) {
    uint64_t off = ph.p_offset;
    const uint64_t end = ph.p_offset + ph.p_filesz;
    while (off < end) {
        if (!within(off, sizeof(Elf64_Nhdr), end)) return bad(fmt::format("truncated ELF note at offset {:#x}", off));
        const auto nh = read_at<Elf64_Nhdr>(image, off);
        const uint64_t name_off = off + sizeof(Elf64_Nhdr);
        const uint64_t desc_off = name_off + ((uint64_t{nh.n_namesz} + 3) & ~3ull);
        const uint64_t next = desc_off + ((uint64_t{nh.n_descsz} + 3) & ~3ull);
        if (!within(name_off, nh.n_namesz, end) || !within(desc_off, nh.n_descsz, end))
            return bad(fmt::format("ELF note at offset {:#x} runs past its segment", off));
        const bool xen = nh.n_namesz == 4 && std::memcmp(image.data() + name_off, "Xen", 4) == 0;
        if (xen && nh.n_type == HV_PVH_ELFNOTE_PHYS32_ENTRY) {
            if (nh.n_descsz != 4 && nh.n_descsz != 8)
                return bad(fmt::format("PVH entry note at offset {:#x} has a {}-byte value (want 4 or 8)", off, nh.n_descsz));
            const uint64_t v = nh.n_descsz == 4 ? read_at<uint32_t>(image, desc_off) : read_at<uint64_t>(image, desc_off);
            if (v > 0xffffffffull) return bad(fmt::format("PVH entry {:#x} is above 4 GiB", v));
            entry = static_cast<uint32_t>(v);
            return true;
        }
        off = next;
    }
    return false;
}

Result<void> write_start_info(std::string_view cmdline, const core::GuestRam& ram) {
    if (cmdline.size() + 1 > kCmdlineMax)
        return make_error(Errc::invalid_argument,
                          fmt::format("kernel command line is {} bytes; at most {} fit", cmdline.size(), kCmdlineMax - 1));
    if (cmdline.find('\0') != std::string_view::npos)
        return make_error(Errc::invalid_argument, "kernel command line contains a NUL byte");
    std::memset(ram.at(kStartInfoGpa, kLowReservedEnd - kStartInfoGpa), 0, kLowReservedEnd - kStartInfoGpa);
    ram.write(kCmdlineGpa, cmdline.data(), cmdline.size());

    const hv_pvh_memmap_entry_t map[2] = {
        {0, 0xa0000, HV_PVH_MEMMAP_RAM, 0},                    // conventional memory
        {0x100000, ram.size - 0x100000, HV_PVH_MEMMAP_RAM, 0}, // everything above 1 MiB
    };
    ram.write(kMemmapGpa, map, sizeof map);
    hv_pvh_start_info_t si{};
    si.magic = HV_PVH_START_MAGIC;
    si.version = 1;
    si.cmdline_paddr = kCmdlineGpa;
    si.memmap_paddr = kMemmapGpa;
    si.memmap_entries = 2;
    ram.write(kStartInfoGpa, &si, sizeof si);
    return {};
}

} // namespace

Result<std::vector<uint8_t>> read_kernel_file(const std::string& path) {
    std::error_code ec;
    const auto type = std::filesystem::status(path, ec).type();
    if (type == std::filesystem::file_type::not_found)
        return make_error(Errc::not_found, fmt::format("kernel {}: {}", path, std::strerror(ENOENT)));
    if (type == std::filesystem::file_type::directory)
        return make_error(Errc::invalid_argument, fmt::format("kernel {}: is a directory", path));
    if (!ec && type != std::filesystem::file_type::regular)
        return make_error(Errc::invalid_argument, fmt::format("kernel {}: not a regular file", path));
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) return make_error(Errc::io_error, fmt::format("kernel {}: cannot open: {}", path, std::strerror(errno)));
    const auto size = static_cast<uint64_t>(in.tellg());
    if (size == 0) return bad(fmt::format("kernel {}: file is empty", path));
    if (size > kMaxImage) return bad(fmt::format("kernel {}: {} bytes is over the {} MiB limit", path, size, kMaxImage >> 20));
    std::vector<uint8_t> data(size);
    in.seekg(0);
    if (!in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(size)))
        return make_error(Errc::io_error, fmt::format("kernel {}: read failed", path));
    return data;
}

Result<BootInfo> load_pvh(std::span<const uint8_t> image, std::string_view cmdline, const core::GuestRam& ram) {
    if (ram.size < kMinRam) return make_error(Errc::invalid_argument, "guest RAM under 2 MiB cannot hold a PVH kernel");
    if (image.size() >= 0x206 && std::memcmp(image.data() + 0x202, "HdrS", 4) == 0)
        return make_error(Errc::not_supported, "this is a Linux bzImage; hv boots PVH ELF kernels only so far (use the vmlinux ELF)");
    if (image.size() < sizeof(Elf64_Ehdr) || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0)
        return bad("not an ELF file (bad magic)");
    const auto eh = read_at<Elf64_Ehdr>(image, 0);
    if (eh.e_ident[EI_CLASS] != ELFCLASS64) return bad("not a 64-bit ELF (only ELFCLASS64 kernels are supported)");
    if (eh.e_ident[EI_DATA] != ELFDATA2LSB) return bad("ELF is not little-endian");
    if (eh.e_machine != EM_X86_64) return bad(fmt::format("ELF machine {} is not x86-64", eh.e_machine));
    if (eh.e_phentsize != sizeof(Elf64_Phdr)) return bad(fmt::format("ELF program header size {} (want {})", eh.e_phentsize, sizeof(Elf64_Phdr)));
    if (eh.e_phnum == 0 || !within(eh.e_phoff, uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr), image.size()))
        return bad("ELF program headers missing or past the end of the file");

    BootInfo info;
    bool have_entry = false;
    bool loaded = false;
    bool entry_loaded = false;
    std::vector<std::pair<uint64_t, uint64_t>> segments; // [start, end) loaded
    for (uint16_t i = 0; i < eh.e_phnum; ++i) {
        const auto ph = read_at<Elf64_Phdr>(image, eh.e_phoff + uint64_t{i} * sizeof(Elf64_Phdr));
        if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE) continue;
        if (!within(ph.p_offset, ph.p_filesz, image.size()))
            return bad(fmt::format("ELF segment {} (offset {:#x}, {} bytes) runs past the end of the file", i, ph.p_offset, ph.p_filesz));
        if (ph.p_type == PT_NOTE) {
            auto found = find_pvh_note(image, ph, info.entry);
            if (!found) return found.error();
            have_entry = have_entry || *found;
            continue;
        }
        if (ph.p_filesz > ph.p_memsz) return bad(fmt::format("ELF segment {} has file size above memory size", i));
        if (!ram.contains(ph.p_paddr, ph.p_memsz))
            return make_error(Errc::invalid_argument,
                              fmt::format("ELF segment {} at {:#x}+{:#x} does not fit in {} MiB of guest RAM", i,
                                          ph.p_paddr, ph.p_memsz, ram.size >> 20));
        if (ph.p_paddr < kLowReservedEnd && kStartInfoGpa < ph.p_paddr + ph.p_memsz)
            return bad(fmt::format("ELF segment {} at {:#x} overlaps the boot area {:#x}-{:#x}", i, ph.p_paddr,
                                   kStartInfoGpa, kLowReservedEnd));
        ram.write(ph.p_paddr, image.data() + ph.p_offset, ph.p_filesz);
        std::memset(ram.at(ph.p_paddr + ph.p_filesz, ph.p_memsz - ph.p_filesz), 0, ph.p_memsz - ph.p_filesz);
        info.image_end = std::max(info.image_end, ph.p_paddr + ph.p_memsz);
        segments.emplace_back(ph.p_paddr, ph.p_paddr + ph.p_memsz);
        loaded = true;
    }
    if (!loaded) return bad("ELF has no loadable segment");
    if (!have_entry) return bad("ELF has no PVH entry note (Xen ELF note 18, XEN_ELFNOTE_PHYS32_ENTRY)");
    if (!ram.contains(info.entry, 1)) return bad(fmt::format("PVH entry {:#x} is outside guest RAM", info.entry));
    for (const auto& [start, end] : segments) entry_loaded = entry_loaded || (info.entry >= start && info.entry < end);
    if (!entry_loaded) return bad(fmt::format("PVH entry {:#x} is not inside a loaded segment", info.entry));
    if (auto r = write_start_info(cmdline, ram); !r) return r.error();
    info.start_info = static_cast<uint32_t>(kStartInfoGpa);
    return info;
}

} // namespace hv::boot
