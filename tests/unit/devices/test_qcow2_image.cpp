// Qcow2Image against QEMU's own tools: images qemu-img makes and qemu-io
// fills read back right; what hv writes passes `qemu-img check` (no
// corruption, no leaks) and `qemu-img compare` equals a raw image given
// the same writes; backing files (raw and qcow2, probed or named) show
// through and are never written; compressed clusters read back.
#include <catch2/catch.hpp>

#include <random>
#include <thread>

#include "devices/block/open_disk.hpp"
#include "devices/block/qcow2_image.hpp"
#include "devices/block/raw_file.hpp"
#include "qcow2_test_util.hpp"

using hv::dev::Qcow2Image;
using hv::dev::RawFile;
using namespace qcow2_test;

namespace {

// A qcow2 image and a raw file given the same operations.
struct Twin {
    std::unique_ptr<Qcow2Image> q;
    std::unique_ptr<RawFile> raw;

    void write(uint64_t offset, const std::string& data) {
        write_at(*q, offset, data);
        write_at(*raw, offset, data);
    }
    void zeroes(uint64_t offset, uint64_t length, bool unmap) {
        auto r = q->write_zeroes(offset, length, unmap);
        INFO((r.ok() ? std::string() : r.error().message));
        REQUIRE(r.ok());
        REQUIRE(raw->write_zeroes(offset, length, false).ok());
    }
    void same(uint64_t offset, size_t length) { CHECK(read_at(*q, offset, length) == read_at(*raw, offset, length)); }
};

std::string pattern(size_t n, uint32_t seed) {
    std::string s(n, '\0');
    std::mt19937 g(seed);
    for (auto& c : s) c = static_cast<char>(g());
    return s;
}

Twin twin(const TempDir& d, const std::string& size, const std::string& cluster) {
    must("qemu-img create -q -f qcow2 -o cluster_size=" + cluster + " '" + d / "t.qcow2" + "' " + size);
    must("truncate -s " + size + " '" + d / "t.raw" + "'");
    auto q = Qcow2Image::open(d / "t.qcow2", false);
    INFO((q.ok() ? std::string() : q.error().message));
    REQUIRE(q.ok());
    auto raw = RawFile::open(d / "t.raw", false);
    REQUIRE(raw.ok());
    return Twin{std::move(*q), std::move(*raw)};
}

void compare_with_raw(const TempDir& d) {
    check_clean(d / "t.qcow2");
    std::string out;
    const int rc = sh("qemu-img compare -f qcow2 -F raw '" + d / "t.qcow2" + "' '" + d / "t.raw" + "'", &out);
    INFO(out);
    CHECK(rc == 0);
}

} // namespace

TEST_CASE("qcow2: reads what qemu-io wrote", "[devices][qcow2]") {
    require_qemu_img();
    TempDir d;
    const std::string img = d / "a.qcow2";
    must("qemu-img create -q -f qcow2 '" + img + "' 64M");
    must("qemu-io -f qcow2 -c 'write -P 0xab 0 64k' -c 'write -P 0xcd 1049088 4k' -c 'write -z 2M 64k' '" + img + "'");
    auto q = Qcow2Image::open(img, true);
    REQUIRE(q.ok());
    Qcow2Image& image = **q;
    CHECK(image.size() == 64u << 20);
    CHECK(image.read_only());
    CHECK(image.path() == img);
    CHECK(image.header().version == 3);
    CHECK(read_at(image, 0, 65536) == std::string(65536, '\xab'));
    CHECK(read_at(image, 65536, 4096) == std::string(4096, '\0'));
    CHECK(read_at(image, 1049088 - 512, 5120) == std::string(512, '\0') + std::string(4096, '\xcd') + std::string(512, '\0'));
    CHECK(read_at(image, 2 << 20, 65536) == std::string(65536, '\0'));
    CHECK(read_at(image, (64 << 20) - 512, 512) == std::string(512, '\0'));
    // Scattered iovecs, across a cluster boundary.
    std::string a(100, '\0'), b(65536, '\0');
    iovec v[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
    REQUIRE(image.read(v, 2, 65536 - 100).ok());
    CHECK(a == std::string(100, '\xab'));
    CHECK(b == std::string(65536, '\0'));
    // Past the end, and writes to a read-only image.
    std::string one(512, '\0');
    iovec o{one.data(), one.size()};
    CHECK(image.read(&o, 1, 64 << 20).error().code == hv::Errc::invalid_argument);
    CHECK(image.write(&o, 1, 0).error().code == hv::Errc::permission_denied);
    CHECK(image.write_zeroes(0, 512, false).error().code == hv::Errc::permission_denied);
    CHECK(image.discard(0, 512).error().code == hv::Errc::permission_denied);
}

TEST_CASE("qcow2: writes pass qemu-img check and equal a raw image given the same writes", "[devices][qcow2]") {
    require_qemu_img();
    TempDir d;
    const size_t fds = open_fds();
    {
        Twin t = twin(d, "4G", "64k");
        t.write(0, pattern(65536, 1));                  // one aligned cluster
        t.write(3 * 512, pattern(1536, 2));             // inside a cluster already there
        t.write(200 * 1024 + 512, pattern(3 * 512, 3)); // inside a new one: copy-on-write from zeros
        t.write(65536 * 5 - 512, pattern(131072 + 1024, 4)); // spanning three clusters
        // Scattered 4 KiB writes across the disk: L2 tables all over (one
        // per 512 MiB) and refcounts for each new cluster.
        std::mt19937_64 g(42);
        std::vector<uint64_t> at;
        for (int i = 0; i < 200; ++i) {
            at.push_back((g() % ((4ull << 30) / 4096)) * 4096);
            t.write(at.back(), pattern(4096, static_cast<uint32_t>(i + 10)));
        }
        // Rewrites in place, zeroes and discards over written and unwritten ranges.
        t.write(at[7], pattern(4096, 999));
        t.zeroes(0, 65536, false);                   // a whole cluster, allocation kept
        t.zeroes(65536 * 5, 65536, true);            // a whole cluster, freed
        t.zeroes(65536 * 6 + 512, 1024, false);      // a piece: written as zeros
        t.zeroes(1ull << 30, 3ull << 20, true);      // mostly unallocated
        REQUIRE(t.q->discard(65536 * 100, 65536 * 2).ok()); // nothing there
        REQUIRE(t.q->flush().ok());
        t.same(0, 65536 * 8);
        for (size_t i = 0; i < at.size(); i += 17) t.same(at[i], 4096);
        t.same(at[7], 4096);
    }
    CHECK(open_fds() == fds);
    compare_with_raw(d);
}

TEST_CASE("qcow2: 512-byte clusters grow the refcount table and stay consistent", "[devices][qcow2]") {
    require_qemu_img();
    TempDir d;
    uint64_t clusters_before = 0;
    {
        Twin t = twin(d, "64M", "512");
        clusters_before = t.q->header().refcount_table_clusters;
        // 12 MiB of data in 512-byte clusters: far past what one refcount
        // table cluster covers (64 blocks of 256 clusters = 8 MiB).
        for (uint64_t off = 0; off < (12u << 20); off += 65536) t.write(off * 3 % (60u << 20), pattern(65536, static_cast<uint32_t>(off)));
        std::string none;
        iovec v{none.data(), 0};
        CHECK(t.q->write(&v, 1, 7).ok()); // nothing at all
        t.zeroes(0, 8192, true);
        REQUIRE(t.q->flush().ok());
        t.same(0, 1 << 20);
    }
    const std::string head = contents(d / "t.qcow2").substr(0, 104);
    CHECK(be(head, 56, 4) > clusters_before); // refcount_table_clusters
    compare_with_raw(d);
    // And hv reads back what it wrote, opened again.
    auto q = Qcow2Image::open(d / "t.qcow2", true);
    REQUIRE(q.ok());
    auto raw = RawFile::open(d / "t.raw", true);
    REQUIRE(raw.ok());
    CHECK(read_at(**q, 5 << 20, 1 << 20) == read_at(**raw, 5 << 20, 1 << 20));
}

TEST_CASE("qcow2: a raw backing file shows through, takes no writes, ends in zeros", "[devices][qcow2]") {
    require_qemu_img();
    TempDir d;
    const std::string base = pattern(3 * 65536 + 4096, 7); // not a whole number of clusters
    put(d / "base.raw", base);
    // A relative name: resolved against the overlay's folder, not ours.
    must("cd '" + d.path + "' && qemu-img create -q -f qcow2 -b base.raw -F raw ov.qcow2 1M");
    const size_t fds = open_fds();
    {
        auto q = Qcow2Image::open(d / "ov.qcow2", false);
        INFO((q.ok() ? std::string() : q.error().message));
        REQUIRE(q.ok());
        Qcow2Image& ov = **q;
        CHECK(ov.size() == 1u << 20);
        CHECK(ov.backing_paths() == std::vector<std::string>{d / "base.raw"});
        CHECK(read_at(ov, 0, base.size()) == base);
        CHECK(read_at(ov, base.size(), 65536) == std::string(65536, '\0'));
        write_at(ov, 65536 + 512, std::string(1024, 'w')); // copy-on-write from the base
        write_at(ov, 3 * 65536, std::string(512, 'x'));    // the cluster the base ends inside
        REQUIRE(ov.write_zeroes(2 * 65536, 65536, true).ok()); // hides the base
        std::string want = base;
        want.replace(65536 + 512, 1024, std::string(1024, 'w'));
        want.replace(3 * 65536, 512, std::string(512, 'x'));
        want.replace(2 * 65536, 65536, std::string(65536, '\0'));
        CHECK(read_at(ov, 0, base.size()) == want);
        CHECK(read_at(ov, base.size(), 8192) == std::string(8192, '\0'));
    }
    CHECK(open_fds() == fds);
    CHECK(contents(d / "base.raw") == base);
    check_clean(d / "ov.qcow2");
    auto chain = hv::dev::backing_chain(d / "ov.qcow2", hv::config::DiskFormat::qcow2);
    REQUIRE(chain.ok());
    CHECK(*chain == std::vector<std::string>{d / "base.raw"});
}

TEST_CASE("qcow2: a qcow2 backing chain, named or probed, reads through and stays unchanged", "[devices][qcow2]") {
    require_qemu_img();
    TempDir d;
    must("qemu-img create -q -f qcow2 '" + d / "a.qcow2" + "' 4M");
    must("qemu-io -f qcow2 -c 'write -P 0x11 0 128k' '" + d / "a.qcow2" + "'");
    must("qemu-img create -q -f qcow2 -b '" + d / "a.qcow2" + "' -F qcow2 '" + d / "b.qcow2" + "'");
    must("qemu-io -f qcow2 -c 'write -P 0x22 64k 64k' '" + d / "b.qcow2" + "'");
    must("cd '" + d.path + "' && qemu-img create -q -f qcow2 -b b.qcow2 -F qcow2 c.qcow2");
    // b names its backing file's format; c's extension is renamed to an
    // unknown one (skipped), so its backing file is probed.
    const std::string c = contents(d / "c.qcow2");
    const size_t ext = c.find("\xe2\x79\x2a\xca");
    REQUIRE(ext != std::string::npos);
    patch(d / "c.qcow2", ext, 0x12345678, 4);
    const std::string a_sum = must("md5sum '" + d / "a.qcow2" + "'"), b_sum = must("md5sum '" + d / "b.qcow2" + "'");
    {
        auto q = Qcow2Image::open(d / "c.qcow2", false);
        INFO((q.ok() ? std::string() : q.error().message));
        REQUIRE(q.ok());
        CHECK((*q)->header().backing_format.empty());
        CHECK((*q)->backing_paths() == std::vector<std::string>{d / "b.qcow2", d / "a.qcow2"});
        CHECK(read_at(**q, 0, 65536) == std::string(65536, '\x11'));
        CHECK(read_at(**q, 65536, 65536) == std::string(65536, '\x22'));
        CHECK(read_at(**q, 131072, 65536) == std::string(65536, '\0'));
        write_at(**q, 4096, std::string(512, '3'));
        std::string want = std::string(4096, '\x11') + std::string(512, '3') + std::string(65536 - 4608, '\x11');
        CHECK(read_at(**q, 0, 65536) == want);
        REQUIRE((*q)->flush().ok());
    }
    auto chain = hv::dev::backing_chain(d / "c.qcow2", hv::config::DiskFormat::qcow2);
    REQUIRE(chain.ok());
    CHECK(*chain == std::vector<std::string>{d / "b.qcow2", d / "a.qcow2"});
    CHECK(must("md5sum '" + d / "a.qcow2" + "'") == a_sum);
    CHECK(must("md5sum '" + d / "b.qcow2" + "'") == b_sum);
    check_clean(d / "c.qcow2");
    std::string out;
    CHECK(sh("qemu-io -r -f qcow2 -c 'read -P 0x33 4096 512' -c 'read -P 0x22 64k 64k' '" + d / "c.qcow2" + "'", &out) == 0);
    CHECK(out.find("Pattern verification failed") == std::string::npos);
}

TEST_CASE("qcow2: compressed clusters read back and are copied on write", "[devices][qcow2]") {
    require_qemu_img();
    TempDir d;
    // Compressible, and not: text-like runs and random bytes.
    std::string src;
    for (int i = 0; src.size() < (1u << 20); ++i) src += i % 3 == 0 ? pattern(5000, static_cast<uint32_t>(i)) : std::string(7000, static_cast<char>('a' + i % 26));
    src.resize(1 << 20);
    put(d / "src.raw", src);
    must("qemu-img convert -c -O qcow2 '" + d / "src.raw" + "' '" + d / "c.qcow2" + "'");
    // qemu-img check counts them: the image does hold compressed clusters.
    const std::string info = must("qemu-img check -f qcow2 '" + d / "c.qcow2" + "'");
    CHECK(info.find(" 0.00% compressed clusters") == std::string::npos);
    CHECK(info.find("compressed clusters") != std::string::npos);
    {
        auto q = Qcow2Image::open(d / "c.qcow2", true);
        REQUIRE(q.ok());
        CHECK(read_at(**q, 0, src.size()) == src);
        CHECK(read_at(**q, 70000 & ~511u, 512) == src.substr(70000 & ~511u, 512));
    }
    {
        auto q = Qcow2Image::open(d / "c.qcow2", false);
        REQUIRE(q.ok());
        write_at(**q, 65536 + 1024, std::string(2048, 'z'));
        REQUIRE((*q)->write_zeroes(3 * 65536, 65536, true).ok());
        REQUIRE((*q)->flush().ok());
        src.replace(65536 + 1024, 2048, std::string(2048, 'z'));
        src.replace(3 * 65536, 65536, std::string(65536, '\0'));
        CHECK(read_at(**q, 0, src.size()) == src);
    }
    put(d / "want.raw", src);
    check_clean(d / "c.qcow2");
    CHECK(sh("qemu-img compare -f qcow2 -F raw '" + d / "c.qcow2" + "' '" + d / "want.raw" + "'") == 0);
}

TEST_CASE("qcow2: version 2, snapshots and the dirty bit are read, not written", "[devices][qcow2]") {
    require_qemu_img();
    TempDir d;
    must("qemu-img create -q -f qcow2 -o compat=0.10 '" + d / "v2.qcow2" + "' 1M");
    must("qemu-io -f qcow2 -c 'write -P 0x5a 0 4k' '" + d / "v2.qcow2" + "'");
    auto v2 = Qcow2Image::open(d / "v2.qcow2", true);
    REQUIRE(v2.ok());
    CHECK((*v2)->header().version == 2);
    CHECK(read_at(**v2, 0, 4096) == std::string(4096, '\x5a'));
    auto w = Qcow2Image::open(d / "v2.qcow2", false);
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().message.find("version 2 image is read-only") != std::string::npos);

    must("qemu-img create -q -f qcow2 '" + d / "s.qcow2" + "' 1M");
    must("qemu-io -f qcow2 -c 'write -P 0x01 0 4k' '" + d / "s.qcow2" + "'");
    must("qemu-img snapshot -c first '" + d / "s.qcow2" + "'");
    must("qemu-io -f qcow2 -c 'write -P 0x02 0 4k' '" + d / "s.qcow2" + "'");
    auto s = Qcow2Image::open(d / "s.qcow2", true);
    REQUIRE(s.ok());
    CHECK(read_at(**s, 0, 4096) == std::string(4096, '\x02'));
    w = Qcow2Image::open(d / "s.qcow2", false);
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().message.find("1 internal snapshots") != std::string::npos);
}

TEST_CASE("qcow2: writers on several threads", "[devices][qcow2]") {
    require_qemu_img();
    TempDir d;
    must("qemu-img create -q -f qcow2 -o cluster_size=4k '" + d / "t.qcow2" + "' 64M");
    {
        auto q = Qcow2Image::open(d / "t.qcow2", false);
        REQUIRE(q.ok());
        Qcow2Image& image = **q;
        std::vector<std::thread> threads;
        std::vector<int> failures(4, 0);
        for (int k = 0; k < 4; ++k)
            threads.emplace_back([&, k] {
                std::string data(3000 - 3000 % 512, static_cast<char>('A' + k));
                for (int i = 0; i < 100; ++i) {
                    iovec v{data.data(), data.size()};
                    if (!image.write(&v, 1, static_cast<uint64_t>(i * 4 + k) * 65536 + 512).ok()) ++failures[static_cast<size_t>(k)];
                }
            });
        for (auto& t : threads) t.join();
        CHECK(failures == std::vector<int>(4, 0));
        for (int k = 0; k < 4; ++k)
            CHECK(read_at(image, static_cast<uint64_t>(40 * 4 + k) * 65536 + 512, 2560) == std::string(2560, static_cast<char>('A' + k)));
    }
    check_clean(d / "t.qcow2");
}

TEST_CASE("qcow2: open_disk picks the backend by format", "[devices][qcow2]") {
    require_qemu_img();
    TempDir d;
    must("qemu-img create -q -f qcow2 '" + d / "q.qcow2" + "' 1M");
    put(d / "r.img", std::string(4096, 'r'));
    auto q = hv::dev::open_disk(d / "q.qcow2", hv::config::DiskFormat::qcow2, true);
    REQUIRE(q.ok());
    CHECK((*q)->size() == 1u << 20);
    auto r = hv::dev::open_disk(d / "r.img", hv::config::DiskFormat::raw, false);
    REQUIRE(r.ok());
    CHECK((*r)->size() == 4096u);
    auto v = hv::dev::open_disk(d / "r.img", hv::config::DiskFormat::vhd, false);
    REQUIRE_FALSE(v.ok());
    CHECK(v.error().code == hv::Errc::not_supported);
    CHECK(v.error().message.find("format 'vhd'") != std::string::npos);
    auto none = hv::dev::backing_chain(d / "r.img", hv::config::DiskFormat::raw);
    REQUIRE(none.ok());
    CHECK(none->empty());
    auto own = hv::dev::backing_chain(d / "q.qcow2", hv::config::DiskFormat::qcow2);
    REQUIRE(own.ok());
    CHECK(own->empty());
    CHECK_FALSE(hv::dev::backing_chain(d / "missing.qcow2", hv::config::DiskFormat::qcow2).ok());
}

TEST_CASE("qcow2: random writes, zeroes, discards and reopens match a raw image", "[devices][qcow2]") {
    require_qemu_img();
    struct Config {
        const char* cluster;
        const char* backing; // "", "raw" or "qcow2"
    };
    const Config configs[] = {{"512", ""}, {"4k", "raw"}, {"64k", "qcow2"}, {"2M", "raw"}};
    for (const Config& c : configs) {
        INFO("cluster_size " << c.cluster << ", backing '" << c.backing << "'");
        TempDir d;
        const uint64_t size = (6u << 20) + 3 * 512; // the last cluster is cut short
        const uint64_t base_size = (3u << 20) + 5 * 512;
        std::string backing_opt;
        if (std::string(c.backing) == "raw") {
            put(d / "base.raw", pattern(static_cast<size_t>(base_size), 5));
            backing_opt = "-b base.raw -F raw";
        } else if (std::string(c.backing) == "qcow2") {
            must("qemu-img create -q -f qcow2 '" + d / "base.qcow2" + "' " + std::to_string(base_size));
            must("qemu-io -f qcow2 -c 'write -P 0x42 0 1M' -c 'write -P 0x43 2M 64k' '" + d / "base.qcow2" + "'");
            must("qemu-img convert -O raw '" + d / "base.qcow2" + "' '" + d / "base.raw" + "'");
            backing_opt = "-b base.qcow2 -F qcow2";
        }
        must("cd '" + d.path + "' && qemu-img create -q -f qcow2 -o cluster_size=" + c.cluster + " " + backing_opt + " t.qcow2 " +
             std::to_string(size));
        if (backing_opt.empty()) must("truncate -s " + std::to_string(size) + " '" + d / "t.raw" + "'");
        else must("cp '" + d / "base.raw" + "' '" + d / "t.raw" + "' && truncate -s " + std::to_string(size) + " '" + d / "t.raw" + "'");
        const uint64_t cluster = std::string(c.cluster) == "512" ? 512 : std::string(c.cluster) == "4k" ? 4096 : std::string(c.cluster) == "64k" ? 65536 : 2u << 20;

        Twin t;
        const auto reopen = [&] {
            t.q.reset();
            auto q = Qcow2Image::open(d / "t.qcow2", false);
            INFO((q.ok() ? std::string() : q.error().message));
            REQUIRE(q.ok());
            t.q = std::move(*q);
        };
        reopen();
        auto raw = RawFile::open(d / "t.raw", false);
        REQUIRE(raw.ok());
        t.raw = std::move(*raw);

        std::mt19937_64 g(std::hash<std::string>{}(c.cluster));
        const auto sector_range = [&](uint64_t max_sectors) {
            const uint64_t sectors = size / 512;
            const uint64_t first = g() % sectors;
            const uint64_t n = 1 + g() % std::min(max_sectors, sectors - first);
            return std::pair<uint64_t, uint64_t>{first * 512, n * 512};
        };
        for (int op = 0; op < 300; ++op) {
            INFO("op " << op);
            const uint64_t kind = g() % 20;
            if (kind < 11) {
                const auto [at, n] = sector_range(kind < 2 ? 2048 : 24);
                t.write(at, pattern(static_cast<size_t>(n), static_cast<uint32_t>(op)));
            } else if (kind < 14) {
                const auto [at, n] = sector_range(kind == 13 ? 4096 : 300);
                t.zeroes(at, n, (g() & 1) != 0);
            } else if (kind < 16) {
                // Discard deallocates whole clusters: the raw twin zeroes those.
                const auto [at, n] = sector_range(4096);
                REQUIRE(t.q->discard(at, n).ok());
                const uint64_t first = (at + cluster - 1) / cluster * cluster;
                const uint64_t last = at + n == size ? size : (at + n) / cluster * cluster;
                if (last > first) REQUIRE(t.raw->write_zeroes(first, last - first, false).ok());
            } else if (kind == 16) {
                REQUIRE(t.q->flush().ok());
            } else if (kind == 17) {
                reopen();
            } else {
                const auto [at, n] = sector_range(4096);
                t.same(at, static_cast<size_t>(n));
            }
        }
        t.same(0, static_cast<size_t>(size));
        t.q.reset();
        compare_with_raw(d);
    }
}
