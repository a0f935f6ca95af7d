#include "control/domid_counter.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/domain_table.hpp"

namespace hv::control {

namespace {
struct Closer {
    int fd;
    ~Closer() {
        if (fd >= 0) ::close(fd); // also drops the lock
    }
};
} // namespace

DomidCounter::DomidCounter(std::string state_dir)
    : counter_path_(state_dir + "/domid.next"), lease_dir_(state_dir + "/ids") {
    ::mkdir(lease_dir_.c_str(), 0700);
}

DomidCounter::~DomidCounter() {
    std::lock_guard lock(mu_);
    for (auto& [id, fd] : leases_) {
        ::unlink(fmt::format("{}/{}", lease_dir_, id).c_str());
        ::close(fd);
    }
}

int DomidCounter::try_lease(uint32_t domid) const {
    const std::string path = fmt::format("{}/{}", lease_dir_, domid);
    for (int attempt = 0; attempt < 4; ++attempt) {
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) return -1;
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd);
            return -1; // held by a live owner
        }
        // The owner may have unlinked the file between our open and our
        // lock: then we hold a lock on nothing, and must look again.
        struct stat a {}, b {};
        if (::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) return fd;
        ::close(fd);
    }
    return -1;
}

Result<uint32_t> DomidCounter::next() {
    const int fd = ::open(counter_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(Errc::io_error, fmt::format("{}: {}", counter_path_, std::strerror(errno)));
    Closer closer{fd};
    if (::flock(fd, LOCK_EX) != 0)
        return make_error(Errc::io_error, fmt::format("{}: flock: {}", counter_path_, std::strerror(errno)));
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    uint32_t id = core::kFirstGuestDomid;
    if (n > 0) {
        unsigned long v = std::strtoul(buf, nullptr, 10);
        if (v >= core::kFirstGuestDomid && v < core::kFirstReservedDomid) id = static_cast<uint32_t>(v);
    }
    const auto following = [](uint32_t d) { return d + 1 >= core::kFirstReservedDomid ? core::kFirstGuestDomid : d + 1; };
    constexpr uint32_t kRange = core::kFirstReservedDomid - core::kFirstGuestDomid;
    int lease = -1;
    for (uint32_t tried = 0; tried < kRange; ++tried, id = following(id)) {
        {
            std::lock_guard lock(mu_);
            if (leases_.count(id) != 0) continue;
        }
        lease = try_lease(id);
        if (lease >= 0) break;
    }
    if (lease < 0) return make_error(Errc::busy, fmt::format("every domid from {} to {} is in use", core::kFirstGuestDomid,
                                                             core::kFirstReservedDomid - 1));
    const std::string text = fmt::format("{}\n", following(id));
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
        const int err = errno;
        ::close(lease);
        return make_error(Errc::io_error, fmt::format("{}: write: {}", counter_path_, std::strerror(err)));
    }
    std::lock_guard lock(mu_);
    leases_[id] = lease;
    return id;
}

bool DomidCounter::hold(uint32_t domid) {
    std::lock_guard lock(mu_);
    if (leases_.count(domid) != 0) return true;
    const int fd = try_lease(domid);
    if (fd < 0) return false;
    leases_[domid] = fd;
    return true;
}

void DomidCounter::release(uint32_t domid) {
    std::lock_guard lock(mu_);
    auto it = leases_.find(domid);
    if (it == leases_.end()) return;
    // Unlinked while still locked: whoever opened the old file finds its
    // inode gone (try_lease checks) and looks again.
    ::unlink(fmt::format("{}/{}", lease_dir_, domid).c_str());
    ::close(it->second);
    leases_.erase(it);
}

bool DomidCounter::holds(uint32_t domid) const {
    std::lock_guard lock(mu_);
    return leases_.count(domid) != 0;
}

} // namespace hv::control
