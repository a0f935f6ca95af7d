/* hv guest ABI: multicall group (HV_GROUP_MULTICALL): many ops, one exit.
 * An exit costs ~100 us from guest ring 3 on the hosted platform, so a
 * guest batches what it can. */
#ifndef HV_ABI_MULTICALL_H
#define HV_ABI_MULTICALL_H

#include "common.h"

#define HV_MULTICALL_GROUP_VERSION 1u

#define HV_MULTICALL_OP_CALL 0u /* hv_multicall_t */

/* Most slots one multicall may carry; more gets HV_E2BIG. */
#define HV_MULTICALL_MAX 128u

/* Console bytes (console_io read and write) one multicall moves in one
 * exit before the monitor preempts it (at least one slot always runs). */
#define HV_MULTICALL_CONSOLE_BUDGET 16384u

/* CALL: run `count` hv_call_t slots at `calls` in order; each slot gets its
 * own result. A nested multicall or a sched_op BLOCK in a slot gets
 * HV_EINVAL. A successful SHUTDOWN ends the batch: later slots get
 * HV_ECANCELED. Result: the number of slots run. HV_EFAULT when the array
 * is not guest RAM or not 8-byte aligned.
 * Continuation (Xen's multicall preemption): once the slots run have moved
 * HV_MULTICALL_CONSOLE_BUDGET console bytes, the monitor stops after that
 * slot and the result is smaller than `count`; the slots after it are not
 * touched (their result fields keep what the guest wrote). The guest
 * re-issues the rest (calls + result * 64, count - result), so one exit
 * never runs unbounded work. */
typedef struct hv_multicall {
    hv_gpa_t calls;
    uint32_t count;
    uint32_t _pad0; /* must be zero */
} hv_multicall_t;
HV_STATIC_ASSERT(sizeof(hv_multicall_t) == 16, "hv_multicall_t size");
HV_STATIC_ASSERT(offsetof(hv_multicall_t, count) == 8, "hv_multicall_t.count");
HV_STATIC_ASSERT(offsetof(hv_multicall_t, _pad0) == 12, "hv_multicall_t._pad0");

#endif /* HV_ABI_MULTICALL_H */
