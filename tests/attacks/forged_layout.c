/* The vault's program headers in the loader's record forged before
 * libprotect attaches it (libforge's constructor: forge_layout.c), so that
 * its writable segment would be left untagged; then its secret read
 * directly.  forged_layout */
#define _GNU_SOURCE
#include "attack.h"

int forge_layout_done(void);

int main(void)
{
    vault_open();
    if (!forge_layout_done())
        blocked("the loader's record could not be forged");
    read_secret_at(VAULT_DATA, vault_address(VAULT_DATA)->secret);
}
