#include "core/virtio/split_queue.hpp"

namespace hv::core::virtio {

namespace {

constexpr uint64_t kRingHeader = 4; // flags + idx, both rings

bool power_of_two(uint32_t n) { return n != 0 && (n & (n - 1)) == 0; }

// Ring fields are guest bytes: read and written as 16-bit words without
// claiming they are uint16_t objects.
typedef uint16_t __attribute__((may_alias)) guest_u16;

// A ring field: aligned and inside RAM (configure() checked the layout).
guest_u16* ring16(const GuestRam& ram, uint64_t gpa) { return reinterpret_cast<guest_u16*>(ram.base + gpa); }

// Xen's and Linux's vring_need_event: whether moving the index from `old`
// to `now` passed the other side's event index.
bool need_event(uint16_t event, uint16_t now, uint16_t old) {
    return static_cast<uint16_t>(now - event - 1) < static_cast<uint16_t>(now - old);
}

} // namespace

const char* queue_error_text(QueueError e) {
    switch (e) {
    case QueueError::none: return "no error";
    case QueueError::not_ready: return "queue not configured";
    case QueueError::bad_layout: return "queue size not a power of two up to 32768, or rings misaligned or outside guest RAM";
    case QueueError::avail_overrun: return "available index ran more than a queue ahead, or more chains in flight than the queue holds";
    case QueueError::bad_head: return "available ring names a descriptor past the table";
    case QueueError::desc_out_of_range: return "descriptor's next is past its table";
    case QueueError::loop: return "descriptor chain longer than its table (a loop)";
    case QueueError::nested_indirect: return "indirect table inside an indirect table";
    case QueueError::indirect_with_next: return "descriptor with both INDIRECT and NEXT";
    case QueueError::indirect_refused: return "indirect descriptor without VIRTIO_F_INDIRECT_DESC";
    case QueueError::bad_indirect_table: return "indirect table empty, not a multiple of 16 bytes, or outside guest RAM";
    case QueueError::buffer_out_of_ram: return "buffer outside guest RAM";
    case QueueError::read_after_write: return "device-readable buffer after a device-writable one";
    case QueueError::too_many_segments: return "more buffers in one chain than the device takes";
    case QueueError::too_large: return "chain over 2^32 bytes in total";
    }
    return "unknown queue error";
}

QueueError SplitQueue::configure(const GuestRam& ram, const Layout& l, Features features) {
    reset();
    const uint64_t n = l.size;
    const uint64_t event = features.event_idx ? 2 : 0;
    if (!power_of_two(l.size) || l.size > kMaxQueueSize || l.desc % 16 != 0 || l.avail % 2 != 0 || l.used % 4 != 0 ||
        reinterpret_cast<uintptr_t>(ram.base) % 16 != 0 ||
        !ram.contains(l.desc, n * kDescSize) || !ram.contains(l.avail, kRingHeader + 2 * n + event) ||
        !ram.contains(l.used, kRingHeader + 8 * n + event))
        return QueueError::bad_layout;
    ram_ = ram;
    size_ = l.size;
    desc_ = l.desc;
    avail_ = l.avail;
    used_ = l.used;
    features_ = features;
    ready_ = true;
    return QueueError::none;
}

void SplitQueue::reset() {
    *this = SplitQueue{};
}

bool SplitQueue::fail(QueueError e) {
    if (error_ == QueueError::none) error_ = e;
    return false;
}


uint32_t SplitQueue::available() {
    if (!ready()) return 0;
    // avail_event (stored by pop() or want_notify()) must be visible before
    // the index is read, or the driver and this device could each decide
    // the other will act (the driver's virtio_mb pairs with this).
    if (features_.event_idx && notify_) __atomic_thread_fence(__ATOMIC_SEQ_CST);
    // Acquire: the ring entries and descriptors the driver wrote before it
    // moved its index are visible once the index is.
    const uint16_t idx = __atomic_load_n(ring16(ram_, avail_ + 2), __ATOMIC_ACQUIRE);
    const uint32_t n = static_cast<uint16_t>(idx - last_avail_);
    if (n > size_) {
        fail(QueueError::avail_overrun);
        return 0;
    }
    return n;
}

bool SplitQueue::pop(Segment* segs, uint32_t cap, Chain& chain) {
    if (available() == 0) return false;
    // Every chain taken and not yet returned holds a descriptor: more in
    // flight than the queue has means the driver offered heads twice.
    if (static_cast<uint16_t>(last_avail_ - used_idx_) >= size_) return fail(QueueError::avail_overrun);
    const uint16_t head = __atomic_load_n(ring16(ram_, avail_ + kRingHeader + 2ull * (last_avail_ % size_)), __ATOMIC_RELAXED);
    if (head >= size_) return fail(QueueError::bad_head);
    if (!walk(head, segs, cap, chain)) return false;
    ++last_avail_;
    // With event_idx the driver kicks once it passes avail_event: keep it at
    // the next entry this device will read while it wants kicks.
    if (features_.event_idx && notify_)
        __atomic_store_n(ring16(ram_, used_ + kRingHeader + 8ull * size_), last_avail_, __ATOMIC_RELAXED);
    return true;
}

// Regular descriptors, then at most one indirect table (virtio 1.2
// 2.7.5.3): each copied once, every step bounded by its table's size.
bool SplitQueue::walk(uint16_t head, Segment* segs, uint32_t cap, Chain& chain) {
    chain = Chain{};
    chain.head = head;
    uint64_t table = desc_;
    uint32_t table_size = size_;
    bool indirect = false;
    bool wrote = false;
    uint32_t steps = 0;
    uint32_t i = head;
    for (;;) {
        if (++steps > table_size) return fail(QueueError::loop);
        Desc d;
        if (!ram_.read(table + uint64_t{i} * kDescSize, &d, sizeof d)) return fail(QueueError::desc_out_of_range);
        // The copy is what was checked: the compiler may not go back to
        // guest memory (which the driver may be rewriting) for its fields.
        asm volatile("" ::: "memory");
        if (!indirect) ++chain.descriptors;
        if ((d.flags & kDescIndirect) != 0) {
            if (!features_.indirect_desc) return fail(QueueError::indirect_refused);
            if (indirect) return fail(QueueError::nested_indirect);
            if ((d.flags & kDescNext) != 0) return fail(QueueError::indirect_with_next);
            if (d.len == 0 || d.len % kDescSize != 0 || d.len / kDescSize > kMaxQueueSize || !ram_.contains(d.addr, d.len))
                return fail(QueueError::bad_indirect_table);
            table = d.addr;
            table_size = d.len / kDescSize;
            indirect = true;
            steps = 0;
            i = 0;
            continue;
        }
        if (!ram_.contains(d.addr, d.len)) return fail(QueueError::buffer_out_of_ram);
        const bool w = (d.flags & kDescWrite) != 0;
        if (!w && wrote) return fail(QueueError::read_after_write);
        wrote = wrote || w;
        if (chain.segments == cap) return fail(QueueError::too_many_segments);
        segs[chain.segments++] = Segment{d.addr, d.len, w};
        (w ? chain.writable : chain.readable) += d.len;
        if (chain.readable + chain.writable > (1ull << 32)) return fail(QueueError::too_large);
        if ((d.flags & kDescNext) == 0) return true;
        if (d.next >= table_size) return fail(QueueError::desc_out_of_range);
        i = d.next;
    }
}

bool SplitQueue::push(uint16_t head, uint32_t written) {
    if (!ready() || head >= size_) return false;
    const uint32_t elem[2] = {head, written};
    ram_.write(used_ + kRingHeader + 8ull * (used_idx_ % size_), elem, sizeof elem);
    ++used_idx_;
    // Release: the element is visible before the index that publishes it.
    __atomic_store_n(ring16(ram_, used_ + 2), used_idx_, __ATOMIC_RELEASE);
    return true;
}

bool SplitQueue::rewind(uint32_t n) {
    if (!ready() || n > static_cast<uint16_t>(last_avail_ - used_idx_)) return false;
    last_avail_ = static_cast<uint16_t>(last_avail_ - n);
    return true;
}

void SplitQueue::notify_when_added() {
    if (!ready()) return;
    notify_ = true;
    if (features_.event_idx) {
        // The driver kicks once its index passes avail_event: here, its
        // next chain past what it has made available already.
        const uint16_t idx = __atomic_load_n(ring16(ram_, avail_ + 2), __ATOMIC_ACQUIRE);
        __atomic_store_n(ring16(ram_, used_ + kRingHeader + 8ull * size_), idx, __ATOMIC_RELAXED);
    } else {
        __atomic_store_n(ring16(ram_, used_), static_cast<uint16_t>(0), __ATOMIC_RELAXED);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool SplitQueue::needs_interrupt() {
    if (!ready() || used_idx_ == signalled_) return false;
    // The used index must be visible before the driver's suppression is
    // read, or both sides could decide the other will act (virtio_mb).
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    const uint16_t old = signalled_;
    signalled_ = used_idx_;
    if (features_.event_idx) {
        const uint16_t used_event = __atomic_load_n(ring16(ram_, avail_ + kRingHeader + 2ull * size_), __ATOMIC_RELAXED);
        return need_event(used_event, used_idx_, old);
    }
    return (__atomic_load_n(ring16(ram_, avail_), __ATOMIC_RELAXED) & kAvailNoInterrupt) == 0;
}

void SplitQueue::want_notify(bool want) {
    if (!ready()) return;
    notify_ = want;
    if (features_.event_idx) {
        if (want) __atomic_store_n(ring16(ram_, used_ + kRingHeader + 8ull * size_), last_avail_, __ATOMIC_RELAXED);
    } else {
        __atomic_store_n(ring16(ram_, used_), static_cast<uint16_t>(want ? 0 : kUsedNoNotify), __ATOMIC_RELAXED);
    }
    // The device re-reads the available index after this (available()),
    // so a kick the driver skipped meanwhile is not lost.
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

} // namespace hv::core::virtio
