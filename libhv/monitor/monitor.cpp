#include "monitor/monitor.hpp"

#include <unistd.h>

#include <charconv>
#include <random>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "boot/pvh_loader.hpp"
#include "config/guest_disks.hpp"
#include "config/guest_vifs.hpp"
#include "devices/block/open_disk.hpp"
#include "platform/kvm/kvm_system.hpp"

namespace hv {

namespace {

constexpr size_t kLogRingLines = 2000;
constexpr size_t kGoneKept = 256;
// More restarts than this within the window and the monitor stops
// restarting (the domain is preserved instead), so a crash loop cannot spin
// the host or fill the domain table.

config::Uuid random_uuid() {
    std::random_device rd;
    config::Uuid u;
    for (auto& b : u) b = static_cast<uint8_t>(rd());
    u[6] = static_cast<uint8_t>((u[6] & 0x0f) | 0x40); // version 4
    u[8] = static_cast<uint8_t>((u[8] & 0x3f) | 0x80); // RFC 4122 variant
    return u;
}

Error no_domain(uint32_t domid) { return make_error(Errc::not_found, fmt::format("no domain with id {}", domid)); }

DomainEvent event(DomainEvent::Kind kind, uint32_t domid, std::string name) {
    return DomainEvent{kind, domid, std::move(name), {}, 0, {}};
}

} // namespace

const char* event_kind_name(DomainEvent::Kind k) {
    switch (k) {
    case DomainEvent::Kind::created: return "created";
    case DomainEvent::Kind::paused: return "paused";
    case DomainEvent::Kind::unpaused: return "unpaused";
    case DomainEvent::Kind::shutdown: return "shutdown";
    case DomainEvent::Kind::restarted: return "restarted";
    case DomainEvent::Kind::renamed: return "renamed";
    case DomainEvent::Kind::destroyed: return "destroyed";
    }
    return "unknown";
}

Result<std::unique_ptr<Monitor>> Monitor::open(const Options& options) {
    std::unique_ptr<Monitor> m(new Monitor());
    m->ring_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(kLogRingLines);
    m->ring_->set_level(spdlog::level::info);
    auto err = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    const auto level = spdlog::level::from_str(options.log_level);
    err->set_level(level);
    m->log_ = std::make_shared<spdlog::logger>("hv", spdlog::sinks_init_list{m->ring_, err});
    m->log_->set_level(std::min(level, spdlog::level::info));
    m->log_->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");

    m->platform_ = options.platform;
    if (!m->platform_) {
        // The one place the monitor names KVM: the default platform.
        auto sys = kvm::KvmSystem::open(options.kvm_path.c_str());
        if (!sys) return sys.error();
        m->platform_ = std::move(*sys);
    }
    m->domid_source_ = options.domid_source;
    m->io_share_dir_ = options.io_share_dir;
    m->sched_options_ = options.sched;
    const int kick = m->platform_->kick_signal();
    using Mode = Options::Sched::Mode;
    if (options.sched.mode == Mode::own && kick != 0) {
        m->own_bell_ = std::make_unique<sched::SchedBell>();
        auto host = sched::SchedHost::start({options.sched.policy, options.sched.pcpus}, *m->own_bell_, m->log_);
        if (!host) return host.error();
        m->sched_host_ = std::move(*host);
    } else if (options.sched.mode == Mode::external && kick != 0) {
        if (options.sched.page == nullptr || options.sched.bell == nullptr)
            return make_error(Errc::invalid_argument, "external scheduling needs a page and a bell");
        m->external_gate_ = std::make_shared<sched::SchedClient>(*options.sched.page, *options.sched.bell, kick);
    }
    m->worker_ = std::thread([p = m.get()] { p->worker_main(); });
    m->log_->info("monitor up (ABI version {})", HV_ABI_VERSION);
    return m;
}

Monitor::~Monitor() {
    std::vector<std::shared_ptr<Domain>> all;
    {
        std::lock_guard lock(mu_);
        closing_ = true;
        for (auto& [id, e] : domains_) all.push_back(e.domain);
    }
    for (auto& d : all) d->halt();
    {
        std::lock_guard lock(mu_);
        if (sched_host_)
            for (auto& [id, e] : domains_) sched_host_->detach(id);
    }
    {
        std::lock_guard lock(work_mu_);
        worker_exit_ = true;
        work_cv_.notify_all();
    }
    if (worker_.joinable()) worker_.join();
    std::lock_guard lock(mu_);
    domains_.clear();
}

Result<uint32_t> Monitor::create(const config::DomainConfig& cfg, bool paused) {
    // What this monitor cannot do (limits, known-but-unsupported keys, so
    // nobody runs a domain without the disk they configured) is refused
    // here, as `hvctl create -n` refuses it; unknown keys are only warned
    // about (xl ignores them).
    if (auto r = config::check_creatable(cfg); !r) return r.error();
    for (const auto& u : cfg.unsupported) log_->warn("{}", u.warning());
    std::lock_guard lock(mu_);
    return create_locked(cfg, cfg.uuid.value_or(random_uuid()), paused);
}

Result<uint32_t> Monitor::create_locked(const config::DomainConfig& cfg, const config::Uuid& uuid, bool paused) {
    if (closing_) return make_error(Errc::busy, "monitor is shutting down");
    // Opened now (a missing file fails the create); read at load, straight
    // into guest RAM.
    auto image = boot::FileImage::open(cfg.kernel, "kernel");
    if (!image) return image.error();
    std::shared_ptr<const boot::ImageSource> initrd;
    if (!cfg.ramdisk.empty()) {
        auto rd = boot::FileImage::open(cfg.ramdisk, "ramdisk");
        if (!rd) return rd.error();
        initrd = std::move(*rd);
    }
    // Disks are opened now, so a missing image fails the create (and
    // nothing is left open: the backends close with `disks`).
    std::vector<DiskDevice> disks;
    for (size_t i = 0; i < cfg.disks.size(); ++i) {
        auto disk = make_disk(cfg, i);
        if (!disk) return disk.error();
        disks.push_back(std::move(*disk));
    }
    const config::RootMapping root = config::map_root(cfg.cmdline, cfg.disks);
    if (!root.notice.empty()) log_->warn("domain '{}': notice: {}", cfg.name, root.notice);

    uint32_t domid = 0;
    core::TableError te;
    if (domid_source_) {
        auto id = domid_source_();
        if (!id) return id.error();
        domid = *id;
        te = table_.add_with_domid(cfg.name.data(), cfg.name.size(), uuid.data(), domid);
    } else {
        te = table_.add(cfg.name.data(), cfg.name.size(), uuid.data(), domid);
    }
    if (te != core::TableError::ok)
        return make_error(te == core::TableError::name_taken ? Errc::exists : Errc::invalid_argument,
                          fmt::format("domain '{}': {}", cfg.name, core::table_error_text(te)));

    // The vifs' TAPs, now that the domid names them: a missing bridge or
    // gatewaydev fails the create, and what was made goes with `vifs`.
    auto vifs = make_vifs(cfg, uuid, domid);
    if (!vifs) {
        table_.remove(domid);
        return vifs.error();
    }
    auto gate = sched_gate_locked(cfg);
    if (!gate) {
        table_.remove(domid);
        return gate.error();
    }
    DomainSpec spec;
    spec.sched = *gate;
    spec.domid = domid;
    spec.name = cfg.name;
    spec.uuid = uuid;
    spec.memory_mib = cfg.memory_mib;
    spec.vcpus = config::max_vcpus_of(cfg);
    spec.online = cfg.vcpus;
    spec.cmdline = root.cmdline;
    spec.disks = std::move(disks);
    spec.vifs = std::move(*vifs);
    spec.kernel = std::move(*image);
    spec.initrd = std::move(initrd);
    spec.kernel_entry = cfg.kernel_entry;
    spec.io_share_dir = io_share_dir_;
    spec.io_weight = cfg.io_weight;
    auto on_stop = [this](uint32_t id, const StopInfo& info) {
        std::lock_guard lock(work_mu_);
        stops_.push_back(Stopped{id, info});
        work_cv_.notify_all();
    };
    auto dom = Domain::create(*platform_, std::move(spec), on_stop, log_);
    if (!dom) {
        table_.remove(domid);
        return dom.error();
    }
    if (sched_host_ && *gate) {
        if (auto ok = sched_host_->attach(domid, *gate, (*gate)->page(), ::getpid(), sched::domain_sched(cfg)); !ok) {
            table_.remove(domid);
            return ok.error();
        }
    }
    const Domain* raw = dom->get();
    (*dom)->on_device_gone([this, domid, raw](Domain::DeviceKind kind, uint32_t devid) { forget_device(domid, raw, kind, devid); });
    Entry& e = domains_[domid];
    e.domain = std::shared_ptr<Domain>(std::move(*dom));
    e.config = cfg;
    // Queued before the vCPUs start, so it precedes anything they cause.
    queue_event_locked(DomainEvent{DomainEvent::Kind::created, domid, cfg.name, {}, 0, paused ? "paused" : ""});
    e.domain->start(paused);
    log_->info("domain {} ({}) created: {} MiB, {} vCPU(s){}", domid, cfg.name, cfg.memory_mib, cfg.vcpus, paused ? ", paused" : "");
    return domid;
}

Result<std::shared_ptr<sched::SchedClient>> Monitor::sched_gate_locked(const config::DomainConfig& cfg) {
    if (external_gate_) return external_gate_;
    if (!sched_host_) return std::shared_ptr<sched::SchedClient>();
    // Refused before anything runs: CPUs outside the host set, a full table.
    if (auto ok = sched_host_->check(sched::domain_sched(cfg)); !ok) return ok.error();
    return std::make_shared<sched::SchedClient>(std::make_unique<sched::SchedPage>(), *own_bell_, platform_->kick_signal());
}

Result<std::shared_ptr<Domain>> Monitor::domain_of(uint32_t domid) const {
    std::lock_guard lock(mu_);
    auto it = domains_.find(domid);
    if (it == domains_.end()) return no_domain(domid);
    return it->second.domain;
}

Result<void> Monitor::pause(uint32_t domid) { return set_paused(domid, true); }
Result<void> Monitor::unpause(uint32_t domid) { return set_paused(domid, false); }

Result<void> Monitor::set_vcpus(uint32_t domid, uint32_t online) {
    auto d = domain_of(domid);
    if (!d) return d.error();
    if (auto r = (*d)->set_vcpu_target(online); !r) return r;
    log_->info("domain {} ({}): {} vCPU(s) asked to be online", domid, (*d)->name(), online);
    return {};
}

Result<void> Monitor::set_paused(uint32_t domid, bool paused) {
    auto d = domain_of(domid);
    if (!d) return d.error();
    if (paused) (*d)->pause(); // waits for the vCPUs to leave the guest, without the monitor's lock
    else (*d)->unpause();
    const std::string name = (*d)->name();
    log_->info("domain {} ({}) {}", domid, name, paused ? "paused" : "unpaused");
    std::lock_guard lock(mu_);
    queue_event_locked(event(paused ? DomainEvent::Kind::paused : DomainEvent::Kind::unpaused, domid, name));
    cv_.notify_all();
    return {};
}

Result<void> Monitor::shutdown(uint32_t domid, core::ShutdownReason reason) {
    if (reason != core::ShutdownReason::poweroff && reason != core::ShutdownReason::reboot)
        return make_error(Errc::invalid_argument, "the control plane may ask for poweroff or reboot only");
    auto d = domain_of(domid);
    if (!d) return d.error();
    (*d)->request_shutdown(reason);
    log_->info("domain {}: {} requested", domid, core::reason_name(reason));
    return {};
}

Result<DomainInfo> Monitor::wait_stopped(uint32_t domid, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (domains_.count(domid) == 0 && gone_.count(domid) == 0) return no_domain(domid);
    const auto stopped = [&] {
        auto it = domains_.find(domid);
        return it == domains_.end() || it->second.reaped;
    };
    if (!cv_.wait_for(lock, timeout, stopped))
        return make_error(Errc::timed_out, fmt::format("domain {} did not shut down within {} ms", domid, timeout.count()));
    auto it = domains_.find(domid);
    if (it != domains_.end()) return info_locked(domid, it->second);
    auto g = gone_.find(domid);
    if (g == gone_.end()) return no_domain(domid);
    return g->second;
}

Result<void> Monitor::destroy(uint32_t domid) {
    auto d = domain_of(domid);
    if (!d) return d.error();
    if ((*d)->on_vcpu_thread())
        return make_error(Errc::busy, fmt::format("domain {} cannot be destroyed from its own vCPU or I/O thread (a console listener); "
                                                  "hand it to another thread", domid));
    (*d)->halt(); // joins the vCPU threads, without the monitor's lock
    std::lock_guard lock(mu_);
    auto it = domains_.find(domid);
    if (it == domains_.end() || it->second.domain != *d) return {}; // the worker got there first
    const std::string name = (*d)->name();
    forget_locked(domid);
    queue_event_locked(event(DomainEvent::Kind::destroyed, domid, name));
    return {};
}

void Monitor::forget_locked(uint32_t domid) {
    auto it = domains_.find(domid);
    if (it == domains_.end()) return;
    DomainInfo last = info_locked(domid, it->second);
    last.exists = false;
    gone_[domid] = last;
    while (gone_.size() > kGoneKept) gone_.erase(gone_.begin());
    table_.remove(domid);
    domains_.erase(it);
    if (sched_host_) sched_host_->detach(domid);
    log_->info("domain {} ({}) destroyed", domid, last.name);
    cv_.notify_all();
}

Result<void> Monitor::rename(uint32_t domid, std::string_view name) {
    std::lock_guard lock(mu_);
    auto it = domains_.find(domid);
    if (it == domains_.end()) return no_domain(domid);
    const core::TableError te = table_.rename(domid, name.data(), name.size());
    if (te != core::TableError::ok)
        return make_error(te == core::TableError::name_taken ? Errc::exists : Errc::invalid_argument,
                          fmt::format("rename to '{}': {}", name, core::table_error_text(te)));
    const std::string old = it->second.domain->name();
    it->second.domain->set_name(std::string(name));
    it->second.config.name = std::string(name);
    queue_event_locked(DomainEvent{DomainEvent::Kind::renamed, domid, std::string(name), {}, 0, old});
    return {};
}

DomainInfo Monitor::info_locked(uint32_t domid, const Entry& e) const {
    const Domain& d = *e.domain;
    DomainInfo i;
    i.domid = domid;
    i.name = d.name();
    i.uuid = d.uuid_bytes();
    i.memory_mib = d.memory_mib();
    i.vcpus = d.max_vcpus();
    i.vcpus_online = d.vcpus_online();
    i.state = d.state();
    i.cpu_seconds = d.cpu_seconds();
    i.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - d.started_at()).count();
    if (auto s = d.stop_info()) {
        i.shutdown_reason = s->reason;
        i.detail = s->detail;
    }
    i.restarted_as = e.restarted_as;
    return i;
}

Result<DomainInfo> Monitor::info(uint32_t domid) const {
    std::lock_guard lock(mu_);
    auto it = domains_.find(domid);
    if (it == domains_.end()) return no_domain(domid);
    return info_locked(domid, it->second);
}

std::vector<DomainInfo> Monitor::list() const {
    std::lock_guard lock(mu_);
    std::vector<DomainInfo> out;
    for (const auto& [id, e] : domains_) out.push_back(info_locked(id, e));
    return out;
}

Result<uint32_t> Monitor::lookup(std::string_view name_or_id) const {
    std::lock_guard lock(mu_);
    uint32_t id = 0;
    const auto* end = name_or_id.data() + name_or_id.size();
    if (!name_or_id.empty() && std::from_chars(name_or_id.data(), end, id).ptr == end) {
        if (domains_.count(id) == 0) return no_domain(id);
        return id;
    }
    const core::DomainRecord* r = table_.find_by_name(name_or_id.data(), name_or_id.size());
    if (r == nullptr) return make_error(Errc::not_found, fmt::format("no domain named '{}'", name_or_id));
    return r->domid;
}

// The console calls take the domain out of the map and let go of the
// monitor's lock first: a listener (on a vCPU thread, holding the console's
// lock) may call back into the monitor.
Result<int> Monitor::console_subscribe(uint32_t domid, Domain::ConsoleKind kind, dev::Console::Listener fn, bool replay) {
    auto d = domain_of(domid);
    if (!d) return d.error();
    return (*d)->console(kind).subscribe(std::move(fn), replay);
}

void Monitor::console_unsubscribe(uint32_t domid, Domain::ConsoleKind kind, int id) {
    if (auto d = domain_of(domid)) (*d)->console(kind).unsubscribe(id);
}

Result<std::string> Monitor::console_history(uint32_t domid, Domain::ConsoleKind kind) const {
    auto d = domain_of(domid);
    if (!d) return d.error();
    return (*d)->console(kind).history();
}

Result<void> Monitor::console_input(uint32_t domid, Domain::ConsoleKind kind, std::string_view bytes) {
    auto d = domain_of(domid);
    if (!d) return d.error();
    (*d)->console(kind).push_input(bytes);
    return {};
}

int Monitor::subscribe(std::function<void(const DomainEvent&)> fn) {
    std::lock_guard lock(sub_mu_);
    const int id = next_sub_++;
    subscribers_.emplace(id, std::make_shared<std::function<void(const DomainEvent&)>>(std::move(fn)));
    return id;
}

void Monitor::unsubscribe(int id) {
    std::lock_guard lock(sub_mu_);
    subscribers_.erase(id);
}

void Monitor::queue_event_locked(DomainEvent ev) {
    std::lock_guard lock(work_mu_);
    events_.push_back(std::move(ev));
    work_cv_.notify_all();
}

std::vector<std::string> Monitor::dmesg() const {
    std::vector<std::string> lines = ring_->last_formatted();
    for (auto& l : lines)
        while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back(); // the formatter's eol
    return lines;
}

void Monitor::worker_main() {
    for (;;) {
        std::deque<DomainEvent> events;
        std::optional<Stopped> stop;
        {
            std::unique_lock lock(work_mu_);
            work_cv_.wait(lock, [this] { return worker_exit_ || !stops_.empty() || !events_.empty(); });
            if (worker_exit_) return;
            events.swap(events_);
            if (!stops_.empty()) {
                stop = stops_.front();
                stops_.pop_front();
            }
        }
        for (const DomainEvent& ev : events) {
            std::vector<std::shared_ptr<std::function<void(const DomainEvent&)>>> subs;
            {
                std::lock_guard lock(sub_mu_);
                for (auto& [id, fn] : subscribers_) subs.push_back(fn);
            }
            for (auto& fn : subs) (*fn)(ev);
        }
        if (stop) apply_action(stop->domid, stop->info);
    }
}

std::string Monitor::preserved_name_locked(const std::string& base) const {
    // xl renames the old domain with a suffix; keep it unique and valid.
    for (unsigned n = 1;; ++n) {
        std::string name = fmt::format("{}--{}", base.substr(0, core::kMaxNameLength - 12), n);
        if (table_.find_by_name(name.data(), name.size()) == nullptr) return name;
    }
}

void Monitor::apply_action(uint32_t domid, const StopInfo& info) {
    auto d = domain_of(domid);
    if (!d) return; // destroyed meanwhile
    (*d)->halt();   // the vCPUs are on their way out; join them without the lock
    std::lock_guard lock(mu_);
    auto it = domains_.find(domid);
    if (it == domains_.end() || it->second.domain != *d || closing_) return;
    Entry& entry = it->second;
    entry.reaped = true;
    const std::string name = entry.domain->name();
    // The core decides: the config's on_* action, or preserve for a domain
    // that keeps restarting (its history is kept by config name).
    bool throttled = false;
    const uint64_t now = platform_->clock()->now_ns();
    const core::ShutdownAction action =
        core::choose_action(entry.config.actions, info.reason, restarts_[entry.config.name], now, throttled);
    if (throttled)
        log_->error("domain {} ({}): restarted {} times within {} s; preserving it instead", domid, name,
                    core::RestartHistory::kBurst, core::kRestartWindowNs / 1000000000ull);
    log_->info("domain {} ({}): {} -> {}", domid, name, core::reason_name(info.reason), core::action_name(action));
    queue_event_locked(DomainEvent{DomainEvent::Kind::shutdown, domid, name, info.reason, 0, info.detail});

    const config::DomainConfig cfg = entry.config;
    const config::Uuid uuid = entry.domain->uuid_bytes();
    switch (action) {
    case core::ShutdownAction::preserve: break;
    case core::ShutdownAction::restart: {
        forget_locked(domid);
        queue_event_locked(event(DomainEvent::Kind::destroyed, domid, name));
        auto id = create_locked(cfg, uuid, false);
        if (!id) {
            log_->error("domain {} ({}): restart failed: {}", domid, name, id.error().message);
            break;
        }
        gone_[domid].restarted_as = *id;
        queue_event_locked(DomainEvent{DomainEvent::Kind::restarted, domid, name, {}, *id, {}});
        break;
    }
    case core::ShutdownAction::rename_restart: {
        // The old domain stays (state s/c) under a new name and UUID.
        const std::string kept = preserved_name_locked(name);
        table_.rename(domid, kept.data(), kept.size());
        entry.domain->set_name(kept);
        entry.domain->set_uuid(random_uuid());
        entry.config.name = kept;
        queue_event_locked(DomainEvent{DomainEvent::Kind::renamed, domid, kept, {}, 0, name});
        auto id = create_locked(cfg, uuid, false);
        if (!id) {
            log_->error("domain {} ({}): restart failed: {}", domid, name, id.error().message);
            break;
        }
        domains_.at(domid).restarted_as = *id;
        queue_event_locked(DomainEvent{DomainEvent::Kind::restarted, domid, name, {}, *id, {}});
        break;
    }
    default: // destroy; coredump-* and soft-reset are refused at create
        forget_locked(domid);
        queue_event_locked(event(DomainEvent::Kind::destroyed, domid, name));
        break;
    }
    cv_.notify_all();
}

} // namespace hv
