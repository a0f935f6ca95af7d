#include "device_args.hpp"

#include <filesystem>

#include <hv/abi/control.h>

#include "config/disk_spec.hpp"
#include "config/spec_writer.hpp"

namespace hvctl {

using hv::Errc;
using hv::make_error;

namespace {

bool is_decimal(std::string_view s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos; }

} // namespace

std::string join_spec(const std::vector<std::string>& components) {
    std::string spec;
    for (size_t i = 0; i < components.size(); ++i) spec += (i == 0 ? "" : ",") + components[i];
    return spec;
}

hv::Result<std::string> disk_spec_to_send(std::string_view spec, const std::string& cwd) {
    auto disk = hv::config::parse_disk_spec(spec);
    if (!disk) return disk.error();
    if (disk->target.empty() || disk->target[0] == '/') return std::string(spec);
    disk->target = (std::filesystem::path(cwd) / disk->target).lexically_normal().string();
    return hv::config::disk_spec_text(*disk);
}

hv::Result<uint32_t> detach_timeout_ms(const std::optional<std::string>& seconds) {
    if (!seconds) return 0u;
    constexpr uint32_t max_s = HV_CTL_DEVICE_TIMEOUT_MAX_MS / 1000;
    const std::string& s = *seconds;
    if (!is_decimal(s) || s.size() > 4 || std::stoul(s) < 1 || std::stoul(s) > max_s)
        return make_error(Errc::invalid_argument,
                          "timeout '" + s + "' is not a whole number of seconds from 1 to " + std::to_string(max_s));
    return static_cast<uint32_t>(std::stoul(s)) * 1000u;
}

hv::Result<hv::sdk::DiskLimits> disk_limits_of(const std::vector<std::string>& keys) {
    if (keys.empty()) return make_error(Errc::invalid_argument, "give rate=RATE, iops=N[@INTERVAL] or both (0 or none lifts one)");
    hv::sdk::DiskLimits l;
    bool rate_given = false, iops_given = false;
    for (const std::string& k : keys) {
        const size_t eq = k.find('=');
        const std::string key = k.substr(0, eq);
        if (eq == std::string::npos || (key != "rate" && key != "iops"))
            return make_error(Errc::invalid_argument, "'" + k + "' is not rate=RATE or iops=N[@INTERVAL]");
        bool& given = key == "rate" ? rate_given : iops_given;
        if (given) return make_error(Errc::invalid_argument, key + " given twice");
        given = true;
        const std::string value = k.substr(eq + 1);
        if (value == "0" || value == "none") continue;
        uint64_t& amount = key == "rate" ? l.rate_bytes : l.iops;
        uint32_t& interval = key == "rate" ? l.rate_interval_us : l.iops_interval_us;
        if (auto r = hv::config::parse_disk_limit(key, value, amount, interval); !r)
            return make_error(Errc::invalid_argument, key + " '" + value + "': " + r.error().message);
    }
    return l;
}

std::optional<uint32_t> disk_devid(const std::vector<hv::sdk::BlockInfo>& disks, std::string_view dev) {
    for (const auto& d : disks)
        if (d.vdev == dev) return d.devid;
    for (const auto& d : disks)
        if (is_decimal(dev) && std::to_string(d.devid) == dev) return d.devid;
    return std::nullopt;
}

} // namespace hvctl
