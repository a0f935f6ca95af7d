// platform::Vm and platform::Hypervisor: the rest of the platform port
// (Cloud Hypervisor's hypervisor::Vm and hypervisor::Hypervisor in spirit).
// A Hypervisor makes Vms; a Vm owns its guest RAM and makes its vCPUs.
// They share this header because a Hypervisor is nothing but a Vm factory
// with a name and a RAM limit. The monitor holds only these types, so a
// fake platform can stand in for KVM in unit tests.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "core/guest_ram.hpp"
#include "hv/result.hpp"
#include "platform/clock.hpp"
#include "platform/vcpu.hpp"

namespace hv::platform {

class Vm {
public:
    virtual ~Vm() = default;
    Vm(const Vm&) = delete;
    Vm& operator=(const Vm&) = delete;

    // All of the guest's RAM, one range from guest-physical 0, mapped in
    // the monitor for the Vm's lifetime.
    virtual const core::GuestRam& ram() const = 0;
    // vCPU `id` (0 boots; ids are dense from 0). The guest sees hv's CPUID
    // leaves on it: presenting hv is the platform's job, not the caller's.
    // The vCPU must be destroyed before its Vm.
    virtual Result<std::unique_ptr<Vcpu>> create_vcpu(uint32_t id) = 0;

    // The PC's interrupt controllers and timer, in the platform (KVM: the
    // in-kernel LAPICs, IOAPIC and PICs, and a PIT): what a stock kernel
    // needs. Before the first create_vcpu(). On such a Vm, HLT waits for
    // an interrupt inside the platform (no HltExit), and vCPUs other than
    // 0 wait there for the guest's INIT/SIPI. Not called for hv's PV
    // machine, whose guests use hv's event ABI instead.
    virtual Result<void> add_pc_interrupts() = 0;
    // Drives interrupt line `gsi` (an ISA IRQ is its GSI) to `level`; an
    // edge-triggered line interrupts on 0 -> 1. Any thread.
    virtual Result<void> set_irq_line(uint32_t gsi, bool level) = 0;
    // Delivers a message-signalled interrupt (an MSI-X table entry's
    // address and data, as a PCI device would write them) through the
    // in-kernel LAPICs. After add_pc_interrupts(). Any thread.
    virtual Result<void> signal_msi(uint64_t address, uint32_t data) = 0;
    // While `on`, a guest write of any width at `gpa` (an address outside
    // RAM) only signals `eventfd` (adds 1 to it) inside the platform, with
    // no exit to the monitor: how a virtio kick reaches the domain's I/O
    // loop without stopping the vCPU (KVM: an ioeventfd). `on` false
    // undoes one earlier `on` with the same gpa and fd. A platform that
    // cannot says so; the write then exits as any MMIO write does.
    virtual Result<void> set_mmio_notifier(uint64_t gpa, int eventfd, bool on) {
        (void)gpa, (void)eventfd, (void)on;
        return make_error(Errc::not_supported, "this platform has no MMIO notifiers");
    }

    // One guest port write the platform queued instead of exiting.
    struct PortWrite {
        uint16_t port = 0;
        uint8_t size = 0; // 1, 2 or 4
        uint8_t data[8]{};
    };
    // From now on, guest writes that fall wholly inside ports [port, port +
    // len) are queued inside the platform, with no exit to the monitor
    // (KVM: coalesced PIO); reads there still exit. For ports whose writes
    // only take effect at a later access, as the PCI configuration address
    // at 0xcf8 takes effect at the data port's read: Linux's scans of the
    // PCI buses then cost one exit per register instead of two. The queue
    // is bounded; when it is full, a write exits as usual. Before the first
    // create_vcpu(). A platform that cannot says so (writes then exit).
    virtual Result<void> queue_port_writes(uint16_t port, uint16_t len) {
        (void)port, (void)len;
        return make_error(Errc::not_supported, "this platform cannot queue port writes");
    }
    // Hands every queued write to `apply`, oldest first, and returns how
    // many. The monitor calls it on every exit before it handles the exit,
    // so a queued write takes effect before anything the guest did after
    // it. Any thread: draining is serialized inside, so each write is
    // applied once and in the guest's order.
    virtual uint32_t drain_port_writes(const std::function<void(const PortWrite&)>& apply) {
        (void)apply;
        return 0;
    }

protected:
    Vm() = default;
};

class Hypervisor {
public:
    virtual ~Hypervisor() = default;
    Hypervisor(const Hypervisor&) = delete;
    Hypervisor& operator=(const Hypervisor&) = delete;

    // A short lower-case name for logs and host info ("kvm").
    virtual std::string_view name() const = 0;
    // The most guest RAM one Vm can have, in bytes.
    virtual uint64_t max_ram_bytes() const = 0;
    // A Vm with `ram_bytes` of RAM (a non-zero multiple of 4 KiB, at most
    // max_ram_bytes()). It may outlive this object.
    virtual Result<std::unique_ptr<Vm>> create_vm(uint64_t ram_bytes) = 0;
    // The signal that, sent to a thread in a Vcpu's run() (from this or
    // another process: hvd's scheduler), makes run() return InterruptedExit
    // now or at its next entry. 0: none; such vCPUs cannot be preempted
    // from outside and are left unscheduled.
    virtual int kick_signal() const { return 0; }
    // The clock its domains' policy runs on: the host's, unless a test
    // platform brings a virtual one.
    virtual std::shared_ptr<const Clock> clock() const { return Clock::host(); }

protected:
    Hypervisor() = default;
};

} // namespace hv::platform
