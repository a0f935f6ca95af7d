// RawFile: what a disk= target may be, and the I/O a virtio-blk request
// turns into.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "devices/block/raw_file.hpp"

using hv::dev::RawFile;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/hv-raw-file-XXXXXX";
        REQUIRE(::mkdtemp(t) != nullptr);
        path = t;
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
    std::string file(const std::string& name, size_t bytes, char fill) const {
        const std::string p = path + "/" + name;
        std::ofstream(p, std::ios::binary) << std::string(bytes, fill);
        return p;
    }
};

std::string contents(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

} // namespace

TEST_CASE("raw file: reads, writes, flushes and zeroes a regular file", "[devices][raw_file]") {
    TempDir d;
    const std::string img = d.file("disk.img", 8192, 'a');
    auto f = RawFile::open(img, false);
    REQUIRE(f.ok());
    CHECK((*f)->size() == 8192u);
    CHECK_FALSE((*f)->read_only());
    CHECK((*f)->path() == img);

    std::string two(512, 'x'), three(512, 'y');
    iovec w[2] = {{two.data(), two.size()}, {three.data(), three.size()}};
    REQUIRE((*f)->write(w, 2, 1024).ok());
    REQUIRE((*f)->flush().ok());
    std::string back(1024, '\0');
    iovec r{back.data(), back.size()};
    REQUIRE((*f)->read(&r, 1, 1024).ok());
    CHECK(back == two + three);

    REQUIRE((*f)->write_zeroes(0, 512, false).ok());
    REQUIRE((*f)->discard(4096, 4096).ok()); // a hint; the file keeps its size
    const std::string now = contents(img);
    REQUIRE(now.size() == 8192u);
    CHECK(now.substr(0, 512) == std::string(512, '\0'));
    CHECK(now.substr(512, 512) == std::string(512, 'a'));
    CHECK(now.substr(1024, 1024) == two + three);
}

TEST_CASE("raw file: a read-only disk refuses every write", "[devices][raw_file]") {
    TempDir d;
    const std::string img = d.file("ro.img", 4096, 'b');
    auto f = RawFile::open(img, true);
    REQUIRE(f.ok());
    CHECK((*f)->read_only());
    std::string buf(512, 'z');
    iovec v{buf.data(), buf.size()};
    CHECK((*f)->write(&v, 1, 0).error().code == hv::Errc::permission_denied);
    CHECK_FALSE((*f)->write_zeroes(0, 512, true).ok());
    CHECK_FALSE((*f)->discard(0, 512).ok());
    CHECK(contents(img) == std::string(4096, 'b'));
}

TEST_CASE("raw file: a FIFO, a character device, a directory or a missing file is refused", "[devices][raw_file]") {
    TempDir d;
    const std::string fifo = d.path + "/fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    // Opening a FIFO for reading would block until a writer came: refused
    // without being opened.
    auto f = RawFile::open(fifo, true);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().message.find("neither a regular file nor a block device") != std::string::npos);
    f = RawFile::open("/dev/null", false);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().code == hv::Errc::invalid_argument);
    CHECK_FALSE(RawFile::open(d.path, true).ok());
    f = RawFile::open(d.path + "/missing.img", true);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().code == hv::Errc::not_found);
    CHECK(f.error().message.find("missing.img") != std::string::npos);
}

TEST_CASE("raw file: a read past the end of the file is an error, not a short read", "[devices][raw_file]") {
    TempDir d;
    const std::string img = d.file("short.img", 1024, 'c');
    auto f = RawFile::open(img, true);
    REQUIRE(f.ok());
    std::string buf(1024, '\0');
    iovec v{buf.data(), buf.size()};
    CHECK_FALSE((*f)->read(&v, 1, 512).ok());
}
