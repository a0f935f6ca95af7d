// ShareArbiter: proportional shares of one backing device between domain
// processes (issue 9, a domain's io_weight). Every domain with disks on the
// device holds a slot in one ShareTable that hvd maps into each domain
// process (shared memory). Start-time fair queueing across processes: a
// domain's virtual time advances by what it starts, divided by its weight
// (1..10000, 100 = cgroup v2's default io.weight); a domain may start
// while its virtual time is at most `window` ahead of the slowest *active*
// domain's. Domains that saturate the device therefore get bytes in the
// ratio of their weights, whatever the device and its scheduler are; a
// domain alone, or with idle neighbours, is never held back (work-
// conserving), and one coming back from idle cannot spend credit saved
// while it was idle (its virtual time is pulled up to the others').
// Active: something in flight, or asked within `idle_ns` and not idle()
// since (a busy domain
// whose threads wait for a CPU stays active while its transfers run); a
// slot not heard from for `dead_ns` is ignored whatever it says is in
// flight, so a domain killed mid-transfer holds the others up only that long.
// Lock-free on the table (each slot written by its owner only, read by
// all with __atomic builtins), so a domain that dies holding nothing can
// hold nobody up: its slot goes idle after `idle_ns`. The owner's own
// updates are atomic read-modify-writes too, so one domain's disks may
// share its slot from more than one thread.
// Freestanding; time comes from the caller.
#pragma once

#include <stdint.h>

namespace hv::core::qos {

struct ShareSlot {
    uint64_t vtime;       // weighted bytes started (100 = weight-100 bytes)
    uint64_t last_ns;     // when the owner last started or wanted to start something
    uint32_t weight;      // 0: the slot is free
    uint32_t in_flight;   // started and not yet done
};

struct ShareTable {
    static constexpr unsigned kSlots = 64;
    ShareSlot slots[kSlots];
};
static_assert(sizeof(ShareTable) == 64 * 24, "ShareTable is shared between processes: fixed layout");

class ShareArbiter {
public:
    static constexpr uint32_t kMinWeight = 1, kMaxWeight = 10000, kDefaultWeight = 100;
    static constexpr uint64_t kDefaultWindow = 1u << 20; // weight-100 bytes
    static constexpr uint64_t kDefaultIdleNs = 100'000'000;
    static constexpr uint64_t kDeadNs = 1'000'000'000;

    ShareArbiter() = default; // no table: everything may start
    // `slot` < kSlots, owned by this domain; weight outside 1..10000 is clamped.
    ShareArbiter(ShareTable* table, unsigned slot, uint32_t weight, uint64_t window = kDefaultWindow,
                 uint64_t idle_ns = kDefaultIdleNs);
    // Gives the slot back (weight 0).
    void release();

    // Whether this domain may start a transfer now (false: ask again after
    // a completion or a short timer; it counts as active meanwhile). The
    // cost is charged by start(), once the device knows it (a virtio
    // request's size is known only after it is taken off the queue).
    bool admit(uint64_t now_ns);
    // A transfer of `bytes` starts (after admit() said yes).
    void start(uint64_t now_ns, uint64_t bytes);
    // admit(), then start() if it may.
    bool try_start(uint64_t now_ns, uint64_t bytes) {
        if (!admit(now_ns)) return false;
        start(now_ns, bytes);
        return true;
    }
    // A transfer try_start() let go has ended.
    void done();
    // Nothing in flight and nothing waiting (the guest's queue is empty):
    // the others need not wait `idle_ns` to see it.
    void idle();

private:
    ShareTable* table_ = nullptr;
    unsigned slot_ = 0;
    uint32_t weight_ = kDefaultWeight;
    uint64_t window_ = kDefaultWindow;
    uint64_t idle_ns_ = kDefaultIdleNs;
};

} // namespace hv::core::qos
