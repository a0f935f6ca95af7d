// Small text helpers shared by the xl spec parsers (disk_spec, vif_spec).
#pragma once

#include <string_view>

namespace hv::config {

// Without leading and trailing blanks (space, tab, CR, LF).
inline std::string_view trim_blanks(std::string_view s) {
    constexpr std::string_view blanks = " \t\r\n";
    const size_t first = s.find_first_not_of(blanks);
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(blanks) - first + 1);
}

} // namespace hv::config
