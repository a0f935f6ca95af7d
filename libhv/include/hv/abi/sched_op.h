/* hv guest ABI: sched_op group (HV_GROUP_SCHED_OP). */
#ifndef HV_ABI_SCHED_OP_H
#define HV_ABI_SCHED_OP_H

#include "common.h"

/* 2: block may deliver HV_EVENT_VCPU_TARGET (vCPU hotplug). */
#define HV_SCHED_OP_GROUP_VERSION 2u

#define HV_SCHED_OP_YIELD 0u    /* no arguments */
#define HV_SCHED_OP_BLOCK 1u    /* hv_sched_block_t */
#define HV_SCHED_OP_SHUTDOWN 2u /* hv_sched_shutdown_t */

/* Event bits, delivered by HV_SCHED_OP_BLOCK. */
#define HV_EVENT_SHUTDOWN_REQUEST (1ull << 0) /* the control plane asks for a shutdown */
#define HV_EVENT_CONSOLE_INPUT (1ull << 1)    /* console input is pending */
#define HV_EVENT_VCPU_TARGET (1ull << 2)      /* the online-vCPU target changed (vcpu_op.h) */
#define HV_EVENT_ALL (HV_EVENT_SHUTDOWN_REQUEST | HV_EVENT_CONSOLE_INPUT | HV_EVENT_VCPU_TARGET)

/* Shutdown reasons; the same numbers as Xen's SHUTDOWN_*. */
#define HV_SHUTDOWN_POWEROFF 0u
#define HV_SHUTDOWN_REBOOT 1u
#define HV_SHUTDOWN_SUSPEND 2u
#define HV_SHUTDOWN_CRASH 3u
#define HV_SHUTDOWN_REASON_COUNT 4u

/* BLOCK: sleep until an event is pending for the domain or timeout_ns
 * passes (0 = no timeout). Takes and clears the pending events of the
 * domain. Result HV_OK with events != 0, or HV_ETIMEDOUT with events == 0.
 * Not allowed inside a multicall (HV_EINVAL). */
typedef struct hv_sched_block {
    uint64_t timeout_ns;       /* in */
    uint64_t events;           /* out: HV_EVENT_* taken */
    uint32_t shutdown_request; /* out: HV_SHUTDOWN_* asked for, valid with HV_EVENT_SHUTDOWN_REQUEST */
    uint32_t _pad0;            /* must be zero */
} hv_sched_block_t;
HV_STATIC_ASSERT(sizeof(hv_sched_block_t) == 24, "hv_sched_block_t size");
HV_STATIC_ASSERT(offsetof(hv_sched_block_t, events) == 8, "hv_sched_block_t.events");
HV_STATIC_ASSERT(offsetof(hv_sched_block_t, shutdown_request) == 16, "hv_sched_block_t.shutdown_request");
HV_STATIC_ASSERT(offsetof(hv_sched_block_t, _pad0) == 20, "hv_sched_block_t._pad0");

/* SHUTDOWN: stop the whole domain with a reason; does not return on
 * success. HV_EINVAL for an unknown reason. */
typedef struct hv_sched_shutdown {
    uint32_t reason; /* HV_SHUTDOWN_* */
    uint32_t _pad0;  /* must be zero */
} hv_sched_shutdown_t;
HV_STATIC_ASSERT(sizeof(hv_sched_shutdown_t) == 8, "hv_sched_shutdown_t size");
HV_STATIC_ASSERT(offsetof(hv_sched_shutdown_t, _pad0) == 4, "hv_sched_shutdown_t._pad0");

#endif /* HV_ABI_SCHED_OP_H */
