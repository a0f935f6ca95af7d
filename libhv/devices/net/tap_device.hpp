// TapDevice: the host side of one vif, a TAP interface (vif<domid>.<n> as
// Xen names them, or the config's vifname=) that the domain process owns.
//
// The TAP is not persistent: the kernel deletes it, and takes it off its
// bridge, when its last fd closes. So a domain process that exits in any
// way (destroy, crash, kill -9) leaves no interface behind, and no
// cleanup code has to run for that. IFF_TUN_EXCL makes creating a name
// that exists an error (EBUSY) instead of attaching to someone else's TAP.
//
// Frames carry the virtio-net header (IFF_VNET_HDR, 12 bytes: the virtio
// 1.x header with num_buffers), so checksum and segmentation offloads can
// pass between the guest and the host stack untouched.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hv/result.hpp"

namespace hv::dev {

class TapDevice {
public:
    struct Options {
        std::string name;        // checked by config::check_interface_name
        std::string bridge;      // "" : no bridge; else it must exist (an error otherwise)
        std::optional<uint32_t> mtu;
    };

    // Creates, configures (vnet header, MTU, bridge port) and brings up
    // the TAP. On any error nothing is left: the half-made TAP goes with
    // its fd. Needs CAP_NET_ADMIN.
    static Result<std::unique_ptr<TapDevice>> create(const Options& opts);
    ~TapDevice();
    TapDevice(const TapDevice&) = delete;
    TapDevice& operator=(const TapDevice&) = delete;

    const std::string& name() const { return name_; }
    // Non-blocking: reads give one frame (with its vnet header) or EAGAIN.
    int fd() const { return fd_; }
    // TUNSETOFFLOAD: which offloads the host may hand the guest (TUN_F_*),
    // set once the guest's virtio-net features are known.
    Result<void> set_offloads(unsigned flags);

    // Xen's vif-route: the TAP takes `gatewaydev`'s IPv4 address (/32) and
    // answers ARP for the host (proxy_arp), and each of `ips` gets a host
    // route through the TAP. The routes go with the TAP. Needs the host to
    // forward (net.ipv4.ip_forward=1, as Xen's guide says).
    Result<void> route(const std::string& gatewaydev, const std::vector<std::array<uint8_t, 4>>& ips);

    static constexpr size_t kVnetHeaderSize = 12;

private:
    TapDevice(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
    int fd_;
    std::string name_;
};

} // namespace hv::dev
