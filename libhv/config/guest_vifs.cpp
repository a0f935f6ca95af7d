#include "config/guest_vifs.hpp"

#include <fmt/format.h>

namespace hv::config {

std::string_view vif_script_name(const std::string& script) {
    const size_t slash = script.rfind('/');
    return slash == std::string::npos ? std::string_view(script) : std::string_view(script).substr(slash + 1);
}

uint32_t vif_devid(const VifSpec& v, size_t index) { return v.devid.value_or(static_cast<uint32_t>(index)); }

// FNV-1a over the UUID and the devid: spread, and the same for the same
// domain every time.
MacAddress vif_mac(const VifSpec& v, const Uuid& domain_uuid, uint32_t devid) {
    if (v.mac) return *v.mac;
    uint64_t h = 0xcbf29ce484222325ull;
    const auto mix = [&h](uint8_t b) {
        h ^= b;
        h *= 0x100000001b3ull;
    };
    for (uint8_t b : domain_uuid) mix(b);
    for (int i = 0; i < 4; ++i) mix(static_cast<uint8_t>(devid >> (8 * i)));
    return MacAddress{0x00, 0x16, 0x3e, static_cast<uint8_t>(h >> 16), static_cast<uint8_t>(h >> 8), static_cast<uint8_t>(h)};
}

std::string vif_tap_name(const VifSpec& v, uint32_t domid, uint32_t devid) {
    return v.vifname.empty() ? fmt::format("vif{}.{}", domid, devid) : v.vifname;
}

VifScript vif_script(const VifSpec& v) { return vif_script_name(v.script) == "vif-route" ? VifScript::route : VifScript::bridge; }

std::string vif_bridge(const VifSpec& v) {
    if (vif_script(v) == VifScript::route) return "";
    return v.bridge.empty() ? "xenbr0" : v.bridge;
}

std::string vif_gatewaydev(const VifSpec& v) { return v.gatewaydev.empty() ? "eth0" : v.gatewaydev; }

} // namespace hv::config
