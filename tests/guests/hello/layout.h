/* hello guest: the fixed layout shared by boot.S, linker.ld's asserts and the
 * C++ side. Plain #defines so the assembler can use them too. */
#ifndef HELLO_LAYOUT_H
#define HELLO_LAYOUT_H

#define MAX_VCPUS 16

/* Where the loader puts the single PT_LOAD segment (the PVH convention). */
#define IMAGE_BASE 0x100000

/* Offsets inside the .boot section (which starts at IMAGE_BASE). They are
 * fixed so that the assembler can split the handler and TSS addresses into
 * the IDT and GDT descriptor fields at build time: no ring-0 fill loops. */
#define EXC_STUBS_OFF 0x800 /* 32 stubs of EXC_STUB_SIZE bytes */
#define EXC_STUB_SIZE 16
#define TSS_OFF 0x1000      /* MAX_VCPUS TSSes, TSS_STRIDE apart */
#define TSS_STRIDE 1024
#define TSS_SIZE 104        /* the 64-bit TSS proper */
#define IOMAP_BYTES 512     /* I/O bitmap for ports 0-4095, all allowed */
#define TSS_LIMIT (TSS_SIZE + IOMAP_BYTES) /* includes the 0xff terminator */

/* GDT selectors. */
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS (0x18 | 3)
#define USER_CS (0x20 | 3)
#define TSS_SEL0 0x28 /* vCPU i uses TSS_SEL0 + 16 * i */

/* Per-vCPU stacks (in .bss). */
#define KSTACK_SIZE 8192  /* ring 0: exceptions and the AP's entry frame */
#define USTACK_SIZE 16384 /* ring 3: everything else */

/* RFLAGS for ring 3: IOPL=3 (port I/O and hypercalls), IF=0, bit 1. */
#define USER_RFLAGS 0x3002

#endif
