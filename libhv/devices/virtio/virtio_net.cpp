#include "devices/virtio/virtio_net.hpp"

#include <linux/if_tun.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "core/le_bytes.hpp"
#include "core/virtio/net_header.hpp"
#include "core/virtio/net_rx.hpp"

namespace hv::dev {

namespace cv = core::virtio;

namespace {

constexpr uint32_t kMaxComplaints = 20;
// Buffers in one transmit chain, at most (Linux: the header and up to 18
// fragments); more breaks the queue.
constexpr uint32_t kTxSegments = 64;
// A frame from the TAP, with its vnet header: QEMU's size for the same.
constexpr uint32_t kRxBuffer = 4096 + 65536;

// What the TAP may hand a guest that accepts these features (TUN_F_*).
unsigned tap_offloads(uint64_t f) {
    if ((f & cv::kNetFGuestCsum) == 0) return 0;
    unsigned o = TUN_F_CSUM;
    if ((f & cv::kNetFGuestTso4) != 0) o |= TUN_F_TSO4;
    if ((f & cv::kNetFGuestTso6) != 0) o |= TUN_F_TSO6;
    if ((f & cv::kNetFGuestEcn) != 0 && (o & (TUN_F_TSO4 | TUN_F_TSO6)) != 0) o |= TUN_F_TSO_ECN;
    return o;
}

} // namespace

Result<std::unique_ptr<VirtioNet>> VirtioNet::create(std::unique_ptr<TapDevice> tap, const core::GuestRam& ram, const Options& opts,
                                                     std::string name, std::shared_ptr<spdlog::logger> log,
                                                     const std::atomic<bool>& stop) {
    std::unique_ptr<VirtioNet> net(new VirtioNet(std::move(tap), ram, opts, std::move(name), std::move(log), stop));
    if (net->timer_.fd() < 0) return make_error(Errc::io_error, fmt::format("{}: timerfd_create: {}", net->name_, std::strerror(errno)));
    return net;
}

VirtioNet::VirtioNet(std::unique_ptr<TapDevice> tap, const core::GuestRam& ram, const Options& opts, std::string name,
                     std::shared_ptr<spdlog::logger> log, const std::atomic<bool>& stop)
    : tap_(std::move(tap)), ram_(ram), opts_(opts), name_(std::move(name)), log_(std::move(log)), stop_(stop),
      bucket_(opts.rate_bytes, uint64_t{opts.rate_interval_us} * 1000, opts.rate_bytes, TimerFd::now_ns()), rx_frame_(kRxBuffer) {}

void VirtioNet::set_rate(uint64_t bytes, uint32_t interval_us) {
    opts_.rate_bytes = bytes;
    opts_.rate_interval_us = interval_us;
    bucket_ = core::qos::TokenBucket(bytes, uint64_t{interval_us} * 1000, bytes, TimerFd::now_ns());
    if (throttled_) arm_timer(TimerFd::now_ns());
}

uint64_t VirtioNet::features() const {
    uint64_t f = cv::kNetFMac | cv::kNetFStatus | cv::kNetFCsum | cv::kNetFGuestCsum | cv::kNetFHostTso4 | cv::kNetFHostTso6 |
                 cv::kNetFHostEcn | cv::kNetFGuestTso4 | cv::kNetFGuestTso6 | cv::kNetFGuestEcn | cv::kNetFMrgRxbuf;
    if (opts_.mtu != 0) f |= cv::kNetFMtu;
    return f;
}

// struct virtio_net_config (virtio 1.2 5.1.4): mac, status (link up),
// max_virtqueue_pairs (1; VIRTIO_NET_F_MQ is not offered), mtu.
void VirtioNet::read_config(uint32_t offset, uint8_t* data, uint32_t len) {
    uint8_t cfg[kConfigSize] = {};
    std::memcpy(cfg, opts_.mac.data(), 6);
    core::store_le(cfg + 6, cv::kNetStatusLinkUp, 2);
    core::store_le(cfg + 8, 1, 2);
    core::store_le(cfg + 10, opts_.mtu, 2);
    std::memcpy(data, cfg + offset, len);
}

void VirtioNet::activate(uint64_t features) {
    features_ = features;
    active_ = true;
    if (auto r = tap_->set_offloads(tap_offloads(features)); !r) complain("offloads refused by the TAP", r.error().message);
    set_rx_watch(true);
}

void VirtioNet::reset() {
    features_ = 0;
    active_ = false;
    throttled_ = false;
    timer_.disarm(); // an expiry already pending is taken by the next poll
    rx_len_ = 0; // a frame in hand is dropped, as a NIC's reset drops its FIFO
    rx_bufs_.forget(); // the queue starts afresh
    set_rx_watch(false);
    (void)tap_->set_offloads(0);
}

void VirtioNet::set_rx_watch(bool on) {
    if (on == rx_watched_) return;
    rx_watched_ = on;
    if (rx_watch_) rx_watch_(on);
}

void VirtioNet::complain(const char* what, const std::string& detail) {
    if (complaints_ >= kMaxComplaints) return;
    if (++complaints_ == kMaxComplaints) {
        log_->warn("{}: {}: {} (further problems of this vif are not logged)", name_, what, detail);
    } else {
        log_->warn("{}: {}: {}", name_, what, detail);
    }
}

void VirtioNet::notify(cv::Queues& queues, uint32_t q) {
    if (q == kTxq) transmit(queues);
    if (q == kRxq) receive(queues);
}

// The timer is read whatever the state (it is level-triggered on the
// loop); a device that is not running stops watching the TAP.
void VirtioNet::poll(cv::Queues& queues) {
    const bool fired = timer_.consume();
    if (!queues.running()) {
        stop_receiving(queues);
        return;
    }
    if (fired) { // the rate limit's wait, or a share's end (arm_timer(now)): transmit goes on
        throttled_ = false;
        transmit(queues);
    }
    receive(queues);
}

void VirtioNet::arm_timer(uint64_t at_ns) {
    if (!timer_.arm_at(at_ns)) complain("timerfd_settime", std::strerror(errno));
}

void VirtioNet::transmit(cv::Queues& queues) {
    cv::SplitQueue* queue = queues.queue(kTxq);
    if (queue == nullptr || throttled_) return;
    cv::Segment segs[kTxSegments];
    cv::Chain chain;
    uint32_t taken = 0;
    bool returned = false;
    queue->want_notify(false); // everything available is taken before the next kick matters
    for (;;) {
        if (stop_.load(std::memory_order_relaxed)) break;
        if (taken == kPerCall) {
            // Out of share: kicks back on, and the transport (or the
            // timer, on the poll path) calls again.
            queue->want_notify(true);
            arm_timer(TimerFd::now_ns());
            break;
        }
        // The clock only for a limit (it is a syscall where the vDSO cannot
        // read it, as in a VM under TCG).
        const uint64_t now = bucket_.unlimited() ? 0 : TimerFd::now_ns();
        if (const uint64_t at = bucket_.ready_at(now); at > now) {
            throttled_ = true; // kicks stay off: the timer brings the queue back
            arm_timer(at);
            break;
        }
        if (!queue->pop(segs, kTxSegments, chain)) {
            if (queue->error() != cv::QueueError::none) break;
            queue->want_notify(true);
            if (queue->available() == 0) break;
            queue->want_notify(false);
            continue;
        }
        ++taken;
        if (chain.writable != 0 || chain.readable < cv::kNetHeaderSize) {
            complain("transmit chain dropped", "not a readable virtio-net header and frame");
            stats_.tx_dropped.fetch_add(1, std::memory_order_relaxed);
        } else if (send(segs, chain.segments)) {
            const uint64_t bytes = chain.readable - cv::kNetHeaderSize;
            (void)bucket_.take(now, bytes);
            stats_.tx_frames.fetch_add(1, std::memory_order_relaxed);
            stats_.tx_bytes.fetch_add(bytes, std::memory_order_relaxed);
        }
        queue->push(chain.head, 0);
        returned = true;
    }
    if (returned) queues.used(kTxq);
    if (queue->error() != cv::QueueError::none) {
        complain("the driver broke its transmit queue", cv::queue_error_text(queue->error()));
        set_rx_watch(false); // nothing runs until the driver resets the device
        queues.needs_reset();
    }
}

// The header goes from a checked copy (a driver rewriting it after the
// check does not reach the TAP with it); the frame from guest memory.
bool VirtioNet::send(const cv::Segment* segs, uint32_t count) {
    uint8_t hdr[cv::kNetHeaderSize];
    iovec iov[kTxSegments + 1];
    int n = 1;
    uint32_t copied = 0;
    uint64_t frame_len = 0;
    for (uint32_t i = 0; i < count; ++i) {
        uint64_t gpa = segs[i].gpa;
        uint32_t len = segs[i].len;
        if (copied < cv::kNetHeaderSize) {
            const uint32_t k = std::min(len, cv::kNetHeaderSize - copied);
            ram_.read(gpa, hdr + copied, k);
            copied += k;
            gpa += k;
            len -= k;
        }
        if (len == 0) continue;
        iov[n++] = iovec{ram_.at(gpa, len), len};
        frame_len += len;
    }
    cv::NetHeader h = cv::decode_net_header(hdr);
    if (const char* why = cv::check_net_tx_header(h, frame_len, features_); why != nullptr) {
        complain("transmit frame dropped", why);
        stats_.tx_dropped.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    h.num_buffers = 0;
    h.flags &= cv::kNetHdrFNeedsCsum; // the bits the device does not know are ignored
    cv::encode_net_header(h, hdr);
    iov[0] = iovec{hdr, sizeof hdr};
    // A TAP takes or refuses a frame whole and does not block (its fd is
    // non-blocking; a full host queue drops, as a wire would).
    if (::writev(tap_->fd(), iov, n) < 0) {
        if (errno != EAGAIN && errno != EIO) complain("TAP write", std::strerror(errno)); // EIO: the TAP is down
        stats_.tx_dropped.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    return true;
}

// A read of `r` bytes from the TAP whose vnet header is at `hdr`: false
// (the frame is dropped) when it holds no frame or offloads the driver did
// not take; else the header is rewritten as the guest may see it.
bool VirtioNet::accept_from_tap(uint8_t* hdr, ssize_t r) {
    if (static_cast<size_t>(r) <= cv::kNetHeaderSize) return false;
    cv::NetHeader h = cv::decode_net_header(hdr);
    if (!cv::accept_net_rx_header(h, features_)) {
        stats_.rx_dropped.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    cv::encode_net_header(h, hdr);
    return true;
}

// Straight from the TAP into the buffers the driver gave (the kernel's copy
// is the only one), when the chains held can take the largest frame the
// TAP may hand over; otherwise (the driver is short of buffers, or gave
// them in tiny pieces) the frame comes through rx_frame_.
VirtioNet::Direct VirtioNet::receive_direct(cv::SplitQueue& queue, bool mergeable) {
    if (!rx_bufs_.fill(queue, kRxBuffer, mergeable)) return Direct::broken;
    cv::RxBuffers::Span spans[kRxSpans];
    const uint32_t n = rx_bufs_.capacity() >= kRxBuffer ? rx_bufs_.spans(cv::kNetHeaderSize, spans, kRxSpans) : 0;
    uint8_t hdr[cv::kNetHeaderSize];
    iovec iov[kRxSpans + 1];
    iov[0] = iovec{hdr, sizeof hdr};
    uint64_t room = sizeof hdr;
    for (uint32_t i = 0; i < n; ++i) {
        iov[i + 1] = iovec{ram_.at(spans[i].gpa, spans[i].len), spans[i].len};
        room += spans[i].len;
    }
    if (room < kRxBuffer) return Direct::unavailable; // deliver() uses what is held, and gives it back if short
    const ssize_t r = ::readv(tap_->fd(), iov, static_cast<int>(n + 1));
    if (r < 0) { // the chains stay held for the next frame
        if (errno != EAGAIN && errno != EINTR) complain("TAP read", std::strerror(errno));
        return Direct::empty;
    }
    // A refused frame's bytes in the held buffers are overwritten by the next.
    if (!accept_from_tap(hdr, r)) return Direct::dropped;
    rx_bufs_.commit(queue, ram_, hdr, static_cast<uint64_t>(r));
    stats_.rx_frames.fetch_add(1, std::memory_order_relaxed);
    stats_.rx_bytes.fetch_add(static_cast<uint64_t>(r) - cv::kNetHeaderSize, std::memory_order_relaxed);
    return Direct::delivered;
}

// Not running (the driver stopped the device, or cleared Bus Master, as
// Linux does before kexec): the TAP is not watched, and the chains held
// go back to the ring, so that a driver that starts again (a new kernel
// with new rings) is read afresh, not written through old buffers.
void VirtioNet::stop_receiving(cv::Queues& queues) {
    set_rx_watch(false); // the driver enables the queue (or resets the device) and kicks it
    if (cv::SplitQueue* queue = queues.queue(kRxq); queue != nullptr) {
        rx_bufs_.release(*queue); // refused by a broken queue: then only forgotten
    } else {
        rx_bufs_.forget();
    }
}

void VirtioNet::receive(cv::Queues& queues) {
    cv::SplitQueue* queue = queues.queue(kRxq);
    if (!active_ || !queues.running() || queue == nullptr) {
        stop_receiving(queues);
        return;
    }
    if (rx_len_ == 0) set_rx_watch(true); // nothing in hand: the TAP's frames are welcome
    const bool mergeable = (features_ & cv::kNetFMrgRxbuf) != 0;
    bool delivered = false;
    for (uint32_t moved = 0; moved < kPerCall && !stop_.load(std::memory_order_relaxed); ++moved) {
        if (rx_len_ == 0) {
            const Direct d = receive_direct(*queue, mergeable);
            if (d == Direct::delivered) {
                delivered = true;
                queue->want_notify(false); // buffers are there: no kicks needed while frames flow
                continue;
            }
            if (d == Direct::dropped) continue;
            if (d != Direct::unavailable) break;
            const ssize_t r = ::read(tap_->fd(), rx_frame_.data(), rx_frame_.size());
            if (r < 0) {
                if (errno != EAGAIN && errno != EINTR) complain("TAP read", std::strerror(errno));
                break;
            }
            if (!accept_from_tap(rx_frame_.data(), r)) continue;
            rx_len_ = static_cast<uint32_t>(r);
        }
        cv::RxResult res = rx_bufs_.deliver(*queue, ram_, rx_frame_.data(), rx_len_, mergeable);
        if (res == cv::RxResult::no_room) {
            // Wait for the driver's buffers with kicks on (looking once
            // more: buffers added before they were on came without one);
            // its kick calls receive() again.
            queue->notify_when_added();
            res = rx_bufs_.deliver(*queue, ram_, rx_frame_.data(), rx_len_, mergeable);
            if (res == cv::RxResult::no_room) {
                set_rx_watch(false);
                break;
            }
        }
        // Buffers are there: no kicks needed for more while frames flow.
        if (res == cv::RxResult::delivered) queue->want_notify(false);
        if (res == cv::RxResult::broken) break;
        if (res == cv::RxResult::delivered) {
            delivered = true;
            stats_.rx_frames.fetch_add(1, std::memory_order_relaxed);
            stats_.rx_bytes.fetch_add(rx_len_ - cv::kNetHeaderSize, std::memory_order_relaxed);
        } else {
            stats_.rx_dropped.fetch_add(1, std::memory_order_relaxed);
        }
        rx_len_ = 0;
        set_rx_watch(true);
    }
    if (delivered) queues.used(kRxq);
    if (queue->error() != cv::QueueError::none) {
        complain("the driver broke its receive queue", cv::queue_error_text(queue->error()));
        set_rx_watch(false);
        queues.needs_reset();
    }
}

} // namespace hv::dev
