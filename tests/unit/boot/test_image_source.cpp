// ImageSource: FileImage reads a kernel or initrd straight into guest RAM
// (no copy of the file in the monitor), fails cleanly on what is not a
// regular file and on a file that shrinks while it is read, and leaks no
// fd; loading from a FileImage puts the same bytes in RAM as loading the
// same image from memory, for a PVH ELF and for a bzImage.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "boot/image_source.hpp"
#include "boot/kernel_loader.hpp"
#include "compress.hpp"
#include "core/guest_ram.hpp"
#include "fd_count.hpp"
#include "kernel_image.hpp"
#include "pvh_image.hpp"

using Catch::Matchers::Contains;
using hv::boot::FileImage;
using hv::boot::SpanImage;
using hvtest::open_fds;

namespace {

struct Dir {
    std::string path;
    Dir() {
        char tmpl[] = "/tmp/hv-image-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~Dir() { std::system(("rm -rf '" + path + "'").c_str()); }
    std::string write(const std::string& name, const std::vector<uint8_t>& bytes) const {
        const std::string p = path + "/" + name;
        std::ofstream out(p, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        return p;
    }
};

std::vector<uint8_t> pattern(size_t n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 31 + 7);
    return v;
}

} // namespace

TEST_CASE("FileImage: reads exactly what was asked, and refuses reads past its end", "[boot][image]") {
    Dir dir;
    const auto bytes = pattern(10000);
    auto img = FileImage::open(dir.write("k", bytes), "kernel");
    REQUIRE(img);
    CHECK((*img)->size() == bytes.size());
    std::vector<uint8_t> got(100);
    REQUIRE((*img)->read(9900, got.data(), 100));
    CHECK(std::equal(got.begin(), got.end(), bytes.begin() + 9900));
    auto past = (*img)->read(9950, got.data(), 100);
    REQUIRE_FALSE(past);
    CHECK_THAT(past.error().message, Contains("kernel") && Contains("past its end"));
    auto all = (*img)->read_all();
    REQUIRE(all);
    CHECK(*all == bytes);
}

TEST_CASE("FileImage: a file that shrinks while it is read is an error naming it", "[boot][image]") {
    Dir dir;
    const std::string path = dir.write("k", pattern(8192));
    auto img = FileImage::open(path, "ramdisk");
    REQUIRE(img);
    REQUIRE(::truncate(path.c_str(), 4096) == 0);
    std::vector<uint8_t> got(8192);
    auto r = (*img)->read(0, got.data(), got.size());
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Contains("ramdisk " + path) && Contains("shrank"));
}

TEST_CASE("FileImage: directories, FIFOs, empty and missing files are refused, with no fd left open", "[boot][image]") {
    Dir dir;
    const size_t before = open_fds();
    auto d = FileImage::open(dir.path, "kernel");
    REQUIRE_FALSE(d);
    CHECK_THAT(d.error().message, Contains("is a directory"));
    const std::string fifo = dir.path + "/fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto f = FileImage::open(fifo, "kernel"); // O_NONBLOCK: does not hang
    REQUIRE_FALSE(f);
    CHECK_THAT(f.error().message, Contains("not a regular file"));
    auto e = FileImage::open(dir.write("empty", {}), "kernel");
    REQUIRE_FALSE(e);
    CHECK_THAT(e.error().message, Contains("empty"));
    auto m = FileImage::open(dir.path + "/missing", "kernel");
    REQUIRE_FALSE(m);
    CHECK(m.error().code == hv::Errc::not_found);
    CHECK(open_fds() == before);
    {
        auto ok = FileImage::open(dir.write("k", pattern(10)), "kernel");
        REQUIRE(ok);
        CHECK(open_fds() == before + 1);
    }
    CHECK(open_fds() == before); // the image owned its fd
}

TEST_CASE("SpanImage: reads within its bytes only", "[boot][image]") {
    const auto bytes = pattern(64);
    const SpanImage img(bytes);
    uint8_t b[8]{};
    CHECK(img.read(56, b, 8));
    CHECK(b[7] == bytes[63]);
    CHECK_FALSE(img.read(57, b, 8));
    CHECK_FALSE(img.read(UINT64_MAX, b, 1));
}

TEST_CASE("load_kernel from a file puts the same bytes in RAM as from memory", "[boot][image]") {
    Dir dir;
    const auto elf = hvbench::pvh_elf(hvbench::first_byte_code());
    const auto initrd = pattern(5000);
    const SpanImage initrd_mem(initrd);
    auto initrd_file = FileImage::open(dir.write("initrd", initrd), "ramdisk");
    REQUIRE(initrd_file);
    const auto bz = hvtest::bzimage_around(hvtest::with_size_suffix(hvtest::xz_compress(elf), static_cast<uint32_t>(elf.size())));
    for (const auto& image : {elf, bz}) {
        auto file = FileImage::open(dir.write("kernel", image), "kernel");
        REQUIRE(file);
        std::vector<uint8_t> a(16u << 20, 0xaa), b(16u << 20, 0xaa);
        const hv::core::GuestRam ram_a{a.data(), a.size()}, ram_b{b.data(), b.size()};
        auto from_mem = hv::boot::load_kernel(image, {"quiet", &initrd_mem, 0}, hv::boot::KernelEntry::automatic, ram_a);
        auto from_file = hv::boot::load_kernel(**file, {"quiet", initrd_file->get(), 0}, hv::boot::KernelEntry::automatic, ram_b);
        REQUIRE(from_mem);
        REQUIRE(from_file);
        CHECK(from_mem->entry == from_file->entry);
        CHECK(from_mem->image_end == from_file->image_end);
        CHECK(a == b);
    }
}

TEST_CASE("load_kernel: a kernel file that shrinks after it was opened fails naming it", "[boot][image]") {
    Dir dir;
    const std::string path = dir.write("kernel", hvbench::pvh_elf(hvbench::first_byte_code()));
    auto file = FileImage::open(path, "kernel");
    REQUIRE(file);
    REQUIRE(::truncate(path.c_str(), 100) == 0); // the ELF header stays, the rest goes
    std::vector<uint8_t> mem(16u << 20);
    const hv::core::GuestRam ram{mem.data(), mem.size()};
    auto r = hv::boot::load_kernel(**file, {"", nullptr, 0}, hv::boot::KernelEntry::automatic, ram);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Contains("kernel " + path) && Contains("shrank"));
}
