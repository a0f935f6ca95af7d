#include <catch2/catch.hpp>

#include <atomic>
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
    std::atomic<uint32_t> restarted{0};
    m->subscribe([&](const hv::DomainEvent& ev) {
        if (ev.kind == hv::DomainEvent::Kind::restarted) restarted = ev.new_domid;
    });
    auto cfg = hello_config("rb", "reboot", 1, "on_reboot='restart'\nuuid='12345678-1234-4234-8234-123456789abc'\n");
    auto id = m->create(cfg);
    REQUIRE(id);
    auto first = m->wait_stopped(*id, kBoot);
    REQUIRE(first);
    CHECK(first->shutdown_reason == ShutdownReason::reboot);
    CHECK_FALSE(first->exists);
    REQUIRE(first->restarted_as != 0);
    const uint32_t second = first->restarted_as;
    CHECK(second != *id);
    // The new one reboots again in turn; catch it alive or just restarted.
    auto by_name = m->lookup("rb");
    REQUIRE(by_name);
    auto info = m->info(*by_name);
    REQUIRE(info);
    CHECK(info->name == "rb");
    CHECK(info->uuid == *cfg.uuid);
    REQUIRE(m->destroy(*by_name));
    CHECK(restarted.load() != 0);
}

TEST_CASE("on_crash=rename-restart keeps the crashed domain under a new name", "[kvm][actions]") {
    auto m = open_monitor();
    auto id = m->create(hello_config("rr", "crash", 1, "on_crash='rename-restart'\n"));
    REQUIRE(id);
    auto old = m->wait_stopped(*id, kBoot);
    REQUIRE(old);
    CHECK(old->exists);
    CHECK(old->state == DomainState::crashed);
    CHECK(old->name == "rr--1");
    auto fresh = m->lookup("rr");
    REQUIRE(fresh);
    CHECK(*fresh != *id);
    // Both exist; the new one crashes too and is renamed in turn.
    CHECK(m->destroy(*id));
    for (const auto& d : m->list()) CHECK(m->destroy(d.domid));
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
