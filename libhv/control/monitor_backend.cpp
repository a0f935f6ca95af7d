#include "control/monitor_backend.hpp"

#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "config/domain_config_loader.hpp"
#include "hv/abi/control.h"
#include "hv/sdk/connection.hpp"

namespace hv::control {

namespace {

// Unsubscribes on destruction.
class MonitorSubscription final : public sdk::Subscription {
public:
    explicit MonitorSubscription(std::function<void()> undo) : undo_(std::move(undo)) {}
    ~MonitorSubscription() override { undo_(); }

private:
    std::function<void()> undo_;
};

} // namespace

sdk::DomainInfo to_sdk(const DomainInfo& i) {
    sdk::DomainInfo d;
    d.domid = i.domid;
    d.name = i.name;
    d.uuid = i.uuid;
    d.state = static_cast<sdk::State>(core::state_letter(i.state));
    d.vcpus = i.vcpus;
    d.vcpus_online = i.vcpus_online;
    d.memory_mib = i.memory_mib;
    d.cpu_seconds = i.cpu_seconds;
    d.uptime_seconds = i.uptime_seconds;
    if (i.shutdown_reason) d.shutdown_reason = static_cast<sdk::ShutdownReason>(*i.shutdown_reason);
    d.restarted_as = i.restarted_as;
    d.exists = i.exists;
    return d;
}

sdk::Event to_sdk(const DomainEvent& e) {
    sdk::Event out;
    switch (e.kind) {
    case DomainEvent::Kind::created: out.kind = sdk::Event::Kind::created; break;
    case DomainEvent::Kind::paused: out.kind = sdk::Event::Kind::paused; break;
    case DomainEvent::Kind::unpaused: out.kind = sdk::Event::Kind::unpaused; break;
    case DomainEvent::Kind::shutdown: out.kind = sdk::Event::Kind::shutdown; break;
    case DomainEvent::Kind::restarted: out.kind = sdk::Event::Kind::restarted; break;
    case DomainEvent::Kind::renamed: out.kind = sdk::Event::Kind::renamed; break;
    case DomainEvent::Kind::destroyed: out.kind = sdk::Event::Kind::destroyed; break;
    }
    out.domid = e.domid;
    out.name = e.name;
    if (e.reason) out.reason = static_cast<sdk::ShutdownReason>(*e.reason);
    out.new_domid = e.new_domid;
    return out;
}

sdk::HostInfo host_figures(uint32_t nr_domains, std::string scheduler) {
    namespace fs = std::filesystem;
    sdk::HostInfo h;
    h.nr_cpus = static_cast<uint32_t>(::sysconf(_SC_NPROCESSORS_ONLN));
    struct sysinfo si {};
    if (::sysinfo(&si) == 0) {
        h.total_mib = static_cast<uint64_t>(si.totalram) * si.mem_unit >> 20;
        h.free_mib = static_cast<uint64_t>(si.freeram) * si.mem_unit >> 20;
    }
    h.nr_domains = nr_domains;
    h.abi_version = HV_ABI_VERSION;
    h.ctl_version = HV_CTL_VERSION;
    if (struct utsname u {}; ::uname(&u) == 0) {
        h.host = u.nodename;
        h.release = u.release;
        h.version = u.version;
        h.machine = u.machine;
    }
    h.scheduler = std::move(scheduler);

    const auto trim = [](std::string_view s) {
        while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
        while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
        return s;
    };
    // A leading decimal number of `s`; nullopt when there is none.
    const auto number = [](std::string_view s) -> std::optional<uint64_t> {
        uint64_t v = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc{} || end == s.data()) return std::nullopt;
        return v;
    };
    // hv's version, "MAJOR.MINOR" then the rest (meson's project version).
    {
        std::string_view v = HV_VERSION;
        const size_t dot = v.find('.');
        const auto major = number(v.substr(0, dot));
        if (major && dot != std::string_view::npos) {
            v.remove_prefix(dot + 1);
            const size_t end = std::min(v.find_first_not_of("0123456789"), v.size());
            if (const auto minor = number(v.substr(0, end))) {
                h.hv_major = static_cast<uint32_t>(*major);
                h.hv_minor = static_cast<uint32_t>(*minor);
                h.hv_extra = std::string(v.substr(end));
            }
        }
    }
    // A small file of /proc or /sys; "" when it cannot be read.
    const auto read = [](const fs::path& p) {
        std::ifstream f(p);
        std::ostringstream s;
        s << f.rdbuf();
        return s.str();
    };
    // A kernel CPU list ("0-3,8,10-11").
    const auto cpulist = [&](std::string_view s) {
        std::vector<uint32_t> out;
        s = trim(s);
        while (!s.empty()) {
            const size_t comma = s.find(',');
            const std::string_view range = s.substr(0, comma);
            s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
            const size_t dash = range.find('-');
            const auto lo = number(range.substr(0, dash));
            const auto hi = dash == std::string_view::npos ? lo : number(range.substr(dash + 1));
            if (!lo || !hi || *hi < *lo || *hi - *lo > 65536) break;
            for (uint64_t c = *lo; c <= *hi; ++c) out.push_back(static_cast<uint32_t>(c));
        }
        return out;
    };

    // /proc/cpuinfo's first processor: "cpu MHz", "siblings" (threads per
    // package), "cpu cores" (cores per package).
    {
        std::ifstream f("/proc/cpuinfo");
        std::string line;
        uint64_t siblings = 0, cores = 0;
        while (std::getline(f, line) && !trim(line).empty()) {
            const size_t colon = line.find(':');
            if (colon == std::string::npos) continue;
            const std::string_view key = trim(std::string_view(line).substr(0, colon));
            const std::string value(trim(std::string_view(line).substr(colon + 1)));
            if (key == "cpu MHz") {
                const double mhz = std::strtod(value.c_str(), nullptr);
                if (mhz > 0 && mhz < 1e6) h.cpu_khz = static_cast<uint32_t>(mhz * 1000 + 0.5);
            } else if (key == "siblings") siblings = number(value).value_or(0);
            else if (key == "cpu cores") cores = number(value).value_or(0);
        }
        if (cores > 0 && siblings >= cores && siblings % cores == 0) {
            h.cores_per_socket = static_cast<uint32_t>(cores);
            h.threads_per_core = static_cast<uint32_t>(siblings / cores);
        }
    }
    const fs::path cpu_dir = "/sys/devices/system/cpu";
    if (h.threads_per_core == 0) { // no such lines (not x86): CPU 0's siblings in sysfs
        const size_t threads = cpulist(read(cpu_dir / "cpu0/topology/thread_siblings_list")).size();
        const size_t package = cpulist(read(cpu_dir / "cpu0/topology/core_siblings_list")).size();
        if (threads > 0 && package >= threads && package % threads == 0) {
            h.threads_per_core = static_cast<uint32_t>(threads);
            h.cores_per_socket = static_cast<uint32_t>(package / threads);
        }
    }

    // Topology of the online CPUs, and the NUMA nodes.
    std::vector<uint32_t> online = cpulist(read(cpu_dir / "online"));
    if (online.empty())
        for (uint32_t c = 0; c < h.nr_cpus; ++c) online.push_back(c);
    std::map<uint32_t, uint32_t> node_of; // cpu -> node
    std::vector<uint32_t> node_ids;
    const fs::path node_dir = "/sys/devices/system/node";
    std::error_code ec;
    for (fs::directory_iterator it(node_dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.size() < 5 || name.rfind("node", 0) != 0) continue;
        const std::string_view digits = std::string_view(name).substr(4);
        if (digits.find_first_not_of("0123456789") != std::string_view::npos) continue;
        if (const auto id = number(digits); id && *id <= 0xffff) node_ids.push_back(static_cast<uint32_t>(*id));
    }
    std::sort(node_ids.begin(), node_ids.end());
    for (uint32_t id : node_ids) {
        const fs::path dir = node_dir / ("node" + std::to_string(id));
        sdk::HostInfo::Node node;
        node.node = id;
        for (uint32_t c : cpulist(read(dir / "cpulist"))) node_of[c] = id;
        // "Node 0 MemTotal:       16283736 kB"
        std::istringstream meminfo(read(dir / "meminfo"));
        for (std::string line; std::getline(meminfo, line);) {
            std::istringstream words(line);
            std::string node_word, n, key;
            uint64_t kib = 0;
            if (!(words >> node_word >> n >> key >> kib)) continue;
            if (key == "MemTotal:") node.total_mib = kib >> 10;
            else if (key == "MemFree:") node.free_mib = kib >> 10;
        }
        // One distance per online node, in node order.
        std::istringstream distances(read(dir / "distance"));
        uint32_t d = 0;
        for (size_t j = 0; j < node_ids.size() && distances >> d; ++j) {
            if (node.distances.size() <= node_ids[j]) node.distances.resize(node_ids[j] + 1, 0);
            node.distances[node_ids[j]] = d;
        }
        h.nodes.push_back(std::move(node));
    }
    if (h.nodes.empty()) { // a kernel without NUMA: one node holds every CPU and all memory
        h.nodes.push_back(sdk::HostInfo::Node{0, h.total_mib, h.free_mib, {10}});
        for (uint32_t c : online) node_of[c] = 0;
    }
    h.nr_nodes = static_cast<uint32_t>(h.nodes.size());
    for (uint32_t c : online) {
        const fs::path topo = cpu_dir / ("cpu" + std::to_string(c)) / "topology";
        sdk::HostInfo::Cpu cpu;
        cpu.cpu = c;
        if (const auto core = number(trim(read(topo / "core_id")))) cpu.core = static_cast<uint32_t>(*core);
        if (const auto pkg = number(trim(read(topo / "physical_package_id")))) cpu.socket = static_cast<uint32_t>(*pkg);
        if (auto it = node_of.find(c); it != node_of.end()) cpu.node = it->second;
        h.cpus.push_back(cpu);
    }
    return h;
}

namespace {

static_assert(static_cast<uint32_t>(core::ShutdownAction::destroy) == HV_CTL_ACTION_DESTROY &&
                  static_cast<uint32_t>(core::ShutdownAction::restart) == HV_CTL_ACTION_RESTART &&
                  static_cast<uint32_t>(core::ShutdownAction::preserve) == HV_CTL_ACTION_PRESERVE &&
                  static_cast<uint32_t>(core::ShutdownAction::rename_restart) == HV_CTL_ACTION_RENAME_RESTART &&
                  static_cast<uint32_t>(core::ShutdownAction::coredump_destroy) == HV_CTL_ACTION_COREDUMP_DESTROY &&
                  static_cast<uint32_t>(core::ShutdownAction::coredump_restart) == HV_CTL_ACTION_COREDUMP_RESTART &&
                  static_cast<uint32_t>(core::ShutdownAction::soft_reset) == HV_CTL_ACTION_SOFT_RESET,
              "core::ShutdownAction is the ABI's HV_CTL_ACTION_*");

// A typed DomainSpec as a DomainConfig, field for field: no xl.cfg text
// in between. What only a field can get wrong (a relative path, a NUL in
// one) is refused here; values go through check_creatable like a file's,
// and its refusals name the field through `fields`.
Result<config::DomainConfig> config_of_spec(const sdk::DomainSpec& s) {
    const auto refuse = [](const char* field, Errc code, const std::string& what) {
        return make_error(code, fmt::format("DomainSpec.{}: {}", field, what));
    };
    const std::pair<const char*, const std::string*> paths[] = {{"kernel", &s.kernel}, {"ramdisk", &s.ramdisk}};
    for (const auto& [field, path] : paths) {
        if (path->find('\0') != std::string::npos) return refuse(field, Errc::invalid_argument, "the path contains a NUL byte");
        if (!path->empty() && (*path)[0] != '/')
            return refuse(field, Errc::invalid_argument, fmt::format("'{}' is not an absolute path", *path));
    }
    if (s.name.empty()) return refuse("name", Errc::invalid_argument, "required, not set");
    if (s.kernel.empty()) return refuse("kernel", Errc::invalid_argument, "required, not set");
    const std::pair<const char*, sdk::Action> actions[] = {
        {"on_poweroff", s.on_poweroff}, {"on_reboot", s.on_reboot}, {"on_crash", s.on_crash}};
    for (const auto& [field, action] : actions)
        if (static_cast<uint32_t>(action) > HV_CTL_ACTION_SOFT_RESET)
            return refuse(field, Errc::invalid_argument,
                          fmt::format("action code {} is not one of hv's (0..{})", static_cast<uint32_t>(action),
                                      HV_CTL_ACTION_SOFT_RESET));
    config::DomainConfig c;
    c.name = s.name;
    c.uuid = s.uuid;
    c.kernel = s.kernel;
    c.ramdisk = s.ramdisk;
    c.cmdline = s.cmdline;
    c.memory_mib = s.memory_mib;
    c.vcpus = s.vcpus;
    c.actions = {static_cast<core::ShutdownAction>(s.on_poweroff), static_cast<core::ShutdownAction>(s.on_reboot),
                 static_cast<core::ShutdownAction>(s.on_crash)};
    c.fields = {{"name", "DomainSpec.name"},           {"kernel", "DomainSpec.kernel"},
                {"ramdisk", "DomainSpec.ramdisk"},     {"memory", "DomainSpec.memory_mib"},   {"vcpus", "DomainSpec.vcpus"},
                {"cmdline", "DomainSpec.cmdline"},     {"on_poweroff", "DomainSpec.on_poweroff"},
                {"on_reboot", "DomainSpec.on_reboot"}, {"on_crash", "DomainSpec.on_crash"}};
    return c;
}

} // namespace

Result<config::DomainConfig> config_of(const sdk::CreateRequest& req) {
    if (req.spec) return config_of_spec(*req.spec);
    auto cfg = config::parse_domain_config(req.config_text, req.source.empty() ? "config" : req.source, req.overrides);
    if (!cfg) return cfg.error();
    // Relative paths mean the folder the config came from (as
    // load_domain_config does for files read here), an override's too:
    // whoever sent it may be anywhere, and this process's working
    // directory means nothing to it.
    const auto dir = std::filesystem::path(req.source).parent_path();
    std::vector<std::string*> paths{&cfg->kernel, &cfg->ramdisk};
    for (config::DiskSpec& d : cfg->disks) paths.push_back(&d.target);
    for (std::string* path : paths)
        if (!path->empty() && std::filesystem::path(*path).is_relative() && !dir.empty())
            *path = (dir / *path).lexically_normal().string();
    return cfg;
}

Result<uint32_t> MonitorBackend::create(const sdk::CreateRequest& req) {
    auto cfg = config_of(req);
    if (!cfg) return cfg.error();
    auto id = m_->create(*cfg, req.paused);
    if (id && req.warn)
        for (const auto& u : cfg->unsupported) req.warn(u.warning());
    return id;
}

Result<void> MonitorBackend::shutdown(uint32_t domid, const sdk::ShutdownRequest& req) {
    if (auto r = m_->shutdown(domid, static_cast<core::ShutdownReason>(req.reason)); !r) return r;
    if (!req.wait) return {};
    auto stopped = m_->wait_stopped(domid, std::chrono::milliseconds(req.timeout_ms));
    if (stopped) return {};
    if (stopped.error().code == Errc::timed_out && req.force) return m_->destroy(domid);
    return stopped.error();
}

Result<sdk::DomainInfo> MonitorBackend::info(uint32_t domid) {
    auto i = m_->info(domid);
    if (!i) return i.error();
    return to_sdk(*i);
}

Result<std::vector<sdk::DomainInfo>> MonitorBackend::list() {
    std::vector<sdk::DomainInfo> out;
    for (const auto& i : m_->list()) out.push_back(to_sdk(i));
    return out;
}

Result<sdk::DomainInfo> MonitorBackend::wait(uint32_t domid, uint32_t timeout_ms) {
    auto i = m_->wait_stopped(domid, std::chrono::milliseconds(timeout_ms));
    if (!i) return i.error();
    return to_sdk(*i);
}

Result<sdk::HostInfo> MonitorBackend::host_info() {
    sched::SchedHost* s = m_->sched_host();
    return host_figures(static_cast<uint32_t>(m_->list().size()), s != nullptr ? core::sched::policy_name(s->policy()) : "none");
}

Result<std::unique_ptr<sdk::Subscription>> MonitorBackend::subscribe_events(std::function<void(const sdk::Event&)> fn) {
    Monitor* m = m_.get();
    const int id = m->subscribe([fn = std::move(fn)](const DomainEvent& e) { fn(to_sdk(e)); });
    return std::unique_ptr<sdk::Subscription>(new MonitorSubscription([m, id] { m->unsubscribe(id); }));
}

Result<std::unique_ptr<sdk::Subscription>> MonitorBackend::subscribe_console(uint32_t domid, sdk::ConsoleType type,
                                                                             std::function<void(std::string_view)> fn) {
    Monitor* m = m_.get();
    const Domain::ConsoleKind kind = kind_of(type);
    auto id = m->console_subscribe(domid, kind, std::move(fn), true);
    if (!id) return id.error();
    const int sub = *id;
    return std::unique_ptr<sdk::Subscription>(
        new MonitorSubscription([m, domid, kind, sub] { m->console_unsubscribe(domid, kind, sub); }));
}

} // namespace hv::control

// The SDK's embedded:// hook (declared weak in hv/sdk/connection.hpp):
// linking libhv makes embedded connections possible.
hv::Result<std::unique_ptr<hv::sdk::Backend>> hv_sdk_make_embedded_backend() {
    auto m = hv::Monitor::open();
    if (!m) return m.error();
    return std::unique_ptr<hv::sdk::Backend>(new hv::control::MonitorBackend(std::move(*m)));
}
