// How hvctl prints domains and the host: xl's column layouts and hvctl's
// JSON (docs/cli.md describes every shape).
#pragma once

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

} // namespace hvctl
