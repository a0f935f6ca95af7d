// Domain: one running guest on a hosted platform (KVM, or a fake in unit
// tests): its platform::Vm, vCPU threads, devices and console. The core's
// DomainPolicy decides when a vCPU may enter the guest, what an exit
// means (resume, yield, park, go offline, stop) and whom to kick, wake or
// time; this class is its core::Platform: it carries that out with one
// thread per vCPU, a lock, a condition variable and the platform's clock,
// so the policy holds here as it will in the ring-0 image.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
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

#include "boot/kernel_loader.hpp"
#include "platform/kvm/unique_fd.hpp"
#include "config/domain_config.hpp"
#include "core/domain_services.hpp"
#include "core/domain_policy.hpp"
#include "core/platform.hpp"
#include "core/hypercall_dispatcher.hpp"
#include "core/vcpu_state.hpp"
#include "devices/acpi_pm.hpp"
#include "devices/cmos_rtc.hpp"
#include "devices/console.hpp"
#include "devices/block/block_backend.hpp"
#include "devices/io_bus.hpp"
#include "devices/io_loop.hpp"
#include "devices/pci/pci_host.hpp"
#include "devices/pci/pci_hotplug.hpp"
#include "devices/net/tap_device.hpp"
#include "devices/virtio/virtio_blk.hpp"
#include "devices/virtio/virtio_net.hpp"
#include "devices/virtio/virtio_pci.hpp"
#include "devices/pvpanic.hpp"
#include "devices/serial_16550.hpp"
#include "hv/result.hpp"
#include "hv/sdk/types.hpp"
#include "monitor/sched_client.hpp"
#include "platform/vcpu.hpp"
#include "platform/vm.hpp"

namespace hv {

// One disk as the guest will see it: a virtio-blk PCI function, in the
// order of the config's disk= list.
struct DiskDevice {
    std::unique_ptr<dev::BlockBackend> backend; // opened at create
    std::string vdev;                           // the config's name for it (xvda2, hdb, ...)
    uint32_t devid = 0;                         // Xen's number for the vdev
    std::string guest_name;                     // what the guest calls it (vda)
    dev::VirtioBlk::Limits limits;              // rate= and iops=
    std::optional<uint64_t> backing_device;     // what its bytes are on (IoShare::device_of), if known
};

// One vif: its TAP (made at create, on its bridge or routed) and what the
// guest's virtio-net device is told, in the order of the config's vif= list.
struct VifDevice {
    std::unique_ptr<dev::TapDevice> tap;
    uint32_t devid = 0;
    dev::VirtioNet::Options options; // mac, mtu, rate
    std::string bridge;              // "" when routed
    std::string script;              // vif-bridge or vif-route
    std::vector<config::Ipv4Address> ips;
};

struct DomainSpec {
    uint32_t domid = 0;
    std::string name;
    config::Uuid uuid{};
    uint64_t memory_mib = 0;
    uint32_t vcpus = 1;  // the most it may have (maxvcpus); one thread each once up
    uint32_t online = 0; // how many the guest is asked to bring up (vcpus); 0: all
    std::string cmdline;
    std::shared_ptr<const boot::ImageSource> kernel; // read into guest RAM at create
    std::shared_ptr<const boot::ImageSource> initrd; // null: none
    boot::KernelEntry kernel_entry = boot::KernelEntry::automatic;
    std::vector<DiskDevice> disks; // PC machine only
    std::vector<VifDevice> vifs;   // PC machine only
    // Where the I/O share tables are (devices/block/io_share.hpp; "": the
    // disks are not weighted against other domains') and this domain's
    // io_weight.
    std::string io_share_dir;
    uint32_t io_weight = core::qos::ShareArbiter::kDefaultWeight;
    // The host scheduler's gate for this domain's vCPUs (sched_client.hpp);
    // null: the vCPU threads are left to Linux's scheduler. Outlives the
    // Domain's vCPU threads (shared: the Domain may outlive its table entry).
    std::shared_ptr<sched::SchedClient> sched;
};

// Why a domain stopped by itself; `detail` says more for crashes.
struct StopInfo {
    core::ShutdownReason reason;
    std::string detail;
};

class Domain final : private core::DomainServices, private core::Platform {
public:
    // Called once, on a vCPU thread, when the guest stops the domain
    // (shutdown hypercall, triple fault, platform failure). It must not
    // join the domain from there: hand the work to another thread.
    using StopHandler = std::function<void(uint32_t domid, const StopInfo&)>;

    // The Vm comes from `hypervisor`; the Domain does not keep `hypervisor`.
    static Result<std::unique_ptr<Domain>> create(platform::Hypervisor& hypervisor, DomainSpec spec, StopHandler on_stop,
                                                  std::shared_ptr<spdlog::logger> log);
    ~Domain();
    Domain(const Domain&) = delete;
    Domain& operator=(const Domain&) = delete;

    // Starts the boot vCPU; with `paused`, it waits at the gate.
    void start(bool paused);
    // Returns once no vCPU is inside the guest.
    void pause();
    void unpause();
    // Asks the guest to stop: HV_EVENT_SHUTDOWN_REQUEST on hv's PV machine,
    // the ACPI power button on a PC (see pc_machine()). The guest decides.
    void request_shutdown(core::ShutdownReason reason);
    // The kernel runs on hv's PC machine (interrupt controllers, ACPI,
    // every vCPU started by the guest's INIT/SIPI) rather than hv's PV one.
    bool pc_machine() const { return pc_; }
    // xl vcpu-set: asks the guest to have `n` vCPUs online (1..max_vcpus).
    Result<void> set_vcpu_target(uint32_t n);
    uint32_t vcpu_target() const override;
    // Hard stop: no vCPU runs again; joins every vCPU thread. Not from a
    // vCPU thread. Idempotent.
    void halt();

    uint32_t domid() const override { return spec_.domid; }
    std::string name() const;
    void set_name(std::string name);
    config::Uuid uuid_bytes() const;
    void set_uuid(const config::Uuid& u);
    // True on one of this domain's vCPU threads or its I/O loop (console
    // listeners run there, and must not halt the domain).
    bool on_vcpu_thread() const;
    uint64_t memory_mib() const { return spec_.memory_mib; }
    uint32_t max_vcpus() const override { return spec_.vcpus; }
    uint32_t vcpus_online() const;
    core::DomainState state() const;
    std::optional<StopInfo> stop_info() const;
    double cpu_seconds() const;
    std::chrono::steady_clock::time_point started_at() const { return started_at_; }

    // xl console -t: the 16550 (ttyS0) or the PV console (a PC's
    // virtio-console, hvc0; on hv's PV machine the console_io hypercall
    // and the 16550 share one stream, which both names reach).
    enum class ConsoleKind : uint8_t { automatic, serial, pv };
    // `automatic`: the console the guest's command line names last
    // (console=ttyS* serial, console=hvc* pv); with no console= a PC
    // guest's is pv, as xl's for a PV guest.
    dev::Console& console(ConsoleKind kind = ConsoleKind::automatic);
    // xl block-list: its disks in the guest's order.
    std::vector<sdk::BlockInfo> block_list() const;
    // xl network-list: its vifs in the config's order.
    std::vector<sdk::VifInfo> network_list() const;
    // A vif's transmit limit, changed while it runs (0 bytes: none).
    Result<void> set_vif_rate(uint32_t devid, uint64_t bytes, uint32_t interval_us);
    // A disk's rate= and iops= limits, changed while it runs.
    Result<void> set_disk_limits(uint32_t devid, const dev::VirtioBlk::Limits& limits);

    // Hotplug (xl block-attach, network-attach) on a PC guest: the device
    // takes the lowest free PCI slot and the guest is told (ACPI PCI
    // hotplug: a GPE, then its acpiphp scans the slot). Returns once the
    // device is on the bus; the guest's driver binds it in its own time
    // (block-list and network-list show when).
    Result<void> attach_disk(DiskDevice disk);
    Result<void> attach_vif(VifDevice vif);
    // xl block-detach / network-detach: `name` is a disk's vdev or devid,
    // a vif's devid or mac. The guest is asked to let go (an ACPI eject
    // request) and the device goes when it has (its _EJ0), within
    // `timeout`; else Errc::timed_out and the request stays open. `force`
    // removes it at once, whatever the guest is doing with it (a surprise
    // removal; the guest is then told to check the slot). Returns the
    // device's devid.
    enum class DeviceKind : uint8_t { disk, vif };
    Result<uint32_t> detach(DeviceKind kind, std::string_view name, bool force, std::chrono::milliseconds timeout);
    // Called once a disk or vif has left the domain, however it went (a
    // detach, a forced one, the guest ejecting it by itself), from the
    // thread that removed it (a vCPU's for the guest's eject). Before start().
    using DeviceGone = std::function<void(DeviceKind, uint32_t devid)>;
    void on_device_gone(DeviceGone fn) { on_device_gone_ = std::move(fn); }

private:
    struct Vcpu {
        std::unique_ptr<platform::Vcpu> cpu; // what runs it
        std::thread thread;                 // from its first start; waits while it is offline
        uint64_t timer_ns = core::kNoDeadline; // the policy's one-shot timer (under mu_)
        // Where its thread waits (gate, park, offline): a wake-up is for
        // this vCPU alone, however many others a domain has.
        std::unique_ptr<std::condition_variable> cv = std::make_unique<std::condition_variable>();
    };

    Domain(DomainSpec spec, StopHandler on_stop, std::shared_ptr<spdlog::logger> log);

    // The vCPU thread: asks the core's policy before every entry and after
    // every exit, and does what it says.
    void vcpu_main(uint32_t id);
    core::Step handle_exit(uint32_t id, const platform::VcpuExit& exit);
    void take_device_stop(core::Step& step);
    void drain_queued_ports();
    Result<void> watch_queued_ports();
    // Sleeps until the policy lets a parked vCPU go on; false when the
    // domain stops. `slot`: the call slot of a block to complete.
    bool park(uint32_t id, uint64_t slot);
    // After Step::offline: waits until the vCPU is started again (true) or
    // the domain stops (false).
    bool wait_offline(uint32_t id);
    // After the policy's first stop: log, tell the owner.
    void announce_stop(StopInfo info);
    // The PC machine's devices, firmware tables and boot vCPUs.
    Result<void> build_pc_machine();
    Result<void> add_pci_devices();
    // One virtio device into the lowest free slot (its number in `slot`),
    // its kicks and `fds` (a TAP, a timer: each calls the transport's
    // poll()) served on io_loop_, `quiet_fd` (one of `fds`, or -1) not
    // watched until the device asks. The caller records it, then tells
    // hotplug_ (announcing it, or not at boot). Under hotplug_mu_ once the
    // domain runs.
    Result<dev::VirtioPci*> plug(std::unique_ptr<core::virtio::VirtioDevice> device, std::string name, std::vector<int> fds,
                                 int quiet_fd, uint32_t& slot);
    Result<void> add_disk(DiskDevice disk, bool announce);
    Result<void> add_vif(VifDevice vif, bool announce);
    // Takes the device in `slot` (a disk or vif) off the bus and frees it;
    // `tell_guest`: it went without the guest's consent. Takes hotplug_mu_.
    void unplug(uint32_t slot, bool tell_guest);
    // The guest let go of the devices in `slots` (a bit each), on a vCPU thread.
    void guest_ejected(uint32_t slots);
    // A device asked for a stop during this exit (ACPI poweroff or reset,
    // a pvpanic report); the exit's handler carries it out.
    void device_request(dev::AcpiPm::Request r);
    void device_stop(core::ShutdownReason reason);
    void start_vcpu_locked(uint32_t id);
    // The host scheduler's gate for this domain's vCPU threads, or null.
    // A PC guest's vCPUs idle inside KVM (HLT with the in-kernel LAPIC, an
    // AP waiting for SIPI) where the gate cannot see it, so they would hold
    // their grant while idle: they are left to Linux's scheduler until
    // that idleness can be observed.
    sched::SchedClient* sched_gate() const { return pc_ ? nullptr : spec_.sched.get(); }

    // core::Platform (called by policy_ under mu_)
    uint64_t now_ns() const override { return clock_->now_ns(); }
    void kick(uint32_t vcpu) override;
    void wake(uint32_t vcpu) override;
    void set_timer(uint32_t vcpu, uint64_t deadline_ns) override { vcpus_[vcpu].timer_ns = deadline_ns; }

    // core::DomainServices
    void uuid(uint8_t out[16]) const override;
    void console_write(const uint8_t* data, uint32_t len) override;
    uint32_t console_read(uint8_t* dst, uint32_t len) override;
    bool vcpu_is_up(uint32_t vcpu) const override;
    int64_t vcpu_up(uint32_t caller, const hv_vcpu_up_t& req) override;
    void bad_call(uint32_t vcpu, uint32_t group, uint32_t op, int64_t result, const char* why) override;

    DomainSpec spec_;
    StopHandler on_stop_;
    std::shared_ptr<spdlog::logger> log_;
    std::shared_ptr<const platform::Clock> clock_;
    std::unique_ptr<platform::Vm> vm_; // before vcpus_, so they are destroyed first
    std::unique_ptr<core::HypercallDispatcher> dispatcher_;
    dev::Console console_;    // the 16550's (and the console_io hypercall's)
    dev::Console pv_console_; // the PC's virtio-console (hvc0)
    ConsoleKind default_console_ = ConsoleKind::serial;
    dev::Serial16550 serial_{console_};
    dev::IoBus io_bus_; // written at create, read-only after: no lock needed
    bool pc_ = false;
    dev::CmosRtc rtc_;
    std::unique_ptr<dev::AcpiPm> acpi_pm_;
    std::unique_ptr<dev::AcpiPm::ResetRegister> reset_reg_;
    std::unique_ptr<dev::PvPanic> pvpanic_;
    std::unique_ptr<dev::AcpiPm::Gpe0Block> gpe0_;
    std::unique_ptr<dev::PciHost> pci_host_;
    std::unique_ptr<dev::PciHotplug> hotplug_;
    std::atomic<bool> devices_stop_{false}; // halt(): device work a kick started ends early
    kvm::UniqueFd port_drain_timer_;        // a timerfd on io_loop_ while ports are queued (outlives the loop)
    std::mutex halt_mu_;                    // halt() joins threads: one caller at a time
    dev::VirtioPci* pv_console_device_ = nullptr;              // among functions_ (never unplugged)

    // The PCI functions, and what the control plane knows of the disks
    // and vifs among them, under dev_mu_ (hotplug changes them while the
    // guest runs). A vCPU reaches a function through pci_host_, the I/O
    // loop through its watches; unplug() cuts both before freeing it.
    struct Function {
        std::unique_ptr<dev::VirtioPci> pci;
        uint32_t slot = 0;
        uint64_t serial = 0;  // never reused: a detach waits for this one to go
        std::vector<int> fds; // watched on io_loop_ besides its kicks
    };
    struct Disk {
        dev::VirtioPci* device; // among functions_
        dev::VirtioBlk* blk;
        std::string vdev, guest_name;
        uint32_t devid;
        uint32_t slot;
    };
    struct Vif {
        dev::VirtioPci* device; // among functions_
        dev::VirtioNet* net;
        uint32_t devid;
        std::string bridge, script;
        std::vector<config::Ipv4Address> ips;
        uint32_t slot;
    };
    const Function* function_locked(uint32_t slot) const;
    // The domain's share of the device `disk` is on, made at its first
    // disk there and shared by the others (null: not weighted; a failure
    // is logged, and the disk works unweighted).
    std::shared_ptr<dev::IoShare> share_for(const DiskDevice& disk);
    std::map<uint64_t, std::weak_ptr<dev::IoShare>> shares_; // under dev_mu_
    mutable std::mutex dev_mu_;
    std::condition_variable unplugged_cv_; // a function went (or the domain is halting)
    std::vector<Function> functions_;
    std::vector<Disk> disks_;
    std::vector<Vif> vifs_;
    uint64_t next_serial_ = 1;
    std::vector<uint64_t> going_; // serials being unplugged: off the bus, not yet freed
    bool halting_ = false;
    // Attaches and unplugs one at a time: a slot is chosen, then filled
    // and recorded, before a guest's eject can empty it.
    std::mutex hotplug_mu_;
    DeviceGone on_device_gone_;
    // After the devices: destroyed first (halt() has stopped it already),
    // so no handler outlives what it serves.
    dev::IoLoop io_loop_; // serves the virtio devices' queues (stopped by halt())

    mutable std::mutex mu_;
    std::condition_variable left_cv_; // a vCPU left the guest (pause() waits for quiescence)
    std::vector<Vcpu> vcpus_;
    // Who may run, who is parked, which events are pending, what a stop
    // means: the core's decisions, carried out here under mu_.
    core::DomainPolicy policy_;
    std::optional<StopInfo> stop_info_;
    // PC machine: a stop a device asked for, taken by the next I/O exit
    // handled (the one that caused it, or another vCPU's: the stop is the
    // domain's either way); and whether the control plane's last request was a reboot (a
    // guest powering off after it is reported as a reboot: ACPI has no
    // reboot button).
    std::optional<core::ShutdownReason> device_stop_;
    std::atomic<bool> device_stop_pending_{false}; // device_stop_ is set (read without mu_)
    bool queued_ports_ = false; // the platform queues PCI configuration address writes (set before the vCPUs run)
    bool reboot_requested_ = false;
    double exited_cpu_seconds_ = 0;
    std::atomic<uint32_t> bad_calls_{0};
    std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
};

} // namespace hv
