// ShareArbiter: proportional shares of one backing device between domain
// processes (issue 9, a domain's io_weight). Every domain with disks on the
// device holds a slot in one ShareTable that each domain process maps
// (devices/block/io_share.hpp). Start-time fair queueing across processes:
// a domain's virtual time advances by what it starts, divided by its
// weight (1..10000, 100 = cgroup v2's default io.weight), and a domain may
// start while its virtual time is at most `window` ahead of the slowest
// *backlogged* one's. Domains that keep the device busy therefore get
// bytes in the ratio of their weights, whatever the device and its
// scheduler are.
//
// Backlogged: the domain has a request waiting (admit() was asked and
// idle() has not been called since) or a transfer in flight. Only
// backlogged domains hold others back, so a domain alone, or beside quiet
// ones, is never held (work-conserving): a neighbour that reads a little
// now and then holds the others only while its request is there.
//
// Coming back: a domain that was not backlogged for more than `grace_ns`
// is placed at the virtual time of the slowest domain that is backlogged
// or went quiet within its grace (up or down: no credit saved while idle,
// and no debt from another period either, such as a table a previous
// boot left or a neighbour that joined meanwhile). One that comes back
// within `grace_ns` keeps its place, up to two windows behind that of
// the slowest around: a guest's pause between requests (think time) does not
// hand its share to the neighbour, and a domain that uses less than its
// share does not save it up. (Anticipation as bfq's slice_idle, but
// without holding anyone while it waits.)
//
// A slot not heard from for `dead_ns` is ignored whatever it says (a
// domain killed mid-transfer holds the others up only that long), and so
// is one whose clock reading lies in the future (a previous boot's).
// Lock-free on the table: each slot is written by its owner only (its
// disks may share it from more than one thread, so the owner's updates
// are atomic read-modify-writes), read by all with __atomic builtins.
// Freestanding; time comes from the caller (CLOCK_MONOTONIC).
#pragma once

#include <stdint.h>

namespace hv::core::qos {

struct ShareSlot {
    uint64_t vtime;      // weighted bytes started (100 = weight-100 bytes)
    uint64_t last_ns;    // when the owner last asked, started or ended something
    uint64_t quiet_ns;   // 0: backlogged (asked since its last idle()); else when it went quiet
    uint32_t weight;     // 0: the slot is free
    uint32_t in_flight;  // started and not yet done
};

struct ShareTable {
    static constexpr unsigned kSlots = 64;
    ShareSlot slots[kSlots];
};
static_assert(sizeof(ShareTable) == 64 * 32, "ShareTable is shared between processes: fixed layout");

class ShareArbiter {
public:
    static constexpr uint32_t kMinWeight = 1, kMaxWeight = 10000, kDefaultWeight = 100;
    static constexpr uint64_t kDefaultWindow = 1u << 20; // weight-100 bytes
    static constexpr uint64_t kDefaultGraceNs = 100'000'000;
    static constexpr uint64_t kDeadNs = 1'000'000'000;
    // What any request costs besides its bytes (weight-100 bytes): one
    // that moves no data still takes the device's time, and a guest that
    // sends only such requests must not stand still in virtual time.
    static constexpr uint64_t kRequestCost = 4096;

    ShareArbiter() = default; // no table: everything may start
    // `slot` < kSlots, owned by this domain; weight outside 1..10000 is clamped.
    ShareArbiter(ShareTable* table, unsigned slot, uint32_t weight, uint64_t window = kDefaultWindow,
                 uint64_t grace_ns = kDefaultGraceNs);
    // Gives the slot back (weight 0).
    void release();

    // The domain has a request to start: whether it may now (false: ask
    // again after a completion or a short timer; it is backlogged either
    // way). The cost is charged by start(), once the device knows it (a
    // virtio request's size is known only after it is taken off the queue).
    bool admit(uint64_t now_ns);
    // A request costing `bytes` (plus kRequestCost) starts (after admit()
    // said yes); done() when it ends.
    void start(uint64_t now_ns, uint64_t bytes);
    // admit(), then start() if it may.
    bool try_start(uint64_t now_ns, uint64_t bytes) {
        if (!admit(now_ns)) return false;
        start(now_ns, bytes);
        return true;
    }
    void done(uint64_t now_ns);
    // Nothing waits (the guest's queue is empty): once nothing is in
    // flight either, the domain holds nobody back.
    void idle(uint64_t now_ns);

private:
    ShareTable* table_ = nullptr;
    unsigned slot_ = 0;
    uint32_t weight_ = kDefaultWeight;
    uint64_t window_ = kDefaultWindow;
    uint64_t grace_ns_ = kDefaultGraceNs;
};

} // namespace hv::core::qos
