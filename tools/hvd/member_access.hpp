// What a member may make hvd open. hvd and its domain processes run as
// root; a member of hvd's group is not. A config names files (kernel=,
// ramdisk=, disk targets) that the domain process will open as root, so
// before a non-root member's create goes ahead, hvd checks that the
// member could open each of them itself, the way the domain will (a
// writable disk read-write): a short-lived child takes the member's uid,
// gid and supplementary groups (those its process holds) and opens each
// one. The domain process opens them again later, by path: the gap
// between the two opens is docs/security.md's known TOCTOU. A refusal does not say whether the file exists:
// the member learns nothing it could not learn on its own.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/disk_spec.hpp"
#include "control/service.hpp"

namespace hvd {

struct MemberFile {
    std::string key;  // the config key that names it (kernel, disk, ...)
    std::string path;
    bool write = false; // the domain opens it read-write
};

// Root peers pass without a check.
hv::Result<void> check_member_can_open(const hv::control::Peer& peer, const std::vector<MemberFile>& files);

// The same for the backing files of the qcow2 `disks` (dev::backing_chain,
// read as hvd), each to be readable by the member. Call after the disks
// themselves passed check_member_can_open. Root peers pass.
hv::Result<void> check_member_backing_files(const hv::control::Peer& peer, const std::vector<hv::config::DiskSpec>& disks);

} // namespace hvd
