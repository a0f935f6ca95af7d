// hvctl's scheduler commands: sched-credit, sched-rtds, vcpu-list and
// vcpu-pin as xl has them, and hv's own sched-policy (xl changes
// schedulers through cpupools, which hv does not have). They act on the
// monitor's host scheduler: hvd's (one for every domain on the host), or
// for embedded:// the monitor of this hvctl process alone.
#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cli_args.hpp"
#include "commands.hpp"
#include "config/cpu_list.hpp"
#include "core/sched/scheduler.hpp"
#include "output.hpp"

namespace hvctl {

namespace {

namespace cs = hv::core::sched;
using hv::sdk::SchedHost;
using hv::sdk::SchedParams;
using hv::sdk::SchedPolicy;

// ---- option values ----

// A number option's value: absent, a number, or why not (`usage`: the
// text is not a number, a usage error; otherwise a range error).
struct Number {
    std::optional<uint32_t> value;
    std::string error;
    bool usage = false;
};

// -X's value as a decimal number (xl reads them with strtol and takes
// what it can; hv refuses what is not a number). Above 2^32-1 it is out of
// range: "WHAT N is out of range (RANGE)".
Number number(const ParsedArgs& p, char opt, std::string_view what, std::string_view range) {
    Number n;
    const auto text = p.value(std::string(1, opt));
    if (!text) return n;
    uint64_t v = 0;
    const char* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, v);
    const bool digits = !text->empty() && text->find_first_not_of("0123456789") == std::string::npos;
    if (!digits || (ec != std::errc() && ec != std::errc::result_out_of_range) || ptr != end) {
        n.error = fmt::format("-{}: '{}' is not a number", opt, *text);
        n.usage = true;
    } else if (ec == std::errc::result_out_of_range || v > std::numeric_limits<uint32_t>::max()) {
        n.error = fmt::format("{} {} is out of range ({})", what, *text, range);
    } else {
        n.value = static_cast<uint32_t>(v);
    }
    return n;
}

// The pool option (-p for sched-credit, -c for sched-rtds, as xl): hv has
// one pool, Pool-0.
std::optional<std::string> pool_error(const ParsedArgs& p, char opt) {
    const auto pool = p.value(std::string(1, opt));
    if (!pool || *pool == kPoolName) return std::nullopt;
    return fmt::format("unknown cpupool '{}' (hv has no cpupools: every domain is in {})", *pool, kPoolName);
}

// ---- the monitor ----

// What the server says when the policy is not the one asked for
// (SchedControl::set_sched_params words it the same way).
hv::Error wrong_policy(SchedPolicy running, SchedPolicy wanted) {
    return hv::make_error(hv::Errc::invalid_argument, fmt::format("the host runs the {} scheduler, not {}",
                                                                  hv::sdk::policy_name(running),
                                                                  hv::sdk::policy_name(wanted)));
}

// The host scheduler, which must run `want`.
hv::Result<SchedHost> host_running(const hv::sdk::Connection& conn, SchedPolicy want) {
    auto h = conn.sched_host();
    if (!h) return h.error();
    if (h->policy != want) return wrong_policy(h->policy, want);
    return h;
}

// An embedded monitor lives as long as this hvctl process and holds no
// domain: a host-wide setting would vanish with it, so it is refused
// rather than silently lost.
std::optional<int> refuse_embedded_setting(const Globals& g) {
    if (!is_embedded_uri(connection_uri(g))) return std::nullopt;
    return fail("embedded:// is a monitor of this hvctl process alone: a scheduler setting would end with it "
                "(set it through hvd)");
}

// Every domain by domid.
hv::Result<std::vector<hv::sdk::DomainInfo>> domains_by_id(const hv::sdk::Connection& conn) {
    auto all = conn.list();
    if (!all) return all.error();
    std::sort(all->begin(), all->end(), [](const auto& a, const auto& b) { return a.domid < b.domid; });
    return all;
}

// One domain's parameters under `want`; nullopt (no error) when the
// domain is not scheduled (it stopped, or is going) and `skip_gone`.
hv::Result<std::optional<SchedParams>> params_of(const hv::sdk::Connection& conn, uint32_t domid, SchedPolicy want,
                                                 bool skip_gone) {
    auto sp = conn.sched_params(domid);
    if (!sp) {
        if (skip_gone && sp.error().code == hv::Errc::not_found) return std::optional<SchedParams>();
        return sp.error();
    }
    if (sp->policy != want) return wrong_policy(sp->policy, want); // switched under us
    return std::optional<SchedParams>(*sp);
}

// A domain's name and id from DOMAIN (a name or an id).
struct Named {
    uint32_t domid = 0;
    std::string name;
};

hv::Result<Named> find_domain(const hv::sdk::Connection& conn, const std::string& name_or_id) {
    auto dom = conn.domain(name_or_id);
    if (!dom) return dom.error();
    auto info = dom->info();
    if (!info) return info.error();
    return Named{dom->id(), info->name};
}

// The table rows of every scheduled domain (xl: every domain of the pool),
// `row` formatting one from its name and parameters.
template <class Row>
hv::Result<std::vector<std::string>> every_domain(const hv::sdk::Connection& conn, SchedPolicy want, Row row) {
    auto doms = domains_by_id(conn);
    if (!doms) return doms.error();
    std::vector<std::string> lines;
    for (const auto& d : *doms) {
        auto sp = params_of(conn, d.domid, want, true);
        if (!sp) return sp.error();
        if (*sp) lines.push_back(row(d.name, **sp));
    }
    return lines;
}

void print_lines(const std::vector<std::string>& lines) {
    for (const std::string& l : lines) std::printf("%s\n", l.c_str());
}

std::string credit_row(const std::string& name, const SchedParams& p) {
    return sched_credit_row(name, p.domid, p.weight.value_or(0), p.cap.value_or(0));
}

std::string rtds_row(const std::string& name, const SchedParams& p) {
    return sched_rtds_row(name, p.domid, p.period_us.value_or(0), p.budget_us.value_or(0), p.extratime.value_or(false));
}

// -d DOMAIN alone: xl's header and the domain's row.
template <class Row>
int show_domain(const hv::sdk::Connection& conn, const std::string& dom, SchedPolicy want, const std::string& header,
                Row row) {
    auto d = find_domain(conn, dom);
    if (!d) return fail(d.error());
    auto sp = params_of(conn, d->domid, want, false);
    if (!sp) return fail(sp.error());
    std::printf("%s\n%s\n", header.c_str(), row(d->name, **sp).c_str());
    return kExitOk;
}

// The pool line, the header and every domain's row (xl without -d).
template <class Row>
int show_all(const hv::sdk::Connection& conn, SchedPolicy want, const std::string& header, Row row) {
    auto h = host_running(conn, want);
    if (!h) return fail(h.error());
    auto lines = every_domain(conn, want, row);
    if (!lines) return fail(lines.error());
    std::printf("%s\n%s\n", want == SchedPolicy::credit ? credit_pool_line(*h).c_str() : rtds_pool_line().c_str(),
                header.c_str());
    print_lines(*lines);
    return kExitOk;
}

// -s: the credit scheduler's host-wide parameters, shown or set.
int credit_globals(const Globals& g, const hv::sdk::Connection& conn, const Number& tslice_ms, const Number& ratelimit,
                   const Number& tick) {
    auto h = host_running(conn, SchedPolicy::credit);
    if (!h) return fail(h.error());
    if (!tslice_ms.value && !ratelimit.value && !tick.value) {
        std::printf("%s\n", credit_pool_line(*h).c_str());
        return kExitOk;
    }
    if (auto refused = refuse_embedded_setting(g)) return *refused;
    // 0 in SchedHost's fields means "leave it": refuse it here, and
    // anything past what the ABI carries, in the units the user gave.
    constexpr uint32_t tslice_min_ms = cs::kCreditTsliceUsMin / 1000, tslice_max_ms = cs::kCreditTsliceUsMax / 1000;
    if (tslice_ms.value && (*tslice_ms.value < tslice_min_ms || *tslice_ms.value > tslice_max_ms))
        return fail(fmt::format("time slice {} ms is out of range ({}..{} ms)", *tslice_ms.value, tslice_min_ms,
                                tslice_max_ms));
    const uint32_t tslice_us = tslice_ms.value ? *tslice_ms.value * 1000 : h->tslice_us;
    if (tick.value && *tick.value == 0)
        return fail(fmt::format("tick 0 us is out of range ({}..{} us)", cs::kCreditTickUsMin, tslice_us));
    if (ratelimit.value && *ratelimit.value > cs::kCreditRatelimitUsMax)
        return fail(fmt::format("rate limit {} us is out of range ({}..{} us)", *ratelimit.value, cs::kCreditRatelimitUsMin,
                                std::min(cs::kCreditRatelimitUsMax, tslice_us)));
    SchedHost set;
    set.policy = SchedPolicy::credit;
    set.tslice_us = tslice_ms.value ? tslice_us : 0;
    set.tick_us = tick.value.value_or(0);
    set.ratelimit_us = ratelimit.value;
    if (auto r = conn.set_sched_host(set); !r) return fail(r.error());
    return kExitOk;
}

constexpr const char* kCreditUsage =
    "sched-credit [-p Pool-0] [-d DOMAIN [-w WEIGHT] [-c CAP]]\n"
    "       hvctl sched-credit [-p Pool-0] -s [-t TSLICE_MS] [-r RATELIMIT_US] [-k TICK_US]";
constexpr const char* kRtdsUsage =
    "sched-rtds [-c Pool-0] [-d DOMAIN [-p PERIOD_US] [-b BUDGET_US] [-e 0|1]]";
constexpr const char* kPolicyUsage = "sched-policy [credit|rtds]";
constexpr const char* kVcpuListUsage = "vcpu-list [DOMAIN...]";
constexpr const char* kVcpuPinUsage = "vcpu-pin DOMAIN VCPU|all HARD|-|all [SOFT|-|all]";

// A parsed CPU-list argument of vcpu-pin.
struct CpuArg {
    bool keep = true;     // "-" (or SOFT not given): leave the affinity as it is
    uint64_t mask = 0;    // 0: every host CPU
    bool has_all = false; // an "all" item: it means the host's CPUs, not 0..63
    std::string text;
};

bool is_all_item(std::string_view item) {
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!item.empty() && blank(item.front())) item.remove_prefix(1);
    while (!item.empty() && blank(item.back())) item.remove_suffix(1);
    return item == "all";
}

hv::Result<CpuArg> cpu_arg(const std::string& text, const char* what) {
    CpuArg a;
    a.text = text;
    if (text == "-") return a;
    a.keep = false;
    auto m = hv::config::parse_cpu_list(text);
    if (!m) return hv::make_error(m.error().code, std::string(what) + ": " + m.error().message);
    for (size_t from = 0;;) {
        const size_t comma = text.find(',', from);
        a.has_all = a.has_all || is_all_item(std::string_view(text).substr(from, comma - from));
        if (comma == std::string::npos) break;
        from = comma + 1;
    }
    // "all" alone (or with more CPUs of 0..63): every host CPU.
    a.mask = a.has_all && *m == ~uint64_t{0} ? 0 : *m;
    return a;
}

// An "all" list with exclusions ("all,^7") names CPUs up to 63: keep the
// host's.
hv::Result<void> restrict_to_host(CpuArg& a, uint64_t host, const char* what) {
    if (a.keep || !a.has_all || a.mask == 0) return {};
    a.mask &= host;
    if (a.mask == 0)
        return hv::make_error(hv::Errc::invalid_argument, fmt::format("{}: '{}' leaves no host CPU (hv's host CPUs: {})",
                                                                      what, a.text, hv::config::format_cpu_list(host)));
    if (a.mask == host) a.mask = 0;
    return {};
}

} // namespace

int sched_credit_command(const Globals& g, const Args& args) {
    const ParsedArgs p = parse_args("sched-credit", args, "d:w:c:p:st:r:k:m:", kCreditUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "sched-credit", kCreditUsage, 0, 0)) return kExitError;
    if (p.value("m"))
        return fail("sched-credit: -m (migration delay) is not supported: hv's credit scheduler has no migration delay");
    if (auto e = pool_error(p, 'p')) return fail(*e);
    const auto dom = p.value("d");
    const bool s = p.has('s'), any_domain_opt = dom || p.value("w") || p.value("c");
    if ((s || p.value("p")) && any_domain_opt)
        return usage_error("sched-credit", kCreditUsage, "-s and -p cannot be combined with -d, -w or -c");
    if (!dom && (p.value("w") || p.value("c"))) return usage_error("sched-credit", kCreditUsage, "-w and -c need -d DOMAIN");
    if (!s && (p.value("t") || p.value("r") || p.value("k")))
        return usage_error("sched-credit", kCreditUsage, "-t, -r and -k need -s");
    const Number weight = number(p, 'w', "weight", fmt::format("{}..{}", cs::kCreditWeightMin, cs::kCreditWeightMax));
    const Number cap = number(p, 'c', "cap", "0..100 x the domain's vCPUs");
    const Number tslice = number(p, 't', "time slice", fmt::format("{}..{} ms", cs::kCreditTsliceUsMin / 1000,
                                                                   cs::kCreditTsliceUsMax / 1000));
    const Number ratelimit = number(p, 'r', "rate limit", fmt::format("{}..{} us", cs::kCreditRatelimitUsMin,
                                                                      cs::kCreditRatelimitUsMax));
    const Number tick = number(p, 'k', "tick", fmt::format("{} us..the time slice", cs::kCreditTickUsMin));
    for (const Number* n : {&weight, &cap, &tslice, &ratelimit, &tick})
        if (!n->error.empty()) return n->usage ? usage_error("sched-credit", kCreditUsage, n->error) : fail(n->error);

    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    if (s) return credit_globals(g, *conn, tslice, ratelimit, tick);
    if (!dom) return show_all(*conn, SchedPolicy::credit, sched_credit_header(), credit_row);
    if (!weight.value && !cap.value) return show_domain(*conn, *dom, SchedPolicy::credit, sched_credit_header(), credit_row);
    auto d = find_domain(*conn, *dom);
    if (!d) return fail(d.error());
    SchedParams set;
    set.domid = d->domid;
    set.policy = SchedPolicy::credit;
    set.weight = weight.value;
    set.cap = cap.value;
    if (auto r = conn->set_sched_params(set); !r) return fail(r.error());
    return kExitOk;
}

int sched_rtds_command(const Globals& g, const Args& args) {
    const ParsedArgs p = parse_args("sched-rtds", args, "d:p:b:e:v:c:", kRtdsUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "sched-rtds", kRtdsUsage, 0, 0)) return kExitError;
    if (p.value("v"))
        return fail("sched-rtds: -v (per-vCPU parameters) is not supported: hv's rtds parameters are per domain "
                    "(-d DOMAIN with -p, -b, -e sets them for every vCPU of the domain)");
    if (auto e = pool_error(p, 'c')) return fail(*e);
    const auto dom = p.value("d");
    const bool setting = p.value("p") || p.value("b") || p.value("e");
    if (p.value("c") && (dom || setting))
        return usage_error("sched-rtds", kRtdsUsage, "-c cannot be combined with -d, -p, -b or -e");
    if (!dom && setting) return usage_error("sched-rtds", kRtdsUsage, "-p, -b and -e need -d DOMAIN");
    const Number period = number(p, 'p', "period", fmt::format("{}..{} us", cs::kRtdsPeriodUsMin, cs::kRtdsPeriodUsMax));
    const Number budget = number(p, 'b', "budget", fmt::format("{} us..the period", cs::kRtdsBudgetUsMin));
    for (const Number* n : {&period, &budget})
        if (!n->error.empty()) return n->usage ? usage_error("sched-rtds", kRtdsUsage, n->error) : fail(n->error);
    std::optional<bool> extratime;
    if (const auto e = p.value("e")) {
        if (*e != "0" && *e != "1") return usage_error("sched-rtds", kRtdsUsage, "-e: extratime is 0 or 1, not '" + *e + "'");
        extratime = *e == "1";
    }

    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    if (!dom) return show_all(*conn, SchedPolicy::rtds, sched_rtds_header(), rtds_row);
    if (!setting) return show_domain(*conn, *dom, SchedPolicy::rtds, sched_rtds_header(), rtds_row);
    auto d = find_domain(*conn, *dom);
    if (!d) return fail(d.error());
    SchedParams set;
    set.domid = d->domid;
    set.policy = SchedPolicy::rtds;
    set.period_us = period.value;
    set.budget_us = budget.value;
    set.extratime = extratime;
    if (auto r = conn->set_sched_params(set); !r) return fail(r.error());
    return kExitOk;
}

int sched_policy_command(const Globals& g, const Args& args) {
    const ParsedArgs p = parse_args("sched-policy", args, "", kPolicyUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "sched-policy", kPolicyUsage, 0, 1)) return kExitError;
    std::optional<SchedPolicy> to;
    if (!p.positional.empty()) {
        const std::string& name = p.positional[0];
        if (name == "credit") to = SchedPolicy::credit;
        else if (name == "rtds") to = SchedPolicy::rtds;
        else return usage_error("sched-policy", kPolicyUsage, "'" + name + "' is not a scheduler: hv has credit and rtds");
        if (auto refused = refuse_embedded_setting(g)) return *refused;
    }
    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    if (to) {
        SchedHost set;
        set.policy = *to;
        if (auto r = conn->set_sched_host(set); !r) return fail(r.error());
        return kExitOk;
    }
    auto h = conn->sched_host();
    if (!h) return fail(h.error());
    const int n = std::popcount(h->pcpus);
    std::printf("%s\n%s\n%s\n", info_line("policy", hv::sdk::policy_name(h->policy)).c_str(),
                info_line("cpus", hv::config::format_cpu_list(h->pcpus)).c_str(),
                info_line("nr_cpus", std::to_string(n)).c_str());
    return kExitOk;
}

int vcpu_list_command(const Globals& g, const Args& args) {
    const ParsedArgs p = parse_args("vcpu-list", args, "", kVcpuListUsage);
    if (p.done) return *p.done;
    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    auto h = conn->sched_host();
    if (!h) return fail(h.error());
    std::map<uint32_t, std::string> names;
    if (auto all = conn->list()) {
        for (const auto& d : *all) names[d.domid] = d.name;
    } else {
        return fail(all.error());
    }
    std::vector<hv::sdk::VcpuInfo> rows;
    if (p.positional.empty()) {
        auto r = conn->vcpu_list();
        if (!r) return fail(r.error());
        rows = std::move(*r);
    }
    for (const std::string& dom : p.positional) { // in the order given, as xl
        auto d = find_domain(*conn, dom);
        if (!d) return fail(d.error());
        names[d->domid] = d->name;
        auto r = conn->vcpu_list(d->domid);
        if (!r) return fail(r.error());
        rows.insert(rows.end(), r->begin(), r->end());
    }
    std::printf("%s\n", vcpu_list_header().c_str());
    for (const auto& v : rows) {
        const auto it = names.find(v.domid);
        std::printf("%s\n", vcpu_list_row(it != names.end() ? it->second : "-", v, h->pcpus).c_str());
    }
    return kExitOk;
}

int vcpu_pin_command(const Globals& g, const Args& args) {
    const ParsedArgs p = parse_args("vcpu-pin", args, "", kVcpuPinUsage);
    if (p.done) return *p.done;
    if (!positional_count(p, "vcpu-pin", kVcpuPinUsage, 3, 4)) return kExitError;
    std::optional<uint32_t> vcpu;
    if (const std::string& v = p.positional[1]; v != "all") {
        uint32_t n = 0;
        const char* end = v.data() + v.size();
        const auto [ptr, ec] = std::from_chars(v.data(), end, n);
        // 2^32-1 is the ABI's "every vCPU": not a vCPU number.
        if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || ec != std::errc() || ptr != end ||
            n == std::numeric_limits<uint32_t>::max())
            return usage_error("vcpu-pin", kVcpuPinUsage, "'" + v + "' is not a vCPU number or 'all'");
        vcpu = n;
    }
    // Bad CPU lists are refused here, before any monitor is asked.
    auto hard = cpu_arg(p.positional[2], "hard affinity");
    if (!hard) return fail(hard.error());
    auto soft = cpu_arg(p.positional.size() > 3 ? p.positional[3] : "-", "soft affinity");
    if (!soft) return fail(soft.error());

    auto conn = open_connection(g);
    if (!conn) return fail(conn.error());
    auto d = find_domain(*conn, p.positional[0]);
    if (!d) return fail(d.error());
    if ((hard->has_all && hard->mask != 0) || (soft->has_all && soft->mask != 0)) {
        auto h = conn->sched_host();
        if (!h) return fail(h.error());
        if (auto r = restrict_to_host(*hard, h->pcpus, "hard affinity"); !r) return fail(r.error());
        if (auto r = restrict_to_host(*soft, h->pcpus, "soft affinity"); !r) return fail(r.error());
    }
    hv::sdk::VcpuPin pin;
    pin.domid = d->domid;
    pin.vcpu = vcpu;
    if (!hard->keep) pin.hard = hard->mask;
    if (!soft->keep) pin.soft = soft->mask;
    if (auto r = conn->vcpu_pin(pin); !r) return fail(r.error());
    return kExitOk;
}

} // namespace hvctl
