#include "devices/block/io_share.hpp"

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace hv::dev {

namespace {

using core::qos::ShareTable;

Error os_error(const std::string& path, const char* what, int err) {
    return make_error(Errc::io_error, fmt::format("{}: {}: {}", path, what, std::strerror(err)));
}

// Makes the table file whole or not at all: an unnamed file, sized, then
// linked in (another process opening it meanwhile never sees it short).
// Someone else's link winning the race is fine: theirs is used.
Result<void> make_table(const std::string& dir, const std::string& path) {
    const int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return os_error(dir, "open(O_TMPFILE)", errno);
    // Allocated, not sparse: a full file system cannot fault a first write.
    if (const int err = ::posix_fallocate(fd, 0, sizeof(ShareTable)); err != 0) {
        ::close(fd);
        return os_error(path, "posix_fallocate", err);
    }
    const std::string proc = fmt::format("/proc/self/fd/{}", fd);
    const int r = ::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW);
    const int err = errno;
    ::close(fd);
    if (r != 0 && err != EEXIST) return os_error(path, "link", err);
    return {};
}

} // namespace

std::string IoShare::table_path(const std::string& dir, uint64_t device) {
    return fmt::format("{}/share-v2-{}-{}", dir, ::major(device), ::minor(device));
}

namespace {

// Slot `i`'s lock (F_OFD_SETLK, or F_UNLCK to let go): 1 when done, 0
// when another open of the file holds it, -1 on an error (errno).
int lock_slot(int fd, unsigned i, short type) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(i);
    fl.l_len = 1;
    if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return 1;
    return errno == EAGAIN || errno == EACCES ? 0 : -1;
}

// The table's descriptor and mapping, from one open: the lock and the
// memory are the same file's.
Result<std::pair<int, sched::SharedMapping>> open_table(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return os_error(path, "open", errno);
    // open_fd checks the file (regular, ours, one link, the size).
    auto map = sched::SharedMapping::open_fd(::fcntl(fd, F_DUPFD_CLOEXEC, 0), path, sizeof(ShareTable));
    if (!map) {
        ::close(fd);
        return map.error();
    }
    return std::pair<int, sched::SharedMapping>{fd, std::move(*map)};
}

} // namespace

Result<std::unique_ptr<IoShare>> IoShare::join(const std::string& dir, uint64_t device, uint32_t weight) {
    const std::string path = table_path(dir, device);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno != ENOENT) return os_error(path, "lstat", errno);
        if (auto r = make_table(dir, path); !r) return r.error();
    }
    auto table = open_table(path);
    if (!table) {
        // Not a table of ours (another size, a symlink, another owner): the
        // folder is hvd's, so it is replaced, once. Domains that map the
        // old one go on unweighted.
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) return os_error(path, "unlink", errno);
        if (auto r = make_table(dir, path); !r) return r.error();
        table = open_table(path);
    }
    if (!table) return table.error();
    auto [fd, map] = std::move(*table);
    auto* slots = static_cast<ShareTable*>(map.data());
    // The first free slot is this domain's. Any other free one that still
    // has a weight was left by a process that died (kill -9, a previous
    // boot): it is cleared, so it cannot look busy to anyone.
    int mine = -1;
    for (unsigned i = 0; i < ShareTable::kSlots; ++i) {
        const int got = lock_slot(fd, i, F_WRLCK);
        if (got < 0) {
            const int err = errno;
            ::close(fd);
            return os_error(path, "fcntl(F_OFD_SETLK)", err);
        }
        if (got == 0) continue;
        if (mine < 0) {
            mine = static_cast<int>(i);
            continue;
        }
        __atomic_store_n(&slots->slots[i].weight, 0u, __ATOMIC_RELEASE);
        (void)lock_slot(fd, i, F_UNLCK);
    }
    if (mine < 0) {
        ::close(fd);
        return make_error(Errc::busy, fmt::format("{}: all {} slots are held (as many domains share the device)", path,
                                                  ShareTable::kSlots));
    }
    return std::unique_ptr<IoShare>(new IoShare(std::move(map), fd, static_cast<unsigned>(mine), weight));
}

IoShare::IoShare(sched::SharedMapping map, int lock_fd, unsigned slot, uint32_t weight)
    : map_(std::move(map)), lock_fd_(lock_fd), slot_(slot),
      arbiter_(static_cast<ShareTable*>(map_.data()), slot, weight) {}

// The slot is marked free before the lock goes: whoever takes it next
// starts it afresh anyway.
IoShare::~IoShare() {
    arbiter_.release();
    ::close(lock_fd_);
}

} // namespace hv::dev
