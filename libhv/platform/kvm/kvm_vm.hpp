// KvmVm: one KVM virtual machine with its guest RAM (one anonymous
// mapping at guest-physical 0) and its vCPUs' fds.
#pragma once

#include <cstdint>
#include <memory>

#include "core/guest_ram.hpp"
#include "hv/result.hpp"
#include "platform/kvm/kvm_system.hpp"
#include "platform/kvm/kvm_vcpu.hpp"

namespace hv::kvm {

// Where KVM may put the three pages of its real-mode TSS (Intel hosts need
// it before the first KVM_RUN): just under 4 GiB, never guest RAM here. RAM
// is one slot from 0, so it ends below them.
constexpr uint64_t kTssAddr = 0xfffbd000;
constexpr uint64_t kMaxRamBytes = kTssAddr;

class KvmVm {
public:
    static Result<std::unique_ptr<KvmVm>> create(std::shared_ptr<KvmSystem> sys, uint64_t ram_bytes);
    ~KvmVm();
    KvmVm(const KvmVm&) = delete;
    KvmVm& operator=(const KvmVm&) = delete;

    const core::GuestRam& ram() const { return ram_; }
    Result<std::unique_ptr<KvmVcpu>> create_vcpu(uint32_t id, const CpuidSignature& sig);

private:
    KvmVm() = default;
    std::shared_ptr<KvmSystem> sys_;
    UniqueFd fd_;
    core::GuestRam ram_;
};

} // namespace hv::kvm
