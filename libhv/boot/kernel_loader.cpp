#include "boot/kernel_loader.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "boot/bzimage.hpp"
#include "boot/linux64_loader.hpp"
#include "boot/payload.hpp"

namespace hv::boot {

Result<BootInfo> load_kernel(const ImageSource& image, const BootRequest& req, KernelEntry entry, const core::GuestRam& ram) {
    // The setup header, if any, is in the first KiB.
    std::vector<uint8_t> head(std::min<uint64_t>(image.size(), 1024));
    if (auto r = image.read(0, head.data(), head.size()); !r) return r.error();
    if (!looks_like_bzimage(head)) {
        if (entry == KernelEntry::bzimage) return make_error(Errc::bad_image, "the kernel is not a bzImage (the setup header is missing)");
        return load_pvh(image, req, ram);
    }
    auto whole = image.read_all();
    if (!whole) return whole.error();
    return load_kernel(*whole, req, entry, ram);
}

Result<BootInfo> load_kernel(std::span<const uint8_t> image, const BootRequest& req, KernelEntry entry,
                             const core::GuestRam& ram) {
    if (!looks_like_bzimage(image)) {
        if (entry == KernelEntry::bzimage) return make_error(Errc::bad_image, "the kernel is not a bzImage (the setup header is missing)");
        return load_pvh(image, req, ram);
    }
    auto bz = read_bzimage(image);
    if (!bz) return bz.error();
    if (entry != KernelEntry::bzimage && can_decompress(bz->payload_format)) {
        // A kernel bigger than the guest's RAM could not be loaded anyway:
        // that bounds what a hostile payload may make hv allocate.
        auto elf = decompress_payload(image.subspan(bz->payload_offset, bz->payload_length), bz->payload_format,
                                      std::min<uint64_t>(kMaxDecompressed, ram.size));
        if (!elf) return elf.error();
        if (has_pvh_note(*elf)) {
            if (req.cmdline.size() > bz->cmdline_size)
                return make_error(Errc::invalid_argument, fmt::format("kernel command line is {} bytes; this kernel takes at most {}",
                                                                      req.cmdline.size(), bz->cmdline_size));
            return load_pvh(*elf, req, ram);
        }
        if (entry == KernelEntry::pvh) return make_error(Errc::bad_image, "the bzImage's payload has no PVH entry note");
    } else if (entry == KernelEntry::pvh) {
        return make_error(Errc::not_supported, fmt::format("a bzImage with a {} payload cannot boot through PVH here",
                                                           payload_format_name(bz->payload_format)));
    }
    // The fallback (or the choice): the kernel decompresses itself.
    return load_linux64(image, *bz, req, ram);
}

} // namespace hv::boot
