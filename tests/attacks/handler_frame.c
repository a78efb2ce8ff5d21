/* A signal delivered while the thread is inside the library (no_defer =
 * SIGUSR2): the application's handler gets a copy of the library's context
 * (handler_inside edits that copy, to no effect); this one finds the real
 * frame on libprotect's alternate stack, which is memory of key 0 (a
 * frame that names that stack as the one to put back, its XSAVE area
 * above it), and points its instruction pointer at
 * application code, which would then run with the library's rights.
 * handler_frame */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include "signal_inside.h"

#include <stdint.h>

static volatile int found;

static void redirect(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *shown = ctx;
    void **altstack = libprotect_thread_local("altstack");
    if (!altstack)
        return;
    for (int level = 0; level < 8 && !found; level++) {
        uint8_t *lo = altstack[level];
        if (!lo)
            continue;
        for (uint8_t *p = lo; p + sizeof(ucontext_t) <= lo + 128 * 1024 && !found; p += 8) {
            /* A frame the kernel wrote there: it names this alternate stack
             * as the one to put back, and its XSAVE area lies just above. */
            ucontext_t *real = (ucontext_t *)p;
            uint8_t *fp = (uint8_t *)real->uc_mcontext.fpregs;
            if (real == shown || real->uc_stack.ss_sp != altstack[0] || real->uc_stack.ss_size != 128 * 1024 ||
                fp <= p || fp > p + 16384 || !real->uc_mcontext.gregs[REG_RIP])
                continue;
            point_at_stealer(real->uc_mcontext.gregs);
            found = 1;
        }
    }
}

int main(void)
{
    vault_open();
    signal_inside(SIGUSR2, redirect, vault_hold, 1000);
    blocked(found ? "the real frame was rewritten, and the library went on as it was" : "the real frame was not found");
}
