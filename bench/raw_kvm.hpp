// The baselines' side: a VM driven by bare KVM ioctls, nothing of hv in
// between (what shared/tools/kvm-probe.c does, as a small C++ helper).
// Every failure is fatal: a baseline that half-works measures nothing.
#pragma once

#include <cstddef>
#include <cstdint>

#include <linux/kvm.h>

namespace hvbench {

// The open /dev/kvm.
class RawKvm {
public:
    RawKvm();
    ~RawKvm();
    RawKvm(const RawKvm&) = delete;
    RawKvm& operator=(const RawKvm&) = delete;
    int fd() const { return fd_; }
    size_t run_size() const { return run_size_; }

private:
    int fd_ = -1;
    size_t run_size_ = 0;
};

// One VM with `ram_bytes` of RAM at GPA 0 and one vCPU, set up with the
// sequence KVM_CREATE_VM, KVM_SET_TSS_ADDR, mmap + KVM_SET_USER_MEMORY_REGION,
// KVM_CREATE_VCPU, mmap of the run area. Closed by the destructor.
class RawVm {
public:
    RawVm(const RawKvm& kvm, size_t ram_bytes);
    ~RawVm();
    RawVm(const RawVm&) = delete;
    RawVm& operator=(const RawVm&) = delete;

    uint8_t* mem() const { return mem_; }
    kvm_run& run_area() const { return *run_; }

    // Registers as a PVH entry leaves them (what hv's KvmVcpu::set_pvh_entry
    // sets): 32-bit protected mode, paging off, flat segments, ebx = `rbx`.
    void set_pvh_entry(uint32_t rip, uint32_t rbx);

    // 64-bit long mode, ring 0, at `rip` with rsp = `rsp`: identity-mapped
    // first 2 MiB (user-accessible), a GDT with ring-0 and ring-3 segments
    // (the hello guest's selectors) and a TSS whose I/O bitmap allows ports
    // 0-4095 (this machine's nested KVM checks it even with IOPL=3). Uses
    // guest memory 0x500-0x5fff.
    void set_long_mode(uint64_t rip, uint64_t rsp);

    // One KVM_RUN (retried on EINTR); returns run_area().exit_reason.
    uint32_t run();

private:
    const RawKvm& kvm_;
    int vm_ = -1;
    int vcpu_ = -1;
    uint8_t* mem_ = nullptr;
    size_t size_ = 0;
    kvm_run* run_ = nullptr;
};

// Ring-0 code that irets to ring 3 at `user_rip` on stack `user_rsp` with
// IOPL=3, interrupts off (USER_CS 0x23, USER_DS 0x1b). Returns its length.
size_t emit_iret_to_ring3(uint8_t* at, uint32_t user_rip, uint32_t user_rsp);

} // namespace hvbench
