// HvdService: domain processes: starting them, finding them again after
// an hvd restart, their events, and their faults (unresponsive, dead).
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <boost/asio/read.hpp>
#include <fmt/format.h>

#include "control/monitor_backend.hpp"
#include "devices/block/io_share.hpp"
#include "domain_process.hpp"
#include "hv/abi/domain_name.h"
#include "hv/sdk/unix_backend.hpp"
#include "hv/sdk/wire_types.hpp"
#include "hvd_service.hpp"

namespace hvd {

using hv::Errc;
using hv::make_error;
namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace wire = hv::sdk::wire;
using Kind = hv::sdk::Event::Kind;

namespace {
constexpr size_t kGoneKept = 256;
constexpr size_t kKeptLog = 4000;
constexpr auto kReadyWait = std::chrono::seconds(3); // requests wait this long for the re-attach at most

} // namespace

hv::Result<void> HvdService::start() {
    for (const std::string& dir : {options_.state_dir + "/run", options_.state_dir + "/managed", options_.state_dir + "/log",
                                   hv::dev::IoShare::dir_in(options_.state_dir)}) {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) return make_error(Errc::io_error, fmt::format("{}: {}", dir, ec.message()));
    }
    if (const size_t n = managed_.clean_leftovers(); n > 0) log_->info("removed {} leftover temp file(s) of managed records", n);
    if (options_.sched) {
        // The bell outlives hvd (running domains have it mapped): a new hvd
        // takes the old one over.
        bool created = false;
        auto bell = hv::sched::SharedMapping::open_or_create(hv::sched::bell_path_of(options_.state_dir),
                                                             sizeof(hv::sched::SchedBell), created);
        const std::string bell_path = hv::sched::bell_path_of(options_.state_dir);
        auto* b = bell ? static_cast<hv::sched::SchedBell*>(bell->data()) : nullptr;
        if (b != nullptr && !created && (b->magic != hv::sched::kBellMagic || b->version != hv::sched::kLayoutVersion)) {
            // Another layout, or scribbled on (domains can write it): a new
            // one. Domains mapping the old one still run; their rings reach
            // nobody, so hvd sees their changes at its next beat (50 ms).
            log_->warn("{}: not a scheduler bell of this hv version; making a new one", bell_path);
            std::error_code rm;
            fs::remove(bell_path, rm);
            bell = hv::sched::SharedMapping::create(bell_path, sizeof(hv::sched::SchedBell));
            created = true;
        }
        if (!bell) return bell.error();
        bell_map_ = std::move(*bell);
        b = created ? new (bell_map_.data()) hv::sched::SchedBell() : static_cast<hv::sched::SchedBell*>(bell_map_.data());
        auto host = hv::sched::SchedHost::start({*options_.sched, options_.pcpus}, *b, log_);
        if (!host) return host.error();
        sched_ = std::move(*host);
        log_->info("scheduler: {} on host CPUs {}", hv::core::sched::policy_name(*options_.sched),
                   hv::config::format_cpu_list(hv::sched::cpu_bits(sched_->pcpus())));
    } else {
        // Domain processes started from now on run unscheduled.
        std::error_code rm;
        fs::remove(hv::sched::bell_path_of(options_.state_dir), rm);
    }

    std::vector<std::string> sockets;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(options_.state_dir) / "run", ec))
        if (e.path().extension() == ".sock") sockets.push_back(e.path().string());
    auto remaining = std::make_shared<size_t>(sockets.size() + 1);
    auto finished = [this, remaining] {
        if (--*remaining != 0 || ready_) return;
        ready_ = true;
        ready_timer_.cancel();
        if (!doms_.empty()) log_->info("re-attached to {} domain(s) in {} process(es)", doms_.size(), procs_.size());
        auto queued = std::move(deferred_);
        deferred_.clear();
        for (auto& fn : queued) fn();
        refill_spare();
    };
    for (const auto& s : sockets) attach(s, finished);
    // A process that does not answer does not hold hvd's start: requests
    // go ahead after kReadyWait; it joins the index when it answers.
    ready_timer_.expires_after(kReadyWait);
    ready_timer_.async_wait([this, remaining](boost::system::error_code e) {
        if (e || ready_) return;
        *remaining = 1;
        log_->warn("some domain processes have not answered yet; serving without them");
        ready_ = true;
        auto queued = std::move(deferred_);
        deferred_.clear();
        for (auto& fn : queued) fn();
    });
    finished();
    return {};
}

DomainLink::Handlers HvdService::link_handlers(const std::weak_ptr<Proc>& weak) {
    DomainLink::Handlers h;
    h.on_event = [this, weak](const wire::Frame& f) {
        if (auto p = weak.lock()) on_proc_event(p, f);
    };
    h.on_close = [this, weak](const std::string& why) {
        auto p = weak.lock();
        if (!p || p->gone) return;
        // Its death (the pidfd) is what ends it; a live process whose
        // link broke is unreachable, which is what unresponsive means.
        pollfd pfd{p->pidfd, POLLIN, 0};
        if (p->pidfd >= 0 && ::poll(&pfd, 1, 0) == 1) return; // it died: the pidfd watch reports that
        log_->info("domain process {}: {}", p->pid, why);
        set_unresponsive(p, true);
    };
    h.on_timeout = [this, weak] {
        if (auto p = weak.lock()) set_unresponsive(p, true);
    };
    h.on_answer = [this, weak] {
        if (auto p = weak.lock(); p && p->unresponsive && p->link && p->link->is_open()) set_unresponsive(p, false);
    };
    return h;
}

HvdService::ProcPtr HvdService::adopt(std::shared_ptr<DomainLink> link, const std::string& socket, pid_t pid, int pidfd) {
    auto p = std::make_shared<Proc>();
    p->serial = ++next_serial_;
    p->pid = pid;
    p->pidfd = pidfd;
    p->socket = socket;
    p->link = std::move(link);
    procs_[p->serial] = p;
    watch_death(p);
    return p;
}

void HvdService::watch_death(const ProcPtr& p) {
    if (p->pidfd < 0) return;
    p->watch = std::make_unique<asio::posix::stream_descriptor>(io_, p->pidfd);
    arm_death_watch(p);
}

void HvdService::arm_death_watch(const ProcPtr& p) {
    std::weak_ptr<Proc> weak = p;
    p->watch->async_wait(asio::posix::stream_descriptor::wait_read, [this, weak](boost::system::error_code ec) {
        if (ec) return;
        auto proc = weak.lock();
        if (!proc || proc->gone) return;
        // Only the kernel's word ends a process: a readiness that reaches
        // this wait but not its pidfd (asio recycles the reactor state of
        // a descriptor closed meanwhile, e.g. another process's pidfd or
        // link, with that descriptor's events still queued) waits again.
        pollfd pfd{proc->pidfd, POLLIN, 0};
        if (::poll(&pfd, 1, 0) != 1) {
            log_->warn("domain process {}: its death watch woke but it lives; watching again", proc->pid);
            return arm_death_watch(proc);
        }
        proc_died(proc);
    });
}

void HvdService::kill_proc(const ProcPtr& p) { signal_pidfd(p->pidfd, SIGKILL); }

// Starts a domain process and links to it once it says it listens;
// `ready` gets it, or null and why not (it died at start, or hung).
void HvdService::spawn_proc(const std::string& log_name, std::function<void(ProcPtr, std::string)> ready) {
    SpawnOptions so;
    so.binary = options_.domain_binary;
    so.state_dir = options_.state_dir;
    so.log_level = options_.log_level;
    // Unique even across hvd restarts that get the same pid (a container):
    // a live domain's socket is never reused, so never removed by mistake.
    so.socket = fmt::format("{}/run/dom-{}-{}-{:08x}.sock", options_.state_dir, ::getpid(), ++spawned_, random_());
    so.log_file = fmt::format("{}/log/{}.log", options_.state_dir, log_name);
    // The name becomes a file name: only a name the one rule allows (or
    // hvd's own "spare") gets that far, whatever the caller checked.
    if (log_name != "spare" && hv_domain_name_problem(log_name.data(), log_name.size()) != nullptr)
        return ready(nullptr, fmt::format("was not started: '{}' is not a valid domain name", log_name));
    auto s = spawn_domain_process(so);
    if (!s) return ready(nullptr, s.error().message);
    if (!s->warning.empty()) log_->warn("domain process for '{}': {}; its output is discarded", log_name, s->warning);
    // Not linked yet: the link is made once it says it listens.
    ProcPtr p = adopt(nullptr, so.socket, s->pid, s->pidfd);
    p->log_file = so.log_file;

    auto pipe = std::make_shared<asio::posix::stream_descriptor>(io_, s->ready_fd);
    auto byte = std::make_shared<char>(0);
    auto timer = std::make_shared<asio::steady_timer>(io_, options_.spawn_timeout);
    auto settled = std::make_shared<bool>(false);
    auto fail = [this, p, ready](const std::string& why) {
        kill_proc(p);
        std::error_code ec;
        fs::remove(p->socket, ec);
        ready(nullptr, why);
    };
    timer->async_wait([this, p, pipe, settled, fail](boost::system::error_code ec) {
        if (ec || *settled) return;
        *settled = true;
        pipe->close();
        fail(fmt::format("did not come up within {} ms; see {}", options_.spawn_timeout.count(), p->log_file));
    });
    asio::async_read(*pipe, asio::buffer(byte.get(), 1), [this, p, pipe, byte, timer, settled, fail, ready](
                                                            boost::system::error_code ec, size_t n) {
        if (*settled) return;
        *settled = true;
        timer->cancel();
        pipe->close();
        if (ec || n != 1 || *byte != 'R') {
            // It died before listening: say so now, with its reason (its
            // exit follows the pipe's EOF within moments).
            pollfd pfd{p->pidfd, POLLIN, 0};
            ::poll(&pfd, 1, 1000);
            const std::string status = reap_pidfd(p->pidfd);
            const std::string last = last_log_line(p->log_file);
            return fail(fmt::format("exited at start{}{}; see {}", status.empty() ? "" : " (" + status + ")",
                                    last.empty() ? "" : ": " + last, p->log_file));
        }
        p->link = DomainLink::make(io_, p->socket, link_handlers(p));
        p->link->open(hv_ctl_subscribe_t{HV_CTL_SUB_EVENTS, 0}, options_.call_timeout, [p, fail, ready](hv::control::Reply r) {
            if (r.status != HV_OK) return fail(r.payload);
            ready(p, {});
        });
    });
}

// One warm process waits for the next create, so a create costs a request
// to a live process instead of a fork, an exec and a monitor start.
void HvdService::refill_spare() {
    if (spare_ || spare_pending_ || !*alive_) return;
    spare_pending_ = true;
    spawn_proc("spare", [this](ProcPtr p, std::string why) {
        spare_pending_ = false;
        if (!p) {
            log_->warn("no spare domain process: {}", why);
            return;
        }
        spare_ = p;
    });
}

void HvdService::spawn_and_create(Checked c, std::function<void(Reply)> done) {
    if (spare_ && !spare_->gone && spare_->link && spare_->link->is_open()) {
        ProcPtr p = std::move(spare_);
        spare_.reset();
        refill_spare();
        return create_in(p, std::move(c), std::move(done));
    }
    const std::string name = c.name;
    spawn_proc(name, [this, c = std::move(c), done = std::move(done)](ProcPtr p, std::string why) mutable {
        if (!p) return done(hv::control::Reply{HV_ENODEV, fmt::format("domain process for '{}' {}", c.name, why)});
        create_in(p, std::move(c), std::move(done));
        refill_spare();
    });
}

void HvdService::create_in(const ProcPtr& p, Checked c, std::function<void(Reply)> done) {
    p->creator = c.peer;
    p->request = c.req;
    p->on_crash = c.on_crash;
    auto payload = hv::sdk::UnixBackend::create_payload(c.req);
    if (!payload) return done(hv::control::Reply{HV_EINVAL, payload.error().message});
    p->link->call(hv::sdk::UnixBackend::create_op(c.req), std::move(*payload), options_.create_timeout, [this, p, name = c.name, done](hv::control::Reply cr) {
        auto id = wire::unpack<hv_ctl_domid_t>(cr.payload);
        if (cr.status != HV_OK || !id) {
            p->killed_by_destroy = true; // not a crash: its create failed, whatever it indexed goes
            kill_proc(p);
            std::error_code ec;
            fs::remove(p->socket, ec);
            return done(cr.status != HV_OK ? std::move(cr) : hv::control::Reply{HV_EPROTO, "short create reply"});
        }
        index_domain(p, id->domid, name);
        log_->info("domain {} ({}) created in process {}", id->domid, name, p->pid);
        done(std::move(cr));
        // Beside its socket: what it was created from, so a later hvd that
        // re-attaches it knows its on_crash (and can restart it).
        offload<std::string>([path = p->socket + ".req", bytes = ManagedStore::serialize(*p->request)] {
            auto r = write_file_atomic(path, bytes);
            return r ? std::string() : r.error().message;
        }, [this](std::string why) {
            if (!why.empty()) log_->warn("create request not kept: {}", why);
        });
    });
}

void HvdService::attach(const std::string& socket, std::function<void()> finished) {
    auto p = std::make_shared<Proc>();
    p->serial = ++next_serial_;
    p->socket = socket;
    p->link = DomainLink::make(io_, socket, link_handlers(p));
    p->link->open(hv_ctl_subscribe_t{HV_CTL_SUB_EVENTS, 0}, options_.call_timeout, [this, p, finished](hv::control::Reply r) {
        if (r.status == HV_ENOENT) { // nobody listens: a dead process's socket
            log_->info("{}: stale domain socket removed", p->socket);
            std::error_code ec;
            fs::remove(p->socket, ec);
            fs::remove(p->socket + ".req", ec);
            fs::remove(hv::sched::page_path_of(p->socket), ec);
            return finished();
        }
        if (r.status != HV_OK) {
            log_->warn("{}: domain process does not answer ({}); it joins when it does", p->socket, r.payload);
            p->link->detach();
            // Look again later: a stopped process may be continued.
            auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(5));
            t->async_wait([this, t, path = p->socket, alive = alive_](boost::system::error_code ec) {
                if (!ec && *alive && fs::exists(path)) attach(path, [] {});
            });
            return finished();
        }
        p->pid = p->link->peer_pid(); // the kernel's word, not the process's
        p->pidfd = open_pidfd(p->pid);
        procs_[p->serial] = p;
        watch_death(p);
        struct Known {
            std::optional<hv::sdk::CreateRequest> req;
            hv::core::ShutdownAction on_crash = hv::core::ShutdownAction::destroy;
        };
        offload<Known>([path = p->socket + ".req"] {
            Known k;
            std::ifstream in(path, std::ios::binary);
            if (!in) return k;
            std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            auto req = ManagedStore::parse(bytes, path);
            if (!req) return k;
            if (auto cfg = hv::control::config_of(*req)) k.on_crash = cfg->actions.on_crash;
            k.req = std::move(*req);
            return k;
        }, [p](Known k) {
            if (!k.req) return;
            p->request = std::move(k.req);
            p->on_crash = k.on_crash;
        });
        list_adopted(p, std::move(finished));
    });
}

// Indexes the domains an adopted process holds. A process that answered
// the subscribe but not the list (a loaded machine, a SIGSTOP between the
// two) is asked again every 5 s while it lives: its domains join late, never
// get lost. `finished` runs once, after the first answer or failure.
void HvdService::list_adopted(const ProcPtr& p, std::function<void()> finished) {
    p->link->call(HV_DOMCTL_LIST, {}, options_.call_timeout, [this, p, finished](hv::control::Reply lr) {
        auto infos = hv::sdk::UnixBackend::info_list_reply(
            lr.status == HV_OK ? hv::Result<std::string>(std::move(lr.payload)) : make_error(Errc::io_error, lr.payload));
        if (!infos) {
            log_->warn("domain process {} did not list its domains ({}); asking again in 5 s", p->pid, infos.error().message);
            auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(5));
            t->async_wait([this, t, weak = std::weak_ptr<Proc>(p), alive = alive_](boost::system::error_code ec) {
                auto again = weak.lock();
                if (!ec && *alive && again && !again->gone && again->link) list_adopted(again, [] {});
            });
            return finished();
        }
        if (infos->empty() && p->domids.empty()) {
            // A process whose create was cut off (hvd died mid-create):
            // nothing to re-attach; it is ended, never adopted.
            log_->info("domain process {} holds no domain; ending it", p->pid);
            signal_pidfd(p->pidfd, SIGTERM);
            return finished();
        }
        uint32_t newest = 0;
        for (const auto& i : *infos) {
            if (i.exists && i.state != hv::sdk::State::shutdown && i.state != hv::sdk::State::crashed) newest = std::max(newest, i.domid);
            if (auto clash = by_name_.find(i.name); clash != by_name_.end() && clash->second != i.domid)
                log_->error("domain {} ({}) answers late and shares its name with domain {}: rename one of them",
                            i.domid, i.name, clash->second);
            index_domain(p, i.domid, i.name);
            doms_[i.domid].last = i;
        }
        // Its running domain is scheduled again (with its config's
        // parameters when its request is known; run-time changes made
        // through the previous hvd are not kept).
        if (newest != 0) sched_attach(p, newest);
        finished();
    });
}

void HvdService::sched_attach(const ProcPtr& p, uint32_t domid) {
    if (!sched_ || p->gone) return;
    if (p->sched_domid != 0) sched_detach(p);
    if (!p->sched_page) {
        auto m = hv::sched::SharedMapping::open(hv::sched::page_path_of(p->socket), sizeof(hv::sched::SchedPage));
        if (!m) {
            log_->warn("domain {}: runs unscheduled: {}", domid, m.error().message);
            return;
        }
        p->sched_page = std::make_shared<hv::sched::SharedMapping>(std::move(*m));
    }
    hv::sched::DomainSched ds;
    ds.max_vcpus = hv::sched::kPageVcpus;
    if (p->request)
        if (auto cfg = hv::control::config_of(*p->request)) ds = hv::sched::domain_sched(*cfg);
    auto* page = static_cast<hv::sched::SchedPage*>(p->sched_page->data());
    if (auto r = sched_->attach(domid, p->sched_page, *page, p->pid, ds, p->sched_page.get()); !r) {
        log_->warn("domain {}: runs unscheduled: {}", domid, r.error().message);
        return;
    }
    p->sched_domid = domid;
}

void HvdService::sched_detach(const ProcPtr& p) {
    if (sched_ && p->sched_domid != 0) sched_->detach(p->sched_domid);
    p->sched_domid = 0;
    p->sched_page.reset();
}

void HvdService::index_domain(const ProcPtr& p, uint32_t domid, const std::string& name) {
    Dom& d = doms_[domid];
    if (p) d.proc = p;
    if (!d.last.name.empty() && d.last.name != name) {
        auto it = by_name_.find(d.last.name);
        if (it != by_name_.end() && it->second == domid) by_name_.erase(it);
    }
    d.last.domid = domid;
    d.last.name = name;
    by_name_[name] = domid;
    if (d.proc) d.proc->domids.insert(domid);
    gone_.erase(domid);
}

void HvdService::unindex_domain(uint32_t domid, hv::sdk::DomainInfo last) {
    auto it = doms_.find(domid);
    if (it != doms_.end()) {
        if (it->second.proc) it->second.proc->domids.erase(domid);
        auto n = by_name_.find(it->second.last.name);
        if (n != by_name_.end() && n->second == domid) by_name_.erase(n);
        doms_.erase(it);
    }
    last.exists = false;
    gone_[domid] = std::move(last);
    while (gone_.size() > kGoneKept) gone_.erase(gone_.begin());
}

void HvdService::on_proc_event(const ProcPtr& p, const wire::Frame& f) {
    if (f.header.op != HV_CTL_EVENT_DOMAIN) return;
    auto w = wire::unpack<hv_ctl_event_t>(f.payload);
    if (!w) return;
    auto e = wire::from_wire(*w);
    if (!e) return;
    switch (e->kind) {
    case Kind::created:
        index_domain(p, e->domid, e->name);
        sched_attach(p, e->domid);
        break;
    case Kind::renamed: index_domain(p, e->domid, e->name); break;
    case Kind::paused:
    case Kind::unpaused:
        if (auto it = doms_.find(e->domid); it != doms_.end())
            it->second.last.state = e->kind == Kind::paused ? hv::sdk::State::paused : hv::sdk::State::running;
        break;
    case Kind::shutdown:
        if (auto it = doms_.find(e->domid); it != doms_.end()) {
            it->second.last.state = e->reason == hv::sdk::ShutdownReason::crash ? hv::sdk::State::crashed : hv::sdk::State::shutdown;
            it->second.last.shutdown_reason = e->reason;
        }
        probe(e->domid);
        break;
    case Kind::destroyed: {
        hv::sdk::DomainInfo last;
        if (auto it = doms_.find(e->domid); it != doms_.end()) last = it->second.last;
        last.domid = e->domid;
        last.name = e->name;
        unindex_domain(e->domid, last);
        if (p->sched_domid == e->domid) sched_detach(p);
        fetch_last_word(p, e->domid);
        if (p->domids.empty()) keep_process_log(p);
        break;
    }
    case Kind::restarted:
        if (auto g = gone_.find(e->domid); g != gone_.end()) g->second.restarted_as = e->new_domid;
        break;
    default: break;
    }
    publish(*e);
}

// A destroyed domain's last word (how it ended, what replaced it), asked
// of its process while it still knows (it exits shortly after), so that
// wait() can answer for domains that are already gone.
void HvdService::fetch_last_word(const ProcPtr& p, uint32_t domid) {
    p->link->call(HV_DOMCTL_WAIT, wire::pack(hv_ctl_wait_t{domid, 0}), options_.call_timeout, [this, domid](hv::control::Reply r) {
        auto w = wire::unpack<hv_ctl_domain_info_t>(r.payload);
        if (r.status == HV_OK && w) {
            if (auto info = wire::from_wire(*w); info && doms_.count(domid) == 0) {
                info->exists = false;
                gone_[domid] = *info;
            }
        }
        if (auto g = gone_.find(domid); g != gone_.end() && doms_.count(domid) == 0) complete_waiters(domid, g->second);
    });
}

// Its dmesg lines outlive it (hvctl dmesg keeps showing them).
void HvdService::keep_process_log(const ProcPtr& p) {
    const pid_t pid = p->pid;
    p->link->call(HV_SYSCTL_DMESG, {}, options_.call_timeout, [this, pid](hv::control::Reply r) {
        if (r.status != HV_OK) return;
        for (auto& l : *hv::sdk::UnixBackend::lines(std::move(r.payload))) {
            kept_log_.push_back(l.size() > 25 ? l.substr(0, 25) + fmt::format(" [process {}]", pid) + l.substr(25) : l);
            if (kept_log_.size() > kKeptLog) kept_log_.pop_front();
        }
    });
}

// Whether waiters on `domid` are done: asked of its process (which knows
// whether its stop has been acted on), again whenever an event comes
// while the question is out.
void HvdService::probe(uint32_t domid) {
    if (waiting_.count(domid) == 0) return;
    auto it = doms_.find(domid);
    if (it == doms_.end()) {
        if (auto g = gone_.find(domid); g != gone_.end()) complete_waiters(domid, g->second);
        return;
    }
    Dom& d = it->second;
    if (!d.proc) return complete_waiters(domid, d.last);
    if (d.probing) {
        d.probe_again = true;
        return;
    }
    d.probing = true;
    d.proc->link->call(HV_DOMCTL_WAIT, wire::pack(hv_ctl_wait_t{domid, 0}), options_.call_timeout, [this, domid](hv::control::Reply r) {
        auto at = doms_.find(domid);
        if (at != doms_.end()) at->second.probing = false;
        auto w = wire::unpack<hv_ctl_domain_info_t>(r.payload);
        if (r.status == HV_OK && w) {
            if (auto info = wire::from_wire(*w)) return complete_waiters(domid, *info);
        }
        if (at != doms_.end() && at->second.probe_again) {
            at->second.probe_again = false;
            probe(domid);
        }
        // Otherwise still running (or its process is slow): the next event,
        // or the waiter's own timeout, settles it.
    });
}

void HvdService::complete_waiters(uint32_t domid, const hv::Result<hv::sdk::DomainInfo>& r) {
    auto range = waiting_.equal_range(domid);
    std::vector<uint64_t> ids;
    for (auto i = range.first; i != range.second; ++i) ids.push_back(i->second);
    waiting_.erase(range.first, range.second);
    for (uint64_t id : ids) {
        auto it = waiters_.find(id);
        if (it == waiters_.end()) continue;
        it->second.timer->cancel();
        InfoFn fn = std::move(it->second.done);
        waiters_.erase(it);
        fn(r);
    }
}

void HvdService::set_unresponsive(const ProcPtr& p, bool yes) {
    if (p->unresponsive == yes || p->gone) return;
    p->unresponsive = yes;
    log_->warn("domain process {} {}", p->pid, yes ? "does not answer: its domains show as unresponsive" : "answers again");
    for (uint32_t domid : p->domids) {
        auto it = doms_.find(domid);
        if (it == doms_.end()) continue;
        it->second.last.unresponsive = yes;
        publish(hv::sdk::Event{yes ? Kind::unresponsive : Kind::responsive, domid, it->second.last.name, {}, 0});
    }
}

void HvdService::proc_died(const ProcPtr& p) {
    if (p->gone) return;
    p->gone = true;
    if (spare_ == p) spare_.reset();
    sched_detach(p); // before the reap: no signal or binding may reach a reused pid
    const std::string status = reap_pidfd(p->pidfd);
    if (p->link) p->link->detach();
    p->watch.reset(); // closes the pidfd
    p->pidfd = -1;
    std::error_code ec;
    fs::remove(p->socket, ec);
    fs::remove(p->socket + ".req", ec);
    fs::remove(hv::sched::page_path_of(p->socket), ec);
    procs_.erase(p->serial);
    const std::vector<uint32_t> domids(p->domids.begin(), p->domids.end());
    if (domids.empty()) {
        log_->debug("domain process {} exited{}", p->pid, status.empty() ? "" : " (" + status + ")");
        return;
    }
    for (uint32_t domid : domids) crash_domain(p, domid, status);
}

// A domain whose process died under it: a crash (xl's state c), reported
// with events and handled by its on_crash action; destroyed instead when
// hvd killed the process to carry out a destroy.
void HvdService::crash_domain(const ProcPtr& p, uint32_t domid, const std::string& status) {
    auto it = doms_.find(domid);
    if (it == doms_.end()) return;
    hv::sdk::DomainInfo last = it->second.last;
    last.unresponsive = false;
    if (p->killed_by_destroy) {
        unindex_domain(domid, last);
        complete_waiters(domid, gone_[domid]);
        publish(hv::sdk::Event{Kind::destroyed, domid, last.name, {}, 0});
        return;
    }
    const auto action = p->on_crash;
    log_->error("domain {} ({}): its monitor process {} died{}; on_crash={}", domid, last.name, p->pid,
                status.empty() ? "" : " (" + status + ")", hv::core::action_name(action));
    last.state = hv::sdk::State::crashed;
    last.shutdown_reason = hv::sdk::ShutdownReason::crash;
    publish(hv::sdk::Event{Kind::shutdown, domid, last.name, hv::sdk::ShutdownReason::crash, 0});
    using A = hv::core::ShutdownAction;
    if (action == A::preserve || action == A::coredump_destroy || action == A::coredump_restart) {
        Dom& d = it->second;
        p->domids.erase(domid);
        d.proc = nullptr;
        d.last = last;
        leases_.hold(domid); // nobody may take its id while it is listed
        complete_waiters(domid, last);
        return;
    }
    unindex_domain(domid, last);
    complete_waiters(domid, gone_[domid]);
    publish(hv::sdk::Event{Kind::destroyed, domid, last.name, {}, 0});
    if ((action == A::restart || action == A::rename_restart) && p->request) {
        auto req = *p->request;
        req.paused = false;
        const std::string name = last.name;
        do_create(p->creator, std::move(req), [this, domid, name](hv::control::Reply r) {
            auto id = wire::unpack<hv_ctl_domid_t>(r.payload);
            if (r.status != HV_OK || !id) {
                log_->error("domain {} ({}): restart after its process died failed: {}", domid, name, r.payload);
                return;
            }
            if (auto g = gone_.find(domid); g != gone_.end()) g->second.restarted_as = id->domid;
            publish(hv::sdk::Event{Kind::restarted, domid, name, {}, id->domid});
        });
    }
}

} // namespace hvd
