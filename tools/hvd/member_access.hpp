// What a member may make hvd read. hvd and its domain processes run as
// root; a member of hvd's group is not. A config names files (kernel=,
// ramdisk=, disk targets) that the domain process will open as root, so
// before a non-root member's create goes ahead, hvd checks that the
// member could open each of them itself: a short-lived child takes the
// member's uid, gid and supplementary groups (those its process holds)
// and opens each one. A refusal does not say whether the file exists:
// the member learns nothing it could not learn on its own.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "control/service.hpp"

namespace hvd {

// (config key, path) pairs. Root peers pass without a check.
hv::Result<void> check_member_can_read(const hv::control::Peer& peer,
                                       const std::vector<std::pair<std::string, std::string>>& files);

} // namespace hvd
