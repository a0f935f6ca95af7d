// What the device commands (block-attach, block-detach, network-attach,
// network-detach, block-limits) make of their arguments before any
// monitor is asked: pure functions, so they are unit-tested on their own
// (tests/unit/hvctl/test_device_args.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <hv/result.hpp>
#include <hv/sdk/types.hpp>

namespace hvctl {

// xl's spec components as one spec: joined with ',', as xl's parsers read
// several arguments (block-attach DOM /a.img raw xvdb w).
std::string join_spec(const std::vector<std::string>& components);

// A disk spec to send: checked by the config's parser (its error, naming
// the item, when it does not parse), and with a relative target made
// absolute against `cwd` (the monitor's process does not share hvctl's
// working directory); otherwise the spec as written.
hv::Result<std::string> disk_spec_to_send(std::string_view spec, const std::string& cwd);

// -t SECONDS of a detach, in ms: whole seconds, 1..600 (the ABI's
// HV_CTL_DEVICE_TIMEOUT_MAX_MS); not given: 0, the monitor's default (10 s).
hv::Result<uint32_t> detach_timeout_ms(const std::optional<std::string>& seconds);

// block-limits' KEY=VALUE arguments: rate=RATE (a disk spec's rate=:
// 40Mb/s, 100MB/s@20ms) and iops=N[@INTERVAL], each at most once, at
// least one; 0 or none lifts that limit, and a key not given is lifted
// too (the monitor sets both at once).
hv::Result<hv::sdk::DiskLimits> disk_limits_of(const std::vector<std::string>& keys);

// The devid of the disk `dev` names in a domain's block-list: its vdev
// (xvdb), or its devid in decimal (51728). nullopt: no such disk.
std::optional<uint32_t> disk_devid(const std::vector<hv::sdk::BlockInfo>& disks, std::string_view dev);

} // namespace hvctl
