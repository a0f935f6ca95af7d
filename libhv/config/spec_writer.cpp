#include "config/spec_writer.hpp"

namespace hv::config {

namespace {

void item(std::string& out, std::string_view key, std::string_view value) {
    out += key;
    out += '=';
    out += value;
    out += ", ";
}

void flag(std::string& out, std::string_view name) {
    out += name;
    out += ", ";
}

} // namespace

std::string disk_spec_text(const DiskSpec& d) {
    std::string out;
    item(out, "format", disk_format_name(d.format));
    item(out, "vdev", d.vdev);
    item(out, "access", d.read_only ? "ro" : "rw");
    if (d.devtype == DiskDevtype::cdrom) item(out, "devtype", "cdrom");
    if (d.backendtype != DiskBackendType::unset) item(out, "backendtype", disk_backend_type_name(d.backendtype));
    if (!d.backend.empty()) item(out, "backend", d.backend);
    if (!d.script.empty()) item(out, "script", d.script);
    if (d.specification != DiskSpecification::unset) item(out, "specification", disk_specification_name(d.specification));
    if (d.direct_io_safe) flag(out, "direct-io-safe");
    if (d.discard) flag(out, *d.discard ? "discard" : "no-discard");
    if (d.trusted) flag(out, *d.trusted ? "trusted" : "untrusted");
    if (d.grant_usage) item(out, "grant_usage", *d.grant_usage ? "1" : "0");
    if (!d.rate.empty()) item(out, "rate", d.rate);
    if (!d.iops.empty()) item(out, "iops", d.iops);
    // target= takes the rest of the spec less one trailing comma: a target
    // that ends in ',' gets one more, which the reader drops.
    out += "target=";
    out += d.target;
    if (!d.target.empty() && d.target.back() == ',') out += ',';
    return out;
}

std::string vif_spec_text(const VifSpec& v) {
    std::string out;
    if (v.mac) item(out, "mac", mac_to_string(*v.mac));
    if (!v.bridge.empty()) item(out, "bridge", v.bridge);
    if (!v.ips.empty()) {
        std::string ips;
        for (const Ipv4Address& ip : v.ips) ips += (ips.empty() ? "" : " ") + ipv4_to_string(ip);
        item(out, "ip", ips);
    }
    if (v.type != VifType::unset) item(out, "type", vif_type_name(v.type));
    if (!v.model.empty()) item(out, "model", v.model);
    if (!v.vifname.empty()) item(out, "vifname", v.vifname);
    if (!v.script.empty()) item(out, "script", v.script);
    if (!v.backend.empty()) item(out, "backend", v.backend);
    if (!v.gatewaydev.empty()) item(out, "gatewaydev", v.gatewaydev);
    if (!v.rate.empty()) item(out, "rate", v.rate);
    if (v.devid) item(out, "devid", std::to_string(*v.devid));
    if (v.mtu) item(out, "mtu", std::to_string(*v.mtu));
    if (!out.empty()) out.resize(out.size() - 2); // the last ", "
    return out;
}

std::string cfg_quote(std::string_view s) {
    std::string out = "'";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\'' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        } else {
            out += c;
        }
    }
    out += '\'';
    return out;
}

} // namespace hv::config
