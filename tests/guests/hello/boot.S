/* hello guest: the ring-0 part.
 *
 * Guest ring 0 is emulated here (~1 us per instruction), so it does as little
 * as possible: every table (page tables, GDT with the TSS descriptors, IDT,
 * TSSes, the first iretq frame) is built by the assembler, and the boot path
 * is a dozen instructions that load them and iretq to ring 3 with IOPL=3. */
#include "layout.h"

#define CR0_VALUE 0x80010031 /* PG | WP | NE | ET | PE */
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100

/* ------------------------------------------------------------------------ */
    .section .boot, "awx"

/* PVH entry: 32-bit protected mode, paging off, flat CS/DS, ebx = physical
 * address of struct hvm_start_info, no stack. */
    .code32
    .globl pvh_start32
pvh_start32:
    mov $pml4, %eax
    mov %eax, %cr3
    mov $CR4_PAE, %eax
    mov %eax, %cr4
    mov $MSR_EFER, %ecx
    mov $EFER_LME, %eax
    xor %edx, %edx
    wrmsr
    mov $CR0_VALUE, %eax
    mov %eax, %cr0              /* paging on: now in compatibility mode */
    lgdt gdt_ptr
    ljmp $KERNEL_CS, $long_mode

    .code64
long_mode:
    mov %ebx, %edi              /* bsp_main(start_info) */
    mov $TSS_SEL0, %eax
    ltr %ax
    lidt idt_ptr
    mov $bsp_iret_frame, %esp   /* static frame: bsp_main, ring 3, IOPL=3 */
    iretq                       /* DS/ES/SS hold ring-0 values: iretq nulls them */

/* AP entry (vcpu_up rip): 64-bit ring 0, rdi = vcpu id, rsp = a frame the BSP
 * wrote from ring 3: [TSS selector][iretq frame to ap_main]. */
    .globl ap_entry
ap_entry:
    pop %rax
    ltr %ax
    lidt idt_ptr
    iretq

/* Exception stubs at a fixed address, EXC_STUB_SIZE apart, so their
 * addresses are assembly-time constants for the IDT below. Each pushes a
 * dummy error code where the CPU pushes none, then the vector. */
    .org EXC_STUBS_OFF
    .globl exc_stubs
exc_stubs:
    .set vec, 0
    .rept 32
    .org EXC_STUBS_OFF + EXC_STUB_SIZE * vec
    .if !(vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
    pushq $0
    .endif
    pushq $vec
    jmp exc_common
    .set vec, vec + 1
    .endr

/* Triple fault: an empty IDT, then a fault nothing can deliver. Ring-3 code
 * gets here by setting triple_requested and faulting (this nested KVM cannot
 * run `int n` to a DPL-3 gate from ring 3, nor emulate it in ring 0). */
    .globl triple_stub
triple_stub:
    lidt zero_idt_ptr
    ud2

/* Stack: vector, error code, rip, cs, rflags, rsp, ss. */
exc_common:
    cmpb $0, triple_requested
    jne triple_stub
    mov 0(%rsp), %edi
    mov 8(%rsp), %rsi
    mov 16(%rsp), %rdx
    mov 24(%rsp), %ecx
    and $-16, %rsp
    call exception_report       /* C++, noreturn */
    ud2

/* One TSS per vCPU at a fixed address: rsp0 (the vCPU's ring-0 stack) and
 * an all-zero I/O bitmap for ports 0-4095. IOPL=3 alone should allow ring-3
 * port I/O, but this machine's nested KVM (kvm_pvm) checks the bitmap
 * anyway: without it `in`/`out` from ring 3 raise #GP. */
    .org TSS_OFF
    .globl tss_area
tss_area:
    .set i, 0
    .rept MAX_VCPUS
    .org TSS_OFF + TSS_STRIDE * i
    .long 0
    .quad kstacks + KSTACK_SIZE * (i + 1)
    .org TSS_OFF + TSS_STRIDE * i + 102
    .word TSS_SIZE              /* I/O bitmap right after the TSS: all zero */
    .org TSS_OFF + TSS_STRIDE * i + TSS_LIMIT
    .byte 0xff                  /* the bitmap's terminator */
    .set i, i + 1
    .endr
    .org TSS_OFF + TSS_STRIDE * MAX_VCPUS

/* ------------------------------------------------------------------------ */
    .section .data
    .balign 4096
/* Identity map of the first 1 GiB: 2 MiB pages, present, writable, user. */
pml4:
    .quad pdpt + 0x7
    .fill 511, 8, 0
pdpt:
    .quad pd + 0x7
#ifdef HV_PC_GUEST
    .fill 2, 8, 0
    .quad pd_mmio + 0x7         /* 3-4 GiB: the PC's PCI window and ECAM */
    .fill 508, 8, 0
#else
    .fill 511, 8, 0
#endif
pd:
    .set i, 0
    .rept 512
    .quad (i << 21) | 0x87
    .set i, i + 1
    .endr
    .globl pml4
#ifdef HV_PC_GUEST
/* Uncached 2 MiB pages for device memory (PWT | PCD). */
pd_mmio:
    .set i, 0
    .rept 512
    .quad (0xc0000000 + (i << 21)) | 0x9f
    .set i, i + 1
    .endr
#endif

    .balign 16
    .globl gdt
gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08 ring-0 code, 64-bit */
    .quad 0x00cf92000000ffff    /* 0x10 ring-0 data */
    .quad 0x00cff2000000ffff    /* 0x18 ring-3 data */
    .quad 0x00affa000000ffff    /* 0x20 ring-3 code, 64-bit */
    .set i, 0
    .rept MAX_VCPUS             /* 0x28 + 16*i: vCPU i's TSS, available 64-bit */
    .set base, IMAGE_BASE + TSS_OFF + TSS_STRIDE * i
    .quad TSS_LIMIT | ((base & 0xffffff) << 16) | (0x89 << 40) | (((base >> 24) & 0xff) << 56)
    .quad base >> 32
    .set i, i + 1
    .endr
gdt_end:

    .balign 16
/* Interrupt gates for vectors 0-31: ring-0 code selector, DPL 0, IST 0. */
.macro gate handler, attr
    .quad ((\handler) & 0xffff) | (KERNEL_CS << 16) | ((\attr) << 40) | ((((\handler) >> 16) & 0xffff) << 48)
    .quad (\handler) >> 32
.endm
idt:
    .set vec, 0
    .rept 32
    .set handler, IMAGE_BASE + EXC_STUBS_OFF + EXC_STUB_SIZE * vec
    gate handler, 0x8e
    .set vec, vec + 1
    .endr
idt_end:

/* Descriptor-table pointers: 32-bit lgdt reads the low 4 bytes of the base. */
    .balign 8
    .word 0, 0, 0
gdt_ptr:
    .word gdt_end - gdt - 1
    .quad gdt
    .word 0, 0, 0
    .globl idt_ptr
idt_ptr:
    .word idt_end - idt - 1
    .quad idt
    .word 0, 0, 0
zero_idt_ptr:
    .word 0
    .quad 0

/* The BSP's first (and only static) iretq frame. */
    .balign 8
bsp_iret_frame:
    .quad bsp_main, USER_CS, USER_RFLAGS, ustacks + USTACK_SIZE - 8, USER_DS

/* ------------------------------------------------------------------------ */
    .section .bss
    .balign 4096
    .globl kstacks, ustacks
kstacks:
    .skip KSTACK_SIZE * MAX_VCPUS
ustacks:
    .skip USTACK_SIZE * MAX_VCPUS

/* ------------------------------------------------------------------------ */
/* PVH: XEN_ELFNOTE_PHYS32_ENTRY (18), 4-byte desc. QEMU 7.2 reads this desc
 * as 8 bytes on ELF64, so an empty note follows whose zero header is the
 * upper half; every other reader skips an empty note. */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4, 4, 18
    .asciz "Xen"
    .long pvh_start32
    .long 0, 0, 0

/* hv's ABI note (owner "hv", type HV_ELFNOTE_ABI = 1, the ABI version):
 * this kernel speaks hv's PV ABI and runs on hv's PV machine. A guest built
 * with HV_PC_GUEST (the disk benchmark's) has none: it runs on hv's PC
 * machine, with PCI and virtio, as a stock kernel does. */
#ifndef HV_PC_GUEST
    .section .note.hv, "a", @note
    .balign 4
    .long 3, 4, 1
    .asciz "hv"
    .balign 4
    .long 1
#endif

    .section .note.GNU-stack, "", @progbits
