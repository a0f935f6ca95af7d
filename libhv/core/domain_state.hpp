// Domain states as `xl list` shows them, shutdown reasons and the actions a
// config maps them to (xl.cfg on_poweroff / on_reboot / on_crash).
// Freestanding: no allocation, no exceptions, no hosted headers.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "hv/abi/sched_op.h"

namespace hv::core {

// One letter each in `xl list`'s State column: r b p s c d.
enum class DomainState : uint8_t { running, blocked, paused, shutdown, crashed, dying };

constexpr char state_letter(DomainState s) {
    switch (s) {
    case DomainState::running: return 'r';
    case DomainState::blocked: return 'b';
    case DomainState::paused: return 'p';
    case DomainState::shutdown: return 's';
    case DomainState::crashed: return 'c';
    case DomainState::dying: return 'd';
    }
    return '?';
}

// Why a domain stopped. The first four are the guest ABI's HV_SHUTDOWN_*.
enum class ShutdownReason : uint8_t {
    poweroff = HV_SHUTDOWN_POWEROFF,
    reboot = HV_SHUTDOWN_REBOOT,
    suspend = HV_SHUTDOWN_SUSPEND,
    crash = HV_SHUTDOWN_CRASH,
};

const char* reason_name(ShutdownReason r);
bool reason_from_abi(uint32_t abi, ShutdownReason& out);

// xl.cfg(5) actions. coredump-* and soft-reset parse (so configs written
// for Xen load) but the monitor refuses them until it can do them.
enum class ShutdownAction : uint8_t {
    destroy,
    restart,
    preserve,
    rename_restart,
    coredump_destroy,
    coredump_restart,
    soft_reset,
};

const char* action_name(ShutdownAction a); // xl.cfg spelling, e.g. "rename-restart"
bool parse_action(const char* text, size_t len, ShutdownAction& out);
bool action_supported(ShutdownAction a);

// The three actions a domain config carries, and which applies to a reason.
struct ShutdownActions {
    ShutdownAction on_poweroff = ShutdownAction::destroy;
    ShutdownAction on_reboot = ShutdownAction::restart;
    ShutdownAction on_crash = ShutdownAction::destroy;
};

// suspend has no on_* key in xl.cfg: a suspended domain is kept (preserve)
// for save/restore to pick up.
ShutdownAction action_for(const ShutdownActions& actions, ShutdownReason reason);

} // namespace hv::core
