// SharedMapping against a hostile other process: a page file shrunk under
// the mapping must not kill this one (SIGBUS), and the host scheduler drops
// a domain whose page file was shrunk.
#include <catch2/catch.hpp>

#include <stdlib.h>
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
