/* hv boot ABI: the Xen PVH start-of-day structures, as Xen's
 * public/arch-x86/hvm/start_info.h fixes them. The monitor writes them; a
 * PVH guest reads them (ebx at entry = address of hv_pvh_start_info_t). */
#ifndef HV_ABI_PVH_H
#define HV_ABI_PVH_H

#include "common.h"

/* ELF note (owner "Xen") giving the 32-bit physical entry point. */
#define HV_PVH_ELFNOTE_PHYS32_ENTRY 18u
/* ELF note (owner "hv", type 1, 4-byte desc = the HV_ABI_VERSION it was
 * built for): the kernel speaks hv's PV ABI. It then runs on hv's PV
 * machine (no interrupt controllers or firmware tables; vCPUs other than 0
 * come up through vcpu_op up). A kernel without it is booted as on a PC. */
#define HV_ELFNOTE_OWNER "hv"
#define HV_ELFNOTE_ABI 1u
#define HV_PVH_START_MAGIC 0x336ec578u
#define HV_PVH_MEMMAP_RAM 1u /* E820 type: RAM */

typedef struct hv_pvh_start_info {
    uint32_t magic;   /* HV_PVH_START_MAGIC */
    uint32_t version; /* 1: the memmap fields are valid */
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr; /* NUL-terminated */
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr; /* hv_pvh_memmap_entry_t[memmap_entries] */
    uint32_t memmap_entries;
    uint32_t reserved;
} hv_pvh_start_info_t;
HV_STATIC_ASSERT(sizeof(hv_pvh_start_info_t) == 56, "hv_pvh_start_info_t size");
HV_STATIC_ASSERT(offsetof(hv_pvh_start_info_t, modlist_paddr) == 16, "hv_pvh_start_info_t.modlist_paddr");
HV_STATIC_ASSERT(offsetof(hv_pvh_start_info_t, cmdline_paddr) == 24, "hv_pvh_start_info_t.cmdline_paddr");
HV_STATIC_ASSERT(offsetof(hv_pvh_start_info_t, memmap_paddr) == 40, "hv_pvh_start_info_t.memmap_paddr");
HV_STATIC_ASSERT(offsetof(hv_pvh_start_info_t, memmap_entries) == 48, "hv_pvh_start_info_t.memmap_entries");

typedef struct hv_pvh_modlist_entry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr; /* 0: none */
    uint64_t reserved;
} hv_pvh_modlist_entry_t;
HV_STATIC_ASSERT(sizeof(hv_pvh_modlist_entry_t) == 32, "hv_pvh_modlist_entry_t size");

typedef struct hv_pvh_memmap_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type; /* HV_PVH_MEMMAP_* (E820 types) */
    uint32_t reserved;
} hv_pvh_memmap_entry_t;
HV_STATIC_ASSERT(sizeof(hv_pvh_memmap_entry_t) == 24, "hv_pvh_memmap_entry_t size");
HV_STATIC_ASSERT(offsetof(hv_pvh_memmap_entry_t, type) == 16, "hv_pvh_memmap_entry_t.type");

#endif /* HV_ABI_PVH_H */
