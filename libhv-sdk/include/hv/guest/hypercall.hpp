// Guest-side hypercall wrappers for hv (header-only, freestanding C++20).
//
// No libc, no exceptions, no heap: usable in a guest kernel built with
// -ffreestanding -nostdlib. The only library calls the compiler may emit are
// memcpy/memset, which every freestanding program provides.
//
// Transport (hv/abi/common.h): rax = guest-physical address (GPA) of a
// 64-byte, 8-byte-aligned hv_call_t slot, then a 32-bit `out` to
// HV_HYPERCALL_PORT. The monitor writes hv_call_t.result and also returns it
// in rax. From ring 3 this needs IOPL=3.
//
// Address assumption: the wrappers turn pointers into GPAs with
// HV_GUEST_GPA_OF(ptr), which defaults to the pointer's value, i.e. the guest
// is identity-mapped (virtual address == GPA), as the test guests are. A
// guest with another mapping defines HV_GUEST_GPA_OF before including this
// header, or builds slots itself and calls call_gpa().
#pragma once

#include <hv/abi/hv.h>

#include <stdint.h>

#ifndef HV_GUEST_GPA_OF
#define HV_GUEST_GPA_OF(ptr) (reinterpret_cast<uintptr_t>(ptr))
#endif

namespace hv::guest {

inline uint64_t gpa_of(const volatile void* p) noexcept { return static_cast<uint64_t>(HV_GUEST_GPA_OF(p)); }

// Issues one hypercall on the slot at `gpa`; returns what the monitor put in
// rax (the result, or HV_EFAULT when the slot itself is bad).
inline int64_t call_gpa(uint64_t gpa) noexcept {
#if defined(__x86_64__)
    uint64_t rax = gpa;
    // "memory": the monitor reads and writes guest memory behind our back.
    asm volatile("outl %%eax, %%dx" : "+a"(rax) : "d"(static_cast<uint16_t>(HV_HYPERCALL_PORT)) : "memory");
    return static_cast<int64_t>(rax);
#else
#error "hv guest hypercalls are x86-64 only"
#endif
}

// Issues the hypercall in `slot` (which must be 8-byte aligned; hv_call_t is).
inline int64_t call(hv_call_t& slot) noexcept { return call_gpa(gpa_of(&slot)); }

// Fills `slot` for (group, op) with `req` as its argument struct: the slot is
// zeroed first, so _pad0, result and the bytes past `req` are zero as the ABI
// demands.
template <class Req>
inline void prepare(hv_call_t& slot, unsigned group, unsigned op, const Req& req) noexcept {
    static_assert(sizeof(Req) <= HV_CALL_ARGS_SIZE, "request does not fit a call slot");
    __builtin_memset(&slot, 0, sizeof slot);
    slot.group = static_cast<uint16_t>(group);
    slot.op = static_cast<uint16_t>(op);
    __builtin_memcpy(slot.args, &req, sizeof req);
}

// For ops without arguments (yield).
inline void prepare(hv_call_t& slot, unsigned group, unsigned op) noexcept {
    __builtin_memset(&slot, 0, sizeof slot);
    slot.group = static_cast<uint16_t>(group);
    slot.op = static_cast<uint16_t>(op);
}

// Copies the op's struct back out of a slot the monitor has answered.
template <class Req>
inline Req args_of(const hv_call_t& slot) noexcept {
    static_assert(sizeof(Req) <= HV_CALL_ARGS_SIZE, "request does not fit a call slot");
    Req req;
    __builtin_memcpy(&req, slot.args, sizeof req);
    return req;
}

// Prepares and issues one call; `req` receives the op's output fields.
template <class Req>
inline int64_t call_op(unsigned group, unsigned op, Req& req) noexcept {
    hv_call_t slot;
    prepare(slot, group, op, req);
    const int64_t r = call(slot);
    req = args_of<Req>(slot);
    return r;
}

// --- discovery -------------------------------------------------------------

// True when CPUID leaf HV_CPUID_BASE carries hv's signature.
inline bool detect_cpuid() noexcept {
    uint32_t a = HV_CPUID_BASE, b, c = 0, d;
    asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return b == HV_CPUID_SIGNATURE_EBX && c == HV_CPUID_SIGNATURE_ECX && d == HV_CPUID_SIGNATURE_EDX;
}

// True when a version_get hypercall is answered as hv answers it. Elsewhere
// the `out` goes to an unassigned port and changes nothing: rax keeps the
// slot's (nonzero) address and the slot keeps its sentinel result.
inline bool detect_hypercall() noexcept {
    hv_call_t slot;
    prepare(slot, HV_GROUP_VERSION, HV_VERSION_OP_GET);
    slot.result = HV_ENOSYS; // sentinel; hv overwrites it
    const int64_t r = call(slot);
    return r == HV_OK && slot.result == HV_OK && args_of<hv_version_get_t>(slot).abi_version == HV_ABI_VERSION;
}

// Whether this guest runs on hv. CPUID first; then the hypercall probe,
// because CPUID is not always the monitor's to answer: under this project's
// nested KVM (kvm_pvm) guest ring-3 CPUID runs natively and reports the
// outer hypervisor. The probe costs one exit, and writes to port
// HV_HYPERCALL_PORT, so call it only where that port is not a real device
// (hv, QEMU microvm, ...). Callers cache the answer.
inline bool detect() noexcept { return detect_cpuid() || detect_hypercall(); }

// --- version group ---------------------------------------------------------

inline int64_t version_get(hv_version_get_t& out) noexcept {
    out = hv_version_get_t{};
    return call_op(HV_GROUP_VERSION, HV_VERSION_OP_GET, out);
}

// `version` receives the group's version; HV_ENOENT for an unknown group.
inline int64_t version_group(uint32_t group, uint32_t& version) noexcept {
    hv_version_group_t req{group, 0};
    const int64_t r = call_op(HV_GROUP_VERSION, HV_VERSION_OP_GROUP, req);
    version = req.version;
    return r;
}

inline int64_t features(uint64_t& out) noexcept {
    hv_version_features_t req{};
    const int64_t r = call_op(HV_GROUP_VERSION, HV_VERSION_OP_FEATURES, req);
    out = req.features;
    return r;
}

inline int64_t self(hv_version_self_t& out) noexcept {
    out = hv_version_self_t{};
    return call_op(HV_GROUP_VERSION, HV_VERSION_OP_SELF, out);
}

// --- console_io ------------------------------------------------------------

inline void prepare_console_write(hv_call_t& slot, const char* buf, uint32_t len) noexcept {
    prepare(slot, HV_GROUP_CONSOLE_IO, HV_CONSOLE_IO_OP_WRITE, hv_console_io_t{{gpa_of(buf)}, len, 0});
}

// Result: len on success.
inline int64_t console_write(const char* buf, uint32_t len) noexcept {
    hv_call_t slot;
    prepare_console_write(slot, buf, len);
    return call(slot);
}

// Result: bytes taken (0 when no input is pending); never blocks.
inline int64_t console_read(char* buf, uint32_t len) noexcept {
    hv_call_t slot;
    prepare(slot, HV_GROUP_CONSOLE_IO, HV_CONSOLE_IO_OP_READ, hv_console_io_t{{gpa_of(buf)}, len, 0});
    return call(slot);
}

// --- sched_op --------------------------------------------------------------

inline int64_t yield() noexcept {
    hv_call_t slot;
    prepare(slot, HV_GROUP_SCHED_OP, HV_SCHED_OP_YIELD);
    return call(slot);
}

// Sleeps until a domain event or timeout_ns (0 = none). HV_OK with
// out.events != 0, or HV_ETIMEDOUT. Takes the domain's pending events: a
// caller that gets HV_EVENT_SHUTDOWN_REQUEST owns that request.
inline int64_t block(uint64_t timeout_ns, hv_sched_block_t& out) noexcept {
    out = hv_sched_block_t{};
    out.timeout_ns = timeout_ns;
    return call_op(HV_GROUP_SCHED_OP, HV_SCHED_OP_BLOCK, out);
}

// Does not return on success; returns the error otherwise (HV_EINVAL for an
// unknown reason).
inline int64_t shutdown(uint32_t reason) noexcept {
    hv_call_t slot;
    prepare(slot, HV_GROUP_SCHED_OP, HV_SCHED_OP_SHUTDOWN, hv_sched_shutdown_t{reason, 0});
    return call(slot);
}

// --- vcpu_op ---------------------------------------------------------------

inline int64_t vcpu_is_up(uint32_t vcpu, bool& up) noexcept {
    hv_vcpu_is_up_t req{vcpu, 0};
    const int64_t r = call_op(HV_GROUP_VCPU_OP, HV_VCPU_OP_IS_UP, req);
    up = req.up != 0;
    return r;
}

inline int64_t vcpu_current(hv_vcpu_current_t& out) noexcept {
    out = hv_vcpu_current_t{};
    return call_op(HV_GROUP_VCPU_OP, HV_VCPU_OP_CURRENT, out);
}

// Starts an offline vCPU in 64-bit ring 0 at req.rip (see vcpu_op.h).
inline int64_t vcpu_up(const hv_vcpu_up_t& req) noexcept {
    hv_call_t slot;
    prepare(slot, HV_GROUP_VCPU_OP, HV_VCPU_OP_UP, req);
    return call(slot);
}

// How many vCPUs the control plane wants online (xl vcpu-set), and the
// most there may be.
inline int64_t vcpu_target(hv_vcpu_target_t& out) noexcept {
    out = hv_vcpu_target_t{};
    return call_op(HV_GROUP_VCPU_OP, HV_VCPU_OP_TARGET, out);
}

// Takes the calling vCPU (`self`) offline; returns only on failure. A
// later vcpu_up starts it afresh.
inline int64_t vcpu_down(uint32_t self) noexcept {
    hv_call_t slot;
    prepare(slot, HV_GROUP_VCPU_OP, HV_VCPU_OP_DOWN, hv_vcpu_down_t{self, 0});
    return call(slot);
}

// --- multicall -------------------------------------------------------------

// Runs `count` prepared slots in one exit; each slot's result lands in its
// own .result. Returns the number of slots run, or an error for the batch.
inline int64_t multicall(hv_call_t* slots, uint32_t count) noexcept {
    hv_call_t slot;
    prepare(slot, HV_GROUP_MULTICALL, HV_MULTICALL_OP_CALL, hv_multicall_t{{gpa_of(slots)}, count, 0});
    return call(slot);
}

} // namespace hv::guest
