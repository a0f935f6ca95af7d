/* hv guest ABI: every group. */
#ifndef HV_ABI_HV_H
#define HV_ABI_HV_H
#include "common.h"
#include "console_io.h"
#include "multicall.h"
#include "pvh.h"
#include "sched_op.h"
#include "vcpu_op.h"
#include "version.h"
#endif
