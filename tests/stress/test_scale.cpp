// The stress tier (issue 6): hvd with 500 domains and 1,000 subscriptions.
// Bounded to a few minutes; run by scripts/test as the meson test "stress".
// What it holds: hvd's thread count does not grow with domains or clients,
// its memory stays bounded, every domain is listed and controllable, and
// everything (processes, sockets, leases) is gone after the destroys.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <atomic>
#include <future>

#include "../integration/hvd_harness.hpp"

using namespace hvtest;
using hv::sdk::Connection;
namespace fs = std::filesystem;
namespace wire = hv::sdk::wire;

namespace {

constexpr int kDomains = 500;
constexpr int kSubscriptions = 1000; // 500 event streams + 500 consoles

size_t count_entries(const fs::path& dir) {
    size_t n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it) ++n;
    return n;
}

} // namespace

TEST_CASE("500 domains and 1,000 subscriptions: constant threads, bounded memory, all controllable", "[stress][kvm][hvd]") {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    REQUIRE(rl.rlim_cur >= 4096);

    HvdProcess hvd;
    auto conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    auto first = conn->create(hello_request("s-0", "stay"));
    REQUIRE(first);
    const long threads_at_1 = proc_status(hvd.pid(), "Threads");

    // The rest from 8 clients at once.
    std::atomic<int> next{1}, failed{0};
    std::vector<std::future<void>> makers;
    for (int t = 0; t < 8; ++t)
        makers.push_back(std::async(std::launch::async, [&] {
            auto c = Connection::open(hvd.uri());
            if (!c) return void(++failed);
            for (int i = next++; i < kDomains; i = next++)
                if (!c->create(hello_request(fmt::format("s-{}", i), "stay"))) ++failed;
        }));
    for (auto& m : makers) m.get();
    REQUIRE(failed == 0);
    auto list = conn->list();
    REQUIRE(list);
    REQUIRE(list->size() == kDomains);
    for (const auto& d : *list) CHECK_FALSE(d.unresponsive);

    // 1,000 subscribers that read nothing yet: raw sockets, no threads here.
    std::vector<int> subs;
    for (int i = 0; i < kSubscriptions; ++i) {
        const int fd = raw_connect(hvd.socket());
        const hv_ctl_subscribe_t s = i % 2 == 0 ? hv_ctl_subscribe_t{HV_CTL_SUB_EVENTS, 0}
                                                : hv_ctl_subscribe_t{HV_CTL_SUB_CONSOLE, (*list)[static_cast<size_t>(i / 2)].domid};
        const std::string bytes = hello() + request(HV_SYSCTL_SUBSCRIBE, wire::pack(s));
        REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
        subs.push_back(fd);
    }
    // Every domain answers through the index while they are all there.
    for (int i = 0; i < kDomains; i += 25) {
        auto d = conn->domain(fmt::format("s-{}", i));
        REQUIRE(d);
        REQUIRE(d->pause());
        REQUIRE(d->unpause());
    }
    CHECK(conn->list()->size() == kDomains);
    const long threads_at_500 = proc_status(hvd.pid(), "Threads");
    INFO("hvd threads: " << threads_at_1 << " with 1 domain, " << threads_at_500 << " with 500 domains and 1000 subscribers");
    CHECK(threads_at_500 == threads_at_1);
    const long hwm = proc_status(hvd.pid(), "VmHWM");
    INFO("hvd peak RSS " << hwm << " KiB");
#if defined(__SANITIZE_ADDRESS__)
    CHECK(hwm < 4 * 256 * 1024); // AddressSanitizer's shadow and quarantine
#else
    CHECK(hwm < 256 * 1024);
#endif
    std::printf("stress: hvd threads %ld (1 domain) / %ld (500 domains, 1000 subscribers); peak RSS %ld KiB\n", threads_at_1,
                threads_at_500, hwm);

    for (int fd : subs) ::close(fd);
    // Destroy them all, from several clients.
    auto all = conn->list();
    REQUIRE(all);
    std::atomic<size_t> at{0};
    std::vector<std::future<void>> killers;
    for (int t = 0; t < 8; ++t)
        killers.push_back(std::async(std::launch::async, [&] {
            auto c = Connection::open(hvd.uri());
            if (!c) return void(++failed);
            for (size_t i = at++; i < all->size(); i = at++)
                if (auto r = c->domain(std::to_string((*all)[i].domid))->destroy(); !r) {
                    ++failed;
                    std::printf("stress: destroy of domain %u: %s\n", (*all)[i].domid, r.error().message.c_str());
                }
        }));
    for (auto& k : killers) k.get();
    CHECK(failed == 0);
    CHECK(conn->list()->empty());
    // Nothing left behind: processes, their sockets and scheduling pages
    // (but the warm spare's two and the scheduler's bell), their domid
    // leases.
    CHECK(eventually_empty([&] { return hvd.domain_processes().size(); }));
    CHECK(eventually_empty([&] { return hvd.domain_processes(true).size() > 1 ? hvd.domain_processes(true).size() - 1 : 0; }));
    CHECK(eventually_empty([&] { return count_entries(fs::path(hvd.state_dir()) / "run") - (2 * hvd.domain_processes(true).size() + 1); }));
    CHECK(eventually_empty([&] { return count_entries(fs::path(hvd.state_dir()) / "ids"); }));
}
