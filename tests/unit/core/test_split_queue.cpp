// core::virtio::SplitQueue, fed by a driver written into fake guest RAM:
// chains in and out, indirect tables, notification suppression with and
// without event_idx, index wrap, and every malformed chain the walker must
// refuse without touching memory outside the guest's.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/virtio/split_queue.hpp"
#include "virtq_driver.hpp"

using namespace hv::core::virtio;
using hvtest::VirtqDriver;

namespace {

constexpr uint64_t kBuf = VirtqDriver::kBuf;

SplitQueue::Features features(bool event_idx, bool indirect = true) {
    SplitQueue::Features f;
    f.event_idx = event_idx;
    f.indirect_desc = indirect;
    return f;
}

struct Fixture {
    explicit Fixture(uint32_t size = 8, bool event_idx = false) : drv(size) {
        REQUIRE(q.configure(drv.ram(), drv.layout(), features(event_idx)) == QueueError::none);
    }
    bool pop() { return q.pop(segs.data(), static_cast<uint32_t>(segs.size()), chain); }
    // `n` chains of `head`, each offered, taken and returned with `written`.
    void cycle(uint16_t head, uint32_t n, uint32_t written) {
        for (uint32_t i = 0; i < n; ++i) {
            drv.offer(head);
            REQUIRE(pop());
            REQUIRE(q.push(head, written));
        }
    }
    VirtqDriver drv;
    SplitQueue q;
    std::vector<Segment> segs = std::vector<Segment>(16);
    Chain chain;
};

} // namespace

TEST_CASE("virtqueue: the layout is checked at configure", "[core][virtio]") {
    VirtqDriver d(8);
    SplitQueue q;
    auto bad = [&](SplitQueue::Layout l) { return q.configure(d.ram(), l, features(true)) == QueueError::bad_layout && !q.ready(); };
    auto l = d.layout();
    CHECK(bad({0, l.desc, l.avail, l.used}));
    CHECK(bad({6, l.desc, l.avail, l.used}));     // not a power of two
    CHECK(bad({65536, l.desc, l.avail, l.used})); // past 32768
    CHECK(bad({8, l.desc + 8, l.avail, l.used})); // descriptors 16-byte aligned
    CHECK(bad({8, l.desc, l.avail + 1, l.used}));
    CHECK(bad({8, l.desc, l.avail, l.used + 2}));
    CHECK(bad({8, (1 << 20) - 64, l.avail, l.used})); // table runs past RAM
    CHECK(bad({8, l.desc, ~0ull - 1, l.used}));       // wraps
    CHECK(bad({8, l.desc, l.avail, (1 << 20) - 68})); // used ring's avail_event past RAM
    CHECK(q.configure(d.ram(), l, features(true)) == QueueError::none);
    CHECK(q.ready());
    CHECK(q.size() == 8);
    // Without event_idx the used ring is 2 bytes shorter.
    CHECK(q.configure(d.ram(), {8, l.desc, l.avail, (1 << 20) - 68}, features(false)) == QueueError::none);
    // Guest RAM mapped off a 16-byte boundary here: the ring atomics would be misaligned.
    hv::core::GuestRam skewed{d.mem.data() + 2, d.mem.size() - 2};
    CHECK(q.configure(skewed, l, features(true)) == QueueError::bad_layout);
}

TEST_CASE("virtqueue: a request and its answer go round", "[core][virtio]") {
    Fixture f;
    Segment s{};
    CHECK_FALSE(f.pop()); // nothing offered
    CHECK(f.q.error() == QueueError::none);
    f.drv.desc(3, kBuf, 16, kDescNext, 5);
    f.drv.desc(5, kBuf + 0x100, 512, kDescNext | kDescWrite, 6);
    f.drv.desc(6, kBuf + 0x400, 1, kDescWrite);
    f.drv.offer(3);
    CHECK(f.q.available() == 1);
    REQUIRE(f.pop());
    CHECK(f.chain.head == 3);
    CHECK(f.chain.segments == 3);
    CHECK(f.chain.descriptors == 3);
    CHECK(f.chain.readable == 16);
    CHECK(f.chain.writable == 513);
    s = f.segs[0];
    CHECK((s.gpa == kBuf && s.len == 16 && !s.writable));
    s = f.segs[2];
    CHECK((s.gpa == kBuf + 0x400 && s.len == 1 && s.writable));
    CHECK(f.q.available() == 0);
    REQUIRE(f.q.push(3, 513));
    CHECK(f.drv.used_idx() == 1);
    CHECK(f.drv.used(0) == std::make_pair(3u, 513u));
    CHECK(f.q.needs_interrupt());
    CHECK_FALSE(f.q.needs_interrupt()); // once per entry
    // The driver turns interrupts off: none for the next answer.
    f.drv.set_avail_flags(kAvailNoInterrupt);
    f.drv.offer(6);
    REQUIRE(f.pop());
    REQUIRE(f.q.push(6, 1));
    CHECK_FALSE(f.q.needs_interrupt());
    // A head past the table is the device model's bug: refused, not written.
    CHECK_FALSE(f.q.push(8, 0));
    CHECK(f.drv.used_idx() == 2);
}

TEST_CASE("virtqueue: indirect tables, alone or after regular descriptors", "[core][virtio]") {
    Fixture f;
    constexpr uint64_t kTable = 0x8000;
    f.drv.put_desc(kTable, 0, kBuf, 64, kDescNext, 1);
    f.drv.put_desc(kTable, 1, kBuf + 0x1000, 4096, kDescNext | kDescWrite, 2);
    f.drv.put_desc(kTable, 2, kBuf + 0x2000, 1, kDescWrite);
    f.drv.desc(0, kTable, 48, kDescIndirect | kDescWrite); // the WRITE flag on it is ignored
    f.drv.offer(0);
    REQUIRE(f.pop());
    CHECK(f.chain.segments == 3);
    CHECK(f.chain.descriptors == 1); // of the queue's own table
    CHECK(f.chain.readable == 64);
    CHECK(f.chain.writable == 4097);
    // A regular readable descriptor, then the table (virtio 1.1+).
    f.drv.put_desc(kTable, 0, kBuf + 0x3000, 8, kDescWrite);
    f.drv.desc(1, kBuf + 0x4000, 32, kDescNext, 2);
    f.drv.desc(2, kTable, 16, kDescIndirect);
    f.drv.offer(1);
    REQUIRE(f.pop());
    CHECK(f.chain.head == 1);
    CHECK(f.chain.segments == 2);
    CHECK(f.chain.descriptors == 2);
    CHECK(f.chain.readable == 32);
    CHECK(f.chain.writable == 8);
    CHECK(f.q.error() == QueueError::none);
}

TEST_CASE("virtqueue: event_idx suppresses interrupts and asks for kicks", "[core][virtio]") {
    Fixture f(8, true);
    f.drv.desc(0, kBuf, 8, 0);
    // The driver wants an interrupt only when used idx passes 2.
    f.drv.set_used_event(2);
    for (int i = 0; i < 3; ++i) f.drv.offer(0);
    REQUIRE(f.pop());
    CHECK(f.drv.avail_event() == 1); // kick me when you pass entry 1
    REQUIRE(f.q.push(0, 0));
    CHECK_FALSE(f.q.needs_interrupt()); // idx 1: not past 2
    REQUIRE(f.pop());
    REQUIRE(f.q.push(0, 0));
    CHECK_FALSE(f.q.needs_interrupt()); // idx 2
    REQUIRE(f.pop());
    REQUIRE(f.q.push(0, 0));
    CHECK(f.q.needs_interrupt()); // idx 3 passed used_event 2
    // Kicks off: avail_event stays where it was while the device polls.
    f.q.want_notify(false);
    f.drv.offer(0);
    REQUIRE(f.pop());
    CHECK(f.drv.avail_event() == 3);
    f.q.want_notify(true);
    CHECK(f.drv.avail_event() == 4);
    CHECK(f.drv.used_flags() == 0); // event_idx does not use the flag
}

TEST_CASE("virtqueue: without event_idx the used flag asks for kicks", "[core][virtio]") {
    Fixture f;
    f.q.want_notify(false);
    CHECK(f.drv.used_flags() == kUsedNoNotify);
    f.q.want_notify(true);
    CHECK(f.drv.used_flags() == 0);
}

TEST_CASE("virtqueue: indices wrap at 65536", "[core][virtio]") {
    Fixture f(4, true);
    f.drv.desc(2, kBuf, 4, kDescWrite);
    f.cycle(2, 70000, 4);
    CHECK(f.drv.used_idx() == static_cast<uint16_t>(70000));
    CHECK(f.q.error() == QueueError::none);
}

TEST_CASE("virtqueue: malformed chains break the queue and are never returned", "[core][virtio][bad-input]") {
    struct Case {
        const char* what;
        QueueError want;
        void (*setup)(VirtqDriver&);
    };
    static const Case cases[] = {
        {"a loop", QueueError::loop, [](VirtqDriver& d) { d.desc(0, kBuf, 4, kDescNext, 1); d.desc(1, kBuf, 4, kDescNext, 0); d.offer(0); }},
        {"a self loop", QueueError::loop, [](VirtqDriver& d) { d.desc(0, kBuf, 4, kDescNext, 0); d.offer(0); }},
        {"next past the table", QueueError::desc_out_of_range, [](VirtqDriver& d) { d.desc(0, kBuf, 4, kDescNext, 8); d.offer(0); }},
        {"head past the table", QueueError::bad_head, [](VirtqDriver& d) { d.offer(8); }},
        {"buffer past RAM", QueueError::buffer_out_of_ram, [](VirtqDriver& d) { d.desc(0, (1 << 20) - 2, 4, 0); d.offer(0); }},
        {"buffer address wraps", QueueError::buffer_out_of_ram, [](VirtqDriver& d) { d.desc(0, ~0ull - 1, 4, 0); d.offer(0); }},
        {"read after write", QueueError::read_after_write, [](VirtqDriver& d) { d.desc(0, kBuf, 4, kDescNext | kDescWrite, 1); d.desc(1, kBuf, 4, 0); d.offer(0); }},
        {"indirect with next", QueueError::indirect_with_next, [](VirtqDriver& d) { d.desc(0, 0x8000, 16, kDescIndirect | kDescNext, 1); d.offer(0); }},
        {"empty indirect table", QueueError::bad_indirect_table, [](VirtqDriver& d) { d.desc(0, 0x8000, 0, kDescIndirect); d.offer(0); }},
        {"indirect length not a multiple of 16", QueueError::bad_indirect_table, [](VirtqDriver& d) { d.desc(0, 0x8000, 24, kDescIndirect); d.offer(0); }},
        {"indirect table past RAM", QueueError::bad_indirect_table, [](VirtqDriver& d) { d.desc(0, (1 << 20) - 16, 32, kDescIndirect); d.offer(0); }},
        {"nested indirect", QueueError::nested_indirect, [](VirtqDriver& d) {
             d.put_desc(0x8000, 0, 0x9000, 16, kDescIndirect);
             d.desc(0, 0x8000, 16, kDescIndirect);
             d.offer(0);
         }},
        {"loop inside an indirect table", QueueError::loop, [](VirtqDriver& d) {
             d.put_desc(0x8000, 0, kBuf, 4, kDescNext, 1);
             d.put_desc(0x8000, 1, kBuf, 4, kDescNext, 0);
             d.desc(0, 0x8000, 32, kDescIndirect);
             d.offer(0);
         }},
        {"next past an indirect table", QueueError::desc_out_of_range, [](VirtqDriver& d) {
             d.put_desc(0x8000, 0, kBuf, 4, kDescNext, 2);
             d.desc(0, 0x8000, 32, kDescIndirect);
             d.offer(0);
         }},
        {"more segments than the device takes", QueueError::too_many_segments, [](VirtqDriver& d) {
             for (uint16_t i = 0; i < 7; ++i) d.desc(i, kBuf, 4, kDescNext, static_cast<uint16_t>(i + 1));
             d.desc(7, kBuf, 4, 0);
             d.offer(0); // 8 segments; the device takes 4
         }},
        {"a chain over 2^32 bytes", QueueError::too_large, [](VirtqDriver& d) {
             // The same RAM named many times: each buffer is in range.
             d.desc(0, 0, 0x80000000u, kDescNext, 1);
             d.desc(1, 0, 0x80000000u, kDescNext, 2);
             d.desc(2, 0, 1, 0);
             d.offer(0);
         }},
        {"the avail index a queue and more ahead", QueueError::avail_overrun, [](VirtqDriver& d) { d.set_avail_idx(9); }},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        // 4 GiB of "RAM" for the size case would be too much: that case
        // names guest RAM that does not exist, so it gets a fake GuestRam
        // (never dereferenced past the rings: buffers are not touched).
        VirtqDriver d(8);
        c.setup(d);
        SplitQueue q;
        hv::core::GuestRam ram = d.ram();
        if (c.want == QueueError::too_large) ram.size = 1ull << 32;
        REQUIRE(q.configure(ram, d.layout(), features(false)) == QueueError::none);
        // Room for more than a table's worth, but for the capacity case.
        const uint32_t cap = c.want == QueueError::too_many_segments ? 4 : 16;
        std::vector<Segment> segs(cap);
        Chain chain;
        CHECK_FALSE(q.pop(segs.data(), cap, chain));
        CHECK(q.error() == c.want);
        CHECK_FALSE(q.ready());
        CHECK(std::string(queue_error_text(q.error())).size() > 5);
        // Broken: nothing more comes out, nothing goes in, until a reset.
        CHECK_FALSE(q.pop(segs.data(), cap, chain));
        CHECK_FALSE(q.push(0, 0));
        CHECK(d.used_idx() == 0);
        REQUIRE(q.configure(d.ram(), d.layout(), features(false)) == QueueError::none);
        CHECK(q.error() == QueueError::none);
    }
}

TEST_CASE("virtqueue: a driver that offers heads twice cannot have more in flight than the queue holds",
          "[core][virtio][bad-input]") {
    Fixture f;
    f.drv.desc(0, kBuf, 4, 0);
    for (int i = 0; i < 8; ++i) {
        f.drv.offer(0); // the same head, never returned
        REQUIRE(f.pop());
    }
    f.drv.offer(0); // a ninth chain in flight: there are only 8 descriptors
    CHECK_FALSE(f.pop());
    CHECK(f.q.error() == QueueError::avail_overrun);
}

TEST_CASE("virtqueue: indirect tables only when negotiated; 2^32 bytes in all is the most", "[core][virtio][bad-input]") {
    VirtqDriver d(8);
    d.put_desc(0x8000, 0, kBuf, 4, 0);
    d.desc(0, 0x8000, 16, kDescIndirect);
    d.offer(0);
    SplitQueue q;
    REQUIRE(q.configure(d.ram(), d.layout(), features(false, false)) == QueueError::none);
    std::vector<Segment> segs(4);
    Chain chain;
    CHECK_FALSE(q.pop(segs.data(), 4, chain));
    CHECK(q.error() == QueueError::indirect_refused);

    // Exactly 2^32 bytes is allowed (the spec forbids longer chains).
    VirtqDriver e(8);
    e.desc(0, 0, 0x80000000u, kDescNext, 1);
    e.desc(1, 0, 0x80000000u, kDescWrite);
    e.offer(0);
    hv::core::GuestRam big = e.ram();
    big.size = 1ull << 32; // buffers are named, never touched
    REQUIRE(q.configure(big, e.layout(), features(false)) == QueueError::none);
    REQUIRE(q.pop(segs.data(), 4, chain));
    CHECK(chain.readable + chain.writable == (1ull << 32));
}

TEST_CASE("virtqueue: event_idx interrupts across the 65535 -> 0 wrap", "[core][virtio]") {
    Fixture f(4, true);
    f.drv.desc(1, kBuf, 4, kDescWrite);
    f.cycle(1, 65534, 0); // the indices up to 65534
    (void)f.q.needs_interrupt();
    // The driver wants one when the used index passes 65535.
    f.drv.set_used_event(65535);
    f.cycle(1, 1, 0); // used idx 65535: not past it
    CHECK_FALSE(f.q.needs_interrupt());
    f.cycle(1, 1, 0); // used idx 0 (wrapped): past 65535
    CHECK(f.q.needs_interrupt());
    CHECK(f.drv.used_idx() == 0);
}
