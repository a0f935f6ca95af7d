// hvctl create: xl create's options. Through hvd (the default
// connection), this process returns once the domain is created (or
// attaches its console with -c); with embedded:// the monitor runs in
// this process, which lives as long as the domain.
#include <cstdio>
#include <string>
#include <vector>

#include "cli_args.hpp"
#include "commands.hpp"
#include "config/config_json.hpp"
#include "config/domain_config_loader.hpp"

namespace hvctl {

namespace {

constexpr const char* kUsage = "create [-c] [-p] [-n] FILE [KEY=VALUE...]";

// -n: parse and check here with the monitor's own check (check_creatable),
// so a dry run refuses exactly what a create would; print the resolved
// config as JSON.
int dry_run(const std::string& file, const std::vector<std::string>& overrides) {
    auto cfg = hv::config::load_domain_config(file, overrides);
    if (!cfg) return fail(cfg.error());
    if (auto creatable = hv::config::check_creatable(*cfg); !creatable) return fail(creatable.error());
    for (const auto& u : cfg->unsupported) std::fprintf(stderr, "warning: %s\n", u.warning().c_str());
    std::fputs(hv::config::domain_config_to_json(*cfg).c_str(), stdout);
    std::fputc('\n', stdout);
    return kExitOk;
}

} // namespace

int create_command(const Globals& g, const Args& args) {
    const ParsedArgs p = parse_args("create", args, "cpn", kUsage);
    if (p.done) return *p.done;
    if (p.positional.empty()) return usage_error("create", kUsage, "missing config FILE");
    const std::string& file = p.positional[0];
    std::vector<std::string> overrides;
    for (size_t i = 1; i < p.positional.size(); ++i) {
        const std::string& a = p.positional[i];
        if (a.find('=') == std::string::npos)
            return usage_error("create", kUsage, "'" + a + "' is neither an option nor KEY=VALUE");
        overrides.push_back(a);
    }
    const bool console = p.has('c');
    const bool paused = p.has('p');
    if (p.has('n')) return dry_run(file, overrides);

    const std::string uri = connection_uri(g);
    if (is_embedded_uri(uri)) return create_embedded(file, overrides, console, paused);

    auto conn = hv::sdk::Connection::open(uri);
    if (!conn) return fail(conn.error());
    std::fprintf(stderr, "Parsing config from %s\n", file.c_str());
    // With -c it is created paused and unpaused once the console is
    // attached (as xl does), so not a byte of its output is missed.
    // What the monitor accepts but ignores (a mistyped key) is never silent.
    auto dom = conn->create_from_file(file, overrides, paused || console,
                                      [](const std::string& w) { std::fprintf(stderr, "warning: %s\n", w.c_str()); });
    if (!dom) return fail(dom.error());
    if (!console) return kExitOk;
    return attach_console(*conn, *dom, true, !paused);
}

} // namespace hvctl
