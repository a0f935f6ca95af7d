#include "core/domain_state.hpp"

#include "core/text.hpp"

namespace hv::core {

const char* reason_name(ShutdownReason r) {
    switch (r) {
    case ShutdownReason::poweroff: return "poweroff";
    case ShutdownReason::reboot: return "reboot";
    case ShutdownReason::suspend: return "suspend";
    case ShutdownReason::crash: return "crash";
    }
    return "unknown";
}

bool reason_from_abi(uint32_t abi, ShutdownReason& out) {
    if (abi >= HV_SHUTDOWN_REASON_COUNT) return false;
    out = static_cast<ShutdownReason>(abi);
    return true;
}

namespace {
constexpr ShutdownAction all_actions[] = {
    ShutdownAction::destroy,          ShutdownAction::restart,          ShutdownAction::preserve,
    ShutdownAction::rename_restart,   ShutdownAction::coredump_destroy, ShutdownAction::coredump_restart,
    ShutdownAction::soft_reset,
};
} // namespace

const char* action_name(ShutdownAction a) {
    switch (a) {
    case ShutdownAction::destroy: return "destroy";
    case ShutdownAction::restart: return "restart";
    case ShutdownAction::preserve: return "preserve";
    case ShutdownAction::rename_restart: return "rename-restart";
    case ShutdownAction::coredump_destroy: return "coredump-destroy";
    case ShutdownAction::coredump_restart: return "coredump-restart";
    case ShutdownAction::soft_reset: return "soft-reset";
    }
    return "unknown";
}

bool parse_action(const char* text, size_t len, ShutdownAction& out) {
    for (ShutdownAction a : all_actions) {
        if (text_equals(text, len, action_name(a))) {
            out = a;
            return true;
        }
    }
    return false;
}

bool action_supported(ShutdownAction a) {
    return a == ShutdownAction::destroy || a == ShutdownAction::restart || a == ShutdownAction::preserve ||
           a == ShutdownAction::rename_restart;
}

ShutdownAction action_for(const ShutdownActions& actions, ShutdownReason reason) {
    switch (reason) {
    case ShutdownReason::poweroff: return actions.on_poweroff;
    case ShutdownReason::reboot: return actions.on_reboot;
    case ShutdownReason::crash: return actions.on_crash;
    case ShutdownReason::suspend: return ShutdownAction::preserve;
    }
    return ShutdownAction::destroy;
}

} // namespace hv::core
