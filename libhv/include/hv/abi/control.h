/* hv control ABI v1: the typed domctl/sysctl ops the control plane (hvd,
 * hvctl, the SDK) speaks over a unix socket. Tools only: a guest has no
 * business with it.
 *
 * Framing: every message is an hv_ctl_header_t followed by `length`
 * payload bytes (at most HV_CTL_MAX_PAYLOAD). A request's payload is the
 * op's request struct, then the op's trailer (strings are not
 * NUL-terminated; their lengths are fields of the struct). A reply echoes
 * `op` and `request_id`, carries the result in `status` (HV_OK or a
 * negative HV_E*), and on failure its payload is a UTF-8 message. Event
 * frames (kind HV_CTL_EVENT, request_id 0) arrive only on a connection that
 * subscribed. Little-endian, as the host. See docs/abi.md "Control ABI". */
#ifndef HV_ABI_CONTROL_H
#define HV_ABI_CONTROL_H

#if defined(HV_GUEST)
#error "hv/abi/control.h is the control-plane ABI; guests use the guest ABI headers"
#endif

#include "common.h"
#include "sched_op.h"

#define HV_CTL_MAGIC 0x50435648u /* "HVCP" */
#define HV_CTL_VERSION 1u        /* the newest protocol version this header describes */
#define HV_CTL_MAX_PAYLOAD (1u << 20)
#define HV_CTL_NAME_MAX 64u      /* domain names, NUL-padded */

/* More result codes for the control plane (the guest ABI's are reused).
 * Each maps to one hv::Errc (hv/sdk/wire_types.hpp). */
#define HV_EIO (-5)       /* io_error */
#define HV_ENOEXEC (-8)   /* bad_image */
#define HV_EACCES (-13)   /* permission_denied */
#define HV_EEXIST (-17)   /* exists */
#define HV_ENODEV (-19)   /* platform_error */
#define HV_EPROTO (-71)   /* protocol_error */
#define HV_EBADMSG (-74)  /* parse_error */
#define HV_ENOTSUP (-95)  /* not_supported */

#define HV_CTL_REQUEST 1u
#define HV_CTL_REPLY 2u
#define HV_CTL_EVENT 3u

typedef struct hv_ctl_header {
    uint32_t magic;      /* HV_CTL_MAGIC */
    uint16_t version;    /* negotiated version (HV_CTL_VERSION in HELLO) */
    uint16_t kind;       /* HV_CTL_REQUEST / REPLY / EVENT */
    uint32_t op;         /* HV_SYSCTL_* / HV_DOMCTL_* */
    uint32_t request_id; /* chosen by the client, echoed in the reply */
    int32_t status;      /* reply: HV_OK or HV_E*; request and event: 0 */
    uint32_t length;     /* payload bytes that follow */
} hv_ctl_header_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_header_t) == 24, "hv_ctl_header_t size");
HV_STATIC_ASSERT(offsetof(hv_ctl_header_t, op) == 8, "hv_ctl_header_t.op");
HV_STATIC_ASSERT(offsetof(hv_ctl_header_t, request_id) == 12, "hv_ctl_header_t.request_id");
HV_STATIC_ASSERT(offsetof(hv_ctl_header_t, status) == 16, "hv_ctl_header_t.status");
HV_STATIC_ASSERT(offsetof(hv_ctl_header_t, length) == 20, "hv_ctl_header_t.length");

/* Op numbers: group in the high 16 bits. */
#define HV_CTL_GROUP_SYSCTL 0x0001u
#define HV_CTL_GROUP_DOMCTL 0x0002u
/* 0x0003 is the events' group (below). */
#define HV_CTL_GROUP_SCHEDCTL 0x0004u
#define HV_CTL_OP(group, n) (((group) << 16) | (n##u))

/* sysctl */
#define HV_SYSCTL_HELLO HV_CTL_OP(HV_CTL_GROUP_SYSCTL, 1)     /* hv_ctl_hello_t -> hv_ctl_hello_t */
#define HV_SYSCTL_PHYSINFO HV_CTL_OP(HV_CTL_GROUP_SYSCTL, 2)  /* none -> hv_ctl_physinfo_t */
#define HV_SYSCTL_DMESG HV_CTL_OP(HV_CTL_GROUP_SYSCTL, 3)     /* none -> text */
#define HV_SYSCTL_SUBSCRIBE HV_CTL_OP(HV_CTL_GROUP_SYSCTL, 4) /* hv_ctl_subscribe_t -> none; then events */

/* domctl */
#define HV_DOMCTL_CREATE HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 1)   /* hv_ctl_create_t + dir + text -> hv_ctl_domid_t */
#define HV_DOMCTL_DESTROY HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 2)  /* hv_ctl_domid_t -> none */
#define HV_DOMCTL_PAUSE HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 3)    /* hv_ctl_domid_t -> none */
#define HV_DOMCTL_UNPAUSE HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 4)  /* hv_ctl_domid_t -> none */
#define HV_DOMCTL_SHUTDOWN HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 5) /* hv_ctl_shutdown_t -> none */
#define HV_DOMCTL_RENAME HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 6)   /* hv_ctl_rename_t -> none */
#define HV_DOMCTL_INFO HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 7)     /* hv_ctl_domid_t -> hv_ctl_domain_info_t */
#define HV_DOMCTL_LIST HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 8)     /* none -> hv_ctl_domain_info_t[] */
#define HV_DOMCTL_LOOKUP HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 9)   /* hv_ctl_lookup_t -> hv_ctl_domid_t */
#define HV_DOMCTL_CONSOLE_WRITE HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 10)   /* hv_ctl_console_t + bytes -> none */
#define HV_DOMCTL_CONSOLE_HISTORY HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 11) /* hv_ctl_console_t -> bytes */
#define HV_DOMCTL_WAIT HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 12)    /* hv_ctl_wait_t -> hv_ctl_domain_info_t */
/* Managed domains (xl new / start / delete): configs kept by hvd. */
#define HV_DOMCTL_DEFINE HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 13)       /* as CREATE -> none */
#define HV_DOMCTL_START HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 14)        /* hv_ctl_lookup_t (name) -> hv_ctl_domid_t */
#define HV_DOMCTL_UNDEFINE HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 15)     /* hv_ctl_lookup_t (name) -> none */
#define HV_DOMCTL_LIST_DEFINED HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 16) /* none -> names, one per line */
#define HV_DOMCTL_CREATE_SPEC HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 17)  /* hv_ctl_domain_spec_t + paths -> as CREATE */
#define HV_DOMCTL_VCPU_SET HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 18)     /* hv_ctl_vcpu_set_t -> none */
#define HV_DOMCTL_BLOCK_LIST HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 19)   /* hv_ctl_domid_t -> hv_ctl_block_info_t[] */
#define HV_DOMCTL_NETWORK_LIST HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 20) /* hv_ctl_domid_t -> hv_ctl_vif_info_t[] */
#define HV_DOMCTL_VIF_SET_RATE HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 21) /* hv_ctl_vif_rate_t -> none */
/* Hotplug (xl block-attach/-detach, network-attach/-detach) and a disk's
 * rate= / iops= changed while it runs. */
#define HV_DOMCTL_DEVICE_ATTACH HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 22)   /* hv_ctl_device_attach_t -> hv_ctl_device_id_t */
#define HV_DOMCTL_DEVICE_DETACH HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 23)   /* hv_ctl_device_detach_t -> none */
#define HV_DOMCTL_DISK_SET_LIMITS HV_CTL_OP(HV_CTL_GROUP_DOMCTL, 24) /* hv_ctl_disk_limits_t -> none */

/* HELLO: the first request on a connection. The client offers a range;
 * the server answers with the version both speak (in `max_version`, and in
 * every later header) or HV_EPROTO and closes. */
typedef struct hv_ctl_hello {
    uint16_t min_version;
    uint16_t max_version;
    uint32_t features; /* reply: HV_CTL_FEATURE_* */
    uint32_t server_pid; /* reply */
    uint32_t _pad0;
} hv_ctl_hello_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_hello_t) == 16, "hv_ctl_hello_t size");
HV_STATIC_ASSERT(offsetof(hv_ctl_hello_t, features) == 4, "hv_ctl_hello_t.features");

/* PHYSINFO's reply: the host the server (hvd, or an embedded monitor) runs
 * on, and the server's hv build. Figures the server could not learn are 0
 * (strings: empty). Strings are NUL-terminated in their fields (cut to
 * fit). Topology tables: entry i of cpu_* is host CPU i, for CPUs below
 * HV_CTL_PHYS_MAX_CPUS, HV_CTL_PHYS_UNKNOWN where not known (no such CPU,
 * offline); entry n of node_* is NUMA node n, for nodes below
 * HV_CTL_PHYS_MAX_NODES whose bit is set in node_mask. The first 32 bytes
 * are the v1 reply as first published; the rest was added in v1 too. */
#define HV_CTL_PHYS_MAX_CPUS 256u
#define HV_CTL_PHYS_MAX_NODES 16u
#define HV_CTL_PHYS_UNKNOWN 0xffffu

typedef struct hv_ctl_physinfo {
    uint32_t nr_cpus;          /* online CPUs */
    uint32_t nr_domains;
    uint64_t total_mib;
    uint64_t free_mib;
    uint32_t abi_version;      /* HV_ABI_VERSION (guest ABI) */
    uint32_t ctl_version;      /* negotiated control version */
    uint32_t nr_nodes;         /* NUMA nodes (1 on a kernel without NUMA) */
    uint32_t cores_per_socket;
    uint32_t threads_per_core;
    uint32_t cpu_khz;          /* CPU 0's clock as the host kernel reports it */
    uint32_t hv_major;         /* the server's hv version: major.minor + extra */
    uint32_t hv_minor;
    uint32_t node_mask;        /* bit n: node n's node_* entries are filled */
    uint32_t _pad0;
    char hv_extra[16];         /* e.g. ".0" of 0.1.0 */
    char scheduler[16];        /* hv's vCPU scheduler; "none": the host kernel's */
    char host[64];             /* uname(2) of the server's host */
    char release[64];
    char version[128];
    char machine[32];
    uint16_t cpu_node[HV_CTL_PHYS_MAX_CPUS];   /* NUMA node of each CPU */
    uint16_t cpu_core[HV_CTL_PHYS_MAX_CPUS];   /* core id within its socket */
    uint16_t cpu_socket[HV_CTL_PHYS_MAX_CPUS]; /* physical package id */
    uint64_t node_total_mib[HV_CTL_PHYS_MAX_NODES];
    uint64_t node_free_mib[HV_CTL_PHYS_MAX_NODES];
    uint8_t node_distance[HV_CTL_PHYS_MAX_NODES][HV_CTL_PHYS_MAX_NODES]; /* [from][to], SLIT units; 0: unknown */
} hv_ctl_physinfo_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_physinfo_t) == 2432, "hv_ctl_physinfo_t size");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, nr_domains) == 4, "hv_ctl_physinfo_t.nr_domains");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, total_mib) == 8, "hv_ctl_physinfo_t.total_mib");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, free_mib) == 16, "hv_ctl_physinfo_t.free_mib");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, abi_version) == 24, "hv_ctl_physinfo_t.abi_version");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, ctl_version) == 28, "hv_ctl_physinfo_t.ctl_version");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, nr_nodes) == 32, "hv_ctl_physinfo_t.nr_nodes");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, cores_per_socket) == 36, "hv_ctl_physinfo_t.cores_per_socket");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, threads_per_core) == 40, "hv_ctl_physinfo_t.threads_per_core");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, cpu_khz) == 44, "hv_ctl_physinfo_t.cpu_khz");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, hv_major) == 48, "hv_ctl_physinfo_t.hv_major");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, hv_minor) == 52, "hv_ctl_physinfo_t.hv_minor");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, node_mask) == 56, "hv_ctl_physinfo_t.node_mask");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, _pad0) == 60, "hv_ctl_physinfo_t._pad0");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, hv_extra) == 64, "hv_ctl_physinfo_t.hv_extra");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, scheduler) == 80, "hv_ctl_physinfo_t.scheduler");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, host) == 96, "hv_ctl_physinfo_t.host");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, release) == 160, "hv_ctl_physinfo_t.release");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, version) == 224, "hv_ctl_physinfo_t.version");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, machine) == 352, "hv_ctl_physinfo_t.machine");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, cpu_node) == 384, "hv_ctl_physinfo_t.cpu_node");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, cpu_core) == 896, "hv_ctl_physinfo_t.cpu_core");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, cpu_socket) == 1408, "hv_ctl_physinfo_t.cpu_socket");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, node_total_mib) == 1920, "hv_ctl_physinfo_t.node_total_mib");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, node_free_mib) == 2048, "hv_ctl_physinfo_t.node_free_mib");
HV_STATIC_ASSERT(offsetof(hv_ctl_physinfo_t, node_distance) == 2176, "hv_ctl_physinfo_t.node_distance");

#define HV_CTL_SUB_EVENTS (1u << 0)  /* domain events of every domain */
#define HV_CTL_SUB_CONSOLE (1u << 1) /* console bytes of `domid` (history first) */
/* With HV_CTL_SUB_CONSOLE, at most one: which console (else the default). */
#define HV_CTL_SUB_CONSOLE_SERIAL (1u << 2)
#define HV_CTL_SUB_CONSOLE_PV (1u << 3)

/* Which console of a domain (xl console -t): the default is the one the
 * guest's command line names last (console=ttyS* serial, console=hvc*
 * pv; pv without console= on a PC guest); on hv's PV machine both names
 * reach its one console. CONSOLE_WRITE and CONSOLE_HISTORY name it in
 * hv_ctl_console_t, laid out as hv_ctl_domid_t (0 there: the default). */
#define HV_CTL_CONSOLE_DEFAULT 0u
#define HV_CTL_CONSOLE_SERIAL 1u
#define HV_CTL_CONSOLE_PV 2u
typedef struct hv_ctl_console {
    uint32_t domid;
    uint32_t console; /* HV_CTL_CONSOLE_* */
} hv_ctl_console_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_console_t) == 8, "hv_ctl_console_t size");

typedef struct hv_ctl_subscribe {
    uint32_t flags;
    uint32_t domid; /* for HV_CTL_SUB_CONSOLE */
} hv_ctl_subscribe_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_subscribe_t) == 8, "hv_ctl_subscribe_t size");

#define HV_CTL_CREATE_PAUSED (1u << 0)
#define HV_CTL_CREATE_REPLACE (1u << 1) /* DEFINE: replace a managed domain of that name */

/* CREATE's reply: hv_ctl_domid_t, then the config's warnings (keys hv
 * accepts but does not act on), UTF-8, one per line.
 * CREATE: trailer = source_len bytes naming the config file (an absolute
 * path: errors cite it, relative paths in the config resolve against its
 * folder), text_len bytes of xl.cfg text, then overrides_len bytes of
 * xl-style KEY=VALUE overrides, one per line. */
typedef struct hv_ctl_create {
    uint32_t flags;
    uint32_t source_len;
    uint32_t text_len;
    uint32_t overrides_len;
} hv_ctl_create_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_create_t) == 16, "hv_ctl_create_t size");

/* on_poweroff / on_reboot / on_crash actions, as xl.cfg(5) names them. */
#define HV_CTL_ACTION_DESTROY 0u
#define HV_CTL_ACTION_RESTART 1u
#define HV_CTL_ACTION_PRESERVE 2u
#define HV_CTL_ACTION_RENAME_RESTART 3u
#define HV_CTL_ACTION_COREDUMP_DESTROY 4u
#define HV_CTL_ACTION_COREDUMP_RESTART 5u
#define HV_CTL_ACTION_SOFT_RESET 6u

#define HV_CTL_SPEC_UUID (1u << 16) /* CREATE_SPEC: uuid is set (else one is generated) */

/* CREATE_SPEC: a domain described field by field (the SDK's DomainSpec)
 * instead of by xl.cfg text. flags: HV_CTL_CREATE_PAUSED, HV_CTL_SPEC_UUID.
 * trailer = kernel_len bytes of the kernel's absolute path, ramdisk_len
 * bytes of the ramdisk's (0: none), cmdline_len bytes of the kernel
 * command line. The reply is CREATE's; an error names the field
 * ("DomainSpec.memory_mib: ..."). */
typedef struct hv_ctl_domain_spec {
    uint32_t flags;
    uint32_t vcpus;
    uint64_t memory_mib;
    uint8_t uuid[16];
    uint32_t on_poweroff; /* HV_CTL_ACTION_* */
    uint32_t on_reboot;
    uint32_t on_crash;
    uint32_t kernel_len;
    uint32_t ramdisk_len;
    uint32_t cmdline_len;
    char name[HV_CTL_NAME_MAX];
} hv_ctl_domain_spec_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_domain_spec_t) == 120, "hv_ctl_domain_spec_t size");

typedef struct hv_ctl_domid {
    uint32_t domid;
    uint32_t _pad0;
} hv_ctl_domid_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_domid_t) == 8, "hv_ctl_domid_t size");

#define HV_CTL_SHUTDOWN_WAIT (1u << 0)  /* reply when the domain has stopped */
#define HV_CTL_SHUTDOWN_FORCE (1u << 1) /* destroy it if it has not by timeout_ms */

typedef struct hv_ctl_shutdown {
    uint32_t domid;
    uint32_t reason;     /* HV_SHUTDOWN_POWEROFF or HV_SHUTDOWN_REBOOT */
    uint32_t flags;      /* HV_CTL_SHUTDOWN_* */
    uint32_t timeout_ms; /* with WAIT; HV_ETIMEDOUT when passed */
} hv_ctl_shutdown_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_shutdown_t) == 16, "hv_ctl_shutdown_t size");

typedef struct hv_ctl_rename {
    uint32_t domid;
    uint32_t _pad0;
    char name[HV_CTL_NAME_MAX];
} hv_ctl_rename_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_rename_t) == 72, "hv_ctl_rename_t size");

/* VCPU_SET (xl vcpu-set): ask the guest to have vCPUs 0..online-1 up,
 * 1 <= online <= the domain's maxvcpus. Replies once the guest has been
 * told (HV_EVENT_VCPU_TARGET), not when it has followed. */
typedef struct hv_ctl_vcpu_set {
    uint32_t domid;
    uint32_t online;
} hv_ctl_vcpu_set_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_vcpu_set_t) == 8, "hv_ctl_vcpu_set_t size");
HV_STATIC_ASSERT(offsetof(hv_ctl_vcpu_set_t, online) == 4, "hv_ctl_vcpu_set_t.online");

/* BLOCK_LIST: one record per disk, in the guest's order (xl block-list). */
#define HV_CTL_BLOCK_READ_ONLY (1u << 0) /* the guest may not write it */
#define HV_CTL_BLOCK_CONNECTED (1u << 1) /* the guest's driver has the device running */
#define HV_CTL_BLOCK_NAME_MAX 16u
#define HV_CTL_BLOCK_TARGET_MAX 1024u    /* configs with longer targets are refused */
typedef struct hv_ctl_block_info {
    uint32_t devid; /* Xen's number for the vdev (xen-vbd-interface(7)) */
    uint32_t flags; /* HV_CTL_BLOCK_* */
    uint64_t bytes; /* its size */
    char vdev[HV_CTL_BLOCK_NAME_MAX];  /* the config's name: xvda2 */
    char guest[HV_CTL_BLOCK_NAME_MAX]; /* the guest's: vda */
    char target[HV_CTL_BLOCK_TARGET_MAX]; /* the image or device */
} hv_ctl_block_info_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_block_info_t) == 1072, "hv_ctl_block_info_t size");
HV_STATIC_ASSERT(offsetof(hv_ctl_block_info_t, vdev) == 16, "hv_ctl_block_info_t.vdev");
HV_STATIC_ASSERT(offsetof(hv_ctl_block_info_t, target) == 48, "hv_ctl_block_info_t.target");

/* NETWORK_LIST: one record per vif, in the config's order (xl
 * network-list). Names are NUL-terminated in their fields: a TAP, bridge
 * or script name is at most 15 bytes (the host's IFNAMSIZ; create checks
 * vifname= and bridge=, and the script is vif-bridge or vif-route). `ips`
 * holds the vif's ip= addresses, blank-separated: create takes at most
 * 16, and HV_CTL_VIF_IPS_MAX holds 16 of the longest (255.255.255.255). */
#define HV_CTL_VIF_CONNECTED (1u << 0) /* the guest's driver has the device running */
#define HV_CTL_VIF_NAME_MAX 16u
#define HV_CTL_VIF_IPS_MAX 256u
typedef struct hv_ctl_vif_info {
    uint32_t devid;
    uint32_t flags;            /* HV_CTL_VIF_* */
    uint8_t mac[6];
    uint16_t _pad0;
    uint32_t mtu;              /* 0: not set (1500) */
    uint32_t rate_interval_us; /* the transmit limit: rate_bytes per this */
    uint64_t rate_bytes;       /* 0: no limit */
    uint64_t rx_frames;        /* to the guest */
    uint64_t rx_bytes;
    uint64_t rx_dropped;
    uint64_t tx_frames;        /* from the guest */
    uint64_t tx_bytes;
    uint64_t tx_dropped;
    char tap[HV_CTL_VIF_NAME_MAX];    /* the host's interface: vif<domid>.<devid> or vifname= */
    char bridge[HV_CTL_VIF_NAME_MAX]; /* "" when routed */
    char script[HV_CTL_VIF_NAME_MAX]; /* vif-bridge or vif-route */
    char ips[HV_CTL_VIF_IPS_MAX];     /* ip=, blank-separated; "" for none */
} hv_ctl_vif_info_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_vif_info_t) == 384, "hv_ctl_vif_info_t size");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_info_t, flags) == 4, "hv_ctl_vif_info_t.flags");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_info_t, mac) == 8, "hv_ctl_vif_info_t.mac");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_info_t, _pad0) == 14, "hv_ctl_vif_info_t._pad0");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_info_t, mtu) == 16, "hv_ctl_vif_info_t.mtu");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_info_t, rate_interval_us) == 20, "hv_ctl_vif_info_t.rate_interval_us");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_info_t, rate_bytes) == 24, "hv_ctl_vif_info_t.rate_bytes");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_info_t, rx_frames) == 32, "hv_ctl_vif_info_t.rx_frames");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_info_t, tx_frames) == 56, "hv_ctl_vif_info_t.tx_frames");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_info_t, tx_dropped) == 72, "hv_ctl_vif_info_t.tx_dropped");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_info_t, tap) == 80, "hv_ctl_vif_info_t.tap");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_info_t, bridge) == 96, "hv_ctl_vif_info_t.bridge");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_info_t, script) == 112, "hv_ctl_vif_info_t.script");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_info_t, ips) == 128, "hv_ctl_vif_info_t.ips");

/* VIF_SET_RATE (xl.cfg's rate=, changed while the domain runs): the vif's
 * transmit limit becomes rate_bytes per interval_us; rate_bytes 0 lifts
 * it. A nonzero rate needs a nonzero interval and at most create's limit
 * (100 Gb/s); else HV_EINVAL. No vif with that devid: HV_ENOENT. */
typedef struct hv_ctl_vif_rate {
    uint32_t domid;
    uint32_t devid;
    uint32_t interval_us;
    uint32_t _pad0;
    uint64_t rate_bytes;
} hv_ctl_vif_rate_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_vif_rate_t) == 24, "hv_ctl_vif_rate_t size");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_rate_t, devid) == 4, "hv_ctl_vif_rate_t.devid");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_rate_t, interval_us) == 8, "hv_ctl_vif_rate_t.interval_us");
HV_STATIC_ASSERT(offsetof(hv_ctl_vif_rate_t, rate_bytes) == 16, "hv_ctl_vif_rate_t.rate_bytes");

/* DEVICE_ATTACH / DEVICE_DETACH: which kind of device. */
#define HV_CTL_DEVICE_DISK 1u
#define HV_CTL_DEVICE_VIF 2u
/* Their flags. PERSIST: hvd also changes the stored definition of a
 * managed domain (xl new), so the next start has the change; a domain
 * that is not managed gets HV_EINVAL and nothing is done. FORCE (detach):
 * the device is removed without waiting for the guest to let it go. */
#define HV_CTL_DEVICE_PERSIST (1u << 0)
#define HV_CTL_DEVICE_FORCE (1u << 1)
#define HV_CTL_DEVICE_SPEC_MAX 1024u /* an xl disk= or vif= spec and its NUL */
#define HV_CTL_DEVICE_NAME_MAX 64u   /* a vdev, a devid in decimal or a MAC, and its NUL */
/* How long a detach waits for the guest to release the device: 0 in
 * timeout_ms is the default; more than the maximum is HV_EINVAL. */
#define HV_CTL_DEVICE_TIMEOUT_DEFAULT_MS 10000u
#define HV_CTL_DEVICE_TIMEOUT_MAX_MS 600000u

/* DEVICE_ATTACH: one xl disk= or vif= spec (the text a config's list
 * holds), NUL-terminated in `spec` and the rest of the field zero; an
 * empty spec is one vif with every default (vif = ['']) and is refused
 * for a disk. flags: PERSIST. The reply is the new device's devid. */
typedef struct hv_ctl_device_attach {
    uint32_t domid;
    uint32_t kind;  /* HV_CTL_DEVICE_DISK or HV_CTL_DEVICE_VIF */
    uint32_t flags; /* HV_CTL_DEVICE_PERSIST */
    uint32_t _pad0;
    char spec[HV_CTL_DEVICE_SPEC_MAX];
} hv_ctl_device_attach_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_device_attach_t) == 1040, "hv_ctl_device_attach_t size");
HV_STATIC_ASSERT(offsetof(hv_ctl_device_attach_t, kind) == 4, "hv_ctl_device_attach_t.kind");
HV_STATIC_ASSERT(offsetof(hv_ctl_device_attach_t, flags) == 8, "hv_ctl_device_attach_t.flags");
HV_STATIC_ASSERT(offsetof(hv_ctl_device_attach_t, _pad0) == 12, "hv_ctl_device_attach_t._pad0");
HV_STATIC_ASSERT(offsetof(hv_ctl_device_attach_t, spec) == 16, "hv_ctl_device_attach_t.spec");

typedef struct hv_ctl_device_id {
    uint32_t devid;
    uint32_t _pad0;
} hv_ctl_device_id_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_device_id_t) == 8, "hv_ctl_device_id_t size");

/* DEVICE_DETACH: `device` names it, NUL-terminated (the rest zero): a
 * disk by its vdev (xvdb) or devid in decimal, a vif by its devid in
 * decimal or its MAC (aa:bb:cc:dd:ee:ff). Waits up to timeout_ms (0: the
 * default) for the guest to release it, HV_ETIMEDOUT after; FORCE
 * removes it at once. */
typedef struct hv_ctl_device_detach {
    uint32_t domid;
    uint32_t kind;       /* HV_CTL_DEVICE_DISK or HV_CTL_DEVICE_VIF */
    uint32_t flags;      /* HV_CTL_DEVICE_FORCE, HV_CTL_DEVICE_PERSIST */
    uint32_t timeout_ms; /* 0..HV_CTL_DEVICE_TIMEOUT_MAX_MS */
    char device[HV_CTL_DEVICE_NAME_MAX];
} hv_ctl_device_detach_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_device_detach_t) == 80, "hv_ctl_device_detach_t size");
HV_STATIC_ASSERT(offsetof(hv_ctl_device_detach_t, kind) == 4, "hv_ctl_device_detach_t.kind");
HV_STATIC_ASSERT(offsetof(hv_ctl_device_detach_t, flags) == 8, "hv_ctl_device_detach_t.flags");
HV_STATIC_ASSERT(offsetof(hv_ctl_device_detach_t, timeout_ms) == 12, "hv_ctl_device_detach_t.timeout_ms");
HV_STATIC_ASSERT(offsetof(hv_ctl_device_detach_t, device) == 16, "hv_ctl_device_detach_t.device");

/* DISK_SET_LIMITS (the disk spec's rate= and iops=, changed while the
 * domain runs): disk `devid` (its number in BLOCK_LIST) may move
 * rate_bytes per rate_interval_us and make iops requests per
 * iops_interval_us; 0 in rate_bytes or iops lifts that limit. A nonzero
 * amount needs a nonzero interval; else HV_EINVAL. */
typedef struct hv_ctl_disk_limits {
    uint32_t domid;
    uint32_t devid;
    uint32_t rate_interval_us;
    uint32_t iops_interval_us;
    uint64_t rate_bytes;
    uint64_t iops;
} hv_ctl_disk_limits_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_disk_limits_t) == 32, "hv_ctl_disk_limits_t size");
HV_STATIC_ASSERT(offsetof(hv_ctl_disk_limits_t, devid) == 4, "hv_ctl_disk_limits_t.devid");
HV_STATIC_ASSERT(offsetof(hv_ctl_disk_limits_t, rate_interval_us) == 8, "hv_ctl_disk_limits_t.rate_interval_us");
HV_STATIC_ASSERT(offsetof(hv_ctl_disk_limits_t, iops_interval_us) == 12, "hv_ctl_disk_limits_t.iops_interval_us");
HV_STATIC_ASSERT(offsetof(hv_ctl_disk_limits_t, rate_bytes) == 16, "hv_ctl_disk_limits_t.rate_bytes");
HV_STATIC_ASSERT(offsetof(hv_ctl_disk_limits_t, iops) == 24, "hv_ctl_disk_limits_t.iops");

typedef struct hv_ctl_lookup {
    char name[HV_CTL_NAME_MAX]; /* a name, or a domid in decimal */
} hv_ctl_lookup_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_lookup_t) == 64, "hv_ctl_lookup_t size");

typedef struct hv_ctl_wait {
    uint32_t domid;
    uint32_t timeout_ms;
} hv_ctl_wait_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_wait_t) == 8, "hv_ctl_wait_t size");

/* Domain states, one per xl list letter. */
#define HV_CTL_STATE_RUNNING 0u
#define HV_CTL_STATE_BLOCKED 1u
#define HV_CTL_STATE_PAUSED 2u
#define HV_CTL_STATE_SHUTDOWN 3u
#define HV_CTL_STATE_CRASHED 4u
#define HV_CTL_STATE_DYING 5u

#define HV_CTL_NO_REASON 0xffffffffu

/* hv_ctl_domain_info_t.flags */
#define HV_CTL_INFO_UNRESPONSIVE (1u << 0) /* its monitor process does not answer (figures are the last known) */

typedef struct hv_ctl_domain_info {
    uint32_t domid;
    uint32_t state;           /* HV_CTL_STATE_* */
    uint32_t vcpus;
    uint32_t vcpus_online;
    uint64_t memory_mib;
    uint64_t cpu_time_ns;
    uint64_t uptime_ns;
    uint32_t shutdown_reason; /* HV_SHUTDOWN_* or HV_CTL_NO_REASON */
    uint32_t restarted_as;    /* nonzero: replaced by this domid (on_* restart) */
    uint32_t exists;          /* 0: destroyed (WAIT's last word on it) */
    uint32_t flags;           /* HV_CTL_INFO_* */
    uint8_t uuid[16];
    char name[HV_CTL_NAME_MAX];
} hv_ctl_domain_info_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_domain_info_t) == 136, "hv_ctl_domain_info_t size");
HV_STATIC_ASSERT(offsetof(hv_ctl_domain_info_t, memory_mib) == 16, "hv_ctl_domain_info_t.memory_mib");
HV_STATIC_ASSERT(offsetof(hv_ctl_domain_info_t, shutdown_reason) == 40, "hv_ctl_domain_info_t.shutdown_reason");
HV_STATIC_ASSERT(offsetof(hv_ctl_domain_info_t, uuid) == 56, "hv_ctl_domain_info_t.uuid");
HV_STATIC_ASSERT(offsetof(hv_ctl_domain_info_t, name) == 72, "hv_ctl_domain_info_t.name");

/* Events (kind HV_CTL_EVENT). op HV_CTL_EVENT_DOMAIN: hv_ctl_event_t.
 * op HV_CTL_EVENT_CONSOLE: hv_ctl_domid_t then the bytes. */
#define HV_CTL_EVENT_DOMAIN HV_CTL_OP(0x0003u, 1)
#define HV_CTL_EVENT_CONSOLE HV_CTL_OP(0x0003u, 2)

#define HV_CTL_EV_CREATED 1u
#define HV_CTL_EV_PAUSED 2u
#define HV_CTL_EV_UNPAUSED 3u
#define HV_CTL_EV_SHUTDOWN 4u
#define HV_CTL_EV_RESTARTED 5u
#define HV_CTL_EV_RENAMED 6u
#define HV_CTL_EV_DESTROYED 7u
#define HV_CTL_EV_UNRESPONSIVE 8u /* its monitor process stopped answering */
#define HV_CTL_EV_RESPONSIVE 9u   /* ... and answers again */

typedef struct hv_ctl_event {
    uint32_t kind;      /* HV_CTL_EV_* */
    uint32_t domid;
    uint32_t reason;    /* HV_SHUTDOWN_* or HV_CTL_NO_REASON */
    uint32_t new_domid; /* RESTARTED */
    char name[HV_CTL_NAME_MAX];
} hv_ctl_event_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_event_t) == 80, "hv_ctl_event_t size");

/* schedctl: the host's vCPU scheduler (xl sched-credit, sched-rtds,
 * vcpu-list, vcpu-pin). hvd runs one for all domains; an embedded monitor
 * one for its own. A server without one answers HV_ENOTSUP. CPU masks are
 * bit n = host CPU n (CPUs 0..63); 0 in a reply means "every host CPU". */
#define HV_SCHEDCTL_HOST_GET HV_CTL_OP(HV_CTL_GROUP_SCHEDCTL, 1)    /* none -> hv_ctl_sched_host_t */
#define HV_SCHEDCTL_HOST_SET HV_CTL_OP(HV_CTL_GROUP_SCHEDCTL, 2)    /* hv_ctl_sched_host_t -> none */
#define HV_SCHEDCTL_DOMAIN_GET HV_CTL_OP(HV_CTL_GROUP_SCHEDCTL, 3)  /* hv_ctl_domid_t -> hv_ctl_sched_domain_t */
#define HV_SCHEDCTL_DOMAIN_SET HV_CTL_OP(HV_CTL_GROUP_SCHEDCTL, 4)  /* hv_ctl_sched_domain_t -> none */
#define HV_SCHEDCTL_VCPU_LIST HV_CTL_OP(HV_CTL_GROUP_SCHEDCTL, 5)   /* hv_ctl_domid_t (HV_CTL_ALL_DOMAINS: every one) -> hv_ctl_vcpu_info_t[] */
#define HV_SCHEDCTL_VCPU_PIN HV_CTL_OP(HV_CTL_GROUP_SCHEDCTL, 6)    /* hv_ctl_vcpu_pin_t -> none */

#define HV_CTL_SCHED_CREDIT 1u
#define HV_CTL_SCHED_RTDS 2u
#define HV_CTL_ALL_DOMAINS 0xffffffffu
#define HV_CTL_ALL_VCPUS 0xffffffffu

/* HOST_SET: a policy other than the running one switches live (every vCPU
 * keeps running; domains get the new policy's default parameters); the
 * credit fields are then set if the policy is credit. 0 in a credit field:
 * leave it. Ranges: tslice 1000..1000000 us, tick 100 us..tslice,
 * ratelimit 0 (HV_CTL_SCHED_NO_RATELIMIT) or 100..500000 us. */
#define HV_CTL_SCHED_NO_RATELIMIT 0xffffffffu
typedef struct hv_ctl_sched_host {
    uint32_t policy;       /* HV_CTL_SCHED_* */
    uint32_t tslice_us;    /* credit */
    uint32_t tick_us;      /* credit */
    uint32_t ratelimit_us; /* credit; HV_CTL_SCHED_NO_RATELIMIT: none */
    uint64_t pcpus;        /* reply: the host CPUs hv schedules on */
} hv_ctl_sched_host_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_sched_host_t) == 24, "hv_ctl_sched_host_t size");

/* DOMAIN_SET: `set` says which fields to change (HV_CTL_SCHED_SET_*); the
 * policy must be the running one. Credit: weight 1..65535, cap 0..100 x
 * the domain's max vCPUs. Rtds: period 100..10000000 us, budget 100
 * us..period. */
#define HV_CTL_SCHED_SET_WEIGHT 0x1u
#define HV_CTL_SCHED_SET_CAP 0x2u
#define HV_CTL_SCHED_SET_PERIOD 0x4u
#define HV_CTL_SCHED_SET_BUDGET 0x8u
#define HV_CTL_SCHED_SET_EXTRATIME 0x10u
typedef struct hv_ctl_sched_domain {
    uint32_t domid;
    uint32_t policy;    /* HV_CTL_SCHED_* */
    uint32_t set;       /* DOMAIN_SET: HV_CTL_SCHED_SET_*; 0 in replies */
    uint32_t weight;    /* credit */
    uint32_t cap;       /* credit, percent of one CPU; 0: none */
    uint32_t period_us; /* rtds */
    uint32_t budget_us; /* rtds */
    uint32_t extratime; /* rtds: 1 = may run past its budget on idle CPUs */
} hv_ctl_sched_domain_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_sched_domain_t) == 32, "hv_ctl_sched_domain_t size");

#define HV_CTL_VCPU_OFFLINE 0u
#define HV_CTL_VCPU_BLOCKED 1u
#define HV_CTL_VCPU_RUNNABLE 2u
#define HV_CTL_VCPU_RUNNING 3u
#define HV_CTL_NO_CPU 0xffffffffu
typedef struct hv_ctl_vcpu_info {
    uint32_t domid;
    uint32_t vcpu;
    uint32_t state;      /* HV_CTL_VCPU_* */
    uint32_t cpu;        /* host CPU it runs or last ran on; HV_CTL_NO_CPU */
    uint64_t runtime_ns; /* CPU time charged to it */
    uint64_t hard;       /* hard affinity */
    uint64_t soft;       /* soft affinity */
} hv_ctl_vcpu_info_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_vcpu_info_t) == 40, "hv_ctl_vcpu_info_t size");

/* VCPU_PIN: vcpu HV_CTL_ALL_VCPUS pins them all; `set` says which masks
 * to change (HV_CTL_PIN_HARD, HV_CTL_PIN_SOFT); 0 in a mask: every host
 * CPU. A CPU outside the host CPUs is refused. */
#define HV_CTL_PIN_HARD 0x1u
#define HV_CTL_PIN_SOFT 0x2u
typedef struct hv_ctl_vcpu_pin {
    uint32_t domid;
    uint32_t vcpu;
    uint32_t set;
    uint32_t _pad0;
    uint64_t hard;
    uint64_t soft;
} hv_ctl_vcpu_pin_t;
HV_STATIC_ASSERT(sizeof(hv_ctl_vcpu_pin_t) == 32, "hv_ctl_vcpu_pin_t size");

#endif /* HV_ABI_CONTROL_H */
