// Fuzz target for qcow2 images (libhv/devices/block/qcow2_*.cpp): the
// bytes of a disk image file a domain config names, which whoever made
// the image controls. The input is the whole file; it goes into a memfd,
// which Qcow2Image opens through /proc/self/fd like any path (backing
// files are refused here: max_backing_depth 0, so no host file is ever
// looked at). Read-only first: a few reads (the start, around cluster
// boundaries, the disk's end, two places the input picks, one across
// three iovecs), each twice. Then, when the image opens read-write, a few
// writes, zeroes, a discard, a flush and a read, and the close (which
// applies deferred frees). Besides "no crash" (and no sanitizer report):
//   - a refusal is bad_image, not_supported, invalid_argument or io_error,
//     and its message starts "disk 'PATH'";
//   - an image that opens has the header decode_qcow2_header reads from
//     the same bytes, and its size;
//   - a read inside the disk succeeds or is an io_error naming the disk;
//     the same read again gives the same answer and the same bytes;
//   - writes, zeroes, discards and flushes succeed or are io_errors
//     naming the disk;
//   - no fd is left open.
//
// Built two ways: as a libFuzzer binary (tests/fuzz/meson.build, with
// HV_LIBFUZZER defined) and into the unit tests, whose smoke test calls
// hv::fuzz::qcow2_fuzz_check directly.
#include <dirent.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "devices/block/qcow2_header.hpp"
#include "devices/block/qcow2_image.hpp"

#include "fuzz_check.hpp"
#include "qcow2_fuzz.hpp"

namespace hv::fuzz {
namespace {

using dev::Qcow2Image;

constexpr uint64_t kMaxRead = 128 * 1024;

size_t open_fds() {
    size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d) != nullptr) ++n;
        ::closedir(d);
    }
    return n;
}

// The memfd holding the input, closed on every way out.
struct MemFd {
    int fd = -1;
    ~MemFd() {
        if (fd >= 0) ::close(fd);
    }
};

bool names_disk(const Error& e, const std::string& path) { return e.message.rfind("disk '" + path + "'", 0) == 0; }

uint64_t mix(const uint8_t* data, size_t size, uint64_t salt) {
    uint64_t h = 0xcbf29ce484222325ull ^ salt;
    for (size_t i = size > 64 ? size - 64 : 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

struct Range {
    uint64_t offset;
    uint64_t length;
};

// Reads `r` into three iovecs of uneven sizes.
Result<void> read3(Qcow2Image& image, const Range& r, std::vector<uint8_t>& out) {
    out.assign(static_cast<size_t>(r.length), 0x5a);
    const size_t a = static_cast<size_t>(r.length / 3), b = static_cast<size_t>(r.length / 2);
    iovec v[3] = {{out.data(), a}, {out.data() + a, b - a}, {out.data() + b, out.size() - b}};
    return image.read(v, 3, r.offset);
}

// Errors a refusal to open may carry.
bool refusal_code(Errc c) {
    return c == Errc::bad_image || c == Errc::not_supported || c == Errc::invalid_argument || c == Errc::io_error;
}

// The read-only pass: "" or what broke; `opened` false when refused.
std::string read_only_pass(const std::string& path, const uint8_t* data, size_t size, Qcow2FuzzStats& stats, bool& opened,
                           std::vector<Range>& ranges, uint64_t& cluster) {
    dev::Qcow2Options options;
    options.max_backing_depth = 0;
    auto ro = Qcow2Image::open(path, true, options);
    opened = ro.ok();
    if (!ro) {
        HV_FUZZ_CHECK(refusal_code(ro.error().code), "a refusal with an unexpected code");
        HV_FUZZ_CHECK(names_disk(ro.error(), path), "a refusal that does not name the disk");
        ++stats.refused;
        return {};
    }
    ++stats.opened;
    Qcow2Image& image = **ro;
    auto header = dev::decode_qcow2_header(
        std::span<const uint8_t>(data, std::min<size_t>(size, static_cast<size_t>(dev::kQcow2HeaderReadBytes))), size);
    HV_FUZZ_CHECK(header.ok(), "the image opened but its header does not decode");
    HV_FUZZ_CHECK(image.size() == header->size && image.header().l1_size == header->l1_size, "the image's size is not its header's");
    HV_FUZZ_CHECK(image.read_only() && image.path() == path, "read_only() or path() wrong");

    const uint64_t disk = image.size();
    cluster = header->cluster_size();
    const auto add = [&](uint64_t offset, uint64_t length) {
        offset &= ~uint64_t{511};
        if (offset >= disk) return;
        length = std::min({length, disk - offset, kMaxRead});
        if (length > 0) ranges.push_back({offset, length});
    };
    add(0, 4096);
    for (uint64_t k = 1; k <= 3; ++k) add(k * cluster - 512, 1024);
    add(disk - std::min(disk, uint64_t{8192}), 8192);
    add(mix(data, size, 1) % (disk + 1), 512 + mix(data, size, 2) % 16384);
    add(mix(data, size, 3) % (std::min(disk, cluster * 64) + 1), 2 * cluster);
    std::vector<uint8_t> first, again;
    for (const Range& r : ranges) {
        auto a = read3(image, r, first);
        auto b = read3(image, r, again);
        HV_FUZZ_CHECK(a.ok() == b.ok(), "the same read succeeded once and failed once");
        if (a.ok()) {
            HV_FUZZ_CHECK(first == again, "the same read gave different bytes");
            ++stats.reads_ok;
        } else {
            HV_FUZZ_CHECK(a.error().code == Errc::io_error && names_disk(a.error(), path),
                          "a read error that is not an I/O error naming the disk");
            ++stats.read_errors;
        }
    }
    return {};
}

// The read-write pass, on what the read-only pass found.
std::string read_write_pass(const std::string& path, const uint8_t* data, size_t size, Qcow2FuzzStats& stats,
                            const std::vector<Range>& ranges, uint64_t cluster) {
    dev::Qcow2Options options;
    options.max_backing_depth = 0;
    auto rw = Qcow2Image::open(path, false, options);
    if (!rw) {
        HV_FUZZ_CHECK(refusal_code(rw.error().code), "a read-write refusal with an unexpected code");
        HV_FUZZ_CHECK(names_disk(rw.error(), path), "a read-write refusal that does not name the disk");
        return {};
    }
    ++stats.rw_opened;
    Qcow2Image& w = **rw;
    const uint64_t disk = w.size();
    const auto done = [&](const Result<void>& r) -> bool {
        if (r.ok()) {
            ++stats.writes_ok;
            return true;
        }
        if (r.error().code != Errc::io_error || !names_disk(r.error(), path)) return false;
        ++stats.write_errors;
        return true;
    };
    std::vector<uint8_t> buf(16384, 0xc3);
    // `op` on [offset, offset + length) clipped to the disk, sector-aligned.
    const auto on = [&](uint64_t offset, uint64_t length, auto&& op) {
        offset &= ~uint64_t{511};
        if (offset >= disk) return true;
        return done(op(offset, std::min(length, disk - offset)));
    };
    const auto write_op = [&](uint64_t offset, uint64_t length) {
        iovec v{buf.data(), static_cast<size_t>(std::min<uint64_t>(length, buf.size()))};
        return w.write(&v, 1, offset);
    };
    const uint64_t h = mix(data, size, 4);
    HV_FUZZ_CHECK(on(0, 4096, write_op), "a write error that is not an I/O error naming the disk");
    HV_FUZZ_CHECK(on(h % (disk + 1), 512 + (h >> 20) % 8192, write_op), "a write error that is not an I/O error naming the disk");
    HV_FUZZ_CHECK(on((h >> 7) % (disk + 1), cluster + 512, [&](uint64_t o, uint64_t l) { return w.write_zeroes(o, l, (h & 1) != 0); }),
                  "a write_zeroes error that is not an I/O error naming the disk");
    HV_FUZZ_CHECK(on((h >> 13) % (disk + 1), 2 * cluster, [&](uint64_t o, uint64_t l) { return w.discard(o, l); }),
                  "a discard error that is not an I/O error naming the disk");
    HV_FUZZ_CHECK(done(w.flush()), "a flush error that is not an I/O error naming the disk");
    std::vector<uint8_t> back;
    for (const Range& r : ranges) {
        auto a = read3(w, r, back);
        HV_FUZZ_CHECK(a.ok() || (a.error().code == Errc::io_error && names_disk(a.error(), path)),
                      "a read error that is not an I/O error naming the disk");
    }
    return {};
}

} // namespace

std::string qcow2_fuzz_check(const uint8_t* data, size_t size, Qcow2FuzzStats& stats) {
    if (size > kQcow2FuzzMaxInput) return {};
    const size_t fds = open_fds();
    std::string broken;
    {
        MemFd mem;
        mem.fd = ::memfd_create("qcow2_fuzz", MFD_CLOEXEC);
        HV_FUZZ_CHECK(mem.fd >= 0, "memfd_create failed");
        for (size_t at = 0; at < size;) {
            const ssize_t n = ::pwrite(mem.fd, data + at, size - at, static_cast<off_t>(at));
            HV_FUZZ_CHECK(n > 0, "writing the memfd failed");
            at += static_cast<size_t>(n);
        }
        const std::string path = "/proc/self/fd/" + std::to_string(mem.fd);
        bool opened = false;
        std::vector<Range> ranges;
        uint64_t cluster = 0;
        broken = read_only_pass(path, data, size, stats, opened, ranges, cluster);
        if (broken.empty() && opened) broken = read_write_pass(path, data, size, stats, ranges, cluster);
    }
    HV_FUZZ_CHECK(broken.empty(), broken);
    HV_FUZZ_CHECK(open_fds() == fds, "an fd leaked");
    return {};
}

} // namespace hv::fuzz

int hv_qcow2_fuzz_one(const uint8_t* data, size_t size) {
    return hv::fuzz::run_or_abort("qcow2_fuzz", hv::fuzz::qcow2_fuzz_check, data, size);
}

#ifdef HV_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return hv_qcow2_fuzz_one(data, size); }
#endif
