#include "hvd_backend.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "config/domain_config_loader.hpp"
#include "control/monitor_backend.hpp"

namespace hvd {

using hv::Errc;
using hv::make_error;
namespace fs = std::filesystem;

namespace {

class EventSubscription final : public hv::sdk::Subscription {
public:
    explicit EventSubscription(std::function<void()> undo) : undo_(std::move(undo)) {}
    ~EventSubscription() override { undo_(); }

private:
    std::function<void()> undo_;
};

bool process_alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

} // namespace

HvdBackend::HvdBackend(HvdOptions options, std::shared_ptr<spdlog::logger> log,
                       std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring)
    : options_(std::move(options)), log_(std::move(log)), ring_(std::move(ring)), managed_(options_.state_dir + "/managed") {}

HvdBackend::~HvdBackend() {
    // Ending the event readers joins their threads, whose callbacks take
    // mu_: release them outside it. The domain processes keep running.
    std::vector<ProcPtr> procs;
    {
        std::lock_guard lock(mu_);
        procs.swap(procs_);
    }
    procs.clear();
}

hv::Result<size_t> HvdBackend::start() {
    for (const char* sub : {"run", "managed", "log"}) {
        std::error_code ec;
        fs::create_directories(fs::path(options_.state_dir) / sub, ec);
        if (ec) return make_error(Errc::io_error, fmt::format("{}/{}: {}", options_.state_dir, sub, ec.message()));
    }
    size_t found = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(options_.state_dir) / "run", ec)) {
        if (e.path().extension() != ".sock") continue;
        auto p = attach(e.path().string());
        if (!p) {
            log_->warn("{}: stale domain socket removed ({})", e.path().string(), p.error().message);
            fs::remove(e.path(), ec);
            continue;
        }
        std::lock_guard lock(mu_);
        procs_.push_back(*p);
        ++found;
    }
    if (found > 0) log_->info("re-attached to {} domain process(es)", found);
    return found;
}

hv::Result<HvdBackend::ProcPtr> HvdBackend::attach(const std::string& socket) {
    auto b = hv::sdk::UnixBackend::open(socket);
    if (!b) return b.error();
    auto p = std::make_shared<Proc>();
    p->socket = socket;
    p->pid = static_cast<pid_t>((*b)->server_pid());
    p->backend = std::move(*b);
    // The callback runs on the subscription's reader thread: it must not
    // own the Proc (its last reference would then join that very thread).
    auto sub = p->backend->subscribe_events([this, socket](const hv::sdk::Event& e) {
        if (e.kind == hv::sdk::Event::Kind::destroyed) remember_gone(socket, e.domid);
        publish(e);
    });
    if (!sub) return sub.error();
    p->events = std::move(*sub);
    return p;
}

hv::Result<HvdBackend::ProcPtr> HvdBackend::spawn(const std::string& name) {
    unsigned n;
    {
        std::lock_guard lock(mu_);
        n = ++spawned_;
    }
    const std::string socket = fmt::format("{}/run/dom-{}-{}.sock", options_.state_dir, ::getpid(), n);
    const std::string logfile = fmt::format("{}/log/{}.log", options_.state_dir, name);
    const pid_t pid = ::fork();
    if (pid < 0) return make_error(Errc::io_error, fmt::format("fork: {}", std::strerror(errno)));
    if (pid == 0) {
        // The child: its own session, so it outlives hvd and hvd's terminal.
        ::setsid();
        const int in = ::open("/dev/null", O_RDONLY);
        const int out = ::open(logfile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in >= 0) ::dup2(in, 0);
        if (out >= 0) {
            ::dup2(out, 1);
            ::dup2(out, 2);
        }
        ::close_range(3, ~0u, 0);
        ::signal(SIGPIPE, SIG_DFL);
        execl(options_.domain_binary.c_str(), "hv-domain", "--socket", socket.c_str(), "--state-dir",
              options_.state_dir.c_str(), "--log-level", options_.log_level.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    // Wait for it to listen (or to die trying).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid)
            return make_error(Errc::platform_error, fmt::format("domain process for '{}' exited at start (status {}); see {}",
                                                                name, status, logfile));
        if (fs::exists(socket)) {
            auto p = attach(socket);
            if (p) return p;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            return make_error(Errc::timed_out, fmt::format("domain process for '{}' did not come up; see {}", name, logfile));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::vector<HvdBackend::ProcPtr> HvdBackend::procs() const {
    std::lock_guard lock(mu_);
    return procs_;
}

void HvdBackend::drop(const ProcPtr& p, const std::string& why) {
    {
        std::lock_guard lock(mu_);
        std::erase(procs_, p);
    }
    if (!process_alive(p->pid)) {
        std::error_code ec;
        fs::remove(p->socket, ec);
    }
    log_->info("domain process {} dropped: {}", p->pid, why);
}

hv::Result<HvdBackend::ProcPtr> HvdBackend::route(uint32_t domid) {
    for (const ProcPtr& p : procs()) {
        auto l = p->backend->list();
        if (!l) {
            drop(p, l.error().message);
            continue;
        }
        for (const auto& d : *l)
            if (d.domid == domid) return p;
    }
    return make_error(Errc::not_found, fmt::format("no domain with id {}", domid));
}

hv::Result<std::vector<hv::sdk::DomainInfo>> HvdBackend::list() {
    std::vector<hv::sdk::DomainInfo> all;
    for (const ProcPtr& p : procs()) {
        auto l = p->backend->list();
        if (!l) {
            drop(p, l.error().message);
            continue;
        }
        all.insert(all.end(), l->begin(), l->end());
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.domid < b.domid; });
    return all;
}

hv::Result<uint32_t> HvdBackend::lookup(std::string_view name_or_id) {
    auto l = list();
    if (!l) return l.error();
    uint32_t id = 0;
    const char* end = name_or_id.data() + name_or_id.size();
    const bool numeric = !name_or_id.empty() && std::from_chars(name_or_id.data(), end, id).ptr == end;
    for (const auto& d : *l)
        if (numeric ? d.domid == id : d.name == name_or_id) return d.domid;
    return make_error(Errc::not_found, numeric ? fmt::format("no domain with id {}", id) : fmt::format("no domain named '{}'", name_or_id));
}

hv::Result<std::string> HvdBackend::config_name(const hv::sdk::CreateRequest& req) const {
    auto cfg = hv::config::parse_domain_config(req.config_text, req.source.empty() ? "config" : req.source, req.overrides);
    if (!cfg) return cfg.error();
    return cfg->name;
}

hv::Result<uint32_t> HvdBackend::create(const hv::sdk::CreateRequest& req) {
    std::lock_guard create_lock(create_mu_);
    auto name = config_name(req); // config errors come back before any process starts
    if (!name) return name.error();
    if (lookup(*name)) return make_error(Errc::exists, fmt::format("domain '{}': a domain with that name exists", *name));
    auto p = spawn(*name);
    if (!p) return p.error();
    auto id = (*p)->backend->create(req);
    if (!id) {
        ::kill((*p)->pid, SIGTERM);
        drop(*p, "create failed");
        return id.error();
    }
    std::lock_guard lock(mu_);
    procs_.push_back(*p);
    log_->info("domain {} ({}) created in process {}", *id, *name, (*p)->pid);
    return id;
}

hv::Result<void> HvdBackend::destroy(uint32_t domid) {
    return routed(domid, [&](hv::sdk::UnixBackend& b) { return b.destroy(domid); });
}
hv::Result<void> HvdBackend::pause(uint32_t domid) {
    return routed(domid, [&](hv::sdk::UnixBackend& b) { return b.pause(domid); });
}
hv::Result<void> HvdBackend::unpause(uint32_t domid) {
    return routed(domid, [&](hv::sdk::UnixBackend& b) { return b.unpause(domid); });
}
hv::Result<void> HvdBackend::rename(uint32_t domid, std::string_view name) {
    if (auto other = lookup(name); other && *other != domid)
        return make_error(Errc::exists, fmt::format("rename to '{}': a domain with that name exists", name));
    return routed(domid, [&](hv::sdk::UnixBackend& b) { return b.rename(domid, name); });
}
hv::Result<hv::sdk::DomainInfo> HvdBackend::info(uint32_t domid) {
    return routed(domid, [&](hv::sdk::UnixBackend& b) { return b.info(domid); });
}
hv::Result<void> HvdBackend::console_write(uint32_t domid, std::string_view bytes) {
    return routed(domid, [&](hv::sdk::UnixBackend& b) { return b.console_write(domid, bytes); });
}
hv::Result<std::string> HvdBackend::console_history(uint32_t domid) {
    return routed(domid, [&](hv::sdk::UnixBackend& b) { return b.console_history(domid); });
}
hv::Result<std::unique_ptr<hv::sdk::Subscription>> HvdBackend::subscribe_console(uint32_t domid,
                                                                                 std::function<void(std::string_view)> fn) {
    return routed(domid, [&](hv::sdk::UnixBackend& b) { return b.subscribe_console(domid, std::move(fn)); });
}

// Waiting calls get their own connection, so they do not hold up the
// shared one other requests to the same process use.
// A destroyed domain's last word (how it ended, what replaced it), asked of
// its process while that still knows (it exits shortly after), so that
// wait() can answer for domains that are already gone.
void HvdBackend::remember_gone(const std::string& socket, uint32_t domid) {
    auto b = hv::sdk::UnixBackend::open(socket);
    if (!b) return;
    auto last = (*b)->wait(domid, 0);
    if (!last) return;
    std::lock_guard lock(mu_);
    gone_[domid] = *last;
    while (gone_.size() > 256) gone_.erase(gone_.begin());
}

hv::Result<hv::sdk::DomainInfo> HvdBackend::wait(uint32_t domid, uint32_t timeout_ms) {
    auto p = route(domid);
    if (!p) {
        std::lock_guard lock(mu_);
        if (auto g = gone_.find(domid); g != gone_.end()) return g->second;
        return p.error();
    }
    auto b = hv::sdk::UnixBackend::open((*p)->socket);
    if (!b) return b.error();
    return (*b)->wait(domid, timeout_ms);
}

hv::Result<void> HvdBackend::shutdown(uint32_t domid, const hv::sdk::ShutdownRequest& req) {
    auto p = route(domid);
    if (!p) return p.error();
    if (!req.wait) return (*p)->backend->shutdown(domid, req);
    auto b = hv::sdk::UnixBackend::open((*p)->socket);
    if (!b) return b.error();
    return (*b)->shutdown(domid, req);
}

hv::Result<hv::sdk::HostInfo> HvdBackend::host_info() {
    auto l = list();
    if (!l) return l.error();
    return hv::control::host_figures(static_cast<uint32_t>(l->size()));
}

hv::Result<std::vector<std::string>> HvdBackend::dmesg() {
    std::vector<std::string> lines = ring_->last_formatted();
    for (auto& l : lines)
        while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
    for (const ProcPtr& p : procs()) {
        auto more = p->backend->dmesg();
        if (!more) continue;
        for (auto& l : *more) lines.push_back(fmt::format("[process {}] {}", p->pid, l));
    }
    return lines;
}

hv::Result<void> HvdBackend::define(const hv::sdk::CreateRequest& req) {
    auto name = config_name(req);
    if (!name) return name.error();
    if (auto r = managed_.put(*name, req); !r) return r;
    log_->info("managed domain '{}' defined", *name);
    return {};
}

hv::Result<uint32_t> HvdBackend::start(std::string_view name) {
    auto req = managed_.get(std::string(name));
    if (!req) return req.error();
    return create(*req);
}

hv::Result<void> HvdBackend::undefine(std::string_view name) { return managed_.remove(std::string(name)); }

hv::Result<std::vector<std::string>> HvdBackend::list_defined() { return managed_.names(); }

void HvdBackend::publish(const hv::sdk::Event& e) {
    std::vector<std::shared_ptr<std::function<void(const hv::sdk::Event&)>>> subs;
    {
        std::lock_guard lock(sub_mu_);
        for (auto& [id, fn] : subscribers_) subs.push_back(fn);
    }
    for (auto& fn : subs) (*fn)(e);
}

hv::Result<std::unique_ptr<hv::sdk::Subscription>> HvdBackend::subscribe_events(std::function<void(const hv::sdk::Event&)> fn) {
    int id;
    {
        std::lock_guard lock(sub_mu_);
        id = next_sub_++;
        subscribers_.emplace(id, std::make_shared<std::function<void(const hv::sdk::Event&)>>(std::move(fn)));
    }
    return std::unique_ptr<hv::sdk::Subscription>(new EventSubscription([this, id] {
        std::lock_guard lock(sub_mu_);
        subscribers_.erase(id);
    }));
}

void HvdBackend::reap_children() {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
}

} // namespace hvd
