// VirtioBlk: the virtio block device (virtio 1.2 section 5.2) over a
// BlockBackend. The core decodes each request (core/virtio/blk_request.hpp)
// and walks the queue; this model does the I/O. One request queue; the
// I/O runs on the thread that kicked the queue (the vCPU's), synchronously.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <memory>
#include <string>

#include "core/guest_ram.hpp"
#include "core/virtio/blk_request.hpp"
#include "core/virtio/virtio_device.hpp"
#include "devices/block/block_backend.hpp"

namespace hv::dev {

class VirtioBlk final : public core::virtio::VirtioDevice {
public:
    static constexpr uint16_t kQueueSize = 256;
    static constexpr uint32_t kSegMax = 128; // data buffers per request
    static constexpr uint32_t kMaxRanges = 16;
    // Sectors per DISCARD / WRITE_ZEROES range (32 MiB): without fallocate
    // a range is zeroed by writing, on the vCPU thread.
    static constexpr uint32_t kMaxRangeSectors = 1u << 16;

    // `id`: what GET_ID answers (/sys/block/vdX/serial), at most 20 bytes used.
    // `stop`: set when the domain is going away; a kick's loop ends at
    // the next request (a guest that keeps its queue full cannot hold
    // destroy). Outlives the device.
    VirtioBlk(std::unique_ptr<BlockBackend> backend, const core::GuestRam& ram, std::string id,
              std::shared_ptr<spdlog::logger> log, const std::atomic<bool>& stop);

    const BlockBackend& backend() const { return *backend_; }

    uint16_t device_type() const override { return 2; }
    uint64_t features() const override;
    uint32_t queue_count() const override { return 1; }
    uint16_t queue_max_size() const override { return kQueueSize; }
    uint32_t config_size() const override { return kConfigSize; }
    void read_config(uint32_t offset, uint8_t* data, uint32_t len) override;
    void write_config(uint32_t, const uint8_t*, uint32_t) override {} // writeback toggle not offered
    void activate(uint64_t features) override { features_ = features; }
    void reset() override { features_ = 0; }
    void notify(core::virtio::Queues& queues, uint32_t q) override;

private:
    static constexpr uint32_t kConfigSize = 60;
    // Does one decoded request; the status it ends with.
    uint8_t execute(const core::virtio::BlkRequest& req, const core::virtio::Segment* data,
                    const core::virtio::BlkRange* ranges, uint32_t& written);
    void complain(const char* what, const std::string& detail);

    std::unique_ptr<BlockBackend> backend_;
    core::GuestRam ram_;
    std::string id_;
    std::shared_ptr<spdlog::logger> log_;
    const std::atomic<bool>& stop_;
    uint64_t features_ = 0;
    uint32_t complaints_ = 0; // the first few problems are logged, not a guest's flood
};

} // namespace hv::dev
