// Fuzz target for the bzImage setup-header reader, hv::boot::read_bzimage
// (libhv/boot/bzimage.cpp): the first bytes of a kernel file named by a
// domain config, which whoever wrote the config (or the file) controls.
// Besides "no crash" (and no sanitizer report), it checks, aborting on the
// first broken:
//   - a refusal is Errc::bad_image with a message that starts "bzImage: ";
//   - an accepted header has a protocol of at least 2.12, a protected-mode
//     kernel that starts inside the file at (setup_sects + 1) * 512 with
//     setup_sects in 1..64, a payload of at least one byte wholly inside
//     that kernel, a power-of-two (or zero) alignment, LOADED_HIGH set, and
//     the payload format its magic bytes say;
//   - looks_like_bzimage is true for every accepted input.
//
// Built two ways: as a libFuzzer binary (tests/fuzz/meson.build, with
// HV_LIBFUZZER defined) and into the unit tests, whose smoke test calls
// hv::fuzz::bzimage_fuzz_check directly.
#include <cstring>
#include <span>
#include <string>

#include "boot/bzimage.hpp"

#include "bzimage_fuzz.hpp"
#include "fuzz_check.hpp"

namespace hv::fuzz {

std::string bzimage_fuzz_check(const uint8_t* data, size_t size, BzImageFuzzStats& stats) {
    const std::span<const uint8_t> image(data, size);
    auto r = boot::read_bzimage(image);
    if (!r) {
        ++stats.refused;
        HV_FUZZ_CHECK(r.error().code == Errc::bad_image, "a refusal other than bad_image");
        HV_FUZZ_CHECK(r.error().message.rfind("bzImage: ", 0) == 0, "a refusal that does not say bzImage");
        return {};
    }
    ++stats.accepted;
    const boot::BzImage& b = *r;
    HV_FUZZ_CHECK(boot::looks_like_bzimage(image), "accepted without the signature");
    HV_FUZZ_CHECK(b.version >= boot::kMinBootProtocol, "accepted an old protocol");
    HV_FUZZ_CHECK(b.setup_sects >= 1 && b.setup_sects <= 64, "setup_sects out of 1..64");
    HV_FUZZ_CHECK(b.kernel_offset == (uint64_t{b.setup_sects} + 1) * 512, "kernel offset is not (setup_sects + 1) * 512");
    HV_FUZZ_CHECK(b.kernel_offset < size && b.kernel_size == size - b.kernel_offset, "kernel outside the file");
    HV_FUZZ_CHECK(b.payload_length >= 1 && b.payload_offset >= b.kernel_offset && b.payload_offset <= size &&
                      b.payload_length <= size - b.payload_offset,
                  "payload outside the protected-mode kernel");
    HV_FUZZ_CHECK(b.kernel_alignment == 0 || (b.kernel_alignment & (b.kernel_alignment - 1)) == 0,
                  "accepted a non-power-of-two alignment");
    HV_FUZZ_CHECK((b.loadflags & 1u) != 0, "accepted a zImage");
    // Re-reading the payload's first bytes gives the same format.
    const uint8_t* p = data + b.payload_offset;
    const bool xz = b.payload_length >= 6 && std::memcmp(p, "\xfd" "7zXZ\0", 6) == 0;
    const bool gz = b.payload_length >= 2 && p[0] == 0x1f && p[1] == 0x8b;
    HV_FUZZ_CHECK(xz == (b.payload_format == boot::PayloadFormat::xz), "xz payload judged wrongly");
    HV_FUZZ_CHECK(gz == (b.payload_format == boot::PayloadFormat::gzip), "gzip payload judged wrongly");
    if (b.payload_format != boot::PayloadFormat::unknown) ++stats.formats;
    return {};
}

} // namespace hv::fuzz

int hv_bzimage_fuzz_one(const uint8_t* data, size_t size) {
    return hv::fuzz::run_or_abort("bzimage_fuzz", hv::fuzz::bzimage_fuzz_check, data, size);
}

#ifdef HV_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return hv_bzimage_fuzz_one(data, size); }
#endif
