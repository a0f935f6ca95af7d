// PvhLoader: puts a PVH-bootable ELF kernel into guest RAM the way Xen's
// PVH boot ABI (and QEMU's microvm) does: PT_LOAD segments at their
// physical addresses, an hvm_start_info with the command line and a memory
// map, and the 32-bit entry point from the XEN_ELFNOTE_PHYS32_ENTRY note.
// Every field of the image is checked before it is trusted.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "boot/image_source.hpp"
#include "core/guest_ram.hpp"
#include "hv/result.hpp"

namespace hv::boot {

// Where the loader puts its own structures (below 1 MiB, where kernels
// are not loaded).
constexpr uint64_t kStartInfoGpa = 0x6000;
constexpr uint64_t kModlistGpa = 0x6100;
constexpr uint64_t kMemmapGpa = 0x6800;
constexpr uint64_t kCmdlineGpa = 0x7000;
constexpr uint64_t kCmdlineMax = 0x1000; // including the NUL
constexpr uint64_t kLowReservedEnd = 0x8000;
constexpr uint64_t kMinRam = 2ull << 20;

// What the boot loader hands the kernel besides the image.
struct BootRequest {
    std::string_view cmdline;
    const ImageSource* initrd = nullptr; // null or empty: none; read straight into guest RAM
    uint64_t rsdp_gpa = 0;           // the ACPI RSDP; 0: none
};

struct BootInfo {
    enum class Mode : uint8_t {
        pvh,     // 32-bit flat protected mode, ebx = start_info
        linux64, // the Linux 64-bit boot protocol: long mode, rsi = boot_params
    };
    Mode mode = Mode::pvh;
    uint32_t entry = 0;      // physical entry
    uint32_t start_info = 0; // pvh: hvm_start_info; linux64: boot_params (the zero page)
    uint64_t image_end = 0;  // highest byte loaded + 1
    // The kernel speaks hv's PV ABI (its ELF carries the "hv" note): it
    // runs on hv's PV machine and brings its vCPUs up with vcpu_op.
    bool hv_abi = false;
};

// Reads a whole kernel or initrd file (FileImage's checks); errors name
// `what` and the path. The monitor reads its images through FileImage
// instead, straight into guest RAM.
Result<std::vector<uint8_t>> read_kernel_file(const std::string& path, std::string_view what = "kernel");

// Whether `image` is an ELF whose notes carry the PVH entry, and whether
// they carry hv's ABI note; false for anything malformed (load_pvh() then
// says what). Cheap: only the program headers and notes are read.
bool has_pvh_note(const ImageSource& image);
bool speaks_hv_abi(const ImageSource& image);
bool has_pvh_note(std::span<const uint8_t> image);
bool speaks_hv_abi(std::span<const uint8_t> image);

// Checks `image` and loads it with `req` into `ram`; the initrd goes at
// the top of RAM below the device window, page-aligned.
Result<BootInfo> load_pvh(const ImageSource& image, const BootRequest& req, const core::GuestRam& ram);
Result<BootInfo> load_pvh(std::span<const uint8_t> image, const BootRequest& req, const core::GuestRam& ram);

// Where an initrd of `size` bytes goes: page-aligned, as high as fits in
// RAM at or below `ceiling` (its last byte), above `floor`. 0: it does not fit.
uint64_t place_initrd(uint64_t size, uint64_t floor, uint64_t ceiling, const core::GuestRam& ram);

// Writes the command line at kCmdlineGpa after checking it.
Result<void> write_cmdline(std::string_view cmdline, const core::GuestRam& ram);

} // namespace hv::boot
