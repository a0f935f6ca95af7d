// open_disk_file: the one rule for opening a disk image's path (raw or
// qcow2, and a qcow2's backing files). The path is looked at first without
// opening what it names (O_PATH): opening a character device can act (a
// watchdog arms, a tape rewinds), and a FIFO could block. Only a regular
// file (or a block device, where the caller allows one) is then opened
// for I/O, through the same inode, and checked to be it.
#pragma once

#include <sys/stat.h>

#include <string>

#include "hv/result.hpp"
#include "platform/kvm/unique_fd.hpp"

namespace hv::dev {

struct DiskFile {
    kvm::UniqueFd fd;
    struct stat st{}; // of the opened file
};

// `label` starts every message ("disk '/a.img'"); `kind_error` is the
// refusal of anything but a regular file (or block device when
// `allow_block`). A writable block device is opened O_EXCL: one the host
// has mounted (or another domain holds so) is refused with EBUSY.
Result<DiskFile> open_disk_file(const std::string& path, bool read_only, bool allow_block, const std::string& label,
                                const char* kind_error);

} // namespace hv::dev
