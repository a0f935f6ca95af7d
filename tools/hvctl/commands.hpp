// hvctl's subcommands. Each returns the process exit status:
// 0 success, 1 error, 2 the guest crashed (see docs/cli.md).
#pragma once

#include <string>
#include <vector>

namespace hvctl {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitGuestCrashed = 2;

int create_command(const std::vector<std::string>& args);

} // namespace hvctl
