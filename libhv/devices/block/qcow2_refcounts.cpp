#include "devices/block/qcow2_refcounts.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace hv::dev {

namespace {

constexpr uint64_t kOffsetMask = 0x00fffffffffffe00; // bits 9-55; the format's limit for any offset
constexpr size_t kCacheBytes = size_t{4} << 20;
constexpr int kGrowRounds = 16;

} // namespace

Qcow2Refcounts::Qcow2Refcounts(Qcow2File& file, const Qcow2Header& h, std::vector<uint64_t> table)
    : file_(&file), cluster_bits_(h.cluster_bits), cluster_(h.cluster_size()), per_block_(h.cluster_size() / 2),
      table_offset_(h.refcount_table_offset), table_(std::move(table)),
      cache_cap_(std::clamp<size_t>(kCacheBytes / static_cast<size_t>(h.cluster_size()), 2, 8)) {}

Result<Qcow2Refcounts> Qcow2Refcounts::load(Qcow2File& file, const Qcow2Header& h) {
    // Decoded: at most kQcow2MaxRefcountTableBytes, inside the file.
    const uint64_t bytes = uint64_t{h.refcount_table_clusters} * h.cluster_size();
    std::vector<uint8_t> raw(static_cast<size_t>(bytes));
    if (auto r = file.read(raw.data(), raw.size(), h.refcount_table_offset); !r) return r.error();
    std::vector<uint64_t> table(raw.size() / 8);
    for (size_t i = 0; i < table.size(); ++i) {
        const uint64_t e = qcow2_be(raw.data() + 8 * i, 8);
        if (e != 0 && ((e & (h.cluster_size() - 1)) != 0 || e >= file.size() || e > kOffsetMask))
            return file.error(fmt::format("qcow2: refcount table entry {} (0x{:x}) is unaligned or outside the file (size {})", i, e,
                                          file.size()));
        table[i] = e;
    }
    return Qcow2Refcounts(file, h, std::move(table));
}

uint64_t Qcow2Refcounts::end_cluster() const { return (file_->size() + cluster_ - 1) >> cluster_bits_; }

Qcow2Refcounts::Block& Qcow2Refcounts::insert(uint64_t offset, std::vector<uint16_t> counts) {
    Block* slot = nullptr;
    for (Block& b : cache_)
        if (b.offset == offset) slot = &b;
    if (slot == nullptr && cache_.size() < cache_cap_) slot = &cache_.emplace_back();
    if (slot == nullptr)
        slot = &*std::min_element(cache_.begin(), cache_.end(), [](const Block& a, const Block& b) { return a.used < b.used; });
    slot->offset = offset;
    slot->used = ++tick_;
    slot->counts = std::move(counts);
    return *slot;
}

Result<Qcow2Refcounts::Block*> Qcow2Refcounts::block(uint64_t index) {
    const uint64_t offset = table_[index];
    for (Block& b : cache_)
        if (b.offset == offset) {
            b.used = ++tick_;
            return &b;
        }
    std::vector<uint8_t> raw(static_cast<size_t>(cluster_));
    if (auto r = file_->read(raw.data(), raw.size(), offset); !r) return r.error();
    std::vector<uint16_t> counts(static_cast<size_t>(per_block_));
    for (size_t i = 0; i < counts.size(); ++i) counts[i] = static_cast<uint16_t>(qcow2_be(raw.data() + 2 * i, 2));
    return &insert(offset, std::move(counts));
}

Result<void> Qcow2Refcounts::write_block(uint64_t offset, const std::vector<uint16_t>& counts) {
    std::vector<uint8_t> raw(static_cast<size_t>(cluster_));
    for (size_t i = 0; i < counts.size(); ++i) qcow2_put_be(raw.data() + 2 * i, counts[i], 2);
    return file_->write(raw.data(), raw.size(), offset);
}

Result<uint64_t> Qcow2Refcounts::get(uint64_t offset) {
    const uint64_t cluster = offset >> cluster_bits_;
    const uint64_t index = cluster / per_block_;
    if (index >= table_.size() || table_[index] == 0) return uint64_t{0};
    auto b = block(index);
    if (!b) return b.error();
    return uint64_t{(*b)->counts[static_cast<size_t>(cluster % per_block_)]};
}

Result<void> Qcow2Refcounts::set(uint64_t cluster, uint16_t value) {
    const uint64_t index = cluster / per_block_;
    if (index >= table_.size())
        if (auto r = grow(index + 1, cluster); !r) return r;
    if (auto r = ensure_block(index, cluster); !r) return r;
    auto b = block(index);
    if (!b) return b.error();
    const size_t at = static_cast<size_t>(cluster % per_block_);
    (*b)->counts[at] = value;
    uint8_t raw[2];
    qcow2_put_be(raw, value, 2);
    unsynced_ = true;
    if (value == 0) hint_ = std::min(hint_, std::max<uint64_t>(cluster, 1));
    return file_->write(raw, 2, (*b)->offset + 2 * at);
}

// A refcount block for table entry `index`, which has none: placed inside
// the range it describes (all free, since no block counts anything there),
// past the end of the file when that lies in the range, and never on
// `avoid` (the cluster being allocated).
Result<void> Qcow2Refcounts::ensure_block(uint64_t index, uint64_t avoid) {
    if (table_[index] != 0) return {};
    const uint64_t first = index * per_block_, last = first + per_block_;
    uint64_t pos = std::max(first, end_cluster());
    if (pos >= last) pos = first;
    if (pos == avoid) pos = pos + 1 < last ? pos + 1 : first;
    if (pos == 0) return file_->error("qcow2: refcount block 0 is missing (the header has no refcount): corrupt image");
    std::vector<uint16_t> counts(static_cast<size_t>(per_block_));
    counts[static_cast<size_t>(pos - first)] = 1; // the block counts itself
    const uint64_t offset = pos << cluster_bits_;
    if (offset > kOffsetMask) return file_->error("qcow2: the image would grow past 2^56 bytes");
    // The block reaches the disk before the table points at it.
    if (auto r = write_block(offset, counts); !r) return r;
    if (auto r = file_->sync(); !r) return r;
    uint8_t raw[8];
    qcow2_put_be(raw, offset, 8);
    if (auto r = file_->write(raw, 8, table_offset_ + 8 * index); !r) return r;
    table_[index] = offset;
    unsynced_ = true;
    insert(offset, std::move(counts));
    return {};
}

// A larger refcount table, at least `min_entries` long, placed past every
// cluster the old table covers and past the end of the file (and past
// `avoid`), followed by the refcount blocks that count the new table and
// themselves. Written and synced, then the header points at it (synced),
// then the old table's clusters are freed.
Result<void> Qcow2Refcounts::grow(uint64_t min_entries, uint64_t avoid) {
    const uint64_t old = table_.size();
    const uint64_t per_cluster = cluster_ / 8;
    const uint64_t start = std::max({old * per_block_, end_cluster(), avoid + 1});
    uint64_t want = std::max(min_entries, old + std::max(old / 2, per_cluster));
    uint64_t table_clusters = 0, blocks = 0;
    for (int round = 0;; ++round) {
        if (round == kGrowRounds) return file_->error("qcow2: the refcount table does not settle on a size");
        table_clusters = (want + per_cluster - 1) / per_cluster;
        // Blocks for clusters [start, start + table_clusters + blocks).
        uint64_t b = blocks;
        for (;;) {
            const uint64_t end = start + table_clusters + b;
            const uint64_t need = (end - 1) / per_block_ - start / per_block_ + 1;
            if (need <= b) break;
            b = need;
        }
        blocks = b;
        const uint64_t last_index = (start + table_clusters + blocks - 1) / per_block_;
        if (last_index < table_clusters * per_cluster && want <= table_clusters * per_cluster) break;
        want = std::max(want, last_index + 1);
    }
    if (table_clusters * cluster_ > kQcow2MaxRefcountTableBytes)
        return file_->error(fmt::format("qcow2: the refcount table would grow past {} MiB", kQcow2MaxRefcountTableBytes >> 20));
    if (((start + table_clusters + blocks) << cluster_bits_) > kOffsetMask)
        return file_->error("qcow2: the image would grow past 2^56 bytes");

    std::vector<uint64_t> table(static_cast<size_t>(table_clusters * per_cluster));
    std::copy(table_.begin(), table_.end(), table.begin());
    const uint64_t first_index = start / per_block_;
    for (uint64_t k = 0; k < blocks; ++k) {
        const uint64_t index = first_index + k;
        std::vector<uint16_t> counts(static_cast<size_t>(per_block_));
        for (uint64_t c = std::max(start, index * per_block_); c < std::min(start + table_clusters + blocks, (index + 1) * per_block_); ++c)
            counts[static_cast<size_t>(c % per_block_)] = 1;
        const uint64_t offset = (start + table_clusters + k) << cluster_bits_;
        if (auto r = write_block(offset, counts); !r) return r;
        table[static_cast<size_t>(index)] = offset;
    }
    std::vector<uint8_t> raw(table.size() * 8);
    for (size_t i = 0; i < table.size(); ++i) qcow2_put_be(raw.data() + 8 * i, table[i], 8);
    const uint64_t new_offset = start << cluster_bits_;
    if (auto r = file_->write(raw.data(), raw.size(), new_offset); !r) return r;
    if (auto r = file_->sync(); !r) return r;
    // refcount_table_offset and refcount_table_clusters, side by side in
    // the header: one write.
    uint8_t header[12];
    qcow2_put_be(header, new_offset, 8);
    qcow2_put_be(header + 8, table_clusters, 4);
    if (auto r = file_->write(header, sizeof header, 48); !r) return r;
    if (auto r = file_->sync(); !r) return r;
    const uint64_t old_offset = table_offset_;
    const uint64_t old_clusters = (old + per_cluster - 1) / per_cluster;
    table_offset_ = new_offset;
    table_ = std::move(table);
    for (uint64_t c = 0; c < old_clusters; ++c)
        if (auto r = release(old_offset + (c << cluster_bits_)); !r) return r;
    return {};
}

// The lowest free cluster from the hint on. Searched up to one block's
// range past the end of the file: refcounts that call every cluster up to
// there used are lying (and would otherwise make this loop long).
Result<uint64_t> Qcow2Refcounts::find_free() {
    const uint64_t limit = end_cluster() + per_block_;
    uint64_t i = std::max<uint64_t>(hint_, 1);
    while (i < limit) {
        const uint64_t index = i / per_block_;
        if (index >= table_.size() || table_[index] == 0) return i;
        auto b = block(index);
        if (!b) return b.error();
        const std::vector<uint16_t>& counts = (*b)->counts;
        for (uint64_t j = i % per_block_; j < per_block_; ++j)
            if (counts[static_cast<size_t>(j)] == 0) return index * per_block_ + j;
        i = (index + 1) * per_block_;
    }
    return file_->error("qcow2: no free cluster: the refcounts say every cluster to past the end of the file is in use (corrupt image)");
}

Result<uint64_t> Qcow2Refcounts::allocate() {
    auto c = find_free();
    if (!c) return c.error();
    if ((*c << cluster_bits_) > kOffsetMask) return file_->error("qcow2: the image would grow past 2^56 bytes");
    if (auto r = set(*c, 1); !r) return r.error();
    hint_ = *c + 1;
    return *c << cluster_bits_;
}

Result<void> Qcow2Refcounts::release(uint64_t offset) {
    const uint64_t cluster = offset >> cluster_bits_;
    auto n = get(offset);
    if (!n) return n.error();
    if (*n == 0) return file_->error(fmt::format("qcow2: cluster 0x{:x} is freed but its refcount is already 0 (corrupt image)", offset));
    return set(cluster, static_cast<uint16_t>(*n - 1));
}

void Qcow2Refcounts::defer_free(uint64_t offset, uint64_t bytes) {
    if (bytes == 0) return;
    for (uint64_t c = offset >> cluster_bits_; c <= (offset + bytes - 1) >> cluster_bits_; ++c) deferred_.push_back(c);
}

Result<void> Qcow2Refcounts::apply_deferred() {
    // Every one is tried: one bad entry in a hostile image does not keep
    // the others leaked.
    std::vector<uint64_t> todo;
    todo.swap(deferred_);
    Result<void> first;
    for (uint64_t c : todo)
        if (auto r = release(c << cluster_bits_); !r && first.ok()) first = r;
    return first;
}

} // namespace hv::dev
