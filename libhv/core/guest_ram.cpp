#include "core/guest_ram.hpp"

#include "core/text.hpp"

namespace hv::core {

bool GuestRam::read(uint64_t gpa, void* dst, uint64_t len) const {
    const uint8_t* p = at(gpa, len);
    if (p == nullptr) return false;
    if (len == 0) return true; // dst may be null for an empty read
    copy_bytes(dst, p, static_cast<size_t>(len));
    return true;
}

bool GuestRam::write(uint64_t gpa, const void* src, uint64_t len) const {
    uint8_t* p = at(gpa, len);
    if (p == nullptr) return false;
    if (len == 0) return true; // src may be null for an empty write
    copy_bytes(p, src, static_cast<size_t>(len));
    return true;
}

} // namespace hv::core
