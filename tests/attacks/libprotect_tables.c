/* libprotect's domain table rewritten: the library's key set to 0, so
 * that the memory it maps next would not be tagged. */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include <setjmp.h>
#include <signal.h>

static sigjmp_buf back;

static void on_segv(int sig)
{
    siglongjmp(back, 1);
}

int main(void)
{
    vault_open();
    /* struct domain starts with int slot, key (preload/domains.h) */
    volatile int *key = (int *)((char *)libprotect_symbol("protect_registry") + sizeof(int));
    if (key == (int *)sizeof(int))
        blocked("protect_registry not found");
    signal(SIGSEGV, on_segv);
    if (sigsetjmp(back, 1))
        blocked("writing libprotect's domain table faulted (read-only)");
    *key = 0;
    vault_open(); /* maps a new cell */
    read_secret_at(VAULT_MMAP, vault_address(VAULT_MMAP)->secret);
}
