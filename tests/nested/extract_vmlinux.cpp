// extract-vmlinux BZIMAGE OUT: writes the kernel inside a bzImage (its
// payload, decompressed with hv's own payload reader) to OUT. The nested
// harness boots the outer VM through the PVH entry of this ELF (no
// decompression under TCG) and gives it to guests that boot the ELF.
#include <cstdio>
#include <fstream>

#include "boot/bzimage.hpp"
#include "boot/payload.hpp"
#include "boot/pvh_loader.hpp"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: extract-vmlinux BZIMAGE OUT\n");
        return 2;
    }
    auto image = hv::boot::read_kernel_file(argv[1]);
    if (!image) {
        std::fprintf(stderr, "extract-vmlinux: %s\n", image.error().message.c_str());
        return 1;
    }
    auto bz = hv::boot::read_bzimage(*image);
    if (!bz) {
        std::fprintf(stderr, "extract-vmlinux: %s: %s\n", argv[1], bz.error().message.c_str());
        return 1;
    }
    auto elf = hv::boot::decompress_payload(std::span(*image).subspan(bz->payload_offset, bz->payload_length), bz->payload_format);
    if (!elf) {
        std::fprintf(stderr, "extract-vmlinux: %s: %s\n", argv[1], elf.error().message.c_str());
        return 1;
    }
    const std::string tmp = std::string(argv[2]) + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(elf->data()), static_cast<std::streamsize>(elf->size()));
        if (!out) {
            std::fprintf(stderr, "extract-vmlinux: cannot write %s\n", tmp.c_str());
            std::remove(tmp.c_str());
            return 1;
        }
    }
    if (std::rename(tmp.c_str(), argv[2]) != 0) {
        std::perror("extract-vmlinux: rename");
        std::remove(tmp.c_str());
        return 1;
    }
    return 0;
}
