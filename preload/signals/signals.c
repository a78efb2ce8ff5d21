/* Signal delivery under libprotect.
 *
 * Once a library is protected, libprotect installs one handler for every
 * signal whose delivery matters (those with an application handler, those
 * whose default action kills) and keeps what the application asked for in
 * its own table (sigaction and signal are interposed).  A signal that
 * arrives while the thread runs inside a library is not delivered there:
 * it is recorded, a hardware breakpoint (perf_event_open, sigtrap) is armed
 * on the gate's final return, and the signal is delivered right after the
 * thread has left the library; so a process is never killed, and no
 * handler runs, half way through a library update.  Handlers run with the
 * application's rights, on an alternate stack of key 0. */
#define _GNU_SOURCE
#include "base/next_functions.h"
#include "signals/signals.h"
#include "gates/services.h"

#include "gates/domains.h"
#include "signals/faults.h"
#include "signals/protected_frames.h"
#include "gates/gate_table.h"
#include "log.h"
#include "base/pku.h"
#include "gates/patcher.h"
#include "base/pkru_sync.h"
#include "base/sealed.h"
#include "base/trusted_syscall.h"

#include <dlfcn.h>
#include <errno.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef TRAP_PERF
#define TRAP_PERF 6 /* a perf_event with sigtrap fired (Linux 5.13) */
#endif

#define MAX_PENDING 128
#define ALTSTACK_SIZE (128 * 1024)
#define ALTSTACK_LEVELS 8
#define OWN_ALTSTACK_SIZE (128 * 1024)
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31) /* linux/signal.h, Linux 4.7 */
#endif

static struct sigaction app_action[NSIG];
static pthread_mutex_t action_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t bound_ns = 10ull * 1000000000ull;
static _Atomic uint64_t n_deferred, n_delivered, n_arms, n_forced, n_hits;
static bool no_defer[NSIG];
static bool no_breakpoints; /* PROTECT_NO_BREAKPOINTS=1: test the fallback */

/* Sealed (base/sealed.h): a redirected hook would run in every handler. */
static SEALED union {
    struct signal_hooks v;
    char pages[SEALED_PAGES(struct signal_hooks)];
} sealed_hooks;

static uintptr_t exit_patch_service(int slot, void *io);
static uintptr_t exit_breakpoint_service(int slot, void *io);
static uintptr_t sigaction_service(int slot, void *io);
static uintptr_t altstack_service(int slot, void *io);

void signals_set_hooks(const struct signal_hooks *h)
{
    gate_table_set_rt_service(RT_EXIT_PATCH, exit_patch_service);
    gate_table_set_rt_service(RT_EXIT_BREAKPOINT, exit_breakpoint_service);
    gate_table_set_rt_service(RT_SIGACTION, sigaction_service);
    gate_table_set_rt_service(RT_ALTSTACK, altstack_service);
    sealed_open();
    sealed_hooks.v = *h;
    sealed_close();
}

const struct signal_hooks *signals_hooks(void)
{
    return &sealed_hooks.v;
}

struct pending_signal {
    int sig;
    siginfo_t info;
};

/* Per thread: signals waiting for the thread to leave the library. */
static __thread struct {
    int n;
    struct pending_signal q[MAX_PENDING];
    int perf_fd;          /* 0: not made yet, -1: refused, else fd + 1 */
    bool armed;
    bool exit_check;      /* armed through the patched return instead */
    timer_t bound_timer;
    bool has_timer;
    int slot;             /* the domain the waiting signals wait for */
    uint64_t since;       /* when the first of them came (CLOCK_MONOTONIC, ns) */
} pending;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}


/* Installs with the trusted page's restorer once there is one: the filter
 * refuses any other rt_sigreturn (libc's restorer would be a way to restore
 * a forged frame).  Every handler runs on an alternate stack (SA_ONSTACK):
 * the kernel writes a frame where the stack pointer points otherwise, and
 * since Linux 6.12 with every key open, so that a thread that points it
 * into a library's memory would have the kernel write there.  From the
 * trusted page: the filter sends the application's rt_sigaction here. */
static int apply(int sig);

static bool reserved(int sig);
void protect_on_signal(int sig, siginfo_t *si, void *ctx);

/* The kernel's action for SIG: K (if any) set, the old one into O (if
 * any); 0 or -errno.  rt_sigaction with an action is the runtime's: the
 * page wants the cookie with it. */
static long kernel_sigaction_here(int sig, const struct kernel_sigaction *k, struct kernel_sigaction *o)
{
    return trusted_syscall(SYS_rt_sigaction, sig, (long)k, (long)o, sizeof k->mask, 0, 0);
}

/* RT_SIGACTION: w[0] the signal, w[1] whether an action follows in
 * w[2..5] (struct kernel_sigaction); the old action comes back in
 * w[8..11].  Anyone may ask, for an action libprotect would set itself:
 * its handler's entry, SIG_DFL or SIG_IGN (where frames are not protected,
 * also glibc's handlers of its own signals, as before), always with the
 * trusted restorer and, for a handler, libprotect's alternate stack. */
static uintptr_t sigaction_service(int slot, void *io)
{
    union service_io *q = io;
    int sig = (int)q->w[0];
    struct kernel_sigaction k, o = {0};
    memcpy(&k, &q->w[2], sizeof k);
    void *h = k.handler;
    bool handler = h != SIG_DFL && h != SIG_IGN;
    if (slot != RT_SLOT)
        return (uintptr_t)-EPERM;
    if (q->w[1] && handler && h != (void *)protect_on_signal &&
        !(protected_frames_on() ? h == (void *)protect_pf_signal_entry : reserved(sig))) {
        protect_log("blocked rt_sigaction(%d, %p) asked of libprotect's runtime: a handler not libprotect's", sig, h);
        return (uintptr_t)-EPERM;
    }
    k.flags |= SA_RESTORER | (handler ? SA_ONSTACK : 0);
    k.restorer = trusted_restorer();
    long r = kernel_sigaction_here(sig, q->w[1] ? &k : NULL, &o);
    memcpy(&q->w[8], &o, sizeof o);
    return (uintptr_t)r;
}

long signals_kernel_sigaction(int sig, const struct kernel_sigaction *k, struct kernel_sigaction *o)
{
    if (!k || !trusted_page_needs_runtime())
        return kernel_sigaction_here(sig, k, o);
    union service_io io = {.w = {(uint64_t)sig, 1}};
    memcpy(&io.w[2], k, sizeof *k);
    long r = (long)runtime_service(RT_SIGACTION, &io);
    if (o)
        memcpy(o, &io.w[8], sizeof *o);
    return r;
}

static int protect_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    void *restorer = trusted_restorer();
    if (act && protected_frames_on() && act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN &&
        act->sa_sigaction != protect_pf_signal_entry) {
        /* With protected frames every handler is reached through ours (a
         * handler's own return would not carry the restorer's cookie):
         * glibc's own (cancellation, set*id) too. */
        if (old && protect_real_sigaction(sig, NULL, old) != 0)
            return -1;
        app_action[sig] = *act;
        return apply(sig);
    }
    if (!restorer) {
        int (*real_sigaction)(int, const struct sigaction *, struct sigaction *) = next_function(NEXT_SIGACTION);
        struct sigaction onstack;
        if (act && act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN) {
            onstack = *act;
            onstack.sa_flags |= SA_ONSTACK;
            act = &onstack;
        }
        return real_sigaction(sig, act, old);
    }
    struct kernel_sigaction k, o;
    if (act) {
        unsigned long flags = (unsigned long)act->sa_flags | SA_RESTORER;
        if (act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN)
            flags |= SA_ONSTACK;
        k = (struct kernel_sigaction){.handler = (void *)act->sa_handler, .flags = flags, .restorer = restorer};
        memcpy(&k.mask, &act->sa_mask, sizeof k.mask);
    }
    long r = signals_kernel_sigaction(sig, act ? &k : NULL, old ? &o : NULL);
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    if (old) {
        memset(old, 0, sizeof *old);
        old->sa_handler = (void (*)(int))o.handler;
        old->sa_flags = (int)o.flags;
        memcpy(&old->sa_mask, &o.mask, sizeof o.mask);
    }
    return (int)r;
}

int signals_set_kernel_action(int sig, const struct sigaction *act, struct sigaction *old)
{
    return protect_real_sigaction(sig, act, old);
}

static bool default_ignores(int sig)
{
    return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH;
}

static bool default_stops(int sig)
{
    return sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static bool synchronous(int sig, const siginfo_t *si)
{
    return (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP) &&
           si->si_code > 0;
}

/* Whether the thread was inside a library when the signal came: the rights
 * saved in its frame are not the application's. */
static bool inside_library(ucontext_t *uc)
{
    return frame_rights(uc) != app_rights();
}

/* Alternate stacks, one per nesting level of handlers.  The kernel knows a
 * thread is on its alternate stack only by its stack pointer, and a handler
 * that calls a library moves to a domain stack: a signal then would reuse
 * the alternate stack from the top, over the running handler.  So each
 * level installs the next one (SS_AUTODISARM: the kernel puts the previous
 * one back when the handler returns). */
static __thread void *altstack[ALTSTACK_LEVELS];
static __thread int alt_depth;

/* The pointers to the alternate stacks are in memory the application can
 * write (TLS): one that points into protected memory is stopped here, as
 * are the application's own stacks that reach the kernel. */
static void refuse_protected_altstack(const stack_t *ss)
{
    uintptr_t lo = (uintptr_t)ss->ss_sp;
    if (!(ss->ss_flags & SS_DISABLE) && ((sealed_hooks.v.protected_memory &&
        sealed_hooks.v.protected_memory(lo, lo + ss->ss_size)) || in_runtime_region(lo, lo + ss->ss_size)))
        protect_fatal("blocked an alternate signal stack at %p (%zu bytes) in protected memory: the kernel would "
                      "write signal frames there",
                      ss->ss_sp, ss->ss_size);
}

/* The alternate stack the kernel writes LEVEL's frames on: the thread's
 * protected one, or altstack[LEVEL] itself (key 0). */
static stack_t kernel_altstack(int level)
{
    if (protected_frames_on())
        return (stack_t){.ss_sp = protected_frames_altstack(level), .ss_size = PF_LEVEL_SIZE,
                         .ss_flags = SS_AUTODISARM};
    stack_t ss = {.ss_sp = altstack[level], .ss_size = ALTSTACK_SIZE, .ss_flags = SS_AUTODISARM};
    refuse_protected_altstack(&ss);
    return ss;
}

static long kernel_altstack_call(int what, int level, bool masked);

/* MASKED: every asynchronous signal is blocked (in the handler). */
static void install_altstack(int level, bool masked)
{
    if (level >= ALTSTACK_LEVELS)
        return;
    if (!altstack[level]) {
        /* Not libc's mmap: made while a library's rights are in force (a
         * delivery inside it), that one would place it in the library's
         * memory, with its key. */
        void *mem = trusted_mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (mem == MAP_FAILED)
            return;
        altstack[level] = mem;
    }
    kernel_altstack_call(ALTSTACK_LEVEL, level, masked);
}

/* The kernel's alternate stack for this thread: WHAT (enum
 * kernel_altstack), 0 or -errno.  sigaltstack that sets is the runtime's:
 * the page wants the cookie with it. */
static long kernel_altstack_here(int what, int level, bool in_runtime)
{
    stack_t ss = {.ss_flags = SS_DISABLE};
    if (what == ALTSTACK_LEVEL) {
        if (level < 0 || level >= ALTSTACK_LEVELS)
            return -EINVAL;
        if (protected_frames_on() && in_runtime) {
            /* (the slice claimed by the caller: the runtime claims none) */
            ss = (stack_t){.ss_sp = protected_frames_owned_altstack(level), .ss_size = PF_LEVEL_SIZE,
                           .ss_flags = SS_AUTODISARM};
            if (!ss.ss_sp)
                return -EINVAL;
        } else {
            ss = kernel_altstack(level);
        }
    } else if (what == ALTSTACK_OWN) {
        /* A thread that shares its parent's TLS (no CLONE_SETTLS), where
         * libprotect keeps the parent's stacks: one of its own, kept for its
         * life. */
        void *mem = trusted_mmap(NULL, OWN_ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        ss = (stack_t){.ss_sp = mem == MAP_FAILED ? NULL : mem, .ss_size = OWN_ALTSTACK_SIZE};
    } else if (what != ALTSTACK_OFF) {
        return -EINVAL;
    }
    if (!ss.ss_sp && !(ss.ss_flags & SS_DISABLE))
        return -ENOMEM;
    return trusted_syscall(SYS_sigaltstack, (long)&ss, 0, 0, 0, 0, 0); /* the filter sends the application's here */
}

/* RT_ALTSTACK: w[0] what, w[1] the level.  Anyone may ask: the stack is
 * the one libprotect gives this thread (its slice of the protected frames'
 * region, or its key-0 stack of that level, refused in protected memory),
 * a new one of its own, or none. */
static uintptr_t altstack_service(int slot, void *io)
{
    const union service_io *q = io;
    return (uintptr_t)(slot == RT_SLOT ? kernel_altstack_here((int)q->w[0], (int)q->w[1], true) : -EPERM);
}

static long kernel_altstack_call(int what, int level, bool masked)
{
    if (!trusted_page_needs_runtime())
        return kernel_altstack_here(what, level, false);
    if (what == ALTSTACK_LEVEL)
        protected_frames_thread(); /* a slice claimed here, with the application's rights */
    union service_io io = {.w = {(uint64_t)what, (uint64_t)level}};
    return (long)(masked ? runtime_service_masked(RT_ALTSTACK, &io) : runtime_service(RT_ALTSTACK, &io));
}

long signals_kernel_altstack(int what, int level)
{
    return kernel_altstack_call(what, level, false);
}

/* The C handler of LEVEL runs on altstack[LEVEL]; with protected frames
 * (protect_pf_enter copies the frame there) it is the top of that copy. */
__attribute__((visibility("hidden"))) uintptr_t signals_handler_stack_top(int level)
{
    return level >= 0 && level < ALTSTACK_LEVELS && altstack[level] ? (uintptr_t)altstack[level] + ALTSTACK_SIZE : 0;
}

/* The domain whose rights RIGHTS are, or -1. */
static int domain_slot_of_rights(uint32_t rights)
{
    const struct domain *d = domain_for_rights(rights);
    return d ? d->slot : -1;
}

static void deliver_pending(void *ctx, bool inside);
static __thread bool draining; /* deliver_pending is running */

/* The level of the alternate stack SP is on, or -1. */
static int altstack_level(uint64_t sp)
{
    for (int i = 0; i < ALTSTACK_LEVELS; i++)
        if (altstack[i] && sp - (uint64_t)altstack[i] <= ALTSTACK_SIZE)
            return i;
    return -1;
}

static bool on_our_altstack(uint64_t sp)
{
    return altstack_level(sp) >= 0;
}

static bool on_domain_stack(uint64_t sp)
{
    for (int i = 0; i < protect_n_domains; i++) {
        struct gate_regions g;
        gate_regions(i, &g);
        if (sp - g.stacks_lo < g.stacks_size)
            return true;
    }
    return false;
}

/* The next level above LEVEL whose stack this handler is not running on
 * (after a handler left by siglongjmp, the kernel may have started us on
 * any level). */
static int next_free_level(int level)
{
    int here = altstack_level((uint64_t)(uintptr_t)__builtin_frame_address(0));
    return level == here ? level + 1 : level;
}

/* The XSAVE area of a signal frame: its size, from the software-reserved
 * bytes the kernel writes in the legacy area (FP_XSTATE_MAGIC1, then the
 * extended size), or the legacy area's alone. */
static size_t xsave_size(const ucontext_t *uc)
{
    const uint8_t *area = (const uint8_t *)uc->uc_mcontext.fpregs;
    uint32_t magic, size;
    memcpy(&magic, area + 464, 4);
    memcpy(&size, area + 468, 4);
    return magic == 0x46505853u && size >= 512 ? size : 512;
}

#define SHOWN_XSAVE_MAX 16384
/* The kernel's ucontext: glibc's ucontext_t up to 8 bytes of its mask (a
 * frame's siginfo and XSAVE area follow it, not the rest of ucontext_t). */
#define KERNEL_UCONTEXT (offsetof(ucontext_t, uc_sigmask) + 8)
/* What a handler run on the application's stack needs there at least: the
 * copy of its frame (XSAVE area and ucontext), and a page. */
#define APP_FRAME_ROOM (SHOWN_XSAVE_MAX + 2 * 4096)

/* The alternate stack the application declared (its view, in hardened
 * mode: see signals_set_altstack). */
static __thread stack_t app_altstack = {.ss_flags = SS_DISABLE};

static bool on_app_altstack(uint64_t sp)
{
    return !(app_altstack.ss_flags & SS_DISABLE) && sp - (uintptr_t)app_altstack.ss_sp - 1 < app_altstack.ss_size;
}

void protect_call_on_stack(uintptr_t top, void (*fn)(int, siginfo_t *, void *), int sig, siginfo_t *si, void *ctx);

/* The top of the stack the innermost application handler this thread runs
 * was given (0: none running, or on our alternate stack).  A signal that
 * interrupts it, below that top, comes while our handler's frames are live
 * on our alternate stack. */
static __thread uintptr_t app_handler_top;

static bool in_app_handler(uint64_t sp)
{
    return app_handler_top && sp <= app_handler_top && app_handler_top - sp < (64u << 20);
}

/* Where the application's handler for SIG runs: where the kernel would
 * have run it (a collector such as Boehm's takes a stopped thread's stack
 * pointer in its handler and scans the thread's stack from there; Go wants
 * its handlers on its own signal stack), or 0 for the alternate stack of
 * libprotect's that this handler runs on.  Never a library's stack, nor
 * one of ours; a fault that is not on the application's alternate stack
 * may be a stack overflow, which the kernel could not have delivered on
 * the stack either. */
static uintptr_t app_handler_stack(const struct sigaction *act, int sig, const siginfo_t *si, const ucontext_t *uc,
                                   bool inside)
{
    uint64_t sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
    bool on_alt = on_app_altstack(sp);
    uintptr_t top;
    if ((act->sa_flags & SA_ONSTACK) && !(app_altstack.ss_flags & SS_DISABLE) && !on_alt)
        top = ((uintptr_t)app_altstack.ss_sp + app_altstack.ss_size) & ~(uintptr_t)15;
    else if (inside || (!on_alt && synchronous(sig, si) && (sig == SIGSEGV || sig == SIGBUS)))
        return 0;
    else if (on_our_altstack(sp) || on_domain_stack(sp))
        return 0;
    else
        top = (sp - 128) & ~(uintptr_t)15; /* below the red zone */
    /* (Both are the application's to point anywhere: into a library's memory too.) */
    if (top < APP_FRAME_ROOM || on_our_altstack(top - 1) || on_domain_stack(top - 1) ||
        (sealed_hooks.v.protected_memory && sealed_hooks.v.protected_memory(top - APP_FRAME_ROOM, top)))
        return 0;
    return top;
}

/* Runs the application's handler below TOP with a copy of its frame there,
 * where the kernel would have written it: a collector that scans the
 * thread's stack from the handler finds the interrupted registers in it
 * (Boehm's keeps a list alive only through them, some of the time).  What
 * the handler changes in the copy goes back to the real frame, where
 * deliver checks it as if the handler had changed the real frame. */
static void run_with_frame_copy(uintptr_t top, const struct sigaction *act, int sig, siginfo_t *si, ucontext_t *uc)
{
    size_t n = xsave_size(uc);
    if (n > SHOWN_XSAVE_MAX)
        n = SHOWN_XSAVE_MAX;
    uint8_t *xsave = (uint8_t *)((top - n) & ~(uintptr_t)63);
    ucontext_t *copy = (ucontext_t *)(((uintptr_t)xsave - sizeof *copy) & ~(uintptr_t)15);
    memcpy(xsave, uc->uc_mcontext.fpregs, n);
    memset(copy, 0, sizeof *copy);
    memcpy(copy, uc, KERNEL_UCONTEXT);
    copy->uc_mcontext.fpregs = (fpregset_t)xsave;
    protect_call_on_stack((uintptr_t)copy, act->sa_sigaction, sig, si, copy);
    fpregset_t xsave_real = uc->uc_mcontext.fpregs;
    memcpy(xsave_real, xsave, n);
    memcpy(uc, copy, KERNEL_UCONTEXT);
    if (uc->uc_mcontext.fpregs == (fpregset_t)xsave)
        uc->uc_mcontext.fpregs = xsave_real;
}

/* The copy of a confidential library's context that the application's
 * handler is shown when a signal is delivered inside it: its registers,
 * which hold what the library is working on (a key in vector registers, as
 * AES-NI code keeps its round keys), are not the application's to read
 * (attack handler_registers).  The control words and the XSAVE header stay,
 * so that the copy is a valid context. */
static void hide_registers(ucontext_t *shown, size_t xsave_bytes, uint32_t rights)
{
    memset(shown->uc_mcontext.gregs, 0, sizeof shown->uc_mcontext.gregs);
    uint8_t *x = (uint8_t *)shown->uc_mcontext.fpregs;
    enum { LEGACY_REGS = 32, LEGACY_END = 512, EXTENDED = 576 };
    memset(x + LEGACY_REGS, 0, LEGACY_END - LEGACY_REGS); /* x87 and XMM registers */
    if (xsave_bytes > EXTENDED)
        memset(x + EXTENDED, 0, xsave_bytes - EXTENDED); /* AVX and the rest */
    if (!pku_dry_run())
        *frame_pkru_slot(shown) = rights;
}

/* Runs what the application asked for SIG, as the kernel would have.  Its
 * handler may change the interrupted context (the application's own
 * registers: that is what SA_SIGINFO handlers may do), but not the rights
 * it returns with: the frame's PKRU, and where the kernel finds it, are put
 * back afterwards.  INSIDE (a library was interrupted): the handler sees a
 * copy, so that it cannot change the library's registers, and a confidential
 * library's are hidden in it. */
static void deliver(int sig, siginfo_t *si, void *ctx, bool inside)
{
    struct sigaction act = app_action[sig];
    atomic_fetch_add(&n_delivered, 1);
    if (act.sa_handler == SIG_IGN && !synchronous(sig, si))
        return;
    if (act.sa_handler == SIG_DFL && default_ignores(sig))
        return;
    if ((act.sa_handler == SIG_DFL || act.sa_handler == SIG_IGN) && synchronous(sig, si)) {
        /* The faulting instruction runs again and the kernel's default
         * action takes the process, with a true core. */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        protect_real_sigaction(sig, &dfl, NULL);
        return;
    }
    if (act.sa_handler == SIG_DFL) {
        if (default_stops(sig)) {
            raise(SIGSTOP);
            return;
        }
        /* Fatal: let the kernel do it, with the signal's own default action. */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        protect_real_sigaction(sig, &dfl, NULL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        syscall(SYS_tgkill, getpid(), gettid(), sig);
        return;
    }
    if (act.sa_flags & SA_RESETHAND) {
        pthread_mutex_lock(&action_lock);
        app_action[sig].sa_handler = SIG_DFL;
        pthread_mutex_unlock(&action_lock);
    }
    /* The mask the handler would have had: the interrupted code's, plus. */
    sigset_t mask = ((ucontext_t *)ctx)->uc_sigmask, old;
    for (int s = 1; s < NSIG; s++)
        if (sigismember(&act.sa_mask, s))
            sigaddset(&mask, s);
    if (!(act.sa_flags & SA_NODEFER))
        sigaddset(&mask, sig);
    sigdelset(&mask, SIGSYS); /* a blocked SIGSYS from the filter kills */
    /* The next level first: once signals are unblocked, one may come.  And
     * the application's rights before that: a signal that comes in between
     * must see application code, not a library (it would wait for a gate
     * exit that never comes).  A handler may leave by siglongjmp: nothing
     * after the call is certain to run (on_signal heals alt_depth). */
    int depth = alt_depth;
    alt_depth = next_free_level(depth + 1);
    /* Without the next level the handler would run with none armed (the
     * kernel disarmed this one), and a signal would be written where its
     * stack pointer points. */
    if (alt_depth < 1 || alt_depth >= ALTSTACK_LEVELS) /* (its count is in TLS, which the application can write) */
        protect_fatal("signal %d: handlers nested more than %d deep", sig, ALTSTACK_LEVELS);
    install_altstack(alt_depth, true);
    uint32_t rights = pku_read();
    ucontext_t *uc = ctx, shown;
    fpregset_t xsave = uc->uc_mcontext.fpregs;
    uint32_t frame_pkru = *frame_pkru_slot(uc);
    stack_t frame_stack = uc->uc_stack; /* sigreturn makes it the thread's alternate stack */
    uint8_t shown_xsave[SHOWN_XSAVE_MAX] __attribute__((aligned(64)));
    if (inside && (act.sa_flags & SA_SIGINFO)) {
        shown = *uc;
        size_t n = xsave_size(uc);
        if (n > sizeof shown_xsave)
            n = sizeof shown_xsave;
        memcpy(shown_xsave, xsave, n);
        shown.uc_mcontext.fpregs = (fpregset_t)shown_xsave;
        const struct domain *d = domain_for_rights(frame_pkru);
        if (d && d->policy.mode == POLICY_CONFIDENTIAL)
            hide_registers(&shown, n, frame_pkru);
        ctx = &shown;
    }
    uintptr_t stack_top = app_handler_stack(&act, sig, si, uc, inside);
    pku_write_checked(app_rights()); /* the kernel started us with key 0 only */
    uintptr_t outer_top = app_handler_top;
    if (stack_top)
        app_handler_top = stack_top;
    pthread_sigmask(SIG_SETMASK, &mask, &old);
    if (stack_top && !inside)
        run_with_frame_copy(stack_top, &act, sig, si, uc); /* (sa_handler ignores what follows sig) */
    else if (stack_top)
        protect_call_on_stack(stack_top, act.sa_sigaction, sig, si, ctx);
    else if (act.sa_flags & SA_SIGINFO)
        act.sa_sigaction(sig, si, ctx);
    else
        act.sa_handler(sig);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    app_handler_top = outer_top;
    /* (In dry run the "slot" is the thread's emulated PKRU itself, which
     * the handler's own rights changed: nothing of the frame's.) */
    if (uc->uc_mcontext.fpregs != xsave || (!pku_dry_run() && *frame_pkru_slot(uc) != frame_pkru)) {
        uc->uc_mcontext.fpregs = xsave;
        protect_log("blocked a change of the rights signal %d's frame returns with (by the application's handler): "
                    "put back", sig);
    }
    *frame_pkru_slot(uc) = frame_pkru;
    if (uc->uc_stack.ss_sp != frame_stack.ss_sp || uc->uc_stack.ss_size != frame_stack.ss_size ||
        uc->uc_stack.ss_flags != frame_stack.ss_flags) {
        uc->uc_stack = frame_stack;
        protect_log("blocked a change of the alternate stack signal %d's frame returns with (by the application's "
                    "handler): put back", sig);
    }
    pku_write_checked(rights);
    alt_depth = depth;
}

/* Without hardware breakpoints: while any thread waits, the gate's final
 * `ret` becomes an int3 for every thread (the trap handler checks its own
 * thread's signals, then does the ret); it is put back when none waits. */
static atomic_flag exit_patch_lock = ATOMIC_FLAG_INIT;
static int exit_waiting;

static void patch_exit_here(uint8_t byte)
{
    uintptr_t page = (uintptr_t)gate_code()->exit_ret & ~4095ul;
    trusted_mprotect((void *)page, 8192, PROT_READ | PROT_WRITE | PROT_EXEC);
    *(volatile uint8_t *)gate_code()->exit_ret = byte;
    trusted_mprotect((void *)page, 8192, PROT_READ | PROT_EXEC);
    sync_cores(); /* no thread may go on running the old ret */
}

/* RT_EXIT_PATCH: w[0] the byte, int3 or ret.  Anyone may ask: either
 * makes the gates' return do what it did (the int3 through the trap
 * handler, slower). */
static uintptr_t exit_patch_service(int slot, void *io)
{
    uint64_t byte = ((const union service_io *)io)->w[0];
    if (slot != RT_SLOT || (byte != 0xcc && byte != 0xc3))
        return 1;
    patch_exit_here((uint8_t)byte);
    return 0;
}

/* Libprotect's own code is the runtime domain's to change. */
static void patch_exit(uint8_t byte)
{
    if (trusted_page_needs_runtime())
        runtime_service(RT_EXIT_PATCH, &(union service_io){.w = {byte}});
    else
        patch_exit_here(byte);
}

static void exit_check(bool on)
{
    while (atomic_flag_test_and_set(&exit_patch_lock))
        ;
    exit_waiting += on ? 1 : -1;
    /* Every thread that starts waiting writes the int3 itself: a core is
     * only sure to run code it wrote (or was serialised after), and QEMU's
     * emulated PKU, where the tests run, showed threads running on past a
     * byte patched by another. */
    if (on)
        patch_exit(0xcc);
    else if (!on && exit_waiting == 0)
        patch_exit(0xc3);
    atomic_flag_clear(&exit_patch_lock);
}

/* A hardware breakpoint on the gates' final ret, for this thread: its
 * hit sends SIGTRAP.  From the trusted page: the filter refuses
 * perf_event_open to the program. */
static long exit_breakpoint_open(void)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_BREAKPOINT;
    a.size = sizeof a;
    a.bp_type = HW_BREAKPOINT_X;
    a.bp_addr = (uintptr_t)gate_code()->exit_ret;
    a.bp_len = sizeof(long);
    a.sample_period = 1;
    a.sample_type = PERF_SAMPLE_ADDR; /* si_addr: the breakpoint (kernels that need the flag for it) */
    a.sigtrap = 1;
    a.remove_on_exec = 1;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    a.disabled = 1;
    return trusted_syscall(SYS_perf_event_open, (long)&a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC, 0);
}

/* RT_EXIT_BREAKPOINT: the calling thread's breakpoint (its descriptor, or
 * -errno).  Anyone may ask: it watches libprotect's own code, disabled
 * until libprotect arms it. */
static uintptr_t exit_breakpoint_service(int slot, void *io)
{
    (void)io;
    return (uintptr_t)(slot == RT_SLOT ? exit_breakpoint_open() : -EPERM);
}

static int exit_breakpoint(void)
{
    if (pending.perf_fd)
        return pending.perf_fd - 1;
    long r = no_breakpoints                ? -EPERM
             : trusted_page_needs_runtime() ? (long)runtime_service(RT_EXIT_BREAKPOINT, &(union service_io){0})
                                            : exit_breakpoint_open();
    int fd = r < 0 ? (errno = (int)-r, -1) : (int)r;
    if (fd < 0) {
        static atomic_bool warned;
        if (!atomic_exchange(&warned, true))
            protect_log("hardware breakpoints unavailable (%s): deferred signals wait on a check in "
                        "every gate's return instead", no_breakpoints ? "PROTECT_NO_BREAKPOINTS" : strerror(errno));
    }
    pending.perf_fd = fd < 0 ? -1 : fd + 1;
    return fd;
}

/* A per-thread timer that ends an overlong deferral. */
static void arm_bound(void)
{
    if (!pending.has_timer) {
        struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = PROTECT_SIGNAL};
        ev._sigev_un._tid = gettid();
        if (timer_create(CLOCK_MONOTONIC, &ev, &pending.bound_timer) != 0)
            return;
        pending.has_timer = true;
    }
    struct itimerspec when = {.it_value = {(time_t)(bound_ns / 1000000000ull), (long)(bound_ns % 1000000000ull)}};
    timer_settime(pending.bound_timer, 0, &when, NULL);
}

static void disarm(void)
{
    if (pending.armed && pending.perf_fd > 0)
        ioctl(pending.perf_fd - 1, PERF_EVENT_IOC_DISABLE, 0);
    if (pending.exit_check) {
        exit_check(false);
        pending.exit_check = false;
    }
    if (pending.has_timer)
        timer_settime(pending.bound_timer, 0, &(struct itimerspec){0}, NULL);
    pending.armed = false;
}

/* Returns false when SIG cannot wait (the queue is full).  SLOT: the
 * domain the thread is inside. */
static bool defer(int sig, siginfo_t *si, int slot)
{
    /* A standard signal already waiting is merged, as the kernel would. */
    if (sig < SIGRTMIN)
        for (int i = 0; i < pending.n; i++)
            if (pending.q[i].sig == sig)
                return true;
    if (pending.n == MAX_PENDING) {
        static atomic_bool warned;
        if (!atomic_exchange(&warned, true))
            protect_log("more than %d signals waiting for one library call: delivering inside it",
                        MAX_PENDING);
        return false;
    }
    if (pending.n == 0) {
        pending.slot = slot;
        pending.since = now_ns();
    }
    pending.q[pending.n++] = (struct pending_signal){sig, *si};
    atomic_fetch_add(&n_deferred, 1);
    gate_count(slot, GC_DEFERRED, 1);
    if (!pending.armed) {
        int fd = exit_breakpoint();
        if (fd >= 0 && ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) == 0) {
            atomic_fetch_add(&n_arms, 1);
        } else {
            exit_check(true);
            pending.exit_check = true;
        }
        arm_bound();
        pending.armed = true;
    }
    return true;
}

/* Delivers SIG although the thread is inside the library (the bound ran
 * out, or the no_defer list says so): a handler that calls the library
 * again must find the domain stack below the interrupted frames. */
static void deliver_inside(int sig, siginfo_t *si, ucontext_t *uc)
{
    struct domain *d = domain_for_rights(frame_rights(uc));
    uint64_t rsp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
    bool moved = d && gate_block_lower_sp(d->slot, rsp - 256);
    deliver(sig, si, uc, true);
    if (moved)
        gate_block_raise_sp(d->slot);
}

/* Takes the waiting signals out before delivering them, until none is left:
 * a handler may call the library again and have new ones deferred. */
static void deliver_pending(void *ctx, bool inside)
{
    struct pending_signal batch[MAX_PENDING];
    draining = true;
    if (pending.n)
        gate_count_deferral(pending.slot, now_ns() - pending.since);
    while (pending.n) {
        int n = pending.n;
        memcpy(batch, pending.q, (size_t)n * sizeof *batch);
        pending.n = 0;
        disarm();
        for (int i = 0; i < n; i++) {
            if (inside)
                deliver_inside(batch[i].sig, &batch[i].info, ctx);
            else
                deliver(batch[i].sig, &batch[i].info, ctx, false);
        }
    }
    draining = false;
}

/* (With protected frames, reached from protect_pf_signal_entry on a copy.) */
__attribute__((visibility("hidden"))) void protect_on_signal(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    int saved_errno = errno;
    uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (sig == SIGSYS && sealed_hooks.v.sigsys && sealed_hooks.v.sigsys(si, uc)) {
        errno = saved_errno;
        return;
    }
    /* The application's handler never sees, or changes, a context with the
     * runtime key open.  The runtime domain runs with every signal blocked
     * but the synchronous ones: a breakpoint at a gate's return is
     * libprotect's own (below: it waits there); a fault libprotect handles
     * (an int3 gate entry, a guarded WRPKRU) is handled; any other fault
     * ends the process; anything else was sent by another thread (a made-up
     * one has si_code <= 0), and is dropped. */
    if (!pku_dry_run() && rights_of_runtime(frame_rights(uc))) {
        uintptr_t exit_ret = (uintptr_t)gate_code()->exit_ret;
        bool gate_return = sig == SIGTRAP && synchronous(sig, si) &&
                           (ip == exit_ret + 1 || (si->si_code == TRAP_PERF && (ip == exit_ret || (uintptr_t)si->si_addr == exit_ret)));
        if (!gate_return) {
            if (!synchronous(sig, si)) {
                protect_log("signal %d came while libprotect's runtime domain ran (sent by another thread?): dropped",
                            sig);
            } else if (!fault_handled(sig, si, uc, &saved_errno)) {
                protect_fatal("signal %d in libprotect's runtime domain, at %p: stopping", sig, (void *)ip);
            }
            errno = saved_errno;
            return;
        }
    }
    /* Interrupted on neither an alternate stack of ours nor a domain stack,
     * nor inside an application handler we run: no handler of ours is below
     * this one, whatever alt_depth says (one that left by siglongjmp never
     * counted itself out). */
    uint64_t sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
    bool outermost = (alt_depth > 0 || app_handler_top) && !on_our_altstack(sp) && !on_domain_stack(sp) &&
                     !in_app_handler(sp);
    if (outermost) {
        alt_depth = 0;
        app_handler_top = 0;
    }
    if (sig == SIGTRAP && ip == (uintptr_t)gate_code()->exit_ret + 1) {
        /* The patched return (perhaps put back since): do the ret, then as
         * at a breakpoint. */
        greg_t *g = uc->uc_mcontext.gregs;
        g[REG_RIP] = *(greg_t *)g[REG_RSP];
        g[REG_RSP] += 8;
        atomic_fetch_add(&n_hits, 1);
        if (!inside_library(uc) && pending.n && alt_depth == 0 && !draining)
            deliver_pending(ctx, false);
    } else if (sig == SIGTRAP && si->si_code == TRAP_PERF &&
               (ip == (uintptr_t)gate_code()->exit_ret || (uintptr_t)si->si_addr == (uintptr_t)gate_code()->exit_ret)) {
        /* A gate is returning: to the application at last?  (Or one did,
         * in a service that a handler of ours called, with SIGTRAP blocked:
         * the trap comes after the handler, wherever the thread is then.) */
        atomic_fetch_add(&n_hits, 1);
        /* From inside a handler we run, wait (armed) for the outermost return. */
        if (!inside_library(uc) && pending.n && alt_depth == 0 && !draining)
            deliver_pending(ctx, false);
    } else if (synchronous(sig, si)) {
        if (!fault_handled(sig, si, uc, &saved_errno))
            deliver(sig, si, ctx, false);
    } else if (sig == PROTECT_SIGNAL && si->si_code == SI_TIMER) {
        if (pending.n) {
            atomic_fetch_add(&n_forced, 1);
            gate_count(pending.slot, GC_BOUND_HITS, 1);
            protect_log("a library call held %d signal(s) for more than %llu ms: delivering them inside it",
                        pending.n, (unsigned long long)(bound_ns / 1000000));
            deliver_pending(ctx, true);
        }
    } else if (sig == PROTECT_SIGNAL && si->si_code == SI_TKILL && si->si_pid == getpid()) {
        pkru_sync_apply(uc, app_rights(), protect_gate_page.t.lib_keys);
    } else if (!inside_library(uc)) {
        deliver(sig, si, ctx, false);
    } else if (no_defer[sig] || !defer(sig, si, domain_slot_of_rights(frame_rights(uc)))) {
        deliver_inside(sig, si, uc);
    }
    /* A thread that first entered a library from inside a handler got its
     * alternate stack then; the kernel's sigreturn would put back the "none"
     * it saved on delivery. */
    if (altstack[0] && (outermost || (uc->uc_stack.ss_flags & SS_DISABLE)) && !on_our_altstack(sp)) {
        stack_t level0 = kernel_altstack(0);
        if (level0.ss_sp)
            uc->uc_stack = level0;
    }
    errno = saved_errno;
}

/* Whether SIG must go through on_signal for the action ACT. */
static bool needs_us(int sig, const struct sigaction *act)
{
    if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP ||
        sig == SIGSYS || sig == PROTECT_SIGNAL)
        return true;
    if (act->sa_handler == SIG_IGN)
        return false;
    return act->sa_handler != SIG_DFL || !default_ignores(sig);
}

static bool reserved(int sig)
{
    /* SIGKILL and SIGSTOP cannot be caught; 32 and 33 belong to glibc. */
    return sig == SIGKILL || sig == SIGSTOP || (sig >= 32 && sig < SIGRTMIN);
}

/* Installs SIG's real action for what the application wants (lock held). */
static int apply(int sig)
{
    struct sigaction real;
    if (needs_us(sig, &app_action[sig])) {
        /* The system call a signal interrupts is restarted as the
         * application asked of its handler (one without SA_RESTART wants
         * EINTR: a read timed out by alarm() hung forever), and always for
         * a default action (nothing of the application runs) and for
         * libprotect's own signals. */
        const struct sigaction *app = &app_action[sig];
        bool handled = app->sa_handler != SIG_DFL && app->sa_handler != SIG_IGN;
        int restart = !handled || (app->sa_flags & SA_RESTART) ? SA_RESTART : 0;
        real = (struct sigaction){.sa_sigaction = protected_frames_on() ? protect_pf_signal_entry : protect_on_signal,
                                  .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | restart};
        if (sig == SIGCHLD) /* what the kernel does about children: no notice of stops, no zombies */
            real.sa_flags |= app->sa_flags & (SA_NOCLDSTOP | SA_NOCLDWAIT);
        sigfillset(&real.sa_mask);
        sigdelset(&real.sa_mask, SIGSYS); /* the filter's SIGSYS must get through, even here */
    } else {
        real = app_action[sig];
    }
    return protect_real_sigaction(sig, &real, NULL);
}

/* Whether libprotect's handler has the signals: from then on the
 * application's actions are its view (in hardened mode from the start, with
 * no library loaded yet: Python, which loads SQLite later, saw libprotect's
 * handler for every signal and took them for a C library's, so it never
 * installed its KeyboardInterrupt handler).  Sealed: cleared, it would let
 * the application's handlers reach the kernel, and see a library's frames. */
static SEALED union {
    bool v;
    char pages[SEALED_PAGES(bool)];
} taken_over;

static void take_over(void)
{
    sealed_open();
    taken_over.v = true;
    sealed_close();
    pthread_mutex_lock(&action_lock);
    for (int sig = 1; sig < NSIG; sig++) {
        if (reserved(sig) || protect_real_sigaction(sig, NULL, &app_action[sig]) != 0)
            continue;
        apply(sig);
    }
    /* glibc's own (cancellation, set*id): the same handlers, our restorer. */
    for (int sig = 32; sig < SIGRTMIN; sig++) {
        struct sigaction a;
        if (protect_real_sigaction(sig, NULL, &a) == 0 && a.sa_handler != SIG_DFL && a.sa_handler != SIG_IGN)
            protect_real_sigaction(sig, &a, NULL);
    }
    pthread_mutex_unlock(&action_lock);
}

/* The process libprotect's state belongs to: a child that shares the
 * memory without fork's handlers having run (vfork, posix_spawn, a bare
 * clone) must not change it for the parent. */
static pid_t our_pid;

static void after_fork_in_child(void)
{
    protected_frames_after_fork();
    our_pid = getpid();
}

bool in_our_process(void)
{
    return getpid() == our_pid;
}

void signals_take_over(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (!our_pid) {
        our_pid = getpid();
        pthread_atfork(NULL, NULL, after_fork_in_child);
    }
    pthread_once(&once, take_over);
    signals_thread_altstack(); /* the calling (main) thread's; other threads get theirs at start */
}

void signals_configure(const struct policy *p)
{
    const char *nb = getenv("PROTECT_NO_BREAKPOINTS");
    no_breakpoints = nb && *nb && strcmp(nb, "0") != 0;
    if (p->max_deferral_ms && (uint64_t)p->max_deferral_ms * 1000000ull < bound_ns)
        bound_ns = (uint64_t)p->max_deferral_ms * 1000000ull;
    for (int sig = 1; sig < NSIG && sig < 64; sig++)
        if (p->no_defer & (1ull << sig))
            no_defer[sig] = true;
}

void signals_new_thread_altstack(void)
{
    install_altstack(0, false); /* whatever its TLS says: the kernel gave a new thread none */
}

void signals_thread_altstack(void)
{
    /* Not again: a thread's first library call may come inside a handler
     * that runs on level 0, which the kernel disarmed for it; arming it
     * again would have a nested signal written over that handler. */
    if (!altstack[0])
        install_altstack(0, false);
}

void signals_thread_exit(void)
{
    /* Signals blocked first: one that came between taking the alternate
     * stacks away and unmapping them would arm one again (a delivery
     * installs the next level, sigreturn puts level 0 back), and the next
     * frame would go to unmapped memory: the process killed.  (The thread
     * is ending: what is pending for it alone dies with it.) */
    uint64_t all_but_sigsys = ~(1ull << (SIGSYS - 1));
    trusted_syscall(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all_but_sigsys, 0, sizeof all_but_sigsys, 0, 0);
    disarm();
    signals_kernel_altstack(ALTSTACK_OFF, 0);
    for (int i = 0; i < ALTSTACK_LEVELS; i++)
        if (altstack[i]) {
            /* (Where they are is in TLS, which the application can write:
             * pointed at a library's memory, this unmapped it for a page of
             * the application's to take its place: attack altstack_unmap.) */
            uintptr_t lo = (uintptr_t)altstack[i];
            if (sealed_hooks.v.protected_memory && sealed_hooks.v.protected_memory(lo, lo + ALTSTACK_SIZE))
                protect_fatal("blocked the unmapping of a thread's alternate stack at %p (%d bytes): it lies in "
                              "protected memory",
                              altstack[i], ALTSTACK_SIZE);
            trusted_munmap(altstack[i], ALTSTACK_SIZE);
            altstack[i] = NULL;
        }
    if (pending.perf_fd > 0)
        close(pending.perf_fd - 1);
    if (pending.has_timer)
        timer_delete(pending.bound_timer);
    pending.perf_fd = 0;
    pending.has_timer = false;
}

void signals_counts(struct protect_signal_counts *c)
{
    c->deferred = atomic_load(&n_deferred);
    c->delivered = atomic_load(&n_delivered);
    c->breakpoint_arms = atomic_load(&n_arms);
    c->forced = atomic_load(&n_forced);
    c->breakpoint_hits = atomic_load(&n_hits);
}

/* For tests and telemetry: dlsym(RTLD_DEFAULT, "libprotect_signal_counts"). */
__attribute__((visibility("default"))) void libprotect_signal_counts(struct protect_signal_counts *c)
{
    signals_counts(c);
}

int signals_set_action(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (taken_over.v && sig == SIGSYS && act && !in_our_process() && sealed_hooks.v.keep_sigsys_unblocked) {
        /* A child that shares our memory (vfork, posix_spawn) resetting its
         * handlers before exec: the filter's traps still need ours until
         * then (Python's subprocess resets every one, then closes its
         * descriptors with close_range, which traps: the child was killed
         * by SIGSYS).  The exec resets it anyway. */
        if (old)
            *old = app_action[sig];
        return 0;
    }
    /* A child that shares our memory gets its default and ignored actions
     * straight from the kernel (its own table: no CLONE_SIGHAND), not a
     * handler: whether this is such a child is read from memory the
     * application can write (our_pid), and an application that rewrote it
     * had its handler run as the kernel's with a library's live context
     * (attack our_pid). */
    bool plain = act && (act->sa_handler == SIG_DFL || act->sa_handler == SIG_IGN);
    if (!taken_over.v || sig <= 0 || sig >= NSIG || reserved(sig) || (!in_our_process() && plain))
        return protect_real_sigaction(sig, act, old);
    if (sig == PROTECT_SIGNAL && act) {
        errno = EINVAL; /* libprotect's own (a query sees the default action) */
        return -1;
    }
    pthread_mutex_lock(&action_lock);
    if (old)
        *old = app_action[sig];
    int rc = 0;
    if (act) {
        app_action[sig] = *act;
        rc = apply(sig);
    }
    pthread_mutex_unlock(&action_lock);
    return rc;
}

/* libprotect's handler runs on its own alternate stacks (they must be
 * there whenever a thread is on a domain stack): the application's own
 * alternate stack is kept as the application's view, where deliver runs
 * the application's SA_ONSTACK handlers. */

int signals_set_altstack(const stack_t *ss, stack_t *old)
{
    if (!trusted_restorer()) {
        stack_t copy;
        if (ss) {
            copy = *ss; /* read once */
            ss = &copy;
            refuse_protected_altstack(ss);
        }
        long r = trusted_syscall(SYS_sigaltstack, (long)ss, (long)old, 0, 0, 0, 0);
        return r < 0 ? (errno = (int)-r, -1) : 0;
    }
    /* In hardened mode never the application's own in the kernel: one it
     * declares over a library's memory would have the kernel write frames
     * there (since Linux 6.12 with every key open).  A child that shares our
     * memory (vfork) too: without ours, its frames would be written where
     * its stack pointer points. */
    if (!altstack[0])
        install_altstack(0, false);
    if (ss && !(ss->ss_flags & SS_DISABLE) && ss->ss_size < (size_t)MINSIGSTKSZ) {
        errno = ENOMEM;
        return -1;
    }
    if (old) {
        *old = app_altstack;
        if (on_app_altstack((uintptr_t)__builtin_frame_address(0)))
            old->ss_flags |= SS_ONSTACK;
    }
    if (ss)
        app_altstack = *ss;
    return 0;
}
