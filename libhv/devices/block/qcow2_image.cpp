#include "devices/block/qcow2_image.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <zlib.h>

#include "devices/block/iov_cursor.hpp"
#include "devices/block/raw_file.hpp"

namespace hv::dev {

namespace {

constexpr uint64_t kCopied = uint64_t{1} << 63;     // refcount exactly 1: written in place
constexpr uint64_t kCompressed = uint64_t{1} << 62; // L2 entry: a compressed cluster
constexpr uint64_t kZero = 1;                       // L2 entry (v3): reads as zeros
constexpr uint64_t kOffsetMask = 0x00fffffffffffe00;
constexpr uint64_t kL1Reserved = 0x7f000000000001ff;
constexpr uint64_t kL2Reserved = 0x3f000000000001fe;
// L2 tables cached: up to 32, in at most 4 MiB (two 2 MiB tables).
constexpr size_t kL2CacheBytes = size_t{4} << 20;
constexpr size_t kL2CacheMax = 32;

} // namespace

// Where a chain of backing files has been, to refuse loops and depth.
struct Qcow2Image::Chain {
    std::string top;
    std::vector<std::pair<dev_t, ino_t>> seen;
    unsigned depth = 0; // of the image being opened; 0 is the disk itself
    unsigned max_depth = 0;
};

Qcow2Image::Qcow2Image(Qcow2File file, Qcow2Header header, std::string path, bool read_only)
    : file_(std::move(file)), header_(std::move(header)), path_(std::move(path)), read_only_(read_only),
      cluster_(header_.cluster_size()),
      l2_cache_cap_(std::clamp<size_t>(kL2CacheBytes / static_cast<size_t>(header_.cluster_size()), 2, kL2CacheMax)) {}

Qcow2Image::~Qcow2Image() {
    std::lock_guard lock(mu_);
    if (!refs_) return;
    (void)flush_locked(); // a failure here has no one left to tell; the next open sees what reached the disk
}

Result<std::unique_ptr<Qcow2Image>> Qcow2Image::open(const std::string& path, bool read_only, const Qcow2Options& options) {
    Chain chain;
    chain.top = path;
    chain.max_depth = options.max_backing_depth;
    return open_in_chain(path, read_only, chain, fmt::format("disk '{}'", path));
}

Result<std::unique_ptr<Qcow2Image>> Qcow2Image::open_in_chain(const std::string& path, bool read_only, Chain& chain,
                                                              const std::string& label) {
    auto file = Qcow2File::open(path, read_only, label);
    if (!file) return file.error();
    for (const auto& [dev, ino] : chain.seen)
        if (dev == file->device() && ino == file->inode())
            return make_error(Errc::invalid_argument, label + ": a backing file loop: this file is already in the chain");
    chain.seen.emplace_back(file->device(), file->inode());

    std::vector<uint8_t> first(static_cast<size_t>(std::min(file->size(), kQcow2HeaderReadBytes)));
    if (auto r = file->read(first.data(), first.size(), 0); !r) return r.error();
    auto header = decode_qcow2_header(first, file->size());
    if (!header) return make_error(header.error().code, label + ": " + header.error().message);
    first = {};

    std::unique_ptr<Qcow2Image> image(new Qcow2Image(std::move(*file), std::move(*header), path, read_only));
    const Qcow2Header& h = image->header_;
    if (!read_only) {
        const auto refuse = [&](const std::string& why) { return make_error(Errc::not_supported, label + ": " + why); };
        if (h.dirty())
            return refuse("the image is marked dirty (refcounts may be stale after a crash): hv opens it read-only only; "
                          "it needs `qemu-img check -r all` first");
        if (h.version != 3)
            return refuse("a version 2 image is read-only in hv (`qemu-img amend -f qcow2 -o compat=1.1` upgrades it)");
        if (h.refcount_order != 4)
            return refuse(fmt::format("{}-bit refcounts: hv writes only 16-bit refcounts (qemu-img's default)", 1u << h.refcount_order));
        if (h.nb_snapshots != 0)
            return refuse(fmt::format("the image has {} internal snapshots: hv opens such images read-only only", h.nb_snapshots));
        if (h.has_bitmaps) return refuse("the image has persistent dirty bitmaps: hv opens such images read-only only");
    }

    // The active L1 table, whole (bounded by the decoder: at most 32 MiB).
    std::vector<uint8_t> raw(static_cast<size_t>(h.l1_size) * 8);
    if (auto r = image->file_.read(raw.data(), raw.size(), h.l1_table_offset); !r) return r.error();
    image->l1_.resize(h.l1_size);
    for (size_t i = 0; i < image->l1_.size(); ++i) image->l1_[i] = qcow2_be(raw.data() + 8 * i, 8);
    raw = {};

    if (!h.backing_file.empty()) {
        auto backing = open_backing(*image, chain);
        if (!backing) return backing.error();
        image->backing_ = std::move(*backing);
    }
    if (!read_only)
        if (auto r = image->prepare_writes(); !r) return r.error();
    return image;
}

namespace {

// `name` (from the image at `image`) as a path: absolute as it is, else
// against the image's folder, and absolute (against the current folder)
// in any case: what hvd checks permissions on is what is opened.
Result<std::string> resolve_backing(const std::string& image, const std::string& name) {
    if (name.rfind("json:", 0) == 0 || name.find("://") != std::string::npos)
        return make_error(Errc::not_supported,
                          fmt::format("backing file '{}' is not a file name (json: and protocols are not supported)", qcow2_printable(name)));
    std::string joined = name;
    if (name[0] != '/') {
        const size_t slash = image.rfind('/');
        joined = (slash == std::string::npos ? std::string() : image.substr(0, slash + 1)) + name;
    }
    if (joined[0] != '/') {
        char cwd[4096];
        if (::getcwd(cwd, sizeof cwd) == nullptr)
            return make_error(Errc::io_error, fmt::format("backing file '{}': the current folder: {}", qcow2_printable(name), std::strerror(errno)));
        joined = std::string(cwd) + "/" + joined;
    }
    return joined;
}

bool qcow2_magic(BlockBackend& file) {
    if (file.size() < 4) return false;
    uint8_t magic[4] = {};
    iovec v{magic, sizeof magic};
    return file.read(&v, 1, 0).ok() && qcow2_be(magic, 4) == kQcow2Magic;
}

} // namespace

Result<std::unique_ptr<BlockBackend>> Qcow2Image::open_backing(Qcow2Image& parent, Chain& chain) {
    const std::string top = fmt::format("disk '{}'", chain.top);
    auto resolved = resolve_backing(parent.path_, parent.header_.backing_file);
    if (!resolved)
        return make_error(resolved.error().code, fmt::format("{}: image '{}': {}", top, qcow2_printable(parent.path_), resolved.error().message));
    const std::string& path = *resolved;
    const std::string label = fmt::format("{}: backing file '{}' (named by '{}')", top, qcow2_printable(path), qcow2_printable(parent.path_));
    if (chain.depth + 1 > chain.max_depth)
        return make_error(Errc::invalid_argument, fmt::format("{}: the backing chain is deeper than {} files", label, chain.max_depth));

    std::string format = parent.header_.backing_format;
    std::unique_ptr<RawFile> raw;
    if (format.empty() || format == "raw") {
        auto f = RawFile::open(path, true);
        if (!f) return make_error(f.error().code, label + ": " + f.error().message);
        // A raw backing file that is an image of this chain would show
        // the guest that image's metadata.
        struct stat st{};
        if (::stat(path.c_str(), &st) == 0)
            for (const auto& [dev, ino] : chain.seen)
                if (dev == st.st_dev && ino == st.st_ino)
                    return make_error(Errc::invalid_argument, label + ": a backing file loop: this file is already in the chain");
        if (format.empty()) format = qcow2_magic(**f) ? "qcow2" : "raw"; // probed: see the header's comment
        if (format == "raw") return std::unique_ptr<BlockBackend>(std::move(*f));
    }
    if (format != "qcow2")
        return make_error(Errc::not_supported,
                          fmt::format("{}: backing format '{}' is not supported (raw and qcow2 are)", label, qcow2_printable(format)));
    ++chain.depth;
    auto image = open_in_chain(path, true, chain, label);
    --chain.depth;
    if (!image) return image.error();
    parent.backing_qcow2_ = image->get();
    return std::unique_ptr<BlockBackend>(std::move(*image));
}

// Read-write only: the refcounts, and the metadata clusters the header
// names checked to be counted (an image whose refcounts miss them would
// have hv allocate over them); unknown autoclear features cleared, as
// the spec asks of a writer that does not keep them.
Result<void> Qcow2Image::prepare_writes() {
    auto refs = Qcow2Refcounts::load(file_, header_);
    if (!refs) return refs.error();
    refs_.emplace(std::move(*refs));
    const auto counted = [&](uint64_t offset, uint64_t bytes, const char* what) -> Result<void> {
        if (bytes == 0) return {};
        for (uint64_t at = offset & ~(cluster_ - 1); at < offset + bytes; at += cluster_) {
            auto n = refs_->get(at);
            if (!n) return n.error();
            if (*n == 0)
                return make_error(Errc::not_supported,
                                  fmt::format("{}: the {} at 0x{:x} has refcount 0 (the refcounts are inconsistent): hv opens it "
                                              "read-only only; `qemu-img check -r all` repairs it",
                                              file_.label(), what, at));
        }
        return {};
    };
    if (auto r = counted(0, cluster_, "header"); !r) return r;
    if (auto r = counted(header_.l1_table_offset, uint64_t{header_.l1_size} * 8, "L1 table"); !r) return r;
    if (auto r = counted(header_.refcount_table_offset, uint64_t{header_.refcount_table_clusters} * cluster_, "refcount table"); !r)
        return r;
    if (header_.autoclear_features != 0) {
        uint8_t zero[8] = {};
        if (auto r = file_.write(zero, sizeof zero, 88); !r) return r;
        if (auto r = file_.sync(); !r) return r;
        header_.autoclear_features = 0;
    }
    return {};
}

std::vector<std::string> Qcow2Image::backing_paths() const {
    std::vector<std::string> out;
    for (const Qcow2Image* at = this; at != nullptr && at->backing_; at = at->backing_qcow2_) out.push_back(at->backing_->path());
    return out;
}

Error Qcow2Image::corrupt(const std::string& what) const { return file_.error("qcow2: " + what); }

Result<void> Qcow2Image::check_range(uint64_t offset, uint64_t length) const {
    if (offset > header_.size || length > header_.size - offset)
        return make_error(Errc::invalid_argument,
                          fmt::format("{}: {} bytes at {} is past the end of the disk ({} bytes)", file_.label(), length, offset, header_.size));
    return {};
}

// The L2 table of L1 entry `l1_index`, or 0 when it has none.
Result<uint64_t> Qcow2Image::l2_offset(uint64_t l1_index, bool writing) const {
    const uint64_t e = l1_[static_cast<size_t>(l1_index)];
    if ((e & kL1Reserved) != 0) return corrupt(fmt::format("L1 entry {} (0x{:x}) has reserved bits set", l1_index, e));
    const uint64_t offset = e & kOffsetMask;
    if (offset == 0) return uint64_t{0};
    if ((offset & (cluster_ - 1)) != 0 || offset < cluster_ || offset >= file_.size())
        return corrupt(fmt::format("L1 entry {} points to 0x{:x}, unaligned or outside the file (size {})", l1_index, offset, file_.size()));
    if (writing && (e & kCopied) == 0)
        return corrupt(fmt::format("the L2 table at 0x{:x} is shared (L1 entry {} lacks the COPIED flag): hv does not copy L2 tables",
                                   offset, l1_index));
    return offset;
}

Result<std::vector<uint64_t>*> Qcow2Image::l2_table(uint64_t offset) {
    for (L2Slot& s : l2_cache_)
        if (s.offset == offset) {
            s.used = ++tick_;
            return &s.entries;
        }
    std::vector<uint8_t> raw(static_cast<size_t>(cluster_));
    if (auto r = file_.read(raw.data(), raw.size(), offset); !r) return r.error();
    L2Slot& slot = l2_slot(offset);
    slot.entries.resize(raw.size() / 8);
    for (size_t i = 0; i < slot.entries.size(); ++i) slot.entries[i] = qcow2_be(raw.data() + 8 * i, 8);
    return &slot.entries;
}

// A cache slot for the table at `offset`: its own, a free one, or the
// least recently used one's.
Qcow2Image::L2Slot& Qcow2Image::l2_slot(uint64_t offset) {
    L2Slot* slot = nullptr;
    for (L2Slot& s : l2_cache_)
        if (s.offset == offset) slot = &s;
    if (slot == nullptr && l2_cache_.size() < l2_cache_cap_) slot = &l2_cache_.emplace_back();
    if (slot == nullptr)
        slot = &*std::min_element(l2_cache_.begin(), l2_cache_.end(), [](const L2Slot& a, const L2Slot& b) { return a.used < b.used; });
    slot->offset = offset;
    slot->used = ++tick_;
    return *slot;
}

Result<uint64_t> Qcow2Image::l2_entry(uint64_t guest, bool writing) {
    const uint64_t cluster = guest / cluster_;
    const uint64_t per_table = cluster_ / 8;
    auto table = l2_offset(cluster / per_table, writing);
    if (!table) return table.error();
    if (*table == 0) return uint64_t{0};
    auto t = l2_table(*table);
    if (!t) return t.error();
    return (**t)[static_cast<size_t>(cluster % per_table)];
}

Result<Qcow2Image::Mapping> Qcow2Image::classify(uint64_t entry, uint64_t guest) const {
    const uint64_t file_size = file_.size();
    if ((entry & kCompressed) != 0) {
        if ((entry & kCopied) != 0) return corrupt(fmt::format("the L2 entry for guest offset 0x{:x} is compressed and COPIED", guest));
        const uint32_t x = 62 - (header_.cluster_bits - 8);
        const uint64_t host = entry & ((uint64_t{1} << x) - 1);
        const uint64_t sectors = ((entry >> x) & ((uint64_t{1} << (header_.cluster_bits - 8)) - 1)) + 1;
        if (host < cluster_ || host >= file_size)
            return corrupt(fmt::format("the compressed cluster for guest offset 0x{:x} is at 0x{:x}, outside the file (size {})", guest,
                                       host, file_size));
        return Mapping{Kind::compressed, host, sectors * 512 - (host & 511)};
    }
    const uint64_t reserved = kL2Reserved | (header_.version == 2 ? kZero : 0);
    if ((entry & reserved) != 0) return corrupt(fmt::format("the L2 entry for guest offset 0x{:x} (0x{:x}) has reserved bits set", guest, entry));
    const uint64_t host = entry & kOffsetMask;
    const Kind kind = (entry & kZero) != 0 ? Kind::zero : Kind::data;
    if (host == 0) {
        if ((entry & kCopied) != 0)
            return corrupt(fmt::format("the L2 entry for guest offset 0x{:x} has offset 0 and COPIED (an external data file)", guest));
        return Mapping{kind == Kind::zero ? Kind::zero : Kind::unallocated, 0, 0};
    }
    if ((host & (cluster_ - 1)) != 0 || host < cluster_ || host >= file_size)
        return corrupt(fmt::format("the L2 entry for guest offset 0x{:x} points to 0x{:x}, unaligned or outside the file (size {})", guest,
                                   host, file_size));
    return Mapping{kind, host, 0};
}

// The compressed cluster `m` inflated into decompressed_ (the last one is
// kept: small sequential reads of one cluster inflate it once). Raw
// deflate as QEMU writes it; a 15-bit window reads QEMU's 12-bit streams
// and any other. Bad data is an I/O error.
Result<const uint8_t*> Qcow2Image::decompress(const Mapping& m, uint64_t guest) {
    if (decompressed_at_ == m.host) return decompressed_.data();
    const uint64_t bytes = std::min(m.bytes, file_.size() - m.host);
    std::vector<uint8_t> in(static_cast<size_t>(bytes));
    if (auto r = file_.read(in.data(), in.size(), m.host); !r) return r.error();
    decompressed_.resize(static_cast<size_t>(cluster_));
    decompressed_at_ = ~uint64_t{0};
    z_stream z{};
    if (inflateInit2(&z, -15) != Z_OK) return corrupt("zlib: inflateInit2 failed");
    z.next_in = in.data();
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = decompressed_.data();
    z.avail_out = static_cast<uInt>(decompressed_.size());
    const int ret = inflate(&z, Z_FINISH);
    const bool full = z.avail_out == 0;
    inflateEnd(&z);
    // Done when a whole cluster came out; the stream may go on (the
    // sector's tail), or end exactly there.
    if (!full || (ret != Z_STREAM_END && ret != Z_OK && ret != Z_BUF_ERROR))
        return corrupt(fmt::format("the compressed cluster for guest offset 0x{:x} (at 0x{:x}, {} bytes) does not inflate to a cluster",
                                   guest, m.host, bytes));
    decompressed_at_ = m.host;
    return decompressed_.data();
}

Result<void> Qcow2Image::read_backing(uint64_t guest, uint64_t n, IovCursor& cur) {
    const uint64_t there = backing_ && guest < backing_->size() ? std::min(n, backing_->size() - guest) : 0;
    if (there > 0) {
        std::vector<iovec> v = cur.take(there);
        if (auto r = backing_->read(v.data(), static_cast<int>(v.size()), guest); !r) return r;
    }
    cur.zero(n - there); // past the backing file's end, or no backing file: zeros
    return {};
}

Result<void> Qcow2Image::read(const iovec* iov, int count, uint64_t offset) {
    IovCursor cur(iov, count);
    if (auto r = check_range(offset, cur.total()); !r) return r;
    std::lock_guard lock(mu_);
    uint64_t left = cur.total();
    // Data clusters that follow each other in the file are read at once.
    uint64_t run_host = 0, run_bytes = 0;
    const auto flush_run = [&]() -> Result<void> {
        if (run_bytes == 0) return {};
        const uint64_t n = std::exchange(run_bytes, 0);
        return file_.readv(cur.take(n), run_host);
    };
    while (left > 0) {
        const uint64_t in = offset & (cluster_ - 1);
        const uint64_t n = std::min(left, cluster_ - in);
        auto entry = l2_entry(offset, false);
        if (!entry) return entry.error();
        auto m = classify(*entry, offset - in);
        if (!m) return m.error();
        if (m->kind == Kind::data && run_bytes > 0 && run_host + run_bytes == m->host + in) {
            run_bytes += n;
        } else {
            if (auto r = flush_run(); !r) return r;
            switch (m->kind) {
            case Kind::data:
                run_host = m->host + in;
                run_bytes = n;
                break;
            case Kind::zero: cur.zero(n); break;
            case Kind::unallocated:
                if (auto r = read_backing(offset, n, cur); !r) return r;
                break;
            case Kind::compressed: {
                auto c = decompress(*m, offset - in);
                if (!c) return c.error();
                cur.copy_in(*c + in, n);
                break;
            }
            }
        }
        offset += n;
        left -= n;
    }
    return flush_run();
}

// What guest cluster `guest` reads as before a write replaces it (`old`),
// into `out` (one cluster): the copy-on-write source.
Result<void> Qcow2Image::cluster_source(uint64_t guest, const Mapping& old, uint8_t* out) {
    switch (old.kind) {
    case Kind::zero: std::memset(out, 0, static_cast<size_t>(cluster_)); return {};
    case Kind::data: return file_.read(out, static_cast<size_t>(cluster_), old.host);
    case Kind::compressed: {
        auto c = decompress(old, guest);
        if (!c) return c.error();
        std::memcpy(out, *c, static_cast<size_t>(cluster_));
        return {};
    }
    case Kind::unallocated: break;
    }
    iovec v{out, static_cast<size_t>(cluster_)};
    IovCursor cur(&v, 1);
    return read_backing(guest, cluster_, cur);
}

// Writing in place over the header, the L1 table or the refcount table
// (an L2 entry of a hostile image pointing there) is refused.
Result<void> Qcow2Image::check_not_metadata(uint64_t host, uint64_t bytes) const {
    const auto overlaps = [&](uint64_t at, uint64_t len) { return host < at + len && at < host + bytes; };
    if (overlaps(0, cluster_) || overlaps(header_.l1_table_offset, uint64_t{header_.l1_size} * 8) ||
        (refs_ && overlaps(refs_->table_offset(), refs_->table_bytes())))
        return corrupt(fmt::format("refusing to write guest data over the image's metadata at 0x{:x}", host));
    return {};
}

Result<void> Qcow2Image::sync_if_needed() {
    if (!refs_->unsynced()) return {};
    if (auto r = file_.sync(); !r) return r;
    refs_->mark_synced();
    return {};
}

} // namespace hv::dev
