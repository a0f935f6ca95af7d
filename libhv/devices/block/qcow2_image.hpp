// Qcow2Image: a qcow2 disk image (QEMU's docs/interop/qcow2.txt) as a
// BlockBackend. Reads: L1 -> L2 lookup through a bounded L2 table cache;
// unallocated clusters from the backing file (or zeros), zero clusters,
// zlib-compressed clusters. Writes (version 3 images): clusters allocated
// with refcounts (Qcow2Refcounts), copy-on-write for partial clusters from
// whatever they read as before, L2 tables created as needed, every data
// and table write done and synced before a pointer to it is written.
// WRITE_ZEROES and DISCARD set the v3 zero flag on whole clusters.
//
// Backing files are opened read-only, recursively, at most
// Qcow2Options::max_backing_depth deep; a file met twice in one chain is a
// loop and refused. A relative backing name is resolved against the folder
// of the image that names it. The backing format comes from the image's
// backing format extension ("raw" or "qcow2"); without one the backing
// file is probed: the qcow2 magic makes it qcow2, anything else is raw.
//
// Every offset read from the file (L1 and L2 entries, refcount table and
// blocks, data and compressed clusters) is checked before use; a bad one
// is an I/O error naming the disk and the offset, never a wild read.
// One mutex per image: callers may come from several threads.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "devices/block/block_backend.hpp"
#include "devices/block/qcow2_file.hpp"
#include "devices/block/qcow2_header.hpp"
#include "devices/block/qcow2_refcounts.hpp"

namespace hv::dev {

class IovCursor;

struct Qcow2Options {
    // Backing files below the image at most (each holds an fd and caches).
    unsigned max_backing_depth = 16;
};

class Qcow2Image final : public BlockBackend {
public:
    // Opens `path` (a regular file). Read-write needs a version 3 image
    // with 16-bit refcounts, not marked dirty, without internal snapshots
    // or persistent bitmaps; a read-only open takes any image the header
    // decoder accepts. Errors start "disk 'PATH': ".
    static Result<std::unique_ptr<Qcow2Image>> open(const std::string& path, bool read_only, const Qcow2Options& options = {});
    ~Qcow2Image() override;
    Qcow2Image(const Qcow2Image&) = delete;
    Qcow2Image& operator=(const Qcow2Image&) = delete;

    uint64_t size() const override { return header_.size; }
    bool read_only() const override { return read_only_; }
    const std::string& path() const override { return path_; }
    Result<void> read(const iovec* iov, int count, uint64_t offset) override;
    Result<void> write(const iovec* iov, int count, uint64_t offset) override;
    Result<void> flush() override;
    Result<void> discard(uint64_t offset, uint64_t length) override;
    Result<void> write_zeroes(uint64_t offset, uint64_t length, bool unmap) override;

    const Qcow2Header& header() const { return header_; }
    // The backing files this image opened, nearest first (resolved paths).
    std::vector<std::string> backing_paths() const;

private:
    struct Chain;
    enum class Kind : uint8_t { unallocated, zero, data, compressed };
    struct Mapping {
        Kind kind = Kind::unallocated;
        uint64_t host = 0;  // the host cluster (data, zero), or the compressed bytes' offset
        uint64_t bytes = 0; // compressed bytes
    };
    struct L2Slot {
        uint64_t offset = 0;
        uint64_t used = 0;
        std::vector<uint64_t> entries;
    };
    struct Step; // one cluster of a write (qcow2_image.cpp)

    Qcow2Image(Qcow2File file, Qcow2Header header, std::string path, bool read_only);
    static Result<std::unique_ptr<Qcow2Image>> open_in_chain(const std::string& path, bool read_only, Chain& chain,
                                                             const std::string& label);
    static Result<std::unique_ptr<BlockBackend>> open_backing(Qcow2Image& parent, Chain& chain);
    Result<void> prepare_writes();

    Error corrupt(const std::string& what) const;
    Result<void> check_range(uint64_t offset, uint64_t length) const;
    Result<uint64_t> l2_offset(uint64_t l1_index, bool writing) const;
    Result<std::vector<uint64_t>*> l2_table(uint64_t offset);
    L2Slot& l2_slot(uint64_t offset);
    void free_old(const Mapping& m);
    Result<uint64_t> l2_entry(uint64_t guest, bool writing);
    Result<Mapping> classify(uint64_t entry, uint64_t guest) const;
    Result<const uint8_t*> decompress(const Mapping& m, uint64_t guest);
    Result<void> read_backing(uint64_t guest, uint64_t n, IovCursor& cur);
    Result<void> cluster_source(uint64_t guest, const Mapping& old, uint8_t* out);
    Result<void> write_chunk(uint64_t offset, uint64_t length, IovCursor& cur);
    Result<void> zero_clusters(uint64_t guest, uint64_t count, bool unmap);
    Result<void> check_not_metadata(uint64_t host, uint64_t bytes) const;
    Result<void> flush_locked();
    Result<void> sync_if_needed();

    mutable std::mutex mu_;
    Qcow2File file_;
    Qcow2Header header_;
    std::string path_;
    bool read_only_;
    uint64_t cluster_;
    std::vector<uint64_t> l1_;
    std::vector<L2Slot> l2_cache_;
    size_t l2_cache_cap_;
    uint64_t tick_ = 0;
    std::optional<Qcow2Refcounts> refs_; // read-write images only
    std::unique_ptr<BlockBackend> backing_;
    const Qcow2Image* backing_qcow2_ = nullptr; // backing_, when it is a qcow2 image
    uint64_t decompressed_at_ = ~uint64_t{0};  // the compressed offset dc_ holds
    std::vector<uint8_t> decompressed_;
    std::vector<uint8_t> scratch_; // one cluster, for copy-on-write
};

} // namespace hv::dev
