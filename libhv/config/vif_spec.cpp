// xl-network-configuration(5) specs: the keys of xl's parse_nic_config,
// each checked here rather than when a device is made.
#include "config/vif_spec.hpp"

#include <algorithm>
#include <utility>

#include "config/interface_name.hpp"
#include "config/spec_text.hpp"

namespace hv::config {

namespace {


bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decimal digits only, at most `max`; false otherwise.
bool parse_decimal(std::string_view text, uint64_t max, uint64_t& out) {
    if (text.empty()) return false;
    uint64_t value = 0;
    for (char c : text) {
        if (!is_digit(c)) return false;
        const auto d = static_cast<uint64_t>(c - '0');
        if (value > (max - d) / 10) return false;
        value = value * 10 + d;
    }
    out = value;
    return true;
}

bool parse_mac(std::string_view text, MacAddress& mac) {
    if (text.size() != 17) return false;
    for (size_t i = 0; i < 6; ++i) {
        const int hi = hex_digit(text[i * 3]), lo = hex_digit(text[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':')) return false;
        mac[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    return true;
}

bool parse_ipv4(std::string_view text, Ipv4Address& ip) {
    for (size_t part = 0; part < 4; ++part) {
        const size_t dot = part < 3 ? text.find('.') : text.size();
        if (dot == std::string_view::npos) return false;
        const std::string_view digits = text.substr(0, dot);
        uint64_t value = 0;
        if (digits.size() > 1 && digits[0] == '0') return false; // 010: octal to inet_aton, decimal to others
        if (!parse_decimal(digits, 255, value)) return false;
        ip[part] = static_cast<uint8_t>(value);
        text.remove_prefix(part < 3 ? dot + 1 : dot);
    }
    return true;
}

// The digits at the start of `text` as a decimal number (no leading zero),
// with the rest left in `text`. Sets `problem` when they are not usable.
bool leading_number(std::string_view& text, std::string_view what, uint64_t& value, std::string& problem) {
    size_t n = 0;
    while (n < text.size() && is_digit(text[n])) ++n;
    if (n > 1 && text[0] == '0') {
        problem = std::string(what) + " has a leading zero (xl would read it as octal)";
        return false;
    }
    if (!parse_decimal(text.substr(0, n), UINT32_MAX, value)) {
        problem = std::string(what) + " is larger than 4294967295";
        return false;
    }
    if (value == 0) {
        problem = std::string(what) + " must be more than 0";
        return false;
    }
    text.remove_prefix(n);
    return true;
}

} // namespace

bool parse_vif_rate(std::string_view rate, uint64_t& bytes_per_interval, uint32_t& interval_usecs,
                    std::string& problem) {
    const size_t at = rate.find('@');
    std::string_view amount = rate.substr(0, at);
    if (amount.empty()) {
        problem = "no rate before '@'";
        return false;
    }

    // ^[0-9]+[GMK]?[Bb]/s$
    const auto starts_digit = [](std::string_view s) { return !s.empty() && is_digit(s[0]); };
    const std::string_view rate_form = " (a number, then B/s or b/s, optionally K, M or G before it: 10Mb/s)";
    if (!starts_digit(amount)) {
        problem = "bad rate '" + std::string(amount) + "'" + std::string(rate_form);
        return false;
    }
    uint64_t bytes_per_sec = 0;
    if (!leading_number(amount, "the rate", bytes_per_sec, problem)) return false;
    uint64_t scale = 1;
    if (!amount.empty() && (amount[0] == 'G' || amount[0] == 'M' || amount[0] == 'K')) {
        scale = amount[0] == 'G' ? 1000000000 : amount[0] == 'M' ? 1000000 : 1000;
        amount.remove_prefix(1);
    }
    if (amount != "B/s" && amount != "b/s") {
        problem = "bad rate '" + std::string(rate.substr(0, at)) + "'" + std::string(rate_form);
        return false;
    }
    bytes_per_sec *= scale;
    if (amount[0] == 'b') bytes_per_sec /= 8;

    // ^[0-9]+[mu]?s?$ ; no unit means seconds
    uint64_t usecs = 50000;
    if (at != std::string_view::npos) {
        std::string_view interval = rate.substr(at + 1);
        const std::string_view interval_form = " (a number, then s, ms or us: 20ms)";
        if (!starts_digit(interval)) {
            problem = "bad interval '" + std::string(interval) + "'" + std::string(interval_form);
            return false;
        }
        if (!leading_number(interval, "the interval", usecs, problem)) return false;
        uint64_t unit = 1000000;
        if (!interval.empty() && (interval[0] == 'm' || interval[0] == 'u')) {
            unit = interval[0] == 'm' ? 1000 : 1;
            interval.remove_prefix(1);
        }
        if (!interval.empty() && interval != "s") {
            problem = "bad interval '" + std::string(rate.substr(at + 1)) + "'" + std::string(interval_form);
            return false;
        }
        usecs *= unit;
        if (usecs > UINT32_MAX) {
            problem = "the interval is longer than 4294967295us";
            return false;
        }
    }
    if (bytes_per_sec > UINT64_MAX / usecs) {
        problem = "rate times interval does not fit 64 bits";
        return false;
    }
    bytes_per_interval = bytes_per_sec * usecs / 1000000;
    interval_usecs = static_cast<uint32_t>(usecs);
    return true;
}

bool parse_mac_address(std::string_view text, MacAddress& mac) { return parse_mac(text, mac); }

std::string mac_to_string(const MacAddress& mac) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < mac.size(); ++i) {
        if (i) s += ':';
        s += hex[mac[i] >> 4];
        s += hex[mac[i] & 0xf];
    }
    return s;
}

std::string ipv4_to_string(const Ipv4Address& ip) {
    return std::to_string(ip[0]) + "." + std::to_string(ip[1]) + "." + std::to_string(ip[2]) + "." +
           std::to_string(ip[3]);
}

const char* vif_type_name(VifType t) {
    switch (t) {
    case VifType::vif: return "vif";
    case VifType::ioemu: return "ioemu";
    case VifType::unset: break;
    }
    return "";
}

hv::Result<VifSpec> parse_vif_spec(std::string_view spec) {
    VifSpec vif;
    std::vector<std::string> seen; // keys given so far (netdev counts as gatewaydev)
    const auto fail = [&](std::string_view item, const std::string& problem) {
        return hv::make_error(Errc::invalid_argument,
                              "'" + std::string(spec) + "': '" + std::string(item) + "': " + problem);
    };

    size_t pos = 0;
    while (pos <= spec.size()) {
        const size_t comma = std::min(spec.find(',', pos), spec.size());
        const std::string_view item = trim_blanks(spec.substr(pos, comma - pos));
        pos = comma + 1;
        if (item.empty()) continue; // "a,,b" and a trailing comma, as xl's strtok

        const size_t eq = item.find('=');
        if (eq == std::string_view::npos) return fail(item, "not KEY=VALUE");
        const std::string_view key = trim_blanks(item.substr(0, eq));
        const std::string_view value = trim_blanks(item.substr(eq + 1));
        const std::string slot = key == "netdev" ? "gatewaydev" : std::string(key);
        for (const std::string& s : seen)
            if (s == slot) return fail(item, slot + " given twice");
        seen.push_back(slot);

        if (key == "mac") {
            MacAddress mac{};
            if (!parse_mac(value, mac)) return fail(item, "not a MAC address (six hex pairs: 00:16:3e:xx:xx:xx)");
            if (mac[0] & 1) return fail(item, "a multicast MAC address (the first byte is odd)");
            vif.mac = mac;
        } else if (key == "ip") {
            size_t at = 0;
            while (at < value.size()) {
                const size_t end = std::min(value.find_first_of(" \t", at), value.size());
                const std::string_view one = value.substr(at, end - at);
                at = end + 1;
                if (one.empty()) continue;
                Ipv4Address ip{};
                if (!parse_ipv4(one, ip))
                    return fail(item, "'" + std::string(one) + "' is not an IPv4 address (dotted quad: 10.0.0.2)");
                vif.ips.push_back(ip);
            }
        } else if (key == "type") {
            if (value == "vif") vif.type = VifType::vif;
            else if (value == "ioemu") vif.type = VifType::ioemu;
            else return fail(item, "unknown type (vif, ioemu)");
        } else if (key == "rate") {
            std::string problem;
            if (!parse_vif_rate(value, vif.rate_bytes_per_interval, vif.rate_interval_usecs, problem))
                return fail(item, problem);
            vif.rate = std::string(value);
        } else if (key == "devid" || key == "mtu") {
            uint64_t n = 0;
            if (!parse_decimal(value, INT32_MAX, n))
                return fail(item, "not a decimal number up to 2147483647");
            (key == "devid" ? vif.devid : vif.mtu) = static_cast<uint32_t>(n);
        } else if (key == "bridge") {
            if (auto ok = value.empty() ? Result<void>{} : check_interface_name(value, "bridge"); !ok)
                return fail(item, ok.error().message);
            vif.bridge = std::string(value);
        } else if (key == "model") {
            vif.model = std::string(value);
        } else if (key == "vifname") {
            if (auto ok = value.empty() ? Result<void>{} : check_interface_name(value, "vifname"); !ok)
                return fail(item, ok.error().message);
            vif.vifname = std::string(value);
        } else if (key == "script") {
            vif.script = std::string(value);
        } else if (key == "backend") {
            vif.backend = std::string(value);
        } else if (key == "gatewaydev" || key == "netdev") {
            if (auto ok = value.empty() ? Result<void>{} : check_interface_name(value, "gatewaydev"); !ok)
                return fail(item, ok.error().message);
            vif.gatewaydev = std::string(value);
        } else if (key.substr(0, 5) == "colo_" || key == "forwarddev") {
            return fail(item, "COLO network replication is not supported");
        } else {
            return fail(item, "unknown key (mac, bridge, ip, type, model, vifname, script, backend, gatewaydev, "
                              "netdev, rate, devid, mtu)");
        }
    }
    return vif;
}

} // namespace hv::config
