#include "devices/block/disk_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace hv::dev {

Result<DiskFile> open_disk_file(const std::string& path, bool read_only, bool allow_block, const std::string& label,
                                const char* kind_error) {
    kvm::UniqueFd probe(::open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!probe.valid())
        return make_error(errno == ENOENT ? Errc::not_found : Errc::io_error,
                          fmt::format("{}: cannot open it: {}", label, std::strerror(errno)));
    struct stat st{};
    if (::fstat(probe.get(), &st) != 0) return make_error(Errc::io_error, fmt::format("{}: fstat: {}", label, std::strerror(errno)));
    const bool block = S_ISBLK(st.st_mode);
    if (!S_ISREG(st.st_mode) && !(allow_block && block))
        return make_error(Errc::invalid_argument, fmt::format("{}: {}", label, kind_error));
    const int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | (block && !read_only ? O_EXCL : 0);
    const std::string via = "/proc/self/fd/" + std::to_string(probe.get());
    DiskFile out;
    out.fd = kvm::UniqueFd(::open(via.c_str(), flags));
    if (!out.fd.valid())
        return make_error(Errc::io_error, fmt::format("{}: cannot open it {}: {}", label, read_only ? "read-only" : "read-write",
                                                      std::strerror(errno)));
    if (::fstat(out.fd.get(), &out.st) != 0 || out.st.st_dev != st.st_dev || out.st.st_ino != st.st_ino)
        return make_error(Errc::io_error, fmt::format("{}: the file changed while it was being opened", label));
    return out;
}

} // namespace hv::dev
