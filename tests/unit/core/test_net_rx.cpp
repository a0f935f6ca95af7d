// The virtio-net policy in the core: RxBuffers::deliver() places a frame in
// one chain, or across mergeable chains with num_buffers set; a frame that
// does not fit waits (no_room) or is dropped, and in both cases the chains
// it took are given back (SplitQueue::rewind). Chains held ahead (fill) take
// a frame written through spans() and commit(), and the rest stay held for
// the next. check_net_tx_header() lets
// through only headers the negotiated features allow.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/virtio/net_header.hpp"
#include "core/virtio/net_rx.hpp"
#include "virtq_driver.hpp"

namespace cv = hv::core::virtio;
using hvtest::VirtqDriver;

namespace {

struct Rx {
    VirtqDriver drv;
    cv::SplitQueue queue;
    std::unique_ptr<cv::RxBuffers> bufs = std::make_unique<cv::RxBuffers>();
    uint64_t next_buf = VirtqDriver::kBuf;
    uint16_t next_desc = 0;

    explicit Rx(uint16_t size = 64) : drv(size) { REQUIRE(queue.configure(drv.ram(), drv.layout(), cv::SplitQueue::Features{}) == cv::QueueError::none); }
    // Offers one device-writable buffer of `len` bytes; returns its address.
    uint64_t offer(uint32_t len) {
        const uint64_t at = next_buf;
        next_buf += (len + 15) & ~15u;
        drv.desc(next_desc, at, len, cv::kDescWrite);
        drv.offer(next_desc++);
        return at;
    }
};

std::vector<uint8_t> frame(uint32_t payload) {
    std::vector<uint8_t> f(cv::kNetHeaderSize + payload);
    for (uint32_t i = 0; i < payload; ++i) f[cv::kNetHeaderSize + i] = static_cast<uint8_t>(i * 7 + 1);
    f[10] = 0xee; // num_buffers as a backend leaves it: garbage
    f[11] = 0xee;
    return f;
}

uint16_t num_buffers(const VirtqDriver& d, uint64_t at) { return static_cast<uint16_t>(d.mem[at + 10] | d.mem[at + 11] << 8); }

} // namespace

TEST_CASE("virtio-net rx: a frame in one chain, num_buffers 1", "[virtio][net]") {
    Rx r;
    const uint64_t buf = r.offer(2048);
    auto f = frame(1500);
    REQUIRE(r.bufs->deliver(r.queue, r.drv.ram(), f.data(), static_cast<uint32_t>(f.size()), false) == cv::RxResult::delivered);
    CHECK(r.drv.used_idx() == 1);
    CHECK(r.drv.used(0).second == f.size());
    CHECK(num_buffers(r.drv, buf) == 1);
    CHECK(std::memcmp(&r.drv.mem[buf + 12], f.data() + 12, 1500) == 0);
}

TEST_CASE("virtio-net rx: without mergeable buffers a too-small chain drops the frame and stays for the next", "[virtio][net]") {
    Rx r;
    const uint64_t buf = r.offer(600);
    auto big = frame(1500), small = frame(100);
    CHECK(r.bufs->deliver(r.queue, r.drv.ram(), big.data(), static_cast<uint32_t>(big.size()), false) == cv::RxResult::dropped);
    CHECK(r.drv.used_idx() == 0);
    REQUIRE(r.bufs->deliver(r.queue, r.drv.ram(), small.data(), static_cast<uint32_t>(small.size()), false) == cv::RxResult::delivered);
    CHECK(r.drv.used_idx() == 1);
    CHECK(r.drv.used(0) == std::pair<uint32_t, uint32_t>{0, 112});
    CHECK(std::memcmp(&r.drv.mem[buf + 12], small.data() + 12, 100) == 0);
}

TEST_CASE("virtio-net rx: mergeable buffers spread a 64 KiB frame over chains in order", "[virtio][net]") {
    Rx r;
    std::vector<uint64_t> bufs;
    for (int i = 0; i < 48; ++i) bufs.push_back(r.offer(1536));
    auto f = frame(65000);
    const uint32_t len = static_cast<uint32_t>(f.size());
    REQUIRE(r.bufs->deliver(r.queue, r.drv.ram(), f.data(), len, true) == cv::RxResult::delivered);
    const uint32_t chains = (len + 1535) / 1536; // 43
    CHECK(r.drv.used_idx() == chains);
    CHECK(num_buffers(r.drv, bufs[0]) == chains);
    std::vector<uint8_t> got;
    for (uint32_t c = 0; c < chains; ++c) {
        const auto [id, n] = r.drv.used(static_cast<uint16_t>(c));
        CHECK(id == c);
        CHECK(n == (c + 1 < chains ? 1536u : len - 1536u * (chains - 1)));
        got.insert(got.end(), &r.drv.mem[bufs[c]], &r.drv.mem[bufs[c]] + n);
    }
    REQUIRE(got.size() == len);
    CHECK(std::memcmp(got.data() + 12, f.data() + 12, len - 12) == 0);
}

TEST_CASE("virtio-net rx: not enough buffers yet: no_room, and the chains taken are given back", "[virtio][net]") {
    Rx r;
    r.offer(1000);
    r.offer(1000);
    auto f = frame(3000);
    CHECK(r.bufs->deliver(r.queue, r.drv.ram(), f.data(), static_cast<uint32_t>(f.size()), true) == cv::RxResult::no_room);
    CHECK(r.drv.used_idx() == 0);
    CHECK(r.queue.available() == 2);
    r.offer(1000);
    r.offer(1000);
    REQUIRE(r.bufs->deliver(r.queue, r.drv.ram(), f.data(), static_cast<uint32_t>(f.size()), true) == cv::RxResult::delivered);
    CHECK(r.drv.used_idx() == 4);
    CHECK(r.drv.used(0).first == 0); // the first chain offered is the first used
}

TEST_CASE("virtio-net rx: a frame needing more chains than allowed is dropped, the chains kept", "[virtio][net]") {
    Rx r;
    for (int i = 0; i < 60; ++i) r.offer(64); // a driver offering tiny buffers
    auto f = frame(60000);
    CHECK(r.bufs->deliver(r.queue, r.drv.ram(), f.data(), static_cast<uint32_t>(f.size()), true) == cv::RxResult::dropped);
    CHECK(r.drv.used_idx() == 0);
    CHECK(r.queue.available() == 60);
    CHECK(r.queue.error() == cv::QueueError::none);
}

TEST_CASE("virtio-net rx: a frame larger than a whole small ring of buffers is dropped, not waited for", "[virtio][net]") {
    // 16 entries of 1536 bytes hold 24 KiB: a 64 KiB frame could never
    // fit, and the driver can offer nothing more while the device holds
    // them all. Waiting would stall every frame behind it.
    Rx r(16);
    for (int i = 0; i < 15; ++i) r.offer(1536);
    auto big = frame(60000), small = frame(1000);
    // One entry still free: the driver may offer it, so the frame waits.
    CHECK(r.bufs->deliver(r.queue, r.drv.ram(), big.data(), static_cast<uint32_t>(big.size()), true) == cv::RxResult::no_room);
    r.offer(1536);
    CHECK(r.bufs->deliver(r.queue, r.drv.ram(), big.data(), static_cast<uint32_t>(big.size()), true) == cv::RxResult::dropped);
    CHECK(r.drv.used_idx() == 0);
    CHECK(r.queue.available() == 16);
    REQUIRE(r.bufs->deliver(r.queue, r.drv.ram(), small.data(), static_cast<uint32_t>(small.size()), true) == cv::RxResult::delivered);
    CHECK(r.drv.used_idx() == 1);
    CHECK(r.drv.used(0) == std::pair<uint32_t, uint32_t>{0, 1012});
}

TEST_CASE("virtio-net rx: chains of two descriptors filling a small ring's table drop a frame too big for them", "[virtio][net]") {
    // 8 chains of two 1536-byte buffers take all 16 entries of the table
    // (without indirect descriptors): 24 KiB, and nothing more can come.
    Rx r(16);
    for (uint16_t c = 0; c < 8; ++c) {
        const uint16_t d = static_cast<uint16_t>(2 * c);
        r.drv.desc(d, VirtqDriver::kBuf + 4096ull * c, 1536, cv::kDescWrite | cv::kDescNext, static_cast<uint16_t>(d + 1));
        r.drv.desc(static_cast<uint16_t>(d + 1), VirtqDriver::kBuf + 4096ull * c + 2048, 1536, cv::kDescWrite);
        r.drv.offer(d);
    }
    auto big = frame(60000), small = frame(2000);
    CHECK(r.bufs->deliver(r.queue, r.drv.ram(), big.data(), static_cast<uint32_t>(big.size()), true) == cv::RxResult::dropped);
    CHECK(r.queue.available() == 8);
    REQUIRE(r.bufs->deliver(r.queue, r.drv.ram(), small.data(), static_cast<uint32_t>(small.size()), true) == cv::RxResult::delivered);
    CHECK(r.drv.used(0) == std::pair<uint32_t, uint32_t>{0, 2012});
}

TEST_CASE("virtio-net rx: without mergeable buffers one chain may have many buffers", "[virtio][net]") {
    // A driver posting 40 buffers of 2 KiB in one chain (Linux's "big
    // packets" mode posts 19 of a page): a chain past a mergeable chain's
    // kNetRxChainSegments, legal and taken whole.
    Rx r;
    constexpr uint16_t kSegs = 40;
    for (uint16_t i = 0; i < kSegs; ++i)
        r.drv.desc(i, VirtqDriver::kBuf + 2048ull * i, 2048, cv::kDescWrite | (i + 1 < kSegs ? cv::kDescNext : 0), i + 1);
    r.drv.offer(0);
    auto f = frame(70000);
    REQUIRE(r.bufs->deliver(r.queue, r.drv.ram(), f.data(), static_cast<uint32_t>(f.size()), false) == cv::RxResult::delivered);
    CHECK(r.queue.error() == cv::QueueError::none);
    CHECK(r.drv.used(0) == std::pair<uint32_t, uint32_t>{0, 70012});
    CHECK(num_buffers(r.drv, VirtqDriver::kBuf) == 1);
    CHECK(std::memcmp(&r.drv.mem[VirtqDriver::kBuf + 12], f.data() + 12, 70000) == 0);
}

TEST_CASE("virtio-net rx: without mergeable buffers an indirect chain of 1152 buffers is the most", "[virtio][net][bad-input]") {
    // Through an indirect table (the queue's 64 entries do not limit it):
    // kNetRxMaxSegments buffers of 64 bytes are taken, one more breaks the
    // queue as any chain past what the device takes does.
    for (const uint32_t n : {cv::kNetRxMaxSegments, cv::kNetRxMaxSegments + 1}) {
        VirtqDriver drv(64, 2 << 20);
        cv::SplitQueue queue;
        cv::SplitQueue::Features features;
        features.indirect_desc = true;
        REQUIRE(queue.configure(drv.ram(), drv.layout(), features) == cv::QueueError::none);
        constexpr uint64_t kTable = 0x80000, kData = 0x100000;
        for (uint32_t i = 0; i < n; ++i)
            drv.put_desc(kTable, static_cast<uint16_t>(i), kData + 64ull * i, 64,
                         cv::kDescWrite | (i + 1 < n ? cv::kDescNext : 0), static_cast<uint16_t>(i + 1));
        drv.desc(0, kTable, 16 * n, cv::kDescIndirect);
        drv.offer(0);
        auto bufs = std::make_unique<cv::RxBuffers>();
        auto f = frame(60000);
        const cv::RxResult got = bufs->deliver(queue, drv.ram(), f.data(), static_cast<uint32_t>(f.size()), false);
        if (n == cv::kNetRxMaxSegments) {
            REQUIRE(got == cv::RxResult::delivered);
            CHECK(drv.used(0) == std::pair<uint32_t, uint32_t>{0, 60012});
            CHECK(std::memcmp(&drv.mem[kData + 12], f.data() + 12, 60000) == 0);
        } else {
            CHECK(got == cv::RxResult::broken);
            CHECK(queue.error() == cv::QueueError::too_many_segments);
        }
    }
}

TEST_CASE("virtio-net rx: a broken chain breaks the queue", "[virtio][net]") {
    Rx r;
    r.drv.desc(0, 1ull << 40, 100, cv::kDescWrite); // outside RAM
    r.drv.offer(0);
    auto f = frame(100);
    CHECK(r.bufs->deliver(r.queue, r.drv.ram(), f.data(), static_cast<uint32_t>(f.size()), true) == cv::RxResult::broken);
    CHECK(r.queue.error() == cv::QueueError::buffer_out_of_ram);
}

// What a host read does in the direct path: the frame after its header
// through the spans.
void write_spans(Rx& r, const std::vector<uint8_t>& f) {
    cv::RxBuffers::Span spans[64];
    const uint32_t n = r.bufs->spans(cv::kNetHeaderSize, spans, 64);
    uint64_t off = cv::kNetHeaderSize;
    for (uint32_t i = 0; i < n && off < f.size(); ++i) {
        const uint64_t k = std::min<uint64_t>(spans[i].len, f.size() - off);
        r.drv.ram().write(spans[i].gpa, f.data() + off, k);
        off += k;
    }
    REQUIRE(off == f.size());
}

TEST_CASE("virtio-net rx: chains held ahead take a frame through spans and commit, the rest stay for the next", "[virtio][net]") {
    Rx r;
    std::vector<uint64_t> bufs;
    for (int i = 0; i < 8; ++i) bufs.push_back(r.offer(1000));
    REQUIRE(r.bufs->fill(r.queue, 5000, true));
    CHECK(r.bufs->chains() == 5); // the fewest that hold 5000 bytes
    CHECK(r.bufs->capacity() == 5000);
    CHECK(r.queue.available() == 3);
    cv::RxBuffers::Span spans[8];
    REQUIRE(r.bufs->spans(1500, spans, 8) == 4); // from byte 1500: half the second buffer, then three whole
    CHECK(spans[0].gpa == bufs[1] + 500);
    CHECK(spans[0].len == 500);
    CHECK(spans[1].gpa == bufs[2]);

    auto f = frame(1800); // 1812 bytes: two chains
    write_spans(r, f);
    CHECK(r.bufs->commit(r.queue, r.drv.ram(), f.data(), f.size()) == 2);
    CHECK(r.drv.used_idx() == 2);
    CHECK(r.drv.used(0) == std::pair<uint32_t, uint32_t>{0, 1000});
    CHECK(r.drv.used(1) == std::pair<uint32_t, uint32_t>{1, 812});
    CHECK(num_buffers(r.drv, bufs[0]) == 2);
    CHECK(std::memcmp(&r.drv.mem[bufs[0] + 12], f.data() + 12, 988) == 0);
    CHECK(std::memcmp(&r.drv.mem[bufs[1]], f.data() + 1000, 812) == 0);
    CHECK(r.bufs->chains() == 3);
    CHECK(r.bufs->capacity() == 3000);

    // The next frame starts in the first chain still held (the third).
    auto g = frame(100);
    write_spans(r, g);
    CHECK(r.bufs->commit(r.queue, r.drv.ram(), g.data(), g.size()) == 1);
    CHECK(r.drv.used(2) == std::pair<uint32_t, uint32_t>{2, 112});
    CHECK(std::memcmp(&r.drv.mem[bufs[2] + 12], g.data() + 12, 100) == 0);
    CHECK(num_buffers(r.drv, bufs[2]) == 1);
    // More than is held: refused, nothing changes.
    CHECK(r.bufs->commit(r.queue, r.drv.ram(), f.data(), 2001) == 0);
    CHECK(r.drv.used_idx() == 3);

    // deliver() uses the held chains first; released, they pop again.
    REQUIRE(r.bufs->deliver(r.queue, r.drv.ram(), g.data(), static_cast<uint32_t>(g.size()), true) == cv::RxResult::delivered);
    CHECK(r.drv.used(3).first == 3);
    CHECK(r.bufs->chains() == 1);
    r.bufs->release(r.queue);
    CHECK(r.bufs->chains() == 0);
    CHECK(r.queue.available() == 4);
    auto big = frame(4000); // four chains are there: no_room, and they go back
    CHECK(r.bufs->deliver(r.queue, r.drv.ram(), big.data(), static_cast<uint32_t>(big.size()), true) == cv::RxResult::no_room);
    CHECK(r.queue.available() == 4);
}

TEST_CASE("split queue: rewind gives back only what is in flight", "[virtio][net]") {
    Rx r;
    r.offer(100);
    cv::Segment segs[4];
    cv::Chain chain;
    CHECK_FALSE(r.queue.rewind(1));
    REQUIRE(r.queue.pop(segs, 4, chain));
    CHECK_FALSE(r.queue.rewind(2));
    CHECK(r.queue.rewind(1));
    CHECK(r.queue.available() == 1);
    REQUIRE(r.queue.pop(segs, 4, chain));
    CHECK(r.queue.push(chain.head, 0));
    CHECK_FALSE(r.queue.rewind(1)); // returned: not the device's to give back
}

TEST_CASE("virtio-net tx: only headers the features allow pass", "[virtio][net]") {
    const uint64_t all = cv::kNetFCsum | cv::kNetFHostTso4 | cv::kNetFHostTso6 | cv::kNetFHostEcn;
    cv::NetHeader h;
    CHECK(cv::check_net_tx_header(h, 60, 0) == nullptr);
    CHECK(cv::check_net_tx_header(h, 13, 0) != nullptr);              // shorter than Ethernet
    CHECK(cv::check_net_tx_header(h, cv::kNetMaxFrame + 1, 0) != nullptr);
    h.flags = cv::kNetHdrFNeedsCsum;
    h.csum_start = 34;
    h.csum_offset = 16;
    CHECK(cv::check_net_tx_header(h, 60, 0) != nullptr); // CSUM not negotiated
    CHECK(cv::check_net_tx_header(h, 60, all) == nullptr);
    CHECK(cv::check_net_tx_header(h, 51, all) != nullptr); // checksum field past the end
    h.flags = 0x80;
    CHECK(cv::check_net_tx_header(h, 60, all) == nullptr); // unknown flags are ignored (5.1.6.2.2)
    h.flags = cv::kNetHdrFNeedsCsum;
    h.gso_type = cv::kNetGsoTcpv4;
    CHECK(cv::check_net_tx_header(h, 9000, all) != nullptr); // gso_size 0
    h.gso_size = 1448;
    CHECK(cv::check_net_tx_header(h, 9000, all) == nullptr);
    CHECK(cv::check_net_tx_header(h, 9000, cv::kNetFCsum) != nullptr); // TSO4 not negotiated
    h.gso_type = cv::kNetGsoTcpv6 | cv::kNetGsoEcn;
    CHECK(cv::check_net_tx_header(h, 9000, all) == nullptr);
    CHECK(cv::check_net_tx_header(h, 9000, all & ~cv::kNetFHostEcn) != nullptr);
    h.gso_type = cv::kNetGsoUdp;
    CHECK(cv::check_net_tx_header(h, 9000, all) != nullptr);
    h.flags = 0;
    h.gso_type = cv::kNetGsoTcpv4;
    CHECK(cv::check_net_tx_header(h, 9000, all) != nullptr); // segmentation without a checksum offset
    // The header's bytes round-trip.
    h = cv::NetHeader{1, 4, 54, 1448, 34, 16, 3};
    uint8_t b[cv::kNetHeaderSize];
    cv::encode_net_header(h, b);
    const cv::NetHeader back = cv::decode_net_header(b);
    CHECK(back.gso_size == 1448);
    CHECK(back.csum_offset == 16);
    CHECK(back.num_buffers == 3);
}

TEST_CASE("virtio-net rx: with event_idx, a device waiting for more buffers gets the driver's next kick", "[virtio][net]") {
    VirtqDriver drv{64};
    cv::SplitQueue queue;
    cv::SplitQueue::Features f;
    f.event_idx = true;
    REQUIRE(queue.configure(drv.ram(), drv.layout(), f) == cv::QueueError::none);
    drv.desc(0, VirtqDriver::kBuf, 1000, cv::kDescWrite);
    drv.desc(1, VirtqDriver::kBuf + 1024, 1000, cv::kDescWrite);
    drv.offer(0);
    drv.offer(1);
    auto fr = frame(3000);
    auto bufs = std::make_unique<cv::RxBuffers>();
    CHECK(bufs->deliver(queue, drv.ram(), fr.data(), static_cast<uint32_t>(fr.size()), true) == cv::RxResult::no_room);
    queue.notify_when_added();
    // The driver (vring_need_event) kicks when its index passes
    // avail_event: at its next chain, index 2 -> 3.
    CHECK(drv.avail_event() == 2);
}

TEST_CASE("virtio-net rx: a frame from the host passes only with offloads the driver took", "[virtio][net]") {
    const uint64_t csum = cv::kNetFGuestCsum, tso4 = cv::kNetFGuestTso4, tso6 = cv::kNetFGuestTso6, ecn = cv::kNetFGuestEcn;
    cv::NetHeader plain;
    CHECK(cv::accept_net_rx_header(plain, 0));
    cv::NetHeader valid;
    valid.flags = cv::kNetHdrFDataValid;
    CHECK(cv::accept_net_rx_header(valid, 0));
    CHECK(valid.flags == 0); // a hint for a driver that did not take checksums: cleared
    valid.flags = cv::kNetHdrFDataValid;
    CHECK(cv::accept_net_rx_header(valid, csum));
    CHECK(valid.flags == cv::kNetHdrFDataValid);
    cv::NetHeader partial;
    partial.flags = cv::kNetHdrFNeedsCsum;
    CHECK_FALSE(cv::accept_net_rx_header(partial, 0));
    CHECK(cv::accept_net_rx_header(partial, csum));
    cv::NetHeader gso = partial;
    gso.gso_type = cv::kNetGsoTcpv4;
    CHECK_FALSE(cv::accept_net_rx_header(gso, csum));
    CHECK(cv::accept_net_rx_header(gso, csum | tso4));
    gso.gso_type = cv::kNetGsoTcpv6 | cv::kNetGsoEcn;
    CHECK_FALSE(cv::accept_net_rx_header(gso, csum | tso6));
    CHECK(cv::accept_net_rx_header(gso, csum | tso6 | ecn));
    gso.gso_type = cv::kNetGsoUdp;
    CHECK_FALSE(cv::accept_net_rx_header(gso, csum | tso4 | tso6 | ecn));
}
