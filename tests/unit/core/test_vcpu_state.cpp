#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "core/domain_state.hpp"
#include "core/vcpu_state.hpp"

using namespace hv::core;

TEST_CASE("vcpu state machine allows the documented transitions only", "[core][vcpu]") {
    VcpuState s = VcpuState::offline;
    CHECK_FALSE(vcpu_apply(s, VcpuEvent::enter));
    CHECK(s == VcpuState::offline);
    CHECK(vcpu_apply(s, VcpuEvent::start));
    CHECK(s == VcpuState::runnable);
    CHECK_FALSE(vcpu_apply(s, VcpuEvent::start));
    CHECK_FALSE(vcpu_apply(s, VcpuEvent::block));
    CHECK(vcpu_apply(s, VcpuEvent::enter));
    CHECK(s == VcpuState::running);
    CHECK(vcpu_apply(s, VcpuEvent::block));
    CHECK(s == VcpuState::blocked);
    CHECK_FALSE(vcpu_apply(s, VcpuEvent::exit));
    CHECK(vcpu_apply(s, VcpuEvent::wake));
    CHECK(s == VcpuState::runnable);
    CHECK(vcpu_apply(s, VcpuEvent::stop));
    CHECK(s == VcpuState::stopped);
    CHECK_FALSE(vcpu_apply(s, VcpuEvent::start));
    CHECK(std::strcmp(vcpu_state_name(VcpuState::blocked), "blocked") == 0);
}

TEST_CASE("domain state follows xl list's precedence", "[core][vcpu]") {
    const std::vector<VcpuState> blocked{VcpuState::blocked, VcpuState::blocked};
    const std::vector<VcpuState> mixed{VcpuState::blocked, VcpuState::running};
    DomainFlags f;
    CHECK(derive_domain_state(f, blocked.data(), blocked.size()) == DomainState::blocked);
    CHECK(derive_domain_state(f, mixed.data(), mixed.size()) == DomainState::running);
    f.paused = true;
    CHECK(derive_domain_state(f, mixed.data(), mixed.size()) == DomainState::paused);
    f.shut_down = true;
    CHECK(derive_domain_state(f, mixed.data(), mixed.size()) == DomainState::shutdown);
    f.crashed = true;
    CHECK(derive_domain_state(f, mixed.data(), mixed.size()) == DomainState::crashed);
    f.dying = true;
    CHECK(derive_domain_state(f, mixed.data(), mixed.size()) == DomainState::dying);
    CHECK(state_letter(DomainState::running) == 'r');
    CHECK(state_letter(DomainState::blocked) == 'b');
    CHECK(state_letter(DomainState::paused) == 'p');
    CHECK(state_letter(DomainState::shutdown) == 's');
    CHECK(state_letter(DomainState::crashed) == 'c');
    CHECK(state_letter(DomainState::dying) == 'd');
}

TEST_CASE("shutdown reasons map to the configured actions", "[core][actions]") {
    ShutdownActions a;
    a.on_poweroff = ShutdownAction::preserve;
    a.on_reboot = ShutdownAction::rename_restart;
    a.on_crash = ShutdownAction::restart;
    CHECK(action_for(a, ShutdownReason::poweroff) == ShutdownAction::preserve);
    CHECK(action_for(a, ShutdownReason::reboot) == ShutdownAction::rename_restart);
    CHECK(action_for(a, ShutdownReason::crash) == ShutdownAction::restart);
    CHECK(action_for(a, ShutdownReason::suspend) == ShutdownAction::preserve);
    const ShutdownActions defaults;
    CHECK(defaults.on_poweroff == ShutdownAction::destroy);
    CHECK(defaults.on_reboot == ShutdownAction::restart);
    CHECK(defaults.on_crash == ShutdownAction::destroy);
}

TEST_CASE("action names parse in xl.cfg spelling", "[core][actions][bad-input]") {
    ShutdownAction a;
    for (const char* name : {"destroy", "restart", "preserve", "rename-restart", "coredump-destroy", "coredump-restart", "soft-reset"}) {
        INFO(name);
        REQUIRE(parse_action(name, std::strlen(name), a));
        CHECK(std::strcmp(action_name(a), name) == 0);
    }
    CHECK_FALSE(parse_action("rename_restart", 14, a));
    CHECK_FALSE(parse_action("destroyx", 8, a));
    CHECK_FALSE(parse_action("destro", 6, a));
    CHECK_FALSE(parse_action("", 0, a));
    CHECK(action_supported(ShutdownAction::rename_restart));
    CHECK_FALSE(action_supported(ShutdownAction::coredump_destroy));
    ShutdownReason r;
    CHECK(reason_from_abi(HV_SHUTDOWN_CRASH, r));
    CHECK(r == ShutdownReason::crash);
    CHECK_FALSE(reason_from_abi(4, r));
}
