// GuestDisks: how a config's disks are named, in the config and in the
// guest. Xen names a disk by its vdev (xvda, xvda2, hdb, sdc1: xen-vbd-
// interface(7)); a Linux guest on hv sees virtio-blk disks, which it names
// vda, vdb, ... in the order the config lists them (PCI slot order). A
// config's root=/dev/xvda2 therefore has to become the virtio name, which
// map_root() does, saying so.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/disk_spec.hpp"

namespace hv::config {

// The most disks a domain may have (PCI slots 1..; the rest stay for other devices).
constexpr size_t kMaxDisks = 16;

// A vdev as Xen spells it: "xvd", "hd", "sd" or "vd", a disk (one or two
// letters: a..z, aa..), and an optional partition number (1..255). hd takes
// one letter only (hda..hdt, as in Xen's scheme).
struct Vdev {
    std::string disk;        // "xvda" of "xvda2"
    unsigned partition = 0;  // 2 of "xvda2"; 0: the whole disk
};
std::optional<Vdev> parse_vdev(std::string_view vdev);

// Xen's device number for a vdev (xen-vbd-interface(7)), what xl
// block-list prints: xvd disks 0..15 are 202 << 8 | disk << 4 | partition,
// later ones 1 << 28 | disk << 8 | partition; hda/hdb major 3 and hdc/hdd
// major 22, hde.. in pairs on Linux's later IDE majors (33, 34, 56, 57, 88..91),
// 64 per disk; sd disks 0..15 8 << 8 | disk << 4 | partition.
// vd, Xen's nothing, is numbered as xvd.
uint32_t xen_devid(const Vdev& v);

// What the guest calls the index-th disk of the config (0: "vda").
std::string guest_disk_name(size_t index);

struct RootMapping {
    std::string cmdline;
    std::string notice; // what was changed and why; empty when nothing was
};

// Rewrites a root=/dev/NAME in `cmdline` that names one of `disks` by its
// vdev: the disk itself (root=/dev/xvda2 with vdev xvda2, the seeds' way:
// the image holds a file system, no partition table) becomes that disk's
// guest name (/dev/vda); a partition of a whole-disk vdev (root=/dev/xvda1
// with vdev xvda) becomes the partition of the guest's disk (/dev/vda1).
// Anything else is left as written.
RootMapping map_root(const std::string& cmdline, const std::vector<DiskSpec>& disks);

} // namespace hv::config
