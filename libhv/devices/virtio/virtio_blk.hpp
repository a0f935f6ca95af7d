// VirtioBlk: the virtio block device (virtio 1.2 section 5.2) over a
// BlockBackend. The core decodes each request (core/virtio/blk_request.hpp)
// and walks the queue; this model does the I/O. One request queue, served
// on the domain's I/O loop (dev::IoLoop). Reads and writes are started on
// the backend (io_uring for raw files) as the driver makes them
// available, up to kInFlight at once; each returns to the driver when it
// ends, and the queue is looked at again between completions, so the
// device stays busy while the guest adds requests. FLUSH, DISCARD and
// WRITE_ZEROES wait until nothing is in flight. A backend without
// asynchronous I/O (qcow2) does each transfer in turn.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/guest_ram.hpp"
#include "core/qos/token_bucket.hpp"
#include "core/virtio/blk_request.hpp"
#include "core/virtio/virtio_device.hpp"
#include "devices/block/block_backend.hpp"
#include "devices/block/io_share.hpp"
#include "devices/timer_fd.hpp"

namespace hv::dev {

class VirtioBlk final : public core::virtio::VirtioDevice {
public:
    static constexpr uint16_t kQueueSize = 256;
    static constexpr uint32_t kSegMax = 128; // data buffers per request
    static constexpr uint32_t kMaxRanges = 16;
    // Sectors per DISCARD / WRITE_ZEROES range (32 MiB): without fallocate
    // a range is zeroed by writing, on the I/O loop.
    static constexpr uint32_t kMaxRangeSectors = 1u << 16;

    // `id`: what GET_ID answers (/sys/block/vdX/serial), at most 20 bytes used.
    // `stop`: set when the domain is going away; a kick's loop ends at
    // the next request (a guest that keeps its queue full cannot hold
    // destroy). Outlives the device.
    VirtioBlk(std::unique_ptr<BlockBackend> backend, const core::GuestRam& ram, std::string id,
              std::shared_ptr<spdlog::logger> log, const std::atomic<bool>& stop);

    const BlockBackend& backend() const { return *backend_; }

    // Rate limits (the disk spec's rate= and iops=): `bytes` read or
    // written and `ops` requests per interval, 0 for none. While a bucket
    // is empty the queue is left alone (kicks off) and the timer brings
    // it back. Before the domain runs, or under the transport's lock.
    struct Limits {
        uint64_t bytes = 0;
        uint32_t bytes_interval_us = 0;
        uint64_t ops = 0;
        uint32_t ops_interval_us = 0;
    };
    void set_limits(const Limits& l);
    const Limits& limits() const { return limits_; }
    // The limits' timerfd (-1 if it could not be made: then limits are
    // refused): the I/O loop watches it and calls the transport's poll().
    int timer_fd() const { return timer_.fd(); }
    // The domain's share of the device the disk is on (io_weight; shared
    // by the domain's disks on that device), or null: none. Requests are
    // taken only while the share allows (each costs its bytes and
    // ShareArbiter::kRequestCost); held back with nothing in flight, the
    // queue waits kShareRetryNs on the timer. Before the domain runs.
    void set_share(std::shared_ptr<IoShare> share) { share_ = std::move(share); }
    static constexpr uint64_t kShareRetryNs = 1'000'000;
    // A held-back queue whose device the driver stopped without a reset
    // is looked at again this often.
    static constexpr uint64_t kStoppedRetryNs = 10'000'000;

    uint16_t device_type() const override { return 2; }
    uint64_t features() const override;
    uint32_t queue_count() const override { return 1; }
    uint16_t queue_max_size() const override { return kQueueSize; }
    uint32_t config_size() const override { return kConfigSize; }
    void read_config(uint32_t offset, uint8_t* data, uint32_t len) override;
    void write_config(uint32_t, const uint8_t*, uint32_t) override {} // writeback toggle not offered
    void activate(uint64_t features) override { features_ = features; }
    void reset() override;
    void notify(core::virtio::Queues& queues, uint32_t q) override;
    bool resume(uint32_t) const override { return !throttled_; }
    void poll(core::virtio::Queues& queues) override;

    // Reads and writes in flight at once, at most.
    static constexpr uint32_t kInFlight = 32;
    // Requests taken per notify() call, at most (then the I/O loop serves
    // the domain's other devices, and comes back).
    static constexpr uint32_t kPerCall = kQueueSize;

private:
    static constexpr uint32_t kConfigSize = 60;
    // A read or write in flight.
    struct Slot {
        uint16_t head = 0;
        uint64_t status_gpa = 0;
        uint32_t written = 0; // what the device writes on success (a read's data)
        iovec iov[kSegMax + 2];
        BlockIo io;
    };
    // Takes one chain off the queue (false: none left) and starts it, or
    // does it (anything but a read or write: once nothing is in flight).
    bool take(core::virtio::SplitQueue& queue);
    // Returns the chain of a started transfer that ended, waiting for one
    // if `block`; false when there was none to return.
    bool complete_one(core::virtio::SplitQueue& queue, bool block);
    void drain(core::virtio::SplitQueue& queue);
    void finish(core::virtio::SplitQueue& queue, uint16_t head, uint64_t status_gpa, uint8_t status, uint32_t written);
    void finish_slot(core::virtio::SplitQueue& queue, uint32_t slot);
    // Does one decoded request; the status it ends with.
    uint8_t execute(const core::virtio::BlkRequest& req, const core::virtio::Segment* data,
                    const core::virtio::BlkRange* ranges, uint32_t& written);
    void complain(const char* what, const std::string& detail);
    // Whether the limits hold requests back now (then the timer is set).
    bool throttle();
    // Whether the domain's share holds requests back now: with transfers
    // in flight their completions bring the queue back, else the timer.
    bool held_by_share(uint64_t now);
    // A request that moved no data and is over: its cost to the share.
    void charge_done(uint64_t now, uint64_t bytes);

    std::unique_ptr<BlockBackend> backend_;
    core::GuestRam ram_;
    std::string id_;
    std::shared_ptr<spdlog::logger> log_;
    const std::atomic<bool>& stop_;
    uint64_t features_ = 0;
    uint32_t complaints_ = 0; // the first few problems are logged, not a guest's flood
    // Slots for transfers in flight (made once, reused: no allocation per
    // request), and the free ones.
    std::vector<Slot> slots_;
    std::vector<uint32_t> free_;
    uint32_t in_flight_ = 0;
    bool returned_ = false; // chains went back since the driver was last told
    Limits limits_;
    core::qos::TokenBucket bytes_, ops_;
    TimerFd timer_;
    bool throttled_ = false;
    std::shared_ptr<IoShare> share_;
};

} // namespace hv::dev
