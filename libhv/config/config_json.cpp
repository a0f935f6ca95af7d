#include "config/config_json.hpp"

#include "config/cpu_list.hpp"

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace hv::config {

namespace {

// Length of the well-formed UTF-8 sequence starting at s[i], 0 when there is
// none (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF).
size_t utf8_length(std::string_view s, size_t i) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xbf; // allowed range of the second byte
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0; // overlong
        if (c == 0xed) hi = 0x9f; // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90; // overlong
        if (c == 0xf4) hi = 0x8f; // past U+10FFFF
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k) {
        const unsigned char x = byte(i + k);
        if (x < (k == 1 ? lo : 0x80) || x > (k == 1 ? hi : 0xbf)) return 0;
    }
    return n;
}

} // namespace

std::string json_quote(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        const size_t n = utf8_length(text, i);
        if (n == 0) {
            out += "\\ufffd";
            ++i;
            continue;
        }
        if (n > 1) {
            out.append(text, i, n);
            i += n;
            continue;
        }
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            // DEL too: JSON allows it raw, but it garbles terminals.
            if (c < 0x20 || c == 0x7f) out += std::string("\\u00") + hex[c >> 4] + hex[c & 0xf];
            else out += static_cast<char>(c);
        }
        ++i;
    }
    return out + "\"";
}

namespace {

std::string optional_number(const std::optional<uint32_t>& n) { return n ? std::to_string(*n) : std::string("null"); }
std::string optional_bool(const std::optional<bool>& b) { return b ? (*b ? "true" : "false") : "null"; }

// A JSON array of objects, indented as a top-level field's value; each
// object's fields as (key, JSON value) pairs.
using Fields = std::vector<std::pair<std::string_view, std::string>>;

std::string object_array(const std::vector<Fields>& objects) {
    if (objects.empty()) return "[]";
    std::string out = "[\n";
    for (size_t i = 0; i < objects.size(); ++i) {
        out += "    {\n";
        const Fields& fields = objects[i];
        for (size_t k = 0; k < fields.size(); ++k)
            out += "      " + json_quote(fields[k].first) + ": " + fields[k].second +
                   (k + 1 < fields.size() ? ",\n" : "\n");
        out += i + 1 < objects.size() ? "    },\n" : "    }\n";
    }
    return out + "  ]";
}

Fields disk_fields(const DiskSpec& d) {
    return {
        {"target", json_quote(d.target)},
        {"format", json_quote(disk_format_name(d.format))},
        {"vdev", json_quote(d.vdev)},
        {"access", d.read_only ? "\"ro\"" : "\"rw\""},
        {"devtype", json_quote(disk_devtype_name(d.devtype))},
        {"backendtype", json_quote(disk_backend_type_name(d.backendtype))},
        {"backend", json_quote(d.backend)},
        {"script", json_quote(d.script)},
        {"specification", json_quote(disk_specification_name(d.specification))},
        {"direct_io_safe", d.direct_io_safe ? "true" : "false"},
        {"discard", optional_bool(d.discard)},
        {"trusted", optional_bool(d.trusted)},
        {"grant_usage", optional_bool(d.grant_usage)},
        {"legacy_prefix", json_quote(d.legacy_prefix)},
        {"rate", json_quote(d.rate)},
        {"rate_bytes_per_interval", std::to_string(d.rate_bytes_per_interval)},
        {"rate_interval_usecs", std::to_string(d.rate_interval_usecs)},
        {"iops", json_quote(d.iops)},
        {"iops_per_interval", std::to_string(d.iops_per_interval)},
        {"iops_interval_usecs", std::to_string(d.iops_interval_usecs)},
    };
}

Fields vif_fields(const VifSpec& v) {
    std::string ips = "[";
    for (size_t i = 0; i < v.ips.size(); ++i) ips += (i ? ", " : "") + json_quote(ipv4_to_string(v.ips[i]));
    ips += "]";
    return {
        {"mac", v.mac ? json_quote(mac_to_string(*v.mac)) : "null"},
        {"bridge", json_quote(v.bridge)},
        {"ip", ips},
        {"type", json_quote(vif_type_name(v.type))},
        {"model", json_quote(v.model)},
        {"vifname", json_quote(v.vifname)},
        {"script", json_quote(v.script)},
        {"backend", json_quote(v.backend)},
        {"gatewaydev", json_quote(v.gatewaydev)},
        {"rate", json_quote(v.rate)},
        {"rate_bytes_per_interval", std::to_string(v.rate_bytes_per_interval)},
        {"rate_interval_usecs", std::to_string(v.rate_interval_usecs)},
        {"devid", optional_number(v.devid)},
        {"mtu", optional_number(v.mtu)},
    };
}

// cpus / cpus_soft in the form xl.cfg(5) takes: null when none given, one
// CPU list as a string (every vCPU's), one per vCPU as a list of strings.
std::string affinity(const std::vector<uint64_t>& masks) {
    if (masks.empty()) return "null";
    if (masks.size() == 1) return json_quote(format_cpu_list(masks[0]));
    std::string out = "[";
    for (size_t i = 0; i < masks.size(); ++i) out += (i ? ", " : "") + json_quote(format_cpu_list(masks[i]));
    return out + "]";
}

} // namespace

std::string domain_config_to_json(const DomainConfig& c) {
    std::string out = "{\n";
    const auto field = [&](std::string_view key, const std::string& json_value) {
        out += "  " + json_quote(key) + ": " + json_value + ",\n";
    };
    field("name", json_quote(c.name));
    field("uuid", c.uuid ? json_quote(uuid_to_string(*c.uuid)) : "null");
    field("kernel", json_quote(c.kernel));
    field("cmdline", json_quote(c.cmdline));
    field("ramdisk", json_quote(c.ramdisk));
    field("kernel_entry", json_quote(c.kernel_entry == boot::KernelEntry::pvh       ? "pvh"
                                     : c.kernel_entry == boot::KernelEntry::bzimage ? "bzimage"
                                                                                    : "auto"));
    field("memory", std::to_string(c.memory_mib));
    field("maxmem", std::to_string(c.maxmem_mib ? c.maxmem_mib : c.memory_mib));
    field("vcpus", std::to_string(c.vcpus));
    field("maxvcpus", std::to_string(c.maxvcpus ? c.maxvcpus : c.vcpus));
    field("cpus", affinity(c.sched.cpus_hard));
    field("cpus_soft", affinity(c.sched.cpus_soft));
    field("cpu_weight", optional_number(c.sched.weight));
    field("cap", optional_number(c.sched.cap));
    field("io_weight", std::to_string(c.io_weight));
    field("on_poweroff", json_quote(core::action_name(c.actions.on_poweroff)));
    field("on_reboot", json_quote(core::action_name(c.actions.on_reboot)));
    field("on_crash", json_quote(core::action_name(c.actions.on_crash)));
    std::vector<Fields> disks, vifs;
    for (const DiskSpec& d : c.disks) disks.push_back(disk_fields(d));
    for (const VifSpec& v : c.vifs) vifs.push_back(vif_fields(v));
    field("disks", object_array(disks));
    field("vifs", object_array(vifs));
    field("source", json_quote(c.source));
    if (c.unsupported.empty()) {
        out += "  \"unsupported\": []\n}\n";
        return out;
    }
    out += "  \"unsupported\": [\n";
    for (size_t i = 0; i < c.unsupported.size(); ++i) {
        const Unsupported& u = c.unsupported[i];
        out += "    {\n";
        out += "      \"key\": " + json_quote(u.key) + ",\n";
        out += "      \"where\": " + json_quote(u.where) + ",\n";
        out += "      \"why\": " + json_quote(u.why) + "\n";
        out += i + 1 < c.unsupported.size() ? "    },\n" : "    }\n";
    }
    out += "  ]\n}\n";
    return out;
}

} // namespace hv::config
