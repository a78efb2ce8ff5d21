/* The PKU mode (real keys or dry run) and the calls that differ between them. */
#define _GNU_SOURCE
#include "base/pku.h"

#include "base/sealed.h"

#include <sys/mman.h>

__thread uint32_t protect_emulated_pkru __attribute__((tls_model("initial-exec")));

/* Sealed: flipping an enforcing run to dry run would stop every WRPKRU. */
static SEALED union {
    struct pku_mode v;
    char pages[SEALED_PAGES(struct pku_mode)];
} mode = {.v = {.next_key = 1, .thread_start = 0x55555554}}; /* Linux's PKRU at exec */

const struct pku_mode *const protect_pku_mode = &mode.v;

void pku_choose_dry_run(bool on)
{
    sealed_open();
    mode.v.dry_run = on;
    sealed_close();
}

void pku_set_thread_start(uint32_t rights)
{
    if (!mode.v.dry_run)
        return;
    sealed_open();
    mode.v.thread_start = rights;
    sealed_close();
}

int pku_alloc(void)
{
    if (!mode.v.dry_run)
        return (int)trusted_syscall(SYS_pkey_alloc, 0, 0, 0, 0, 0, 0);
    if (mode.v.next_key > 15)
        return -1;
    sealed_open();
    int key = mode.v.next_key++;
    sealed_close();
    protect_emulated_pkru = pku_read() & ~pku_key_mask(key); /* like pkey_alloc: open for the caller */
    return key;
}

int pku_mprotect(void *addr, size_t len, int prot, int key)
{
    if (mode.v.dry_run)
        return trusted_mprotect(addr, len, prot); /* not tagged */
    return trusted_pkey_mprotect(addr, len, prot, key);
}
