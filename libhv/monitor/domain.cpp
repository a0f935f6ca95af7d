#include "monitor/domain.hpp"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <fmt/format.h>

#include "boot/pvh_loader.hpp"

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

} // namespace

Domain::Domain(DomainSpec spec, StopHandler on_stop, std::shared_ptr<spdlog::logger> log)
    : spec_(std::move(spec)), on_stop_(std::move(on_stop)), log_(std::move(log)) {}

Result<std::unique_ptr<Domain>> Domain::create(platform::Hypervisor& hypervisor, DomainSpec spec, StopHandler on_stop,
                                               std::shared_ptr<spdlog::logger> log) {
    if (spec.vcpus == 0) return make_error(Errc::invalid_argument, "a domain needs at least one vCPU");
    if (!spec.kernel) return make_error(Errc::invalid_argument, "no kernel image");
    std::unique_ptr<Domain> d(new Domain(std::move(spec), std::move(on_stop), std::move(log)));
    auto vm = hypervisor.create_vm(d->spec_.memory_mib << 20);
    if (!vm) return vm.error();
    d->vm_ = std::move(*vm);

    auto boot = boot::load_pvh(*d->spec_.kernel, d->spec_.cmdline, d->vm_->ram());
    if (!boot) return make_error(boot.error().code, fmt::format("domain {}: {}", d->name(), boot.error().message));

    d->vcpus_.resize(d->spec_.vcpus);
    for (uint32_t i = 0; i < d->spec_.vcpus; ++i) {
        auto v = d->vm_->create_vcpu(i);
        if (!v) return v.error();
        d->vcpus_[i].cpu = std::move(*v);
    }
    if (auto r = d->vcpus_[0].cpu->set_pvh_entry(boot->entry, boot->start_info); !r) return r.error();
    if (auto r = d->io_bus_.attach(dev::Serial16550::kCom1Base, dev::Serial16550::kPorts, &d->serial_); !r) return r.error();
    d->dispatcher_ = std::make_unique<core::HypercallDispatcher>(d->vm_->ram(), static_cast<core::DomainServices&>(*d));
    Domain* self = d.get();
    d->console_.set_input_notify([self] {
        std::lock_guard lock(self->mu_);
        self->raise_locked(HV_EVENT_CONSOLE_INPUT);
    });
    return d;
}

Domain::~Domain() { halt(); }

void Domain::start(bool paused) {
    std::lock_guard lock(mu_);
    flags_.paused = paused;
    started_at_ = std::chrono::steady_clock::now();
    start_vcpu_locked(0);
}

void Domain::start_vcpu_locked(uint32_t id) {
    transition_locked(id, core::VcpuEvent::start);
    vcpus_[id].thread = std::thread([this, id] { vcpu_main(id); });
}

void Domain::transition_locked(uint32_t id, core::VcpuEvent ev) {
    if (!core::vcpu_apply(vcpus_[id].state, ev))
        log_->error("domain {} vcpu {}: illegal transition from {}", spec_.domid, id, core::vcpu_state_name(vcpus_[id].state));
}

void Domain::kick_all_locked() {
    for (Vcpu& v : vcpus_)
        if (v.state == core::VcpuState::running) v.cpu->kick();
}

void Domain::pause() {
    std::unique_lock lock(mu_);
    if (stopping_) return;
    flags_.paused = true;
    kick_all_locked();
    // A kicked vCPU leaves the guest within one exit; wait so that "paused"
    // means no guest code runs (xl pause semantics).
    cv_.wait(lock, [this] {
        for (const Vcpu& v : vcpus_)
            if (v.state == core::VcpuState::running) return stopping_;
        return true;
    });
}

void Domain::unpause() {
    std::lock_guard lock(mu_);
    flags_.paused = false;
    cv_.notify_all();
}

void Domain::request_shutdown(core::ShutdownReason reason) {
    std::lock_guard lock(mu_);
    requested_reason_ = static_cast<uint32_t>(reason);
    raise_locked(HV_EVENT_SHUTDOWN_REQUEST);
}

void Domain::raise_locked(uint64_t events) {
    events_ |= events;
    ++event_generation_;
    cv_.notify_all();
}

void Domain::halt() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        flags_.dying = !stop_info_.has_value(); // a guest-stopped domain keeps its s/c state
        kick_all_locked();
        cv_.notify_all();
    }
    for (Vcpu& v : vcpus_)
        if (v.thread.joinable()) v.thread.join();
}

void Domain::stop_from_guest(StopInfo info) {
    {
        std::lock_guard lock(mu_);
        if (stopping_) return; // the first reason wins
        stopping_ = true;
        stop_info_ = info;
        if (info.reason == core::ShutdownReason::crash) flags_.crashed = true;
        else flags_.shut_down = true;
        kick_all_locked();
        cv_.notify_all();
    }
    log_->info("domain {} ({}): {}{}{}", spec_.domid, name(), core::reason_name(info.reason),
               info.detail.empty() ? "" : ": ", info.detail);
    if (on_stop_) on_stop_(spec_.domid, info);
}

void Domain::vcpu_main(uint32_t id) {
    platform::Vcpu& vcpu = *vcpus_[id].cpu;
    {
        std::lock_guard lock(mu_);
        vcpu.bind_thread();
    }
    for (;;) {
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !flags_.paused; });
            if (stopping_) break;
            transition_locked(id, core::VcpuEvent::enter);
        }
        // The vCPU counts as running until its exit is handled: pause()
        // then means no guest-visible progress, not only "out of KVM_RUN".
        const platform::VcpuExit exit = vcpu.run();
        bool keep_running = true;
        if (const auto* io = std::get_if<platform::IoExit>(&exit)) {
            if (io->port == HV_HYPERCALL_PORT && io->write && io->size == 4 && io->count == 1) {
                keep_running = handle_hypercall(id);
            } else {
                for (uint32_t k = 0; k < io->count; ++k) {
                    uint8_t* data = io->data + size_t{k} * io->size;
                    const bool claimed = io->write ? io_bus_.write(io->port, data, io->size) : io_bus_.read(io->port, data, io->size);
                    if (!claimed) log_->debug("domain {} vcpu {}: unclaimed port {:#x}", spec_.domid, id, io->port);
                }
            }
        } else if (const auto* mmio = std::get_if<platform::MmioExit>(&exit)) {
            if (!mmio->write) std::fill(mmio->data, mmio->data + mmio->size, uint8_t{0xff});
            log_->debug("domain {} vcpu {}: unclaimed MMIO {:#x}", spec_.domid, id, mmio->addr);
        } else if (std::holds_alternative<platform::HltExit>(exit)) {
            // No interrupt controller yet: a halted vCPU sleeps until a new
            // event is raised (it does not take it) or the domain stops.
            keep_running = wait_for_new_event(id);
        } else if (std::holds_alternative<platform::ShutdownExit>(exit)) {
            stop_from_guest(StopInfo{core::ShutdownReason::crash, fmt::format("vcpu {} triple fault", id)});
            keep_running = false;
        } else if (const auto* failed = std::get_if<platform::FailedExit>(&exit)) {
            stop_from_guest(StopInfo{core::ShutdownReason::crash, fmt::format("vcpu {}: {}", id, failed->what)});
            keep_running = false;
        }
        {
            std::lock_guard lock(mu_);
            if (vcpus_[id].state == core::VcpuState::running) transition_locked(id, core::VcpuEvent::exit);
            cv_.notify_all(); // pause() waits for vCPUs to leave the guest
        }
        if (!keep_running) break;
    }
    std::lock_guard lock(mu_);
    vcpu.unbind_thread();
    exited_cpu_seconds_ += thread_cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    transition_locked(id, core::VcpuEvent::stop);
    cv_.notify_all();
}

bool Domain::handle_hypercall(uint32_t id) {
    platform::Vcpu& vcpu = *vcpus_[id].cpu;
    const uint64_t slot = vcpu.rax();
    const core::CallOutcome out = dispatcher_->dispatch(id, slot);
    switch (out.action) {
    case core::CallOutcome::Action::none: vcpu.set_rax(static_cast<uint64_t>(out.result)); return true;
    case core::CallOutcome::Action::yield:
        vcpu.set_rax(static_cast<uint64_t>(out.result));
        ::sched_yield();
        return true;
    case core::CallOutcome::Action::block: {
        uint64_t events = 0;
        uint32_t request = 0;
        if (!wait_for_event(id, out.block_timeout_ns, events, request)) return false;
        vcpu.set_rax(static_cast<uint64_t>(dispatcher_->finish_block(slot, events, request)));
        return true;
    }
    case core::CallOutcome::Action::shutdown:
        stop_from_guest(StopInfo{out.reason, {}});
        return false;
    }
    return true;
}

// Sleeps until an event is pending, the timeout passes or the domain
// stops (then returns false), and takes the events. A paused domain makes
// no progress: a vCPU does not wake for events, and does not complete its
// call, until the domain is unpaused.
bool Domain::wait_for_event(uint32_t id, uint64_t timeout_ns, uint64_t& events, uint32_t& request) {
    // Beyond ~100 days a timeout means "none"; it also keeps the clock
    // arithmetic below from overflowing.
    constexpr uint64_t kLongest = 1ull << 53;
    std::unique_lock lock(mu_);
    transition_locked(id, core::VcpuEvent::block);
    cv_.notify_all(); // pause() waits for vCPUs to leave the running state
    const auto ready = [this] { return stopping_ || (!flags_.paused && events_ != 0); };
    if (timeout_ns == 0 || timeout_ns > kLongest) cv_.wait(lock, ready);
    else cv_.wait_for(lock, std::chrono::nanoseconds(static_cast<int64_t>(timeout_ns)), ready);
    cv_.wait(lock, [this] { return stopping_ || !flags_.paused; });
    transition_locked(id, core::VcpuEvent::wake);
    if (stopping_) return false;
    events = events_;
    request = requested_reason_;
    events_ = 0;
    return true;
}

bool Domain::wait_for_new_event(uint32_t id) {
    std::unique_lock lock(mu_);
    transition_locked(id, core::VcpuEvent::block);
    cv_.notify_all();
    const uint64_t seen = event_generation_;
    cv_.wait(lock, [&] { return stopping_ || (!flags_.paused && event_generation_ != seen); });
    transition_locked(id, core::VcpuEvent::wake);
    return !stopping_;
}

uint32_t Domain::vcpus_online() const {
    std::lock_guard lock(mu_);
    uint32_t n = 0;
    for (const Vcpu& v : vcpus_)
        n += v.state != core::VcpuState::offline && v.state != core::VcpuState::stopped ? 1 : 0;
    return n;
}

core::DomainState Domain::state() const {
    std::lock_guard lock(mu_);
    std::vector<core::VcpuState> states;
    for (const Vcpu& v : vcpus_)
        if (v.state != core::VcpuState::offline) states.push_back(v.state);
    return core::derive_domain_state(flags_, states.data(), states.size());
}

std::optional<StopInfo> Domain::stop_info() const {
    std::lock_guard lock(mu_);
    return stop_info_;
}

double Domain::cpu_seconds() const {
    std::lock_guard lock(mu_);
    double total = exited_cpu_seconds_;
    for (const Vcpu& v : vcpus_) {
        clockid_t clock;
        if (v.state == core::VcpuState::stopped || !v.thread.joinable()) continue;
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
    std::lock_guard lock(mu_);
    for (const Vcpu& v : vcpus_)
        if (v.thread.get_id() == std::this_thread::get_id()) return true;
    return false;
}

void Domain::console_write(const uint8_t* data, uint32_t len) { console_.write(data, len); }

uint32_t Domain::console_read(uint8_t* dst, uint32_t len) { return static_cast<uint32_t>(console_.read_input(dst, len)); }

bool Domain::vcpu_is_up(uint32_t vcpu) const {
    std::lock_guard lock(mu_);
    const core::VcpuState s = vcpus_[vcpu].state;
    return s != core::VcpuState::offline && s != core::VcpuState::stopped;
}

int64_t Domain::vcpu_up(uint32_t caller, const hv_vcpu_up_t& req) {
    std::lock_guard lock(mu_);
    if (stopping_) return HV_EAGAIN;
    if (vcpus_[req.vcpu].state != core::VcpuState::offline) return HV_EBUSY;
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
