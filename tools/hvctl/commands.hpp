// hvctl's subcommands. Each returns the process exit status:
// 0 success, 1 error, 2 the guest crashed (see docs/cli.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <hv/result.hpp>
#include <hv/sdk/connection.hpp>

namespace hvctl {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitGuestCrashed = 2;

using Args = std::vector<std::string>;

// What came before the command on the command line.
struct Globals {
    std::string connect;        // --connect URI; empty: not given
    bool connect_given = false; // --connect, or a non-empty $HV_CONNECT
};

// The URI a command talks to: --connect, else $HV_CONNECT, else hvd's
// default socket (Connection::default_uri()).
std::string connection_uri(const Globals& g);
hv::Result<hv::sdk::Connection> open_connection(const Globals& g);
// Opens the connection and finds DOMAIN (a name or an id).
hv::Result<hv::sdk::Domain> find_domain(const Globals& g, const std::string& name_or_id);
bool is_embedded_uri(const std::string& uri);

// Prints "hvctl: <message>" on stderr and returns kExitError.
int fail(const std::string& message);
int fail(const hv::Error& e);

// Console: streams the domain's console (history first) to stdout and
// forwards stdin to it until Ctrl-] (0x1d), the domain stops, or a
// signal. With follow_restarts, an on_* restart re-attaches to the new
// domain. With unpause, the domain (created paused so that no output is
// missed) is unpaused once attached. Raw terminal mode while attached
// when stdin is a tty.
// Returns kExitGuestCrashed when the domain crashed, else kExitOk, or
// kExitError (with a message) when the connection fails.
// `type`: which console (console -t); create -c and start -c take the default.
int attach_console(const hv::sdk::Connection& conn, hv::sdk::Domain dom, bool follow_restarts, bool unpause,
                   hv::sdk::ConsoleType type = hv::sdk::ConsoleType::automatic);

int create_command(const Globals& g, const Args& args);
// `create` with the monitor in this process (embedded mode).
int create_embedded(const std::string& file, const std::vector<std::string>& overrides, bool console, bool paused);
int list_command(const Globals& g, const Args& args);
int pause_command(const Globals& g, const Args& args);
int block_list_command(const Globals& g, const Args& args);
int network_list_command(const Globals& g, const Args& args);
int vif_rate_command(const Globals& g, const Args& args);
// Hotplug and disk limits (device_commands.cpp).
int block_attach_command(const Globals& g, const Args& args);
int block_detach_command(const Globals& g, const Args& args);
int network_attach_command(const Globals& g, const Args& args);
int network_detach_command(const Globals& g, const Args& args);
int block_limits_command(const Globals& g, const Args& args);
int unpause_command(const Globals& g, const Args& args);
int vcpu_set_command(const Globals& g, const Args& args);
int destroy_command(const Globals& g, const Args& args);
int rename_command(const Globals& g, const Args& args);
int domid_command(const Globals& g, const Args& args);
int domname_command(const Globals& g, const Args& args);
int uptime_command(const Globals& g, const Args& args);
int shutdown_command(const Globals& g, const Args& args);
int reboot_command(const Globals& g, const Args& args);
int console_command(const Globals& g, const Args& args);
int info_command(const Globals& g, const Args& args);
int dmesg_command(const Globals& g, const Args& args);
int new_command(const Globals& g, const Args& args);
int start_command(const Globals& g, const Args& args);
int delete_command(const Globals& g, const Args& args);
// The host scheduler (sched_commands.cpp).
int sched_credit_command(const Globals& g, const Args& args);
int sched_rtds_command(const Globals& g, const Args& args);
int sched_policy_command(const Globals& g, const Args& args);
int vcpu_list_command(const Globals& g, const Args& args);
int vcpu_pin_command(const Globals& g, const Args& args);

} // namespace hvctl
