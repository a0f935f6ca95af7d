#include "cli_args.hpp"

#include <cstdio>

#include "commands.hpp"

namespace hvctl {

int usage_error(std::string_view cmd, std::string_view usage, const std::string& problem) {
    std::fprintf(stderr, "hvctl: %.*s: %s\nusage: hvctl %.*s\n", static_cast<int>(cmd.size()), cmd.data(),
                 problem.c_str(), static_cast<int>(usage.size()), usage.data());
    return kExitError;
}

ParsedArgs parse_args(std::string_view cmd, const std::vector<std::string>& args, std::string_view spec,
                      std::string_view usage, std::initializer_list<std::string_view> long_values,
                      std::initializer_list<std::string_view> long_flags) {
    ParsedArgs p;
    auto error = [&](const std::string& problem) {
        p.done = usage_error(cmd, usage, problem);
        return p;
    };
    bool options_over = false;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (options_over || a.size() < 2 || a[0] != '-') {
            p.positional.push_back(a);
            continue;
        }
        if (a == "--") {
            options_over = true;
            continue;
        }
        if (a == "-h" || a == "--help") {
            std::printf("usage: hvctl %.*s\n", static_cast<int>(usage.size()), usage.data());
            p.done = kExitOk;
            return p;
        }
        if (a[1] == '-') { // --name VALUE or --name=VALUE
            const size_t eq = a.find('=');
            const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
            bool is_flag = false;
            for (std::string_view l : long_flags) is_flag = is_flag || l == name;
            if (is_flag) {
                if (eq != std::string::npos) return error("option '--" + name + "' takes no value");
                p.long_flags.push_back(name);
                continue;
            }
            bool known = false;
            for (std::string_view l : long_values) known = known || l == name;
            if (!known) return error("unknown option '--" + name + "'");
            if (eq != std::string::npos) p.values[name] = a.substr(eq + 1);
            else if (i + 1 < args.size()) p.values[name] = args[++i];
            else return error("option '--" + name + "' needs a value");
            continue;
        }
        for (size_t k = 1; k < a.size(); ++k) { // -abc, -tVALUE, -t VALUE
            const char c = a[k];
            const size_t at = c == ':' ? std::string_view::npos : spec.find(c);
            if (at == std::string_view::npos) return error(std::string("unknown option '-") + c + "'");
            if (at + 1 < spec.size() && spec[at + 1] == ':') {
                if (k + 1 < a.size()) p.values[std::string(1, c)] = a.substr(k + 1);
                else if (i + 1 < args.size()) p.values[std::string(1, c)] = args[++i];
                else return error(std::string("option '-") + c + "' needs a value");
                break;
            }
            p.flags += c;
        }
    }
    return p;
}

bool positional_count(const ParsedArgs& p, std::string_view cmd, std::string_view usage, size_t min, size_t max) {
    const size_t n = p.positional.size();
    if (n >= min && n <= max) return true;
    if (n < min) usage_error(cmd, usage, min == 1 && max == 1 ? "missing argument" : "missing arguments");
    else usage_error(cmd, usage, "unexpected argument '" + p.positional[max] + "'");
    return false;
}

} // namespace hvctl
