#include "devices/net/tap_device.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/route.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "config/interface_name.hpp"

namespace hv::dev {

namespace {

struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

Error fail(std::string_view name, std::string_view what, int err) {
    return make_error(err == EPERM || err == EACCES ? Errc::permission_denied : Errc::io_error,
                      fmt::format("TAP {}: {}: {}", name, what, std::strerror(err)));
}

void copy_name(char (&dst)[IFNAMSIZ], const std::string& name) {
    std::memset(dst, 0, IFNAMSIZ);
    std::memcpy(dst, name.data(), name.size()); // checked: at most IFNAMSIZ - 1
}

} // namespace

Result<std::unique_ptr<TapDevice>> TapDevice::create(const Options& opts) {
    if (auto ok = config::check_interface_name(opts.name, "vif"); !ok) return ok.error();
    if (!opts.bridge.empty())
        if (auto ok = config::check_interface_name(opts.bridge, "bridge"); !ok) return ok.error();
    static_assert(config::kMaxInterfaceName < IFNAMSIZ);

    Fd tap{::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)};
    if (tap.fd < 0) return fail(opts.name, "open /dev/net/tun", errno);
    ifreq ifr{};
    copy_name(ifr.ifr_name, opts.name);
    ifr.ifr_flags = static_cast<short>(static_cast<uint16_t>(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL));
    if (::ioctl(tap.fd, TUNSETIFF, &ifr) < 0) {
        const int err = errno;
        if (err == EBUSY) return make_error(Errc::exists, fmt::format("TAP {}: an interface of that name exists", opts.name));
        return fail(opts.name, "TUNSETIFF", err);
    }
    int hdr = static_cast<int>(kVnetHeaderSize);
    if (::ioctl(tap.fd, TUNSETVNETHDRSZ, &hdr) < 0) return fail(opts.name, "TUNSETVNETHDRSZ", errno);
    // No offloads until the guest says what it takes.
    if (::ioctl(tap.fd, TUNSETOFFLOAD, 0u) < 0) return fail(opts.name, "TUNSETOFFLOAD", errno);

    // Interface settings go through any socket of the namespace.
    Fd sock{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
    if (sock.fd < 0) return fail(opts.name, "socket", errno);
    if (opts.mtu) {
        ifreq m{};
        copy_name(m.ifr_name, opts.name);
        m.ifr_mtu = static_cast<int>(*opts.mtu);
        if (*opts.mtu < 68 || *opts.mtu > 65535 || ::ioctl(sock.fd, SIOCSIFMTU, &m) < 0)
            return make_error(Errc::invalid_argument, fmt::format("TAP {}: mtu {} is not one this interface takes (68-65535)", opts.name, *opts.mtu));
    }
    if (!opts.bridge.empty()) {
        ifreq idx{};
        copy_name(idx.ifr_name, opts.name);
        if (::ioctl(sock.fd, SIOCGIFINDEX, &idx) < 0) return fail(opts.name, "SIOCGIFINDEX", errno);
        ifreq br{};
        copy_name(br.ifr_name, opts.bridge);
        br.ifr_ifindex = idx.ifr_ifindex;
        if (::ioctl(sock.fd, SIOCBRADDIF, &br) < 0) {
            const int err = errno;
            if (err == ENODEV)
                return make_error(Errc::not_found, fmt::format("TAP {}: bridge {} does not exist (or is not a bridge)", opts.name, opts.bridge));
            return fail(opts.name, fmt::format("adding it to bridge {}", opts.bridge), err);
        }
    }
    ifreq up{};
    copy_name(up.ifr_name, opts.name);
    if (::ioctl(sock.fd, SIOCGIFFLAGS, &up) < 0) return fail(opts.name, "SIOCGIFFLAGS", errno);
    up.ifr_flags = static_cast<short>(up.ifr_flags | IFF_UP);
    if (::ioctl(sock.fd, SIOCSIFFLAGS, &up) < 0) return fail(opts.name, "bringing it up", errno);

    std::unique_ptr<TapDevice> dev(new TapDevice(tap.fd, opts.name));
    tap.fd = -1; // the device owns it now
    return dev;
}

TapDevice::~TapDevice() { ::close(fd_); }

Result<void> TapDevice::set_offloads(unsigned flags) {
    if (::ioctl(fd_, TUNSETOFFLOAD, flags) < 0) return fail(name_, fmt::format("TUNSETOFFLOAD {:#x}", flags), errno);
    return {};
}

namespace {

sockaddr_in inet(uint32_t addr_be) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = addr_be;
    return sin;
}

} // namespace

Result<void> TapDevice::route(const std::string& gatewaydev, const std::vector<std::array<uint8_t, 4>>& ips) {
    if (auto ok = config::check_interface_name(gatewaydev, "gatewaydev"); !ok) return ok.error();
    Fd sock{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
    if (sock.fd < 0) return fail(name_, "socket", errno);
    ifreq gw{};
    copy_name(gw.ifr_name, gatewaydev);
    if (::ioctl(sock.fd, SIOCGIFADDR, &gw) < 0) {
        const int err = errno;
        if (err == ENODEV || err == EADDRNOTAVAIL)
            return make_error(Errc::not_found, fmt::format("TAP {}: vif-route: gatewaydev {} {}", name_, gatewaydev,
                                                           err == ENODEV ? "does not exist" : "has no IPv4 address"));
        return fail(name_, fmt::format("reading {}'s address", gatewaydev), err);
    }
    ifreq addr{};
    copy_name(addr.ifr_name, name_);
    addr.ifr_addr = gw.ifr_addr;
    if (::ioctl(sock.fd, SIOCSIFADDR, &addr) < 0) return fail(name_, "SIOCSIFADDR", errno);
    ifreq mask{};
    copy_name(mask.ifr_name, name_);
    const sockaddr_in all = inet(0xffffffffu);
    std::memcpy(&mask.ifr_netmask, &all, sizeof all);
    if (::ioctl(sock.fd, SIOCSIFNETMASK, &mask) < 0) return fail(name_, "SIOCSIFNETMASK", errno);
    // The guest's ARP for its gateway (the host's address) is answered.
    {
        std::ofstream proxy("/proc/sys/net/ipv4/conf/" + name_ + "/proxy_arp");
        proxy << "1\n";
        proxy.flush();
        if (!proxy) return make_error(Errc::io_error, fmt::format("TAP {}: cannot turn proxy_arp on", name_));
    }
    for (const auto& ip : ips) {
        rtentry rt{};
        uint32_t be = 0;
        std::memcpy(&be, ip.data(), 4); // network order already
        const sockaddr_in dst = inet(be);
        const sockaddr_in host_mask = inet(0xffffffffu);
        std::memcpy(&rt.rt_dst, &dst, sizeof dst);
        std::memcpy(&rt.rt_genmask, &host_mask, sizeof host_mask);
        rt.rt_flags = RTF_UP | RTF_HOST;
        char dev[IFNAMSIZ];
        copy_name(dev, name_);
        rt.rt_dev = dev;
        if (::ioctl(sock.fd, SIOCADDRT, &rt) < 0)
            return fail(name_, fmt::format("route to {}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]), errno);
    }
    return {};
}

} // namespace hv::dev
