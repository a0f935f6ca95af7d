// VirtioNet: the virtio network device (virtio 1.2 section 5.1) over a TAP
// (dev::TapDevice): one receive and one transmit queue, served on the
// domain's I/O loop. The core decides how a frame is placed in the receive
// queue (core/virtio/net_rx.hpp), which transmit headers may pass
// (core/virtio/net_header.hpp) and when the rate limit lets a frame go
// (core/qos/token_bucket.hpp); this model moves the bytes.
//
// Offloads: the guest may send frames with partial checksums and TSO
// (VIRTIO_NET_F_CSUM, HOST_TSO4/6/ECN), which the TAP takes as they are
// (its vnet header); what it accepts (GUEST_CSUM, GUEST_TSO4/6/ECN) is
// what the TAP may hand it (TUNSETOFFLOAD), with mergeable receive
// buffers, so a 64 KiB segment costs one frame each way, not 44.
//
// Rate (xl.cfg rate=): the guest's transmit bytes, as Xen's netback
// limits them. While the bucket is empty the transmit queue is left alone
// (kicks off) and a timer brings the device back.
#pragma once

#include <spdlog/logger.h>

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/vif_spec.hpp"
#include "core/guest_ram.hpp"
#include "core/qos/token_bucket.hpp"
#include "core/virtio/net_rx.hpp"
#include "core/virtio/virtio_device.hpp"
#include "devices/net/tap_device.hpp"
#include "devices/timer_fd.hpp"
#include "hv/result.hpp"

namespace hv::dev {

class VirtioNet final : public core::virtio::VirtioDevice {
public:
    static constexpr uint32_t kRxq = 0;
    static constexpr uint32_t kTxq = 1;
    static constexpr uint16_t kQueueSize = 256;
    // Frames moved per call in each direction, at most (then the loop
    // serves the domain's other devices, and comes back).
    static constexpr uint32_t kPerCall = 256;

    struct Options {
        config::MacAddress mac{};
        uint32_t mtu = 0;                  // 0: not offered (the guest uses 1500)
        uint64_t rate_bytes = 0;           // per rate_interval_us; 0: no limit
        uint32_t rate_interval_us = 0;
    };

    struct Stats {
        std::atomic<uint64_t> rx_frames{0}, rx_bytes{0}, rx_dropped{0};
        std::atomic<uint64_t> tx_frames{0}, tx_bytes{0}, tx_dropped{0};
    };

    // `stop`: set when the domain is going away (outlives the device).
    static Result<std::unique_ptr<VirtioNet>> create(std::unique_ptr<TapDevice> tap, const core::GuestRam& ram, const Options& opts,
                                                     std::string name, std::shared_ptr<spdlog::logger> log,
                                                     const std::atomic<bool>& stop);

    const TapDevice& tap() const { return *tap_; }
    const Options& options() const { return opts_; }
    // A new transmit limit (0 bytes: none), from now on; a transmit queue
    // held back by the old one is looked at again at once. Under the
    // transport's lock (VirtioPci::locked).
    void set_rate(uint64_t bytes, uint32_t interval_us);
    const Stats& stats() const { return stats_; }
    // What the I/O loop watches for this device, each calling the
    // transport's poll(): the TAP (frames for the guest) and the rate
    // limit's timer.
    int tap_fd() const { return tap_->fd(); }
    int timer_fd() const { return timer_.fd(); }
    // Called (under the transport's lock) to stop or resume watching the
    // TAP: off while the guest has no room for the frame in hand, or the
    // device is not running.
    void on_rx_watch(std::function<void(bool)> fn) { rx_watch_ = std::move(fn); }

    uint16_t device_type() const override { return 1; }
    uint64_t features() const override;
    uint32_t queue_count() const override { return 2; }
    uint16_t queue_max_size() const override { return kQueueSize; }
    uint32_t config_size() const override { return kConfigSize; }
    void read_config(uint32_t offset, uint8_t* data, uint32_t len) override;
    void write_config(uint32_t, const uint8_t*, uint32_t) override {} // the mac is read-only (no CTRL_MAC_ADDR)
    void activate(uint64_t features) override;
    void reset() override;
    void notify(core::virtio::Queues& queues, uint32_t q) override;
    bool resume(uint32_t q) const override { return q == kTxq && !throttled_; }
    void poll(core::virtio::Queues& queues) override;

private:
    static constexpr uint32_t kConfigSize = 12; // mac, status, max_virtqueue_pairs, mtu
    VirtioNet(std::unique_ptr<TapDevice> tap, const core::GuestRam& ram, const Options& opts, std::string name,
              std::shared_ptr<spdlog::logger> log, const std::atomic<bool>& stop);

    // What receive_direct() did with the next frame.
    enum class Direct : uint8_t {
        delivered,   // in the guest's buffers
        dropped,     // read and dropped (a bad header, or no frame in it)
        empty,       // nothing to read now (the buffers stay held)
        unavailable, // the held buffers cannot take every frame: copy instead
        broken,      // the receive queue is broken
    };
    // Buffer spans one direct read may fill: Linux's mergeable buffers
    // are one each, so kNetRxMaxChains of them and then some.
    static constexpr uint32_t kRxSpans = 2 * core::virtio::kNetRxMaxChains;

    void transmit(core::virtio::Queues& queues);
    void receive(core::virtio::Queues& queues);
    Direct receive_direct(core::virtio::SplitQueue& queue, bool mergeable);
    bool accept_from_tap(uint8_t* hdr, ssize_t r);
    void stop_receiving(core::virtio::Queues& queues);
    // Sends one popped chain's frame; false when it was dropped.
    bool send(const core::virtio::Segment* segs, uint32_t count);
    void set_rx_watch(bool on);
    void arm_timer(uint64_t at_ns);
    void complain(const char* what, const std::string& detail);

    std::unique_ptr<TapDevice> tap_;
    core::GuestRam ram_;
    Options opts_;
    std::string name_;
    std::shared_ptr<spdlog::logger> log_;
    const std::atomic<bool>& stop_;
    TimerFd timer_; // the rate limit's wake-up
    std::function<void(bool)> rx_watch_;
    bool rx_watched_ = false;
    uint64_t features_ = 0;
    bool active_ = false;
    bool throttled_ = false; // the bucket is empty: transmit waits for the timer
    core::qos::TokenBucket bucket_;
    // Receive chains taken ahead of the TAP's next frames (receive_direct).
    core::virtio::RxBuffers rx_bufs_;
    // A frame read from the TAP that the guest had no room for yet.
    std::vector<uint8_t> rx_frame_;
    uint32_t rx_len_ = 0;
    uint32_t complaints_ = 0;
    Stats stats_;
};

} // namespace hv::dev
