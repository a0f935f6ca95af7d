// A virtio driver's side of a split virtqueue, written into a fake guest
// RAM: what the tests and the fuzz target use to feed core::virtio::
// SplitQueue the way a guest kernel would (or would not).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/guest_ram.hpp"
#include "core/virtio/split_queue.hpp"

namespace hvtest {

class VirtqDriver {
public:
    // A queue of `size` entries in `ram_bytes` of RAM: descriptors at
    // 0x1000, the available ring at 0x3000, the used ring at 0x4000
    // (room for 256 entries), buffers from 0x10000 on.
    explicit VirtqDriver(uint32_t size, size_t ram_bytes = 1 << 20) : mem(ram_bytes), size_(size) {}

    hv::core::GuestRam ram() { return hv::core::GuestRam{mem.data(), mem.size()}; }
    hv::core::virtio::SplitQueue::Layout layout() const { return {size_, kDesc, kAvail, kUsed}; }

    void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) { put_desc(kDesc, i, addr, len, flags, next); }
    void put_desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
        std::memcpy(&mem[table + 16ull * i], &addr, 8);
        std::memcpy(&mem[table + 16ull * i + 8], &len, 4);
        std::memcpy(&mem[table + 16ull * i + 12], &flags, 2);
        std::memcpy(&mem[table + 16ull * i + 14], &next, 2);
    }
    // Makes chain `head` available.
    void offer(uint16_t head) {
        put16(kAvail + 4 + 2ull * (avail_idx_ % size_), head);
        ++avail_idx_;
        put16(kAvail + 2, avail_idx_);
    }
    void set_avail_idx(uint16_t v) {
        avail_idx_ = v;
        put16(kAvail + 2, v);
    }
    void set_avail_flags(uint16_t f) { put16(kAvail, f); }
    void set_used_event(uint16_t v) { put16(kAvail + 4 + 2ull * size_, v); }

    uint16_t used_idx() const { return get16(kUsed + 2); }
    uint16_t used_flags() const { return get16(kUsed); }
    uint16_t avail_event() const { return get16(kUsed + 4 + 8ull * size_); }
    // Used ring entry n: {id, len}.
    std::pair<uint32_t, uint32_t> used(uint16_t n) const {
        uint32_t e[2];
        std::memcpy(e, &mem[kUsed + 4 + 8ull * (n % size_)], 8);
        return {e[0], e[1]};
    }

    static constexpr uint64_t kDesc = 0x1000, kAvail = 0x3000, kUsed = 0x4000, kBuf = 0x10000;
    std::vector<uint8_t> mem;

private:
    void put16(uint64_t at, uint16_t v) { std::memcpy(&mem[at], &v, 2); }
    uint16_t get16(uint64_t at) const {
        uint16_t v;
        std::memcpy(&v, &mem[at], 2);
        return v;
    }
    uint32_t size_;
    uint16_t avail_idx_ = 0;
};

} // namespace hvtest
