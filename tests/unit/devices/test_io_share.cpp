// dev::IoShare: a domain process's slot in one backing device's share
// table (io_weight). Slots are held by OFD locks, so a second holder gets
// another slot, a full table says so, and a slot comes back when its
// holder goes, however it goes (kill -9 included).
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <set>
#include <vector>

#include "../fd_count.hpp"
#include "devices/block/io_share.hpp"
#include "qcow2_test_util.hpp"

using hv::dev::IoShare;
using hv::core::qos::ShareTable;

namespace {
const uint64_t kDevice = makedev(8, 17);
}

TEST_CASE("io share: the table is made whole, named after the device; each holder gets its own slot", "[io-share][qos]") {
    qcow2_test::TempDir dir;
    CHECK(IoShare::table_path(dir.path, kDevice) == dir.path + "/share-v2-8-17");
    CHECK(IoShare::dir_in("/var/lib/hv") == "/var/lib/hv/io-share");
    const size_t fds = hvtest::open_fds();
    {
        auto a = IoShare::join(dir.path, kDevice, 200);
        REQUIRE(a);
        struct stat st {};
        REQUIRE(::stat(IoShare::table_path(dir.path, kDevice).c_str(), &st) == 0);
        CHECK(static_cast<size_t>(st.st_size) == sizeof(ShareTable));
        CHECK((st.st_mode & 0777) == 0600);
        auto b = IoShare::join(dir.path, kDevice, 100);
        REQUIRE(b);
        CHECK((*a)->slot() != (*b)->slot());
        // Another device: another table, and its slots are its own.
        auto c = IoShare::join(dir.path, makedev(8, 18), 100);
        REQUIRE(c);
        CHECK((*c)->slot() == 0);
        CHECK((*a)->arbiter().try_start(1, 4096));
    }
    CHECK(hvtest::open_fds() == fds); // the lock fds and mappings went with their holders
}

TEST_CASE("io share: 64 holders fill the table; a slot comes back when its holder goes", "[io-share][qos]") {
    qcow2_test::TempDir dir;
    std::vector<std::unique_ptr<IoShare>> held;
    std::set<unsigned> slots;
    for (unsigned i = 0; i < ShareTable::kSlots; ++i) {
        auto s = IoShare::join(dir.path, kDevice, 100);
        REQUIRE(s);
        slots.insert((*s)->slot());
        held.push_back(std::move(*s));
    }
    CHECK(slots.size() == ShareTable::kSlots);
    auto full = IoShare::join(dir.path, kDevice, 100);
    REQUIRE_FALSE(full);
    CHECK(full.error().code == hv::Errc::busy);
    CHECK(full.error().message.find("all 64 slots are held") != std::string::npos);
    const unsigned freed = held[17]->slot();
    held[17].reset();
    auto again = IoShare::join(dir.path, kDevice, 100);
    REQUIRE(again);
    CHECK((*again)->slot() == freed);
}

TEST_CASE("io share: a holder killed with -9 leaves its slot to the next domain", "[io-share][qos]") {
    qcow2_test::TempDir dir;
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    struct Reap { // the child goes whatever the checks say
        pid_t pid;
        ~Reap() {
            if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
        }
    } reap{child};
    if (child == 0) {
        auto s = IoShare::join(dir.path, kDevice, 100);
        const char c = s && (*s)->slot() == 0 ? 'y' : 'n';
        (void)!::write(ready[1], &c, 1);
        ::pause();
        ::_exit(0);
    }
    ::close(ready[1]);
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    ::close(ready[0]);
    CHECK(c == 'y');
    auto while_alive = IoShare::join(dir.path, kDevice, 100);
    REQUIRE(while_alive);
    CHECK((*while_alive)->slot() == 1); // slot 0 is the child's
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    reap.pid = 0;
    auto after = IoShare::join(dir.path, kDevice, 100);
    REQUIRE(after);
    CHECK((*after)->slot() == 0);
}

TEST_CASE("io share: a table file of another size or a symlink is replaced; a folder that is missing is named", "[io-share][qos]") {
    qcow2_test::TempDir dir;
    const std::string path = IoShare::table_path(dir.path, kDevice);
    std::ofstream(path) << "short";
    auto r = IoShare::join(dir.path, kDevice, 100);
    REQUIRE(r);
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    CHECK(static_cast<size_t>(st.st_size) == sizeof(ShareTable));
    r->reset();
    ::unlink(path.c_str());
    const std::string target = dir / "elsewhere";
    std::ofstream(target) << "left alone";
    REQUIRE(::symlink(target.c_str(), path.c_str()) == 0);
    auto s = IoShare::join(dir.path, kDevice, 100);
    REQUIRE(s);
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    std::ifstream in(target);
    std::string text;
    std::getline(in, text);
    CHECK(text == "left alone");
    auto none = IoShare::join(dir.path + "/missing", kDevice, 100);
    REQUIRE_FALSE(none);
    CHECK(none.error().message.find(dir.path + "/missing") != std::string::npos);
}

TEST_CASE("io share: slots a dead holder left with a weight are cleared by the next joiner", "[io-share][qos]") {
    qcow2_test::TempDir dir;
    {
        auto first = IoShare::join(dir.path, kDevice, 100); // makes the table
        REQUIRE(first);
    }
    // A table as a process killed mid-transfer leaves it: slots 0..2 with
    // weights and transfers in flight, nobody holding their locks.
    {
        std::fstream f(IoShare::table_path(dir.path, kDevice), std::ios::in | std::ios::out | std::ios::binary);
        ShareTable t{};
        for (unsigned i = 0; i < 3; ++i) t.slots[i] = {0, 1, 0, 100, 2};
        f.write(reinterpret_cast<const char*>(&t), sizeof t);
    }
    auto s = IoShare::join(dir.path, kDevice, 300);
    REQUIRE(s);
    CHECK((*s)->slot() == 0);
    std::ifstream f(IoShare::table_path(dir.path, kDevice), std::ios::binary);
    ShareTable t{};
    REQUIRE(f.read(reinterpret_cast<char*>(&t), sizeof t));
    CHECK(t.slots[0].weight == 300u);
    CHECK(t.slots[1].weight == 0u);
    CHECK(t.slots[2].weight == 0u);
}
