// GuestVifs: what a config's vif= specs become on the host, decided in one
// place (xl-network-configuration(5), the seeds' bridged and routed
// setups): each vif's devid, MAC, TAP name, bridge and script, and the
// checks create makes before any TAP exists.
//
//  - devid: devid= or the vif's position (0, 1, ...), as xl numbers them.
//  - mac: mac= or 00:16:3e (Xen's OUI) and three bytes hashed from the
//    domain's UUID and the devid: random across domains, the same across
//    reboots (a restart keeps the UUID), as xl stores the one it drew.
//  - TAP name: vifname= or vif<domid>.<devid>.
//  - script: vif-bridge (the default) puts the TAP on bridge= (default
//    xenbr0, which must exist); vif-route gives the TAP the address of
//    gatewaydev= (default eth0) and routes each ip= to the guest through
//    it; vif-nat is refused (no NAT or DHCP server here: use vif-route and
//    the host's own masquerading).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/domain_config.hpp"
#include "config/vif_spec.hpp"

namespace hv::config {

// The most vifs a domain may have (PCI slots after the disks).
constexpr size_t kMaxVifs = 8;
// The most ip= addresses one vif may list (a network-list record holds
// 16 of the longest form).
constexpr size_t kMaxVifIps = 16;
// The fastest rate= hv takes: 100 Gb/s (12.5e9 bytes a second).
constexpr uint64_t kMaxVifRateBytesPerSec = 12500000000ull;

// Whether `bytes` per `interval_us` (> 0) is faster than that: the one
// rule for create's rate= (check_vifs) and a rate changed while the vif
// runs (the control ABI's VIF_SET_RATE).
inline bool vif_rate_over_limit(uint64_t bytes, uint32_t interval_us) {
    // bytes per second = per interval * 1e6 / interval; long double: no overflow
    const long double per_sec = static_cast<long double>(bytes) * 1e6L / interval_us;
    return per_sec > static_cast<long double>(kMaxVifRateBytesPerSec);
}

enum class VifScript : uint8_t { bridge, route };

uint32_t vif_devid(const VifSpec& v, size_t index);
MacAddress vif_mac(const VifSpec& v, const Uuid& domain_uuid, uint32_t devid);
std::string vif_tap_name(const VifSpec& v, uint32_t domid, uint32_t devid);
std::string vif_bridge(const VifSpec& v);     // "" for vif-route
std::string vif_gatewaydev(const VifSpec& v); // vif-route's: gatewaydev= or eth0
// A script's name without a directory (xl takes "vif-route" and
// "/etc/xen/scripts/vif-route" alike).
std::string_view vif_script_name(const std::string& script);
// The script a (checked) spec runs.
VifScript vif_script(const VifSpec& v);

} // namespace hv::config
