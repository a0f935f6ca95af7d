// Qcow2Image's writes: WRITE, WRITE_ZEROES, DISCARD and FLUSH. The order
// on disk for every chunk of a write (see qcow2_refcounts.hpp for why):
//   1. new clusters (data, L2 tables) get refcount 1;
//   2. the data goes to its clusters (new ones whole: copy-on-write fills
//      what the write does not cover), new L2 tables are written whole;
//   3. one fdatasync when anything was allocated;
//   4. the pointers: L2 entries, then L1 entries for new L2 tables;
//   5. clusters no longer pointed at are freed after the next sync.
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "devices/block/iov_cursor.hpp"
#include "devices/block/qcow2_image.hpp"

namespace hv::dev {

namespace {

constexpr uint64_t kCopied = uint64_t{1} << 63;
constexpr uint64_t kZero = 1;
constexpr uint64_t kChunkClusters = 64;       // clusters per ordered chunk: bounded memory
constexpr size_t kMaxDeferredFrees = 4096;    // frees waiting for a sync; past this one is forced

std::vector<uint8_t> encode(const std::vector<uint64_t>& entries, size_t first, size_t count) {
    std::vector<uint8_t> raw(count * 8);
    for (size_t i = 0; i < count; ++i) qcow2_put_be(raw.data() + 8 * i, entries[first + i], 8);
    return raw;
}

} // namespace

struct Qcow2Image::Step {
    uint64_t guest = 0; // the cluster's guest offset
    uint64_t in = 0;    // where the write starts inside it
    uint64_t n = 0;     // bytes the write covers
    uint64_t l1_index = 0;
    uint64_t l2_index = 0;
    uint64_t table = 0; // its L2 table, 0 when the chunk creates one
    Mapping old;        // what the cluster was
    uint64_t host = 0;  // where the data goes
    bool fresh = false; // `host` was allocated for this write
};

void Qcow2Image::free_old(const Mapping& m) {
    switch (m.kind) {
    case Kind::data:
    case Kind::zero: refs_->defer_free(m.host, m.host == 0 ? 0 : cluster_); break;
    case Kind::compressed: refs_->defer_free(m.host & ~uint64_t{511}, m.bytes + (m.host & 511)); break;
    case Kind::unallocated: break;
    }
}

Result<void> Qcow2Image::write_chunk(uint64_t offset, uint64_t length, IovCursor& cur) {
    struct NewTable {
        uint64_t l1_index;
        uint64_t offset;
        std::vector<uint64_t> entries;
    };
    const uint64_t per_table = cluster_ / 8;
    std::vector<Step> steps;
    std::vector<NewTable> tables;
    std::vector<uint64_t> allocated;
    // Until a pointer is written, nothing refers to what was allocated:
    // give it back on failure.
    const auto undo = [&](const Error& e) -> Error {
        for (uint64_t a : allocated) (void)refs_->release(a);
        return e;
    };
    const auto allocate = [&]() -> Result<uint64_t> {
        auto a = refs_->allocate();
        if (a) allocated.push_back(*a);
        return a;
    };

    // 1. Where each cluster goes.
    for (uint64_t at = offset, left = length; left > 0;) {
        Step s;
        s.in = at & (cluster_ - 1);
        s.guest = at - s.in;
        s.n = std::min(left, cluster_ - s.in);
        s.l1_index = s.guest / cluster_ / per_table;
        s.l2_index = s.guest / cluster_ % per_table;
        auto table = l2_offset(s.l1_index, true);
        if (!table) return undo(table.error());
        uint64_t entry = 0;
        if (*table != 0) {
            if (auto r = check_not_metadata(*table, cluster_); !r) return undo(r.error());
            auto t = l2_table(*table);
            if (!t) return undo(t.error());
            entry = (**t)[static_cast<size_t>(s.l2_index)];
            s.table = *table;
        } else if (std::none_of(tables.begin(), tables.end(), [&](const NewTable& t) { return t.l1_index == s.l1_index; })) {
            auto a = allocate();
            if (!a) return undo(a.error());
            tables.push_back(NewTable{s.l1_index, *a, std::vector<uint64_t>(static_cast<size_t>(per_table))});
        }
        auto m = classify(entry, s.guest);
        if (!m) return undo(m.error());
        s.old = *m;
        if (m->kind == Kind::data && (entry & kCopied) != 0) {
            if (auto r = check_not_metadata(m->host, cluster_); !r) return undo(r.error());
            s.host = m->host;
        } else {
            auto a = allocate();
            if (!a) return undo(a.error());
            s.host = *a;
            s.fresh = true;
        }
        steps.push_back(s);
        at += s.n;
        left -= s.n;
    }

    // 2. The data; in-place clusters that follow each other in the file
    // are written at once.
    scratch_.resize(static_cast<size_t>(cluster_));
    for (size_t i = 0; i < steps.size();) {
        const Step& s = steps[i];
        if (s.fresh) {
            if (s.n < cluster_)
                if (auto r = cluster_source(s.guest, s.old, scratch_.data()); !r) return undo(r.error());
            cur.copy_out(scratch_.data() + s.in, s.n);
            if (auto r = file_.write(scratch_.data(), scratch_.size(), s.host); !r) return undo(r.error());
            ++i;
            continue;
        }
        uint64_t bytes = s.n;
        size_t j = i + 1;
        while (j < steps.size() && !steps[j].fresh && steps[j].host + steps[j].in == s.host + s.in + bytes) bytes += steps[j++].n;
        if (auto r = file_.writev(cur.take(bytes), s.host + s.in); !r) return undo(r.error());
        i = j;
    }
    for (NewTable& t : tables) {
        for (const Step& s : steps)
            if (s.table == 0 && s.l1_index == t.l1_index) t.entries[static_cast<size_t>(s.l2_index)] = s.host | kCopied;
        const std::vector<uint8_t> raw = encode(t.entries, 0, t.entries.size());
        if (auto r = file_.write(raw.data(), raw.size(), t.offset); !r) return undo(r.error());
    }

    // 3. Refcounts, data and new tables on disk before anything points at them.
    if (auto r = sync_if_needed(); !r) return undo(r.error());

    // 4. The pointers: runs of neighbouring entries in one table at once.
    // A failure from here on leaks what was allocated (never worse).
    for (size_t i = 0; i < steps.size();) {
        const Step& s = steps[i];
        if (!s.fresh || s.table == 0) {
            ++i;
            continue;
        }
        size_t j = i + 1;
        while (j < steps.size() && steps[j].fresh && steps[j].table == s.table && steps[j].l2_index == steps[j - 1].l2_index + 1) ++j;
        auto t = l2_table(s.table);
        if (!t) return t.error();
        for (size_t k = i; k < j; ++k) (**t)[static_cast<size_t>(steps[k].l2_index)] = steps[k].host | kCopied;
        const std::vector<uint8_t> raw = encode(**t, static_cast<size_t>(s.l2_index), j - i);
        if (auto r = file_.write(raw.data(), raw.size(), s.table + 8 * s.l2_index); !r) return r;
        i = j;
    }
    for (NewTable& t : tables) {
        const uint64_t l1 = t.offset | kCopied;
        uint8_t raw[8];
        qcow2_put_be(raw, l1, 8);
        l2_slot(t.offset).entries = std::move(t.entries);
        if (auto r = file_.write(raw, sizeof raw, header_.l1_table_offset + 8 * t.l1_index); !r) return r;
        l1_[static_cast<size_t>(t.l1_index)] = l1;
    }
    // 5. What the new clusters replaced.
    for (const Step& s : steps)
        if (s.fresh) free_old(s.old);
    return {};
}

Result<void> Qcow2Image::write(const iovec* iov, int count, uint64_t offset) {
    if (read_only_) return make_error(Errc::permission_denied, fmt::format("disk '{}' is read-only", path_));
    IovCursor cur(iov, count);
    if (auto r = check_range(offset, cur.total()); !r) return r;
    std::lock_guard lock(mu_);
    for (uint64_t left = cur.total(); left > 0;) {
        const uint64_t n = std::min(left, kChunkClusters * cluster_ - (offset & (cluster_ - 1)));
        if (auto r = write_chunk(offset, n, cur); !r) return r;
        offset += n;
        left -= n;
    }
    if (refs_->deferred() > kMaxDeferredFrees) return flush_locked();
    return {};
}

// `count` whole clusters from `guest` read as zeros afterwards: the zero
// flag, keeping an allocation only for !unmap on a cluster written in
// place; nothing at all where the cluster already reads zeros.
Result<void> Qcow2Image::zero_clusters(uint64_t guest, uint64_t count, bool unmap) {
    const uint64_t per_table = cluster_ / 8;
    while (count > 0) {
        const uint64_t cluster = guest / cluster_;
        const uint64_t l1_index = cluster / per_table;
        const size_t first = static_cast<size_t>(cluster % per_table);
        const uint64_t k = std::min<uint64_t>(count, per_table - first);
        auto table = l2_offset(l1_index, true);
        if (!table) return table.error();
        if (*table == 0 && backing_) {
            // A new table whose entries hide the backing file's clusters.
            auto a = refs_->allocate();
            if (!a) return a.error();
            std::vector<uint64_t> entries(static_cast<size_t>(per_table));
            std::fill_n(entries.begin() + static_cast<std::ptrdiff_t>(first), k, kZero);
            const std::vector<uint8_t> raw = encode(entries, 0, entries.size());
            Result<void> w = file_.write(raw.data(), raw.size(), *a);
            if (w) w = sync_if_needed();
            if (!w) {
                (void)refs_->release(*a);
                return w;
            }
            uint8_t l1[8];
            qcow2_put_be(l1, *a | kCopied, 8);
            l2_slot(*a).entries = std::move(entries);
            if (auto r = file_.write(l1, sizeof l1, header_.l1_table_offset + 8 * l1_index); !r) return r;
            l1_[static_cast<size_t>(l1_index)] = *a | kCopied;
        } else if (*table != 0) {
            if (auto r = check_not_metadata(*table, cluster_); !r) return r;
            auto t = l2_table(*table);
            if (!t) return t.error();
            std::vector<uint64_t> entries(**t);
            std::vector<Mapping> freed;
            bool changed = false;
            for (size_t i = first; i < first + k; ++i) {
                const uint64_t old = entries[i];
                auto m = classify(old, guest + (i - first) * cluster_);
                if (!m) return m.error();
                uint64_t now = old;
                switch (m->kind) {
                case Kind::unallocated: now = backing_ ? kZero : old; break;
                case Kind::zero: now = unmap && m->host != 0 ? kZero : old; break;
                case Kind::data: now = (old & kCopied) != 0 && !unmap ? old | kZero : kZero; break;
                case Kind::compressed: now = kZero; break;
                }
                if (now == old) continue;
                changed = true;
                if ((now & ~kZero) == 0) freed.push_back(*m);
                entries[i] = now;
            }
            if (changed) {
                const std::vector<uint8_t> raw = encode(entries, first, static_cast<size_t>(k));
                if (auto r = file_.write(raw.data(), raw.size(), *table + 8 * first); !r) return r;
                l2_slot(*table).entries = std::move(entries);
                for (const Mapping& m : freed) free_old(m);
            }
        }
        guest += k * cluster_;
        count -= k;
    }
    return {};
}

Result<void> Qcow2Image::write_zeroes(uint64_t offset, uint64_t length, bool unmap) {
    if (read_only_) return make_error(Errc::permission_denied, fmt::format("disk '{}' is read-only", path_));
    if (auto r = check_range(offset, length); !r) return r;
    std::lock_guard lock(mu_);
    const uint64_t end = offset + length;
    while (offset < end) {
        const uint64_t in = offset & (cluster_ - 1);
        // Whole clusters (the disk's last one counts as whole up to the
        // disk's end) get the zero flag; pieces are written as zeros.
        uint64_t whole = in == 0 ? (end - offset) / cluster_ : 0;
        if (in == 0 && end == header_.size && (end - offset) % cluster_ != 0) ++whole;
        if (whole > 0) {
            if (auto r = zero_clusters(offset, whole, unmap); !r) return r;
            offset = std::min(end, offset + whole * cluster_);
            continue;
        }
        const uint64_t n = std::min(end - offset, cluster_ - in);
        std::vector<uint8_t> zeros(static_cast<size_t>(n));
        iovec v{zeros.data(), zeros.size()};
        IovCursor cur(&v, 1);
        if (auto r = write_chunk(offset, n, cur); !r) return r;
        offset += n;
    }
    if (refs_->deferred() > kMaxDeferredFrees) return flush_locked();
    return {};
}

// A hint: whole clusters are deallocated (read as zeros after); pieces of
// clusters are left as they are.
Result<void> Qcow2Image::discard(uint64_t offset, uint64_t length) {
    if (read_only_) return make_error(Errc::permission_denied, fmt::format("disk '{}' is read-only", path_));
    if (auto r = check_range(offset, length); !r) return r;
    std::lock_guard lock(mu_);
    const uint64_t end = offset + length;
    const uint64_t first = (offset + cluster_ - 1) & ~(cluster_ - 1);
    const uint64_t last = end == header_.size ? (end + cluster_ - 1) & ~(cluster_ - 1) : end & ~(cluster_ - 1);
    if (last > first)
        if (auto r = zero_clusters(first, (last - first) / cluster_, true); !r) return r;
    if (refs_->deferred() > kMaxDeferredFrees) return flush_locked();
    return {};
}

Result<void> Qcow2Image::flush() {
    std::lock_guard lock(mu_);
    return flush_locked();
}

// Everything written reaches the disk; then the frees that waited for
// that are applied (and synced too).
Result<void> Qcow2Image::flush_locked() {
    if (auto r = file_.sync(); !r) return r;
    if (!refs_) return {};
    refs_->mark_synced();
    if (refs_->deferred() == 0) return {};
    decompressed_at_ = ~uint64_t{0}; // a freed compressed cluster's offset may be reused
    const Result<void> applied = refs_->apply_deferred();
    const Result<void> synced = file_.sync();
    if (synced) refs_->mark_synced();
    return applied ? synced : applied;
}

} // namespace hv::dev
