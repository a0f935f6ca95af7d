/* hv guest ABI: vcpu_op group (HV_GROUP_VCPU_OP). */
#ifndef HV_ABI_VCPU_OP_H
#define HV_ABI_VCPU_OP_H

#include "common.h"

/* 2: DOWN and TARGET (vCPU hotplug, HV_FEATURE_VCPU_HOTPLUG). */
#define HV_VCPU_OP_GROUP_VERSION 2u

#define HV_VCPU_OP_IS_UP 0u   /* hv_vcpu_is_up_t */
#define HV_VCPU_OP_CURRENT 1u /* hv_vcpu_current_t */
#define HV_VCPU_OP_UP 2u      /* hv_vcpu_up_t */
#define HV_VCPU_OP_DOWN 3u    /* hv_vcpu_down_t */
#define HV_VCPU_OP_TARGET 4u  /* hv_vcpu_target_t */

/* IS_UP: whether a vCPU is running guest code. HV_ENOENT past max_vcpus. */
typedef struct hv_vcpu_is_up {
    uint32_t vcpu; /* in */
    uint32_t up;   /* out: 1 or 0 */
} hv_vcpu_is_up_t;
HV_STATIC_ASSERT(sizeof(hv_vcpu_is_up_t) == 8, "hv_vcpu_is_up_t size");
HV_STATIC_ASSERT(offsetof(hv_vcpu_is_up_t, up) == 4, "hv_vcpu_is_up_t.up");

/* CURRENT: the calling vCPU's id and the domain's vCPU count. */
typedef struct hv_vcpu_current {
    uint32_t vcpu;      /* out */
    uint32_t max_vcpus; /* out */
} hv_vcpu_current_t;
HV_STATIC_ASSERT(sizeof(hv_vcpu_current_t) == 8, "hv_vcpu_current_t size");
HV_STATIC_ASSERT(offsetof(hv_vcpu_current_t, max_vcpus) == 4, "hv_vcpu_current_t.max_vcpus");

/* UP: start an offline vCPU (like Xen's VCPUOP_initialise + VCPUOP_up).
 * It starts in 64-bit ring 0 with the caller's GDT, IDT, CR0, CR4 and EFER,
 * code_sel/data_sel as its flat ring-0 selectors, the given cr3, rip and
 * rsp, rdi = arg, interrupts off. HV_ENOENT past max_vcpus, HV_EBUSY when
 * already up, HV_EINVAL for a null selector or a non-canonical rip/rsp,
 * HV_EFAULT when cr3 is not guest RAM. */
typedef struct hv_vcpu_up {
    uint32_t vcpu;
    uint16_t code_sel;
    uint16_t data_sel;
    uint64_t rip;
    uint64_t rsp;
    uint64_t cr3;
    uint64_t arg;
} hv_vcpu_up_t;
HV_STATIC_ASSERT(sizeof(hv_vcpu_up_t) == 40, "hv_vcpu_up_t size");
HV_STATIC_ASSERT(offsetof(hv_vcpu_up_t, code_sel) == 4, "hv_vcpu_up_t.code_sel");
HV_STATIC_ASSERT(offsetof(hv_vcpu_up_t, data_sel) == 6, "hv_vcpu_up_t.data_sel");
HV_STATIC_ASSERT(offsetof(hv_vcpu_up_t, rip) == 8, "hv_vcpu_up_t.rip");
HV_STATIC_ASSERT(offsetof(hv_vcpu_up_t, rsp) == 16, "hv_vcpu_up_t.rsp");
HV_STATIC_ASSERT(offsetof(hv_vcpu_up_t, cr3) == 24, "hv_vcpu_up_t.cr3");
HV_STATIC_ASSERT(offsetof(hv_vcpu_up_t, arg) == 32, "hv_vcpu_up_t.arg");

/* DOWN: the calling vCPU goes offline (like Xen's VCPUOP_down from the
 * dying CPU itself). On success the call does not return: the vCPU stops
 * executing, IS_UP reports 0, and a later UP starts it afresh. `vcpu` must
 * be the caller (HV_EINVAL otherwise, and inside a multicall); vCPU 0 takes
 * the domain's events and stays up (HV_EBUSY). */
typedef struct hv_vcpu_down {
    uint32_t vcpu;
    uint32_t _pad0;
} hv_vcpu_down_t;
HV_STATIC_ASSERT(sizeof(hv_vcpu_down_t) == 8, "hv_vcpu_down_t size");
HV_STATIC_ASSERT(offsetof(hv_vcpu_down_t, _pad0) == 4, "hv_vcpu_down_t._pad0");

/* TARGET: how many vCPUs the control plane wants online (vCPUs 0 ..
 * online-1: xl vcpu-set's meaning, Xen's cpu/N/availability). When it
 * changes, HV_EVENT_VCPU_TARGET is raised on every vCPU that is up; a
 * cooperating guest starts the missing ones with UP and the ones at or
 * past the target take themselves DOWN. Input fields must be zero. */
typedef struct hv_vcpu_target {
    uint32_t online;    /* out */
    uint32_t max_vcpus; /* out */
} hv_vcpu_target_t;
HV_STATIC_ASSERT(sizeof(hv_vcpu_target_t) == 8, "hv_vcpu_target_t size");
HV_STATIC_ASSERT(offsetof(hv_vcpu_target_t, max_vcpus) == 4, "hv_vcpu_target_t.max_vcpus");

#endif /* HV_ABI_VCPU_OP_H */
