/* Protected signal frames (protected_frames.h): the start-up probe and the
 * region, and the two C steps of the handler that run with the runtime key
 * open, on the thread's slice: protect_pf_enter (check the kernel's frame,
 * copy it for the C handler) and protect_pf_leave (merge what may change
 * back, or make a frame of no more than the application's rights). */
#define _GNU_SOURCE
#include "signals/protected_frames.h"

#include "base/far_map.h"
#include "gates/domains.h"
#include "gates/gate_table.h"
#include "gates/patcher.h"
#include "log.h"
#include "base/pku.h"
#include "base/pkru_sync.h"
#include "base/sealed.h"
#include "base/trusted_syscall.h"
#include "signals/signals.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#define UC_SIZE 304          /* the kernel's struct ucontext: what rt_sigreturn reads */
#define INFO_AT (8 + UC_SIZE) /* the frame's siginfo, after the return address and ucontext */
#define SW_RESERVED 464      /* the XSAVE area's software-reserved bytes (the kernel's fpx_sw_bytes) */
#define SW_BYTES 48
#define XSAVE_HEADER 512
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp trap */
#endif
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif
#define GLOBAL_SIZE 4096 /* the global page: the cookie, then the slices taken */

struct pf_record {
    uint64_t tid, pid;
    uint64_t live[PF_LEVELS]; /* the C handler's copy of each level's frame; 0: none */
    int32_t sig[PF_LEVELS], code[PF_LEVELS];
};
_Static_assert(offsetof(struct pf_record, live) == 16, "R_LIVE");
_Static_assert(64 + PF_MAX_THREADS / 8 <= GLOBAL_SIZE, "the bitmap of slices taken fits the global page");
_Static_assert(PF_ALTSTACKS + PF_LEVELS * PF_LEVEL_SIZE <= (1 << PF_SLICE_SHIFT), "a slice holds its stacks");
_Static_assert(PF_RECORD + sizeof(struct pf_record) <= PF_SCRATCH, "the record fits its page");
_Static_assert(offsetof(struct pf_config, global) == 32 && offsetof(struct pf_config, restorer) == 40, "CFG_*");

/* Besides the configuration: what the kernel writes in a frame's XSAVE
 * software bytes (which say how sigreturn reads the area), taken from the
 * probe's real frame: a frame of the application's making gets them. */
struct pf_sealed {
    struct pf_config cfg;
    uint8_t sw_bytes[SW_BYTES];
    uint32_t xstate_size;
};
__attribute__((visibility("hidden"))) SEALED union {
    struct pf_sealed v;
    char pages[SEALED_PAGES(struct pf_sealed)];
} protect_pf_config;
const struct pf_config *const pf = &protect_pf_config.v.cfg;

__attribute__((visibility("hidden"))) __thread uintptr_t protect_pf_slice __attribute__((tls_model("initial-exec")));
__attribute__((visibility("hidden"))) void *protect_pf_probe_out;

void protect_pf_probe_handler(void);
uintptr_t protect_pf_claim(void);
long protect_pf_reap(void);
void protect_pf_rebind(void);
void protect_on_signal(int sig, siginfo_t *si, void *ctx);
/* The top of the key-0 stack the C handler of LEVEL runs on (signals.c). */
uintptr_t signals_handler_stack_top(int level);

static struct pf_record *record_of(uintptr_t slice)
{
    return (struct pf_record *)(slice + PF_RECORD);
}

static uintptr_t level_top(uintptr_t slice, int level)
{
    return slice + PF_ALTSTACKS + (uintptr_t)(level + 1) * PF_LEVEL_SIZE;
}

/* First, on a plain alternate stack: the XSAVE software bytes of a real
 * frame, which a frame of the application's making will carry. */
static void copy_sw_bytes(int sig, siginfo_t *si, void *ctx)
{
    (void)sig, (void)si;
    const uint8_t *x = (const uint8_t *)((ucontext_t *)ctx)->uc_mcontext.fpregs;
    memcpy((uint8_t *)protect_pf_probe_out + 16, x + SW_RESERVED, SW_BYTES);
}

/* In a child: an alternate stack with a key the thread cannot touch, a
 * signal, and where the kernel put its frame (or the child dies: a kernel
 * that writes frames with the thread's own rights, before 6.12). */
static void probe_child(uint64_t *out)
{
    static uint8_t plain[PF_LEVEL_SIZE] __attribute__((aligned(64)));
    uint64_t none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, 8);
    stack_t ps = {.ss_sp = plain, .ss_size = sizeof plain};
    struct kernel_sigaction pk = {.handler = (void *)copy_sw_bytes,
                                  .flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER,
                                  .restorer = trusted_restorer()};
    if (!pk.restorer || syscall(SYS_sigaltstack, &ps, 0) || syscall(SYS_rt_sigaction, SIGUSR2, &pk, 0, 8))
        syscall(SYS_exit_group, 3);
    syscall(SYS_tgkill, syscall(SYS_getpid), syscall(SYS_gettid), SIGUSR2);
    long key = syscall(SYS_pkey_alloc, 0, PKEY_DISABLE_ACCESS);
    void *alt = (void *)syscall(SYS_mmap, 0, PF_LEVEL_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (key < 0 || alt == MAP_FAILED || syscall(SYS_pkey_mprotect, alt, PF_LEVEL_SIZE, PROT_READ | PROT_WRITE, key))
        syscall(SYS_exit_group, 3);
    out[1] = (uint64_t)(uintptr_t)alt + PF_LEVEL_SIZE;
    stack_t ss = {.ss_sp = alt, .ss_size = PF_LEVEL_SIZE};
    struct kernel_sigaction k = {.handler = (void *)protect_pf_probe_handler,
                                 .flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER,
                                 .restorer = (void *)protect_pf_probe_handler};
    if (syscall(SYS_sigaltstack, &ss, 0) || syscall(SYS_rt_sigaction, SIGUSR1, &k, 0, 8))
        syscall(SYS_exit_group, 3);
    syscall(SYS_tgkill, syscall(SYS_getpid), syscall(SYS_gettid), SIGUSR1);
    syscall(SYS_exit_group, 4);
}

/* The frame's offset below an alternate stack's top, and its XSAVE software
 * bytes (out[2..]), or 0 if this kernel cannot. */
static uint64_t probe(uint8_t *sw, uint32_t *xstate_size)
{
    uint64_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        return 0;
    protect_pf_probe_out = shared;
    long child = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); /* no fork handlers of the program's */
    if (child == 0)
        probe_child(shared);
    int status = 0;
    while (child > 0 && waitpid((pid_t)child, &status, __WALL) < 0 && errno == EINTR)
        ;
    uint64_t off = 0;
    if (child > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && shared[0] && shared[1] > shared[0]) {
        off = shared[1] - shared[0];
        memcpy(sw, (uint8_t *)shared + 16, SW_BYTES);
        memcpy(xstate_size, sw + 16, 4); /* fpx_sw_bytes: magic1, extended_size, xfeatures, xstate_size */
    }
    munmap(shared, 4096);
    return off > INFO_AT + 128 && off + 4096 <= PF_LEVEL_SIZE && off + 64 <= PF_SCRATCH_SIZE ? off : 0;
}

/* The cookie for the filter's first program, which is built before the
 * application's code runs: kept in ordinary memory only until then. */
static uint64_t cookie_for_filter;

void protected_frames_setup(void)
{
    if (pku_dry_run())
        return;
    /* The runtime domain's key (hardened/runtime_domain.h), if it has one. */
    const struct domain_gate *runtime = &protect_gate_page.t.domain[RT_SLOT];
    int key = runtime->pkru != GATE_UNUSED_PKRU ? domain_key(RT_SLOT) : -1;
    if (key < 0) { /* (said where the runtime domain is set up) */
        protect_info("signal frames stay on key-0 alternate stacks: libprotect's runtime has no key");
        return;
    }
    uint8_t sw[SW_BYTES];
    uint32_t xstate_size = 0;
    uint64_t off = probe(sw, &xstate_size);
    if (!off || xstate_size < XSAVE_HEADER + 64 || off < INFO_AT + 128 + xstate_size) {
        protect_info("signal frames stay on key-0 alternate stacks: this kernel cannot write them where the "
                     "interrupted thread may not (Linux 6.12 can)");
        return;
    }
    /* A 32nd of the address space at most, where it is limited: the
     * libraries' own memory needs the rest. */
    size_t threads = PF_MAX_THREADS, size = 0;
    struct rlimit as;
    if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY)
        while (threads > 64 && (threads << PF_SLICE_SHIFT) > as.rlim_cur / 32)
            threads /= 2;
    size = GLOBAL_SIZE + (threads << PF_SLICE_SHIFT);
    uint8_t *region = far_mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    if (threads < PF_MAX_THREADS)
        protect_log("protected signal stacks for %zu threads at once, not %d (RLIMIT_AS)", threads, PF_MAX_THREADS);
    uint64_t cookie = 0;
    /* The cookie is written before the region gets the key: nothing opens it here. */
    if (region == MAP_FAILED || getrandom(&cookie, sizeof cookie, 0) != sizeof cookie || !cookie ||
        (memcpy(region, &cookie, sizeof cookie), trusted_pkey_mprotect(region, size, PROT_READ | PROT_WRITE, key)))
        protect_refuse("hardened mode: cannot set up the protected signal stacks (%s)", strerror(errno));
    cookie_for_filter = cookie;
    cookie = 0;
    sealed_open();
    protect_pf_config.v.cfg = (struct pf_config){
        .rights = runtime->pkru,
        .on = 1,
        .slices = (uintptr_t)region + GLOBAL_SIZE,
        .slices_size = (uint64_t)threads << PF_SLICE_SHIFT,
        .frame_off = off,
        .global = (uintptr_t)region,
        .restorer = (uintptr_t)trusted_restorer(),
        .key = key,
    };
    memcpy(protect_pf_config.v.sw_bytes, sw, SW_BYTES);
    protect_pf_config.v.xstate_size = xstate_size;
    sealed_close();
    gate_table_add_runtime_region((uintptr_t)region, (uintptr_t)region + size);
    protect_info("signal frames on protected stacks (key %d, %llu-byte frames)", key, (unsigned long long)off);
}

uint64_t protected_frames_cookie(void)
{
    uint64_t c = cookie_for_filter;
    cookie_for_filter = 0;
    return c;
}

void protected_frames_region(uintptr_t *lo, uintptr_t *hi)
{
    *lo = pf->on ? pf->global : 0;
    *hi = pf->on ? pf->slices + pf->slices_size : 0;
}

bool protected_frames_contains(uintptr_t lo, uintptr_t hi)
{
    return pf->on && hi > pf->global && lo < pf->slices + pf->slices_size;
}

uintptr_t protected_frames_thread(void)
{
    if (!pf->on)
        return 0;
    uintptr_t s = protect_pf_slice;
    if (s - pf->slices < pf->slices_size && !((s - pf->slices) & ((1u << PF_SLICE_SHIFT) - 1)))
        return s;
    s = protect_pf_claim();
    if (!s && protect_pf_reap() > 0)
        s = protect_pf_claim();
    if (!s)
        protect_fatal("more than %llu threads at once: no protected signal stack left for this one",
                      (unsigned long long)(pf->slices_size >> PF_SLICE_SHIFT));
    return s;
}

void *protected_frames_altstack(int level)
{
    uintptr_t s = protected_frames_thread();
    return s ? (void *)(level_top(s, level) - PF_LEVEL_SIZE) : NULL;
}

void *protected_frames_owned_altstack(int level)
{
    uintptr_t s = protect_pf_slice;
    if (!pf->on || s - pf->slices >= pf->slices_size || ((s - pf->slices) & ((1u << PF_SLICE_SHIFT) - 1)))
        return NULL;
    const struct pf_record *r = record_of(s);
    if (r->tid != (uint64_t)gettid()) /* (tids are the pid namespace's: a forked child's is not its parent's) */
        return NULL;
    return (void *)(level_top(s, level) - PF_LEVEL_SIZE);
}

void protected_frames_after_fork(void)
{
    if (pf->on)
        protect_pf_rebind();
}

/* ---- With the runtime key open, on the thread's slice ---- */

/* Stops the process from here, where every signal but SIGSYS is blocked
 * and abort()'s would come back to this handler: the default action of
 * SIGABRT, straight from the kernel. */
__attribute__((noreturn, format(printf, 1, 2))) static void pf_fatal(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    protect_log("%s", msg);
    struct kernel_sigaction dfl = {.handler = SIG_DFL};
    uint64_t abrt = 1ull << (SIGABRT - 1);
    signals_kernel_sigaction(SIGABRT, &dfl, NULL);
    trusted_syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&abrt, 0, 8, 0, 0);
    trusted_syscall(SYS_tgkill, getpid(), gettid(), SIGABRT, 0, 0, 0);
    trusted_syscall(SYS_exit_group, 127, 0, 0, 0, 0, 0);
    __builtin_unreachable();
}

/* The copy a confidential library's context gets for the C handler, which
 * runs with the application's rights on its memory: only what the handler
 * reads (where the thread is, the fault, a trapped call's number and
 * arguments); its other registers, which may hold what the library works
 * on (round keys in vector registers), are not the application's to read. */
static void hide_for_handler(ucontext_t *c, int sig, uint32_t rights)
{
    static const int kept[] = {REG_RIP, REG_RSP, REG_EFL, REG_CSGSFS, REG_ERR, REG_TRAPNO, REG_OLDMASK, REG_CR2};
    static const int call[] = {REG_RAX, REG_RDI, REG_RSI, REG_RDX, REG_R10, REG_R8, REG_R9};
    greg_t g[NGREG] = {0};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        g[kept[i]] = c->uc_mcontext.gregs[kept[i]];
    if (sig == SIGSYS)
        for (size_t i = 0; i < sizeof call / sizeof *call; i++)
            g[call[i]] = c->uc_mcontext.gregs[call[i]];
    memcpy(c->uc_mcontext.gregs, g, sizeof g);
    uint8_t *x = (uint8_t *)c->uc_mcontext.fpregs;
    memset(x + 32, 0, SW_RESERVED - 32);                                     /* x87 and XMM */
    memset(x + XSAVE_HEADER + 64, 0, protect_pf_config.v.xstate_size - XSAVE_HEADER - 64); /* AVX and the rest */
    *frame_pkru_slot(c) = rights;
}

__attribute__((visibility("hidden"))) uintptr_t protect_pf_enter(uintptr_t f, int sig)
{
    uintptr_t slice = pf->slices + (((f - pf->slices) >> PF_SLICE_SHIFT) << PF_SLICE_SHIFT);
    struct pf_record *r = record_of(slice);
    /* (The kernel wrote the frame on this thread's stacks: the slice is the
     * thread's without a system call to ask.  Another thread that enters a
     * frame of this one's can only take it first, and the owner then stops
     * the process at the claim below.) */
    uintptr_t off = f - (slice + PF_ALTSTACKS);
    int level = (int)(off / PF_LEVEL_SIZE);
    if (off >= (uintptr_t)PF_LEVELS * PF_LEVEL_SIZE || f != level_top(slice, level) - pf->frame_off)
        pf_fatal("libprotect's signal handler entered with its stack where the kernel puts no frame");
    siginfo_t *si = (siginfo_t *)(f + INFO_AT);
    ucontext_t *k = (ucontext_t *)(f + 8);
    uintptr_t fp = (uintptr_t)k->uc_mcontext.fpregs;
    if (sig <= 0 || __atomic_exchange_n(&si->si_signo, 0, __ATOMIC_ACQ_REL) != sig)
        pf_fatal("libprotect's signal handler entered on a frame it handled already (a replay?)");
    if (fp < f + INFO_AT + 128 || fp + protect_pf_config.v.xstate_size > f + pf->frame_off)
        pf_fatal("a signal frame whose XSAVE area is not where the kernel puts it");
    size_t n = pf->frame_off;
    uintptr_t top = signals_handler_stack_top(level);
    if (top < n + 4096 || protected_frames_contains(top - n - 4096, top) ||
        (signals_hooks()->protected_memory && signals_hooks()->protected_memory(top - n - 4096, top)))
        pf_fatal("this thread's signal handler stack (%#lx) is not the application's memory", (unsigned long)top);
    uintptr_t w = ((top - n - 128) & ~(uintptr_t)63) + (f & 63);
    memcpy((void *)w, (const void *)f, n);
    ((siginfo_t *)(w + INFO_AT))->si_signo = sig; /* (taken above in the real frame) */
    ucontext_t *c = (ucontext_t *)(w + 8);
    c->uc_mcontext.fpregs = (fpregset_t)(w + (fp - f));
    uint32_t rights = frame_rights(k);
    const struct domain *d = rights_within_app(rights) ? NULL : domain_for_rights(rights);
    /* Hidden too: the runtime domain's registers, and a library's in a
     * memory call of the trusted page (the cookie in r9; only those two
     * read it).  (The application's own context, whose copy goes back
     * whole, keeps its registers.) */
    uintptr_t page_lo, page_hi, ip = (uintptr_t)k->uc_mcontext.gregs[REG_RIP];
    trusted_page_range(&page_lo, &page_hi);
    if (!rights_within_app(rights) && ((d && d->policy.mode == POLICY_CONFIDENTIAL) || rights_of_runtime(rights) ||
                                       (ip >= page_lo && ip < page_hi)))
        hide_for_handler(c, sig, rights);
    r->live[level] = w;
    r->sig[level] = sig;
    r->code[level] = si->si_code;
    return w;
}

/* How much a key's two PKRU bits let through: 0 nothing, 1 reads, 2 all. */
static int access_of(uint32_t pkru, int key)
{
    uint32_t b = pkru >> (2 * key);
    return (b & 1) ? 0 : (b & 2) ? 1 : 2;
}

/* Rights a library's context may be given back with: per key no more than
 * it had or the application has (fewer rights, the application's newer
 * keys: what pkru_sync and an emulated stray WRPKRU write). */
static bool no_wider(uint32_t asked, uint32_t had)
{
    uint32_t app = app_rights();
    for (int key = 0; key < 16; key++) {
        int a = access_of(asked, key), h = access_of(had, key), p = access_of(app, key);
        if (a > (h > p ? h : p))
            return false;
    }
    return true;
}

static bool is_wrpkru_at(uintptr_t at)
{
    const uint8_t *b = (const uint8_t *)at;
    return (b[0] == 0x0f || b[0] == 0xcc) && b[1] == 0x01 && b[2] == 0xef;
}

/* Where a library's interrupted context may be sent by what libprotect's
 * handler does there: back where it was, the ret an int3 at the gate's
 * exit stands for, an int3 gate entry's stub, a stray WRPKRU run again or
 * stepped over (emulated), a contained fault's way out of the gate. */
static bool library_move_allowed(int sig, const greg_t *k, const greg_t *c)
{
    uintptr_t rip = (uintptr_t)k[REG_RIP], rsp = (uintptr_t)k[REG_RSP];
    uintptr_t nrip = (uintptr_t)c[REG_RIP], nrsp = (uintptr_t)c[REG_RSP];
    const struct gate_code *g = gate_code();
    if (nrip == rip && nrsp == rsp)
        return true;
    if (nrip == (uintptr_t)g->contained)
        return true;
    if (sig != SIGTRAP)
        return false;
    if (rip == (uintptr_t)g->exit_ret + 1 && nrsp == rsp + 8 && nrip == *(const uintptr_t *)rsp)
        return true;
    if (nrsp != rsp)
        return false;
    if (*(const uint8_t *)(rip - 1) == 0xcc && nrip == patch_trap_target(rip - 1))
        return true;
    for (uintptr_t at = rip - 1; at <= rip; at++)
        if (nrip == at || (nrip == at + 3 && is_wrpkru_at(at)))
            return true;
    return false;
}

/* What the C handler changed in its copy W of the real frame F (in the
 * region) goes back to F as far as it may: the application's own context
 * all of it but rights beyond its own and how sigreturn reads the XSAVE
 * area; a library's only what libprotect's handler does there. */
static void merge(uintptr_t slice, int level, uintptr_t f, uintptr_t w)
{
    struct pf_record *r = record_of(slice);
    size_t n = pf->frame_off;
    uint8_t *snap = (uint8_t *)(slice + PF_SCRATCH);
    memcpy(snap, (const void *)w, n); /* the copy is read once, here */
    ucontext_t *k = (ucontext_t *)(f + 8), *c = (ucontext_t *)(snap + 8);
    uint8_t *kx = (uint8_t *)k->uc_mcontext.fpregs, *cx = snap + (kx - (uint8_t *)f);
    c->uc_mcontext.fpregs = (fpregset_t)cx;
    uint32_t had = *frame_pkru_slot(k), asked = *frame_pkru_slot(c);
    greg_t *kg = k->uc_mcontext.gregs, *cg = c->uc_mcontext.gregs;
    uint64_t kmask, cmask;
    memcpy(&cmask, &c->uc_sigmask, 8);
    memcpy(&kmask, &k->uc_sigmask, 8);
    if (rights_within_app(had)) {
        memcpy(kg, cg, sizeof(gregset_t));
        memcpy(kx, cx, SW_RESERVED);
        memcpy(kx + XSAVE_HEADER, cx + XSAVE_HEADER, protect_pf_config.v.xstate_size - XSAVE_HEADER);
        *frame_pkru_slot(k) = rights_within_app(asked) ? asked : had;
    } else {
        int sig = r->sig[level];
        bool blocked = false;
        if (library_move_allowed(sig, kg, cg)) {
            bool contained = (uintptr_t)cg[REG_RIP] == (uintptr_t)gate_code()->contained &&
                             (uintptr_t)kg[REG_RIP] != (uintptr_t)gate_code()->contained;
            kg[REG_RIP] = cg[REG_RIP];
            kg[REG_RSP] = cg[REG_RSP];
            if (contained) {
                kg[REG_RAX] = cg[REG_RAX];
                kg[REG_RDX] = cg[REG_RDX];
            }
        } else {
            blocked = true;
        }
        if (sig == SIGSYS && r->code[level] == SYS_SECCOMP)
            kg[REG_RAX] = cg[REG_RAX]; /* the trapped call's result */
        if (((kg[REG_EFL] ^ cg[REG_EFL]) & ~(greg_t)0x10000) == 0) /* the resume flag */
            kg[REG_EFL] = cg[REG_EFL];
        if (no_wider(asked, had))
            *frame_pkru_slot(k) = asked;
        else
            blocked = true;
        if (blocked)
            protect_log("blocked a change of a library's interrupted context by signal %d's handler (where it "
                        "resumes, or its rights): kept as the kernel saved it",
                        sig);
    }
    memcpy(&k->uc_sigmask, &cmask, 8);
    stack_t level0 = {.ss_sp = (void *)(level_top(slice, 0) - PF_LEVEL_SIZE), .ss_size = PF_LEVEL_SIZE,
                      .ss_flags = SS_AUTODISARM};
    if (c->uc_stack.ss_sp == level0.ss_sp && c->uc_stack.ss_size == level0.ss_size &&
        (unsigned)c->uc_stack.ss_flags == (unsigned)level0.ss_flags)
        k->uc_stack = level0;
    (void)kmask;
}

/* A frame outside the region (one handled where the kernel wrote it, or
 * one the application made and sent here): copied in once, with the XSAVE
 * software bytes of a real frame and no more than the application's rights. */
static uintptr_t copy_in(uintptr_t slice, uintptr_t uc)
{
    uint8_t *s = (uint8_t *)(slice + PF_SCRATCH);
    memcpy(s + 8, (const void *)uc, UC_SIZE);
    ucontext_t *c = (ucontext_t *)(s + 8);
    const uint8_t *from = (const uint8_t *)c->uc_mcontext.fpregs;
    uint8_t *x = s + 1024;
    uint32_t size = protect_pf_config.v.xstate_size;
    if (!from)
        pf_fatal("a signal frame with no XSAVE area sent to libprotect's restorer");
    memcpy(x, from, size);
    memcpy(x + SW_RESERVED, protect_pf_config.v.sw_bytes, SW_BYTES);
    uint32_t magic2 = 0x46505845u; /* FP_XSTATE_MAGIC2, after the area */
    memcpy(x + size, &magic2, 4);
    c->uc_flags |= 1; /* UC_FP_XSTATE: the XSAVE area is read as such */
    c->uc_mcontext.fpregs = (fpregset_t)x;
    uint32_t *p = frame_pkru_slot(c);
    if (!rights_within_app(*p))
        *p = app_rights();
    /* rt_sigreturn makes uc_stack the thread's alternate stack: never one
     * in protected memory (the kernel would write frames there with every
     * key open), nor another thread's protected one. */
    uintptr_t lo = (uintptr_t)c->uc_stack.ss_sp, hi = lo + c->uc_stack.ss_size;
    bool own = lo == level_top(slice, 0) - PF_LEVEL_SIZE && hi == level_top(slice, 0);
    if (!(c->uc_stack.ss_flags & SS_DISABLE) && !own &&
        (hi < lo || protected_frames_contains(lo, hi) ||
         (signals_hooks()->protected_memory && signals_hooks()->protected_memory(lo, hi))))
        c->uc_stack = (stack_t){.ss_flags = SS_DISABLE};
    return (uintptr_t)(s + 8);
}

__attribute__((visibility("hidden"))) uintptr_t protect_pf_leave(uintptr_t slice, uintptr_t uc)
{
    struct pf_record *r = record_of(slice); /* (this thread's: the assembly checked) */
    for (int level = PF_LEVELS - 1; level >= 0; level--)
        if (r->live[level] && r->live[level] == uc - 8) {
            uintptr_t f = level_top(slice, level) - pf->frame_off;
            merge(slice, level, f, uc - 8);
            for (int l = level; l < PF_LEVELS; l++) /* (those above: left by siglongjmp) */
                r->live[l] = 0;
            return f + 8;
        }
    return copy_in(slice, uc);
}
