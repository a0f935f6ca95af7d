#include "devices/block/open_disk.hpp"

#include <fmt/format.h>

#include "devices/block/qcow2_image.hpp"
#include "devices/block/raw_file.hpp"

namespace hv::dev {

namespace {

Error unsupported(const std::string& path, config::DiskFormat format) {
    return make_error(Errc::not_supported, fmt::format("disk '{}': format '{}' is not supported (raw and qcow2 are)", path,
                                                       config::disk_format_name(format)));
}

} // namespace

Result<std::unique_ptr<BlockBackend>> open_disk(const std::string& path, config::DiskFormat format, bool read_only) {
    switch (format) {
    case config::DiskFormat::raw: {
        auto f = RawFile::open(path, read_only);
        if (!f) return f.error();
        return std::unique_ptr<BlockBackend>(std::move(*f));
    }
    case config::DiskFormat::qcow2: {
        auto q = Qcow2Image::open(path, read_only);
        if (!q) return q.error();
        return std::unique_ptr<BlockBackend>(std::move(*q));
    }
    default: return unsupported(path, format);
    }
}

Result<std::vector<std::string>> backing_chain(const std::string& path, config::DiskFormat format) {
    switch (format) {
    case config::DiskFormat::raw: return std::vector<std::string>{};
    case config::DiskFormat::qcow2: {
        auto q = Qcow2Image::open(path, true);
        if (!q) return q.error();
        return (*q)->backing_paths();
    }
    default: return unsupported(path, format);
    }
}

} // namespace hv::dev
