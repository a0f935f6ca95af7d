#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>
#include <fmt/format.h>

#include "guest_harness.hpp"

using namespace hvtest;
using hv::core::DomainState;
using hv::core::ShutdownReason;

TEST_CASE("hello guest boots, prints on both consoles and powers off", "[kvm][lifecycle]") {
    auto m = open_monitor();
    auto id = m->create(hello_config("hello", "poweroff"));
    REQUIRE(id);
    auto info = m->wait_stopped(*id, kBoot);
    REQUIRE(info);
    CHECK(info->shutdown_reason == ShutdownReason::poweroff);
    CHECK_FALSE(info->exists); // on_poweroff = destroy
    CHECK(m->list().empty());
}

TEST_CASE("hello guest banner comes from every vCPU", "[kvm][lifecycle][smp]") {
    for (uint32_t vcpus : {1u, 4u}) {
        DYNAMIC_SECTION(vcpus << " vCPUs") {
            auto m = open_monitor();
            auto cfg = hello_config("smp", "stay", vcpus);
            auto id = m->create(cfg);
            REQUIRE(id);
            REQUIRE(wait_console(*m, *id, fmt::format("hello: {} vcpus up, yield ok, block ok", vcpus)));
            const std::string out = *m->console_history(*id);
            CHECK(out.find("hello: serial 16550 up") != std::string::npos);
            for (uint32_t v = 0; v < vcpus; ++v)
                CHECK(out.find(fmt::format("hello from domain {} vcpu {} of {}", *id, v, vcpus)) != std::string::npos);
            auto info = m->info(*id);
            REQUIRE(info);
            CHECK(info->vcpus_online == vcpus);
            REQUIRE(m->shutdown(*id, ShutdownReason::poweroff));
            auto stopped = m->wait_stopped(*id, kBoot);
            REQUIRE(stopped);
            CHECK(stopped->shutdown_reason == ShutdownReason::poweroff);
        }
    }
}

TEST_CASE("every shutdown reason reaches the monitor", "[kvm][lifecycle]") {
    const std::pair<const char*, ShutdownReason> cases[] = {
        {"poweroff", ShutdownReason::poweroff},
        {"reboot", ShutdownReason::reboot},
        {"crash", ShutdownReason::crash},
        {"suspend", ShutdownReason::suspend},
    };
    for (const auto& [word, reason] : cases) {
        DYNAMIC_SECTION(word) {
            auto m = open_monitor();
            // preserve everything, so the domain stays to be looked at
            auto id = m->create(hello_config("r", word, 1, "on_poweroff='preserve'\non_reboot='preserve'\non_crash='preserve'\n"));
            REQUIRE(id);
            auto info = m->wait_stopped(*id, kBoot);
            REQUIRE(info);
            CHECK(info->shutdown_reason == reason);
            CHECK(info->exists);
            CHECK(info->state == (reason == ShutdownReason::crash ? DomainState::crashed : DomainState::shutdown));
            CHECK(wait_console(*m, *id, std::string("hello: shutting down: ") + word, std::chrono::seconds(1)));
            REQUIRE(m->destroy(*id));
            CHECK(m->list().empty());
        }
    }
}

TEST_CASE("on_reboot=restart boots a new domain with the same name and uuid", "[kvm][actions]") {
    auto m = open_monitor();
    std::mutex mu;
    std::vector<hv::DomainEvent> events;
    m->subscribe([&](const hv::DomainEvent& ev) {
        std::lock_guard lock(mu);
        events.push_back(ev);
    });
    // A guest that stays up, asked to reboot: deterministic, one restart.
    auto cfg = hello_config("rb", "stay", 1, "on_reboot='restart'\nuuid='12345678-1234-4234-8234-123456789abc'\n");
    auto id = m->create(cfg);
    REQUIRE(id);
    REQUIRE(wait_console(*m, *id, "hello: 1 vcpus up"));
    REQUIRE(m->shutdown(*id, ShutdownReason::reboot));
    auto first = m->wait_stopped(*id, kBoot);
    REQUIRE(first);
    CHECK(first->shutdown_reason == ShutdownReason::reboot);
    CHECK_FALSE(first->exists);
    REQUIRE(first->restarted_as != 0);
    const uint32_t second = first->restarted_as;
    CHECK(second != *id);
    REQUIRE(wait_console(*m, second, "hello: 1 vcpus up"));
    auto info = m->info(second);
    REQUIRE(info);
    CHECK(info->name == "rb");
    CHECK(info->uuid == *cfg.uuid);
    CHECK(*m->lookup("rb") == second);
    REQUIRE(m->destroy(second));
    // Events arrive in order: created, shutdown, destroyed, created, restarted, destroyed.
    for (int i = 0; i < 200; ++i) {
        {
            std::lock_guard lock(mu);
            if (events.size() >= 6) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard lock(mu);
    using K = hv::DomainEvent::Kind;
    std::vector<K> kinds;
    for (const auto& e : events) kinds.push_back(e.kind);
    CHECK(kinds == std::vector<K>{K::created, K::shutdown, K::destroyed, K::created, K::restarted, K::destroyed});
}

TEST_CASE("rename-restart keeps the old domain under a new name and follows the new one", "[kvm][actions]") {
    auto m = open_monitor();
    auto id = m->create(hello_config("rr", "stay", 1, "on_reboot='rename-restart'\n"));
    REQUIRE(id);
    REQUIRE(wait_console(*m, *id, "hello: 1 vcpus up"));
    REQUIRE(m->shutdown(*id, ShutdownReason::reboot));
    auto old = m->wait_stopped(*id, kBoot);
    REQUIRE(old);
    CHECK(old->exists);
    CHECK(old->state == DomainState::shutdown);
    CHECK(old->name == "rr--1");
    REQUIRE(old->restarted_as != 0);
    auto fresh = m->lookup("rr");
    REQUIRE(fresh);
    CHECK(*fresh == old->restarted_as);
    CHECK(old->uuid != m->info(*fresh)->uuid); // the kept one gets a new UUID
    CHECK(m->destroy(*id));
    CHECK(m->destroy(*fresh));
    CHECK(m->list().empty());
}

TEST_CASE("a crash loop is stopped by the restart throttle", "[kvm][actions]") {
    auto m = open_monitor();
    auto id = m->create(hello_config("loop", "crash", 1, "on_crash='restart'\n"));
    REQUIRE(id);
    // Each boot crashes at once; after the burst the monitor preserves it.
    std::optional<hv::DomainInfo> last;
    // A crashed domain shows as such before its action is taken: done is
    // when the throttle has spoken and the preserved domain is listed.
    size_t throttled = 0;
    for (int i = 0; i < 3000; ++i) {
        auto l = m->list();
        throttled = 0;
        for (const auto& line : m->dmesg()) throttled += line.find("preserving it instead") != std::string::npos ? 1 : 0;
        if (l.size() == 1 && l[0].state == DomainState::crashed && throttled > 0) {
            last = l[0];
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(last);
    CHECK(last->domid > *id);
    CHECK(throttled == 1);
    CHECK(m->destroy(last->domid));
    CHECK(m->list().empty());
}

TEST_CASE("on_crash=destroy removes the domain", "[kvm][actions]") {
    auto m = open_monitor();
    auto id = m->create(hello_config("cd", "crash", 1, "on_crash='destroy'\n"));
    REQUIRE(id);
    auto info = m->wait_stopped(*id, kBoot);
    REQUIRE(info);
    CHECK(info->shutdown_reason == ShutdownReason::crash);
    CHECK_FALSE(info->exists);
    CHECK_FALSE(m->info(*id));
}
