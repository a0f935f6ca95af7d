// A fake platform for monitor unit tests: no /dev/kvm. Guest RAM is a
// vector; each vCPU runs a scripted guest program, one step per run(),
// that returns the next exit (a hypercall, HLT, a triple fault) or nothing:
// then the vCPU "spins" in the guest until it is kicked (InterruptedExit),
// as a real vCPU running guest code would. Time is a virtual clock the
// test advances by hand.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hv/abi/hv.h"
#include "platform/vm.hpp"

namespace hvtest {

class FakeVcpu;
// One step of a guest program: the next exit, or nullopt to spin.
using GuestProgram = std::function<std::optional<hv::platform::VcpuExit>(FakeVcpu&)>;

class FakeVcpu final : public hv::platform::Vcpu {
public:
    FakeVcpu(const hv::core::GuestRam& ram, uint32_t id, GuestProgram program)
        : ram_(ram), id_(id), program_(std::move(program)) {}

    uint32_t id() const override { return id_; }
    hv::Result<void> set_pvh_entry(uint32_t entry, uint32_t) override {
        pvh_entry = entry;
        return {};
    }
    hv::Result<void> set_ap_entry(const hv::platform::Vcpu&, const hv_vcpu_up_t&) override { return {}; }
    hv::Result<void> set_long_mode_entry(const hv::platform::LongModeEntry&) override { return {}; }

    hv::platform::VcpuExit run() override {
        ++runs;
        {
            std::lock_guard lock(mu_);
            if (kicked_) { // a kick before run() ends the next one at once, as KVM's immediate_exit
                kicked_ = false;
                return hv::platform::InterruptedExit{};
            }
        }
        if (auto exit = program_(*this)) return *exit;
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return kicked_; });
        kicked_ = false;
        return hv::platform::InterruptedExit{};
    }
    uint64_t rax() override { return rax_; }
    void set_rax(uint64_t v) override { rax_ = v; }
    void bind_thread() override {}
    void unbind_thread() override {}
    void kick() override {
        std::lock_guard lock(mu_);
        kicked_ = true;
        cv_.notify_all();
    }

    // The guest makes a hypercall: the call goes into this vCPU's slot in
    // guest RAM (1 MiB + 64 * id), rax points at it.
    hv::platform::VcpuExit hypercall(const hv_call_t& call) {
        ram_.write(slot_gpa(), &call, sizeof call);
        rax_ = slot_gpa();
        out_ = 0;
        return hv::platform::IoExit{HV_HYPERCALL_PORT, 4, true, 1, reinterpret_cast<uint8_t*>(&out_)};
    }
    // The slot as the monitor left it (result, block's events).
    hv_call_t slot() const {
        hv_call_t c{};
        ram_.read(slot_gpa(), &c, sizeof c);
        return c;
    }
    uint64_t slot_gpa() const { return (1u << 20) + 64ull * id_; }

    std::atomic<int> runs{0};
    uint32_t pvh_entry = 0;
    int step = 0; // for the program's own use

private:
    hv::core::GuestRam ram_;
    uint32_t id_;
    GuestProgram program_;
    uint64_t rax_ = 0;
    uint32_t out_ = 0;
    std::mutex mu_;
    std::condition_variable cv_;
    bool kicked_ = false;
};

class FakeVm final : public hv::platform::Vm {
public:
    FakeVm(uint64_t bytes, GuestProgram program) : mem_(bytes), ram_{mem_.data(), mem_.size()}, program_(std::move(program)) {}
    const hv::core::GuestRam& ram() const override { return ram_; }
    hv::Result<std::unique_ptr<hv::platform::Vcpu>> create_vcpu(uint32_t id) override {
        return std::unique_ptr<hv::platform::Vcpu>(new FakeVcpu(ram_, id, program_));
    }
    hv::Result<void> add_pc_interrupts() override {
        pc_interrupts = true;
        return {};
    }
    hv::Result<void> set_irq_line(uint32_t gsi, bool level) override {
        std::lock_guard lock(irq_mu);
        irq_levels[gsi] = level;
        return {};
    }
    hv::Result<void> signal_msi(uint64_t address, uint32_t data) override {
        std::lock_guard lock(irq_mu);
        msis.emplace_back(address, data);
        return {};
    }
    bool pc_interrupts = false;
    std::mutex irq_mu;
    std::map<uint32_t, bool> irq_levels;
    std::vector<std::pair<uint64_t, uint32_t>> msis;

private:
    std::vector<uint8_t> mem_;
    hv::core::GuestRam ram_;
    GuestProgram program_;
};

// Virtual time: it moves only when the test calls advance(). A wait with a
// deadline polls it every real millisecond (advance() does not know the
// waiters), which the waiters' re-checks make harmless.
class VirtualClock final : public hv::platform::Clock {
public:
    uint64_t now_ns() const override { return now_.load(); }
    void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, uint64_t deadline_ns) const override {
        if (deadline_ns == kNever) {
            cv.wait(lock);
            return;
        }
        if (now_.load() < deadline_ns) cv.wait_for(lock, std::chrono::milliseconds(1));
    }
    void advance(uint64_t ns) { now_ += ns; }

private:
    std::atomic<uint64_t> now_{1'000'000'000};
};

class FakeHypervisor final : public hv::platform::Hypervisor {
public:
    explicit FakeHypervisor(GuestProgram program) : program_(std::move(program)) {}
    std::shared_ptr<const hv::platform::Clock> clock() const override { return vclock; }
    const std::shared_ptr<VirtualClock> vclock = std::make_shared<VirtualClock>();
    std::string_view name() const override { return "fake"; }
    uint64_t max_ram_bytes() const override { return 64ull << 20; }
    hv::Result<std::unique_ptr<hv::platform::Vm>> create_vm(uint64_t bytes) override {
        ++vms;
        auto vm = std::make_unique<FakeVm>(bytes, program_);
        last_vm_ = vm.get();
        return std::unique_ptr<hv::platform::Vm>(std::move(vm));
    }
    std::atomic<int> vms{0};
    // The Vm made last (owned by its domain: valid while that lives).
    FakeVm* last_vm() const { return last_vm_; }

private:
    GuestProgram program_;
    std::atomic<FakeVm*> last_vm_{nullptr};
};

// Waits up to `ms` for `pred`.
template <class Pred>
bool eventually(Pred pred, int ms = 5000) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

} // namespace hvtest
