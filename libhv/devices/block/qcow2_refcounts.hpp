// Qcow2Refcounts: a writable qcow2 image's cluster allocator, its refcount
// table and refcount blocks (16-bit refcounts only: qemu-img's default and
// the only width hv writes). Loaded only when an image is opened
// read-write; a read-only image never looks at refcounts.
//
// Crash safety is by ordering, never by the dirty bit: a cluster's
// refcount is raised before anything points at it (the caller syncs
// between the two), and lowered only after what pointed at it is gone
// and synced (defer_free, applied after the next sync). A crash then
// leaves at worst clusters with a refcount nothing uses (leaks
// `qemu-img check` reports and `-r leaks` reclaims), never a cluster in
// use with refcount 0. New refcount blocks and a grown refcount table are
// synced before the table or the header points at them.
#pragma once

#include <cstdint>
#include <vector>

#include "devices/block/qcow2_file.hpp"
#include "devices/block/qcow2_header.hpp"

namespace hv::dev {

class Qcow2Refcounts {
public:
    // Reads the refcount table (every entry checked: cluster-aligned,
    // inside the file).
    static Result<Qcow2Refcounts> load(Qcow2File& file, const Qcow2Header& h);

    // The refcount of the cluster at host byte `offset`.
    Result<uint64_t> get(uint64_t offset);
    // A free cluster, its refcount now 1 (written, not synced): the host
    // byte offset. Reuses freed clusters (lowest first), else grows the file.
    Result<uint64_t> allocate();
    // Lowers the refcount of the cluster at `offset` now: only for a
    // cluster nothing on disk points at (an allocation being undone).
    Result<void> release(uint64_t offset);
    // Lowers the refcounts of the clusters [offset, offset + bytes) touches
    // at the next apply_deferred (after the caller's sync).
    void defer_free(uint64_t offset, uint64_t bytes);
    size_t deferred() const { return deferred_.size(); }
    Result<void> apply_deferred();

    // Where the refcount table is now (it moves when it grows).
    uint64_t table_offset() const { return table_offset_; }
    uint64_t table_bytes() const { return table_.size() * 8; }

    // Refcount metadata was written since the last mark_synced().
    bool unsynced() const { return unsynced_; }
    void mark_synced() { unsynced_ = false; }

private:
    struct Block {
        uint64_t offset = 0;
        uint64_t used = 0;
        std::vector<uint16_t> counts;
    };

    Qcow2Refcounts(Qcow2File& file, const Qcow2Header& h, std::vector<uint64_t> table);
    uint64_t end_cluster() const;
    Result<Block*> block(uint64_t index);
    Result<void> set(uint64_t cluster, uint16_t value);
    Result<void> ensure_block(uint64_t index, uint64_t avoid);
    Result<void> grow(uint64_t min_entries, uint64_t avoid);
    Result<uint64_t> find_free();
    Block& insert(uint64_t offset, std::vector<uint16_t> counts);
    Result<void> write_block(uint64_t offset, const std::vector<uint16_t>& counts);

    Qcow2File* file_;
    uint32_t cluster_bits_;
    uint64_t cluster_;
    uint64_t per_block_; // refcounts in one block
    uint64_t table_offset_;
    std::vector<uint64_t> table_;
    std::vector<Block> cache_;
    size_t cache_cap_;
    uint64_t tick_ = 0;
    uint64_t hint_ = 1; // no free cluster below this one (cluster 0 is the header)
    std::vector<uint64_t> deferred_; // cluster indices
    bool unsynced_ = false;
};

} // namespace hv::dev
