// The CPUID ioctls with the kernel's C layout. Debian's <linux/kvm.h>
// declares kvm_cpuid2's trailing array with __DECLARE_FLEX_ARRAY, which in
// C++ adds a byte-sized empty struct: sizeof(kvm_cpuid2) becomes 12, not 8,
// so both the ioctl numbers and the entries' offset come out wrong. These
// definitions use the 8-byte header the kernel expects.
#pragma once

#include <sys/ioctl.h>

#include <cstdint>

#include <linux/kvm.h>

namespace hv::kvm {

struct CpuidHeader {
    uint32_t nent;
    uint32_t padding;
    // kvm_cpuid_entry2 entries[nent] follow
};
static_assert(sizeof(CpuidHeader) == 8);

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidHeader);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);
static_assert(kGetSupportedCpuid == 0xc008ae05ul);
static_assert(kSetCpuid2 == 0x4008ae90ul);

} // namespace hv::kvm
