/* The library as a confused deputy: a gated function that writes through
 * its pointer argument, handed a pointer into the library's own memory
 * (the heap cell's counter), writes there with the library's rights. */
#include "attack.h"

int main(void)
{
    vault_open();
    struct vault_cell *heap = vault_address(VAULT_HEAP);
    vault_secret_hash(VAULT_DATA, &heap->counter);
    if (vault_counter(VAULT_HEAP) != 1)
        breached("changed the library's counter through its own pointer argument");
    blocked("the counter did not change");
}
