// Monitor's device calls: a config's disks and vifs made real at create,
// the devices attached to and detached from running domains (xl
// block-attach, network-attach, and the detaches), the lists and limits.
// A domain's config (Entry::config) follows its attaches and detaches, so
// a restart brings back what it had (libxl's semantics).
#include <sys/stat.h>

#include <algorithm>

#include <fmt/format.h>

#include "config/guest_disks.hpp"
#include "config/guest_vifs.hpp"
#include "devices/block/open_disk.hpp"
#include "monitor/monitor.hpp"

namespace hv {

namespace {

// Every vif's devid written out, so removing one from the list does not
// renumber the ones after it (an unset devid is the vif's index).
void pin_vif_devids(config::DomainConfig& cfg) {
    for (size_t i = 0; i < cfg.vifs.size(); ++i) cfg.vifs[i].devid = config::vif_devid(cfg.vifs[i], i);
}

uint32_t disk_devid(const config::DiskSpec& d) {
    const auto vdev = config::parse_vdev(d.vdev); // checked by check_creatable
    return vdev ? config::xen_devid(*vdev) : 0;
}

} // namespace

Result<DiskDevice> Monitor::make_disk(const config::DomainConfig& cfg, size_t index) {
    const config::DiskSpec& d = cfg.disks[index];
    auto file = dev::open_disk(d.target, d.format, d.read_only);
    if (!file)
        return make_error(file.error().code, fmt::format("domain '{}': disk {} ({}): {}", cfg.name, index + 1, d.vdev, file.error().message));
    const dev::VirtioBlk::Limits limits{d.rate_bytes_per_interval, d.rate_interval_usecs, d.iops_per_interval, d.iops_interval_usecs};
    // Which device's share the disk takes (io_weight). Looked up by path
    // after the open: a rename meanwhile only picks another table.
    std::optional<uint64_t> device;
    if (struct stat st {}; ::stat(d.target.c_str(), &st) == 0) device = dev::IoShare::device_of(st);
    return DiskDevice{std::move(*file), d.vdev, disk_devid(d), config::guest_disk_name(index), limits, device};
}

// config/guest_vifs.hpp says how a vif is named and placed.
Result<VifDevice> Monitor::make_vif(const config::DomainConfig& cfg, size_t index, const config::Uuid& uuid, uint32_t domid) {
    const config::VifSpec& v = cfg.vifs[index];
    VifDevice vif;
    vif.devid = config::vif_devid(v, index);
    vif.bridge = config::vif_bridge(v);
    const bool routed = config::vif_script(v) == config::VifScript::route;
    vif.script = routed ? "vif-route" : "vif-bridge";
    vif.ips = v.ips;
    const auto fail = [&](const Error& e) {
        return make_error(e.code, fmt::format("domain '{}': vif {} (devid {}): {}", cfg.name, index + 1, vif.devid, e.message));
    };
    auto tap = dev::TapDevice::create({config::vif_tap_name(v, domid, vif.devid), vif.bridge, v.mtu});
    if (!tap) return fail(tap.error());
    if (routed)
        if (auto r = (*tap)->route(config::vif_gatewaydev(v), v.ips); !r) return fail(r.error());
    vif.tap = std::move(*tap);
    vif.options.mac = config::vif_mac(v, uuid, vif.devid);
    vif.options.mtu = v.mtu.value_or(0);
    vif.options.rate_bytes = v.rate_bytes_per_interval;
    vif.options.rate_interval_us = v.rate_interval_usecs;
    return vif;
}

Result<std::vector<VifDevice>> Monitor::make_vifs(const config::DomainConfig& cfg, const config::Uuid& uuid, uint32_t domid) {
    std::vector<VifDevice> vifs;
    for (size_t i = 0; i < cfg.vifs.size(); ++i) {
        auto vif = make_vif(cfg, i, uuid, domid);
        if (!vif) return vif.error();
        vifs.push_back(std::move(*vif));
    }
    return vifs;
}

// Without the monitor's lock: opening a file or making a TAP takes time,
// and putting the device on the bus waits for vCPUs inside the bus (one of
// which may be in a console listener that calls the monitor).
Result<uint32_t> Monitor::attach_device(uint32_t domid, sdk::DeviceKind kind, std::string_view spec) {
    std::lock_guard one(hotplug_mu_); // a device is checked against the config, then added to it
    std::shared_ptr<Domain> dom;
    config::DomainConfig next;
    {
        std::lock_guard lock(mu_);
        const auto it = domains_.find(domid);
        if (it == domains_.end()) return make_error(Errc::not_found, fmt::format("no domain {}", domid));
        dom = it->second.domain;
        next = it->second.config;
    }
    if (dom->on_vcpu_thread())
        return make_error(Errc::busy, fmt::format("domain {}: devices are not attached from its own vCPU or I/O thread", domid));
    if (!dom->pc_machine())
        return make_error(Errc::not_supported, fmt::format("domain {}: hotplug needs hv's PC machine (a stock kernel)", domid));
    const core::DomainState state = dom->state();
    if (state == core::DomainState::shutdown || state == core::DomainState::crashed || state == core::DomainState::dying)
        return make_error(Errc::busy, fmt::format("domain {} has stopped: nothing to attach to", domid));
    // The device is checked as part of the domain's config, by create's
    // rules: its spec, the counts, a vdev or mac the domain has already.
    pin_vif_devids(next);
    uint32_t devid = 0;
    if (kind == sdk::DeviceKind::disk) {
        auto d = config::parse_disk_spec(spec);
        if (!d) return d.error();
        next.disks.push_back(std::move(*d));
        if (auto r = config::check_creatable(next); !r) return r.error();
        auto disk = make_disk(next, next.disks.size() - 1);
        if (!disk) return disk.error();
        disk->guest_name.clear(); // the domain gives it the guest's next free name
        devid = disk->devid;
        if (auto r = dom->attach_disk(std::move(*disk)); !r) return r.error();
    } else {
        config::VifSpec v;
        if (!spec.empty()) {
            auto parsed = config::parse_vif_spec(spec);
            if (!parsed) return parsed.error();
            v = std::move(*parsed);
        }
        // A new devid is one past the highest, as libxl picks it: never
        // one of a vif the domain has (its TAP is named after it).
        if (!v.devid) {
            uint32_t next_devid = 0;
            for (const config::VifSpec& o : next.vifs) next_devid = std::max(next_devid, *o.devid + 1);
            v.devid = next_devid;
        }
        next.vifs.push_back(std::move(v));
        if (auto r = config::check_creatable(next); !r) return r.error();
        auto vif = make_vif(next, next.vifs.size() - 1, dom->uuid_bytes(), domid);
        if (!vif) return vif.error();
        devid = vif->devid;
        if (auto r = dom->attach_vif(std::move(*vif)); !r) return r.error();
    }
    // The domain's config gets the device (a restart brings it back); the
    // rest of the config is as it is now (a rename may have come).
    std::lock_guard lock(mu_);
    const auto it = domains_.find(domid);
    if (it != domains_.end() && it->second.domain == dom) {
        config::DomainConfig& cfg = it->second.config;
        if (kind == sdk::DeviceKind::disk) {
            cfg.disks.push_back(next.disks.back());
        } else {
            pin_vif_devids(cfg);
            cfg.vifs.push_back(next.vifs.back());
        }
    }
    return devid;
}

// The config follows in forget_device(), however the device went.
Result<void> Monitor::detach_device(uint32_t domid, sdk::DeviceKind kind, std::string_view device, bool force,
                                    std::chrono::milliseconds timeout) {
    auto d = domain_of(domid);
    if (!d) return d.error();
    if ((*d)->on_vcpu_thread())
        return make_error(Errc::busy, fmt::format("domain {}: devices are not detached from its own vCPU or I/O thread", domid));
    auto devid = (*d)->detach(kind == sdk::DeviceKind::disk ? Domain::DeviceKind::disk : Domain::DeviceKind::vif, device, force, timeout);
    if (!devid) return devid.error();
    return {};
}

void Monitor::forget_device(uint32_t domid, const Domain* domain, Domain::DeviceKind kind, uint32_t devid) {
    std::lock_guard lock(mu_);
    const auto it = domains_.find(domid);
    if (it == domains_.end() || it->second.domain.get() != domain) return;
    config::DomainConfig& cfg = it->second.config;
    if (kind == Domain::DeviceKind::disk) {
        std::erase_if(cfg.disks, [&](const config::DiskSpec& s) { return disk_devid(s) == devid; });
    } else {
        pin_vif_devids(cfg);
        std::erase_if(cfg.vifs, [&](const config::VifSpec& s) { return s.devid == devid; });
    }
}

Result<void> Monitor::set_disk_limits(uint32_t domid, uint32_t devid, const sdk::DiskLimits& l) {
    auto d = domain_of(domid);
    if (!d) return d.error();
    return (*d)->set_disk_limits(devid, dev::VirtioBlk::Limits{l.rate_bytes, l.rate_interval_us, l.iops, l.iops_interval_us});
}

Result<std::vector<sdk::BlockInfo>> Monitor::block_list(uint32_t domid) const {
    auto d = domain_of(domid);
    if (!d) return d.error();
    return (*d)->block_list();
}

Result<std::vector<sdk::VifInfo>> Monitor::network_list(uint32_t domid) const {
    auto d = domain_of(domid);
    if (!d) return d.error();
    return (*d)->network_list();
}

Result<void> Monitor::set_vif_rate(uint32_t domid, uint32_t devid, uint64_t bytes, uint32_t interval_us) {
    auto d = domain_of(domid);
    if (!d) return d.error();
    return (*d)->set_vif_rate(devid, bytes, interval_us);
}

} // namespace hv
