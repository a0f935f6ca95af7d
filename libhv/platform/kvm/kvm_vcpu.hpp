// KvmVcpu: one vCPU's fd and its shared kvm_run area. run() enters the
// guest and returns why it came back; registers go through the sync-regs
// area when the kernel offers it, saving two ioctls per hypercall.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include <linux/kvm.h>

#include "hv/abi/vcpu_op.h"
#include "hv/result.hpp"
#include "platform/kvm/kvm_system.hpp"
#include "platform/vcpu_exit.hpp"

namespace hv::kvm {

// The hypervisor CPUID leaves the guest sees (HV_CPUID_BASE ...).
struct CpuidSignature {
    uint32_t ebx, ecx, edx; // 12-byte signature
    uint32_t abi_version;
    uint32_t hypercall_port;
};

class KvmVcpu {
public:
    static Result<std::unique_ptr<KvmVcpu>> create(std::shared_ptr<KvmSystem> sys, UniqueFd fd, uint32_t id,
                                                   const CpuidSignature& sig);
    ~KvmVcpu();
    KvmVcpu(const KvmVcpu&) = delete;
    KvmVcpu& operator=(const KvmVcpu&) = delete;

    uint32_t id() const { return id_; }

    // PVH entry state: 32-bit flat protected mode, paging off, ebx = the
    // start_info address (the Xen PVH boot ABI).
    Result<void> set_pvh_entry(uint32_t entry, uint32_t start_info);
    // vcpu_op up: 64-bit ring 0 with the GDT/IDT/CR0/CR4/EFER of `like`.
    Result<void> set_ap_entry(const KvmVcpu& like, const hv_vcpu_up_t& req);

    platform::VcpuExit run();

    uint64_t rax();
    void set_rax(uint64_t v);

    // Called on the thread that will call run(); kick() signals it.
    // The owner serializes bind/unbind/kick under one lock, so kick() never
    // signals a thread that has exited.
    void bind_thread() { thread_ = pthread_self(); bound_.store(true); }
    void unbind_thread() { bound_.store(false); }
    // Makes run() return InterruptedExit soon, from any thread.
    void kick();

private:
    KvmVcpu() = default;
    Result<void> set_cpuid(const CpuidSignature& sig);

    std::shared_ptr<KvmSystem> sys_;
    UniqueFd fd_;
    uint32_t id_ = 0;
    kvm_run* run_ = nullptr;
    bool sync_regs_ = false;
    kvm_regs regs_{};  // used when the kernel has no sync regs
    bool regs_dirty_ = false;
    pthread_t thread_{};
    std::atomic<bool> bound_{false};
};

} // namespace hv::kvm
