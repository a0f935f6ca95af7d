#include "control/domid_counter.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/domain_table.hpp"

namespace hv::control {

Result<uint32_t> DomidCounter::next() {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(Errc::io_error, fmt::format("{}: {}", path_, std::strerror(errno)));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); } // also drops the lock
    } closer{fd};
    if (::flock(fd, LOCK_EX) != 0) return make_error(Errc::io_error, fmt::format("{}: flock: {}", path_, std::strerror(errno)));
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    uint32_t id = core::kFirstGuestDomid;
    if (n > 0) {
        unsigned long v = std::strtoul(buf, nullptr, 10);
        if (v >= core::kFirstGuestDomid && v < core::kFirstReservedDomid) id = static_cast<uint32_t>(v);
    }
    uint32_t after = id + 1;
    if (after >= core::kFirstReservedDomid) after = core::kFirstGuestDomid;
    const std::string text = fmt::format("{}\n", after);
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
        return make_error(Errc::io_error, fmt::format("{}: write: {}", path_, std::strerror(errno)));
    return id;
}

} // namespace hv::control
