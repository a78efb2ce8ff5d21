/* A signal delivered while the thread is inside the library (no_defer =
 * SIGUSR2): the application's handler gets a copy of the library's context
 * (handler_inside edits that copy, to no effect); this one looks on
 * libprotect's stacks of key 0 for the context the thread will return to:
 * the real frame where the kernel writes it there (before Linux 6.12), or
 * the copy libprotect's C handler works on where frames are protected (the
 * same registers, an XSAVE area just above), and points its instruction
 * pointer at application code, which would then run with the library's
 * rights.  handler_frame; handler_frame race: the handler hands the
 * context to another thread, which keeps rewriting it (and the rights in
 * its XSAVE area) while libprotect takes the handler's changes back. */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include "signal_inside.h"

#include <pthread.h>
#include <stdint.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

static volatile int found;
static int racing;
static ucontext_t *volatile raced;
static volatile int stop;

/* Rewrites the context it is handed until told to stop: where it resumes,
 * and every key open in its rights. */
static void *racer(void *arg)
{
    while (!stop) {
        ucontext_t *uc = raced;
        if (!uc)
            continue;
        point_at_stealer(uc->uc_mcontext.gregs);
        xsave_open_every_key((uint8_t *)uc->uc_mcontext.fpregs);
    }
    return arg;
}

static void redirect(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *shown = ctx, *real = NULL;
    void **altstack = libprotect_thread_local("altstack");
    if (!altstack)
        return;
    /* The library's context: one that names an alternate stack to put
     * back as the kernel saves it (libprotect's are SS_AUTODISARM), with
     * an XSAVE area just above and registers (the copy shown to this
     * handler has a confidential library's zeroed); the highest such,
     * above the frames of the handler that runs below it. */
    for (int level = 0; level < 8; level++) {
        uint8_t *lo = altstack[level];
        for (uint8_t *p = lo; lo && p + sizeof(ucontext_t) <= lo + 128 * 1024; p += 8) {
            ucontext_t *c = (ucontext_t *)p;
            uint8_t *fp = (uint8_t *)c->uc_mcontext.fpregs;
            if (c != shown && fp > p && fp <= p + 16384 && (c->uc_stack.ss_flags & SS_AUTODISARM) &&
                c->uc_mcontext.gregs[REG_RIP] && c->uc_mcontext.gregs[REG_RSP] && c > real)
                real = c;
        }
    }
    if (!real)
        return;
    if (racing)
        raced = real;
    else
        point_at_stealer(real->uc_mcontext.gregs);
    found = 1;
}

int main(int argc, char **argv)
{
    vault_open();
    pthread_t t;
    racing = argc > 1 && strcmp(argv[1], "race") == 0;
    if (racing)
        pthread_create(&t, NULL, racer, NULL);
    signal_inside(SIGUSR2, redirect, vault_hold, 1000);
    stop = 1;
    if (racing)
        pthread_join(t, NULL);
    blocked(found ? "the frame was rewritten, and the library went on as it was" : "the frame was not found");
}
