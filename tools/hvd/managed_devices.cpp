#include "managed_devices.hpp"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "config/guest_disks.hpp"
#include "config/guest_vifs.hpp"
#include "config/spec_writer.hpp"
#include "config/xl_cfg_parser.hpp"
#include "control/monitor_backend.hpp"

namespace hvd {

using hv::Errc;
using hv::make_error;
using hv::config::DiskSpec;
using hv::config::VifSpec;
using hv::sdk::CreateRequest;
using hv::sdk::DeviceKind;

namespace {

// The definition as a create reads it.
hv::Result<hv::config::DomainConfig> typed(const CreateRequest& def) {
    if (def.spec) return make_error(Errc::invalid_argument, "it was defined from a typed DomainSpec, which lists no disks or vifs");
    auto cfg = hv::control::config_of(def);
    if (!cfg) return make_error(cfg.error().code, "it does not read: " + cfg.error().message);
    return cfg;
}

bool is_decimal(std::string_view s) {
    return !s.empty() && s.size() <= 10 && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Whether an override sets `key` and nothing else.
bool sets_only(const std::string& override_text, std::string_view key) {
    auto cfg = hv::config::parse_xl_cfg(override_text, "override", hv::config::XlCfgOptions{.bare_words = true});
    return cfg && cfg->settings.size() == 1 && cfg->settings.front().key == key;
}

// Every vif with the devid its position gave it written out, before the
// list changes shape (positions are what the next start would number by).
void pin_devids(std::vector<VifSpec>& vifs) {
    for (size_t i = 0; i < vifs.size(); ++i) vifs[i].devid = hv::config::vif_devid(vifs[i], i);
}

// Relative targets as a create resolves them: against the config file's folder.
void absolute_targets(std::vector<DiskSpec>& disks, const std::string& source) {
    const auto folder = std::filesystem::path(source).parent_path();
    if (folder.empty()) return;
    for (DiskSpec& d : disks)
        if (!d.target.empty() && std::filesystem::path(d.target).is_relative())
            d.target = (folder / d.target).lexically_normal().string();
}

// `def` with its `key` list restated as `specs`, checked to read back as
// a list of that many.
hv::Result<CreateRequest> restated(const CreateRequest& def, std::string_view key, const std::vector<std::string>& specs) {
    CreateRequest out = def;
    out.overrides.clear();
    for (const std::string& o : def.overrides)
        if (!sets_only(o, key)) out.overrides.push_back(o);
    std::string line = std::string(key) + " = [";
    for (size_t i = 0; i < specs.size(); ++i) line += (i == 0 ? "" : ", ") + hv::config::cfg_quote(specs[i]);
    line += "]";
    out.overrides.push_back(std::move(line));
    auto back = hv::control::config_of(out);
    const size_t n = !back ? 0 : key == "disk" ? back->disks.size() : back->vifs.size();
    if (!back || n != specs.size())
        return make_error(Errc::invalid_argument, fmt::format("the changed {} list does not read back{}", key,
                                                              back ? "" : ": " + back.error().message));
    return out;
}

hv::Result<CreateRequest> restate_disks(const CreateRequest& def, std::vector<DiskSpec> disks) {
    absolute_targets(disks, def.source);
    std::vector<std::string> specs;
    for (const DiskSpec& d : disks) specs.push_back(hv::config::disk_spec_text(d));
    return restated(def, "disk", specs);
}

hv::Result<CreateRequest> restate_vifs(const CreateRequest& def, const std::vector<VifSpec>& vifs) {
    std::vector<std::string> specs;
    for (const VifSpec& v : vifs) specs.push_back(hv::config::vif_spec_text(v));
    return restated(def, "vif", specs);
}

// The disk `device` names: its vdev, or Xen's number for one.
bool names_disk(const DiskSpec& d, std::string_view device) {
    if (d.vdev == device) return true;
    const auto vdev = hv::config::parse_vdev(d.vdev);
    return is_decimal(device) && vdev && std::to_string(hv::config::xen_devid(*vdev)) == device;
}

} // namespace

hv::Result<CreateRequest> definition_with_device(const CreateRequest& def, DeviceKind kind, std::string_view spec,
                                                 uint32_t devid) {
    auto cfg = typed(def);
    if (!cfg) return cfg.error();
    if (kind == DeviceKind::disk) {
        auto disk = hv::config::parse_disk_spec(spec);
        if (!disk) return make_error(disk.error().code, "disk " + disk.error().message);
        auto same = std::find_if(cfg->disks.begin(), cfg->disks.end(), [&](const DiskSpec& d) { return d.vdev == disk->vdev; });
        if (same != cfg->disks.end()) *same = std::move(*disk);
        else cfg->disks.push_back(std::move(*disk));
        return restate_disks(def, std::move(cfg->disks));
    }
    auto vif = hv::config::parse_vif_spec(spec);
    if (!vif) return make_error(vif.error().code, "vif " + vif.error().message);
    vif->devid = devid;
    pin_devids(cfg->vifs);
    auto same = std::find_if(cfg->vifs.begin(), cfg->vifs.end(), [&](const VifSpec& v) { return v.devid == devid; });
    if (same != cfg->vifs.end()) *same = std::move(*vif);
    else cfg->vifs.push_back(std::move(*vif));
    return restate_vifs(def, cfg->vifs);
}

hv::Result<CreateRequest> definition_without_device(const CreateRequest& def, DeviceKind kind, std::string_view device) {
    auto cfg = typed(def);
    if (!cfg) return cfg.error();
    if (kind == DeviceKind::disk) {
        auto it = std::find_if(cfg->disks.begin(), cfg->disks.end(), [&](const DiskSpec& d) { return names_disk(d, device); });
        if (it == cfg->disks.end())
            return make_error(Errc::not_found, fmt::format("it has no disk with vdev or devid '{}'", device));
        cfg->disks.erase(it);
        return restate_disks(def, std::move(cfg->disks));
    }
    hv::config::MacAddress mac{};
    const bool by_mac = hv::config::parse_mac_address(device, mac);
    if (!by_mac && !is_decimal(device))
        return make_error(Errc::invalid_argument, fmt::format("'{}' is neither a devid nor a MAC address", device));
    pin_devids(cfg->vifs);
    auto it = std::find_if(cfg->vifs.begin(), cfg->vifs.end(), [&](const VifSpec& v) {
        return by_mac ? v.mac == mac : std::to_string(*v.devid) == device;
    });
    if (it == cfg->vifs.end())
        return make_error(Errc::not_found, by_mac ? fmt::format("it has no vif with mac={}", hv::config::mac_to_string(mac))
                                                  : fmt::format("it has no vif with devid {}", device));
    cfg->vifs.erase(it);
    return restate_vifs(def, cfg->vifs);
}

} // namespace hvd
