// ConsoleRing: the last N bytes a domain wrote to its console, kept so a
// late `console` attach (or a crash report) can show what came before.
// Fixed capacity, overwrites the oldest bytes; freestanding.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace hv::core {

template <size_t Capacity>
class ConsoleRing {
    static_assert(Capacity > 0 && (Capacity & (Capacity - 1)) == 0, "capacity must be a power of two");

public:
    void write(const uint8_t* data, size_t len) {
        for (size_t i = 0; i < len; ++i) buf_[(head_ + i) & (Capacity - 1)] = data[i];
        head_ += len;
    }

    // Bytes held now (at most Capacity).
    size_t size() const { return head_ < Capacity ? static_cast<size_t>(head_) : Capacity; }
    // Bytes ever written, so readers can tell what they missed.
    uint64_t total() const { return head_; }

    // Copies the held bytes, oldest first, into dst (up to cap); returns
    // the count copied.
    size_t copy_out(uint8_t* dst, size_t cap) const {
        const size_t n = size() < cap ? size() : cap;
        const uint64_t start = head_ - size();
        for (size_t i = 0; i < n; ++i) dst[i] = buf_[(start + i) & (Capacity - 1)];
        return n;
    }

private:
    uint8_t buf_[Capacity] = {};
    uint64_t head_ = 0;
};

} // namespace hv::core
