// xl's managed-domain commands: `new` stores a config in hvd, `start`
// creates a domain from it, `delete` forgets it. hvd keeps the configs
// across restarts; an embedded monitor has nowhere to keep them and says
// so (Errc::not_supported from the backend).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_args.hpp"
#include "commands.hpp"

namespace hvctl {

namespace {

// FILE and its KEY=VALUE overrides, as Connection::create_from_file sends them.
hv::Result<hv::sdk::CreateRequest> read_request(const std::string& path, const std::vector<std::string>& overrides) {
    std::ifstream in(path);
    if (!in) return hv::make_error(hv::Errc::not_found, path + ": cannot open the config file");
    std::stringstream text;
    text << in.rdbuf();
    hv::sdk::CreateRequest req;
    req.config_text = text.str();
    req.source = std::filesystem::absolute(path).lexically_normal().string();
    req.overrides = overrides;
    return req;
}

} // namespace

int new_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "new [-f] FILE [KEY=VALUE...]";
    const ParsedArgs p = parse_args("new", args, "f", kUsage);
    if (p.done) return *p.done;
    if (p.positional.empty()) return usage_error("new", kUsage, "missing config FILE");
    std::vector<std::string> overrides(p.positional.begin() + 1, p.positional.end());
    for (const std::string& o : overrides)
        if (o.find('=') == std::string::npos) return usage_error("new", kUsage, "'" + o + "' is not KEY=VALUE");
    auto req = read_request(p.positional[0], overrides);
    if (!req) return fail(req.error());
    req->replace = p.has('f'); // without -f, an existing managed domain of that name is kept
    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    std::fprintf(stderr, "Parsing config from %s\n", p.positional[0].c_str());
    if (auto r = conn->backend().define(*req); !r) return fail(r.error());
    return kExitOk;
}

int start_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "start [-c] NAME";
    const ParsedArgs p = parse_args("start", args, "cp", kUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "start", kUsage, 1, 1)) return kExitError;
    if (p.has('p')) return fail("'start -p' is not supported yet: start a managed domain, then 'hvctl pause' it");
    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    auto id = conn->backend().start(p.positional[0]);
    if (!id) return fail(id.error());
    if (!p.has('c')) return kExitOk;
    auto dom = conn->domain(std::to_string(*id));
    if (!dom) return fail(dom.error());
    return attach_console(*conn, *dom, true, false);
}

int delete_command(const Globals& g, const Args& args) {
    constexpr const char* kUsage = "delete NAME";
    const ParsedArgs p = parse_args("delete", args, "", kUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "delete", kUsage, 1, 1)) return kExitError;
    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    if (auto r = conn->backend().undefine(p.positional[0]); !r) return fail(r.error());
    return kExitOk;
}

} // namespace hvctl
