#include "control/sched_control.hpp"

namespace hv::control {

namespace cs = core::sched;

namespace {

Error no_host() { return sdk::Backend::no_scheduler(); }

cs::Policy core_policy(sdk::SchedPolicy p) { return p == sdk::SchedPolicy::rtds ? cs::Policy::rtds : cs::Policy::credit; }
sdk::SchedPolicy sdk_policy(cs::Policy p) { return p == cs::Policy::rtds ? sdk::SchedPolicy::rtds : sdk::SchedPolicy::credit; }

// A mask from the wire: 0 means every host CPU (an empty CpuMask).
cs::CpuMask mask_of(uint64_t bits) { return sched::cpu_mask_of(bits); }

// Range errors name the value and the range; the core's constants are the
// only source of both.
Result<void> in_range(const char* what, uint32_t v, uint32_t lo, uint32_t hi, const char* unit = "") {
    if (v >= lo && v <= hi) return {};
    return make_error(Errc::invalid_argument, fmt::format("{} {}{} is out of range ({}..{}{})", what, v, unit, lo, hi, unit));
}

} // namespace

Result<sdk::SchedHost> SchedControl::sched_host() {
    if (host_ == nullptr) return no_host();
    sdk::SchedHost h;
    h.policy = sdk_policy(host_->policy());
    const cs::GlobalParams g = host_->globals();
    if (g.policy == cs::Policy::credit) {
        h.tslice_us = g.credit.tslice_us;
        h.tick_us = g.credit.tick_us;
        h.ratelimit_us = g.credit.ratelimit_us;
    }
    h.pcpus = sched::cpu_bits(host_->pcpus());
    return h;
}

Result<void> SchedControl::set_sched_host(const sdk::SchedHost& h) {
    if (host_ == nullptr) return no_host();
    if (h.pcpus != 0 && h.pcpus != sched::cpu_bits(host_->pcpus()))
        return make_error(Errc::not_supported, "the host CPUs are chosen when hvd starts (--cpus)");
    const bool credit_fields = h.tslice_us != 0 || h.tick_us != 0 || h.ratelimit_us.has_value();
    if (credit_fields && h.policy != sdk::SchedPolicy::credit)
        return make_error(Errc::invalid_argument, "time slice, tick and rate limit are the credit scheduler's");
    // Every value first, so a bad one changes nothing (not even the
    // policy): against the time slice it will have (given, current, or the
    // new credit instance's default).
    const cs::GlobalParams now = host_->globals();
    const uint32_t tslice = h.tslice_us != 0                    ? h.tslice_us
                            : now.policy == cs::Policy::credit ? now.credit.tslice_us
                                                               : cs::kCreditTsliceUsDefault;
    if (h.tslice_us != 0)
        if (auto r = in_range("time slice", h.tslice_us, cs::kCreditTsliceUsMin, cs::kCreditTsliceUsMax, " us"); !r) return r;
    if (h.tick_us != 0)
        if (auto r = in_range("tick", h.tick_us, cs::kCreditTickUsMin, tslice, " us"); !r) return r;
    if (h.ratelimit_us && *h.ratelimit_us != 0)
        if (auto r = in_range("rate limit", *h.ratelimit_us, cs::kCreditRatelimitUsMin,
                              std::min(cs::kCreditRatelimitUsMax, tslice), " us");
            !r)
            return r;
    if (auto r = host_->switch_policy(core_policy(h.policy)); !r) return r;
    if (!credit_fields) return {};
    cs::GlobalParams g = host_->globals();
    if (h.tslice_us != 0) {
        if (auto r = in_range("time slice", h.tslice_us, cs::kCreditTsliceUsMin, cs::kCreditTsliceUsMax, " us"); !r) return r;
        g.credit.tslice_us = h.tslice_us;
        if (h.tick_us == 0 && g.credit.tick_us > h.tslice_us) g.credit.tick_us = h.tslice_us;
        if (!h.ratelimit_us && g.credit.ratelimit_us > h.tslice_us) g.credit.ratelimit_us = h.tslice_us;
    }
    if (h.tick_us != 0) {
        if (auto r = in_range("tick", h.tick_us, cs::kCreditTickUsMin, g.credit.tslice_us, " us"); !r) return r;
        g.credit.tick_us = h.tick_us;
    }
    if (h.ratelimit_us) {
        if (*h.ratelimit_us != 0)
            if (auto r = in_range("rate limit", *h.ratelimit_us, cs::kCreditRatelimitUsMin,
                                  std::min(cs::kCreditRatelimitUsMax, g.credit.tslice_us), " us");
                !r)
                return r;
        g.credit.ratelimit_us = *h.ratelimit_us;
    }
    return host_->set_globals(g);
}

Result<sdk::SchedParams> SchedControl::sched_params(uint32_t domid) {
    if (host_ == nullptr) return no_host();
    auto p = host_->domain_params(domid);
    if (!p) return p.error();
    sdk::SchedParams out;
    out.domid = domid;
    out.policy = sdk_policy(p->policy);
    if (p->policy == cs::Policy::credit) {
        out.weight = p->credit.weight;
        out.cap = p->credit.cap;
    } else {
        out.period_us = p->rtds.period_us;
        out.budget_us = p->rtds.budget_us;
        out.extratime = p->rtds.extratime;
    }
    return out;
}

Result<void> SchedControl::set_sched_params(const sdk::SchedParams& in) {
    if (host_ == nullptr) return no_host();
    auto cur = host_->domain_params(in.domid);
    if (!cur) return cur.error();
    if (core_policy(in.policy) != cur->policy)
        return make_error(Errc::invalid_argument, fmt::format("the host runs the {} scheduler, not {}",
                                                              cs::policy_name(cur->policy), sdk::policy_name(in.policy)));
    cs::SchedParams p = *cur;
    const bool credit = cur->policy == cs::Policy::credit;
    if ((in.weight || in.cap) && !credit) return make_error(Errc::invalid_argument, "weight and cap are the credit scheduler's");
    if ((in.period_us || in.budget_us || in.extratime) && credit)
        return make_error(Errc::invalid_argument, "period, budget and extratime are the rtds scheduler's");
    // Weight and cap ranges are SchedHost's to check (cap's depends on the domain).
    if (in.weight) p.credit.weight = *in.weight;
    if (in.cap) p.credit.cap = *in.cap;
    if (in.period_us) {
        if (auto r = in_range("period", *in.period_us, cs::kRtdsPeriodUsMin, cs::kRtdsPeriodUsMax, " us"); !r) return r;
        p.rtds.period_us = *in.period_us;
    }
    if (in.budget_us) p.rtds.budget_us = *in.budget_us;
    if (!credit) {
        if (auto r = in_range("budget", p.rtds.budget_us, cs::kRtdsBudgetUsMin, p.rtds.period_us, " us"); !r) return r;
    }
    if (in.extratime) p.rtds.extratime = *in.extratime;
    return host_->set_domain_params(in.domid, p);
}

Result<std::vector<sdk::VcpuInfo>> SchedControl::vcpu_list(std::optional<uint32_t> domid) {
    if (host_ == nullptr) return no_host();
    if (domid && !host_->attached(*domid))
        return make_error(Errc::not_found, fmt::format("domain {} is not scheduled", *domid));
    std::vector<sdk::VcpuInfo> out;
    const uint64_t all = sched::cpu_bits(host_->pcpus());
    for (const sched::VcpuRow& r : host_->vcpus(domid)) {
        sdk::VcpuInfo v;
        v.domid = r.domid;
        v.vcpu = r.vcpu;
        v.state = !r.online ? sdk::VcpuState::offline
                  : r.state == cs::RunState::running ? sdk::VcpuState::running
                  : r.state == cs::RunState::runnable ? sdk::VcpuState::runnable
                                                       : sdk::VcpuState::blocked;
        if (r.pcpu != cs::kNoPcpu) v.cpu = r.pcpu;
        v.runtime_ns = r.runtime_ns;
        v.hard = r.hard.empty() ? all : sched::cpu_bits(r.hard);
        v.soft = r.soft.empty() ? all : sched::cpu_bits(r.soft);
        out.push_back(v);
    }
    return out;
}

Result<void> SchedControl::vcpu_pin(const sdk::VcpuPin& p) {
    if (host_ == nullptr) return no_host();
    std::optional<cs::CpuMask> hard, soft;
    if (p.hard) hard = mask_of(*p.hard);
    if (p.soft) soft = mask_of(*p.soft);
    return host_->pin(p.domid, p.vcpu, hard, soft);
}

} // namespace hv::control
