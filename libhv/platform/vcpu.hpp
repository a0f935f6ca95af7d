// platform::Vcpu: one virtual CPU as the monitor drives it, whatever runs
// it underneath (KVM today; a fake in unit tests; later the ring-0 image).
// In the spirit of Cloud Hypervisor's hypervisor::Vcpu: set up entry state,
// run() until the guest needs the monitor, read and write the one register
// the hypercall transport uses, and be kicked out from another thread.
#pragma once

#include <cstdint>
#include <string>

#include "hv/abi/vcpu_op.h"
#include "hv/result.hpp"
#include "platform/vcpu_exit.hpp"

namespace hv::platform {

// The Linux 64-bit boot protocol's entry state: long mode with the given
// page tables and GDT, interrupts off, rsi = the zero page.
struct LongModeEntry {
    uint64_t rip = 0;
    uint64_t rsi = 0;
    uint64_t cr3 = 0;
    uint64_t gdt_base = 0;
    uint16_t gdt_limit = 0;
    uint16_t code_selector = 0;
    uint16_t data_selector = 0;
};

class Vcpu {
public:
    virtual ~Vcpu() = default;
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;

    virtual uint32_t id() const = 0;

    // PVH entry state: 32-bit flat protected mode, paging off, ebx = the
    // start_info address (the Xen PVH boot ABI). For the boot vCPU.
    virtual Result<void> set_pvh_entry(uint32_t entry, uint32_t start_info) = 0;
    // Linux's 64-bit entry (boot/linux64_loader.hpp). For the boot vCPU.
    virtual Result<void> set_long_mode_entry(const LongModeEntry& e) = 0;
    // vcpu_op up: 64-bit ring 0 at req.rip with req's stack, CR3 and
    // selectors, and the GDT/IDT/CR0/CR4/EFER of `like`, a running vCPU of
    // the same Vm (an implementation may rely on that and downcast it).
    virtual Result<void> set_ap_entry(const Vcpu& like, const hv_vcpu_up_t& req) = 0;

    // A one-line summary of the vCPU's state (instruction pointer, control
    // registers), for the log when a guest dies; empty when unknown. On
    // the vCPU's own thread, after run() returned.
    virtual std::string state_summary() { return {}; }

    // Enters the guest on the bound thread and returns why it came back.
    // Pointers inside the exit stay valid until the next run().
    virtual VcpuExit run() = 0;

    // The hypercall transport's register: the guest's slot address after
    // an exit, the result written back before the next run().
    virtual uint64_t rax() = 0;
    virtual void set_rax(uint64_t v) = 0;

    // bind_thread() is called on the thread that will call run();
    // unbind_thread() before that thread exits. kick() makes run() return
    // InterruptedExit soon (or the next run() return it at once), from any
    // thread. The owner serialises bind/unbind/kick under one lock, so a
    // kick never reaches a thread that has exited.
    virtual void bind_thread() = 0;
    virtual void unbind_thread() = 0;
    virtual void kick() = 0;

protected:
    Vcpu() = default;
};

} // namespace hv::platform
