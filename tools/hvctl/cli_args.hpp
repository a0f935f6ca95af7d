// A small getopt-like parser for hvctl's commands: short flags (combinable:
// -wF), short options with a value (-t TYPE), long options with a value
// (--timeout S or --timeout=S), -h/--help, "--" to end options. Options may
// come before or after the positional arguments, as with xl.
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hvctl {

struct ParsedArgs {
    std::string flags;                         // short flags given, in order
    std::vector<std::string> long_flags;       // long flags given ("persist" for --persist)
    std::map<std::string, std::string> values; // "t" for -t, "timeout" for --timeout
    std::vector<std::string> positional;
    std::optional<int> done; // set: stop with this exit status (help shown, or a usage error reported)

    bool has(char c) const { return flags.find(c) != std::string::npos; }
    bool has(std::string_view long_flag) const {
        for (const auto& f : long_flags)
            if (f == long_flag) return true;
        return false;
    }
    std::optional<std::string> value(const std::string& name) const {
        auto it = values.find(name);
        if (it == values.end()) return std::nullopt;
        return it->second;
    }
};

// `spec` lists the short options, getopt style ("wFt:" = -w, -F, -t VALUE);
// `long_values` the long options that take a value ("timeout"),
// `long_flags` those that do not ("persist").
// `usage` is the command's synopsis without "hvctl " (printed for -h and
// after a usage error).
ParsedArgs parse_args(std::string_view cmd, const std::vector<std::string>& args, std::string_view spec,
                      std::string_view usage, std::initializer_list<std::string_view> long_values = {},
                      std::initializer_list<std::string_view> long_flags = {});

// Reports a usage problem ("hvctl: CMD: PROBLEM" and the synopsis on
// stderr) and returns the error exit status.
int usage_error(std::string_view cmd, std::string_view usage, const std::string& problem);

// Checks the number of positional arguments; reports a usage error if
// outside [min, max].
bool positional_count(const ParsedArgs& p, std::string_view cmd, std::string_view usage, size_t min, size_t max);

} // namespace hvctl
