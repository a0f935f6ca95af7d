// The virtio-net policy in the core: deliver_frame() places a frame in one
// chain, or across mergeable chains with num_buffers set; a frame that does
// not fit waits (no_room) or is dropped, and in both cases the chains it
// took are given back (SplitQueue::rewind). check_net_tx_header() lets
// through only headers the negotiated features allow.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "core/virtio/net_header.hpp"
#include "core/virtio/net_rx.hpp"
#include "virtq_driver.hpp"

namespace cv = hv::core::virtio;
using hvtest::VirtqDriver;

namespace {

struct Rx {
    VirtqDriver drv{64};
    cv::SplitQueue queue;
    uint64_t next_buf = VirtqDriver::kBuf;
    uint16_t next_desc = 0;

    Rx() { REQUIRE(queue.configure(drv.ram(), drv.layout(), cv::SplitQueue::Features{}) == cv::QueueError::none); }
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
    REQUIRE(cv::deliver_frame(r.queue, r.drv.ram(), f.data(), static_cast<uint32_t>(f.size()), false) == cv::RxResult::delivered);
    CHECK(r.drv.used_idx() == 1);
    CHECK(r.drv.used(0).second == f.size());
    CHECK(num_buffers(r.drv, buf) == 1);
    CHECK(std::memcmp(&r.drv.mem[buf + 12], f.data() + 12, 1500) == 0);
}

TEST_CASE("virtio-net rx: without mergeable buffers a too-small chain drops the frame and stays for the next", "[virtio][net]") {
    Rx r;
    const uint64_t buf = r.offer(600);
    auto big = frame(1500), small = frame(100);
    CHECK(cv::deliver_frame(r.queue, r.drv.ram(), big.data(), static_cast<uint32_t>(big.size()), false) == cv::RxResult::dropped);
    CHECK(r.drv.used_idx() == 0);
    REQUIRE(cv::deliver_frame(r.queue, r.drv.ram(), small.data(), static_cast<uint32_t>(small.size()), false) == cv::RxResult::delivered);
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
    REQUIRE(cv::deliver_frame(r.queue, r.drv.ram(), f.data(), len, true) == cv::RxResult::delivered);
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
    CHECK(cv::deliver_frame(r.queue, r.drv.ram(), f.data(), static_cast<uint32_t>(f.size()), true) == cv::RxResult::no_room);
    CHECK(r.drv.used_idx() == 0);
    CHECK(r.queue.available() == 2);
    r.offer(1000);
    r.offer(1000);
    REQUIRE(cv::deliver_frame(r.queue, r.drv.ram(), f.data(), static_cast<uint32_t>(f.size()), true) == cv::RxResult::delivered);
    CHECK(r.drv.used_idx() == 4);
    CHECK(r.drv.used(0).first == 0); // the first chain offered is the first used
}

TEST_CASE("virtio-net rx: a frame needing more chains than allowed is dropped, the chains kept", "[virtio][net]") {
    Rx r;
    for (int i = 0; i < 60; ++i) r.offer(64); // a driver offering tiny buffers
    auto f = frame(60000);
    CHECK(cv::deliver_frame(r.queue, r.drv.ram(), f.data(), static_cast<uint32_t>(f.size()), true) == cv::RxResult::dropped);
    CHECK(r.drv.used_idx() == 0);
    CHECK(r.queue.available() == 60);
    CHECK(r.queue.error() == cv::QueueError::none);
}

TEST_CASE("virtio-net rx: a broken chain breaks the queue", "[virtio][net]") {
    Rx r;
    r.drv.desc(0, 1ull << 40, 100, cv::kDescWrite); // outside RAM
    r.drv.offer(0);
    auto f = frame(100);
    CHECK(cv::deliver_frame(r.queue, r.drv.ram(), f.data(), static_cast<uint32_t>(f.size()), true) == cv::RxResult::broken);
    CHECK(r.queue.error() == cv::QueueError::buffer_out_of_ram);
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
    CHECK(cv::deliver_frame(queue, drv.ram(), fr.data(), static_cast<uint32_t>(fr.size()), true) == cv::RxResult::no_room);
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
