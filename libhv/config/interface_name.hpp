// The one rule for a host network interface name hv creates or joins: a
// vif's TAP device (vifname=, or vif<domid>.<n>), its bridge (bridge=) and
// a gateway device (gatewaydev=). Checked when a vif spec is parsed and
// again where the name reaches the kernel (TapDevice), so nothing else
// ever touches an ioctl or a /sys path.
//
// Linux takes up to 15 bytes (IFNAMSIZ - 1) and refuses only "", ".",
// "..", '/', ':' and blanks; hv is stricter so a name is also safe in
// logs, paths and scripts: ASCII letters, digits, '_', '-' and '.', not
// starting with '-' or '.'.
#pragma once

#include <string_view>

#include "hv/result.hpp"

namespace hv::config {

constexpr size_t kMaxInterfaceName = 15;

// Errc::invalid_argument naming `what` ("bridge", "vifname") and the
// problem.
Result<void> check_interface_name(std::string_view name, std::string_view what);

} // namespace hv::config
