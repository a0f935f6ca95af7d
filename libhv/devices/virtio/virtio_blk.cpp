#include "devices/virtio/virtio_blk.hpp"

#include "core/le_bytes.hpp"

#include <algorithm>
#include <cstring>

namespace hv::dev {

namespace cv = core::virtio;

namespace {

constexpr uint32_t kMaxComplaints = 20;

void put(uint8_t* cfg, uint32_t off, uint64_t v, uint32_t n) { core::store_le(cfg + off, v, n); }


} // namespace

VirtioBlk::VirtioBlk(std::unique_ptr<BlockBackend> backend, const core::GuestRam& ram, std::string id,
                     std::shared_ptr<spdlog::logger> log, const std::atomic<bool>& stop)
    : backend_(std::move(backend)), ram_(ram), id_(std::move(id)), log_(std::move(log)), stop_(stop) {}

void VirtioBlk::set_limits(const Limits& l) {
    limits_ = l;
    const uint64_t now = TimerFd::now_ns();
    bytes_ = core::qos::TokenBucket(l.bytes, uint64_t{l.bytes_interval_us} * 1000, l.bytes, now);
    ops_ = core::qos::TokenBucket(l.ops, uint64_t{l.ops_interval_us} * 1000, l.ops, now);
    if (throttled_) timer_.arm_at(now); // held back by the old limits: look again now
}

bool VirtioBlk::throttle() {
    if (bytes_.unlimited() && ops_.unlimited()) return false;
    const uint64_t now = TimerFd::now_ns();
    const uint64_t at = std::max(bytes_.ready_at(now), ops_.ready_at(now));
    if (at <= now) return false;
    throttled_ = true;
    if (!timer_.arm_at(at)) {
        throttled_ = false; // no timer to come back: not held (logged once by complain)
        complain("rate limit timer", "cannot be set; the limit is not applied");
        return false;
    }
    return true;
}

void VirtioBlk::charge_done(uint64_t now, uint64_t bytes) {
    if (!share_) return;
    share_->arbiter().start(now, bytes);
    share_->arbiter().done(now);
}

bool VirtioBlk::held_by_share(uint64_t now) {
    if (!share_ || share_->arbiter().admit(now)) return false;
    if (in_flight_ > 0) return true; // a completion comes, and the loop asks again
    throttled_ = true;
    if (!timer_.arm_at(now + kShareRetryNs)) {
        throttled_ = false;
        complain("io_weight timer", "cannot be set; the share is not applied");
        return false;
    }
    return true;
}

// The limits' timer, read whatever the state (it is level-triggered on
// the loop); the queue goes on only while the driver runs the device.
void VirtioBlk::poll(cv::Queues& queues) {
    if (!timer_.consume() || !throttled_) return;
    if (queues.running()) {
        throttled_ = false;
        notify(queues, 0);
    } else if (!timer_.arm_at(TimerFd::now_ns() + kStoppedRetryNs)) {
        // Not running now (bus mastering off, say) but not reset either:
        // looked at again later, or the queue would wait for a reset.
        throttled_ = false;
    }
}

void VirtioBlk::reset() {
    features_ = 0;
    if (share_) share_->arbiter().idle(TimerFd::now_ns()); // the driver let go of the device
    throttled_ = false;
    timer_.disarm();
}

uint64_t VirtioBlk::features() const {
    uint64_t f = cv::kBlkFSegMax | cv::kBlkFBlkSize | cv::kBlkFFlush;
    f |= backend_->read_only() ? cv::kBlkFRo : cv::kBlkFDiscard | cv::kBlkFWriteZeroes;
    return f;
}

// struct virtio_blk_config (virtio 1.2 5.2.4), up to write_zeroes_may_unmap.
void VirtioBlk::read_config(uint32_t offset, uint8_t* data, uint32_t len) {
    uint8_t cfg[kConfigSize] = {};
    const uint64_t max_sectors = kMaxRangeSectors;
    put(cfg, 0, backend_->size() / cv::kSectorSize, 8); // capacity
    put(cfg, 12, kSegMax, 4);                           // seg_max
    put(cfg, 20, cv::kSectorSize, 4);                   // blk_size
    put(cfg, 36, max_sectors, 4);                       // max_discard_sectors
    put(cfg, 40, kMaxRanges, 4);                        // max_discard_seg
    put(cfg, 44, 1, 4);                                 // discard_sector_alignment
    put(cfg, 48, max_sectors, 4);                       // max_write_zeroes_sectors
    put(cfg, 52, kMaxRanges, 4);                        // max_write_zeroes_seg
    cfg[56] = 1;                                        // write_zeroes_may_unmap
    std::memcpy(data, cfg + offset, len);
}

void VirtioBlk::complain(const char* what, const std::string& detail) {
    if (complaints_ >= kMaxComplaints) return;
    if (++complaints_ == kMaxComplaints) {
        log_->warn("disk '{}': {}: {} (further problems of this disk are not logged)", backend_->path(), what, detail);
    } else {
        log_->warn("disk '{}': {}: {}", backend_->path(), what, detail);
    }
}

void VirtioBlk::notify(cv::Queues& queues, uint32_t q) {
    cv::SplitQueue* queue = queues.queue(q);
    if (queue == nullptr) return;
    if (slots_.empty()) {
        slots_.resize(kInFlight);
        for (uint32_t i = kInFlight; i > 0; --i) free_.push_back(i - 1);
    }
    // A share per call: the loop serves the domain's other devices in
    // between (the transport calls again while chains are left).
    uint32_t taken = 0;
    bool more = true;
    if (throttled_) return; // the limits' timer brings the queue back
    while (!stop_.load(std::memory_order_relaxed) && taken < kPerCall && !throttled_) {
        // Kicks off while we look; everything available is started.
        queue->want_notify(false);
        more = true;
        // The share is asked only when there is something to start: an
        // empty queue must not look like a domain wanting the device.
        while (!free_.empty() && taken < kPerCall && !stop_.load(std::memory_order_relaxed) && !throttle() &&
               (more = queue->available() > 0) && !held_by_share(TimerFd::now_ns()) && (more = take(*queue))) {
            ++taken;
            if (returned_) { // done at once (no asynchronous I/O): tell the driver now
                returned_ = false;
                queues.used(q);
            }
        }
        // One transfer ends (and any others that have); their chains go
        // back, and the queue is looked at again before the next wait.
        if (in_flight_ > 0 && complete_one(*queue, true))
            while (in_flight_ > 0 && complete_one(*queue, false)) {
            }
        if (returned_) {
            returned_ = false;
            queues.used(q);
        }
        if (!more && in_flight_ == 0) {
            if (queue->error() != cv::QueueError::none) break;
            // Sleep with kicks on, then look once more: a chain the driver
            // added without kicking (we had kicks off) is not lost.
            queue->want_notify(true);
            if (queue->available() == 0) {
                // Nothing waits or runs: this domain holds nobody back
                // (ShareArbiter keeps its place for a short pause).
                if (share_) share_->arbiter().idle(TimerFd::now_ns());
                break;
            }
        }
    }
    drain(*queue); // what is in flight still ends and goes back
    if (returned_) {
        returned_ = false;
        queues.used(q);
    }
    // Out of share with chains maybe left: kicks back on, so none is lost
    // whether or not the transport calls again.
    if (more && !throttled_ && queue->error() == cv::QueueError::none) queue->want_notify(true);
    if (queue->error() != cv::QueueError::none) {
        complain("the driver broke its queue", cv::queue_error_text(queue->error()));
        queues.needs_reset();
    }
}

bool VirtioBlk::take(cv::SplitQueue& queue) {
    cv::Segment segs[kSegMax + 2];
    cv::Segment data[kSegMax + 2];
    cv::BlkRange ranges[kMaxRanges];
    const cv::BlkLimits limits{backend_->size() / cv::kSectorSize, backend_->read_only(), kMaxRanges, kMaxRangeSectors};
    cv::Chain chain;
    if (!queue.pop(segs, kSegMax + 2, chain)) return false;
    cv::BlkRequest req;
    const uint64_t now = TimerFd::now_ns();
    if (!cv::decode_blk_request(ram_, segs, chain, limits, data, ranges, req)) {
        complain("request without header or status byte", "returned unanswered");
        queue.push(chain.head, 0);
        returned_ = true;
        charge_done(now, 0); // it took a turn: the share counts it
        return true;
    }
    // What the request costs the limits (a refused one too: it took a turn).
    (void)ops_.take(now, 1);
    if (req.type == cv::BlkType::in || req.type == cv::BlkType::out) (void)bytes_.take(now, req.data_bytes);
    if (req.refuse != cv::kBlkOk) {
        complain("request refused", req.why);
        finish(queue, chain.head, req.status_gpa, req.refuse, 0);
        charge_done(now, 0);
        return true;
    }
    if (req.type == cv::BlkType::in || req.type == cv::BlkType::out) {
        if (share_) share_->arbiter().start(now, req.data_bytes);
        const uint32_t s = free_.back();
        free_.pop_back();
        Slot& slot = slots_[s];
        slot.head = chain.head;
        slot.status_gpa = req.status_gpa;
        slot.written = req.type == cv::BlkType::in ? static_cast<uint32_t>(req.data_bytes) : 0;
        for (uint32_t i = 0; i < req.data_segments; ++i) slot.iov[i] = iovec{ram_.at(data[i].gpa, data[i].len), data[i].len};
        slot.io = BlockIo{req.type == cv::BlkType::out, slot.iov, static_cast<int>(req.data_segments), req.sector * cv::kSectorSize, s, {}};
        if (backend_->start(slot.io)) {
            ++in_flight_;
        } else {
            // No asynchronous I/O here (or its queue is full): now.
            slot.io.result = slot.io.write ? backend_->write(slot.iov, slot.io.count, slot.io.offset)
                                           : backend_->read(slot.iov, slot.io.count, slot.io.offset);
            finish_slot(queue, s);
            if (share_) share_->arbiter().done(TimerFd::now_ns());
        }
        return true;
    }
    // FLUSH covers the writes completed before it; the others are ordered
    // after what is in flight the same way, which costs nothing that matters.
    drain(queue);
    uint32_t written = 0;
    if (share_) share_->arbiter().start(now, 0); // FLUSH, DISCARD, WRITE_ZEROES, GET_ID: the device's time all the same
    const uint8_t status = execute(req, data, ranges, written);
    finish(queue, chain.head, req.status_gpa, status, written);
    if (share_) share_->arbiter().done(TimerFd::now_ns());
    return true;
}

bool VirtioBlk::complete_one(cv::SplitQueue& queue, bool block) {
    BlockIo* io = backend_->wait_any(block);
    if (io == nullptr) {
        if (block) { // a backend that lost transfers: their chains are lost, not the slots
            complain("the backend lost transfers", std::to_string(in_flight_) + " never ended");
            if (share_)
                for (uint32_t i = 0; i < in_flight_; ++i) share_->arbiter().done(TimerFd::now_ns());
            in_flight_ = 0;
            free_.clear();
            for (uint32_t i = kInFlight; i > 0; --i) free_.push_back(i - 1);
        }
        return false;
    }
    --in_flight_;
    if (share_) share_->arbiter().done(TimerFd::now_ns());
    finish_slot(queue, io->tag);
    return true;
}

void VirtioBlk::drain(cv::SplitQueue& queue) {
    while (in_flight_ > 0) complete_one(queue, true);
}

void VirtioBlk::finish_slot(cv::SplitQueue& queue, uint32_t s) {
    Slot& slot = slots_[s];
    const Result<void>& r = slot.io.result;
    if (!r) complain("I/O failed", r.error().message);
    finish(queue, slot.head, slot.status_gpa, r ? cv::kBlkOk : cv::kBlkIoErr, r ? slot.written : 0);
    free_.push_back(s);
}

// The status byte, then the chain back to the driver with what the device
// wrote (the data, and the status byte).
void VirtioBlk::finish(cv::SplitQueue& queue, uint16_t head, uint64_t status_gpa, uint8_t status, uint32_t written) {
    ram_.write(status_gpa, &status, 1);
    queue.push(head, written + 1);
    returned_ = true;
}

uint8_t VirtioBlk::execute(const cv::BlkRequest& req, const cv::Segment* data, const cv::BlkRange* ranges, uint32_t& written) {
    Result<void> r;
    switch (req.type) {
    case cv::BlkType::in:
    case cv::BlkType::out:
        return cv::kBlkIoErr; // started by take(), never here
    case cv::BlkType::flush:
        r = backend_->flush();
        break;
    case cv::BlkType::get_id: {
        uint8_t id[cv::kBlkIdBytes] = {};
        std::memcpy(id, id_.data(), std::min<size_t>(id_.size(), sizeof id));
        uint64_t left = sizeof id;
        for (uint32_t i = 0; i < req.data_segments && left > 0; ++i) {
            const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(data[i].len, left));
            ram_.write(data[i].gpa, id + (sizeof id - left), n);
            left -= n;
            written += n;
        }
        break;
    }
    case cv::BlkType::discard:
    case cv::BlkType::write_zeroes:
        for (uint32_t i = 0; i < req.ranges && r; ++i) {
            const uint64_t off = ranges[i].sector * cv::kSectorSize;
            const uint64_t len = uint64_t{ranges[i].sectors} * cv::kSectorSize;
            r = req.type == cv::BlkType::discard ? backend_->discard(off, len) : backend_->write_zeroes(off, len, ranges[i].unmap);
        }
        break;
    }
    if (!r) {
        complain("I/O failed", r.error().message);
        return cv::kBlkIoErr;
    }
    return cv::kBlkOk;
}

} // namespace hv::dev
