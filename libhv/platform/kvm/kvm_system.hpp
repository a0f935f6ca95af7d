// KvmSystem: the open /dev/kvm and what it offers (API version, run-area
// size, supported CPUID). One per process is enough; VMs hold a shared_ptr.
#pragma once

#include <memory>
#include <vector>

#include <linux/kvm.h>

#include "hv/result.hpp"
#include "platform/kvm/unique_fd.hpp"

namespace hv::kvm {

class KvmSystem {
public:
    static Result<std::shared_ptr<KvmSystem>> open(const char* path = "/dev/kvm");

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

} // namespace hv::kvm
