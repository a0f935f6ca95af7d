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
    while (!stop_.load(std::memory_order_relaxed)) {
        // Sleep with kicks on, then look once more: a chain the driver
        // added without kicking (we had kicks off) is not lost.
        queue->want_notify(false);
        bool more = true;
        while (batched_ < kBatch && (more = take(*queue))) {
        }
        run_batch(*queue);
        if (returned_) {
            returned_ = false;
            queues.used(q);
        }
        if (!more) {
            if (queue->error() != cv::QueueError::none) break;
            queue->want_notify(true);
            if (queue->available() == 0) break;
        }
    }
    run_batch(*queue); // stopped with a batch gathered: its chains still go back
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
    if (!cv::decode_blk_request(ram_, segs, chain, limits, data, ranges, req)) {
        complain("request without header or status byte", "returned unanswered");
        queue.push(chain.head, 0);
        returned_ = true;
        return true;
    }
    if (req.refuse != cv::kBlkOk) {
        complain("request refused", req.why);
        finish(queue, chain.head, req.status_gpa, req.refuse, 0);
        return true;
    }
    if (req.type == cv::BlkType::in || req.type == cv::BlkType::out) {
        if (slots_.empty()) {
            slots_.resize(kBatch);
            ios_.resize(kBatch);
        }
        Slot& slot = slots_[batched_];
        slot.head = chain.head;
        slot.status_gpa = req.status_gpa;
        slot.written = req.type == cv::BlkType::in ? static_cast<uint32_t>(req.data_bytes) : 0;
        for (uint32_t i = 0; i < req.data_segments; ++i) slot.iov[i] = iovec{ram_.at(data[i].gpa, data[i].len), data[i].len};
        ios_[batched_] = BlockIo{req.type == cv::BlkType::out, slot.iov, static_cast<int>(req.data_segments),
                                 req.sector * cv::kSectorSize, {}};
        ++batched_;
        return true;
    }
    // FLUSH covers the writes completed before it; the others are ordered
    // after the batch the same way, which costs nothing that matters.
    run_batch(queue);
    uint32_t written = 0;
    const uint8_t status = execute(req, data, ranges, written);
    finish(queue, chain.head, req.status_gpa, status, written);
    return true;
}

void VirtioBlk::run_batch(cv::SplitQueue& queue) {
    if (batched_ == 0) return;
    backend_->transfer_batch(ios_.data(), batched_);
    for (uint32_t i = 0; i < batched_; ++i) {
        const Result<void>& r = ios_[i].result;
        if (!r) complain("I/O failed", r.error().message);
        finish(queue, slots_[i].head, slots_[i].status_gpa, r ? cv::kBlkOk : cv::kBlkIoErr, r ? slots_[i].written : 0);
    }
    batched_ = 0;
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
        return cv::kBlkIoErr; // batched (take()), never here
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
