// How hvctl prints domains and the host: xl's column layouts and hvctl's
// JSON (docs/cli.md describes every shape).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <hv/sdk/types.hpp>

namespace hvctl {

// xl's six state columns, one letter set: "r-----", "-b----", "--p---",
// "---s--", "----c-", "-----d".
std::string state_column(hv::sdk::State s);
// "running", "blocked", "paused", "shutdown", "crashed", "dying".
const char* state_name(hv::sdk::State s);
// 8-4-4-4-12 lower-case hex.
std::string uuid_string(const hv::sdk::Uuid& u);
// A JSON string literal, quotes included.
std::string json_string(std::string_view s);

// `s` with control characters (a config's strings may carry terminal
// escapes) shown as '?'.
std::string printable(std::string_view s);

// xl block-list: the header and one line per disk, each with a newline.
// Xen's columns (Vdev is the device number; BE the backend domain, 0:
// hv; handle the domain; state 4 Connected or 1 Initialising; evt-ch and
// ring-ref, which virtio has not, -1; BE-path the image), then what the
// guest calls the disk and whether it may write it.
std::string block_list(uint32_t domid, const std::vector<hv::sdk::BlockInfo>& disks);

// xl network-list: the header and one line per vif, in xl's columns (Idx
// and handle the devid; BE 0: hv; state 4 Connected or 1 Initialising;
// evt-ch and the ring refs, which virtio has not, -1; BE-path Xen's
// backend path). `long_form` (-l) adds two indented lines per vif: the
// host side (tap, bridge, script, mtu, rate, ip=) and the traffic counts.
std::string network_list(uint32_t domid, const std::vector<hv::sdk::VifInfo>& vifs, bool long_form = false);
// A vif's transmit limit: "none", or "62500B/50000us (10Mb/s)".
std::string vif_rate_text(uint64_t bytes, uint32_t interval_us);

// xl list: the header line and one line per domain (no newline).
std::string list_header();
std::string list_row(const hv::sdk::DomainInfo& d);
// A managed domain that is not running: its name, the other columns blank.
std::string defined_row(const std::string& name);
// xl list -l: a JSON array of domain objects, with a final newline.
// Running domains, then managed ones that are not running (`defined`).
std::string list_json(const std::vector<hv::sdk::DomainInfo>& domains, const std::vector<std::string>& defined = {});

// xl uptime: "H:MM:SS", "1 day, H:MM:SS", "N days, H:MM:SS"; the short
// form drops the seconds.
std::string uptime_string(double seconds, bool short_form);
std::string uptime_header();
std::string uptime_row(const hv::sdk::DomainInfo& d);

// xl info: "key                    : value".
std::string info_line(std::string_view key, std::string_view value);

// ---- the scheduler (xl sched-credit, sched-rtds, vcpu-list) ----

// hv has no cpupools: every domain is in the one pool xl would call Pool-0.
inline constexpr const char* kPoolName = "Pool-0";

// xl sched-credit: "%-33s %4s %6s %4s" / "%-33s %4d %6d %4d".
std::string sched_credit_header();
std::string sched_credit_row(const std::string& name, uint32_t domid, uint32_t weight, uint32_t cap);
// xl sched-credit's pool line, "Cpupool Pool-0: tslice=30ms ratelimit=1000us",
// with hv's credit tick after it (" tick=10000us").
std::string credit_pool_line(const hv::sdk::SchedHost& h);
// xl sched-rtds: "%-33s %4s %9s %9s %10s", extratime "yes" / "no".
std::string sched_rtds_header();
std::string sched_rtds_row(const std::string& name, uint32_t domid, uint32_t period_us, uint32_t budget_us,
                           bool extratime);
// xl sched-rtds's pool line: "Cpupool Pool-0: sched=RTDS".
std::string rtds_pool_line();

// An affinity mask as xl vcpu-list prints it: "all" when it is every host
// CPU (`host`, SchedHost::pcpus) or 0 (the SDK's "every host CPU"), else
// a CPU list ("0-3,5").
std::string affinity_text(uint64_t mask, uint64_t host);
// xl vcpu-list's layout: "%-32s %5s %5s %5s %5s %9s %s" for the header,
// "%-32s %5u %5u%5u %3c%c- %9.1f  HARD / SOFT" for a row (xl's own format:
// no blank between VCPU and CPU). State: "r--" running, "-b-" blocked,
// "---" runnable (waiting for a CPU), "--p" offline (CPU "-").
std::string vcpu_list_header();
std::string vcpu_list_row(const std::string& name, const hv::sdk::VcpuInfo& v, uint64_t host);

} // namespace hvctl
