// KvmVcpu: the KVM platform::Vcpu, one vCPU's fd and its shared kvm_run
// area. run() enters the guest and returns why it came back; registers go
// through the sync-regs area when the kernel offers it, saving two ioctls
// per hypercall. Its CPUID presents hv to the guest (HV_CPUID_BASE ...).
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include <linux/kvm.h>

#include "hv/abi/vcpu_op.h"
#include "hv/result.hpp"
#include "platform/kvm/kvm_system.hpp"
#include "platform/vcpu.hpp"
#include "platform/vcpu_exit.hpp"

namespace hv::kvm {

// Where KVM's own paravirt CPUID leaves go (hv's own are at HV_CPUID_BASE).
constexpr uint32_t kKvmLeavesBase = 0x40000100;

class KvmVcpu final : public platform::Vcpu {
public:
    // `pc_interrupts`: the VM has KVM's in-kernel LAPIC (KvmVm::add_pc_interrupts).
    static Result<std::unique_ptr<KvmVcpu>> create(std::shared_ptr<KvmSystem> sys, UniqueFd fd, uint32_t id,
                                                   bool pc_interrupts);
    ~KvmVcpu() override;

    // platform::Vcpu (contracts there)
    uint32_t id() const override { return id_; }
    Result<void> set_pvh_entry(uint32_t entry, uint32_t start_info) override;
    Result<void> set_long_mode_entry(const platform::LongModeEntry& e) override;
    // `like` must be a KvmVcpu of the same VM: its sregs are read here.
    Result<void> set_ap_entry(const platform::Vcpu& like, const hv_vcpu_up_t& req) override;
    platform::VcpuExit run() override;
    std::string state_summary() override;
    uint64_t rax() override;
    void set_rax(uint64_t v) override;
    // kick() sets immediate_exit and, when a thread is bound, signals it
    // out of KVM_RUN with kick_signal().
    // The bound thread's kick_signal() handler sets immediate_exit too, so
    // a kick sent from another process (hvd's scheduler) just before
    // KVM_RUN is not lost.
    void bind_thread() override;
    void unbind_thread() override;
    void kick() override;

private:
    KvmVcpu() = default;
    Result<void> set_cpuid();

    std::shared_ptr<KvmSystem> sys_;
    UniqueFd fd_;
    uint32_t id_ = 0;
    kvm_run* run_ = nullptr;
    bool sync_regs_ = false;
    bool pc_interrupts_ = false;
    kvm_regs regs_{};  // used when the kernel has no sync regs
    bool regs_dirty_ = false;
    pthread_t thread_{};
    std::atomic<bool> bound_{false};
};

} // namespace hv::kvm
