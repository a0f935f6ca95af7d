/* hv guest ABI, common part: transport, call slot, result codes.
 *
 * Plain C11/C++20 header, freestanding: fixed-width fields, explicit zeroed
 * padding, no pointers (guest addresses are hv_gpa_t), every layout pinned by
 * static assertions. See docs/abi.md for the rules and the bump policy. */
#ifndef HV_ABI_COMMON_H
#define HV_ABI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define HV_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define HV_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* Global ABI version: bumped only when the transport or the call slot
 * changes incompatibly. Groups carry their own versions (HV_*_GROUP_VERSION),
 * bumped when an op is added (minor: old guests keep working) -- see
 * docs/abi.md "Versioning". */
#define HV_ABI_VERSION 1u

/* Discovery: CPUID leaf HV_CPUID_BASE returns the max leaf in eax and the
 * signature "HvMonitorHvM" in ebx, ecx, edx (like Xen's and KVM's leaves).
 * Leaf HV_CPUID_BASE + 1 returns eax = HV_ABI_VERSION, ebx = the hypercall
 * port. Execute it from ring 0: on nested hosts (the project's own) CPUID
 * from guest ring 3 may not be intercepted and shows the outer
 * hypervisor's leaves. A ring-3 guest can instead probe with
 * HV_VERSION_OP_GET: on hv it returns HV_OK and abi_version; elsewhere the
 * port write is ignored and rax keeps the slot address. */
#define HV_CPUID_BASE 0x40000000u
#define HV_CPUID_SIGNATURE_EBX 0x6f4d7648u /* "HvMo" */
#define HV_CPUID_SIGNATURE_ECX 0x6f74696eu /* "nito" */
#define HV_CPUID_SIGNATURE_EDX 0x4d764872u /* "rHvM" */

/* Hosted transport: the guest puts the guest-physical address of an
 * hv_call_t in rax and executes a 32-bit `out` to this port (any value).
 * The monitor validates the slot, runs the op, writes hv_call_t.result and
 * also returns the result in rax (so a call whose slot address is bad still
 * gets HV_EFAULT). Works from ring 3 when the guest allows it: IOPL=3 and,
 * as some nested hosts check it too, a TSS I/O permission bitmap that
 * clears the port. */
#define HV_HYPERCALL_PORT 0x0e90u

/* Result codes: 0 or a positive op-defined value on success, negative
 * errno-style codes on failure. */
#define HV_OK 0
#define HV_EPERM (-1)
#define HV_ENOENT (-2)
#define HV_E2BIG (-7)
#define HV_EAGAIN (-11)
#define HV_EFAULT (-14)
#define HV_EBUSY (-16)
#define HV_EINVAL (-22)
#define HV_ENOSYS (-38)
#define HV_ETIMEDOUT (-110)
#define HV_ECANCELED (-125)

/* A guest-physical address, typed so it is never confused with a length. */
typedef struct hv_gpa {
    uint64_t addr;
} hv_gpa_t;
HV_STATIC_ASSERT(sizeof(hv_gpa_t) == 8, "hv_gpa_t size");

/* Op groups. */
#define HV_GROUP_VERSION 0u
#define HV_GROUP_CONSOLE_IO 1u
#define HV_GROUP_SCHED_OP 2u
#define HV_GROUP_VCPU_OP 3u
#define HV_GROUP_MULTICALL 4u
#define HV_GROUP_COUNT 5u

/* Size of the op-specific argument area of a call slot. Every request
 * struct fits in it; bytes beyond the op's struct must be zero. */
#define HV_CALL_ARGS_SIZE 48u

/* One call slot: 64 bytes, 8-byte aligned in guest memory. */
typedef struct hv_call {
    uint16_t group;    /* HV_GROUP_* */
    uint16_t op;       /* op within the group */
    uint32_t _pad0;    /* must be zero */
    int64_t result;    /* written by the monitor */
    uint64_t args[HV_CALL_ARGS_SIZE / 8]; /* the op's request struct */
} hv_call_t;
HV_STATIC_ASSERT(sizeof(hv_call_t) == 64, "hv_call_t size");
HV_STATIC_ASSERT(offsetof(hv_call_t, group) == 0, "hv_call_t.group");
HV_STATIC_ASSERT(offsetof(hv_call_t, op) == 2, "hv_call_t.op");
HV_STATIC_ASSERT(offsetof(hv_call_t, _pad0) == 4, "hv_call_t._pad0");
HV_STATIC_ASSERT(offsetof(hv_call_t, result) == 8, "hv_call_t.result");
HV_STATIC_ASSERT(offsetof(hv_call_t, args) == 16, "hv_call_t.args");

#endif /* HV_ABI_COMMON_H */
