// One `vif = [ ... ]` element, xl-network-configuration(5): comma-separated
// KEY=VALUE items, typed and checked, before any network device exists (hv
// has none yet; the monitor refuses vif= at create).
//
//   mac=00:16:3e:6e:db:f4, bridge=xenbr0      blanks around items are dropped
//   ip=172.16.30.130 ,mac=00:16:3E:6C:82:F6    (a seed's spelling)
//   ''                                         all keys are optional
//
// Keys: mac= (six two-digit hex groups split by ':', not multicast),
// ip= (IPv4 dotted quads, several separated by blanks), bridge=, type= (vif,
// ioemu), model=, vifname=, script=, backend=, gatewaydev= (netdev= is its
// old name), rate= (RATE[@INTERVAL], as libxlutil's xlu_vif_parse_rate:
// "10Mb/s@20ms", units B/b with an optional K/M/G, interval s/ms/us, default
// 50ms), devid=, mtu=.
//
// Where we differ from xl (which splits with strtok and warns about, then
// ignores, what it does not understand), on purpose:
//  - an item that is not KEY=VALUE, an unknown key or a key given twice is
//    an error (xl: a warning, or the last one wins);
//  - mac= must be exactly six two-digit groups and not multicast, ip= must
//    be dotted quads without leading zeros (xl passes ip= through as text);
//  - the rate's numbers are decimal (xl's strtoull(..., 0) reads "010" as
//    octal), and a rate of 0 is "must be more than 0";
//  - blanks are dropped at both ends of an item (xl drops leading spaces,
//    so "ip=172.16.30.130 ,..." keeps a trailing space in the ip);
//  - the COLO items (colo_*, forwarddev=) are refused, and so is accel=
//    (xl warns that it is not supported and goes on).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hv/result.hpp"

namespace hv::config {

using MacAddress = std::array<uint8_t, 6>;
using Ipv4Address = std::array<uint8_t, 4>;

enum class VifType : uint8_t { unset, vif, ioemu }; // unset: xl's default (ioemu for HVM, vif otherwise)

struct VifSpec {
    std::optional<MacAddress> mac; // unset: generated at create (00:16:3e:xx:xx:xx)
    std::string bridge;
    std::vector<Ipv4Address> ips;
    VifType type = VifType::unset;
    std::string model;      // emulated NIC model (e1000, rtl8139, ...)
    std::string vifname;    // backend interface name
    std::string script;     // hotplug script
    std::string backend;    // backend domain name ("" = dom0)
    std::string gatewaydev; // netdev= or gatewaydev=
    std::string rate;       // as written; "" for no limit
    uint64_t rate_bytes_per_interval = 0; // 0 with rate == ""
    uint32_t rate_interval_usecs = 0;
    std::optional<uint32_t> devid;
    std::optional<uint32_t> mtu;
};

// Parses one spec. Errors are Errc::invalid_argument "'SPEC': 'ITEM': problem".
hv::Result<VifSpec> parse_vif_spec(std::string_view spec);

// xlu_vif_parse_rate's grammar and arithmetic: bytes per interval and the
// interval in microseconds. `problem` names what is wrong when it fails.
bool parse_vif_rate(std::string_view rate, uint64_t& bytes_per_interval, uint32_t& interval_usecs,
                    std::string& problem);

std::string mac_to_string(const MacAddress& mac); // "00:16:3e:6e:db:f4"
// mac='s form (six two-digit hex groups split by ':', either case); false
// for anything else.
bool parse_mac_address(std::string_view text, MacAddress& mac);
std::string ipv4_to_string(const Ipv4Address& ip);
const char* vif_type_name(VifType t);             // "vif", "ioemu", "" for unset

} // namespace hv::config
