// hvctl's hotplug commands (xl block-attach, block-detach, network-attach,
// network-detach) and block-limits, hv's own. Like xl they print nothing
// on success; what the monitor refuses is "hvctl: MESSAGE", status 1.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cli_args.hpp"
#include "commands.hpp"
#include "device_args.hpp"

namespace hvctl {

namespace {

constexpr size_t kAny = SIZE_MAX;

// block-detach and network-detach: [-f] [-t SECONDS] [--persist] DOMAIN DEVICE.
int detach(const Globals& g, const Args& args, const char* cmd, const char* usage, hv::sdk::DeviceKind kind) {
    const ParsedArgs p = parse_args(cmd, args, "ft:", usage, {}, {"persist"});
    if (p.done) return *p.done;
    if (!positional_count(p, cmd, usage, 2, 2)) return kExitError;
    auto timeout_ms = detach_timeout_ms(p.value("t"));
    if (!timeout_ms) return usage_error(cmd, usage, timeout_ms.error().message);
    auto dom = find_domain(g, p.positional[0]);
    if (!dom) return fail(dom.error());
    const std::string& device = p.positional[1];
    auto r = kind == hv::sdk::DeviceKind::disk ? dom->detach_disk(device, p.has('f'), *timeout_ms, p.has("persist"))
                                               : dom->detach_vif(device, p.has('f'), *timeout_ms, p.has("persist"));
    if (!r) return fail(r.error());
    return kExitOk;
}

} // namespace

// xl block-attach: the spec's components are joined with ',' as xl does.
int block_attach_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "block-attach [--persist] DOMAIN DISK-SPEC...";
    const ParsedArgs p = parse_args("block-attach", args, "", kUsage, {}, {"persist"});
    if (p.done) return *p.done;
    if (!positional_count(p, "block-attach", kUsage, 2, kAny)) return kExitError;
    std::error_code ec;
    const std::string cwd = std::filesystem::current_path(ec).string();
    auto spec = disk_spec_to_send(join_spec({p.positional.begin() + 1, p.positional.end()}), cwd);
    if (!spec) return fail("block-attach: " + spec.error().message);
    auto dom = find_domain(g, p.positional[0]);
    if (!dom) return fail(dom.error());
    if (auto id = dom->attach_disk(*spec, p.has("persist")); !id) return fail(id.error());
    return kExitOk;
}

int block_detach_command(const Globals& g, const Args& args) {
    return detach(g, args, "block-detach", "block-detach [-f] [-t SECONDS] [--persist] DOMAIN VDEV|DEVID",
                  hv::sdk::DeviceKind::disk);
}

// xl network-attach: no spec components is one vif with every default.
int network_attach_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "network-attach [--persist] DOMAIN [VIF-SPEC...]";
    const ParsedArgs p = parse_args("network-attach", args, "", kUsage, {}, {"persist"});
    if (p.done) return *p.done;
    if (!positional_count(p, "network-attach", kUsage, 1, kAny)) return kExitError;
    auto dom = find_domain(g, p.positional[0]);
    if (!dom) return fail(dom.error());
    const std::string spec = join_spec({p.positional.begin() + 1, p.positional.end()});
    if (auto id = dom->attach_vif(spec, p.has("persist")); !id) return fail(id.error());
    return kExitOk;
}

int network_detach_command(const Globals& g, const Args& args) {
    return detach(g, args, "network-detach", "network-detach [-f] [-t SECONDS] [--persist] DOMAIN DEVID|MAC",
                  hv::sdk::DeviceKind::vif);
}

// block-limits: a disk's rate= and iops= while it runs, in the disk
// spec's syntax (the config reader's parser). The disk is named as
// block-detach names it and found in block-list.
int block_limits_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "block-limits DOMAIN VDEV|DEVID [rate=RATE] [iops=N[@INTERVAL]]";
    const ParsedArgs p = parse_args("block-limits", args, "", kUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "block-limits", kUsage, 2, 4)) return kExitError;
    auto limits = disk_limits_of({p.positional.begin() + 2, p.positional.end()});
    if (!limits) return usage_error("block-limits", kUsage, limits.error().message);
    auto dom = find_domain(g, p.positional[0]);
    if (!dom) return fail(dom.error());
    auto disks = dom->block_list();
    if (!disks) return fail(disks.error());
    const auto devid = disk_devid(*disks, p.positional[1]);
    if (!devid)
        return fail("domain " + std::to_string(dom->id()) + " has no disk '" + p.positional[1] +
                    "' (block-list shows its vdevs and devids)");
    if (auto r = dom->set_disk_limits(*devid, *limits); !r) return fail(r.error());
    return kExitOk;
}

} // namespace hvctl
