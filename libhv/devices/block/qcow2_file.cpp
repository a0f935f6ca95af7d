#include "devices/block/qcow2_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include <fmt/format.h>

#include "devices/block/disk_file.hpp"
#include "devices/block/iov_cursor.hpp"

namespace hv::dev {

Result<Qcow2File> Qcow2File::open(const std::string& path, bool read_only, std::string label) {
    auto f = open_disk_file(path, read_only, false, label, "a qcow2 image must be a regular file");
    if (!f) return f.error();
    const struct stat& st = f->st;
    return Qcow2File(std::move(f->fd), path, std::move(label), static_cast<uint64_t>(st.st_size), st.st_dev, st.st_ino);
}

Error Qcow2File::error(const std::string& what) const { return make_error(Errc::io_error, label_ + ": " + what); }

Result<void> Qcow2File::transfer(std::vector<iovec>& v, uint64_t offset, bool write) const {
    // As RawFile::transfer: preadv/pwritev may stop short; go on from there.
    // A read that reaches the end of the file zero-fills what is left.
    size_t i = 0;
    while (i < v.size()) {
        if (v[i].iov_len == 0) {
            ++i;
            continue;
        }
        if (offset > static_cast<uint64_t>(INT64_MAX) - (uint64_t{1} << 32))
            return error(fmt::format("{} at offset 0x{:x}: past any file's end", write ? "write" : "read", offset));
        const int n = static_cast<int>(std::min<size_t>(v.size() - i, IOV_MAX));
        const ssize_t done = write ? ::pwritev(fd_.get(), v.data() + i, n, static_cast<off_t>(offset))
                                   : ::preadv(fd_.get(), v.data() + i, n, static_cast<off_t>(offset));
        if (done < 0) {
            if (errno == EINTR) continue;
            return error(fmt::format("{} at offset 0x{:x}: {}", write ? "write" : "read", offset, std::strerror(errno)));
        }
        if (done == 0) {
            if (write) return error(fmt::format("write at offset 0x{:x} wrote nothing", offset));
            for (; i < v.size(); ++i) std::memset(v[i].iov_base, 0, v[i].iov_len);
            return {};
        }
        offset += static_cast<uint64_t>(done);
        advance_iov(v, i, static_cast<size_t>(done));
    }
    return {};
}

Result<void> Qcow2File::read(void* buf, size_t len, uint64_t offset) const {
    std::vector<iovec> v{{buf, len}};
    return transfer(v, offset, false);
}

Result<void> Qcow2File::readv(std::vector<iovec> v, uint64_t offset) const { return transfer(v, offset, false); }

Result<void> Qcow2File::write(const void* buf, size_t len, uint64_t offset) {
    std::vector<iovec> v{{const_cast<void*>(buf), len}};
    return writev(std::move(v), offset);
}

Result<void> Qcow2File::writev(std::vector<iovec> v, uint64_t offset) {
    uint64_t total = 0;
    for (const iovec& e : v) total += e.iov_len;
    if (auto r = transfer(v, offset, true); !r) return r;
    size_ = std::max(size_, offset + total);
    return {};
}

Result<void> Qcow2File::sync() {
    if (::fdatasync(fd_.get()) != 0) return error(fmt::format("fdatasync: {}", std::strerror(errno)));
    return {};
}

} // namespace hv::dev
