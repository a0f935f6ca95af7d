/* hv guest ABI: version/features group (HV_GROUP_VERSION). */
#ifndef HV_ABI_VERSION_H
#define HV_ABI_VERSION_H

#include "common.h"

#define HV_VERSION_GROUP_VERSION 1u

#define HV_VERSION_OP_GET 0u      /* hv_version_get_t */
#define HV_VERSION_OP_GROUP 1u    /* hv_version_group_t */
#define HV_VERSION_OP_FEATURES 2u /* hv_version_features_t */
#define HV_VERSION_OP_SELF 3u     /* hv_version_self_t */

/* HV_VERSION_OP_GET: the global ABI version. Result HV_OK. */
typedef struct hv_version_get {
    uint32_t abi_version; /* out: HV_ABI_VERSION */
    uint32_t group_count; /* out: HV_GROUP_COUNT */
} hv_version_get_t;
HV_STATIC_ASSERT(sizeof(hv_version_get_t) == 8, "hv_version_get_t size");
HV_STATIC_ASSERT(offsetof(hv_version_get_t, group_count) == 4, "hv_version_get_t.group_count");

/* HV_VERSION_OP_GROUP: one group's version. HV_ENOENT for an unknown group. */
typedef struct hv_version_group {
    uint32_t group;   /* in: HV_GROUP_* */
    uint32_t version; /* out */
} hv_version_group_t;
HV_STATIC_ASSERT(sizeof(hv_version_group_t) == 8, "hv_version_group_t size");
HV_STATIC_ASSERT(offsetof(hv_version_group_t, version) == 4, "hv_version_group_t.version");

/* Feature bits (hv_version_features_t.features). */
#define HV_FEATURE_CONSOLE_IO (1ull << 0)
#define HV_FEATURE_MULTICALL (1ull << 1)
#define HV_FEATURE_VCPU_UP (1ull << 2)
#define HV_FEATURE_BLOCK_TIMEOUT (1ull << 3)
#define HV_FEATURE_VCPU_HOTPLUG (1ull << 4) /* vcpu_op DOWN and TARGET, HV_EVENT_VCPU_TARGET */

/* HV_VERSION_OP_FEATURES: the features this monitor offers. Result HV_OK. */
typedef struct hv_version_features {
    uint64_t features; /* out: HV_FEATURE_* */
} hv_version_features_t;
HV_STATIC_ASSERT(sizeof(hv_version_features_t) == 8, "hv_version_features_t size");

/* HV_VERSION_OP_SELF: who the calling domain is. Result HV_OK. */
typedef struct hv_version_self {
    uint32_t domid;     /* out */
    uint32_t max_vcpus; /* out: vCPUs the domain was created with */
    uint8_t uuid[16];   /* out: RFC 4122 byte order */
} hv_version_self_t;
HV_STATIC_ASSERT(sizeof(hv_version_self_t) == 24, "hv_version_self_t size");
HV_STATIC_ASSERT(offsetof(hv_version_self_t, max_vcpus) == 4, "hv_version_self_t.max_vcpus");
HV_STATIC_ASSERT(offsetof(hv_version_self_t, uuid) == 8, "hv_version_self_t.uuid");

#endif /* HV_ABI_VERSION_H */
