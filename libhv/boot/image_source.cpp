#include "boot/image_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace hv::boot {

namespace {
// Bigger than any kernel or initrd a guest boots; bounds what a hostile
// config makes the monitor read.
constexpr uint64_t kMaxImage = 512ull << 20;
} // namespace

Result<std::vector<uint8_t>> ImageSource::read_all() const {
    std::vector<uint8_t> all(size());
    if (auto r = read(0, all.data(), all.size()); !r) return r.error();
    return all;
}

Result<void> SpanImage::read(uint64_t offset, void* dst, uint64_t len) const {
    if (offset > bytes_.size() || len > bytes_.size() - offset)
        return make_error(Errc::bad_image, fmt::format("{} bytes at offset {:#x} are past the end of the image ({} bytes)", len,
                                                       offset, bytes_.size()));
    if (len == 0) return {};
    if (dst == nullptr) return make_error(Errc::invalid_argument, "no place to read the image into");
    std::memcpy(dst, bytes_.data() + offset, len);
    return {};
}

Result<std::shared_ptr<const FileImage>> FileImage::open(const std::string& path, std::string_view what) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        return make_error(err == ENOENT ? Errc::not_found : Errc::io_error, fmt::format("{} {}: {}", what, path, std::strerror(err)));
    }
    struct Closer {
        int fd;
        ~Closer() {
            if (fd >= 0) ::close(fd);
        }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return make_error(Errc::io_error, fmt::format("{} {}: {}", what, path, std::strerror(errno)));
    if (S_ISDIR(st.st_mode)) return make_error(Errc::invalid_argument, fmt::format("{} {}: is a directory", what, path));
    if (!S_ISREG(st.st_mode)) return make_error(Errc::invalid_argument, fmt::format("{} {}: not a regular file", what, path));
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size == 0) return make_error(Errc::bad_image, fmt::format("{} {}: file is empty", what, path));
    if (size > kMaxImage)
        return make_error(Errc::bad_image, fmt::format("{} {}: {} bytes is over the {} MiB limit", what, path, size, kMaxImage >> 20));
    std::shared_ptr<const FileImage> image(new FileImage(fd, size, fmt::format("{} {}", what, path)));
    closer.fd = -1; // the image owns it now
    return image;
}

FileImage::~FileImage() { ::close(fd_); }

Result<void> FileImage::read(uint64_t offset, void* dst, uint64_t len) const {
    if (offset > size_ || len > size_ - offset)
        return make_error(Errc::bad_image, fmt::format("{}: {} bytes at offset {:#x} are past its end ({} bytes)", label_, len, offset, size_));
    if (len != 0 && dst == nullptr) return make_error(Errc::invalid_argument, fmt::format("{}: no place to read it into", label_));
    auto* out = static_cast<uint8_t*>(dst);
    uint64_t got = 0;
    while (got < len) {
        const ssize_t n = ::pread(fd_, out + got, len - got, static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return make_error(Errc::io_error, fmt::format("{}: read at offset {:#x}: {}", label_, offset + got, std::strerror(errno)));
        if (n == 0)
            return make_error(Errc::io_error, fmt::format("{}: the file shrank while it was read (ends before offset {:#x})", label_,
                                                          offset + got));
        got += static_cast<uint64_t>(n);
    }
    return {};
}

} // namespace hv::boot
