#include "monitor/shared_mapping.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace hv::sched {

namespace {
Error sys_error(const std::string& path, const char* what) {
    return make_error(Errc::io_error, fmt::format("{}: {}: {}", path, what, std::strerror(errno)));
}
} // namespace

Result<SharedMapping> SharedMapping::map(int fd, const std::string& path, size_t size) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) {
        errno = err;
        return sys_error(path, "mmap");
    }
    SharedMapping m;
    m.data_ = p;
    m.size_ = size;
    return m;
}

Result<SharedMapping> SharedMapping::create(const std::string& path, size_t size) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return sys_error(path, "create");
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
        const auto e = sys_error(path, "ftruncate");
        ::close(fd);
        ::unlink(path.c_str());
        return e;
    }
    return map(fd, path, size);
}

Result<SharedMapping> SharedMapping::open(const std::string& path, size_t size) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return sys_error(path, "open");
    struct stat st {};
    // One link only: a hard link to another domain's page would have it
    // scheduled under the wrong process.
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || st.st_nlink != 1 ||
        static_cast<size_t>(st.st_size) != size) {
        ::close(fd);
        return make_error(Errc::invalid_argument,
                          fmt::format("{}: not a {}-byte regular file of this user with one link", path, size));
    }
    return map(fd, path, size);
}

Result<SharedMapping> SharedMapping::open_or_create(const std::string& path, size_t size, bool& created) {
    struct stat st {};
    created = ::lstat(path.c_str(), &st) != 0 && errno == ENOENT;
    return created ? create(path, size) : open(path, size);
}

SharedMapping::~SharedMapping() {
    if (data_ != nullptr) ::munmap(data_, size_);
}

SharedMapping::SharedMapping(SharedMapping&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

SharedMapping& SharedMapping::operator=(SharedMapping&& o) noexcept {
    if (this != &o) {
        if (data_ != nullptr) ::munmap(data_, size_);
        data_ = std::exchange(o.data_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

} // namespace hv::sched
