// One `disk = [ ... ]` element, xl-disk-configuration(5): what it says,
// typed, before any block device exists (hv has none yet; the monitor
// refuses disk= at create).
//
// Both forms are read, as libxlutil's disk lexer (libxlu_disk_l.l) reads
// them, item by comma-separated item:
//
//   format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume
//   /dev/vg/guest-volume,raw,hda,rw        positional: target, format, vdev, access
//   /dev/vg/guest-volume,,hda              an empty positional takes the default
//   file:/xen/disk.img,xvda2,w             legacy prefixes (file: phy: tap: aio:
//   tap:aio:/vm/server1,xvda,w               tapdisk: tap2: ioemu: raw: qcow: qcow2:
//   file:/xen/netinst.iso,hdb:cdrom,w        vhd: iscsi: nbd: enbd: drbd:); after one
//                                            the format slot is skipped; vdev:cdrom
//
// Keys: target= (must be last: it takes the rest of the spec, commas and
// all), format= (raw qcow qcow2 vhd qed empty), vdev=, access= (ro r rw w),
// devtype= (disk cdrom), backend=, backendtype= (phy tap qdisk standalone),
// script=, specification= (xen virtio), grant_usage= (0 1); flags cdrom,
// direct-io-safe, discard, no-discard, trusted, untrusted.
//
// Where we differ from libxlutil 4.17, on purpose:
//  - blanks around an item are dropped on both sides (libxlutil drops only
//    leading ones, so "/a , raw" has the format "raw " there and fails);
//  - an empty vdev, or an empty target on a disk that is not a cdrom, is
//    refused (libxlutil passes both on to libxl, which fails later);
//  - the COLO replication items (colo, no-colo, colo-host=, colo-port=,
//    colo-export=, active-disk=, hidden-disk=) are refused: hv has no COLO;
//  - trusted/untrusted and grant_usage= are read (libxlutil 4.18 and later
//    know them; 4.17 does not);
//  - a '=' that ends the spec is an error like any other stray '='
//    (libxlutil's lexer drops it silently: "vdev=xvda,/a=" reads as "/a");
//  - only the first problem is reported (libxlutil prints every one).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hv/result.hpp"

namespace hv::config {

enum class DiskFormat : uint8_t { raw, qcow, qcow2, vhd, qed, empty };
enum class DiskDevtype : uint8_t { disk, cdrom };
enum class DiskBackendType : uint8_t { unset, phy, tap, qdisk, standalone }; // unset: chosen at attach
enum class DiskSpecification : uint8_t { unset, xen, virtio };

struct DiskSpec {
    std::string target;           // image or device path; "" only for a cdrom drive with no media
    DiskFormat format = DiskFormat::raw;
    std::string vdev;             // the guest's name for it: xvda, hdc, sdb1, ...
    bool read_only = false;       // access=ro/r, and always for a cdrom
    DiskDevtype devtype = DiskDevtype::disk;
    DiskBackendType backendtype = DiskBackendType::unset;
    std::string backend;          // backend domain name ("" = dom0)
    std::string script;           // block script; an iscsi:/nbd:/enbd:/drbd: prefix sets block-<prefix>
    DiskSpecification specification = DiskSpecification::unset;
    bool direct_io_safe = false;
    std::optional<bool> discard;     // discard / no-discard; unset: the backend decides
    std::optional<bool> trusted;     // trusted / untrusted
    std::optional<bool> grant_usage; // grant_usage=1 / =0
    std::string legacy_prefix;       // the deprecated prefixes as written ("tap:aio:"), "" for none
    // hv's own keys (xl has none for disk limits; xl refuses them):
    // rate=RATE[@INTERVAL] in vif rate='s form ("100MB/s", "40Mb/s@20ms"),
    // the disk's read and write bytes; iops=N[@INTERVAL], its requests a
    // second. Token buckets of one interval's worth (default 50 ms).
    std::string rate, iops;          // as written; "" for no limit
    uint64_t rate_bytes_per_interval = 0;
    uint32_t rate_interval_usecs = 0;
    uint64_t iops_per_interval = 0;
    uint32_t iops_interval_usecs = 0;
};

// Parses one spec. Errors are Errc::invalid_argument "'SPEC': 'ITEM': problem"
// (or "'SPEC': problem" when no single item is to blame).
hv::Result<DiskSpec> parse_disk_spec(std::string_view spec);

// The value of a disk spec's rate= or iops= (`key`), read as a spec's is:
// rate= in vif rate='s grammar ("40Mb/s", "100MB/s@20ms"), iops= a count
// of requests a second with an optional @INTERVAL ("500", "2000@20ms").
// Sets the amount per interval (at least 1) and the interval; an error is
// Errc::invalid_argument naming the problem (without the spec).
hv::Result<void> parse_disk_limit(std::string_view key, std::string_view value, uint64_t& amount,
                                  uint32_t& interval_usecs);

// xl's spellings: "raw", "cdrom", "phy", "virtio"; "" for unset.
const char* disk_format_name(DiskFormat f);
const char* disk_devtype_name(DiskDevtype d);
const char* disk_backend_type_name(DiskBackendType b);
const char* disk_specification_name(DiskSpecification s);

} // namespace hv::config
