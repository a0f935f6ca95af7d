#include "boot/linux64_loader.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "core/memory_map.hpp"

namespace hv::boot {

namespace {

// boot_params offsets (arch/x86/include/uapi/asm/bootparam.h).
constexpr uint64_t kExtRamdiskImage = 0x0c0;
constexpr uint64_t kExtRamdiskSize = 0x0c4;
constexpr uint64_t kExtCmdLinePtr = 0x0c8;
constexpr uint64_t kAcpiRsdpAddr = 0x070;
constexpr uint64_t kE820Entries = 0x1e8;
constexpr uint64_t kSetupHeader = 0x1f1;
constexpr uint64_t kVidMode = 0x1fa;
constexpr uint64_t kJump = 0x200; // 2-byte jump; its second byte gives the header's end
constexpr uint64_t kTypeOfLoader = 0x210;
constexpr uint64_t kLoadflags = 0x211;
constexpr uint64_t kRamdiskImage = 0x218;
constexpr uint64_t kRamdiskSize = 0x21c;
constexpr uint64_t kCmdLinePtr = 0x228;
constexpr uint64_t kE820Table = 0x2d0;
constexpr uint64_t kBootParamsSize = 0x1000;
constexpr uint8_t kLoadedHigh = 0x01;
constexpr uint8_t kKeepSegments = 0x40;
constexpr uint64_t kMinKernelAddr = 0x100000;

template <class T>
void put(const core::GuestRam& ram, uint64_t gpa, T v) {
    ram.write(gpa, &v, sizeof v);
}

Error bad(std::string what) { return make_error(Errc::bad_image, std::move(what)); }

// Identity map of 0..4 GiB with 2 MiB pages: PML4 -> one PDPT -> four PDs.
void write_page_tables(const core::GuestRam& ram) {
    std::memset(ram.at(kBootPml4Gpa, kBootTablesEnd - kBootPml4Gpa), 0, kBootTablesEnd - kBootPml4Gpa);
    const uint64_t pdpt = kBootPml4Gpa + 0x1000;
    const uint64_t pd = pdpt + 0x1000;
    constexpr uint64_t kPresentWrite = 0x3;
    constexpr uint64_t kLarge = 0x80;
    put<uint64_t>(ram, kBootPml4Gpa, pdpt | kPresentWrite);
    for (uint64_t i = 0; i < 4; ++i) {
        put<uint64_t>(ram, pdpt + 8 * i, (pd + 0x1000 * i) | kPresentWrite);
        for (uint64_t j = 0; j < 512; ++j)
            put<uint64_t>(ram, pd + 0x1000 * i + 8 * j, (((i << 30) | (j << 21)) | kPresentWrite | kLarge));
    }
}

// Null, null, __BOOT_CS (64-bit code), __BOOT_DS (data).
void write_gdt(const core::GuestRam& ram) {
    const uint64_t gdt[4] = {0, 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull};
    ram.write(kBootGdtGpa, gdt, sizeof gdt);
}

} // namespace

Result<BootInfo> load_linux64(std::span<const uint8_t> image, const BzImage& bz, const BootRequest& req,
                              const core::GuestRam& ram) {
    if (!bz.has_64bit_entry()) return bad("the bzImage has no 64-bit entry (XLF_KERNEL_64 is clear)");
    // Where the kernel goes: its preferred address when relocatable and
    // suitably aligned (it decompresses itself in place), else 1 MiB
    // rounded up to its alignment.
    const uint64_t align = std::max<uint64_t>(bz.kernel_alignment, 0x1000);
    uint64_t load = bz.pref_address;
    if (load < kMinKernelAddr || load % align != 0) {
        if (!bz.relocatable)
            return bad(fmt::format("the kernel is not relocatable and wants {:#x}, below 1 MiB or not {:#x}-aligned", load, align));
        load = (kMinKernelAddr + align - 1) / align * align;
    }
    const uint64_t need = std::max<uint64_t>(bz.init_size, bz.kernel_size);
    const uint64_t usable = std::min(ram.size, core::kMaxPcRam);
    if (load > usable || need > usable - load)
        return make_error(Errc::invalid_argument, fmt::format("the kernel needs {} MiB from {:#x} (init_size); {} MiB of RAM is too little",
                                                              (need + 0xfffff) >> 20, load, ram.size >> 20));
    if (req.cmdline.size() > bz.cmdline_size)
        return make_error(Errc::invalid_argument, fmt::format("kernel command line is {} bytes; this kernel takes at most {}",
                                                              req.cmdline.size(), bz.cmdline_size));
    if (auto r = write_cmdline(req.cmdline, ram); !r) return r.error();
    ram.write(load, image.data() + bz.kernel_offset, bz.kernel_size);

    // The zero page: zeroed, then the image's setup header, then what the
    // boot loader fills in.
    std::memset(ram.at(kBootParamsGpa, kBootParamsSize), 0, kBootParamsSize);
    const uint64_t header_end = std::min<uint64_t>(kJump + 2 + image[kJump + 1], kBootParamsSize);
    if (image.size() < header_end) return bad("the setup header runs past the end of the file");
    ram.write(kBootParamsGpa + kSetupHeader, image.data() + kSetupHeader, header_end - kSetupHeader);
    const core::GuestRam& r = ram;
    put<uint16_t>(r, kBootParamsGpa + kVidMode, 0xffff); // "normal"
    put<uint8_t>(r, kBootParamsGpa + kTypeOfLoader, 0xff); // undefined boot loader
    uint8_t loadflags = 0;
    ram.read(kBootParamsGpa + kLoadflags, &loadflags, 1);
    put<uint8_t>(r, kBootParamsGpa + kLoadflags, static_cast<uint8_t>(loadflags | kLoadedHigh | kKeepSegments));
    put<uint32_t>(r, kBootParamsGpa + kCmdLinePtr, static_cast<uint32_t>(kCmdlineGpa));
    put<uint32_t>(r, kBootParamsGpa + kExtCmdLinePtr, 0);
    put<uint64_t>(r, kBootParamsGpa + kAcpiRsdpAddr, req.rsdp_gpa);

    if (req.initrd != nullptr && req.initrd->size() != 0) {
        const uint64_t initrd_size = req.initrd->size();
        const uint64_t at = place_initrd(initrd_size, load + need, bz.initrd_addr_max, ram);
        if (at == 0)
            return make_error(Errc::invalid_argument,
                              fmt::format("the initrd ({} KiB) does not fit between the kernel and {:#x} in {} MiB of RAM",
                                          initrd_size >> 10, bz.initrd_addr_max, ram.size >> 20));
        if (auto rd = req.initrd->read(0, ram.at(at, initrd_size), initrd_size); !rd) return rd.error();
        put<uint32_t>(r, kBootParamsGpa + kRamdiskImage, static_cast<uint32_t>(at));
        put<uint32_t>(r, kBootParamsGpa + kRamdiskSize, static_cast<uint32_t>(initrd_size));
        put<uint32_t>(r, kBootParamsGpa + kExtRamdiskImage, static_cast<uint32_t>(at >> 32));
        put<uint32_t>(r, kBootParamsGpa + kExtRamdiskSize, static_cast<uint32_t>(initrd_size >> 32));
    }

    core::MemoryRegion regions[core::kMaxMemoryRegions];
    const uint32_t n = core::memory_map(ram.size, regions);
    if (n == 0) return make_error(Errc::invalid_argument, fmt::format("{} bytes of RAM cannot be described", ram.size));
    for (uint32_t i = 0; i < n; ++i) {
        const uint64_t e = kBootParamsGpa + kE820Table + 20 * i;
        put<uint64_t>(r, e, regions[i].base);
        put<uint64_t>(r, e + 8, regions[i].size);
        put<uint32_t>(r, e + 16, static_cast<uint32_t>(regions[i].type));
    }
    put<uint8_t>(r, kBootParamsGpa + kE820Entries, static_cast<uint8_t>(n));

    write_gdt(ram);
    write_page_tables(ram);
    BootInfo info;
    info.mode = BootInfo::Mode::linux64;
    info.entry = static_cast<uint32_t>(load + 0x200);
    info.start_info = static_cast<uint32_t>(kBootParamsGpa);
    info.image_end = load + need;
    return info;
}

} // namespace hv::boot
