#include "config/interface_name.hpp"

#include <fmt/format.h>

namespace hv::config {

Result<void> check_interface_name(std::string_view name, std::string_view what) {
    const auto refuse = [&](std::string_view why) {
        return make_error(Errc::invalid_argument, fmt::format("{} {:?}: {}", what, name, why));
    };
    if (name.empty()) return make_error(Errc::invalid_argument, fmt::format("{}: an interface name is empty", what));
    if (name.size() > kMaxInterfaceName) return refuse(fmt::format("{} bytes; an interface name has at most {}", name.size(), kMaxInterfaceName));
    if (name[0] == '-' || name[0] == '.') return refuse("an interface name starts with a letter, digit or '_'");
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
        if (!ok) return refuse("an interface name has only letters, digits, '_', '-' and '.'");
    }
    return {};
}

} // namespace hv::config
