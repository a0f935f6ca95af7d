// dev::VirtioBlk over a recording backend, its queue written by a fake
// driver (tests/unit/core/virtq_driver.hpp): the reads and writes of one
// pass are started together and return as they end, a FLUSH waits for
// them, each chain returns with its status and the bytes written.
#include <catch2/catch.hpp>

#include <poll.h>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "../core/virtq_driver.hpp"
#include "devices/virtio/virtio_blk.hpp"
#include "qcow2_test_util.hpp"

namespace cv = hv::core::virtio;
using hvtest::VirtqDriver;

namespace {

// What the device asked of the backend, in order. Started transfers end
// last-in first-out, to show the device does not assume an order.
class RecordingBackend final : public hv::dev::BlockBackend {
public:
    std::vector<std::string> log;
    bool async = true;
    bool fail_offset_8k = false;
    size_t max_in_flight = 0;

    uint64_t size() const override { return 1 << 20; }
    bool read_only() const override { return false; }
    const std::string& path() const override { return path_; }
    hv::Result<void> read(const iovec* iov, int count, uint64_t offset) override {
        for (int i = 0; i < count; ++i) std::memset(iov[i].iov_base, 0xab, iov[i].iov_len);
        log.push_back("read " + std::to_string(offset));
        return result_for(offset);
    }
    hv::Result<void> write(const iovec*, int, uint64_t offset) override {
        log.push_back("write " + std::to_string(offset));
        return result_for(offset);
    }
    bool start(hv::dev::BlockIo& io) override {
        if (!async) return false;
        log.push_back(std::string("start ") + (io.write ? "write " : "read ") + std::to_string(io.offset));
        started_.push_back(&io);
        max_in_flight = std::max(max_in_flight, started_.size());
        return true;
    }
    hv::dev::BlockIo* wait_any(bool) override {
        if (started_.empty()) return nullptr;
        hv::dev::BlockIo* io = started_.back();
        started_.pop_back();
        log.push_back(std::string("end ") + (io->write ? "write " : "read ") + std::to_string(io->offset));
        io->result = result_for(io->offset);
        return io;
    }
    hv::Result<void> flush() override {
        log.push_back("flush");
        return {};
    }
    hv::Result<void> discard(uint64_t, uint64_t) override { return {}; }
    hv::Result<void> write_zeroes(uint64_t, uint64_t, bool) override { return {}; }

private:
    hv::Result<void> result_for(uint64_t offset) const {
        if (fail_offset_8k && offset == 8192) return hv::make_error(hv::Errc::io_error, "injected");
        return {};
    }
    std::string path_ = "/fake.img";
    std::vector<hv::dev::BlockIo*> started_;
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
    // Waits (2 s at most) for the device's timer, then lets it act on it
    // through a transport whose `ops` say whether the device runs.
    void on_timer(const cv::Queues::Ops& ops = kOps) {
        pollfd p{blk->timer_fd(), POLLIN, 0};
        REQUIRE(::poll(&p, 1, 2000) == 1);
        cv::Queues qs(ops, this);
        blk->poll(qs);
    }
};

const cv::Queues::Ops Rig::kOps = {
    [](void* t, uint32_t q) { return q == 0 ? &static_cast<Rig*>(t)->queue : nullptr; },
    [](void* t, uint32_t) { ++static_cast<Rig*>(t)->used_calls; },
    [](void* t) { ++static_cast<Rig*>(t)->resets; },
    [](void*) { return true; },
};

} // namespace

TEST_CASE("virtio-blk: reads and writes run concurrently and return as they end; FLUSH waits for them", "[virtio][blk]") {
    Rig r;
    const uint64_t s1 = r.request(0, 0, 4096);  // read
    const uint64_t s2 = r.request(1, 8, 4096);  // write
    const uint64_t s3 = r.request(0, 16, 512);  // read
    const uint64_t s4 = r.request(4, 0, 0);     // flush
    const uint64_t s5 = r.request(1, 24, 1024); // write
    r.kick();
    CHECK(r.backend->log == std::vector<std::string>{"start read 0", "start write 4096", "start read 8192", "end read 8192",
                                                     "end write 4096", "end read 0", "flush", "start write 12288",
                                                     "end write 12288"});
    for (uint64_t s : {s1, s2, s3, s4, s5}) CHECK(r.drv.mem[s] == cv::kBlkOk);
    REQUIRE(r.drv.used_idx() == 5);
    // Each chain back as it ended, with what the device wrote: a read's
    // data and the status byte, a write's status byte only.
    std::vector<std::pair<uint32_t, uint32_t>> used;
    for (uint16_t i = 0; i < 5; ++i) used.push_back(r.drv.used(i));
    CHECK(used == std::vector<std::pair<uint32_t, uint32_t>>{{6, 513}, {3, 1}, {0, 4097}, {9, 1}, {11, 1}});
    CHECK(r.used_calls >= 1);
    CHECK(r.resets == 0);
}

TEST_CASE("virtio-blk: a backend without asynchronous I/O does each transfer in turn", "[virtio][blk]") {
    Rig r;
    r.backend->async = false;
    r.request(0, 0, 512);
    r.request(1, 8, 512);
    r.request(4, 0, 0);
    r.kick();
    CHECK(r.backend->log == std::vector<std::string>{"read 0", "write 4096", "flush"});
    CHECK(r.drv.used_idx() == 3);
}

TEST_CASE("virtio-blk: a failed transfer fails only its request", "[virtio][blk]") {
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
    CHECK(r.drv.used(1) == std::pair<uint32_t, uint32_t>{3, 1}); // the failed read returns no data
}

TEST_CASE("virtio-blk: at most kInFlight transfers at once; the rest start as others end", "[virtio][blk]") {
    Rig r;
    const uint32_t n = hv::dev::VirtioBlk::kInFlight + 5; // 37 x 3 descriptors fit 128
    for (uint32_t i = 0; i < n; ++i) r.request(0, i, 512);
    r.kick();
    CHECK(r.backend->max_in_flight == hv::dev::VirtioBlk::kInFlight);
    CHECK(r.drv.used_idx() == n);
    // The 33rd started only after one had ended.
    const auto& log = r.backend->log;
    const auto first_end = std::find_if(log.begin(), log.end(), [](const std::string& e) { return e.rfind("end", 0) == 0; });
    CHECK(std::count_if(log.begin(), first_end, [](const std::string& e) { return e.rfind("start", 0) == 0; }) ==
          hv::dev::VirtioBlk::kInFlight);
}

TEST_CASE("virtio-blk: a set stop flag ends the pass before anything is taken", "[virtio][blk]") {
    Rig r;
    r.stop = true;
    r.request(0, 0, 512);
    r.kick();
    CHECK(r.backend->log.empty());
    CHECK(r.drv.used_idx() == 0);
}

TEST_CASE("virtio-blk: iops and rate limits hold requests back until their timer; new limits apply at once", "[virtio][blk][qos]") {
    Rig r;
    r.backend->async = false;
    REQUIRE(r.blk->timer_fd() >= 0);
    // Two requests per 1000 s: exactly the burst goes now.
    r.blk->set_limits({0, 0, 2, 1000000000});
    for (int i = 0; i < 5; ++i) r.request(0, static_cast<uint64_t>(i) * 8, 4096);
    r.kick();
    CHECK(r.drv.used_idx() == 2);
    CHECK_FALSE(r.blk->resume(0));
    r.kick(); // a kick while held back moves nothing
    CHECK(r.drv.used_idx() == 2);
    // Limits lifted: the timer fires at once and the rest go.
    r.blk->set_limits({});
    r.on_timer();
    CHECK(r.drv.used_idx() == 5);
    CHECK(r.blk->resume(0));

    // Bytes: 8 KiB per 1000 s lets two 4 KiB reads go (the second overdraws
    // nothing), then holds.
    Rig b;
    b.backend->async = false;
    b.blk->set_limits({8192, 1000000000, 0, 0});
    for (int i = 0; i < 4; ++i) b.request(0, static_cast<uint64_t>(i) * 8, 4096);
    b.kick();
    CHECK(b.drv.used_idx() == 2);
}

// io_weight: another domain's slot on the same table is backlogged (a
// transfer in flight), so this disk, placed beside it, may take requests
// while its own virtual time is at most a window (1 MiB of weight-100
// bytes) ahead; then the queue waits on the timer until the other domain
// has moved on. Each 256 KiB read costs 256 KiB + ShareArbiter::kRequestCost.
TEST_CASE("virtio-blk: the domain's io_weight share holds requests back, by weight", "[virtio][blk][qos]") {
    using hv::dev::TimerFd;
    qcow2_test::TempDir dir;
    const uint64_t device = 42;
    // Ten 256 KiB reads (one buffer, reused: only what starts is counted).
    const auto fill = [](Rig& r) {
        for (int i = 0; i < 10; ++i) {
            r.next_buf = 0x10000;
            r.request(0, 0, 256 * 1024);
        }
    };
    for (const auto& [weight, started] : {std::pair<uint32_t, uint16_t>{100, 4}, {200, 8}}) {
        CAPTURE(weight);
        auto other = hv::dev::IoShare::join(dir.path, device, 100);
        REQUIRE(other);
        Rig r;
        r.backend->async = false;
        auto mine = hv::dev::IoShare::join(dir.path, device, weight);
        REQUIRE(mine);
        r.blk->set_share(std::shared_ptr<hv::dev::IoShare>(std::move(*mine)));
        fill(r);
        (*other)->arbiter().start(TimerFd::now_ns(), 0); // in flight: backlogged
        r.kick();
        // Weight 100: at 4 K, 264 K, 524 K and 784 K of virtual time it may
        // take one, not at 1044 K; weight 200 pays half: 8.
        CHECK(r.drv.used_idx() == started);
        CHECK_FALSE(r.blk->resume(0));
        // The other domain moves on 4 MiB: the rest go when the timer comes.
        (*other)->arbiter().start(TimerFd::now_ns(), 4u << 20);
        r.on_timer();
        CHECK(r.drv.used_idx() == 10);
        CHECK(r.blk->resume(0));
    }
    // Its queue emptied, the disk's domain holds nobody back; with a
    // transfer in flight it would.
    auto other = hv::dev::IoShare::join(dir.path, device, 100);
    REQUIRE(other);
    hv::core::qos::ShareArbiter& o = (*other)->arbiter();
    Rig r;
    r.backend->async = false;
    auto mine = hv::dev::IoShare::join(dir.path, device, 100);
    REQUIRE(mine);
    hv::core::qos::ShareArbiter& me = (*mine)->arbiter();
    r.blk->set_share(std::shared_ptr<hv::dev::IoShare>(std::move(*mine)));
    fill(r);
    r.kick();
    CHECK(r.drv.used_idx() == 10); // nobody else backlogged: nothing holds it
    // `other` 8 MiB on, this domain 2.5 MiB: more than a window apart.
    o.start(TimerFd::now_ns(), 8u << 20);
    CHECK(o.admit(TimerFd::now_ns()));
    me.start(TimerFd::now_ns(), 0); // as if it had a transfer in flight again
    CHECK_FALSE(o.admit(TimerFd::now_ns()));
    me.done(TimerFd::now_ns());
    CHECK(o.admit(TimerFd::now_ns()));
    o.done(TimerFd::now_ns());
}

TEST_CASE("virtio-blk: a held-back queue whose device was stopped without a reset is looked at again", "[virtio][blk][qos]") {
    Rig r;
    r.backend->async = false;
    r.blk->set_limits({0, 0, 1, 1000000000}); // one request per 1000 s
    r.request(0, 0, 512);
    r.request(0, 8, 512);
    r.kick();
    REQUIRE(r.drv.used_idx() == 1);
    static const cv::Queues::Ops kStopped = {
        Rig::kOps.queue, Rig::kOps.used, Rig::kOps.needs_reset, [](void*) { return false; },
    };
    r.blk->set_limits({}); // the timer fires at once, while the device is stopped
    r.on_timer(kStopped);
    CHECK(r.drv.used_idx() == 1);
    CHECK_FALSE(r.blk->resume(0));
    // Running again (bus mastering back on): the timer comes back to it.
    r.on_timer();
    CHECK(r.drv.used_idx() == 2);
}
