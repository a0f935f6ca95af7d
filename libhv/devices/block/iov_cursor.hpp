// IovCursor: a position in a caller's iovec array, consumed front to back
// by a backend that serves one request in pieces (a cluster at a time):
// hand the next n bytes on as iovecs, or copy, or zero them.
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace hv::dev {

// After a preadv/pwritev on v[i..] moved `done` bytes: i and v[i] at the
// first byte not yet moved (the one rule for short transfers).
inline void advance_iov(std::vector<iovec>& v, size_t& i, size_t done) {
    while (i < v.size() && done >= v[i].iov_len) done -= v[i++].iov_len;
    if (i < v.size()) {
        v[i].iov_base = static_cast<uint8_t*>(v[i].iov_base) + done;
        v[i].iov_len -= done;
    }
}

class IovCursor {
public:
    IovCursor(const iovec* iov, int count) : iov_(iov), count_(std::max(count, 0)) {
        for (int i = 0; i < count_; ++i) total_ += iov_[i].iov_len;
    }

    // Bytes in the whole array (callers check it against the disk's size).
    uint64_t total() const { return total_; }

    // The next n bytes as iovecs.
    std::vector<iovec> take(uint64_t n) {
        std::vector<iovec> out;
        walk(n, [&](uint8_t* p, size_t len) { out.push_back(iovec{p, len}); });
        return out;
    }
    // The next n bytes copied to `dst` (what a write carries).
    void copy_out(uint8_t* dst, uint64_t n) {
        walk(n, [&](uint8_t* p, size_t len) {
            std::memcpy(dst, p, len);
            dst += len;
        });
    }
    // The next n bytes filled from `src` (what a read returns).
    void copy_in(const uint8_t* src, uint64_t n) {
        walk(n, [&](uint8_t* p, size_t len) {
            std::memcpy(p, src, len);
            src += len;
        });
    }
    void zero(uint64_t n) {
        walk(n, [](uint8_t* p, size_t len) { std::memset(p, 0, len); });
    }

private:
    // Stops at the array's end: callers never ask past total().
    template <class F>
    void walk(uint64_t n, F&& f) {
        while (n > 0 && i_ < count_) {
            const size_t room = iov_[i_].iov_len - at_;
            if (room == 0) {
                ++i_;
                at_ = 0;
                continue;
            }
            const size_t len = static_cast<size_t>(std::min<uint64_t>(n, room));
            f(static_cast<uint8_t*>(iov_[i_].iov_base) + at_, len);
            at_ += len;
            n -= len;
        }
    }

    const iovec* iov_;
    int count_;
    int i_ = 0;
    size_t at_ = 0;
    uint64_t total_ = 0;
};

} // namespace hv::dev
