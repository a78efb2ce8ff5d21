/* Layout shared by the gate (gate.S) and the C runtime.  Plain #defines so
 * that the assembler can read it; gate_table.h checks them against the C
 * structures. */
#ifndef LIBPROTECT_GATE_LAYOUT_H
#define LIBPROTECT_GATE_LAYOUT_H

#define MAX_DOMAINS 16          /* power of two; slot 0..14 used (15 keys) */
#define GATE_ID_DOMAIN_SHIFT 20 /* stub id: domain << 20 | function index */
#define GATE_ID_FUNC_MASK 0xfffff
#define GATE_STACK_WINDOW 64    /* bytes of caller stack arguments copied (8 slots) */
#define GATE_UNUSED_PKRU 0xffffffff /* rights of an unused domain slot: nothing */
/* Bit 63 of a gated function's target (user addresses never have it): the
 * gate checks its arguments (callbacks, pointers) before the call. */
#define TARGET_CHECK_ARGS (1ull << 63)

/* struct domain_gate: one per domain, in the read-only gate table */
#define DG_PKRU 0        /* u32: rights inside the domain */
#define DG_INDEX 4       /* u32: slot number */
#define DG_NFUNCS 8      /* u64: entries in targets */
#define DG_TARGETS 16    /* u64 *: what each gated function really runs */
#define DG_BLOCKS_LO 24  /* u64: the domain's region of per-thread blocks */
#define DG_BLOCKS_SIZE 32
#define DG_CB_TARGETS 40 /* u64 *: application functions behind callback stubs */
#define DG_CB_COUNT 48
#define DG_OPEN_PKRU 56  /* u32: rights of an open callback (see below) */
#define DG_CB_STACK_SLOTS 60 /* u32: stack-argument slots the callback gate copies (policy) */
#define DG_OPEN_CB_TARGETS 64 /* the same two for open callbacks */
#define DG_OPEN_CB_COUNT 72
#define DG_OPEN_DELTA 24 /* DG_OPEN_CB_* - DG_CB_* */
#define DG_STACKS_LO 80  /* u64: the domain's region of per-thread stacks */
#define DG_STACK_STRIDE 88 /* u64: each thread's share of it: STACK_MAP_SIZE (the runtime's, STACK_MAIN_LO:
                            * its service stacks alone) */
#define DG_SHIFT 7       /* sizeof(struct domain_gate) == 1 << DG_SHIFT */

/* Callback stub id: r10d = domain | CB_OPEN, r11d = callback index.  An open
 * callback (policy: open_callbacks) runs with the application's rights plus
 * write access to the library's memory, which the library hands it to
 * write (sqlite3_aggregate_context): its rights are the domain's with the
 * write-disable bit of a key nobody uses set, so that they differ from the
 * domain's (allocations made there are the application's, and its calls
 * back into the library take the gate). */
#define CB_OPEN 0x100
/* What the callback gate keeps below the argument window on the application's
 * stack: rax, rcx, rdx, the domain, the callback index, a pad word. */
#define CB_FRAME 48

/* struct gate_table */
#define GT_APP_PKRU (MAX_DOMAINS << DG_SHIFT) /* u32: the application's rights */
#define GT_LIB_KEYS (GT_APP_PKRU + 4)         /* u32: both PKRU bits of every key a domain owns */
#define GT_SERVICES (GT_APP_PKRU + 8)         /* u64[N_SERVICES]: libprotect's services (services.h) */
#define GT_RT_SERVICES (GT_SERVICES + 8 * N_SERVICES + 24) /* u64[N_SERVICES]: the runtime domain's own */

/* libprotect's runtime domain (hardened/runtime_domain.h): the last slot,
 * which no library takes (at most 15 keys, and with the runtime's own key
 * 14 libraries).  Its services come from GT_RT_SERVICES, every other
 * slot's from GT_SERVICES: neither kind runs in the other's domain. */
#define RT_SLOT (MAX_DOMAINS - 1)

/* libprotect's services: what its runtime does with a domain open (free a
 * block the application hands back, read counters, carry out a trapped
 * system call for the library...), run by protect_service (gate.S) on the
 * calling thread's service stack in that domain, like a gated export.
 * Numbers below N_SERVICES run a C function of the table; the last three
 * are the assembly's own (they need no stack, or make the block). */
#define N_SERVICES 16
#define SVC_CLAIM 16     /* take a free block for this thread (its first entry) */
#define SVC_RELEASE 17   /* give this thread's block back (thread exit) */
#define SVC_COUNT 18     /* add to a counter of this thread's block, or of the exited threads' */
/* Services from SVC_FIRST_LOUD to N_SERVICES return through the gates'
 * final ret, where a signal deferred while they ran goes out: those the
 * application's code asks for.  The others return with a plain ret: they
 * run in libprotect's signal handlers (every signal but SIGSYS blocked,
 * where a breakpoint or int3 met with SIGTRAP blocked would come late or
 * kill), at a thread's first entry (whose gate's return follows) or at its
 * exit (which glibc makes with signals blocked). */
#define SVC_FIRST_LOUD 8
#define SVC_IO 128       /* bytes of request and answer, copied in and out through xmm0..7 */
#define SVC_LEVELS 4     /* services running at once in one thread (a signal's handler may call one) */
#define SVC_LEVEL_SHIFT 16 /* each with a stack of 64 KiB */

/* struct gate_block: one per thread and domain, in the domain's memory */
#define GB_OWNER 0       /* fs base of the owning thread */
#define GB_SP 8          /* where the next entry's frame goes on the domain stack */
#define GB_SP_INSIDE 1   /* GB_SP's bit 0: an entry is inside (16-byte aligned otherwise) */
#define GB_CB_LIB_SP 16  /* the library's frame of the innermost callback */
#define GB_CB_DEPTH 24   /* callbacks out to the application right now */
#define GB_ENTRIES 48    /* counters: gate entries of this thread (plain increments) */
#define GB_CALLBACKS 56  /* callbacks out to the application */
#define GB_OUT_CALLS 64  /* this library's calls into another library now under way */
#define GB_NESTED 136    /* counter: entries that took the nesting path */
#define GB_COUNTER 72    /* u64[GB_N_COUNTERS]: rarer events (gate_table.h), then the longest deferral */
#define GB_N_COUNTERS 7
#define GB_STACK_MAP 32  /* the stack mapping (guard, service stacks, guard, domain stack) */
#define GB_SVC_DEPTH 216 /* services of this thread running in this domain */
#define GB_OUT_SP 224    /* u64[GB_OUT_SP_N]: where each call out under way left this library's stack */
#define GB_OUT_SP_N 4

/* The frame an entry leaves at the top of the domain stack (at GB_SP, so
 * the innermost entry's frame is always found there), above the argument
 * window: offsets below GB_SP. */
#define FRAME_CALLER_SP 8    /* the caller's stack */
#define FRAME_CALLER_PKRU 16 /* the caller's rights, restored on the way out */
#define FRAME_FUNC 24        /* the function index (heap = app, fault reports) */
#define FRAME_BLOCK 32       /* the entry's block, whose GB_SP_INSIDE the way out clears */
#define FRAME_APP_SP 40      /* the application's stack at the outermost entry from it: the caller's,
                              * or, for a library's call into another, that library's entry's (where
                              * a callback into the application goes) */
#define GATE_FRAME 48        /* those five and a pad: 16-byte aligned */
#define GB_SHIFT 10      /* blocks are 1 << GB_SHIFT bytes, aligned */
/* Block 0 of a domain's region keeps the exited threads' counts; block 1,
 * from its second word on (its first, an owner, stays 0), the bitmap of the
 * blocks taken: blocks from 2 up, at most GB_CLAIM_BITS of them. */
#define GB_CLAIM_MAP ((1 << GB_SHIFT) + 8)
#define GB_CLAIM_BITS (((1 << GB_SHIFT) - 8) * 8)
#define GB_FIRST_FREE 2
#define GB_STACK_MAP_SIZE 40
#define GB_GATE_FIELDS 256 /* the fields a claim zeroes (the heap cache after them stays with the block) */

/* A thread's stack mapping in a domain: a guard page, the service stacks,
 * another guard page, the domain stack. */
#define STACK_PAGE 4096
#define SVC_AREA (SVC_LEVELS << SVC_LEVEL_SHIFT)
#define DOMAIN_STACK_SIZE (8 << 20)
#define STACK_MAIN_LO (STACK_PAGE + SVC_AREA + STACK_PAGE)
#define STACK_MAP_SIZE (STACK_MAIN_LO + DOMAIN_STACK_SIZE)

/* Registers saved by the gate's slow paths (first entry, callback arguments) */
#define SAVED_RDI 0
#define SAVED_RSI 8
#define SAVED_RDX 16
#define SAVED_RCX 24
#define SAVED_R8 32
#define SAVED_R9 40
#define SAVED_RAX 48
#define SAVED_R11 56
#define SAVED_XMM 64     /* xmm0..xmm7, 16 bytes each */
#define SAVED_SIZE 192

#endif
