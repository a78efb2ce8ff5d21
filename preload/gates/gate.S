/* The PKU gates.
 *
 * protect_gate_entry: application -> library.  Reached from a patched
 * export through its stub, with r11d = domain << 20 | function index and
 * everything else as the caller left it (arguments in rdi..r9, xmm0..7,
 * %al for varargs, stack arguments above the return address).
 *
 * protect_callback_gate: library -> application function pointer and back.
 * Reached from a callback stub with r10d = domain (| CB_OPEN for an open
 * callback) and r11d = callback index.
 *
 * Rules that make the WRPKRUs useless to an attacker who jumps to them:
 * after every WRPKRU the written value is compared with trusted data, and
 * everything the gate trusts while a domain is open (targets, blocks,
 * stacks) is read after the WRPKRU, from read-only or domain memory, with
 * the per-thread block pointer checked for range, alignment and owner;
 * the way back into a library needs a call out that its entry counted.
 * (The caller's stack arguments are read before: they are data the callee
 * gets as the caller passed them, not something the gate trusts.) */
#include "gates/gate_layout.h"

/* One source, two builds: this file for PKU, gate_dry.S (GATE_DRY_RUN) for
 * dry run, where PKRU is the per-thread word protect_emulated_pkru.  Each
 * build has its own names (GATE()); the shared paths are in this one only.
 * The dry-run forms leave rax/rdx/rcx as RDPKRU and WRPKRU do. */
#ifdef GATE_DRY_RUN
#define GATE(name) name##_dry
#else
#define GATE(name) name
#endif

    .intel_syntax noprefix
    .section .note.GNU-stack, "", @progbits
    .text

#ifdef GATE_DRY_RUN
.macro PKRU_READ                        /* eax = rights, edx = 0 */
    mov rax, [rip + protect_emulated_pkru@GOTTPOFF]
    mov eax, fs:[rax]
    xor edx, edx
.endm
.macro PKRU_WRITE                       /* rights = eax (ecx = edx = 0 on entry, kept) */
    mov rdx, [rip + protect_emulated_pkru@GOTTPOFF]
    mov fs:[rdx], eax
    xor edx, edx
.endm
#else
.macro PKRU_READ
    rdpkru
.endm
.macro PKRU_WRITE
    wrpkru
.endm
#endif

/* Park rax, rcx and rdx (RDPKRU/WRPKRU need them) below the caller's stack
 * pointer: at a function entry that space belongs to the callee. */
.macro SPILL
    mov [rsp - 8], rax
    mov [rsp - 16], rcx
    mov [rsp - 24], rdx
.endm

.macro UNSPILL base
    mov rax, [\base - 8]
    mov rdx, [\base - 24]
    mov rcx, [\base - 16]
.endm

/* rdx = &protect_gate_page.domain[(reg >> 20) & 15], from an untrusted id */
.macro DOMAIN_FROM_ID id32, tmp32, tmp
    mov \tmp32, \id32
    shr \tmp32, GATE_ID_DOMAIN_SHIFT
    and \tmp32, MAX_DOMAINS - 1
    shl \tmp32, DG_SHIFT
    lea rdx, [rip + protect_gate_page]
    add rdx, \tmp
.endm

/* \blk = this thread's block of domain \dom (record), checked; clobbers \tmp */
.macro CHECKED_BLOCK dom, blk, tmp, tmp32, fail=protect_gate_broken
    mov \tmp32, [\dom + DG_INDEX]
    mov \blk, [rip + protect_blocks@GOTTPOFF]
    mov \blk, fs:[\blk + \tmp * 8]
    CHECK_BLOCK \dom, \blk, \tmp, \tmp32, \fail
.endm

/* The checks of CHECKED_BLOCK on a block pointer \blk read before (from
 * TLS, which the application can write: the checks are what bind it). */
.macro CHECK_BLOCK dom, blk, tmp, tmp32, fail=protect_gate_broken
    mov \tmp, \blk
    sub \tmp, [\dom + DG_BLOCKS_LO]
    cmp \tmp, [\dom + DG_BLOCKS_SIZE]
    jae \fail
    test \tmp32, (1 << GB_SHIFT) - 1
    jnz \fail
    rdfsbase \tmp
    cmp \tmp, [\blk + GB_OWNER]
    jne \fail
.endm

/* Jumps to \ok when the rights in \v32 open no key of a domain more than
 * the application's do (the application's own, or fewer: a handler's as
 * the kernel starts it); falls through otherwise.  Clobbers \t1..\t3. */
.macro NOT_MORE_OPEN_THAN_APP v32, t1, t2, t3, ok
    mov \t1, [rip + protect_gate_page + GT_APP_PKRU]   /* a */
    mov \t2, \t1
    shr \t2, 1                          /* a's write-disable bits, at the even places */
    mov \t3, \t1
    not \t3
    and \t3, \t2                        /* keys the application may read, not write */
    mov \t2, \v32
    shr \t2, 1
    not \t2
    and \t3, \t2                        /* ... that v lets it write */
    or \t3, \t1                         /* or keys the application may not touch */
    mov \t2, \v32
    not \t2
    and \t3, \t2                        /* ... that v lets it access */
    and \t3, [rip + protect_gate_page + GT_LIB_KEYS]
    and \t3, 0x55555555
    jz \ok
.endm

/* A call out of the library whose block is \blk, from the stack rsp: counted
 * and its stack kept (with the library's rights, before leaving them). */
.macro OUT_CALL_COUNT blk, tmp
    mov \tmp, [\blk + GB_OUT_CALLS]
    cmp \tmp, GB_OUT_SP_N
    jae protect_gate_broken
    mov [\blk + GB_OUT_SP + \tmp * 8], rsp
    inc \tmp
    mov [\blk + GB_OUT_CALLS], \tmp
.endm

/* The way back into that library: a call out must be under way, and the
 * stack \sp returned to must be the one it left from (a jump to a gate's
 * way out with the library's rights, made by application code that runs
 * while the call out is under way, a callback of the library called or a
 * signal's handler, has its own). */
.macro OUT_CALL_RETURN blk, sp, tmp
    mov \tmp, [\blk + GB_OUT_CALLS]
    test \tmp, \tmp
    jz protect_gate_broken
    dec \tmp
    cmp \tmp, GB_OUT_SP_N
    jae protect_gate_broken
    cmp \sp, [\blk + GB_OUT_SP + \tmp * 8]
    jne protect_gate_broken
    mov [\blk + GB_OUT_CALLS], \tmp
.endm

/* A telemetry counter of this thread's block (rax): a plain increment.
 * (GATE_NO_COUNTERS: the build bench/ measures the counters' cost with.) */
.macro COUNT field
#ifndef GATE_NO_COUNTERS
    inc qword ptr [rax + \field]
#endif
.endm

/* \rec = the record of the domain whose rights, or open callbacks' rights,
 * eax holds, then a jump to \found; falls through when none (clobbers \n32). */
.macro FIND_DOMAIN_OF_RIGHTS rec, n32, found
    lea \rec, [rip + protect_gate_page]
    mov \n32, MAX_DOMAINS
1:  cmp eax, [\rec + DG_PKRU]
    je \found
    cmp eax, [\rec + DG_OPEN_PKRU]
    je \found
    add \rec, 1 << DG_SHIFT
    dec \n32
    jnz 1b
.endm

/* The callback gate's stack-argument window: the first DG_CB_STACK_SLOTS
 * of the 8 slots above the return address at \from go to \to, the rest
 * are zeroed (the library's stack there is none of the application's
 * business).  \rec: the domain record (clobbers rax and the flags). */
.macro COPY_WINDOW from, to, rec
    .irp slot, 0, 1, 2, 3, 4, 5, 6, 7
    xor eax, eax
    cmp dword ptr [\rec + DG_CB_STACK_SLOTS], \slot
    jbe 1f
    mov rax, [\from + 8 + \slot * 8]
1:
    mov [\to + \slot * 8], rax
    .endr
.endm

/* The entry gate's copy, in two halves: read into xmm8..11 from above the
 * return address at \from, written later at \to. */
.macro LOAD_WINDOW from
    movdqu xmm8, [\from + 8]
    movdqu xmm9, [\from + 24]
    movdqu xmm10, [\from + 40]
    movdqu xmm11, [\from + 56]
.endm
.macro STORE_WINDOW to
    movdqu [\to], xmm8
    movdqu [\to + 16], xmm9
    movdqu [\to + 32], xmm10
    movdqu [\to + 48], xmm11
.endm

/* xmm0..7 (the vector argument registers, or a service's request and
 * answer) to and from 128 bytes at \base. */
.macro XMM0_7_STORE base
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7
    movdqu [\base + \n * 16], xmm\n
    .endr
.endm
.macro XMM0_7_LOAD base
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7
    movdqu xmm\n, [\base + \n * 16]
    .endr
.endm

/* Slow paths save every argument register in a struct saved_regs at rsp
 * (rsp must be as at the function entry, the spills already made). */
.macro SAVE_ARGS
    sub rsp, SAVED_SIZE + 24
    mov [rsp + SAVED_RDI], rdi
    mov [rsp + SAVED_RSI], rsi
    mov [rsp + SAVED_R8], r8
    mov [rsp + SAVED_R9], r9
    mov [rsp + SAVED_R11], r11
    mov rdi, [rsp + SAVED_SIZE + 16]
    mov [rsp + SAVED_RAX], rdi
    mov rdi, [rsp + SAVED_SIZE + 8]
    mov [rsp + SAVED_RCX], rdi
    mov rdi, [rsp + SAVED_SIZE]
    mov [rsp + SAVED_RDX], rdi
    XMM0_7_STORE rsp+SAVED_XMM
.endm

.macro RESTORE_ARGS
    XMM0_7_LOAD rsp+SAVED_XMM
    mov rdi, [rsp + SAVED_RDI]
    mov rsi, [rsp + SAVED_RSI]
    mov rdx, [rsp + SAVED_RDX]
    mov rcx, [rsp + SAVED_RCX]
    mov r8, [rsp + SAVED_R8]
    mov r9, [rsp + SAVED_R9]
    mov rax, [rsp + SAVED_RAX]
    mov r11, [rsp + SAVED_R11]
    add rsp, SAVED_SIZE + 24
.endm

    .p2align 6                          /* a cache line: its hot path's speed moved with its place */
    .globl GATE(protect_gate_entry)
    .hidden GATE(protect_gate_entry)
    .type GATE(protect_gate_entry), @function
GATE(protect_gate_entry):
    /* rax, rcx and rdx (RDPKRU/WRPKRU need them) wait in xmm13..15, and the
     * caller's stack-argument window in xmm8..11: vector registers that no
     * call passes anything in and every call may change.  The window is
     * read now, with the caller's rights, from the caller's stack: whoever
     * calls (the application or another library) can read its own stack,
     * and nothing is written to memory before the domain stack. */
    movq xmm13, rax
    movq xmm14, rcx
    movq xmm15, rdx
    LOAD_WINDOW rsp
    /* This thread's block of the domain, as its TLS says (none: its first
     * entry), read now with the caller's rights and kept in r10: once the
     * domain is open it is checked like any block pointer (TLS is the
     * application's to write either way), and the checks' loads no longer
     * wait behind the WRPKRU one after the other (with PKU: 50 -> 48 ns a
     * call, paired runs).  The called domain's record is rebuilt from the
     * id after the RDPKRU, which clears edx. */
    mov eax, r11d
    shr eax, GATE_ID_DOMAIN_SHIFT
    and eax, MAX_DOMAINS - 1
    mov rcx, [rip + protect_blocks@GOTTPOFF]
    mov r10, fs:[rcx + rax * 8]
    test r10, r10
    je .Lfirst_entry
    xor ecx, ecx
    PKRU_READ
    DOMAIN_FROM_ID r11d, ecx, rcx
    cmp eax, [rdx + DG_PKRU]
    je .Lnested
    cmp eax, [rip + protect_gate_page + GT_APP_PKRU]
    jne .Lfrom_library
    movq xmm12, rsp                     /* the application's stack: the caller's */
.Lopen:
    /* eax: the caller's rights, rdx: the called domain's record, r10: the
     * block, r11: the id (its upper half zero: mov r11d) */
    shl rax, 32
    or r11, rax                         /* r11: the caller's rights << 32 | the id */
    mov eax, [rdx + DG_PKRU]
    xor ecx, ecx
    xor edx, edx
    PKRU_WRITE
    /* ---- the domain is open: trust nothing computed above (the block
     * pointer read before is checked here, as any) ---- */
    DOMAIN_FROM_ID r11d, ecx, rcx
    cmp eax, [rdx + DG_PKRU]
    jne protect_gate_broken
    mov rax, r10
    CHECK_BLOCK rdx, rax, rcx, ecx
    COUNT GB_ENTRIES
    mov ecx, r11d
    and ecx, GATE_ID_FUNC_MASK
    cmp rcx, [rdx + DG_NFUNCS]
    jae protect_gate_broken             /* rcx: the function index, checked */
    mov r10, r11
    shr r10, 32                         /* r10: the caller's rights */
    mov r11, [rdx + DG_TARGETS]
    mov r11, [r11 + rcx * 8]            /* r11: the target (bit 63: check the arguments) */
    /* Onto this thread's domain stack, leaving a frame for the way out.
     * Bit 0 of the block's sp says an entry is inside: the FS base that
     * found the block is the application's to set (WRFSBASE, clone), and a
     * second thread that took this one's would otherwise stack its call
     * over this one's live frames. */
    mov rdx, rsp
    mov rsp, [rax + GB_SP]
    test rsp, GB_SP_INSIDE
    jnz protect_gate_busy
    push rdx                            /* FRAME_CALLER_SP */
    push r10                            /* FRAME_CALLER_PKRU */
    push rcx                            /* FRAME_FUNC */
    push rax                            /* FRAME_BLOCK */
    movq rdx, xmm12
    push rdx                            /* FRAME_APP_SP */
    lea rdx, [rsp + 40 + GB_SP_INSIDE]
    mov [rax + GB_SP], rdx              /* inside */
    sub rsp, GATE_FRAME - 40 + GATE_STACK_WINDOW
    STORE_WINDOW rsp
    movq rax, xmm13
    movq rcx, xmm14
    movq rdx, xmm15
    test r11, r11
    js .Lcheck_args
.Lcall:
    call r11
    /* ---- back from the library: rax, rdx, xmm0, xmm1 hold its results ---- */
    .globl GATE(protect_gate_contained)
    .hidden GATE(protect_gate_contained)
GATE(protect_gate_contained):                 /* where a contained library fault resumes */
    add rsp, GATE_STACK_WINDOW + GATE_FRAME - 32 /* to FRAME_BLOCK */
    pop r9                              /* the block (FRAME_BLOCK) */
    lea r8, [rsp + 24]
    mov [r9 + GB_SP], r8                /* left (the domain still open) */
    add rsp, 8                          /* FRAME_FUNC */
    pop r8                              /* the caller's rights */
    pop r9                              /* the caller's stack */
    mov r10, rax
    mov r11, rdx
    mov eax, r8d
    xor ecx, ecx
    xor edx, edx
    PKRU_WRITE
    cmp eax, [rip + protect_gate_page + GT_APP_PKRU]
    jne .Lexit_to_library
.Lexit:
    mov rax, r10
    mov rdx, r11
    mov rsp, r9
    /* Deferred signals are delivered here (a breakpoint, armed only while
     * some are waiting): back on the caller's stack, with its rights. */
    .globl GATE(protect_gate_exit_ret)
    .hidden GATE(protect_gate_exit_ret)
GATE(protect_gate_exit_ret):
    ret
.Lexit_to_library:
    /* The caller was another protected library (or one's open callback):
     * its rights must be a domain's, and that domain's block (this
     * thread's, checked, writable only with those rights) must show a call
     * out under way, which only the entry made on its behalf counted.  A
     * jump to this WRPKRU with a library's rights finds none. */
    FIND_DOMAIN_OF_RIGHTS rcx, edx, 2f
    jmp protect_gate_broken
2:  CHECKED_BLOCK rcx, rdx, r8, r8d
    OUT_CALL_RETURN rdx, r9, r8
    jmp .Lexit

.Lfrom_library:
    /* The caller is another protected library (or one's open callback):
     * count the call out in its block, with its rights, before leaving
     * them (the way back requires it).  Rights that are no domain's count
     * nothing: the way back will refuse them. */
    movq xmm12, rsp                     /* the application's stack (an open callback runs there) */
    pinsrq xmm15, r10, 1                /* the called domain's block, while r10 serves here */
    FIND_DOMAIN_OF_RIGHTS rcx, edx, 2f
    jmp 3f
2:  CHECKED_BLOCK rcx, rdx, r10, r10d
    OUT_CALL_COUNT rdx, r10
    /* The library proper (not its open callback): the application's stack
     * is where its own entry's frame says. */
    cmp eax, [rcx + DG_PKRU]
    jne 3f
    mov r10, [rdx + GB_SP]
    and r10, -16
    mov r10, [r10 - FRAME_APP_SP]
    movq xmm12, r10
3:  DOMAIN_FROM_ID r11d, ecx, rcx       /* rdx: the called domain's record again */
    pextrq r10, xmm15, 1
    jmp .Lopen

.Lcheck_args:
    /* The export takes callbacks or pointers: its arguments are checked
     * here, in the domain's copy, which the application cannot write (the
     * wrapping before the gate worked on the caller's stack, where another
     * thread can rewrite them before they are reloaded; and a caller can
     * jump past it).  rsp: the window, 16-byte aligned. */
    btr r11, 63
    SPILL
    SAVE_ARGS                           /* rsp = 8 mod 16 */
    sub rsp, 8
    lea rdi, [rsp + 8]                  /* struct saved_regs * */
    lea rsi, [rsp + 8 + SAVED_SIZE + 24] /* the window: stack arguments 7.. */
    mov rdx, [rsi + GATE_STACK_WINDOW + GATE_FRAME - 24] /* FRAME_FUNC */
    call protect_check_entry_args
    add rsp, 8
    RESTORE_ARGS
    jmp .Lcall

.Lnested:
    /* Already inside this domain (the library calls its own export, or a
     * function pointer to it): no switch, straight to the original. */
    DOMAIN_FROM_ID r11d, eax, rax
    CHECKED_BLOCK rdx, rax, rcx, ecx    /* counted in this thread's block */
    COUNT GB_NESTED
    mov ecx, r11d
    and ecx, GATE_ID_FUNC_MASK
    cmp rcx, [rdx + DG_NFUNCS]
    jae protect_gate_broken
    mov r11, [rdx + DG_TARGETS]
    mov r11, [r11 + rcx * 8]
    btr r11, 63                         /* its own calls: no argument checks */
    movq rax, xmm13
    movq rcx, xmm14
    movq rdx, xmm15
    jmp r11

.Lfirst_entry:
    /* Make this thread's block and domain stack, then start again. */
    movq rax, xmm13
    movq rcx, xmm14
    movq rdx, xmm15
    SPILL
    SAVE_ARGS
    mov eax, [rsp + SAVED_R11]
    shr eax, GATE_ID_DOMAIN_SHIFT
    and eax, MAX_DOMAINS - 1
    mov edi, eax
    call protect_thread_first_entry
    RESTORE_ARGS
    jmp GATE(protect_gate_entry)
    .size GATE(protect_gate_entry), . - GATE(protect_gate_entry)

/* Entry for exports with callback arguments: wrap them, then the gate. */
    .p2align 4
    .globl GATE(protect_gate_entry_callbacks)
    .hidden GATE(protect_gate_entry_callbacks)
    .type GATE(protect_gate_entry_callbacks), @function
GATE(protect_gate_entry_callbacks):
    SPILL
    SAVE_ARGS
    mov rdi, rsp                        /* struct saved_regs * */
    lea rsi, [rsp + SAVED_SIZE + 24]    /* the caller's stack at entry */
    call protect_wrap_callback_args
    RESTORE_ARGS
    jmp GATE(protect_gate_entry)
    .size GATE(protect_gate_entry_callbacks), . - GATE(protect_gate_entry_callbacks)

#ifndef GATE_DRY_RUN
/* Entry for exports the policy denies: report and stop. */
    .p2align 4
    .globl protect_gate_denied
    .hidden protect_gate_denied
    .type protect_gate_denied, @function
protect_gate_denied:
    and rsp, -16
    mov edi, r11d
    call protect_denied_call
    ud2
    .size protect_gate_denied, . - protect_gate_denied

#endif

    .p2align 5
    .globl GATE(protect_callback_gate)
    .hidden GATE(protect_callback_gate)
    .type GATE(protect_callback_gate), @function
GATE(protect_callback_gate):
    SPILL
    /* Which of the domain's callback tables: plain or open (CB_OPEN). */
    xor eax, eax
    mov edx, DG_OPEN_DELTA
    test r10d, CB_OPEN
    cmovz edx, eax
    and r10d, MAX_DOMAINS - 1
    shl r10d, DG_SHIFT
    lea rax, [rip + protect_gate_page]
    add r10, rax                        /* r10: the domain record */
    add rdx, r10                        /* rdx: its plain or open callback table, as DG_CB_* */
    mov r11d, r11d                      /* callback index: the function is in a read-only table */
    cmp r11, [rdx + DG_CB_COUNT]
    jae protect_gate_broken
    movq xmm12, r11                     /* the index, for the check after the WRPKRU */
    /* The rights it runs with: the application's, or the domain's open ones. */
    mov eax, [rip + protect_gate_page + GT_APP_PKRU]
    cmp rdx, r10
    cmovne eax, [r10 + DG_OPEN_PKRU]
    movd xmm13, eax
    mov rdx, [rdx + DG_CB_TARGETS]
    mov r11, [rdx + r11 * 8]
    xor ecx, ecx
    PKRU_READ
    cmp eax, [r10 + DG_PKRU]
    jne .Lcb_plain                      /* not inside the library: a plain call */
    mov eax, [r10 + DG_INDEX]
    mov rcx, [rip + protect_blocks@GOTTPOFF]
    cmp qword ptr fs:[rcx + rax * 8], 0
    je .Lcb_plain                       /* a thread the library made itself */
    CHECKED_BLOCK r10, rax, rcx, ecx
    COUNT GB_CALLBACKS
    mov rdx, [rax + GB_SP]
    and rdx, -16                        /* without GB_SP_INSIDE */
    mov rdx, [rdx - FRAME_APP_SP]       /* the application's stack at the innermost entry */
    /* A frame on the domain stack for the way back. */
    mov rcx, rsp                        /* the library's stack */
    lea rsp, [rcx - 32]
    and rsp, -16
    push rcx
    push qword ptr [rax + GB_SP]        /* inside: put back on the way in again */
    push qword ptr [rax + GB_CB_LIB_SP]
    push rax
    mov [rax + GB_CB_LIB_SP], rsp
    mov [rax + GB_SP], rsp              /* a gate entry from the callback goes below */
    inc qword ptr [rax + GB_CB_DEPTH]
    /* The application's stack, below where it entered the library. */
    sub rdx, 256
    and rdx, -16
    sub rdx, GATE_STACK_WINDOW + CB_FRAME
    COPY_WINDOW rcx, rdx, r10
    mov rax, [rcx - 8]                  /* the spilled registers go with it */
    mov [rdx + GATE_STACK_WINDOW], rax
    mov rax, [rcx - 16]
    mov [rdx + GATE_STACK_WINDOW + 8], rax
    mov rax, [rcx - 24]
    mov [rdx + GATE_STACK_WINDOW + 16], rax
    mov eax, [r10 + DG_INDEX]
    mov [rdx + GATE_STACK_WINDOW + 24], rax
    movq [rdx + GATE_STACK_WINDOW + 32], xmm12
    mov rsp, rdx
    movd eax, xmm13
    xor ecx, ecx
    xor edx, edx
    PKRU_WRITE
    cmp eax, [rip + protect_gate_page + GT_APP_PKRU]
    je .Lcb_call
    /* Open rights: only for a function registered as an open callback of
     * that domain, taken again from its read-only table (the frame on this
     * stack is the application's: its numbers are bounded, not trusted). */
    mov rcx, [rsp + GATE_STACK_WINDOW + 24]
    and ecx, MAX_DOMAINS - 1
    shl ecx, DG_SHIFT
    lea rdx, [rip + protect_gate_page]
    add rdx, rcx
    cmp eax, [rdx + DG_OPEN_PKRU]
    jne protect_gate_broken
    mov rcx, [rsp + GATE_STACK_WINDOW + 32]
    cmp rcx, [rdx + DG_OPEN_CB_COUNT]
    jae protect_gate_broken
    mov rdx, [rdx + DG_OPEN_CB_TARGETS]
    mov r11, [rdx + rcx * 8]
.Lcb_call:
    /* ---- the callback's rights, application stack ---- */
    mov rax, [rsp + GATE_STACK_WINDOW]
    mov rcx, [rsp + GATE_STACK_WINDOW + 8]
    mov rdx, [rsp + GATE_STACK_WINDOW + 16]
    call r11
    /* Back into the library.  The frame on this stack is the application's
     * and untrusted: only the domain number is taken from it, and checked. */
    mov r10, rax
    mov r11, rdx
    mov r8, [rsp + GATE_STACK_WINDOW + 24]
    and r8d, MAX_DOMAINS - 1
    shl r8d, DG_SHIFT
    lea r9, [rip + protect_gate_page]
    add r9, r8                          /* r9: the domain record */
    mov eax, [r9 + DG_INDEX]
    mov rcx, [rip + protect_blocks@GOTTPOFF]
    mov r8, fs:[rcx + rax * 8]          /* this thread's block, as TLS says: checked once open (as the entry's) */
    mov eax, [r9 + DG_PKRU]
    xor ecx, ecx
    xor edx, edx
    PKRU_WRITE
    /* ---- the domain is open again ---- */
    cmp eax, [r9 + DG_PKRU]
    jne protect_gate_broken
    mov rax, r8
    CHECK_BLOCK r9, rax, rcx, ecx
    cmp qword ptr [rax + GB_CB_DEPTH], 0
    je protect_gate_broken              /* no callback of this thread is out */
    dec qword ptr [rax + GB_CB_DEPTH]
    mov rsp, [rax + GB_CB_LIB_SP]
    pop rcx
    cmp rcx, rax
    jne protect_gate_broken
    pop qword ptr [rax + GB_CB_LIB_SP]
    pop qword ptr [rax + GB_SP]
    pop rsp                             /* the library's stack */
    mov rax, r10
    mov rdx, r11
    ret
.Lcb_plain:
    UNSPILL rsp
    jmp r11
    .size GATE(protect_callback_gate), . - GATE(protect_callback_gate)


/* protect_service(slot, service, io): libprotect's runtime with domain
 * SLOT open, for what it must do with the library's rights (free a block
 * the application hands back, read the counters, carry out a system call a
 * library made...): no C function of libprotect raises the rights itself,
 * since any that did, and returned through a stack the application can
 * write, would be a gadget.  The rules of the library gates: the WRPKRU
 * writes the table's value and is checked after; the service is a number
 * (a function of the read-only table); it runs on this thread's service
 * stack in the domain (a level per service running at once: a signal's
 * handler may call one), found through the checked block; its request
 * (SVC_IO bytes at io) is read with the caller's rights before, its answer
 * written back there with the caller's rights after, both carried in
 * xmm0..7; the way back restores rights no more open than the
 * application's, or a library's that counted this call out (a jump past
 * the RDPKRU with a library's rights in hand finds none).  Returns the
 * service's result. */
    .p2align 4
    .globl GATE(protect_service)
    .hidden GATE(protect_service)
    .type GATE(protect_service), @function
GATE(protect_service):
    push rbx
    push r12
    push r13
    push r14
    XMM0_7_LOAD rdx
    mov r12, rdx                        /* where the answer goes */
    mov ebx, edi
    and ebx, MAX_DOMAINS - 1            /* the domain */
    mov r13d, esi                       /* the service */
    xor ecx, ecx
    PKRU_READ
    mov r14d, eax                       /* the caller's rights */
    NOT_MORE_OPEN_THAN_APP eax, ecx, edx, r8d, .Lsvc_open
    /* A library's rights (or its open callback's): the call out is counted
     * in its block, with them; the way back requires it. */
    FIND_DOMAIN_OF_RIGHTS rcx, edx, 2f
    jmp protect_gate_broken
2:  CHECKED_BLOCK rcx, rdx, r8, r8d
    OUT_CALL_COUNT rdx, r8
.Lsvc_open:
    mov eax, ebx
    shl eax, DG_SHIFT
    lea rdx, [rip + protect_gate_page]
    mov eax, [rdx + rax + DG_PKRU]
    xor ecx, ecx
    xor edx, edx
    PKRU_WRITE
    /* ---- the domain is open: trust nothing computed above ---- */
    mov ecx, ebx
    and ecx, MAX_DOMAINS - 1
    shl ecx, DG_SHIFT
    lea rdx, [rip + protect_gate_page]
    add rdx, rcx                        /* rdx: the domain's record */
    cmp eax, [rdx + DG_PKRU]
    jne protect_gate_broken
    cmp eax, GATE_UNUSED_PKRU
    je protect_gate_broken
    mov r9, rsp                         /* the caller's stack, for the special services */
    cmp r13d, SVC_CLAIM
    je .Lsvc_claim
    cmp r13d, SVC_COUNT
    je .Lsvc_count
    CHECKED_BLOCK rdx, rax, rcx, ecx, protect_gate_bad_block /* rax: this thread's block (ebx: the domain, for the report) */
    cmp r13d, SVC_RELEASE
    je .Lsvc_release
    cmp r13d, N_SERVICES
    jae protect_gate_broken
    mov r8d, r13d
    lea r10, [rip + protect_gate_page + GT_SERVICES]
    cmp ebx, RT_SLOT
    jne 1f
    lea r10, [rip + protect_gate_page + GT_RT_SERVICES]
1:  mov r10, [r10 + r8 * 8]
    test r10, r10
    jz protect_gate_broken
    mov rcx, [rax + GB_SVC_DEPTH]
    cmp rcx, SVC_LEVELS
    jae protect_gate_broken
    inc rcx
    mov [rax + GB_SVC_DEPTH], rcx
    /* The service stack of this level: level 1 at the top of the area. */
    mov r11d, SVC_LEVELS + 1
    sub r11, rcx
    shl r11, SVC_LEVEL_SHIFT
    add r11, [rax + GB_STACK_MAP]
    add r11, STACK_PAGE
    mov rsp, r11
    push r9                             /* the caller's stack */
    push r14                            /* the caller's rights */
    push r12                            /* where the answer goes */
    push rax                            /* the block */
    sub rsp, SVC_IO
    XMM0_7_STORE rsp
    mov edi, ebx
    mov rsi, rsp
    call r10
    XMM0_7_LOAD rsp
    add rsp, SVC_IO
    pop rcx                             /* the block */
    dec qword ptr [rcx + GB_SVC_DEPTH]
    pop r12
    pop r14
    pop r9
    mov r10, rax
.Lsvc_leave:
    /* r14d: the rights to go back to, r9: the caller's stack, r10: the
     * result, r12 and xmm0..7: where the answer goes and the answer. */
    mov eax, r14d
    xor ecx, ecx
    xor edx, edx
    PKRU_WRITE
    /* ---- the caller's rights, which must be no more than the application's,
     * or a library's whose block shows this call out ---- */
    NOT_MORE_OPEN_THAN_APP eax, ecx, edx, r8d, 3f
    FIND_DOMAIN_OF_RIGHTS rcx, edx, 2f
    jmp protect_gate_broken
2:  CHECKED_BLOCK rcx, rdx, r8, r8d
    OUT_CALL_RETURN rdx, r9, r8
3:  XMM0_7_STORE r12
    mov rsp, r9
    mov rax, r10
    cmp ebx, RT_SLOT                    /* the runtime's services run no library code: quiet */
    je 4f
    cmp r13d, SVC_FIRST_LOUD
    jb 4f
    cmp r13d, N_SERVICES
    jae 4f
    pop r14
    pop r13
    pop r12
    pop rbx
    jmp GATE(protect_gate_exit_ret)    /* the final ret, where deferred signals go out */
4:  pop r14
    pop r13
    pop r12
    pop rbx
    ret

.Lsvc_claim:
    /* A free block for this thread (its first entry into the domain): its
     * bit taken atomically in the domain's bitmap, its gate fields zeroed,
     * this thread's FS base as owner, its stacks where the table says.
     * Result: the block, or 0 when none is left. */
    mov r8, [rdx + DG_BLOCKS_LO]
    xor r10d, r10d
    test r8, r8
    jz .Lsvc_leave
    mov r11, [rdx + DG_BLOCKS_SIZE]
    shr r11, GB_SHIFT
    mov eax, GB_CLAIM_BITS
    cmp r11, rax
    cmova r11, rax                      /* r11: the blocks there are */
    lea rsi, [r8 + GB_CLAIM_MAP]        /* the bitmap */
    mov ecx, GB_FIRST_FREE
1:  cmp rcx, r11
    jae .Lsvc_leave                     /* none left: 0 */
    mov rax, rcx
    shr rax, 6
    cmp qword ptr [rsi + rax * 8], -1
    jne 2f
    or rcx, 63                          /* all 64 taken */
    inc rcx
    jmp 1b
2:  lock bts qword ptr [rsi], rcx
    jnc 3f
    inc rcx
    jmp 1b
3:  mov r10, rcx
    shl r10, GB_SHIFT
    add r10, r8                         /* r10: the block */
    imul rcx, [rdx + DG_STACK_STRIDE]
    add rcx, [rdx + DG_STACKS_LO]       /* rcx: its stack mapping */
    xor eax, eax
4:  mov qword ptr [r10 + rax * 8], 0
    inc eax
    cmp eax, GB_GATE_FIELDS / 8
    jb 4b
    mov [r10 + GB_STACK_MAP], rcx
    mov rax, [rdx + DG_STACK_STRIDE]
    mov [r10 + GB_STACK_MAP_SIZE], rax
    add rcx, rax
    mov [r10 + GB_SP], rcx              /* the domain stack's top */
    rdfsbase rax
    mov [r10 + GB_OWNER], rax
    jmp .Lsvc_leave

.Lsvc_release:
    /* This thread's block (rax), back to the free ones: only with no entry
     * and no service inside it (a thread that ends inside the library keeps
     * it: result 0). */
    xor r10d, r10d
    test qword ptr [rax + GB_SP], GB_SP_INSIDE
    jnz .Lsvc_leave
    cmp qword ptr [rax + GB_SVC_DEPTH], 0
    jne .Lsvc_leave
    mov qword ptr [rax + GB_OWNER], 0
    mov r8, [rdx + DG_BLOCKS_LO]
    sub rax, r8
    shr rax, GB_SHIFT
    lock btr qword ptr [r8 + GB_CLAIM_MAP], rax
    mov r10d, 1
    jmp .Lsvc_leave

.Lsvc_count:
    /* Adds io word 2 to counter io word 0 of this thread's block, or of the
     * exited threads' block (0) when it has none; counter GB_N_COUNTERS is
     * the longest deferral, kept as a maximum.  Atomic: the exited threads'
     * block is shared. */
    CHECKED_BLOCK rdx, r8, rax, eax, 1f
    jmp 2f
1:  mov r8, [rdx + DG_BLOCKS_LO]
    test r8, r8
    jz protect_gate_broken
2:  movq rcx, xmm0
    movq r11, xmm1
    cmp rcx, GB_N_COUNTERS
    ja protect_gate_broken
    je 3f
    lock add qword ptr [r8 + GB_COUNTER + rcx * 8], r11
    jmp 5f
3:  mov rax, [r8 + GB_COUNTER + GB_N_COUNTERS * 8]
4:  cmp r11, rax
    jbe 5f
    lock cmpxchg qword ptr [r8 + GB_COUNTER + GB_N_COUNTERS * 8], r11
    jne 4b
5:  xor r10d, r10d
    jmp .Lsvc_leave
    .size GATE(protect_service), . - GATE(protect_service)

#ifndef GATE_DRY_RUN
/* Every failed check ends here: a forged entry, a forged block, rights that
 * are not what the gate wrote.  The thread may stand on a domain stack it can
 * no longer write, where no signal can be delivered: move to a stack of key 0
 * first, so that the fault handler can report it.  (Shared by all threads:
 * this path never returns.) */
    .globl protect_gate_broken
    .hidden protect_gate_broken
    .type protect_gate_broken, @function
protect_gate_broken:
    lea rsp, [rip + broken_stack_top]
    .globl protect_gate_broken_trap
    .hidden protect_gate_broken_trap
protect_gate_broken_trap:
    ud2
    .size protect_gate_broken, . - protect_gate_broken

/* An entry into a block that an entry is already inside (GB_SP_INSIDE). */
    .globl protect_gate_busy
    .hidden protect_gate_busy
    .type protect_gate_busy, @function
protect_gate_busy:
    lea rsp, [rip + broken_stack_top]
    .globl protect_gate_busy_trap
    .hidden protect_gate_busy_trap
protect_gate_busy_trap:
    ud2
    .size protect_gate_busy, . - protect_gate_busy

/* A service asked for with a block pointer that is not this thread's block
 * (ebx: the domain). */
    .globl protect_gate_bad_block
    .hidden protect_gate_bad_block
    .type protect_gate_bad_block, @function
protect_gate_bad_block:
    lea rsp, [rip + broken_stack_top]
    .globl protect_gate_bad_block_trap
    .hidden protect_gate_bad_block_trap
protect_gate_bad_block_trap:
    ud2
    .size protect_gate_bad_block, . - protect_gate_bad_block

    .bss
    .p2align 4
broken_stack:
    .skip 65536
broken_stack_top:
#endif
