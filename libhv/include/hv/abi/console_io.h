/* hv guest ABI: console_io group (HV_GROUP_CONSOLE_IO). */
#ifndef HV_ABI_CONSOLE_IO_H
#define HV_ABI_CONSOLE_IO_H

#include "common.h"

#define HV_CONSOLE_IO_GROUP_VERSION 1u

#define HV_CONSOLE_IO_OP_WRITE 0u /* hv_console_io_t */
#define HV_CONSOLE_IO_OP_READ 1u  /* hv_console_io_t */

/* Longest buffer one call may name; longer gets HV_E2BIG. */
#define HV_CONSOLE_IO_MAX 4096u

/* WRITE: append len bytes at buf to the domain's console; result = len.
 * READ: take up to len bytes of pending console input into buf, without
 * blocking; result = bytes taken (0 when none is pending).
 * HV_EFAULT when [buf, buf+len) is not guest RAM. */
typedef struct hv_console_io {
    hv_gpa_t buf;
    uint32_t len;
    uint32_t _pad0; /* must be zero */
} hv_console_io_t;
HV_STATIC_ASSERT(sizeof(hv_console_io_t) == 16, "hv_console_io_t size");
HV_STATIC_ASSERT(offsetof(hv_console_io_t, len) == 8, "hv_console_io_t.len");
HV_STATIC_ASSERT(offsetof(hv_console_io_t, _pad0) == 12, "hv_console_io_t._pad0");

#endif /* HV_ABI_CONSOLE_IO_H */
