#include "monitor/domain.hpp"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <pthread.h>

#include <cctype>
#include <sched.h>
#include <time.h>

#include <fmt/format.h>

#include "boot/linux64_loader.hpp"
#include "core/acpi/acpi_tables.hpp"
#include "devices/virtio/virtio_blk.hpp"
#include "devices/virtio/virtio_console.hpp"
#include "core/memory_map.hpp"
#include "platform/thread_name.hpp"

namespace hv {

namespace {

// Past this many refused hypercalls a domain's further ones are counted,
// not logged, so a misbehaving guest cannot flood the log.
constexpr uint32_t kBadCallLogLimit = 64;

double thread_cpu_seconds(clockid_t clock) {
    timespec ts{};
    if (::clock_gettime(clock, &ts) != 0) return 0;
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The console Linux makes /dev/console: the last console= on its command
// line; hvc0 when there is none (a PC guest's PV console, as xl's default
// for a PV guest).
Domain::ConsoleKind default_console_of(const std::string& cmdline) {
    Domain::ConsoleKind kind = Domain::ConsoleKind::pv;
    for (size_t pos = 0; (pos = cmdline.find("console=", pos)) != std::string::npos; pos += 8) {
        if (pos != 0 && std::isspace(static_cast<unsigned char>(cmdline[pos - 1])) == 0) continue;
        const std::string_view name = std::string_view(cmdline).substr(pos + 8);
        if (name.substr(0, 4) == "ttyS") kind = Domain::ConsoleKind::serial;
        else if (name.substr(0, 3) == "hvc") kind = Domain::ConsoleKind::pv;
    }
    return kind;
}

} // namespace

Domain::Domain(DomainSpec spec, StopHandler on_stop, std::shared_ptr<spdlog::logger> log)
    : spec_(std::move(spec)), on_stop_(std::move(on_stop)), log_(std::move(log)) {}

Result<std::unique_ptr<Domain>> Domain::create(platform::Hypervisor& hypervisor, DomainSpec spec, StopHandler on_stop,
                                               std::shared_ptr<spdlog::logger> log) {
    if (spec.vcpus == 0) return make_error(Errc::invalid_argument, "a domain needs at least one vCPU");
    if (!spec.kernel) return make_error(Errc::invalid_argument, "no kernel image");
    std::unique_ptr<Domain> d(new Domain(std::move(spec), std::move(on_stop), std::move(log)));
    d->clock_ = hypervisor.clock();
    // The kernel chooses the machine: hv's PV one for kernels that say
    // they speak hv's ABI, a PC for every other (stock Linux).
    d->pc_ = !boot::speaks_hv_abi(*d->spec_.kernel);
    const uint32_t online = d->spec_.online == 0 ? d->spec_.vcpus : d->spec_.online;
    if (d->pc_ && (d->spec_.memory_mib << 20) > core::kMaxPcRam)
        return make_error(Errc::invalid_argument, fmt::format("domain {}: {} MiB of RAM: a PC guest has at most {} MiB so far",
                                                              d->name(), d->spec_.memory_mib, core::kMaxPcRam >> 20));
    if (d->pc_ && online != d->spec_.vcpus)
        return make_error(Errc::not_supported, fmt::format("domain {}: {} of {} vCPUs online: a PC guest's vCPUs are all online "
                                                           "(maxvcpus above vcpus needs ACPI CPU hotplug, not done yet)",
                                                           d->name(), online, d->spec_.vcpus));
    if (!d->pc_ && !d->spec_.disks.empty())
        return make_error(Errc::not_supported, fmt::format("domain {}: disks need a stock kernel (hv's PC machine); this kernel "
                                                           "speaks hv's own ABI, which has no block device",
                                                           d->name()));
    if (!d->pc_ && !d->spec_.vifs.empty())
        return make_error(Errc::not_supported, fmt::format("domain {}: vifs need a stock kernel (hv's PC machine); this kernel "
                                                           "speaks hv's own ABI, which has no network device",
                                                           d->name()));
    auto vm = hypervisor.create_vm(d->spec_.memory_mib << 20);
    if (!vm) return vm.error();
    d->vm_ = std::move(*vm);
    if (d->pc_) {
        if (auto r = d->build_pc_machine(); !r) return make_error(r.error().code, fmt::format("domain {}: {}", d->name(), r.error().message));
    }

    boot::BootRequest req{d->spec_.cmdline, {}, d->pc_ ? core::kFirmwareBase : 0};
    req.initrd = d->spec_.initrd.get();
    auto boot = boot::load_kernel(*d->spec_.kernel, req, d->spec_.kernel_entry, d->vm_->ram());
    // Loaded: the files are not needed again (a restart opens them anew),
    // so their fds are not held for the domain's life.
    d->spec_.kernel.reset();
    d->spec_.initrd.reset();
    if (!boot) return make_error(boot.error().code, fmt::format("domain {}: {}", d->name(), boot.error().message));
    // The machine was chosen from the file; what was loaded must agree (a
    // bzImage whose payload claims hv's ABI, or an ELF that also looks
    // like a bzImage, is refused rather than run on the wrong machine).
    if (boot->hv_abi == d->pc_)
        return make_error(Errc::bad_image, fmt::format("domain {}: the kernel loaded {} hv's ABI note but the file {}", d->name(),
                                                       boot->hv_abi ? "carries" : "lacks", boot->hv_abi ? "does not" : "does"));

    if (!d->policy_.init(*d, d->spec_.vcpus, d->spec_.online))
        return make_error(Errc::invalid_argument, fmt::format("{} vCPUs ({} online): at most {}, and online within 1..vCPUs",
                                                              d->spec_.vcpus, d->spec_.online, core::kMaxDomainVcpus));
    d->vcpus_.resize(d->spec_.vcpus);
    for (uint32_t i = 0; i < d->spec_.vcpus; ++i) {
        auto v = d->vm_->create_vcpu(i);
        if (!v) return v.error();
        d->vcpus_[i].cpu = std::move(*v);
    }
    if (boot->mode == boot::BootInfo::Mode::linux64) {
        const platform::LongModeEntry e{boot->entry, boot->start_info, boot::kBootPml4Gpa, boot::kBootGdtGpa, 4 * 8 - 1,
                                        boot::kBootCodeSelector, boot::kBootDataSelector};
        if (auto r = d->vcpus_[0].cpu->set_long_mode_entry(e); !r) return r.error();
    } else if (auto r = d->vcpus_[0].cpu->set_pvh_entry(boot->entry, boot->start_info); !r) {
        return r.error();
    }
    if (auto r = d->io_bus_.attach(dev::Serial16550::kCom1Base, dev::Serial16550::kPorts, &d->serial_); !r) return r.error();
    d->dispatcher_ = std::make_unique<core::HypercallDispatcher>(d->vm_->ram(), static_cast<core::DomainServices&>(*d));
    Domain* self = d.get();
    d->default_console_ = d->pc_ ? default_console_of(d->spec_.cmdline) : ConsoleKind::serial;
    d->pv_console_.set_input_notify([self] {
        if (self->pv_console_device_ != nullptr) self->pv_console_device_->poll();
    });
    d->console_.set_input_notify([self] {
        if (self->pc_) {
            self->serial_.input_arrived();
            return;
        }
        std::lock_guard lock(self->mu_);
        self->policy_.raise(HV_EVENT_CONSOLE_INPUT);
    });
    return d;
}

Result<void> Domain::build_pc_machine() {
    if (auto r = vm_->add_pc_interrupts(); !r) return r.error();
    core::acpi::MachineDescription m;
    m.nr_cpus = spec_.vcpus;
    const core::GuestRam& ram = vm_->ram();
    const uint64_t room = core::kFirmwareEnd - core::kFirmwareBase;
    const core::acpi::Built built = core::acpi::build_tables(m, ram.at(core::kFirmwareBase, room), static_cast<uint32_t>(room),
                                                             core::kFirmwareBase);
    if (built.rsdp_gpa != core::kFirmwareBase) return make_error(Errc::invalid_argument, "the ACPI tables do not fit");

    platform::Vm* vm = vm_.get();
    const auto line = [vm, this](uint32_t gsi) {
        return [vm, gsi, this](bool level) {
            if (auto r = vm->set_irq_line(gsi, level); !r) log_->warn("domain {}: IRQ {}: {}", spec_.domid, gsi, r.error().message);
        };
    };
    serial_.connect_irq(line(dev::Serial16550::kCom1Irq));
    acpi_pm_ = std::make_unique<dev::AcpiPm>([this](dev::AcpiPm::Request r) { device_request(r); }, line(core::acpi::kSciIrq));
    reset_reg_ = std::make_unique<dev::AcpiPm::ResetRegister>(*acpi_pm_);
    pvpanic_ = std::make_unique<dev::PvPanic>([this] { device_stop(core::ShutdownReason::crash); });
    if (auto r = io_bus_.attach(dev::CmosRtc::kBase, dev::CmosRtc::kPorts, &rtc_); !r) return r.error();
    if (auto r = io_bus_.attach(core::acpi::kPm1EvtPort, core::acpi::kPmPorts, acpi_pm_.get()); !r) return r.error();
    gpe0_ = std::make_unique<dev::AcpiPm::Gpe0Block>(*acpi_pm_);
    if (auto r = io_bus_.attach(core::acpi::kGpe0Port, core::acpi::kGpe0Ports, gpe0_.get()); !r) return r.error();
    hotplug_ = std::make_unique<dev::PciHotplug>([this] { acpi_pm_->raise_gpe(core::acpi::kGpePciHotplug); },
                                                 [this](uint32_t slots) { guest_ejected(slots); });
    if (auto r = io_bus_.attach(core::acpi::kPciHotplugPort, dev::PciHotplug::kPorts, hotplug_.get()); !r) return r.error();
    // The reset register at 0xcf9 sits inside the PCI configuration ports:
    // the host bridge hands its byte accesses on.
    static_assert(core::acpi::kResetPort == dev::PciHost::kPortBase + 1);
    pci_host_ = std::make_unique<dev::PciHost>(reset_reg_.get());
    if (auto r = io_bus_.attach(dev::PciHost::kPortBase, dev::PciHost::kPorts, pci_host_.get()); !r) return r.error();
    // The configuration address register only matters at the next data
    // access, so its writes may wait in the platform: Linux's early scan of
    // all 256 buses (the AMD GART probe, on AMD family 0xf CPUs such as
    // QEMU's TCG "max") then costs 8 K exits instead of 16 K, seconds of
    // boot under nested KVM. QEMU queues the same port. Queued writes are
    // applied on the next exit of any vCPU (handle_exit), so the reset
    // byte at 0xcf9, which sits in the same dword, acts at the guest's next
    // exit: Linux follows it with other reset methods that exit at once.
    if (auto r = vm_->queue_port_writes(dev::PciHost::kPortBase, 4); r) {
        queued_ports_ = true;
        if (auto w = watch_queued_ports(); !w) return w.error();
    } else if (r.error().code != Errc::not_supported) {
        return r.error();
    }
    static_assert(dev::PvPanic::kPort == core::acpi::kPvPanicPort);
    if (auto r = io_bus_.attach(dev::PvPanic::kPort, 1, pvpanic_.get()); !r) return r.error();
    return add_pci_devices();
}

dev::Console& Domain::console(ConsoleKind kind) {
    if (kind == ConsoleKind::automatic) kind = default_console_;
    return pc_ && kind == ConsoleKind::pv ? pv_console_ : console_;
}

void Domain::device_request(dev::AcpiPm::Request r) {
    bool reboot = r == dev::AcpiPm::Request::reset;
    {
        std::lock_guard lock(mu_);
        reboot = reboot || reboot_requested_;
    }
    device_stop(reboot ? core::ShutdownReason::reboot : core::ShutdownReason::poweroff);
}

// The first request of an exit wins (a panic report is not overwritten by
// the reset that a panicking kernel may try next, nor the other way).
void Domain::device_stop(core::ShutdownReason reason) {
    std::lock_guard lock(mu_);
    if (!device_stop_) device_stop_ = reason;
    device_stop_pending_.store(true, std::memory_order_release);
}

Domain::~Domain() { halt(); }

void Domain::start(bool paused) {
    std::lock_guard lock(mu_);
    if (paused) policy_.pause();
    started_at_ = std::chrono::steady_clock::now();
    // On a PC every vCPU's thread starts now: the others wait inside the
    // platform for the guest's INIT/SIPI, as on hardware.
    const uint32_t n = pc_ ? spec_.vcpus : 1;
    io_loop_.set_name(fmt::format("d{}.io", spec_.domid));
    if (auto r = io_loop_.start(); !r) log_->error("domain {}: {} (its devices will not answer)", spec_.domid, r.error().message);
    for (uint32_t i = 0; i < n; ++i) start_vcpu_locked(i);
}

// A vCPU's thread starts with its first start and stays (waiting while the
// vCPU is offline) until the domain stops, so vcpu_op down and up only
// move it in and out of the run loop.
void Domain::start_vcpu_locked(uint32_t id) {
    if (!policy_.start(id)) return;
    if (!vcpus_[id].thread.joinable()) vcpus_[id].thread = std::thread([this, id] { vcpu_main(id); });
}

void Domain::kick(uint32_t vcpu) { vcpus_[vcpu].cpu->kick(); }

// The vCPU's own condition variable (it re-checks with the policy); one
// waiting for the host scheduler's grant is interrupted too.
void Domain::wake(uint32_t vcpu) {
    if (spec_.sched != nullptr) spec_.sched->interrupt(vcpu);
    vcpus_[vcpu].cv->notify_all();
}

void Domain::pause() {
    std::unique_lock lock(mu_);
    if (policy_.stopping()) return;
    policy_.pause();
    // A kicked vCPU leaves the guest within one exit; wait so that "paused"
    // means no guest code runs (xl pause semantics).
    left_cv_.wait(lock, [this] { return policy_.quiescent() || policy_.stopping(); });
}

void Domain::unpause() {
    std::lock_guard lock(mu_);
    policy_.unpause();
}

void Domain::request_shutdown(core::ShutdownReason reason) {
    if (pc_) {
        {
            std::lock_guard lock(mu_);
            reboot_requested_ = reason == core::ShutdownReason::reboot;
        }
        acpi_pm_->press_power_button();
        return;
    }
    std::lock_guard lock(mu_);
    policy_.raise(HV_EVENT_SHUTDOWN_REQUEST, static_cast<uint32_t>(reason));
}

Result<void> Domain::set_vcpu_target(uint32_t n) {
    std::lock_guard lock(mu_);
    if (policy_.stopping())
        return make_error(Errc::invalid_argument, fmt::format("domain {} ({}) is stopping", spec_.domid, spec_.name));
    if (pc_)
        return make_error(Errc::not_supported, fmt::format("domain {} ({}): vcpu-set on a PC guest needs ACPI CPU hotplug, "
                                                           "which hv does not offer yet", spec_.domid, spec_.name));
    // The policy holds the rule (1..its vCPUs); this only words the refusal.
    if (!policy_.set_target(n))
        return make_error(Errc::invalid_argument, fmt::format("domain {} ({}): {} vCPUs online: the range is 1..{} (its maxvcpus)",
                                                              spec_.domid, spec_.name, n, policy_.nr_vcpus()));
    return {};
}

uint32_t Domain::vcpu_target() const {
    std::lock_guard lock(mu_);
    return policy_.target();
}

void Domain::halt() {
    // destroy and a stop action may halt at once: one joins, the other waits.
    std::lock_guard halting(halt_mu_);
    {
        std::lock_guard lock(mu_);
        policy_.stop(core::ShutdownReason::poweroff, false); // dying, unless the guest stopped it first
    }
    devices_stop_.store(true, std::memory_order_relaxed); // the I/O loop inside a device's work comes out
    {
        std::lock_guard lock(dev_mu_); // a detach waiting for the guest gives up
        halting_ = true;
    }
    unplugged_cv_.notify_all();
    for (Vcpu& v : vcpus_)
        if (v.thread.joinable()) v.thread.join();
    io_loop_.stop();
}

void Domain::announce_stop(StopInfo info) {
    {
        std::lock_guard lock(mu_);
        stop_info_ = info;
    }
    log_->info("domain {} ({}): {}{}{}", spec_.domid, name(), core::reason_name(info.reason),
               info.detail.empty() ? "" : ": ", info.detail);
    if (on_stop_) on_stop_(spec_.domid, info);
}

void Domain::vcpu_main(uint32_t id) {
    name_this_thread(fmt::format("d{}.vcpu{}", spec_.domid, id));
    platform::Vcpu& vcpu = *vcpus_[id].cpu;
    {
        std::lock_guard lock(mu_);
        vcpu.bind_thread();
    }
    sched::SchedClient* const gate = sched_gate();
    if (gate != nullptr) gate->online(id, true);
    const auto held = [&] {
        std::lock_guard lock(mu_);
        return policy_.stopping() || !policy_.may_enter(id);
    };
    for (;;) {
        {
            std::unique_lock lock(mu_);
            if (gate != nullptr && !policy_.stopping() && !policy_.may_enter(id)) {
                lock.unlock();
                gate->want(id, false); // paused: it wants no pCPU
                lock.lock();
            }
            vcpus_[id].cv->wait(lock, [&] { return policy_.stopping() || policy_.may_enter(id); });
            if (policy_.stopping()) break;
        }
        // The host scheduler decides whether it enters now and where.
        if (gate != nullptr && gate->acquire(id, held) == sched::SchedClient::Entry::interrupted) continue;
        {
            std::lock_guard lock(mu_);
            if (policy_.stopping()) break;
            if (!policy_.may_enter(id)) continue;
            policy_.enter(id);
        }
        // The vCPU counts as running until its exit is handled: pause()
        // then means no guest-visible progress, not only "out of the guest".
        const platform::VcpuExit exit = vcpu.run();
        const core::Step step = handle_exit(id, exit);
        bool keep_running = step.kind != core::Step::Kind::stop;
        if (step.kind == core::Step::Kind::park) {
            if (gate != nullptr) gate->want(id, false); // blocked: its pCPU goes to others
            keep_running = park(id, std::holds_alternative<platform::IoExit>(exit) ? vcpu.rax() : 0);
        }
        {
            std::lock_guard lock(mu_);
            policy_.leave(id);
            left_cv_.notify_all(); // pause() waits for vCPUs to leave the guest
        }
        if (step.kind == core::Step::Kind::offline) {
            if (!wait_offline(id)) break;
            continue;
        }
        if (step.kind == core::Step::Kind::yield) {
            if (gate != nullptr && gate->host_present()) gate->yield(id);
            else ::sched_yield();
        }
        if (!keep_running) break;
    }
    if (gate != nullptr) gate->online(id, false);
    std::lock_guard lock(mu_);
    vcpu.unbind_thread();
    exited_cpu_seconds_ += thread_cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    policy_.retire(id);
    left_cv_.notify_all();
}

core::Step Domain::handle_exit(uint32_t id, const platform::VcpuExit& exit) {
    platform::Vcpu& vcpu = *vcpus_[id].cpu;
    core::Step step;
    // Port writes the platform queued come first: the guest made them
    // before whatever caused this exit. One that asked for a stop (the
    // reset byte at 0xcf9) ends the run before the exit is handled: a
    // triple fault after it is the reboot the guest asked for, not a crash.
    if (queued_ports_) {
        drain_queued_ports();
        take_device_stop(step);
        if (step.kind == core::Step::Kind::stop) return step;
    }
    if (const auto* io = std::get_if<platform::IoExit>(&exit)) {
        if (!pc_ && core::is_hypercall_exit(io->port, io->size, io->write, io->count)) {
            const core::CallOutcome out = dispatcher_->dispatch(id, vcpu.rax());
            {
                std::lock_guard lock(mu_);
                step = policy_.on_call(id, out);
            }
            if (step.kind == core::Step::Kind::resume || step.kind == core::Step::Kind::yield)
                vcpu.set_rax(static_cast<uint64_t>(step.result));
            if (step.first_stop) announce_stop(StopInfo{out.reason, {}});
            return step;
        }
        for (uint32_t k = 0; k < io->count; ++k) {
            uint8_t* data = io->data + size_t{k} * io->size;
            const bool claimed = io->write ? io_bus_.write(io->port, data, io->size) : io_bus_.read(io->port, data, io->size);
            if (!claimed) log_->debug("domain {} vcpu {}: unclaimed port {:#x}", spec_.domid, id, io->port);
        }
        take_device_stop(step);
    } else if (const auto* mmio = std::get_if<platform::MmioExit>(&exit)) {
        // The PCI bus (ECAM, BARs) is the only MMIO there is; built before
        // the vCPUs started, its devices come and go under its own locks
        // (hotplug).
        if (pci_host_ == nullptr || !pci_host_->mmio(mmio->addr, mmio->data, mmio->size, mmio->write)) {
            if (!mmio->write) std::fill(mmio->data, mmio->data + mmio->size, uint8_t{0xff});
            log_->debug("domain {} vcpu {}: unclaimed MMIO {:#x}", spec_.domid, id, mmio->addr);
        }
        take_device_stop(step); // a queued write to the reset register lands on any exit
    } else if (std::holds_alternative<platform::HltExit>(exit)) {
        std::lock_guard lock(mu_);
        step = policy_.on_halt(id);
    } else if (std::holds_alternative<platform::ShutdownExit>(exit) || std::holds_alternative<platform::FailedExit>(exit)) {
        {
            std::lock_guard lock(mu_);
            step = policy_.on_fault(id);
        }
        const auto* failed = std::get_if<platform::FailedExit>(&exit);
        if (step.first_stop) {
            // What the vCPU was doing when it died: for the log only (the
            // stop's detail stays short for hvctl and the SDK).
            const std::string where = vcpu.state_summary();
            if (!where.empty()) log_->warn("domain {} vcpu {} died at {}", spec_.domid, id, where);
            announce_stop(StopInfo{core::ShutdownReason::crash,
                                   failed != nullptr ? fmt::format("vcpu {}: {}", id, failed->what)
                                                     : fmt::format("vcpu {} triple fault", id)});
        }
    }
    return step;
}

void Domain::drain_queued_ports() {
    vm_->drain_port_writes([this](const platform::Vm::PortWrite& w) { io_bus_.write(w.port, w.data, w.size); });
}

// Queued port writes are drained at every exit, but a PC guest's vCPUs may
// not exit for a long time (HLT waits inside KVM): a reset written to 0xcf9
// and followed by `cli; hlt` would never be seen. So the I/O loop drains
// too, every 100 ms, and kicks the vCPUs out of the guest when a drained
// write asked for a stop (they take it at the top of handle_exit).
Result<void> Domain::watch_queued_ports() {
    port_drain_timer_ = kvm::UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!port_drain_timer_.valid()) return make_error(Errc::io_error, fmt::format("timerfd_create: {}", std::strerror(errno)));
    itimerspec every{};
    every.it_interval.tv_nsec = every.it_value.tv_nsec = 100'000'000;
    if (::timerfd_settime(port_drain_timer_.get(), 0, &every, nullptr) != 0)
        return make_error(Errc::io_error, fmt::format("timerfd_settime: {}", std::strerror(errno)));
    return io_loop_.watch(port_drain_timer_.get(), [this] {
        uint64_t expired = 0;
        if (::read(port_drain_timer_.get(), &expired, sizeof expired) < 0) return; // EAGAIN: nothing expired
        drain_queued_ports();
        if (device_stop_pending_.load(std::memory_order_acquire))
            for (uint32_t i = 0; i < vcpus_.size(); ++i) kick(i);
    });
}

// A stop a device asked for (reset register, ACPI sleep, pvpanic) ends
// the vCPU's run here. Device exits are the hot path (every UART byte):
// the domain lock is taken only when a device did ask.
void Domain::take_device_stop(core::Step& step) {
    if (!device_stop_pending_.load(std::memory_order_acquire)) return;
    std::optional<core::ShutdownReason> asked;
    bool first = false;
    {
        std::lock_guard lock(mu_);
        asked.swap(device_stop_);
        device_stop_pending_.store(false, std::memory_order_relaxed);
        if (asked) first = policy_.stop(*asked, true);
    }
    if (!asked) return;
    step.kind = core::Step::Kind::stop;
    step.first_stop = first;
    if (first) announce_stop(StopInfo{*asked, *asked == core::ShutdownReason::crash ? "the guest kernel panicked (pvpanic)" : ""});
}

// The policy re-checks on every wake-up (a raise, unpause, stop, or its
// timer): a wake-up meant for another vCPU, or a spurious one, parks it
// again. A block it lets go is completed in the guest's slot.
bool Domain::park(uint32_t id, uint64_t slot) {
    std::unique_lock lock(mu_);
    left_cv_.notify_all(); // pause() waits for vCPUs to leave the running state
    uint64_t& timer = vcpus_[id].timer_ns;
    for (;;) {
        const core::Wake w = policy_.check(id);
        if (w.kind == core::Wake::Kind::stop) return false;
        if (w.kind == core::Wake::Kind::resume) {
            lock.unlock();
            if (w.finish_block)
                vcpus_[id].cpu->set_rax(static_cast<uint64_t>(dispatcher_->finish_block(slot, w.events, w.request)));
            return true;
        }
        clock_->wait_until(*vcpus_[id].cv, lock, timer);
        // One-shot: once it has fired (the policy was told, above or on the
        // next round), it is spent, so a paused domain does not spin on it.
        if (timer != core::kNoDeadline && clock_->now_ns() >= timer) {
            timer = core::kNoDeadline;
            continue; // check() sees the deadline passed
        }
    }
}

bool Domain::wait_offline(uint32_t id) {
    sched::SchedClient* const gate = sched_gate();
    if (gate != nullptr) gate->online(id, false); // the host scheduler no longer counts it
    bool started = false;
    {
        std::unique_lock lock(mu_);
        vcpus_[id].cv->wait(lock, [&] { return policy_.stopping() || policy_.vcpu_state(id) != core::VcpuState::offline; });
        started = !policy_.stopping();
    }
    if (started && gate != nullptr) gate->online(id, true);
    return started;
}

uint32_t Domain::vcpus_online() const {
    std::lock_guard lock(mu_);
    return policy_.vcpus_online();
}

core::DomainState Domain::state() const {
    std::lock_guard lock(mu_);
    return policy_.state();
}

std::optional<StopInfo> Domain::stop_info() const {
    std::lock_guard lock(mu_);
    return stop_info_;
}

double Domain::cpu_seconds() const {
    std::lock_guard lock(mu_);
    double total = exited_cpu_seconds_;
    for (uint32_t i = 0; i < vcpus_.size(); ++i) {
        clockid_t clock;
        const Vcpu& v = vcpus_[i];
        if (policy_.vcpu_state(i) == core::VcpuState::stopped || !v.thread.joinable()) continue;
        if (::pthread_getcpuclockid(const_cast<std::thread&>(v.thread).native_handle(), &clock) == 0)
            total += thread_cpu_seconds(clock);
    }
    return total;
}

void Domain::uuid(uint8_t out[16]) const {
    const config::Uuid u = uuid_bytes();
    std::copy(u.begin(), u.end(), out);
}

std::string Domain::name() const {
    std::lock_guard lock(mu_);
    return spec_.name;
}

void Domain::set_name(std::string name) {
    std::lock_guard lock(mu_);
    spec_.name = std::move(name);
}

config::Uuid Domain::uuid_bytes() const {
    std::lock_guard lock(mu_);
    return spec_.uuid;
}

void Domain::set_uuid(const config::Uuid& u) {
    std::lock_guard lock(mu_);
    spec_.uuid = u;
}

bool Domain::on_vcpu_thread() const {
    if (io_loop_.on_loop_thread()) return true;
    std::lock_guard lock(mu_);
    for (const Vcpu& v : vcpus_)
        if (v.thread.get_id() == std::this_thread::get_id()) return true;
    return false;
}

void Domain::console_write(const uint8_t* data, uint32_t len) { console_.write(data, len); }

uint32_t Domain::console_read(uint8_t* dst, uint32_t len) { return static_cast<uint32_t>(console_.read_input(dst, len)); }

bool Domain::vcpu_is_up(uint32_t vcpu) const {
    std::lock_guard lock(mu_);
    return policy_.is_up(vcpu);
}

int64_t Domain::vcpu_up(uint32_t caller, const hv_vcpu_up_t& req) {
    std::lock_guard lock(mu_);
    if (policy_.stopping()) return HV_EAGAIN;
    if (policy_.vcpu_state(req.vcpu) != core::VcpuState::offline) return HV_EBUSY;
    if (auto r = vcpus_[req.vcpu].cpu->set_ap_entry(*vcpus_[caller].cpu, req); !r) {
        log_->warn("domain {}: vcpu_op up {}: {}", spec_.domid, req.vcpu, r.error().message);
        return HV_EINVAL;
    }
    start_vcpu_locked(req.vcpu);
    return HV_OK;
}

void Domain::bad_call(uint32_t vcpu, uint32_t group, uint32_t op, int64_t result, const char* why) {
    const uint32_t n = ++bad_calls_;
    if (n <= kBadCallLogLimit)
        log_->warn("domain {} vcpu {}: hypercall group {} op {} refused ({}): {}", spec_.domid, vcpu, group, op, result, why);
    if (n == kBadCallLogLimit) log_->warn("domain {}: further refused hypercalls are not logged", spec_.domid);
}

} // namespace hv
