// KvmVm: one KVM virtual machine (a platform::Vm) with its guest RAM (one
// anonymous mapping at guest-physical 0); it makes KvmVcpus.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "core/guest_ram.hpp"
#include "hv/result.hpp"
#include "platform/kvm/kvm_system.hpp"
#include "platform/kvm/kvm_vcpu.hpp"
#include "platform/vm.hpp"

namespace hv::kvm {

// Where KVM may put the three pages of its real-mode TSS (Intel hosts need
// it before the first KVM_RUN): just under 4 GiB, never guest RAM here. RAM
// is one slot from 0, so it ends below them.
constexpr uint64_t kTssAddr = 0xfffbd000;
constexpr uint64_t kMaxRamBytes = kTssAddr;

class KvmVm final : public platform::Vm {
public:
    static Result<std::unique_ptr<KvmVm>> create(std::shared_ptr<KvmSystem> sys, uint64_t ram_bytes);
    ~KvmVm() override;

    // platform::Vm
    const core::GuestRam& ram() const override { return ram_; }
    Result<std::unique_ptr<platform::Vcpu>> create_vcpu(uint32_t id) override;
    Result<void> add_pc_interrupts() override;
    Result<void> set_irq_line(uint32_t gsi, bool level) override;
    Result<void> signal_msi(uint64_t address, uint32_t data) override;
    Result<void> set_mmio_notifier(uint64_t gpa, int eventfd, bool on) override;
    Result<void> queue_port_writes(uint16_t port, uint16_t len) override;
    uint32_t drain_port_writes(const std::function<void(const PortWrite&)>& apply) override;

private:
    KvmVm() = default;
    std::shared_ptr<KvmSystem> sys_;
    UniqueFd fd_;
    core::GuestRam ram_;
    bool pc_interrupts_ = false; // vCPUs then get the TSC-deadline timer bit
    bool made_vcpus_ = false;
    // The coalesced-I/O ring KVM shares with every vCPU (one page of the
    // first vCPU's mapping, mapped on its own so it lives as long as the
    // Vm): KVM appends at `last`, we consume from `first`.
    long ring_page_ = 0;        // its page offset in a vCPU's mapping; 0: nothing queued
    void* ring_map_ = nullptr;  // mapped at the first create_vcpu()
    std::atomic<void*> ring_{nullptr};
    std::mutex ring_mu_;        // one drainer at a time
};

} // namespace hv::kvm
