#include "devices/block/raw_file.hpp"

#include "devices/block/disk_file.hpp"
#include "devices/block/iov_cursor.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace hv::dev {

namespace {

Error os_error(const std::string& path, const char* what, int err) {
    return make_error(Errc::io_error, fmt::format("disk '{}': {}: {}", path, what, std::strerror(err)));
}

} // namespace

Result<std::unique_ptr<RawFile>> RawFile::open(const std::string& path, bool read_only) {
    auto f = open_disk_file(path, read_only, true, fmt::format("disk '{}'", path), "neither a regular file nor a block device");
    if (!f) return f.error();
    const bool block = S_ISBLK(f->st.st_mode);
    const int fd = f->fd.release();
    uint64_t size = 0;
    if (block) {
        if (::ioctl(fd, BLKGETSIZE64, &size) != 0) {
            const int e = errno;
            ::close(fd);
            return os_error(path, "BLKGETSIZE64", e);
        }
    } else {
        size = static_cast<uint64_t>(f->st.st_size);
    }
    // No host readahead: the guest reads ahead itself (its page cache
    // asks for what it wants), and the host's guesses on top turned every
    // random 4 KiB read into a large one (bench_virtio_blk: 3x the IOPS
    // without). A hint; a failure changes nothing else.
    if (!block) (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    return std::unique_ptr<RawFile>(new RawFile(fd, path, size, read_only, block));
}

RawFile::~RawFile() { ::close(fd_); }

Result<void> RawFile::transfer(const iovec* iov, int count, uint64_t offset, bool write) {
    // preadv/pwritev may stop short (a signal, a huge request): go on from
    // where they stopped, on a copy of the vector.
    std::vector<iovec> v(iov, iov + count);
    size_t i = 0;
    while (i < v.size()) {
        const int n = static_cast<int>(std::min<size_t>(v.size() - i, IOV_MAX));
        const ssize_t done = write ? ::pwritev(fd_, v.data() + i, n, static_cast<off_t>(offset))
                                   : ::preadv(fd_, v.data() + i, n, static_cast<off_t>(offset));
        if (done < 0) {
            if (errno == EINTR) continue;
            return os_error(path_, write ? "write" : "read", errno);
        }
        if (done == 0) return make_error(Errc::io_error, fmt::format("disk '{}': {} past the end of the file", path_, write ? "write" : "read"));
        offset += static_cast<uint64_t>(done);
        advance_iov(v, i, static_cast<size_t>(done));
    }
    return {};
}

Result<void> RawFile::read(const iovec* iov, int count, uint64_t offset) { return transfer(iov, count, offset, false); }

Result<void> RawFile::write(const iovec* iov, int count, uint64_t offset) {
    if (read_only_) return make_error(Errc::permission_denied, fmt::format("disk '{}' is read-only", path_));
    return transfer(iov, count, offset, true);
}

bool RawFile::start(BlockIo& io) {
    if (!uring_tried_) {
        uring_tried_ = true;
        if (auto q = UringQueue::create()) uring_ = std::move(*q);
    }
    // A write to a read-only disk is refused by write().
    if (uring_ == nullptr || (io.write && read_only_)) return false;
    return uring_->start(fd_, io);
}

BlockIo* RawFile::wait_any(bool block) {
    if (uring_ == nullptr) return nullptr;
    bool complete = false;
    BlockIo* io = uring_->wait(block, complete);
    if (io != nullptr && !complete) io->result = transfer(io->iov, io->count, io->offset, io->write);
    return io;
}

Result<void> RawFile::flush() {
    if (::fdatasync(fd_) != 0) return os_error(path_, "fdatasync", errno);
    return {};
}

Result<void> RawFile::discard(uint64_t offset, uint64_t length) {
    if (read_only_) return make_error(Errc::permission_denied, fmt::format("disk '{}' is read-only", path_));
    if (block_device_) {
        uint64_t range[2] = {offset, length};
        if (::ioctl(fd_, BLKDISCARD, range) != 0 && errno != EOPNOTSUPP) return os_error(path_, "BLKDISCARD", errno);
        return {};
    }
    // A hint: a file system without hole punching keeps the blocks.
    if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset), static_cast<off_t>(length)) != 0 &&
        errno != EOPNOTSUPP)
        return os_error(path_, "fallocate(PUNCH_HOLE)", errno);
    return {};
}

Result<void> RawFile::write_zeroes(uint64_t offset, uint64_t length, bool unmap) {
    if (read_only_) return make_error(Errc::permission_denied, fmt::format("disk '{}' is read-only", path_));
    if (block_device_) {
        uint64_t range[2] = {offset, length};
        if (::ioctl(fd_, BLKZEROOUT, range) != 0) return os_error(path_, "BLKZEROOUT", errno);
        return {};
    }
    const int mode = unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
    if (::fallocate(fd_, mode, static_cast<off_t>(offset), static_cast<off_t>(length)) == 0) return {};
    if (errno != EOPNOTSUPP) return os_error(path_, "fallocate", errno);
    // No fallocate here (tmpfs without ZERO_RANGE, NFS): write zeros.
    static const std::vector<uint8_t> zeros(1 << 20);
    while (length > 0) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(length, zeros.size()));
        iovec v{const_cast<uint8_t*>(zeros.data()), n};
        if (auto r = transfer(&v, 1, offset, true); !r) return r;
        offset += n;
        length -= n;
    }
    return {};
}

} // namespace hv::dev
