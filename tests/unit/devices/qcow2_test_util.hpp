// What the qcow2 tests share: a scratch folder, qemu-img and qemu-io run
// through the shell (from qemu-utils, which scripts/setup installs), file
// bytes read and patched, and the process's open fds counted.
#pragma once

#include "fd_count.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "devices/block/block_backend.hpp"

namespace qcow2_test {

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/hv-qcow2-XXXXXX";
        REQUIRE(::mkdtemp(t) != nullptr);
        path = t;
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string operator/(const std::string& name) const { return path + "/" + name; }
};

// Runs `cmd` in the shell; its exit status, and what it printed (stdout
// and stderr) in `out`.
inline int sh(const std::string& cmd, std::string* out = nullptr) {
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    REQUIRE(p != nullptr);
    std::string text;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
    const int status = ::pclose(p);
    if (out != nullptr) *out = text;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The same, failing the test (with the command's output) unless it exits 0.
inline std::string must(const std::string& cmd) {
    std::string out;
    const int rc = sh(cmd, &out);
    INFO(cmd << "\n" << out);
    REQUIRE(rc == 0);
    return out;
}

// qemu-img check: exit 0 is neither corruption nor leaks.
inline void check_clean(const std::string& image) {
    std::string out;
    const int rc = sh("qemu-img check -f qcow2 '" + image + "'", &out);
    INFO("qemu-img check " << image << ":\n" << out);
    CHECK(rc == 0);
}

inline void require_qemu_img() {
    std::string out;
    INFO("the qcow2 tests need qemu-img and qemu-io (Debian's qemu-utils; scripts/setup installs it)");
    REQUIRE(sh("qemu-img --version && qemu-io --version", &out) == 0);
}

inline std::string contents(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void put(const std::string& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

inline uint64_t be(const std::string& s, size_t at, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<size_t>(i)]);
    return v;
}

// Writes `n` big-endian bytes of `v` at `at` into the file `p`.
inline void patch(const std::string& p, uint64_t at, uint64_t v, int n) {
    std::string s = contents(p);
    REQUIRE(at + static_cast<uint64_t>(n) <= s.size());
    for (int i = n - 1; i >= 0; --i, v >>= 8) s[at + static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    put(p, s);
}

using hvtest::open_fds;

inline std::string read_at(hv::dev::BlockBackend& b, uint64_t offset, size_t len) {
    std::string s(len, '\0');
    iovec v{s.data(), s.size()};
    auto r = b.read(&v, 1, offset);
    INFO((r.ok() ? std::string() : r.error().message));
    REQUIRE(r.ok());
    return s;
}

inline void write_at(hv::dev::BlockBackend& b, uint64_t offset, const std::string& data) {
    std::string copy = data;
    iovec v{copy.data(), copy.size()};
    auto r = b.write(&v, 1, offset);
    INFO((r.ok() ? std::string() : r.error().message));
    REQUIRE(r.ok());
}

} // namespace qcow2_test
