// KvmSystem: the open /dev/kvm and what it offers (API version, run-area
// size, supported CPUID), and the KVM platform::Hypervisor: create_vm()
// makes KvmVms. One per process is enough; VMs hold a shared_ptr, so they
// may outlive the monitor's reference.
#pragma once

#include <memory>
#include <vector>

#include <linux/kvm.h>

#include "hv/result.hpp"
#include "platform/kvm/unique_fd.hpp"
#include "platform/vm.hpp"

namespace hv::kvm {

// enable_shared_from_this: each KvmVm keeps the system (its fd, run-area
// size, CPUID) alive, and create_vm() is reached through the base class.
class KvmSystem final : public platform::Hypervisor, public std::enable_shared_from_this<KvmSystem> {
public:
    static Result<std::shared_ptr<KvmSystem>> open(const char* path = "/dev/kvm");

    // platform::Hypervisor
    std::string_view name() const override { return "kvm"; }
    uint64_t max_ram_bytes() const override;
    Result<std::unique_ptr<platform::Vm>> create_vm(uint64_t ram_bytes) override;
    int kick_signal() const override;

    int fd() const { return fd_.get(); }
    size_t run_size() const { return run_size_; }
    // KVM_GET_SUPPORTED_CPUID, read once.
    const std::vector<kvm_cpuid_entry2>& supported_cpuid() const { return cpuid_; }
    bool has_sync_regs() const { return sync_regs_; }

private:
    UniqueFd fd_;
    size_t run_size_ = 0;
    std::vector<kvm_cpuid_entry2> cpuid_;
    bool sync_regs_ = false;
};

// The signal used to kick a vCPU thread out of KVM_RUN (installed once,
// with an empty handler and without SA_RESTART).
int kick_signal();
// The kick signal's handler: the vCPU bound to this thread leaves the
// guest at once (kvm_vcpu.cpp). Async-signal-safe.
void on_kick_signal();

} // namespace hv::kvm
