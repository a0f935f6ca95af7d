// Qcow2Image and the header decoder on images that are wrong or that hv
// does not take: each refused with a message naming the disk and the
// problem, and no fd left open.
#include <catch2/catch.hpp>

#include <cstring>

#include "devices/block/qcow2_header.hpp"
#include "devices/block/qcow2_image.hpp"
#include "qcow2_test_util.hpp"

using hv::dev::Qcow2Image;
using namespace qcow2_test;

namespace {

// Header fields' offsets (docs/interop/qcow2.txt).
constexpr uint64_t kVersion = 4, kClusterBits = 20, kCrypt = 32, kL1Offset = 40, kIncompatible = 72;

std::string make(const TempDir& d, const std::string& name, const std::string& opts = "", const std::string& size = "1M") {
    const std::string p = d / name;
    must("qemu-img create -q -f qcow2 " + opts + " '" + p + "' " + size);
    return p;
}

// Opening `path` fails; the message names the disk and holds `what`.
hv::Error refused(const std::string& path, bool read_only, const std::string& what, const hv::dev::Qcow2Options& o = {}) {
    const size_t fds = open_fds();
    auto q = Qcow2Image::open(path, read_only, o);
    CHECK(open_fds() == fds);
    REQUIRE_FALSE(q.ok());
    INFO(q.error().message);
    CHECK(q.error().message.rfind("disk '" + path + "'", 0) == 0);
    CHECK(q.error().message.find(what) != std::string::npos);
    return q.error();
}

} // namespace

TEST_CASE("qcow2 header: malformed headers are refused, naming the field", "[devices][qcow2]") {
    require_qemu_img();
    TempDir d;
    const std::string good = contents(make(d, "good.qcow2"));

    put(d / "short.qcow2", good.substr(0, 50));
    refused(d / "short.qcow2", true, "shorter than a qcow2 header");
    put(d / "empty.qcow2", "");
    refused(d / "empty.qcow2", true, "shorter than a qcow2 header");
    put(d / "magic.qcow2", "QFI\xfa" + good.substr(4));
    CHECK(refused(d / "magic.qcow2", true, "not a qcow2 image (magic 0x514649fa").code == hv::Errc::bad_image);

    const auto variant = [&](const std::string& name, uint64_t at, uint64_t v, int n) {
        put(d / name, good);
        patch(d / name, at, v, n);
        return d / name;
    };
    CHECK(refused(variant("v1.qcow2", kVersion, 1, 4), true, "version 1 (the old qcow format)").code == hv::Errc::not_supported);
    refused(variant("v4.qcow2", kVersion, 4, 4), true, "version 4 is not a qcow2 version");
    refused(variant("cb8.qcow2", kClusterBits, 8, 4), true, "cluster_bits 8 is outside 9..21");
    refused(variant("cb22.qcow2", kClusterBits, 22, 4), true, "cluster_bits 22 is outside 9..21");
    refused(variant("l1.qcow2", kL1Offset, 0x40000000, 8), true, "l1_table_offset 0x40000000 (1 entries) is outside the file");
    refused(variant("l1a.qcow2", kL1Offset, 0x30200, 8), true, "l1_table_offset 0x30200 is not aligned");
    refused(variant("size.qcow2", 24, uint64_t{1} << 40, 8), true, "l1_size 1 is too small for a disk of 1099511627776 bytes");
    refused(variant("l1big.qcow2", 36, 0x00800000, 4), true, "over the 32 MiB L1 table limit");
    refused(variant("rt.qcow2", 48, 0x7fff0000, 8), true, "refcount_table_offset 0x7fff0000 (1 clusters) is outside the file");
    refused(variant("rt0.qcow2", 56, 0, 4), true, "refcount_table_clusters is 0");
    refused(variant("hlen.qcow2", 100, 100, 4), true, "header_length 100");
    refused(variant("ro.qcow2", 96, 7, 4), true, "refcount_order 7 is over 6");
    variant("bf.qcow2", 8, 65530, 8);
    patch(d / "bf.qcow2", 16, 10, 4);
    refused(d / "bf.qcow2", true, "the backing file name (offset 65530, 10 bytes) is not inside the first cluster");
    put(d / "bf.qcow2", good);
    patch(d / "bf.qcow2", 8, 200, 8);
    patch(d / "bf.qcow2", 16, 1024, 4);
    refused(d / "bf.qcow2", true, "backing_file_size 1024 is over 1023 bytes");
    CHECK(refused(variant("aes.qcow2", kCrypt, 1, 4), true, "encrypted (crypt_method 1, AES)").code == hv::Errc::not_supported);
    refused(variant("luks.qcow2", kCrypt, 2, 4), true, "crypt_method 2, LUKS");
}

TEST_CASE("qcow2 header: incompatible features", "[devices][qcow2]") {
    require_qemu_img();
    TempDir d;
    const std::string good = contents(make(d, "good.qcow2"));
    const auto with_bits = [&](const std::string& name, uint64_t bits) {
        put(d / name, good);
        patch(d / name, kIncompatible, bits, 8);
        return d / name;
    };
    // Dirty: read-only is fine (the L2 tables are right; only refcounts may not be).
    const std::string dirty = with_bits("dirty.qcow2", 1);
    auto ro = Qcow2Image::open(dirty, true);
    REQUIRE(ro.ok());
    CHECK(ro.value()->header().dirty());
    refused(dirty, false, "marked dirty");
    refused(dirty, false, "qemu-img check -r all");
    refused(with_bits("corrupt.qcow2", 2), true, "marked corrupt");
    refused(with_bits("ext.qcow2", 4), true, "external data file");
    refused(with_bits("zstd.qcow2", 8), true, "compression type 0 (unknown), not zlib");
    refused(with_bits("l2x.qcow2", 16), true, "extended L2 entries");
    // qemu-img's feature name table names the bits it knows; an unknown
    // one is refused by number.
    const hv::Error e = refused(with_bits("bit5.qcow2", uint64_t{1} << 5 | uint64_t{1} << 40), true, "unknown incompatible features: bit 5, bit 40");
    CHECK(e.code == hv::Errc::not_supported);

    // Made by qemu-img itself.
    refused(make(d, "x.qcow2", "-o extended_l2=on"), true, "extended L2 entries");
    std::string out;
    if (sh("qemu-img create -q -f qcow2 -o compression_type=zstd '" + d / "z.qcow2" + "' 1M", &out) == 0)
        refused(d / "z.qcow2", true, "compression type 1 (zstd), not zlib");
    else
        WARN("qemu-img without zstd: " << out);
}

TEST_CASE("qcow2: an L2 entry or L1 entry pointing outside the file is an I/O error naming the offset", "[devices][qcow2]") {
    require_qemu_img();
    TempDir d;
    const std::string img = make(d, "a.qcow2");
    must("qemu-io -f qcow2 -c 'write -P 0xab 0 128k' '" + img + "'");
    const std::string s = contents(img);
    const uint64_t l1 = be(s, kL1Offset, 8);
    const uint64_t l2 = be(s, l1, 8) & 0x00fffffffffffe00;
    REQUIRE(l2 != 0);
    patch(img, l2 + 8, 0x8000000100000000, 8); // guest cluster 1 -> 4 GiB, COPIED
    patch(img, l2 + 16, 0x8000000000010200, 8); // guest cluster 2 -> unaligned
    {
        auto q = Qcow2Image::open(img, false);
        REQUIRE(q.ok());
        std::string buf(65536, '\0');
        iovec v{buf.data(), buf.size()};
        CHECK((*q)->read(&v, 1, 0).ok());
        auto r = (*q)->read(&v, 1, 65536);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == hv::Errc::io_error);
        CHECK(r.error().message.rfind("disk '" + img + "'", 0) == 0);
        CHECK(r.error().message.find("guest offset 0x10000 points to 0x100000000, unaligned or outside the file") != std::string::npos);
        r = (*q)->write(&v, 1, 65536);
        CHECK_FALSE(r.ok());
        r = (*q)->read(&v, 1, 131072);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("points to 0x10200") != std::string::npos);
    }
    // The L1 entry itself.
    patch(img, l1, 0x8000000700000000, 8);
    auto q = Qcow2Image::open(img, true);
    REQUIRE(q.ok());
    std::string buf(512, '\0');
    iovec v{buf.data(), buf.size()};
    auto r = (*q)->read(&v, 1, 0);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("L1 entry 0 points to 0x700000000") != std::string::npos);
}

TEST_CASE("qcow2: backing chains that loop, go missing or run too deep are refused", "[devices][qcow2]") {
    require_qemu_img();
    TempDir d;
    // a -> b -> a
    make(d, "b.qcow2");
    make(d, "a.qcow2", "-b '" + d / "b.qcow2" + "' -F qcow2");
    must("qemu-img rebase -u -f qcow2 -b '" + d / "a.qcow2" + "' -F qcow2 '" + d / "b.qcow2" + "'");
    refused(d / "a.qcow2", true, "backing file '" + d / "a.qcow2" + "' (named by '" + d / "b.qcow2" + "'): a backing file loop");
    // Itself.
    make(d, "self.qcow2");
    must("qemu-img rebase -u -f qcow2 -b self.qcow2 -F qcow2 '" + d / "self.qcow2" + "'");
    refused(d / "self.qcow2", false, "a backing file loop");
    // Itself, as raw.
    make(d, "selfraw.qcow2");
    must("qemu-img rebase -u -f qcow2 -b selfraw.qcow2 -F raw '" + d / "selfraw.qcow2" + "'");
    refused(d / "selfraw.qcow2", true, "a backing file loop");
    // Missing.
    make(d, "orphan.qcow2", "-u -b '" + d / "gone.qcow2" + "' -F qcow2");
    const hv::Error e = refused(d / "orphan.qcow2", true, "backing file '" + d / "gone.qcow2" + "'");
    CHECK(e.code == hv::Errc::not_found);
    make(d, "orphan2.qcow2", "-u -b gone.raw -F raw");
    CHECK(refused(d / "orphan2.qcow2", true, "gone.raw").code == hv::Errc::not_found);
    // A format hv does not read.
    make(d, "vmdk.qcow2", "-u -b x.vmdk -F vmdk");
    refused(d / "vmdk.qcow2", true, "backing format 'vmdk' is not supported");
    // Protocols are not file names.
    make(d, "nbd.qcow2", "-u -b nbd://localhost/x -F raw");
    refused(d / "nbd.qcow2", true, "is not a file name");

    // 17 deep: one past the cap; 16 is fine.
    make(d, "c0.qcow2");
    for (int i = 1; i <= 17; ++i)
        make(d, "c" + std::to_string(i) + ".qcow2", "-b c" + std::to_string(i - 1) + ".qcow2 -F qcow2");
    const size_t fds = open_fds();
    {
        auto ok = Qcow2Image::open(d / "c16.qcow2", true);
        REQUIRE(ok.ok());
        CHECK((*ok)->backing_paths().size() == 16u);
    }
    CHECK(open_fds() == fds);
    refused(d / "c17.qcow2", true, "the backing chain is deeper than 16 files");
    hv::dev::Qcow2Options two;
    two.max_backing_depth = 2;
    refused(d / "c3.qcow2", true, "backing file '" + d / "c0.qcow2" + "' (named by '" + d / "c1.qcow2" + "'): the backing chain is deeper than 2", two);
}

TEST_CASE("qcow2: what a writer must not touch is opened read-only only", "[devices][qcow2]") {
    require_qemu_img();
    TempDir d;
    refused(make(d, "r8.qcow2", "-o refcount_bits=8"), false, "8-bit refcounts");
    CHECK(Qcow2Image::open(d / "r8.qcow2", true).ok());
    refused(make(d, "r64.qcow2", "-o refcount_bits=64"), false, "64-bit refcounts");
    // Refcounts that do not count the L1 table: writing could allocate over it.
    const std::string img = make(d, "rc.qcow2");
    const std::string s = contents(img);
    const uint64_t rt = be(s, 48, 8), rb = be(s, rt, 8);
    const uint64_t l1 = be(s, kL1Offset, 8);
    patch(img, rb + 2 * (l1 / 65536), 0, 2);
    refused(img, false, "the L1 table at 0x30000 has refcount 0");
    CHECK(Qcow2Image::open(img, true).ok());
    // A directory, a FIFO.
    refused(d.path, true, "must be a regular file");
    refused("/dev/null", true, "must be a regular file");
    refused(d / "none.qcow2", true, "cannot open it");
}

TEST_CASE("qcow2 header: the decoder alone, on bytes", "[devices][qcow2]") {
    std::vector<uint8_t> h(512, 0);
    const auto put_be = [&](size_t at, uint64_t v, int n) { hv::dev::qcow2_put_be(h.data() + at, v, n); };
    put_be(0, hv::dev::kQcow2Magic, 4);
    put_be(4, 3, 4);
    put_be(20, 9, 4);          // 512-byte clusters
    put_be(24, 512 * 64, 8);   // one L2 table's worth
    put_be(36, 1, 4);          // l1_size
    put_be(40, 1024, 8);       // L1 at cluster 2
    put_be(48, 512, 8);        // refcount table at cluster 1
    put_be(56, 1, 4);
    put_be(96, 4, 4);
    put_be(100, 104, 4);
    // Extensions: backing format "raw", then the end; the name after them.
    put_be(104, 0xe2792aca, 4);
    put_be(108, 3, 4);
    std::memcpy(h.data() + 112, "raw", 3);
    put_be(8, 200, 8);
    put_be(16, 8, 4);
    std::memcpy(h.data() + 200, "base.img", 8);
    auto r = hv::dev::decode_qcow2_header(h, 4096);
    REQUIRE(r.ok());
    CHECK(r->backing_file == "base.img");
    CHECK(r->backing_format == "raw");
    CHECK(r->cluster_size() == 512u);
    // An extension running past the first cluster.
    put_be(108, 1000, 4);
    r = hv::dev::decode_qcow2_header(h, 4096);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "qcow2 header: header extension 0xe2792aca at offset 104 is 1000 bytes long, past the end of the first cluster");
    put_be(108, 3, 4);
    // A NUL in the name; a control byte is shown escaped.
    h[203] = 0;
    h[201] = '\n';
    r = hv::dev::decode_qcow2_header(h, 4096);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "qcow2 header: the backing file name 'b\\x0as\\x00.img' holds a NUL byte");
    // The L1 table past the end of a shorter file.
    h[203] = 'e';
    r = hv::dev::decode_qcow2_header(h, 1030);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "qcow2 header: l1_table_offset 0x400 (1 entries) is outside the file (size 1030)");
}
