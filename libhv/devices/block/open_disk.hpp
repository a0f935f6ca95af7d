// open_disk: a disk's BlockBackend by its format, so that callers (the
// monitor, hvd's checks) do not know the formats: raw images and block
// devices (RawFile), qcow2 images (Qcow2Image) with their backing files.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/disk_spec.hpp"
#include "devices/block/block_backend.hpp"

namespace hv::dev {

// Opens `path` as `format` (raw or qcow2; any other is Errc::not_supported).
Result<std::unique_ptr<BlockBackend>> open_disk(const std::string& path, config::DiskFormat format, bool read_only);

// The backing files opening `path` as `format` opens, nearest first, as
// the resolved absolute paths that are opened (none for raw). The image
// and its chain are opened read-only to read them, and closed again; an
// image that would not open is that error.
Result<std::vector<std::string>> backing_chain(const std::string& path, config::DiskFormat format);

} // namespace hv::dev
