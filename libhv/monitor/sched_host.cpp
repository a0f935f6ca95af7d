#include "monitor/sched_host.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "config/cpu_list.hpp"

namespace hv::sched {

using core::sched::CpuMask;
using core::sched::kMaxPcpus;
using core::sched::kNever;
using core::sched::kNoPcpu;
using core::sched::Nanos;
using core::sched::Policy;
using core::sched::SchedError;
using core::sched::SchedParams;
using core::sched::VcpuRef;

static_assert(kMaxPcpus == 64, "a mask is one uint64_t on the wire and in configs");

uint64_t cpu_bits(const CpuMask& m) {
    uint64_t b = 0;
    for (uint32_t c = m.first(); c < kMaxPcpus; c = m.next_from(c + 1)) b |= uint64_t{1} << c;
    return b;
}

CpuMask cpu_mask_of(uint64_t bits) {
    CpuMask m;
    for (uint32_t c = 0; c < kMaxPcpus; ++c)
        if ((bits >> c) & 1u) m.set(c);
    return m;
}

namespace {

// A vCPU's mask in a DomainSched list: none given, one for all, or per vCPU.
CpuMask affinity_of(const std::vector<CpuMask>& list, uint32_t vcpu) {
    if (list.size() == 1) return list[0];
    return vcpu < list.size() ? list[vcpu] : CpuMask{};
}

std::string cpus_text(const CpuMask& m) { return config::format_cpu_list(cpu_bits(m)); }

Error sched_error(SchedError e, const std::string& what) {
    return make_error(e == SchedError::no_such_domain ? Errc::not_found : Errc::invalid_argument,
                      what + ": " + core::sched::sched_error_text(e));
}

// How long a thread of `pid` has waited on a run queue (runnable, not
// running), from the kernel's schedstat (second field); 0 when the thread
// is gone or not pid's (the path checks that). Unlike the first field
// (time on CPU, brought up to date only at the kernel's tick, 4 ms here)
// it is exact up to the thread's last arrival on a CPU.
uint64_t run_delay_ns(pid_t pid, int32_t tid) {
    if (pid <= 0 || tid <= 0) return 0;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", static_cast<int>(pid), static_cast<int>(tid));
    FILE* f = std::fopen(path, "re");
    if (f == nullptr) return 0;
    unsigned long long on_cpu = 0, waited = 0;
    if (std::fscanf(f, "%llu %llu", &on_cpu, &waited) != 2) waited = 0;
    std::fclose(f);
    return waited;
}

} // namespace

DomainSched domain_sched(const config::DomainConfig& cfg) {
    DomainSched d;
    d.max_vcpus = config::max_vcpus_of(cfg);
    d.weight = cfg.sched.weight;
    d.cap = cfg.sched.cap;
    // "all" (every CPU a mask can name) means every host CPU: no affinity.
    constexpr uint64_t kAll = ~uint64_t{0};
    for (uint64_t m : cfg.sched.cpus_hard) d.hard.push_back(m == kAll ? CpuMask{} : cpu_mask_of(m));
    for (uint64_t m : cfg.sched.cpus_soft) d.soft.push_back(m == kAll ? CpuMask{} : cpu_mask_of(m));
    return d;
}

Result<Policy> parse_policy(std::string_view name) {
    if (name == "credit") return Policy::credit;
    if (name == "rtds") return Policy::rtds;
    return make_error(Errc::invalid_argument, fmt::format("'{}' is not a scheduler: hv has credit and rtds", name));
}

CpuMask SchedHost::process_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    CpuMask m;
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
        for (uint32_t c = 0; c < kMaxPcpus; ++c)
            if (CPU_ISSET(c, &set)) m.set(c);
    }
    if (m.empty()) m.set(0);
    return m;
}

SchedHost::SchedHost(const Options& options, SchedBell& bell, std::shared_ptr<spdlog::logger> log)
    : bell_(bell), log_(std::move(log)), pcpus_(options.pcpus.empty() ? process_cpus() : options.pcpus),
      slot_owner_(core::sched::kMaxSchedDomains, 0), pcpu_(kMaxPcpus) {
    active_ = &make(options.policy);
}

core::sched::Scheduler& SchedHost::make(Policy p) {
    if (p == Policy::rtds) return *(rtds_ = std::make_unique<core::sched::RtdsScheduler>(pcpus_));
    return *(credit_ = std::make_unique<core::sched::CreditScheduler>(pcpus_));
}

Result<std::unique_ptr<SchedHost>> SchedHost::start(const Options& options, SchedBell& bell,
                                                    std::shared_ptr<spdlog::logger> log) {
    const CpuMask usable = process_cpus();
    if (!options.pcpus.empty() && !options.pcpus.subset_of(usable))
        return make_error(Errc::invalid_argument,
                          fmt::format("host CPUs {}: not all of them are CPUs this process may run on ({})",
                                      cpus_text(options.pcpus), cpus_text(usable)));
    std::unique_ptr<SchedHost> h(new SchedHost(options, bell, std::move(log)));
    h->thread_ = std::thread([p = h.get()] { p->main(); });
    return h;
}

SchedHost::~SchedHost() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
        for (auto& [domid, c] : channels_) release(c);
        channels_.clear();
    }
    poke();
    if (thread_.joinable()) thread_.join();
}

void SchedHost::poke() {
    bell_.ring.fetch_add(1);
    futex_wake(bell_.ring, 1);
}

SchedHost::Channel* SchedHost::channel(uint32_t domid) {
    auto it = channels_.find(domid);
    return it == channels_.end() ? nullptr : &it->second;
}
const SchedHost::Channel* SchedHost::channel(uint32_t domid) const {
    auto it = channels_.find(domid);
    return it == channels_.end() ? nullptr : &it->second;
}

Result<void> SchedHost::check(const DomainSched& d) const {
    std::lock_guard lock(mu_);
    return check_locked(d);
}

Result<void> SchedHost::check_locked(const DomainSched& d) const {
    if (d.max_vcpus == 0 || d.max_vcpus > core::sched::kMaxVcpusPerDomain)
        return make_error(Errc::invalid_argument, fmt::format("maxvcpus {} is out of range (1..{})", d.max_vcpus,
                                                              core::sched::kMaxVcpusPerDomain));
    for (const auto* list : {&d.hard, &d.soft}) {
        const char* key = list == &d.hard ? "cpus" : "cpus_soft";
        if (list->size() > d.max_vcpus)
            return make_error(Errc::invalid_argument,
                              fmt::format("{}: {} per-vCPU lists for {} vCPUs", key, list->size(), d.max_vcpus));
        for (const CpuMask& m : *list)
            if (!m.subset_of(pcpus_))
                return make_error(Errc::invalid_argument,
                                  fmt::format("{}: CPUs {} are not all host CPUs given to hv ({})", key, cpus_text(m),
                                              cpus_text(pcpus_)));
    }
    if (d.weight && (*d.weight < core::sched::kCreditWeightMin || *d.weight > core::sched::kCreditWeightMax))
        return make_error(Errc::invalid_argument, fmt::format("cpu_weight {} is out of range ({}..{})", *d.weight,
                                                              core::sched::kCreditWeightMin,
                                                              core::sched::kCreditWeightMax));
    if (d.cap && *d.cap > core::sched::kCreditCapPerVcpu * d.max_vcpus)
        return make_error(Errc::invalid_argument, fmt::format("cap {} is out of range (0..{} = 100 x {} vCPUs)", *d.cap,
                                                              core::sched::kCreditCapPerVcpu * d.max_vcpus,
                                                              d.max_vcpus));
    // Every attached domain holds room for all of its vCPUs (maxvcpus), so
    // one that brings vCPUs online later always finds it.
    if (channels_.size() >= core::sched::kMaxSchedDomains || reserved_vcpus_ + d.max_vcpus > core::sched::kMaxSchedVcpus)
        return make_error(Errc::busy, fmt::format("the host scheduler is full ({} domains, {} vCPUs at most)",
                                                  core::sched::kMaxSchedDomains, core::sched::kMaxSchedVcpus));
    return {};
}

Result<void> SchedHost::apply_params_locked(uint16_t slot, const DomainSched& d) {
    if (active_->policy() != Policy::credit || (!d.weight && !d.cap)) return {};
    SchedParams p;
    p.policy = Policy::credit;
    if (d.weight) p.credit.weight = *d.weight;
    if (d.cap) p.credit.cap = *d.cap;
    const SchedError e = active_->set_domain_params(slot, p);
    if (e != SchedError::ok) return sched_error(e, "cpu_weight/cap");
    return {};
}

Result<void> SchedHost::attach(uint32_t domid, std::shared_ptr<void> keep, SchedPage& page, pid_t pid,
                               const DomainSched& d, const SharedMapping* mapping) {
    if (page.magic != kPageMagic || page.version != kLayoutVersion)
        return make_error(Errc::protocol_error, fmt::format("domain {}: scheduling page of another layout", domid));
    // 0 marks a free slot in slot_owner_ (hv hands out domids from 1).
    if (domid == 0) return make_error(Errc::invalid_argument, "domain 0 cannot be scheduled: hv's domids start at 1");
    std::lock_guard lock(mu_);
    if (stop_) return make_error(Errc::busy, "the host scheduler is stopping");
    if (channels_.count(domid) != 0) return make_error(Errc::exists, fmt::format("domain {} is already scheduled", domid));
    if (auto ok = check_locked(d); !ok) return ok.error();
    const auto free = std::find(slot_owner_.begin(), slot_owner_.end(), 0u);
    const auto slot = static_cast<uint16_t>(free - slot_owner_.begin());
    if (const SchedError e = active_->insert_domain(slot, d.max_vcpus); e != SchedError::ok)
        return sched_error(e, fmt::format("domain {}", domid));
    if (auto ok = apply_params_locked(slot, d); !ok) {
        active_->remove_domain(slot);
        return ok;
    }
    *free = domid;
    Channel& c = channels_[domid];
    c.domid = domid;
    c.slot = slot;
    c.page = &page;
    c.keep = std::move(keep);
    c.pid = pid;
    c.mapping = mapping;
    c.setup = d;
    c.v.assign(d.max_vcpus, Vcpu{});
    reserved_vcpus_ += d.max_vcpus;
    for (uint32_t i = 0; i < kPageVcpus; ++i) page.vcpu[i].grant.store(0);
    page.managed.store(d.max_vcpus);
    page.heartbeat_ns.store(monotonic_ns());
    page.claimed.store(1);
    page.dirty.store(1);
    // vCPUs already in the guest (they ran unscheduled until now) leave it
    // and come back through the gate.
    const int sig = page.kick_signal.load();
    if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        for (uint32_t i = 0; i < d.max_vcpus; ++i)
            if (const int32_t tid = page.vcpu[i].tid.load(); tid > 0 && page.vcpu[i].online.load() != 0)
                ::syscall(SYS_tgkill, pid, tid, sig);
    poke();
    return {};
}

void SchedHost::drop_vcpu(Channel& c, uint32_t i) {
    Vcpu& v = c.v[i];
    if (!v.inserted) return;
    const VcpuRef ref{c.slot, static_cast<uint16_t>(i)};
    for (Pcpu& p : pcpu_)
        if (p.cur && *p.cur == ref) p.cur.reset();
    active_->remove_vcpu(ref);
    c.page->vcpu[i].grant.store(0);
    v = Vcpu{};
}

void SchedHost::release(Channel& c) {
    for (uint32_t i = 0; i < c.v.size(); ++i) drop_vcpu(c, i);
    active_->remove_domain(c.slot);
    slot_owner_[c.slot] = 0;
    reserved_vcpus_ -= static_cast<uint32_t>(c.v.size());
    // Unclaimed: its vCPUs stop waiting for grants.
    c.page->claimed.store(0);
    c.page->managed.store(0);
    c.page->heartbeat_ns.store(0);
    for (uint32_t i = 0; i < c.v.size(); ++i) futex_wake(c.page->vcpu[i].grant, 1);
}

void SchedHost::detach(uint32_t domid) {
    {
        std::lock_guard lock(mu_);
        Channel* c = channel(domid);
        if (c == nullptr) return;
        release(*c);
        channels_.erase(domid);
    }
    poke();
}

bool SchedHost::attached(uint32_t domid) const {
    std::lock_guard lock(mu_);
    return channel(domid) != nullptr;
}

// ---- the scheduling thread ----

void SchedHost::main() {
    for (;;) {
        const uint32_t seen = bell_.ring.load();
        Nanos wake = kNever;
        Nanos now = 0;
        {
            std::lock_guard lock(mu_);
            if (stop_) return;
            now = monotonic_ns();
            wake = pass(now);
        }
        const Nanos limit = now + kBeatNs;
        const Nanos until = std::min(wake, limit);
        if (until > now) futex_wait(bell_.ring, seen, until - now);
    }
}

Nanos SchedHost::pass(Nanos now) {
    // A domain process that shrank its page file: the page now reads zeros
    // here (SharedMapping's SIGBUS guard) and reaches nobody; its vCPUs run
    // unscheduled from now on.
    if (const uint64_t n = SharedMapping::poison_count(); n != poisonings_seen_) {
        poisonings_seen_ = n;
        for (auto it = channels_.begin(); it != channels_.end();) {
            if (it->second.mapping != nullptr && it->second.mapping->poisoned()) {
                log_->warn("domain {}: its scheduling page file was truncated; no longer scheduled", it->first);
                release(it->second);
                it = channels_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& [domid, c] : channels_) {
        c.page->heartbeat_ns.store(now); // per page: no domain can make the host look gone to another
        if (c.page->dirty.exchange(0) != 0) sync(c, now);
    }
    if (now >= active_->next_tick()) active_->tick(now);
    // Picks may tickle other pCPUs (work stealing, preemption): a few
    // rounds settle it; what is left waits for the next pass.
    for (int round = 0; round < 4; ++round) {
        CpuMask due = active_->take_resched();
        for (uint32_t p = pcpus_.first(); p < kMaxPcpus; p = pcpus_.next_from(p + 1))
            if (pcpu_[p].slice_end <= now) due.set(p);
        if (due.empty()) break;
        for (uint32_t p = due.first(); p < kMaxPcpus; p = due.next_from(p + 1))
            if (pcpus_.test(p)) decide(p, now);
    }
    Nanos wake = active_->next_tick();
    for (uint32_t p = pcpus_.first(); p < kMaxPcpus; p = pcpus_.next_from(p + 1)) wake = std::min(wake, pcpu_[p].slice_end);
    // Picks still asked for after the rounds: at once, not at the next beat.
    return active_->has_resched() ? now : wake;
}

// What the domain says of its vCPUs, into the scheduler. The page is the
// domain's to write: indexes are bounded by what hvd was told at attach.
void SchedHost::sync(Channel& c, Nanos now) {
    SchedPage& page = *c.page;
    const uint32_t n = std::min<uint32_t>(page.nr_vcpus.load(), static_cast<uint32_t>(c.v.size()));
    for (uint32_t i = 0; i < c.v.size(); ++i) {
        SchedVcpuSlot& s = page.vcpu[i];
        Vcpu& v = c.v[i];
        const bool online = i < n && s.online.load() != 0;
        const bool want = online && s.want.load() != 0;
        const VcpuRef ref{c.slot, static_cast<uint16_t>(i)};
        // A vCPU that went down stays in the scheduler, asleep, so going
        // down and up again neither forgets its debt (credit, RTDS budget,
        // run time) nor costs a remove and an insert.
        v.offline = !online;
        if (!online) {
            if (v.inserted && v.want) {
                v.want = false;
                active_->sleep(ref, now);
            }
            continue;
        }
        v.tid = s.tid.load();
        if (!v.inserted) {
            core::sched::VcpuSetup setup;
            setup.hard = affinity_of(c.setup.hard, i);
            setup.soft = affinity_of(c.setup.soft, i);
            setup.runnable = want;
            if (const SchedError e = active_->insert_vcpu(ref, setup, now); e != SchedError::ok) {
                log_->warn("domain {} vcpu {}: not scheduled: {}", c.domid, i, core::sched::sched_error_text(e));
                continue;
            }
            v.inserted = true;
            v.want = want;
            v.yields = s.yields.load();
            continue;
        }
        if (want != v.want) {
            v.want = want;
            if (want) active_->wake(ref, now);
            else active_->sleep(ref, now);
        }
        if (const uint32_t y = s.yields.load(); y != v.yields) {
            v.yields = y;
            active_->yield(ref);
        }
    }
}

void SchedHost::decide(uint32_t pcpu, Nanos now) {
    Pcpu& p = pcpu_[pcpu];
    Nanos ran = core::sched::kRanWallClock;
    Channel* was = nullptr;
    if (p.cur) {
        was = slot_owner_[p.cur->domain] != 0 ? channel(slot_owner_[p.cur->domain]) : nullptr;
        if (was != nullptr) {
            // The pCPU was its since the last decision, less the time
            // Linux kept its thread waiting for a CPU (the host's work).
            const Vcpu& v = was->v[p.cur->vcpu];
            const uint64_t waited = run_delay_ns(was->pid, v.tid);
            const Nanos held = now > v.decided_at ? now - v.decided_at : 0;
            // The tid is the domain's word: a thread of its own that waits
            // on a run queue could make every slice look stolen. At most
            // half of what it held is ever refunded.
            const uint64_t stolen = std::min<uint64_t>(waited >= v.delay_at ? waited - v.delay_at : 0, held / 2);
            ran = held - stolen;
        }
    }
    const core::sched::Pick pick = active_->pick_next(pcpu, now, ran);
    std::optional<VcpuRef> next;
    if (!pick.idle) next = pick.vcpu;
    if (p.cur && p.cur != next && was != nullptr && was->v[p.cur->vcpu].granted == pcpu) revoke(*was, p.cur->vcpu);
    if (next) {
        Channel* c = channel(slot_owner_[next->domain]);
        if (c != nullptr) {
            if (p.cur != next || c->v[next->vcpu].granted != pcpu) grant(*c, next->vcpu, pcpu);
            Vcpu& v = c->v[next->vcpu];
            v.decided_at = now;
            v.delay_at = run_delay_ns(c->pid, v.tid);
        }
    }
    p.cur = next;
    p.slice_end = pick.idle ? kNever : now + pick.slice;
}

void SchedHost::grant(Channel& c, uint32_t i, uint32_t pcpu) {
    Vcpu& v = c.v[i];
    if (v.granted != kNoPcpu && v.granted != pcpu) {
        // It moves: the pCPU it held forgets it.
        if (pcpu_[v.granted].cur && *pcpu_[v.granted].cur == VcpuRef{c.slot, static_cast<uint16_t>(i)})
            pcpu_[v.granted].cur.reset();
    }
    // Bind the thread to its pCPU (the tid is the domain's word: tgkill with
    // signal 0 proves it is a thread of that process first).
    if (v.tid > 0 && v.granted != pcpu && ::syscall(SYS_tgkill, c.pid, v.tid, 0) == 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(pcpu, &set);
        if (::sched_setaffinity(v.tid, sizeof set, &set) == 0) c.page->vcpu[i].pinned.store(1);
    }
    v.granted = pcpu;
    c.page->vcpu[i].grant.store(pcpu + 1);
    futex_wake(c.page->vcpu[i].grant, 1);
}

void SchedHost::revoke(Channel& c, uint32_t i) {
    Vcpu& v = c.v[i];
    v.granted = kNoPcpu;
    SchedVcpuSlot& s = c.page->vcpu[i];
    s.grant.store(0);
    // Only a vCPU that wants to run can be in the guest (it re-reads the
    // grant after saying so: SchedClient::want).
    if (s.want.load() == 0) return;
    const int sig = c.page->kick_signal.load();
    if (v.tid > 0 && sig >= SIGRTMIN && sig <= SIGRTMAX) ::syscall(SYS_tgkill, c.pid, v.tid, sig);
}


// ---- control ----

Policy SchedHost::policy() const {
    std::lock_guard lock(mu_);
    return active_->policy();
}

Result<void> SchedHost::switch_policy(Policy to) {
    {
        std::lock_guard lock(mu_);
        if (active_->policy() == to) return {};
        core::sched::Scheduler& next = make(to);
        const Nanos now = monotonic_ns();
        if (const SchedError e = core::sched::switch_policy(*active_, next, now); e != SchedError::ok)
            return sched_error(e, fmt::format("switch to {}", core::sched::policy_name(to)));
        active_ = &next;
        if (to == Policy::credit) rtds_.reset();
        else credit_.reset();
        // Nobody is current in the new instance: every running vCPU leaves
        // the guest and the new policy places them.
        for (auto& [domid, c] : channels_)
            for (uint32_t i = 0; i < c.v.size(); ++i)
                if (c.v[i].granted != kNoPcpu) revoke(c, i);
        for (Pcpu& p : pcpu_) p = Pcpu{};
        // Back to credit: the domains' configured weight and cap again.
        for (auto& [domid, c] : channels_)
            if (auto ok = apply_params_locked(c.slot, c.setup); !ok)
                log_->warn("domain {}: {}", domid, ok.error().message);
        active_->resched_all();
        log_->info("scheduler switched to {}", core::sched::policy_name(to));
    }
    poke();
    return {};
}

Result<SchedParams> SchedHost::domain_params(uint32_t domid) const {
    std::lock_guard lock(mu_);
    const Channel* c = channel(domid);
    if (c == nullptr) return make_error(Errc::not_found, fmt::format("domain {} is not scheduled", domid));
    SchedParams p;
    if (const SchedError e = active_->get_domain_params(c->slot, p); e != SchedError::ok)
        return sched_error(e, fmt::format("domain {}", domid));
    return p;
}

Result<void> SchedHost::set_domain_params(uint32_t domid, const SchedParams& p) {
    {
        std::lock_guard lock(mu_);
        Channel* c = channel(domid);
        if (c == nullptr) return make_error(Errc::not_found, fmt::format("domain {} is not scheduled", domid));
        if (p.policy != active_->policy())
            return make_error(Errc::invalid_argument,
                              fmt::format("the host runs the {} scheduler, not {}", core::sched::policy_name(active_->policy()),
                                          core::sched::policy_name(p.policy)));
        if (p.policy == Policy::credit && p.credit.cap > core::sched::kCreditCapPerVcpu * c->setup.max_vcpus)
            return make_error(Errc::invalid_argument, fmt::format("cap {} is out of range (0..{} = 100 x {} vCPUs)", p.credit.cap,
                                                                  core::sched::kCreditCapPerVcpu * c->setup.max_vcpus,
                                                                  c->setup.max_vcpus));
        if (p.policy == Policy::credit &&
            (p.credit.weight < core::sched::kCreditWeightMin || p.credit.weight > core::sched::kCreditWeightMax))
            return make_error(Errc::invalid_argument, fmt::format("weight {} is out of range ({}..{})", p.credit.weight,
                                                                  core::sched::kCreditWeightMin,
                                                                  core::sched::kCreditWeightMax));
        if (const SchedError e = active_->set_domain_params(c->slot, p); e != SchedError::ok)
            return sched_error(e, fmt::format("domain {}", domid));
        if (p.policy == Policy::credit) {
            c->setup.weight = p.credit.weight;
            c->setup.cap = p.credit.cap;
        }
    }
    poke();
    return {};
}

core::sched::GlobalParams SchedHost::globals() const {
    std::lock_guard lock(mu_);
    core::sched::GlobalParams g;
    active_->get_global_params(g);
    return g;
}

Result<void> SchedHost::set_globals(const core::sched::GlobalParams& g) {
    {
        std::lock_guard lock(mu_);
        if (const SchedError e = active_->set_global_params(g); e != SchedError::ok)
            return sched_error(e, fmt::format("{} scheduler", core::sched::policy_name(active_->policy())));
    }
    poke();
    return {};
}

Result<void> SchedHost::pin(uint32_t domid, std::optional<uint32_t> vcpu, std::optional<CpuMask> hard,
                            std::optional<CpuMask> soft) {
    {
        std::lock_guard lock(mu_);
        Channel* c = channel(domid);
        if (c == nullptr) return make_error(Errc::not_found, fmt::format("domain {} is not scheduled", domid));
        const uint32_t n = static_cast<uint32_t>(c->v.size());
        if (vcpu && *vcpu >= n)
            return make_error(Errc::invalid_argument,
                              fmt::format("vCPU {} is out of range: domain {} has vCPUs 0..{}", *vcpu, domid, n - 1));
        for (const auto* m : {&hard, &soft})
            if (*m && !(*m)->subset_of(pcpus_))
                return make_error(Errc::invalid_argument, fmt::format("CPUs {} are not all host CPUs given to hv ({})",
                                                                      cpus_text(**m), cpus_text(pcpus_)));
        // Per-vCPU masks from here on.
        auto expand = [n](std::vector<CpuMask>& list) {
            std::vector<CpuMask> out(n);
            for (uint32_t i = 0; i < n; ++i) out[i] = affinity_of(list, i);
            list = std::move(out);
        };
        expand(c->setup.hard);
        expand(c->setup.soft);
        const uint32_t first = vcpu ? *vcpu : 0, last = vcpu ? *vcpu + 1 : n;
        for (uint32_t i = first; i < last; ++i) {
            if (hard) c->setup.hard[i] = *hard;
            if (soft) c->setup.soft[i] = *soft;
            if (!c->v[i].inserted) continue;
            const SchedError e = active_->set_affinity(VcpuRef{c->slot, static_cast<uint16_t>(i)}, c->setup.hard[i], c->setup.soft[i]);
            if (e != SchedError::ok) return sched_error(e, fmt::format("domain {} vCPU {}", domid, i));
        }
    }
    poke();
    return {};
}

std::vector<VcpuRow> SchedHost::vcpus(std::optional<uint32_t> domid) const {
    std::lock_guard lock(mu_);
    std::vector<VcpuRow> rows;
    for (const auto& [id, c] : channels_) {
        if (domid && id != *domid) continue;
        for (uint32_t i = 0; i < c.v.size(); ++i) {
            VcpuRow r;
            r.domid = id;
            r.vcpu = i;
            core::sched::VcpuInfo info;
            if (c.v[i].inserted && active_->vcpu_info(VcpuRef{c.slot, static_cast<uint16_t>(i)}, info)) {
                r.online = !c.v[i].offline;
                r.state = info.state;
                r.pcpu = info.pcpu;
                r.runtime_ns = info.runtime;
                r.hard = info.hard;
                r.soft = info.soft;
            } else { // offline: what it will start with (vcpu-pin sets it too)
                r.hard = affinity_of(c.setup.hard, i);
                r.soft = affinity_of(c.setup.soft, i);
            }
            rows.push_back(r);
        }
    }
    return rows;
}

} // namespace hv::sched
