/* A signal delivered while the thread is inside the library (the policy's
 * no_defer = SIGUSR2): the application's handler points the interrupted
 * context's instruction pointer at its own code, which would then run
 * with the library's rights.  handler_inside */
#define _GNU_SOURCE
#include "attack.h"

#include <pthread.h>
#include <signal.h>
#include <ucontext.h>

static uint8_t stack[65536] __attribute__((aligned(16)));
static volatile int handled;

static void steal(void)
{
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
    pthread_kill(*(pthread_t *)main_thread, SIGUSR2);
    return NULL;
}

int main(void)
{
    vault_open();
    struct sigaction sa = {.sa_sigaction = redirect, .sa_flags = SA_SIGINFO};
    sigaction(SIGUSR2, &sa, NULL);
    pthread_t self = pthread_self(), t;
    pthread_create(&t, NULL, signal_later, &self);
    vault_hold(1000); /* inside the library for a second */
    pthread_join(t, NULL);
    blocked(handled ? "the handler ran, and the library went on as it was" : "the handler did not run");
}
