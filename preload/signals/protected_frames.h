/* Protected signal frames: the kernel writes every signal frame of a thread
 * onto alternate stacks tagged with libprotect's own key, which no
 * application right opens, so that neither the application's handlers nor
 * a racing thread can change the context a signal returns to (a library's
 * registers and rights above all).  Only on kernels that write frames with
 * every key open (Linux 6.12 and later: probed at start); elsewhere frames
 * stay on key-0 alternate stacks, as the README says.
 *
 * The kernel starts the handler (protected_frames.S) with key 0 only; it
 * opens the key through a checked WRPKRU, checks that the frame is a fresh
 * one on this thread's stacks, copies it onto a key-0 stack where
 * libprotect's C handler works on the copy with the application's rights,
 * and on the way back merges only what that handler may change into the
 * real frame (nothing of a library's context but what libprotect itself
 * does there: a trapped call's result, an emulated ret...), then returns
 * through rt_sigreturn with a cookie the system-call filter checks: the
 * restorer cannot be reached with a frame of the application's making. */
#ifndef LIBPROTECT_PROTECTED_FRAMES_H
#define LIBPROTECT_PROTECTED_FRAMES_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define PF_LEVELS 8                  /* one alternate stack per nesting level (signals.c) */
#define PF_LEVEL_SIZE (24 * 1024)    /* room for one kernel frame (XSAVE included) */
#define PF_SLICE_SHIFT 18            /* each thread's slice of the region: 256 KiB */
#define PF_CSTACK_TOP 0x8000         /* the stub's C stack: below this */
#define PF_RECORD 0x8000             /* the thread's record */
#define PF_SCRATCH 0x9000            /* a frame copied in to be returned to (24 KiB) */
#define PF_SCRATCH_SIZE 0x6000
#define PF_ALTSTACKS 0x10000         /* PF_LEVELS alternate stacks */
#define PF_MAX_THREADS 4096          /* fewer where address space is scarce (RLIMIT_AS) */

/* Read-only after start (sealed); the assembly reads it. */
struct pf_config {
    uint32_t rights;      /* the application's rights with the runtime key open */
    uint32_t on;
    uint64_t slices;      /* the first thread slice */
    uint64_t slices_size;
    uint64_t frame_off;   /* top of an alternate stack - where the kernel puts a frame */
    uint64_t global;      /* the runtime key's global page: the cookie, the slices taken */
    uint64_t restorer;    /* the trusted page's rt_sigreturn */
    int32_t key;
};
extern const struct pf_config *const pf;

/* Sets it up if the kernel can (hardened mode, keys enforced): the key,
 * the region, the cookie.  Before the filter and the handlers. */
void protected_frames_setup(void);
static inline bool protected_frames_on(void)
{
    return pf->on;
}
/* The cookie rt_sigreturn must carry in rdi (the filter's first program). */
uint64_t protected_frames_cookie(void);
/* The region (protected memory for the filter). */
void protected_frames_region(uintptr_t *lo, uintptr_t *hi);
/* The handler every action gets (it calls protect_on_signal). */
void protect_pf_signal_entry(int sig, siginfo_t *si, void *ctx);
/* The calling thread's slice, claimed if it has none (the slices of threads
 * that have ended taken back first when none is left: a thread's last
 * system calls, after any exit hook, may still be trapped, so it keeps its
 * slice until it is gone). */
uintptr_t protected_frames_thread(void);
/* This thread's protected alternate stack of LEVEL. */
void *protected_frames_altstack(int level);
/* The same for the runtime domain, which claims no slice: the stack of
 * the slice the calling thread's TLS names, if that slice's record says it
 * is this thread's; NULL otherwise. */
void *protected_frames_owned_altstack(int level);
/* Whether [lo, hi) lies in the region. */
bool protected_frames_contains(uintptr_t lo, uintptr_t hi);
/* A fork child: the forking thread's slice becomes the child's. */
void protected_frames_after_fork(void);

#endif
