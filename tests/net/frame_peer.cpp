// frame_peer: the host side of the netecho test guest
// (tests/guests/netecho). It speaks raw Ethernet, ethertype 0x88b5 (local
// experimental), on one interface through an AF_PACKET socket, so it needs
// CAP_NET_RAW. Every wait has a timeout.
//
//   frame_peer IFACE hello MAC [TIMEOUT_S]       wait for MAC's "HVNET hello"
//                                                (says "hello: listening" once
//                                                its socket is bound, so a test
//                                                starts the guest after that)
//   frame_peer IFACE ping MAC COUNT [TIMEOUT_S]  COUNT pings, each pong checked
//   frame_peer IFACE blast MAC N [TIMEOUT_S]     ask for N frames, measure them
//   frame_peer IFACE off MAC                     tell the guest to power off
//
// Exit status: 0 on success, 1 when the guest did not answer as it should
// (a message says what), 2 on a usage or system error.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Mac = std::array<uint8_t, 6>;
using Clock = std::chrono::steady_clock;

constexpr uint16_t kEtherType = 0x88b5;
constexpr size_t kEthHdr = 14;
constexpr size_t kMinFrame = 60;   // without FCS
constexpr size_t kMaxFrame = 1514; // without FCS

[[noreturn]] void sys_fail(const char* what) {
    std::fprintf(stderr, "frame_peer: %s: %s\n", what, std::strerror(errno));
    std::exit(2);
}

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: frame_peer IFACE hello MAC [TIMEOUT_S]\n"
                 "       frame_peer IFACE ping MAC COUNT [TIMEOUT_S]\n"
                 "       frame_peer IFACE blast MAC N [TIMEOUT_S]\n"
                 "       frame_peer IFACE off MAC\n");
    std::exit(2);
}

std::optional<Mac> parse_mac(const char* s) {
    Mac m{};
    unsigned v[6];
    char tail = 0;
    if (std::sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
        return std::nullopt;
    for (size_t i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(v[i]);
    return m;
}

std::string mac_text(const uint8_t* m) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

uint64_t parse_u64(const char* s, const char* what) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != 0 || *s == '-') {
        std::fprintf(stderr, "frame_peer: bad %s: %s\n", what, s);
        std::exit(2);
    }
    return v;
}

// The printable start of a payload, for messages.
std::string payload_text(const std::vector<uint8_t>& f) {
    std::string s;
    for (size_t i = kEthHdr; i < f.size() && s.size() < 40; ++i) {
        if (f[i] == 0) break;
        s += (f[i] >= 0x20 && f[i] < 0x7f) ? static_cast<char>(f[i]) : '.';
    }
    return s;
}

bool payload_starts(const std::vector<uint8_t>& f, std::string_view text) {
    return f.size() >= kEthHdr + text.size() && std::memcmp(f.data() + kEthHdr, text.data(), text.size()) == 0;
}

class Peer {
public:
    explicit Peer(const char* iface) {
        fd_ = ::socket(AF_PACKET, SOCK_RAW, htons(kEtherType));
        if (fd_ < 0) sys_fail("socket(AF_PACKET)");
        ifreq ifr{};
        if (std::strlen(iface) >= sizeof ifr.ifr_name) {
            std::fprintf(stderr, "frame_peer: interface name too long: %s\n", iface);
            std::exit(2);
        }
        std::strncpy(ifr.ifr_name, iface, sizeof ifr.ifr_name - 1);
        if (::ioctl(fd_, SIOCGIFHWADDR, &ifr) != 0) sys_fail("SIOCGIFHWADDR");
        std::memcpy(own_.data(), ifr.ifr_hwaddr.sa_data, 6);
        const unsigned index = if_nametoindex(iface);
        if (index == 0) sys_fail("if_nametoindex");
        sockaddr_ll sll{};
        sll.sll_family = AF_PACKET;
        sll.sll_protocol = htons(kEtherType);
        sll.sll_ifindex = static_cast<int>(index);
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&sll), sizeof sll) != 0) sys_fail("bind");
        // A blast arrives faster than we may read it: a big receive buffer
        // (FORCE needs CAP_NET_ADMIN; the plain one is capped by rmem_max).
        int size = 16 << 20;
        if (::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
            (void)::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    ~Peer() { ::close(fd_); }
    Peer(const Peer&) = delete;
    Peer& operator=(const Peer&) = delete;

    const Mac& own() const { return own_; }

    // Sends `payload` to `dst` from our mac, padded to the Ethernet minimum.
    void send(const Mac& dst, const std::vector<uint8_t>& payload) {
        std::vector<uint8_t> f(kEthHdr);
        std::memcpy(f.data(), dst.data(), 6);
        std::memcpy(f.data() + 6, own_.data(), 6);
        f[12] = kEtherType >> 8;
        f[13] = kEtherType & 0xff;
        f.insert(f.end(), payload.begin(), payload.end());
        if (f.size() < kMinFrame) f.resize(kMinFrame, 0);
        send_frame(f);
    }

    void send_frame(const std::vector<uint8_t>& f) {
        if (::send(fd_, f.data(), f.size(), 0) != static_cast<ssize_t>(f.size())) sys_fail("send");
    }

    // The next incoming frame from `from` (any destination), or nothing by
    // `deadline`. Our own outgoing frames and other senders are skipped.
    std::optional<std::vector<uint8_t>> receive_from(const Mac& from, Clock::time_point deadline) {
        std::vector<uint8_t> buf(65536);
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) return std::nullopt;
            pollfd p{fd_, POLLIN, 0};
            const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) sys_fail("poll");
            if (r == 0) continue;
            sockaddr_ll sll{};
            socklen_t sl = sizeof sll;
            const ssize_t n = ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&sll), &sl);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) sys_fail("recvfrom");
            if (sll.sll_pkttype == PACKET_OUTGOING) continue;
            if (static_cast<size_t>(n) < kEthHdr || std::memcmp(buf.data() + 6, from.data(), 6) != 0) continue;
            return std::vector<uint8_t>(buf.begin(), buf.begin() + n);
        }
    }

private:
    int fd_ = -1;
    Mac own_{};
};

std::vector<uint8_t> bytes(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

Clock::time_point after_seconds(uint64_t s) { return Clock::now() + std::chrono::seconds(s); }

int do_hello(Peer& peer, const Mac& mac, uint64_t timeout) {
    // The guest says hello once, as it comes up: whoever starts it waits
    // for this line, not for a guessed time.
    std::printf("hello: listening for %s\n", mac_text(mac.data()).c_str());
    std::fflush(stdout);
    const auto deadline = after_seconds(timeout);
    while (auto f = peer.receive_from(mac, deadline)) {
        if (!payload_starts(*f, "HVNET hello")) continue;
        std::printf("hello: from %s to %s, %zu bytes, payload \"%s\"\n", mac_text(f->data() + 6).c_str(),
                    mac_text(f->data()).c_str(), f->size(), payload_text(*f).c_str());
        return 0;
    }
    std::printf("hello: nothing from %s in %llu s\n", mac_text(mac.data()).c_str(),
                static_cast<unsigned long long>(timeout));
    return 1;
}

// Ping i: "HVNET ping <i> " then random bytes up to a length that varies
// over 60..1514 (the first two are the extremes). Each pong must be the
// ping with "ping" -> "pong" and the macs swapped, byte for byte.
int do_ping(Peer& peer, const Mac& mac, uint64_t count, uint64_t timeout) {
    std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<size_t> length(kMinFrame, kMaxFrame);
    std::uniform_int_distribution<int> byte(0, 255);
    for (uint64_t i = 0; i < count; ++i) {
        const size_t len = i == 0 ? kMinFrame : i == 1 ? kMaxFrame : length(rng);
        std::vector<uint8_t> payload = bytes("HVNET ping " + std::to_string(i) + " ");
        while (payload.size() < len - kEthHdr) payload.push_back(static_cast<uint8_t>(byte(rng)));
        peer.send(mac, payload);

        std::vector<uint8_t> want(kEthHdr);
        std::memcpy(want.data(), peer.own().data(), 6);
        std::memcpy(want.data() + 6, mac.data(), 6);
        want[12] = kEtherType >> 8;
        want[13] = kEtherType & 0xff;
        want.insert(want.end(), payload.begin(), payload.end());
        want[kEthHdr + 7] = 'o'; // "HVNET p[i]ng"
        const std::vector<uint8_t> tag = bytes("HVNET pong " + std::to_string(i) + " ");

        const auto deadline = after_seconds(timeout);
        std::optional<std::vector<uint8_t>> got;
        while ((got = peer.receive_from(mac, deadline))) {
            if (payload_starts(*got, std::string_view(reinterpret_cast<const char*>(tag.data()), tag.size()))) break;
            // Anything else from the guest (a late hello) is not an answer.
        }
        if (!got) {
            std::printf("ping: no pong %llu (%zu bytes) from %s in %llu s\n", static_cast<unsigned long long>(i), len,
                        mac_text(mac.data()).c_str(), static_cast<unsigned long long>(timeout));
            return 1;
        }
        if (*got != want) {
            size_t at = 0;
            while (at < got->size() && at < want.size() && (*got)[at] == want[at]) ++at;
            std::printf("ping: pong %llu differs: %zu bytes, want %zu, first difference at byte %zu\n",
                        static_cast<unsigned long long>(i), got->size(), want.size(), at);
            return 1;
        }
    }
    std::printf("ping: %llu pongs from %s all byte-identical\n", static_cast<unsigned long long>(count),
                mac_text(mac.data()).c_str());
    return 0;
}

// Asks for N frames; counts the data frames (and their bytes, without FCS)
// until "HVNET blast-done"; the time runs from the first data frame.
int do_blast(Peer& peer, const Mac& mac, uint64_t n, uint64_t timeout) {
    peer.send(mac, bytes("HVNET blast " + std::to_string(n)));
    const auto deadline = after_seconds(timeout);
    uint64_t frames = 0, total = 0;
    std::optional<Clock::time_point> first;
    while (auto f = peer.receive_from(mac, deadline)) {
        if (payload_starts(*f, "HVNET data")) {
            if (!first) first = Clock::now();
            ++frames;
            total += f->size();
        } else if (payload_starts(*f, "HVNET blast-done")) {
            const double seconds = first ? std::chrono::duration<double>(Clock::now() - *first).count() : 0.0;
            std::printf("frames=%llu bytes=%llu seconds=%.3f\n", static_cast<unsigned long long>(frames),
                        static_cast<unsigned long long>(total), seconds);
            if (frames != n)
                std::fprintf(stderr, "blast: %llu of %llu data frames arrived (\"%s\")\n",
                             static_cast<unsigned long long>(frames), static_cast<unsigned long long>(n),
                             payload_text(*f).c_str());
            return 0;
        }
    }
    std::printf("blast: no blast-done from %s in %llu s (frames=%llu bytes=%llu so far)\n",
                mac_text(mac.data()).c_str(), static_cast<unsigned long long>(timeout),
                static_cast<unsigned long long>(frames), static_cast<unsigned long long>(total));
    return 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 4) usage();
    const std::string_view cmd = argv[2];
    const auto mac = parse_mac(argv[3]);
    if (!mac) {
        std::fprintf(stderr, "frame_peer: bad MAC: %s\n", argv[3]);
        return 2;
    }
    // Parsed before the socket exists, so a usage error needs no privilege.
    const auto opt = [&](int i, uint64_t dflt) { return argc > i ? parse_u64(argv[i], "TIMEOUT_S") : dflt; };
    if (cmd == "hello" && argc <= 5) {
        const uint64_t timeout = opt(4, 10);
        Peer peer(argv[1]);
        return do_hello(peer, *mac, timeout);
    }
    if (cmd == "ping" && (argc == 5 || argc == 6)) {
        const uint64_t count = parse_u64(argv[4], "COUNT");
        const uint64_t timeout = opt(5, 5);
        Peer peer(argv[1]);
        return do_ping(peer, *mac, count, timeout);
    }
    if (cmd == "blast" && (argc == 5 || argc == 6)) {
        const uint64_t n = parse_u64(argv[4], "N");
        const uint64_t timeout = opt(5, 60);
        Peer peer(argv[1]);
        return do_blast(peer, *mac, n, timeout);
    }
    if (cmd == "off" && argc == 4) {
        Peer peer(argv[1]);
        peer.send(*mac, bytes("HVNET off"));
        std::printf("off: sent to %s\n", mac_text(mac->data()).c_str());
        return 0;
    }
    usage();
}
