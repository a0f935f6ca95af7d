// HvdService: requests. (Processes, events and faults: hvd_procs.cpp.)
#include "hvd_service.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "config/domain_config.hpp"
#include "control/monitor_backend.hpp"
#include "hv/abi/domain_name.h"
#include "hv/sdk/unix_backend.hpp"
#include "hv/sdk/wire_types.hpp"
#include "member_access.hpp"

namespace hvd {

using hv::Errc;
using hv::make_error;
using hv::control::error_reply;
using hv::control::Peer;
namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace wire = hv::sdk::wire;

namespace {

constexpr size_t kMaxDeferred = 1024;

Reply ok(std::string payload = {}) { return Reply{HV_OK, std::move(payload)}; }
Reply err(Errc code, std::string why) { return Reply{wire::status_of(code), std::move(why)}; }
Reply no_domain(uint32_t domid) { return err(Errc::not_found, fmt::format("no domain with id {}", domid)); }

template <class T>
std::optional<T> exactly(std::string_view payload) {
    if (payload.size() != sizeof(T)) return std::nullopt;
    return wire::unpack<T>(payload);
}

Reply size_error(uint32_t op, size_t got, size_t want) {
    return err(Errc::invalid_argument, fmt::format("{}: payload of {} bytes, want {}", hv::control::op_name(op), got, want));
}

std::string name_problem(std::string_view name) {
    const char* why = hv_domain_name_problem(name.data(), name.size());
    return why == nullptr ? std::string() : fmt::format("domain name '{}': {}", name, why);
}

} // namespace

HvdService::HvdService(asio::io_context& io, HvdOptions options, std::shared_ptr<spdlog::logger> log,
                       std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring)
    : io_(io), options_(std::move(options)), log_(std::move(log)), ring_(std::move(ring)),
      managed_(options_.state_dir + "/managed"), leases_(options_.state_dir), ready_timer_(io) {}

HvdService::~HvdService() {
    sched_.reset(); // before the pages it reads are unmapped; domains run unscheduled until the next hvd
    *alive_ = false;
    pool_.join();
    for (auto& [serial, p] : procs_) {
        if (p->link) p->link->detach();
        if (p->device_link) p->device_link->detach();
        if (p->watch) p->watch->cancel();
        if (p->pidfd >= 0 && p->watch == nullptr) ::close(p->pidfd);
    }
    for (auto& [id, w] : waiters_) w.timer->cancel();
}

void HvdService::call(const Peer& peer, uint32_t op, std::string payload, ReplyFn done) {
    if (ready_) return dispatch(peer, op, std::move(payload), std::move(done));
    if (deferred_.size() >= kMaxDeferred)
        return done(err(Errc::busy, "hvd is still re-attaching to its domain processes; try again"));
    deferred_.push_back([this, peer, op, payload = std::move(payload), done = std::move(done)]() mutable {
        dispatch(peer, op, std::move(payload), std::move(done));
    });
}

void HvdService::dispatch(const Peer& peer, uint32_t op, std::string payload, ReplyFn done) {
    switch (op) {
    case HV_SYSCTL_PHYSINFO: {
        if (!payload.empty()) return done(size_error(op, payload.size(), 0));
        return done(ok(wire::pack(wire::to_wire(hv::control::host_figures(
            static_cast<uint32_t>(doms_.size()), sched_ ? hv::core::sched::policy_name(sched_->policy()) : "none")))));
    }
    case HV_SYSCTL_DMESG:
        if (!payload.empty()) return done(size_error(op, payload.size(), 0));
        return do_dmesg(std::move(done));
    case HV_DOMCTL_CREATE:
    case HV_DOMCTL_CREATE_SPEC: {
        hv::sdk::CreateRequest c;
        if (auto why = hv::control::decode_create(payload, c, op); !why.empty()) return done(err(Errc::invalid_argument, why));
        return do_create(peer, std::move(c), std::move(done));
    }
    case HV_DOMCTL_DEFINE:
    case HV_DOMCTL_START:
    case HV_DOMCTL_UNDEFINE:
    case HV_DOMCTL_LIST_DEFINED: return do_managed(peer, op, std::move(payload), std::move(done));
    case HV_DOMCTL_LIST:
        if (!payload.empty()) return done(size_error(op, payload.size(), 0));
        return do_list(std::move(done));
    case HV_DOMCTL_LOOKUP: {
        auto req = exactly<hv_ctl_lookup_t>(payload);
        if (!req) return done(size_error(op, payload.size(), sizeof(hv_ctl_lookup_t)));
        auto name = wire::get_name(req->name);
        if (!name) return done(err(Errc::invalid_argument, "lookup: name not NUL-terminated"));
        auto id = lookup(*name);
        return done(id ? ok(wire::pack(hv_ctl_domid_t{*id, 0})) : error_reply(id.error()));
    }
    case HV_DOMCTL_WAIT: {
        auto req = exactly<hv_ctl_wait_t>(payload);
        if (!req) return done(size_error(op, payload.size(), sizeof(hv_ctl_wait_t)));
        return do_wait(req->domid, std::chrono::milliseconds(req->timeout_ms), [done](hv::Result<hv::sdk::DomainInfo> r) {
            done(r ? ok(wire::pack(wire::to_wire(*r))) : error_reply(r.error()));
        });
    }
    case HV_DOMCTL_DEVICE_ATTACH: return do_attach(peer, std::move(payload), std::move(done));
    case HV_DOMCTL_DEVICE_DETACH: return do_detach(std::move(payload), std::move(done));
    case HV_DOMCTL_SHUTDOWN: return do_shutdown(std::move(payload), std::move(done));
    case HV_DOMCTL_RENAME: return do_rename(std::move(payload), std::move(done));
    case HV_DOMCTL_DESTROY:
    case HV_DOMCTL_PAUSE:
    case HV_DOMCTL_UNPAUSE:
    case HV_DOMCTL_INFO:
    case HV_DOMCTL_VCPU_SET:
    case HV_DOMCTL_BLOCK_LIST:
    case HV_DOMCTL_NETWORK_LIST:
    case HV_DOMCTL_VIF_SET_RATE:
    case HV_DOMCTL_DISK_SET_LIMITS:
    case HV_DOMCTL_CONSOLE_HISTORY:
    case HV_DOMCTL_CONSOLE_WRITE: {
        // Routed by the domid at the payload's head; the process that
        // holds the domain checks the rest.
        auto head = wire::unpack<hv_ctl_domid_t>(payload);
        if (!head) return done(size_error(op, payload.size(), sizeof(hv_ctl_domid_t)));
        if (op == HV_DOMCTL_DESTROY) return do_destroy(head->domid, std::move(payload), std::move(done));
        return forward(head->domid, op, std::move(payload), std::move(done));
    }
    default:
        if (hv::control::is_sched_op(op)) {
            hv::control::SchedControl ctl(sched_.get());
            return done(hv::control::handle_sched_request(ctl, op, payload));
        }
        return done(Reply{HV_ENOSYS, fmt::format("unknown control op {:#x}", op)});
    }
}

hv::Result<uint32_t> HvdService::lookup(std::string_view name_or_id) const {
    uint32_t id = 0;
    const char* end = name_or_id.data() + name_or_id.size();
    if (!name_or_id.empty() && std::from_chars(name_or_id.data(), end, id).ptr == end) {
        if (doms_.count(id) != 0) return id;
        return make_error(Errc::not_found, fmt::format("no domain with id {}", id));
    }
    auto it = by_name_.find(std::string(name_or_id));
    if (it == by_name_.end()) return make_error(Errc::not_found, fmt::format("no domain named '{}'", name_or_id));
    return it->second;
}

void HvdService::forward(uint32_t domid, uint32_t op, std::string payload, ReplyFn done) {
    auto it = doms_.find(domid);
    if (it == doms_.end()) return done(no_domain(domid));
    Dom& d = it->second;
    if (!d.proc) { // crashed with its process, kept by on_crash=preserve
        if (op == HV_DOMCTL_INFO && payload.size() == sizeof(hv_ctl_domid_t)) return done(ok(wire::pack(wire::to_wire(d.last))));
        return done(err(Errc::platform_error, fmt::format("domain {} ({}) crashed with its monitor process; only info and "
                                                          "destroy apply to it", domid, d.last.name)));
    }
    d.proc->link->call(op, std::move(payload), options_.call_timeout, [this, domid, op, done](Reply r) {
        if (op == HV_DOMCTL_INFO && r.status == HV_OK) {
            auto w = wire::unpack<hv_ctl_domain_info_t>(r.payload);
            if (auto at = doms_.find(domid); w && at != doms_.end())
                if (auto info = wire::from_wire(*w)) at->second.last = *info;
        }
        done(std::move(r));
    });
}

// destroy always works: a process that does not answer is killed (its
// domains are then reported destroyed, not crashed).
void HvdService::do_destroy(uint32_t domid, std::string payload, ReplyFn done) {
    auto it = doms_.find(domid);
    if (it == doms_.end()) return done(no_domain(domid));
    if (!it->second.proc) {
        hv::sdk::DomainInfo last = it->second.last;
        unindex_domain(domid, last);
        leases_.release(domid);
        publish(hv::sdk::Event{hv::sdk::Event::Kind::destroyed, domid, last.name, {}, 0});
        return done(ok());
    }
    ProcPtr p = it->second.proc;
    if (p->unresponsive) {
        log_->warn("domain {}: its monitor process {} does not answer; killing it to destroy the domain", domid, p->pid);
        p->killed_by_destroy = true;
        kill_proc(p);
        return done(ok());
    }
    p->link->call(HV_DOMCTL_DESTROY, std::move(payload), options_.call_timeout, [this, p, domid, done](Reply r) {
        // Its destroyed event came first and the process is on its way
        // out: the connection may end before the reply does. It is done.
        if (r.status != HV_OK && doms_.count(domid) == 0 && gone_.count(domid) != 0) return done(ok());
        if (r.status == HV_ETIMEDOUT && !p->gone) {
            log_->warn("domain {}: destroy unanswered; killing its monitor process {}", domid, p->pid);
            p->killed_by_destroy = true;
            kill_proc(p);
            return done(ok());
        }
        done(std::move(r));
    });
}

void HvdService::do_shutdown(std::string payload, ReplyFn done) {
    auto req = exactly<hv_ctl_shutdown_t>(payload);
    if (!req) return done(size_error(HV_DOMCTL_SHUTDOWN, payload.size(), sizeof(hv_ctl_shutdown_t)));
    const hv_ctl_shutdown_t s = *req;
    if ((s.flags & HV_CTL_SHUTDOWN_WAIT) == 0) return forward(s.domid, HV_DOMCTL_SHUTDOWN, std::move(payload), std::move(done));
    // With WAIT: ask, then wait here (from events), never in the process.
    hv_ctl_shutdown_t ask = s;
    ask.flags &= ~(HV_CTL_SHUTDOWN_WAIT | HV_CTL_SHUTDOWN_FORCE);
    forward(s.domid, HV_DOMCTL_SHUTDOWN, wire::pack(ask), [this, s, done](Reply r) {
        if (r.status != HV_OK) return done(std::move(r));
        do_wait(s.domid, std::chrono::milliseconds(s.timeout_ms), [this, s, done](hv::Result<hv::sdk::DomainInfo> w) {
            if (w) return done(ok());
            if (w.error().code == Errc::timed_out && (s.flags & HV_CTL_SHUTDOWN_FORCE) != 0)
                return do_destroy(s.domid, wire::pack(hv_ctl_domid_t{s.domid, 0}), done);
            done(error_reply(w.error()));
        });
    });
}

void HvdService::do_rename(std::string payload, ReplyFn done) {
    auto req = exactly<hv_ctl_rename_t>(payload);
    if (!req) return done(size_error(HV_DOMCTL_RENAME, payload.size(), sizeof(hv_ctl_rename_t)));
    auto name = wire::get_name(req->name);
    if (!name || req->_pad0 != 0) return done(err(Errc::invalid_argument, "rename: name not NUL-terminated or nonzero padding"));
    if (auto why = name_problem(*name); !why.empty()) return done(err(Errc::invalid_argument, "rename: " + why));
    const uint32_t domid = req->domid;
    if (doms_.count(domid) == 0) return done(no_domain(domid));
    auto owner = by_name_.find(*name);
    if ((owner != by_name_.end() && owner->second != domid) || reserved_.count(*name) != 0)
        return done(err(Errc::exists, fmt::format("rename to '{}': a domain with that name exists", *name)));
    if (owner != by_name_.end()) return done(ok()); // its own name already
    reserved_.insert(*name);
    forward(domid, HV_DOMCTL_RENAME, std::move(payload), [this, domid, n = *name, done](Reply r) {
        reserved_.erase(n);
        if (r.status == HV_OK && doms_.count(domid) != 0) index_domain(doms_[domid].proc, domid, n);
        done(std::move(r));
    });
}

void HvdService::do_wait(uint32_t domid, std::chrono::milliseconds timeout, InfoFn done) {
    if (doms_.count(domid) == 0) {
        if (auto g = gone_.find(domid); g != gone_.end()) return done(g->second);
        return done(make_error(Errc::not_found, fmt::format("no domain with id {}", domid)));
    }
    const uint64_t id = ++next_waiter_;
    Waiter w{domid, std::move(done), std::make_unique<asio::steady_timer>(io_)};
    w.timer->expires_after(timeout);
    w.timer->async_wait([this, id, domid, timeout](boost::system::error_code ec) {
        if (ec) return;
        auto it = waiters_.find(id);
        if (it == waiters_.end()) return;
        InfoFn fn = std::move(it->second.done);
        waiters_.erase(it);
        for (auto range = waiting_.equal_range(domid); range.first != range.second; ++range.first)
            if (range.first->second == id) {
                waiting_.erase(range.first);
                break;
            }
        fn(make_error(Errc::timed_out, fmt::format("domain {} did not shut down within {} ms", domid, timeout.count())));
    });
    waiters_.emplace(id, std::move(w));
    waiting_.emplace(domid, id);
    probe(domid); // it may have stopped already
}

void HvdService::do_list(ReplyFn done) {
    struct Gather {
        std::vector<hv::sdk::DomainInfo> all;
        size_t outstanding = 1;
        ReplyFn done;
    };
    auto g = std::make_shared<Gather>();
    g->done = std::move(done);
    auto finish = [g] {
        if (--g->outstanding != 0) return;
        std::sort(g->all.begin(), g->all.end(), [](const auto& a, const auto& b) { return a.domid < b.domid; });
        std::string out;
        for (const auto& d : g->all) out += wire::pack(wire::to_wire(d));
        g->done(ok(std::move(out)));
    };
    std::set<ProcPtr> asked;
    for (auto& [domid, d] : doms_) {
        if (!d.proc) {
            g->all.push_back(d.last);
            continue;
        }
        if (!asked.insert(d.proc).second) continue;
        ProcPtr p = d.proc;
        ++g->outstanding;
        p->link->call(HV_DOMCTL_LIST, {}, options_.list_timeout, [this, p, g, finish](Reply r) {
            auto infos = hv::sdk::UnixBackend::info_list_reply(r.status == HV_OK ? hv::Result<std::string>(std::move(r.payload))
                                                                                  : make_error(Errc::io_error, r.payload));
            if (infos) {
                for (auto& i : *infos) {
                    if (auto it = doms_.find(i.domid); it != doms_.end() && it->second.proc == p) it->second.last = i;
                    i.unresponsive = false;
                    g->all.push_back(i);
                }
            } else {
                for (uint32_t id : p->domids) {
                    auto it = doms_.find(id);
                    if (it == doms_.end()) continue;
                    hv::sdk::DomainInfo i = it->second.last;
                    i.unresponsive = true;
                    g->all.push_back(i);
                }
            }
            finish();
        });
    }
    finish();
}

void HvdService::do_dmesg(ReplyFn done) {
    struct Gather {
        std::vector<std::string> lines;
        size_t outstanding = 1;
        ReplyFn done;
    };
    auto g = std::make_shared<Gather>();
    g->done = std::move(done);
    g->lines = ring_->last_formatted();
    for (auto& l : g->lines)
        while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
    g->lines.insert(g->lines.end(), kept_log_.begin(), kept_log_.end());
    auto finish = [g] {
        if (--g->outstanding != 0) return;
        // Every line starts with its "[YYYY-mm-dd HH:MM:SS.mmm]" stamp.
        std::stable_sort(g->lines.begin(), g->lines.end(),
                         [](const std::string& a, const std::string& b) { return a.compare(0, 25, b, 0, 25) < 0; });
        // The newest lines that fit one frame.
        std::string text;
        size_t from = g->lines.size();
        for (size_t bytes = 0; from > 0 && bytes + g->lines[from - 1].size() + 1 <= HV_CTL_MAX_PAYLOAD; --from)
            bytes += g->lines[from - 1].size() + 1;
        for (size_t i = from; i < g->lines.size(); ++i) text += g->lines[i] + "\n";
        g->done(ok(std::move(text)));
    };
    for (auto& [serial, p] : procs_) {
        if (!p->link || !p->link->is_open()) continue;
        ++g->outstanding;
        const pid_t pid = p->pid;
        p->link->call(HV_SYSCTL_DMESG, {}, options_.list_timeout, [g, finish, pid](Reply r) {
            if (r.status == HV_OK) {
                for (auto& l : *hv::sdk::UnixBackend::lines(std::move(r.payload)))
                    g->lines.push_back(l.size() > 25 ? l.substr(0, 25) + fmt::format(" [process {}]", pid) + l.substr(25) : l);
            } else {
                g->lines.push_back(fmt::format("[process {}] unresponsive: {}", pid, r.payload));
            }
            finish();
        });
    }
    finish();
}

void HvdService::do_create(const Peer& peer, hv::sdk::CreateRequest req, std::function<void(Reply)> done) {
    // The config is parsed (and, for members, its files checked with their
    // credentials) off the loop; names are checked and reserved on it.
    struct Parsed {
        hv::Result<Checked> checked = make_error(Errc::invalid_argument, "");
        hv::sched::DomainSched sched;
    };
    offload<Parsed>(
        [peer, req = std::move(req)]() mutable {
            Parsed out;
            auto cfg = hv::control::config_of(req);
            if (cfg) { // refused here, before a domain process is spent on it
                if (auto r = hv::config::check_creatable(*cfg); !r) cfg = r.error();
            }
            if (!cfg) {
                out.checked = cfg.error();
                return out;
            }
            std::vector<MemberFile> files;
            if (!cfg->kernel.empty()) files.push_back({"kernel", cfg->kernel, false});
            if (!cfg->ramdisk.empty()) files.push_back({"ramdisk", cfg->ramdisk, false});
            for (const auto& d : cfg->disks)
                if (!d.target.empty()) files.push_back({"disk", d.target, !d.read_only});
            if (auto r = check_member_can_open(peer, files); !r) {
                out.checked = r.error();
                return out;
            }
            // A qcow2 image names its backing files itself: a member who
            // may read the image must also be able to read each of them,
            // or an image it wrote could show its guest any file root can
            // read. The chain is read (as hvd) only after the image passed.
            if (auto r = check_member_backing_files(peer, cfg->disks); !r) {
                out.checked = r.error();
                return out;
            }
            out.checked = Checked{std::move(req), peer, cfg->name, cfg->actions.on_crash};
            out.sched = hv::sched::domain_sched(*cfg);
            return out;
        },
        [this, done = std::move(done)](Parsed p) mutable {
            if (!p.checked) return done(error_reply(p.checked.error()));
            // The host's word on cpus (its CPUs), the ranges and room: a
            // domain never runs unscheduled because its attach would fail.
            if (sched_)
                if (auto ok = sched_->check(p.sched); !ok) return done(error_reply(ok.error()));
            Checked c = std::move(*p.checked);
            if (by_name_.count(c.name) != 0 || reserved_.count(c.name) != 0)
                return done(err(Errc::exists, fmt::format("domain '{}': a domain with that name exists", c.name)));
            reserved_.insert(c.name);
            const std::string name = c.name;
            spawn_and_create(std::move(c), [this, name, done = std::move(done)](Reply r) {
                reserved_.erase(name);
                done(std::move(r));
            });
        });
}

void HvdService::do_managed(const Peer& peer, uint32_t op, std::string payload, ReplyFn done) {
    ManagedStore* store = &managed_;
    if (op == HV_DOMCTL_LIST_DEFINED) {
        if (!payload.empty()) return done(size_error(op, payload.size(), 0));
        return offload<std::vector<std::string>>([store] { return store->names(); }, [done](std::vector<std::string> names) {
            std::string text;
            for (const auto& n : names) text += n + "\n";
            done(ok(std::move(text)));
        });
    }
    if (op == HV_DOMCTL_DEFINE) {
        hv::sdk::CreateRequest c;
        if (auto why = hv::control::decode_create(payload, c, op); !why.empty()) return done(err(Errc::invalid_argument, why));
        return offload<Reply>(
            [store, c, this] {
                auto cfg = hv::control::config_of(c);
                if (!cfg) return error_reply(cfg.error());
                if (auto r = store->put(cfg->name, c, c.replace); !r) return error_reply(r.error());
                log_->info("managed domain '{}' defined", cfg->name);
                return ok();
            },
            std::move(done));
    }
    auto req = exactly<hv_ctl_lookup_t>(payload);
    if (!req) return done(size_error(op, payload.size(), sizeof(hv_ctl_lookup_t)));
    auto name = wire::get_name(req->name);
    if (!name) return done(err(Errc::invalid_argument, fmt::format("{}: name not NUL-terminated", hv::control::op_name(op))));
    if (op == HV_DOMCTL_UNDEFINE)
        return offload<Reply>([store, n = *name] {
            auto r = store->remove(n);
            return r ? ok() : error_reply(r.error());
        }, std::move(done));
    // START: the stored request, created as if the caller sent it now.
    offload<hv::Result<hv::sdk::CreateRequest>>([store, n = *name] { return store->get(n); },
                                                [this, peer, done](hv::Result<hv::sdk::CreateRequest> r) {
        if (!r) return done(error_reply(r.error()));
        do_create(peer, std::move(*r), done);
    });
}

hv::Result<std::unique_ptr<hv::sdk::Subscription>> HvdService::subscribe_events(std::function<void(const hv::sdk::Event&)> fn) {
    class Sub final : public hv::sdk::Subscription {
    public:
        Sub(std::function<void()> undo) : undo_(std::move(undo)) {}
        ~Sub() override { undo_(); }

    private:
        std::function<void()> undo_;
    };
    const int id = next_sub_++;
    subscribers_.emplace(id, std::move(fn));
    auto alive = alive_;
    return std::unique_ptr<hv::sdk::Subscription>(new Sub([this, alive, id] {
        if (*alive) subscribers_.erase(id);
    }));
}

void HvdService::publish(const hv::sdk::Event& e) {
    for (auto& [id, fn] : subscribers_) fn(e);
}

void HvdService::subscribe_console(const Peer&, uint32_t domid, hv::sdk::ConsoleType type, hv::control::ConsoleSink sink,
                                   std::function<void(hv::Result<std::unique_ptr<hv::sdk::Subscription>>)> done) {
    auto it = doms_.find(domid);
    if (it == doms_.end()) return done(make_error(Errc::not_found, fmt::format("no domain with id {}", domid)));
    if (!it->second.proc)
        return done(make_error(Errc::platform_error, fmt::format("domain {} crashed with its monitor process: no console", domid)));
    // Its own connection to the process, relaying frames as they come:
    // asynchronous, no thread; the session coalesces and bounds them.
    DomainLink::Handlers h;
    h.on_event = [sink](const wire::Frame& f) {
        if (f.header.op != HV_CTL_EVENT_CONSOLE || f.payload.size() < sizeof(hv_ctl_domid_t)) return;
        const std::string_view bytes = std::string_view(f.payload).substr(sizeof(hv_ctl_domid_t));
        if (f.header.status < 0) sink.end(hv::Error{wire::errc_of(f.header.status), std::string(bytes)});
        else sink.data(bytes);
    };
    h.on_close = [sink, this, domid](const std::string& why) {
        log_->debug("console of domain {}: {}", domid, why);
        sink.end(hv::Error{Errc::io_error, "console: " + why});
    };
    auto link = DomainLink::make(io_, it->second.proc->socket, std::move(h));
    class Sub final : public hv::sdk::Subscription {
    public:
        explicit Sub(std::shared_ptr<DomainLink> l) : link_(std::move(l)) {}
        ~Sub() override { link_->detach(); }

    private:
        std::shared_ptr<DomainLink> link_;
    };
    const uint32_t flags = HV_CTL_SUB_CONSOLE | (type == hv::sdk::ConsoleType::serial ? HV_CTL_SUB_CONSOLE_SERIAL
                                                 : type == hv::sdk::ConsoleType::pv   ? HV_CTL_SUB_CONSOLE_PV
                                                                                      : 0u);
    link->open(hv_ctl_subscribe_t{flags, domid}, options_.call_timeout, [this, domid, link, done](Reply r) {
        log_->debug("console of domain {}: subscribed ({})", domid, r.status);
        if (r.status != HV_OK) {
            link->detach();
            return done(hv::Error{wire::errc_of(r.status), r.payload});
        }
        done(std::unique_ptr<hv::sdk::Subscription>(new Sub(link)));
    });
}

} // namespace hvd
