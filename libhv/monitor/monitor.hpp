// Monitor: the hosted monitor as a library. It owns the domain table,
// turns DomainConfigs into running Domains, carries out on_poweroff /
// on_reboot / on_crash, and is what hvctl (embedded mode) and, later, hvd
// and the SDK drive. Thread-safe; callbacks run on monitor or vCPU threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <spdlog/logger.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include "config/domain_config.hpp"
#include "core/domain_policy.hpp"
#include "core/domain_table.hpp"
#include "hv/result.hpp"
#include "monitor/domain.hpp"
#include "monitor/sched_host.hpp"
#include "platform/vm.hpp"

namespace hv {

struct DomainInfo {
    uint32_t domid = 0;
    std::string name;
    config::Uuid uuid{};
    uint64_t memory_mib = 0;
    uint32_t vcpus = 0;        // configured
    uint32_t vcpus_online = 0; // running guest code or able to
    core::DomainState state = core::DomainState::running;
    double cpu_seconds = 0;
    double uptime_seconds = 0;
    std::optional<core::ShutdownReason> shutdown_reason;
    std::string detail;   // crash detail
    bool exists = true;   // false: destroyed (the last info kept for waiters)
    uint32_t restarted_as = 0; // on_* restart: the new domain's id
};

struct DomainEvent {
    enum class Kind { created, paused, unpaused, shutdown, restarted, renamed, destroyed };
    Kind kind;
    uint32_t domid;
    std::string name;
    std::optional<core::ShutdownReason> reason; // shutdown
    uint32_t new_domid = 0;                     // restarted
    std::string detail;
};

const char* event_kind_name(DomainEvent::Kind k);

class Monitor {
public:
    struct Options {
        std::string kvm_path = "/dev/kvm"; // when `platform` is null
        // stderr log level (spdlog names); the dmesg ring keeps info and up.
        std::string log_level = "warn";
        // Where domids come from; empty: the monitor's own table counts.
        // hvd's monitor processes share one counter so ids stay unique.
        std::function<Result<uint32_t>()> domid_source;
        // Where domains' I/O share tables live (io_weight between domain
        // processes: devices/block/io_share.hpp); hv-domain passes hvd's
        // `<state-dir>/io-share`. Empty: disks are not weighted.
        std::string io_share_dir;
        // What runs the domains. Null: KVM, opened at kvm_path. Unit tests
        // pass a fake platform here.
        std::shared_ptr<hv::platform::Hypervisor> platform;
        // Who decides which vCPU threads enter the guest, and where.
        struct Sched {
            enum class Mode {
                own,      // this monitor runs a host scheduler for its domains (embedded use)
                external, // hvd's scheduler does, through `page` and `bell` (hv-domain)
                none,     // nobody: Linux schedules the vCPU threads
            };
            Mode mode = Mode::own;
            core::sched::Policy policy = core::sched::Policy::credit; // own
            core::sched::CpuMask pcpus;                               // own: empty = every CPU this process may use
            // external: the process's one page (its domains run one after
            // another) and the host's bell, both outliving the monitor.
            sched::SchedPage* page = nullptr;
            sched::SchedBell* bell = nullptr;
        };
        Sched sched;
    };

    static Result<std::unique_ptr<Monitor>> open(const Options& options);
    static Result<std::unique_ptr<Monitor>> open() { return open(Options{}); }
    ~Monitor(); // destroys every domain, joins every thread
    Monitor(const Monitor&) = delete;
    Monitor& operator=(const Monitor&) = delete;

    // Creates and starts a domain (paused: created, vCPUs held at the gate).
    // Refuses configs asking for what hv cannot do yet.
    Result<uint32_t> create(const config::DomainConfig& cfg, bool paused = false);
    Result<void> pause(uint32_t domid);
    Result<void> unpause(uint32_t domid);
    // xl vcpu-set: asks the guest to have `online` vCPUs up (1..maxvcpus);
    // it raises HV_EVENT_VCPU_TARGET and returns at once, as xl does.
    Result<void> set_vcpus(uint32_t domid, uint32_t online);
    // Asks the guest (HV_EVENT_SHUTDOWN_REQUEST) to power off or reboot.
    Result<void> shutdown(uint32_t domid, core::ShutdownReason reason);
    // Waits until the domain has stopped (state s or c, or destroyed).
    // Errc::timed_out when it is still running after `timeout`.
    Result<DomainInfo> wait_stopped(uint32_t domid, std::chrono::milliseconds timeout);
    Result<void> destroy(uint32_t domid);
    Result<void> rename(uint32_t domid, std::string_view name);

    Result<DomainInfo> info(uint32_t domid) const;
    std::vector<DomainInfo> list() const;
    // A name, or a domid in decimal.
    Result<uint32_t> lookup(std::string_view name_or_id) const;

    // Console: live output, what came before, and input. Listeners run on
    // the domain's vCPU threads: they may query the monitor but must not
    // destroy their own domain (that returns Errc::busy) or block long.
    // xl block-list: the domain's disks, in the guest's order.
    Result<std::vector<sdk::BlockInfo>> block_list(uint32_t domid) const;
    // xl network-list: the domain's vifs, in the config's order.
    Result<std::vector<sdk::VifInfo>> network_list(uint32_t domid) const;
    // A vif's transmit limit (xl.cfg rate=), changed while it runs:
    // `bytes` per `interval_us`, 0 bytes for none.
    Result<void> set_vif_rate(uint32_t domid, uint32_t devid, uint64_t bytes, uint32_t interval_us);
    // A disk's rate= / iops= limits, changed while it runs (0 lifts one).
    // Like set_vif_rate(), until the domain restarts (its config's are then used).
    Result<void> set_disk_limits(uint32_t domid, uint32_t devid, const sdk::DiskLimits& limits);
    // xl block-attach / network-attach: `spec` is one xl disk= or vif= spec
    // (the text a config's list holds; "" for a vif with every default),
    // checked by create's rules against the domain's config with it
    // added. Returns the new device's devid. The device stays for the
    // domain's life, its restarts included (libxl's semantics: the
    // domain's config is updated; hvd's stored one only when asked).
    Result<uint32_t> attach_device(uint32_t domid, sdk::DeviceKind kind, std::string_view spec);
    // xl block-detach / network-detach: `device` names it (a disk's vdev,
    // "xvdb", or devid; a vif's devid or mac). Waits up to `timeout` for
    // the guest to let go (Errc::timed_out, the request left open);
    // `force` removes it at once (Domain::detach()).
    Result<void> detach_device(uint32_t domid, sdk::DeviceKind kind, std::string_view device, bool force,
                               std::chrono::milliseconds timeout);
    // `kind`: which of the domain's consoles (Domain::console()).
    Result<int> console_subscribe(uint32_t domid, Domain::ConsoleKind kind, dev::Console::Listener fn, bool replay = false);
    void console_unsubscribe(uint32_t domid, Domain::ConsoleKind kind, int id);
    Result<std::string> console_history(uint32_t domid, Domain::ConsoleKind kind = Domain::ConsoleKind::automatic) const;
    Result<void> console_input(uint32_t domid, Domain::ConsoleKind kind, std::string_view bytes);

    // Events for every domain, in order, on the monitor's worker thread
    // (a subscriber may call the monitor, and unsubscribe, from there).
    // Returns an id for unsubscribe.
    int subscribe(std::function<void(const DomainEvent&)> fn);
    void unsubscribe(int id);

    // The host scheduler this monitor runs (Options::Sched::Mode::own);
    // null otherwise. xl sched-credit, vcpu-pin, vcpu-list act on it.
    sched::SchedHost* sched_host() { return sched_host_.get(); }

    // The monitor's log ring (hvctl dmesg).
    std::vector<std::string> dmesg() const;
    spdlog::logger& log() { return *log_; }

private:
    struct Entry {
        // shared: control calls copy it out and wait or join without the
        // monitor's lock, so a slow domain never stalls the others.
        std::shared_ptr<Domain> domain;
        config::DomainConfig config;
        bool reaped = false;       // its guest-initiated stop has been acted on
        uint32_t restarted_as = 0; // rename-restart: the domain that replaced it
    };
    struct Stopped {
        uint32_t domid;
        StopInfo info;
    };

    Monitor() = default;
    Result<uint32_t> create_locked(const config::DomainConfig& cfg, const config::Uuid& uuid, bool paused);
    Result<std::vector<VifDevice>> make_vifs(const config::DomainConfig& cfg, const config::Uuid& uuid, uint32_t domid);
    // cfg.vifs[index] made real: its TAP on its bridge, or routed.
    Result<VifDevice> make_vif(const config::DomainConfig& cfg, size_t index, const config::Uuid& uuid, uint32_t domid);
    // cfg.disks[index] opened (guest_name: as create names it).
    Result<DiskDevice> make_disk(const config::DomainConfig& cfg, size_t index);
    // A disk or vif left `domain` (Domain::on_device_gone): its config
    // forgets it, so a restart does not bring it back.
    void forget_device(uint32_t domid, const Domain* domain, Domain::DeviceKind kind, uint32_t devid);
    Result<std::shared_ptr<Domain>> domain_of(uint32_t domid) const;
    Result<void> set_paused(uint32_t domid, bool paused);
    DomainInfo info_locked(uint32_t domid, const Entry& e) const;
    void forget_locked(uint32_t domid); // after halt: table, map, gone_
    void queue_event_locked(DomainEvent ev);
    void worker_main();
    void apply_action(uint32_t domid, const StopInfo& info);
    std::string preserved_name_locked(const std::string& base) const;

    // The scheduling gate for a new domain's vCPUs (null: none), attached
    // to the own host scheduler when there is one.
    Result<std::shared_ptr<sched::SchedClient>> sched_gate_locked(const config::DomainConfig& cfg);

    std::shared_ptr<platform::Hypervisor> platform_;
    Options::Sched sched_options_;
    std::unique_ptr<sched::SchedBell> own_bell_;   // before sched_host_: it outlives it
    std::unique_ptr<sched::SchedHost> sched_host_; // Mode::own
    std::shared_ptr<sched::SchedClient> external_gate_; // Mode::external
    std::function<Result<uint32_t>()> domid_source_;
    std::string io_share_dir_;
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring_;
    std::shared_ptr<spdlog::logger> log_;

    std::mutex hotplug_mu_; // attach_device: one at a time (never held with mu_ while a domain works)
    mutable std::mutex mu_;
    std::condition_variable cv_; // domain state changes (waiters)
    core::DomainTable table_;
    std::map<uint32_t, Entry> domains_;
    std::map<uint32_t, DomainInfo> gone_; // last info of destroyed domains (the newest kGoneKept)
    std::map<std::string, core::RestartHistory> restarts_; // by config name (core::choose_action)
    bool closing_ = false;

    std::mutex sub_mu_;
    std::map<int, std::shared_ptr<std::function<void(const DomainEvent&)>>> subscribers_;
    int next_sub_ = 1;

    // One worker thread, off the vCPU threads: it acts on guest-initiated
    // stops (which means joining vCPU threads) and delivers events, in the
    // order they happened, with no monitor lock held.
    std::mutex work_mu_;
    std::condition_variable work_cv_;
    std::deque<Stopped> stops_;
    std::deque<DomainEvent> events_;
    bool worker_exit_ = false;
    std::thread worker_;
};

} // namespace hv
