// KernelLoader: loads whatever kernel a domain config names. A PVH ELF
// loads as is; a Linux bzImage has its payload decompressed on the host
// (boot/payload.hpp) and, when that is a PVH ELF (Debian's kernels are),
// boots through PVH, as Xen's toolstack does, saving the guest its own
// decompression. `entry` chooses otherwise.
#pragma once

#include <cstdint>
#include <span>

#include "boot/pvh_loader.hpp"
#include "core/guest_ram.hpp"
#include "hv/result.hpp"

namespace hv::boot {

enum class KernelEntry : uint8_t {
    automatic, // PVH when the kernel (or a bzImage's payload) has the PVH note, else the 64-bit bzImage entry
    pvh,       // PVH only
    bzimage,   // the Linux 64-bit boot protocol only (a bzImage)
};

// speaks_hv_abi() (pvh_loader.hpp) says which machine a kernel gets: an
// ELF with hv's ABI note runs on hv's PV machine, every other one on the PC.
// A PVH ELF is read segment by segment straight into `ram`; a bzImage is
// read whole (its payload is compressed).
Result<BootInfo> load_kernel(const ImageSource& image, const BootRequest& req, KernelEntry entry, const core::GuestRam& ram);
Result<BootInfo> load_kernel(std::span<const uint8_t> image, const BootRequest& req, KernelEntry entry,
                             const core::GuestRam& ram);

} // namespace hv::boot
