// dev::VirtioBlk over a recording backend, its queue written by a fake
// driver (tests/unit/core/virtq_driver.hpp): the reads and writes of one
// pass reach the backend as one batch, a FLUSH waits for the batch before
// it, each chain returns with its status and the bytes written.
#include <catch2/catch.hpp>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "../core/virtq_driver.hpp"
#include "devices/virtio/virtio_blk.hpp"

namespace cv = hv::core::virtio;
using hvtest::VirtqDriver;

namespace {

// What the device asked of the backend, in order.
class RecordingBackend final : public hv::dev::BlockBackend {
public:
    std::vector<std::string> log;
    bool fail_offset_8k = false;

    uint64_t size() const override { return 1 << 20; }
    bool read_only() const override { return false; }
    const std::string& path() const override { return path_; }
    hv::Result<void> read(const iovec* iov, int count, uint64_t offset) override {
        for (int i = 0; i < count; ++i) std::memset(iov[i].iov_base, 0xab, iov[i].iov_len);
        log.push_back("read " + std::to_string(offset));
        return {};
    }
    hv::Result<void> write(const iovec*, int, uint64_t offset) override {
        log.push_back("write " + std::to_string(offset));
        return {};
    }
    void transfer_batch(hv::dev::BlockIo* ios, size_t n) override {
        log.push_back("batch " + std::to_string(n));
        BlockBackend::transfer_batch(ios, n);
        for (size_t i = 0; i < n; ++i)
            if (fail_offset_8k && ios[i].offset == 8192) ios[i].result = hv::make_error(hv::Errc::io_error, "injected");
    }
    hv::Result<void> flush() override {
        log.push_back("flush");
        return {};
    }
    hv::Result<void> discard(uint64_t, uint64_t) override { return {}; }
    hv::Result<void> write_zeroes(uint64_t, uint64_t, bool) override { return {}; }

private:
    std::string path_ = "/fake.img";
};

struct Rig {
    VirtqDriver drv{128};
    cv::SplitQueue queue;
    std::atomic<bool> stop{false};
    RecordingBackend* backend = nullptr;
    std::unique_ptr<hv::dev::VirtioBlk> blk;
    int used_calls = 0, resets = 0;
    uint16_t next_desc = 0;
    uint64_t next_buf = 0x10000;

    static const cv::Queues::Ops kOps;

    Rig() {
        REQUIRE(queue.configure(drv.ram(), drv.layout(), cv::SplitQueue::Features{}) == cv::QueueError::none);
        auto b = std::make_unique<RecordingBackend>();
        backend = b.get();
        auto log = std::make_shared<spdlog::logger>("blk-test", std::make_shared<spdlog::sinks::null_sink_mt>());
        blk = std::make_unique<hv::dev::VirtioBlk>(std::move(b), drv.ram(), "id", log, stop);
    }
    uint64_t take(uint32_t n) {
        const uint64_t at = next_buf;
        next_buf += (n + 15) & ~15u;
        return at;
    }
    // A request of `type` at `sector` with `data` bytes; returns where its
    // status byte is.
    uint64_t request(uint32_t type, uint64_t sector, uint32_t data) {
        const uint64_t hdr = take(16), buf = data != 0 ? take(data) : 0, status = take(1);
        std::memcpy(&drv.mem[hdr], &type, 4);
        std::memset(&drv.mem[hdr + 4], 0, 4);
        std::memcpy(&drv.mem[hdr + 8], &sector, 8);
        drv.mem[status] = 0xff;
        const uint16_t head = next_desc;
        const bool in = type == 0;
        if (data != 0) {
            drv.desc(head, hdr, 16, 1, static_cast<uint16_t>(head + 1));
            drv.desc(static_cast<uint16_t>(head + 1), buf, data, static_cast<uint16_t>(1 | (in ? 2 : 0)), static_cast<uint16_t>(head + 2));
            drv.desc(static_cast<uint16_t>(head + 2), status, 1, 2);
            next_desc = static_cast<uint16_t>(next_desc + 3);
        } else {
            drv.desc(head, hdr, 16, 1, static_cast<uint16_t>(head + 1));
            drv.desc(static_cast<uint16_t>(head + 1), status, 1, 2);
            next_desc = static_cast<uint16_t>(next_desc + 2);
        }
        drv.offer(head);
        return status;
    }
    void kick() {
        cv::Queues qs(kOps, this);
        blk->notify(qs, 0);
    }
};

const cv::Queues::Ops Rig::kOps = {
    [](void* t, uint32_t q) { return q == 0 ? &static_cast<Rig*>(t)->queue : nullptr; },
    [](void* t, uint32_t) { ++static_cast<Rig*>(t)->used_calls; },
    [](void* t) { ++static_cast<Rig*>(t)->resets; },
};

} // namespace

TEST_CASE("virtio-blk: a pass's reads and writes are one batch; FLUSH waits for it", "[virtio][blk]") {
    Rig r;
    const uint64_t s1 = r.request(0, 0, 4096);  // read
    const uint64_t s2 = r.request(1, 8, 4096);  // write
    const uint64_t s3 = r.request(0, 16, 512);  // read
    const uint64_t s4 = r.request(4, 0, 0);     // flush
    const uint64_t s5 = r.request(1, 24, 1024); // write
    r.kick();
    CHECK(r.backend->log == std::vector<std::string>{"batch 3", "read 0", "write 4096", "read 8192", "flush", "batch 1", "write 12288"});
    for (uint64_t s : {s1, s2, s3, s4, s5}) CHECK(r.drv.mem[s] == cv::kBlkOk);
    REQUIRE(r.drv.used_idx() == 5);
    // Each chain back with what the device wrote: a read's data and the
    // status byte, a write's status byte only.
    std::vector<std::pair<uint32_t, uint32_t>> used;
    for (uint16_t i = 0; i < 5; ++i) used.push_back(r.drv.used(i));
    CHECK(used == std::vector<std::pair<uint32_t, uint32_t>>{{0, 4097}, {3, 1}, {6, 513}, {9, 1}, {11, 1}});
    CHECK(r.used_calls >= 1);
    CHECK(r.resets == 0);
}

TEST_CASE("virtio-blk: a failed transfer in a batch fails only its request", "[virtio][blk]") {
    Rig r;
    r.backend->fail_offset_8k = true;
    const uint64_t a = r.request(0, 0, 512);
    const uint64_t b = r.request(0, 16, 512); // offset 8192: fails
    const uint64_t c = r.request(1, 32, 512);
    r.kick();
    CHECK(r.drv.mem[a] == cv::kBlkOk);
    CHECK(r.drv.mem[b] == cv::kBlkIoErr);
    CHECK(r.drv.mem[c] == cv::kBlkOk);
    CHECK(r.drv.used_idx() == 3);
    CHECK(r.drv.used(1).second == 1); // the failed read returns no data
}

TEST_CASE("virtio-blk: more requests than a batch holds go in several batches", "[virtio][blk]") {
    Rig r;
    const uint32_t n = hv::dev::VirtioBlk::kBatch + 5; // 37 x 3 descriptors fit 128
    for (uint32_t i = 0; i < n; ++i) r.request(0, i, 512);
    r.kick();
    std::vector<std::string> batches;
    for (const auto& e : r.backend->log)
        if (e.rfind("batch", 0) == 0) batches.push_back(e);
    CHECK(batches == std::vector<std::string>{"batch " + std::to_string(hv::dev::VirtioBlk::kBatch), "batch 5"});
    CHECK(r.drv.used_idx() == n);
}

TEST_CASE("virtio-blk: a set stop flag ends the pass; the gathered batch still completes", "[virtio][blk]") {
    Rig r;
    r.stop = true;
    r.request(0, 0, 512);
    r.kick();
    CHECK(r.backend->log.empty()); // nothing taken once stopping
    CHECK(r.drv.used_idx() == 0);
}
