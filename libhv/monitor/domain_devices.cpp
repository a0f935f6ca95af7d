// Domain's PCI devices: the virtio functions a PC guest gets at create
// (disks, vifs, the PV console) and those plugged and unplugged while it
// runs (ACPI PCI hotplug, devices/pci/pci_hotplug.hpp), and what the
// control plane asks of them (block-list, network-list, limits).
#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "config/guest_disks.hpp"
#include "config/vif_spec.hpp"
#include "core/memory_map.hpp"
#include "devices/virtio/virtio_console.hpp"
#include "monitor/domain.hpp"

namespace hv {

namespace {

std::optional<uint32_t> decimal(std::string_view s) {
    uint32_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

bool same_text_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y)); });
}

} // namespace

// Each slot has its own BAR0 address, as firmware would place it: the
// devices present at create sit in slots 1.. in order, and a hot-plugged
// one's BAR cannot land on a neighbour's (the guest may move it anyway).
Result<dev::VirtioPci*> Domain::plug(std::unique_ptr<core::virtio::VirtioDevice> device, std::string name, std::vector<int> fds,
                                     int quiet_fd, uint32_t& slot) {
    auto free = pci_host_->free_slot(hotplug_->unannounced_removals());
    if (!free) return free.error();
    slot = *free;
    const uint64_t bar = core::kPciMmioBase + uint64_t{slot - 1} * core::virtio::kBarSize;
    if (bar + core::virtio::kBarSize > core::kPciMmioBase + core::kPciMmioSize)
        return make_error(Errc::invalid_argument, "too many devices for the PCI window");
    auto fn = dev::VirtioPci::create(std::move(device), *vm_, bar, std::move(name), log_);
    if (!fn) return fn.error();
    dev::VirtioPci* pci = fn->get();
    const auto undo = [&](const Error& e) {
        pci->unserve(io_loop_);
        for (int fd : fds) io_loop_.unwatch(fd);
        return e;
    };
    if (auto r = pci->serve_on(io_loop_); !r) return undo(r.error());
    for (int fd : fds) {
        if (auto r = io_loop_.watch(fd, [pci] { pci->poll(); }); !r) return undo(r.error());
        if (fd == quiet_fd)
            if (auto r = io_loop_.enable(fd, false); !r) return undo(r.error());
    }
    {
        std::lock_guard lock(dev_mu_);
        functions_.push_back(Function{std::move(*fn), slot, next_serial_++, std::move(fds)});
    }
    if (auto r = pci_host_->add_at(slot, pci); !r) {
        std::unique_ptr<dev::VirtioPci> owned;
        {
            std::lock_guard lock(dev_mu_);
            owned = std::move(functions_.back().pci);
            functions_.pop_back();
        }
        return undo(r.error());
    }
    return pci;
}

std::shared_ptr<dev::IoShare> Domain::share_for(const DiskDevice& disk) {
    if (spec_.io_share_dir.empty() || !disk.backing_device) return nullptr;
    std::lock_guard lock(dev_mu_);
    std::erase_if(shares_, [](const auto& kv) { return kv.second.expired(); }); // devices whose disks all went
    std::weak_ptr<dev::IoShare>& known = shares_[*disk.backing_device];
    if (auto share = known.lock()) return share;
    auto joined = dev::IoShare::join(spec_.io_share_dir, *disk.backing_device, spec_.io_weight);
    if (!joined) {
        log_->warn("domain {} disk {}: io_weight not applied: {}", spec_.domid, disk.vdev, joined.error().message);
        return nullptr;
    }
    std::shared_ptr<dev::IoShare> share = std::move(*joined);
    known = share;
    return share;
}

Result<void> Domain::add_disk(DiskDevice disk, bool announce) {
    std::shared_ptr<dev::IoShare> share = share_for(disk);
    auto blk = std::make_unique<dev::VirtioBlk>(std::move(disk.backend), vm_->ram(), disk.vdev, log_, devices_stop_);
    if (blk->timer_fd() < 0) return make_error(Errc::io_error, fmt::format("disk {}: timerfd_create failed", disk.vdev));
    blk->set_limits(disk.limits);
    blk->set_share(std::move(share));
    dev::VirtioBlk* model = blk.get();
    // The limits' timer is watched even without limits: they may be set
    // while the domain runs.
    uint32_t slot = 0;
    auto fn = plug(std::move(blk), fmt::format("domain {} disk {}", spec_.domid, disk.vdev), {model->timer_fd()}, -1, slot);
    if (!fn) return fn.error();
    {
        std::lock_guard lock(dev_mu_);
        disks_.push_back(Disk{*fn, model, disk.vdev, disk.guest_name, disk.devid, slot});
    }
    hotplug_->plug(slot, true, announce);
    return {};
}

Result<void> Domain::add_vif(VifDevice vif, bool announce) {
    const std::string name = fmt::format("domain {} vif {}", spec_.domid, vif.tap->name());
    const int tap_fd = vif.tap->fd();
    auto net = dev::VirtioNet::create(std::move(vif.tap), vm_->ram(), vif.options, name, log_, devices_stop_);
    if (!net) return net.error();
    dev::VirtioNet* model = net->get();
    // The TAP is watched only while the guest can take its frames (the
    // device says when), so a full receive queue does not spin the loop;
    // not at first: the driver has given no buffers yet.
    model->on_rx_watch([this, tap_fd](bool on) { (void)io_loop_.enable(tap_fd, on); });
    uint32_t slot = 0;
    auto fn = plug(std::move(*net), name, {tap_fd, model->timer_fd()}, tap_fd, slot);
    if (!fn) return fn.error();
    {
        std::lock_guard lock(dev_mu_);
        vifs_.push_back(Vif{*fn, model, vif.devid, vif.bridge, vif.script, vif.ips, slot});
    }
    hotplug_->plug(slot, true, announce);
    return {};
}

// At create: the disks in config order (slots 1..: the guest names them
// vda, vdb, ... in that order), the vifs, then the console. Disks and vifs
// are removable (block-detach, network-detach); the console is not.
Result<void> Domain::add_pci_devices() {
    for (DiskDevice& disk : spec_.disks)
        if (auto r = add_disk(std::move(disk), false); !r) return r.error();
    spec_.disks.clear(); // the devices own the backends now
    for (VifDevice& vif : spec_.vifs)
        if (auto r = add_vif(std::move(vif), false); !r) return r.error();
    spec_.vifs.clear();
    uint32_t slot = 0;
    auto con = plug(std::make_unique<dev::VirtioConsole>(pv_console_, vm_->ram()), fmt::format("domain {} console", spec_.domid), {},
                    -1, slot);
    if (!con) return con.error();
    hotplug_->plug(slot, false, false);
    pv_console_device_ = *con;
    return {};
}

Result<void> Domain::attach_disk(DiskDevice disk) {
    if (!pc_) return make_error(Errc::not_supported, fmt::format("domain {}: hotplug needs hv's PC machine", spec_.domid));
    std::lock_guard one(hotplug_mu_);
    {
        std::lock_guard lock(dev_mu_);
        for (const Disk& d : disks_)
            if (d.vdev == disk.vdev || d.devid == disk.devid)
                return make_error(Errc::exists, fmt::format("domain {}: it has a disk {} already", spec_.domid, d.vdev));
        // Linux names a new virtio disk with the first free letter.
        for (size_t i = 0; disk.guest_name.empty(); ++i) {
            std::string n = config::guest_disk_name(i);
            if (std::none_of(disks_.begin(), disks_.end(), [&](const Disk& d) { return d.guest_name == n; })) disk.guest_name = std::move(n);
        }
    }
    const std::string vdev = disk.vdev;
    if (auto r = add_disk(std::move(disk), true); !r) return r.error();
    log_->info("domain {}: disk {} attached", spec_.domid, vdev);
    return {};
}

Result<void> Domain::attach_vif(VifDevice vif) {
    if (!pc_) return make_error(Errc::not_supported, fmt::format("domain {}: hotplug needs hv's PC machine", spec_.domid));
    std::lock_guard one(hotplug_mu_);
    {
        std::lock_guard lock(dev_mu_);
        // Generated macs are not in the config, so its check cannot see them.
        for (const Vif& v : vifs_) {
            if (v.devid == vif.devid) return make_error(Errc::exists, fmt::format("domain {}: it has a vif {} already", spec_.domid, v.devid));
            if (v.net->options().mac == vif.options.mac)
                return make_error(Errc::exists, fmt::format("domain {}: vif {} has the same mac {} already", spec_.domid, v.devid,
                                                            config::mac_to_string(vif.options.mac)));
        }
    }
    const std::string tap = vif.tap->name();
    if (auto r = add_vif(std::move(vif), true); !r) return r.error();
    log_->info("domain {}: vif {} attached", spec_.domid, tap);
    return {};
}

const Domain::Function* Domain::function_locked(uint32_t slot) const {
    for (const Function& f : functions_)
        if (f.slot == slot) return &f;
    return nullptr;
}

void Domain::unplug(uint32_t slot, bool tell_guest) {
    std::lock_guard one(hotplug_mu_);
    Function gone;
    std::optional<std::pair<DeviceKind, uint32_t>> what;
    {
        std::lock_guard lock(dev_mu_);
        const auto it = std::find_if(functions_.begin(), functions_.end(), [&](const Function& f) { return f.slot == slot; });
        if (it == functions_.end() || it->pci.get() == pv_console_device_) return;
        for (const Disk& d : disks_)
            if (d.slot == slot) what = {DeviceKind::disk, d.devid};
        for (const Vif& v : vifs_)
            if (v.slot == slot) what = {DeviceKind::vif, v.devid};
        std::erase_if(disks_, [&](const Disk& d) { return d.slot == slot; });
        std::erase_if(vifs_, [&](const Vif& v) { return v.slot == slot; });
        gone = std::move(*it);
        functions_.erase(it);
        going_.push_back(gone.serial); // a detach waiting for it returns once it is freed
    }
    // No vCPU reaches it after this, nor does the I/O loop.
    pci_host_->remove(slot);
    gone.pci->unserve(io_loop_);
    for (int fd : gone.fds) io_loop_.unwatch(fd);
    hotplug_->removed(slot, tell_guest);
    gone.pci.reset(); // the backend closes: a disk's file, a vif's TAP (with its bridge port and routes)
    log_->info("domain {}: PCI slot {} unplugged{}", spec_.domid, slot, tell_guest ? " (forced)" : "");
    if (what && on_device_gone_) on_device_gone_(what->first, what->second);
    {
        std::lock_guard lock(dev_mu_);
        std::erase(going_, gone.serial);
    }
    unplugged_cv_.notify_all();
}

void Domain::guest_ejected(uint32_t slots) {
    for (uint32_t slot = 1; slot < dev::PciHost::kSlots; ++slot)
        if ((slots & (1u << slot)) != 0) unplug(slot, false);
}

Result<uint32_t> Domain::detach(DeviceKind kind, std::string_view name, bool force, std::chrono::milliseconds timeout) {
    if (!pc_) return make_error(Errc::not_supported, fmt::format("domain {}: hotplug needs hv's PC machine", spec_.domid));
    const char* what = kind == DeviceKind::disk ? "disk" : "vif";
    uint32_t slot = 0, devid = 0;
    uint64_t serial = 0;
    {
        std::lock_guard lock(dev_mu_);
        const auto number = decimal(name);
        bool found = false;
        if (kind == DeviceKind::disk) {
            for (const Disk& d : disks_)
                if (!found && (d.vdev == name || (number && d.devid == *number))) found = true, slot = d.slot, devid = d.devid;
        } else {
            for (const Vif& v : vifs_)
                if (!found && ((number && v.devid == *number) || same_text_ignoring_case(config::mac_to_string(v.net->options().mac), name)))
                    found = true, slot = v.slot, devid = v.devid;
        }
        const Function* f = found ? function_locked(slot) : nullptr;
        if (f == nullptr)
            return make_error(Errc::not_found, fmt::format("domain {}: no {} '{}' ({} shows them)", spec_.domid, what, name,
                                                           kind == DeviceKind::disk ? "block-list" : "network-list"));
        serial = f->serial;
    }
    if (force) {
        unplug(slot, true);
        return devid;
    }
    if (!hotplug_->request_eject(slot))
        return make_error(Errc::busy, fmt::format("domain {}: {} '{}' cannot be ejected", spec_.domid, what, name));
    log_->info("domain {}: asked the guest to let go of {} '{}' (PCI slot {})", spec_.domid, what, name, slot);
    // Freed, not just off the bus: its TAP or file is closed on return.
    const auto freed = [&] {
        const Function* f = function_locked(slot);
        return (f == nullptr || f->serial != serial) && std::find(going_.begin(), going_.end(), serial) == going_.end();
    };
    std::unique_lock lock(dev_mu_);
    unplugged_cv_.wait_for(lock, std::min(timeout, std::chrono::milliseconds(std::chrono::hours(1))), [&] { return freed() || halting_; });
    if (freed()) return devid;
    if (halting_) return make_error(Errc::busy, fmt::format("domain {} is going away", spec_.domid));
    return make_error(Errc::timed_out, fmt::format("domain {}: the guest did not let go of {} '{}' within {} ms; the request stays "
                                                   "open (the device goes when the guest ejects it), and -f removes it now",
                                                   spec_.domid, what, name, timeout.count()));
}

std::vector<sdk::BlockInfo> Domain::block_list() const {
    std::lock_guard lock(dev_mu_);
    std::vector<sdk::BlockInfo> out;
    for (const Disk& d : disks_) {
        sdk::BlockInfo b;
        b.devid = d.devid;
        b.vdev = d.vdev;
        b.guest = d.guest_name;
        b.target = d.blk->backend().path();
        b.bytes = d.blk->backend().size();
        b.read_only = d.blk->backend().read_only();
        b.connected = d.device->driver_ok();
        out.push_back(std::move(b));
    }
    return out;
}

std::vector<sdk::VifInfo> Domain::network_list() const {
    std::lock_guard lock(dev_mu_);
    std::vector<sdk::VifInfo> out;
    for (const Vif& v : vifs_) {
        sdk::VifInfo i;
        i.devid = v.devid;
        i.tap = v.net->tap().name();
        i.bridge = v.bridge;
        i.script = v.script;
        for (const auto& ip : v.ips) i.ips += (i.ips.empty() ? "" : " ") + config::ipv4_to_string(ip);
        const dev::VirtioNet::Options o = v.device->locked([&](core::virtio::VirtioDevice&) { return v.net->options(); });
        i.mac = o.mac;
        i.mtu = o.mtu;
        i.rate_bytes = o.rate_bytes;
        i.rate_interval_us = o.rate_interval_us;
        i.connected = v.device->driver_ok();
        const auto& st = v.net->stats();
        i.rx_frames = st.rx_frames, i.rx_bytes = st.rx_bytes, i.rx_dropped = st.rx_dropped;
        i.tx_frames = st.tx_frames, i.tx_bytes = st.tx_bytes, i.tx_dropped = st.tx_dropped;
        out.push_back(std::move(i));
    }
    return out;
}

Result<void> Domain::set_vif_rate(uint32_t devid, uint64_t bytes, uint32_t interval_us) {
    std::lock_guard lock(dev_mu_);
    for (const Vif& v : vifs_) {
        if (v.devid != devid) continue;
        v.device->locked([&](core::virtio::VirtioDevice&) { v.net->set_rate(bytes, interval_us); });
        return {};
    }
    return make_error(Errc::not_found, fmt::format("domain {}: no vif with devid {}", spec_.domid, devid));
}

Result<void> Domain::set_disk_limits(uint32_t devid, const dev::VirtioBlk::Limits& limits) {
    std::lock_guard lock(dev_mu_);
    for (const Disk& d : disks_) {
        if (d.devid != devid) continue;
        // A queue held back by the old limits is looked at again on the
        // timer set_limits() arms.
        d.device->locked([&](core::virtio::VirtioDevice&) { d.blk->set_limits(limits); });
        return {};
    }
    return make_error(Errc::not_found, fmt::format("domain {}: no disk with devid {}", spec_.domid, devid));
}

} // namespace hv
