// SharedMapping against a hostile other process: a page file shrunk under
// the mapping must not kill this one (SIGBUS), and the host scheduler drops
// a domain whose page file was shrunk.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <new>
#include <string>
#include <thread>

#include "monitor/sched_host.hpp"
#include "monitor/sched_page.hpp"
#include "monitor/shared_mapping.hpp"
#include "sched_host_fixture.hpp"

using hv::sched::SharedMapping;

namespace {

struct TempDir {
    TempDir() {
        char tmpl[] = "/tmp/hv-shm-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string path;
};

template <class Pred>
bool within(Pred pred, int ms = 5000) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

} // namespace

TEST_CASE("shared mapping: a file truncated under the mapping poisons it instead of killing the process",
          "[monitor][sched][bad-input]") {
    TempDir dir;
    auto a = SharedMapping::create(dir.path + "/a", 8192);
    auto b = SharedMapping::create(dir.path + "/b", 4096);
    REQUIRE(a);
    REQUIRE(b);
    auto* pa = static_cast<volatile uint8_t*>(a->data());
    pa[100] = 7;
    CHECK_FALSE(a->poisoned());
    const uint64_t before = SharedMapping::poison_count();
    // The other side shrinks the file: the next touch would be SIGBUS.
    REQUIRE(::truncate((dir.path + "/a").c_str(), 0) == 0);
    pa[5000] = 9; // completes, on private zero pages
    CHECK(pa[5000] == 9);
    CHECK(pa[100] == 0); // nothing is shared any more
    CHECK(a->poisoned());
    CHECK(SharedMapping::poison_count() == before + 1);
    CHECK_FALSE(b->poisoned());
    static_cast<volatile uint8_t*>(b->data())[1] = 1; // others are untouched
    CHECK_FALSE(b->poisoned());
    // Moved, the guard follows; released, the slot is free again.
    SharedMapping moved = std::move(*a);
    CHECK(moved.poisoned());
}

TEST_CASE("shared mapping: SIGBUS that is not a fault on a guarded mapping still kills the process",
          "[monitor][sched][bad-input]") {
    TempDir dir;
    auto guarded = SharedMapping::create(dir.path + "/g", 4096); // the guard is installed
    REQUIRE(guarded);
    const std::string raw_path = dir.path + "/raw";
    // It did not get past the signal: killed by it, or (under ASan, whose
    // handler ours chains to) reported and ended with status 1.
    const auto died_of_sigbus = [](pid_t child) {
        int status = 0;
        if (::waitpid(child, &status, 0) != child) return false;
        return (WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS) || (WIFEXITED(status) && WEXITSTATUS(status) == 1);
    };
    // A SIGBUS sent, not faulted (it names no real address).
    const pid_t sent = ::fork();
    REQUIRE(sent >= 0);
    if (sent == 0) {
        ::raise(SIGBUS);
        ::_exit(0);
    }
    CHECK(died_of_sigbus(sent));
    // A real fault on a file mapping that is not a SharedMapping.
    const pid_t faulted = ::fork();
    REQUIRE(faulted >= 0);
    if (faulted == 0) {
        const int fd = ::open(raw_path.c_str(), O_RDWR | O_CREAT, 0600);
        if (fd < 0 || ::ftruncate(fd, 4096) != 0) ::_exit(2);
        auto* p = static_cast<volatile char*>(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
        if (p == MAP_FAILED || ::ftruncate(fd, 0) != 0) ::_exit(3);
        p[0] = 1;
        ::_exit(0);
    }
    CHECK(died_of_sigbus(faulted));
    CHECK_FALSE(guarded->poisoned());
}

TEST_CASE("host scheduler: a domain whose page file is truncated is dropped, not a crash", "[monitor][sched][bad-input]") {
    using namespace sched_host_fixture;
    TempDir dir;
    SchedBell bell;
    auto host = start_host(bell);
    const std::string path = dir.path + "/page";
    auto m = SharedMapping::create(path, sizeof(SchedPage));
    REQUIRE(m);
    auto keep = std::make_shared<SharedMapping>(std::move(*m));
    auto* page = new (keep->data()) SchedPage();
    DomainSched d;
    d.max_vcpus = 1;
    REQUIRE(host->attach(5, keep, *page, ::getpid(), d, keep.get()));
    CHECK(host->attached(5));
    REQUIRE(::truncate(path.c_str(), 0) == 0);
    // The host's next pass writes the page's heartbeat: SIGBUS, guarded.
    CHECK(within([&] { return !host->attached(5); }));
    CHECK(keep->poisoned());
    // The page now reads zeros: it cannot come back under its old layout.
    CHECK_FALSE(host->attach(5, keep, *page, ::getpid(), d, keep.get()));
}
