#define _GNU_SOURCE
#include "hardened/thread_start.h"

#include "base/pkru_sync.h"
#include "base/trusted_syscall.h"
#include "hardened/syscall_filter.h"
#include "hardened/syscall_trap.h"
#include "signals/signals.h"

#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

/* What the child's trampoline reads (thread_trampoline.S's offsets). */
struct thread_record {
    uint64_t rbx, rbp, r12, r13, r14, r15, rdi, rsi, rdx, r8, r9, r10, rip, sp, mask;
    uint32_t mxcsr;
    uint16_t fcw, unused;
    uint32_t own_tls, unused2;
};
_Static_assert(offsetof(struct thread_record, rip) == 96 && offsetof(struct thread_record, sp) == 104 &&
                   offsetof(struct thread_record, mask) == 112 && offsetof(struct thread_record, mxcsr) == 120 &&
                   offsetof(struct thread_record, fcw) == 124 && offsetof(struct thread_record, own_tls) == 128,
               "the trampoline's offsets");

extern const char protect_thread_trampoline[];

#define SIGSYS_BIT (1ull << (SIGSYS - 1))

/* The trampoline's call, on the child's stack: its alternate stack, then
 * the mask it would have had (without SIGSYS, which the filter's traps
 * need, nor libprotect's own signal).  Anyone may call it: it gives the
 * calling thread an alternate stack of libprotect's and a mask, nothing
 * else. */
__attribute__((visibility("hidden"))) void thread_start_born(uint64_t mask, uint32_t own_tls)
{
    if (own_tls)
        signals_new_thread_altstack();
    else
        signals_kernel_altstack(ALTSTACK_OWN, 0);
    mask &= ~(SIGSYS_BIT | PROTECT_SIGNAL_BIT);
    trusted_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&mask, 0, sizeof mask, 0, 0);
}

void thread_context_of(const ucontext_t *uc, const long *a, struct thread_context *c)
{
    const greg_t *g = uc->uc_mcontext.gregs;
    const struct _libc_fpstate *fp = uc->uc_mcontext.fpregs;
    *c = (struct thread_context){
        .rip = (uint64_t)g[REG_RIP], .sp = a[1] ? (uint64_t)a[1] : (uint64_t)g[REG_RSP],
        .mask = *(const uint64_t *)&uc->uc_sigmask,
        .fp_control = fp ? fp->mxcsr | (uint64_t)fp->cwd << 32 : 0x1f80 | 0x37full << 32,
        .rbx = (uint64_t)g[REG_RBX], .rbp = (uint64_t)g[REG_RBP], .r12 = (uint64_t)g[REG_R12],
        .r13 = (uint64_t)g[REG_R13], .r14 = (uint64_t)g[REG_R14], .r15 = (uint64_t)g[REG_R15]};
}

long thread_start_clone(const long *a, const struct thread_context *c, bool library_stack)
{
    /* The trampoline's address, then the record, below the child's stack
     * (16-aligned after the ret pops the address, as at a call's entry
     * plus 8: the trampoline aligns its own calls). */
    uintptr_t at = ((c->sp - sizeof(struct thread_record)) & ~(uintptr_t)15) - 8;
    if (!library_stack && in_protected_memory(at, c->sp))
        return trap_refuse(SYS_clone, "a new thread's stack in protected memory");
    *(struct thread_record *)(at + 8) = (struct thread_record){
        .rbx = c->rbx, .rbp = c->rbp, .r12 = c->r12, .r13 = c->r13, .r14 = c->r14, .r15 = c->r15,
        .rdi = (uint64_t)a[0], .rsi = (uint64_t)a[1], .rdx = (uint64_t)a[2], .r10 = (uint64_t)a[3],
        .r8 = (uint64_t)a[4], .r9 = (uint64_t)a[5], .rip = c->rip, .sp = c->sp, .mask = c->mask,
        .mxcsr = (uint32_t)c->fp_control, .fcw = (uint16_t)(c->fp_control >> 32),
        .own_tls = (a[0] & CLONE_SETTLS) != 0};
    *(uint64_t *)at = (uint64_t)(uintptr_t)protect_thread_trampoline;
    /* The child returns from the trusted page's syscall with its ret: to
     * the trampoline, with the rights this runs with. */
    return trusted_syscall(SYS_clone, a[0], (long)at, a[2], a[3], a[4], 0);
}
