// dev::VirtioNet over a real TAP, in a network namespace of the test's own,
// its queues written by a fake driver in fake guest RAM (no KVM needed):
// a frame the guest transmits leaves the TAP byte for byte; a frame sent to
// the TAP reaches the guest's receive buffer with its header; a rate limit
// holds frames back until its timer fires; malformed chains and headers
// are dropped without breaking the device.
#include <catch2/catch.hpp>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "core/virtio/net_header.hpp"
#include "core/virtio/split_queue.hpp"
#include "devices/net/tap_device.hpp"
#include "devices/virtio/virtio_net.hpp"
#include "netns.hpp"

namespace cv = hv::core::virtio;
using hv::dev::TapDevice;
using hv::dev::VirtioNet;
using hvtest::in_netns;

namespace {

constexpr uint16_t kEtherType = 0x88b5;
const hv::config::MacAddress kGuestMac{0x00, 0x16, 0x3e, 0x01, 0x02, 0x03};

// Guest RAM with two split queues (receive, transmit) the test drives as a
// driver would.
struct Guest {
    std::vector<uint8_t> mem = std::vector<uint8_t>(4 << 20);
    struct Q {
        uint64_t desc, avail, used;
        uint16_t next_desc = 0, avail_idx = 0;
        cv::SplitQueue queue;
    } q[2];
    uint64_t next_buf = 0x100000;
    int used_calls = 0, resets = 0;
    bool running = true; // the driver has the device running (DRIVER_OK, Bus Master)
    static const cv::Queues::Ops kOps;
    cv::Queues queues{kOps, this};

    static constexpr uint32_t kSize = 64;

    Guest() {
        for (uint32_t i = 0; i < 2; ++i) {
            q[i].desc = 0x10000 + 0x10000ull * i;
            q[i].avail = q[i].desc + 0x1000;
            q[i].used = q[i].desc + 0x2000;
            if (q[i].queue.configure(ram(), {kSize, q[i].desc, q[i].avail, q[i].used}, {}) != cv::QueueError::none) std::abort();
        }
    }
    hv::core::GuestRam ram() { return {mem.data(), mem.size()}; }
    uint64_t alloc(uint32_t n) {
        const uint64_t at = next_buf;
        next_buf += (n + 15) & ~15ull;
        return at;
    }
    void put16(uint64_t at, uint16_t v) { std::memcpy(&mem[at], &v, 2); }
    uint16_t get16(uint64_t at) const {
        uint16_t v;
        std::memcpy(&v, &mem[at], 2);
        return v;
    }
    // Offers a one-descriptor chain on queue `qi`.
    void offer(uint32_t qi, uint64_t addr, uint32_t len, uint16_t flags) {
        Q& x = q[qi];
        const uint16_t d = x.next_desc++ % kSize;
        std::memcpy(&mem[x.desc + 16ull * d], &addr, 8);
        std::memcpy(&mem[x.desc + 16ull * d + 8], &len, 4);
        std::memcpy(&mem[x.desc + 16ull * d + 12], &flags, 2);
        put16(x.avail + 4 + 2ull * (x.avail_idx % kSize), d);
        put16(x.avail + 2, ++x.avail_idx);
    }
    uint16_t used_idx(uint32_t qi) const { return get16(q[qi].used + 2); }
    uint32_t used_len(uint32_t qi, uint16_t n) const {
        uint32_t v;
        std::memcpy(&v, &mem[q[qi].used + 4 + 8ull * (n % kSize) + 4], 4);
        return v;
    }
    // A frame to transmit: a 12-byte header (from `h`) and the frame.
    void transmit(const std::vector<uint8_t>& f, const cv::NetHeader& h = {}) {
        const uint64_t at = alloc(static_cast<uint32_t>(f.size()) + cv::kNetHeaderSize);
        cv::encode_net_header(h, &mem[at]);
        std::memcpy(&mem[at + cv::kNetHeaderSize], f.data(), f.size());
        offer(VirtioNet::kTxq, at, static_cast<uint32_t>(f.size()) + cv::kNetHeaderSize, 0);
    }
};

const cv::Queues::Ops Guest::kOps = {
    [](void* t, uint32_t qi) { return qi < 2 ? &static_cast<Guest*>(t)->q[qi].queue : nullptr; },
    [](void* t, uint32_t) { ++static_cast<Guest*>(t)->used_calls; },
    [](void* t) { ++static_cast<Guest*>(t)->resets; },
    [](void* t) { return static_cast<Guest*>(t)->running; },
};

std::vector<uint8_t> eth_frame(const hv::config::MacAddress& dst, uint8_t src_last, size_t len, uint8_t seed) {
    std::vector<uint8_t> f(len);
    std::memcpy(f.data(), dst.data(), 6);
    const uint8_t src[6] = {0x02, 0, 0, 0, 0, src_last};
    std::memcpy(f.data() + 6, src, 6);
    f[12] = kEtherType >> 8;
    f[13] = kEtherType & 0xff;
    for (size_t i = 14; i < len; ++i) f[i] = static_cast<uint8_t>(i * 13 + seed);
    return f;
}

// A raw socket on the TAP's host side: what the guest sends arrives here,
// what is sent here goes to the guest.
int packet_socket(const char* ifname) {
    const int s = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(kEtherType));
    if (s < 0) return -1;
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(kEtherType);
    sll.sll_ifindex = static_cast<int>(::if_nametoindex(ifname));
    if (::bind(s, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
        ::close(s);
        return -1;
    }
    return s;
}

// The next frame the guest sent (incoming on the host side), or empty after 2 s.
std::vector<uint8_t> receive(int s) {
    for (;;) {
        pollfd p{s, POLLIN, 0};
        if (::poll(&p, 1, 2000) != 1) return {};
        std::vector<uint8_t> buf(70000);
        sockaddr_ll from{};
        socklen_t fl = sizeof from;
        const ssize_t n = ::recvfrom(s, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
        if (n < 0) return {};
        if (from.sll_pkttype == PACKET_OUTGOING) continue; // our own
        buf.resize(static_cast<size_t>(n));
        return buf;
    }
}

// Waits until `fd` is readable (at most 2 s).
bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 2000) == 1;
}

std::unique_ptr<VirtioNet> make_net(Guest& g, const std::atomic<bool>& stop, VirtioNet::Options opts, bool& watched) {
    auto tap = TapDevice::create({"vt0", "", opts.mtu != 0 ? std::optional<uint32_t>(opts.mtu) : std::nullopt});
    if (!tap) return nullptr;
    auto log = std::make_shared<spdlog::logger>("net-test", std::make_shared<spdlog::sinks::null_sink_mt>());
    opts.mac = kGuestMac;
    auto net = VirtioNet::create(std::move(*tap), g.ram(), opts, "test vif", log, stop);
    if (!net) return nullptr;
    (*net)->on_rx_watch([&watched](bool on) { watched = on; });
    return std::move(*net);
}

// A device on vt0 with a packet socket on the TAP's host side, activated
// with `features`: what most tests start from.
struct NetRig {
    Guest g;
    std::atomic<bool> stop{false};
    bool watched = false;
    std::unique_ptr<VirtioNet> net;
    int s = -1;

    NetRig() = default;
    NetRig(const NetRig&) = delete;
    NetRig& operator=(const NetRig&) = delete;
    ~NetRig() {
        if (s >= 0) ::close(s);
    }
    bool open(uint64_t features, VirtioNet::Options opts = {}) {
        net = make_net(g, stop, opts, watched);
        if (net == nullptr) return false;
        s = packet_socket("vt0");
        if (s < 0) return false;
        net->activate(features);
        return true;
    }
};

} // namespace

TEST_CASE("virtio-net: frames cross the TAP both ways, with the device's mac and header", "[net][virtio]") {
    const int rc = in_netns([] {
        Guest g;
        std::atomic<bool> stop{false};
        bool watched = false;
        auto net = make_net(g, stop, {}, watched);
        EXPECT(net != nullptr);
        uint8_t cfg[6];
        net->read_config(0, cfg, 6);
        EXPECT(std::memcmp(cfg, kGuestMac.data(), 6) == 0);
        EXPECT((net->features() & cv::kNetFMac) != 0);
        EXPECT((net->features() & cv::kNetFMtu) == 0); // no mtu= given
        const int s = packet_socket("vt0");
        EXPECT(s >= 0);
        net->activate(1ull << 32); // VERSION_1 only: one chain per frame, no offloads
        EXPECT(watched);

        // Guest -> host: byte for byte.
        const auto out = eth_frame({0x02, 0, 0, 0, 0, 9}, 0x03, 1000, 1);
        g.transmit(out);
        net->notify(g.queues, VirtioNet::kTxq);
        EXPECT(g.used_idx(VirtioNet::kTxq) == 1);
        EXPECT(receive(s) == out);
        EXPECT(net->stats().tx_frames == 1 && net->stats().tx_bytes == 1000);

        // Host -> guest: the frame after a 12-byte header, num_buffers 1.
        const uint64_t buf = g.alloc(2048);
        g.offer(VirtioNet::kRxq, buf, 2048, cv::kDescWrite);
        const auto in = eth_frame(kGuestMac, 0x09, 600, 2);
        EXPECT(::send(s, in.data(), in.size(), 0) == static_cast<ssize_t>(in.size()));
        EXPECT(readable(net->tap_fd()));
        net->poll(g.queues);
        EXPECT(g.used_idx(VirtioNet::kRxq) == 1);
        EXPECT(g.used_len(VirtioNet::kRxq, 0) == cv::kNetHeaderSize + in.size());
        EXPECT(g.mem[buf] == 0 && g.mem[buf + 1] == 0);     // no flags, no GSO
        EXPECT(g.mem[buf + 10] == 1 && g.mem[buf + 11] == 0); // num_buffers
        EXPECT(std::memcmp(&g.mem[buf + cv::kNetHeaderSize], in.data(), in.size()) == 0);

        // No buffer: the frame waits and the TAP is not watched until the
        // guest offers one and kicks.
        EXPECT(::send(s, in.data(), in.size(), 0) == static_cast<ssize_t>(in.size()));
        EXPECT(readable(net->tap_fd()));
        net->poll(g.queues);
        EXPECT(!watched);
        const uint64_t buf2 = g.alloc(2048);
        g.offer(VirtioNet::kRxq, buf2, 2048, cv::kDescWrite);
        net->notify(g.queues, VirtioNet::kRxq);
        EXPECT(watched);
        EXPECT(g.used_idx(VirtioNet::kRxq) == 2);
        EXPECT(std::memcmp(&g.mem[buf2 + cv::kNetHeaderSize], in.data(), in.size()) == 0);

        // A reset unwatches the TAP.
        net->reset();
        EXPECT(!watched);
        EXPECT(g.resets == 0);
        ::close(s);
        return 0;
    });
    CHECK(rc == 0);
}

TEST_CASE("virtio-net: with mergeable buffers frames go straight from the TAP into held buffers, in order", "[net][virtio]") {
    const int rc = in_netns([] {
        Guest g;
        std::atomic<bool> stop{false};
        bool watched = false;
        VirtioNet::Options jumbo;
        jumbo.mtu = 9000; // the TAP's too: frames over one buffer
        auto net = make_net(g, stop, jumbo, watched);
        EXPECT(net != nullptr);
        const int s = packet_socket("vt0");
        EXPECT(s >= 0);
        net->activate((1ull << 32) | cv::kNetFMrgRxbuf);
        // Linux's mergeable buffers: enough of them for a 64 KiB frame.
        std::vector<uint64_t> bufs;
        for (int i = 0; i < 50; ++i) {
            bufs.push_back(g.alloc(1536));
            g.offer(VirtioNet::kRxq, bufs.back(), 1536, cv::kDescWrite);
        }
        net->notify(g.queues, VirtioNet::kRxq); // nothing from the TAP yet: the buffers are held
        EXPECT(g.used_idx(VirtioNet::kRxq) == 0);
        const auto a = eth_frame(kGuestMac, 0x09, 3000, 3), b = eth_frame(kGuestMac, 0x09, 200, 4);
        EXPECT(::send(s, a.data(), a.size(), 0) == static_cast<ssize_t>(a.size()));
        EXPECT(::send(s, b.data(), b.size(), 0) == static_cast<ssize_t>(b.size()));
        EXPECT(readable(net->tap_fd()));
        for (int i = 0; i < 20 && g.used_idx(VirtioNet::kRxq) < 3; ++i) {
            readable(net->tap_fd());
            net->poll(g.queues);
        }
        // a: 3012 bytes in two buffers (1536 + 1476), b: one.
        EXPECT(g.used_idx(VirtioNet::kRxq) == 3);
        EXPECT(g.used_len(VirtioNet::kRxq, 0) == 1536 && g.used_len(VirtioNet::kRxq, 1) == cv::kNetHeaderSize + a.size() - 1536);
        EXPECT(g.mem[bufs[0] + 10] == 2 && g.mem[bufs[0] + 11] == 0); // num_buffers
        EXPECT(std::memcmp(&g.mem[bufs[0] + cv::kNetHeaderSize], a.data(), 1536 - cv::kNetHeaderSize) == 0);
        EXPECT(std::memcmp(&g.mem[bufs[1]], a.data() + 1536 - cv::kNetHeaderSize, a.size() - (1536 - cv::kNetHeaderSize)) == 0);
        EXPECT(g.used_len(VirtioNet::kRxq, 2) == cv::kNetHeaderSize + b.size());
        EXPECT(g.mem[bufs[2] + 10] == 1);
        EXPECT(std::memcmp(&g.mem[bufs[2] + cv::kNetHeaderSize], b.data(), b.size()) == 0);
        EXPECT(net->stats().rx_frames == 2 && net->stats().rx_bytes == a.size() + b.size());

        // Stopped (Bus Master off, as before kexec): the held buffers go
        // back to the ring, to be read afresh when it runs again.
        EXPECT(g.q[VirtioNet::kRxq].queue.available() < 47 - 3);
        g.running = false;
        net->poll(g.queues);
        EXPECT(!watched);
        EXPECT(g.q[VirtioNet::kRxq].queue.available() == 47);
        g.running = true;
        net->notify(g.queues, VirtioNet::kRxq);
        EXPECT(watched);
        EXPECT(g.q[VirtioNet::kRxq].queue.available() < 47 - 3);

        // A reset forgets the held buffers: after it, frames land in the
        // buffers the driver gives the queue afresh, and none of the old.
        net->reset();
        for (auto& q : g.q) {
            q.next_desc = 0;
            q.avail_idx = 0;
            std::memset(&g.mem[q.used], 0, 8 + 8 * Guest::kSize);
            std::memset(&g.mem[q.avail], 0, 8 + 2 * Guest::kSize);
            q.queue.reset();
            EXPECT(q.queue.configure(g.ram(), {Guest::kSize, q.desc, q.avail, q.used}, {}) == cv::QueueError::none);
        }
        net->activate(1ull << 32); // no mergeable buffers now: one 2 KiB buffer, the copy path
        const uint64_t fresh = g.alloc(2048);
        g.offer(VirtioNet::kRxq, fresh, 2048, cv::kDescWrite);
        EXPECT(::send(s, b.data(), b.size(), 0) == static_cast<ssize_t>(b.size()));
        EXPECT(readable(net->tap_fd()));
        net->poll(g.queues);
        EXPECT(g.used_idx(VirtioNet::kRxq) == 1);
        EXPECT(g.used_len(VirtioNet::kRxq, 0) == cv::kNetHeaderSize + b.size());
        EXPECT(std::memcmp(&g.mem[fresh + cv::kNetHeaderSize], b.data(), b.size()) == 0);
        ::close(s);
        return 0;
    });
    CHECK(rc == 0);
}

TEST_CASE("virtio-net: a chain of more buffers than one read takes gets its frames through the copy", "[net][virtio]") {
    // Without mergeable buffers, one chain of 200 buffers of 400 bytes:
    // room for the largest frame, but in more pieces than the device's
    // readv takes (kRxSpans), so the frame is read whole and copied in.
    const int rc = in_netns([] {
        NetRig r;
        EXPECT(r.open(1ull << 32));
        constexpr uint16_t kPieces = 200;
        auto& rx = r.g.q[VirtioNet::kRxq];
        const uint64_t first = r.g.alloc(400u * kPieces);
        for (uint16_t i = 0; i < kPieces; ++i) {
            const uint64_t at = rx.desc + 16ull * i, addr = first + 400ull * i;
            const uint32_t len = 400;
            const uint16_t flags = cv::kDescWrite | (i + 1 < kPieces ? cv::kDescNext : 0), next = static_cast<uint16_t>(i + 1);
            std::memcpy(&r.g.mem[at], &addr, 8);
            std::memcpy(&r.g.mem[at + 8], &len, 4);
            std::memcpy(&r.g.mem[at + 12], &flags, 2);
            std::memcpy(&r.g.mem[at + 14], &next, 2);
        }
        // The queue's table has 64 entries and the chain's 200 descriptors
        // are in it: the queue is configured afresh with 256.
        rx.queue.reset();
        EXPECT(rx.queue.configure(r.g.ram(), {256, rx.desc, rx.desc + 0x1000 * 4, rx.desc + 0x1000 * 5}, {}) == cv::QueueError::none);
        r.g.put16(rx.desc + 0x4000 + 4, 0); // avail ring entry 0: head 0
        r.g.put16(rx.desc + 0x4000 + 2, 1);
        r.net->notify(r.g.queues, VirtioNet::kRxq);
        const auto a = eth_frame(kGuestMac, 0x09, 1400, 5); // over four of the buffers
        EXPECT(::send(r.s, a.data(), a.size(), 0) == static_cast<ssize_t>(a.size()));
        for (int i = 0; i < 20 && r.g.get16(rx.desc + 0x5000 + 2) < 1; ++i) {
            readable(r.net->tap_fd());
            r.net->poll(r.g.queues);
        }
        EXPECT(r.g.get16(rx.desc + 0x5000 + 2) == 1);
        uint32_t len = 0;
        std::memcpy(&len, &r.g.mem[rx.desc + 0x5000 + 4 + 4], 4);
        EXPECT(len == cv::kNetHeaderSize + a.size());
        EXPECT(r.g.mem[first + 10] == 1 && r.g.mem[first + 11] == 0); // num_buffers
        EXPECT(std::memcmp(&r.g.mem[first + cv::kNetHeaderSize], a.data(), a.size()) == 0);
        return 0;
    });
    CHECK(rc == 0);
}

TEST_CASE("virtio-net: a rate limit holds transmits back until its timer fires", "[net][virtio][qos]") {
    const int rc = in_netns([] {
        std::atomic<bool> stop{false};
        bool watched = false;
        {
            // 2000 bytes per 1000 s: no token arrives while the test runs,
            // so exactly the burst goes.
            Guest g;
            VirtioNet::Options opts;
            opts.rate_bytes = 2000;
            opts.rate_interval_us = 1000000000;
            auto net = make_net(g, stop, opts, watched);
            EXPECT(net != nullptr);
            net->activate(1ull << 32);
            for (uint8_t i = 0; i < 6; ++i) g.transmit(eth_frame({0x02, 0, 0, 0, 0, 9}, 3, 1000, i));
            net->notify(g.queues, VirtioNet::kTxq);
            // The burst (2000 bytes) lets two frames go; the rest wait, and the
            // transport is told not to call again (resume) until the timer.
            EXPECT(g.used_idx(VirtioNet::kTxq) == 2);
            EXPECT(!net->resume(VirtioNet::kTxq));
            net->notify(g.queues, VirtioNet::kTxq); // a kick while throttled moves nothing
            net->poll(g.queues);                    // nor does a poll before the timer
            EXPECT(g.used_idx(VirtioNet::kTxq) == 2);
        }
        // 2000 bytes per 200 ms: the timer brings the queue back until all
        // six frames have gone.
        Guest g;
        VirtioNet::Options opts;
        opts.rate_bytes = 2000;
        opts.rate_interval_us = 200000;
        auto net = make_net(g, stop, opts, watched);
        EXPECT(net != nullptr);
        const int s = packet_socket("vt0");
        EXPECT(s >= 0);
        net->activate(1ull << 32);
        for (uint8_t i = 0; i < 6; ++i) g.transmit(eth_frame({0x02, 0, 0, 0, 0, 9}, 3, 1000, i));
        net->notify(g.queues, VirtioNet::kTxq);
        EXPECT(g.used_idx(VirtioNet::kTxq) < 6);
        for (int i = 0; i < 10 && g.used_idx(VirtioNet::kTxq) < 6; ++i) {
            EXPECT(readable(net->timer_fd()));
            net->poll(g.queues);
        }
        EXPECT(g.used_idx(VirtioNet::kTxq) == 6);
        int got = 0;
        while (got < 6 && !receive(s).empty()) ++got;
        EXPECT(got == 6);
        ::close(s);
        return 0;
    });
    CHECK(rc == 0);
}

TEST_CASE("virtio-net: malformed transmit chains and headers are dropped, the device goes on", "[net][virtio]") {
    const int rc = in_netns([] {
        NetRig r;
        EXPECT(r.open(1ull << 32));
        Guest& g = r.g;
        VirtioNet* net = r.net.get();
        const int s = r.s;
        // A writable buffer on the transmit queue; a header shorter than 12
        // bytes; TSO that was not negotiated; then a good frame.
        const uint64_t w = g.alloc(100);
        g.offer(VirtioNet::kTxq, w, 100, cv::kDescWrite);
        g.offer(VirtioNet::kTxq, g.alloc(8), 8, 0);
        cv::NetHeader tso;
        tso.flags = cv::kNetHdrFNeedsCsum;
        tso.gso_type = cv::kNetGsoTcpv4;
        tso.gso_size = 1448;
        tso.csum_start = 34;
        tso.csum_offset = 16;
        g.transmit(eth_frame({0x02, 0, 0, 0, 0, 9}, 3, 3000, 7), tso);
        const auto good = eth_frame({0x02, 0, 0, 0, 0, 9}, 3, 60, 8);
        g.transmit(good);
        net->notify(g.queues, VirtioNet::kTxq);
        EXPECT(g.used_idx(VirtioNet::kTxq) == 4); // every chain returned
        EXPECT(g.resets == 0);
        EXPECT(net->stats().tx_dropped == 3);
        EXPECT(receive(s) == good);
        return 0;
    });
    CHECK(rc == 0);
}
