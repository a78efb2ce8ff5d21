/* The application frees a live object of the library's heap (a stray or
 * double free, as a buggy program makes): were the free carried out, the
 * library's next allocation would hand the block out again under another
 * of its objects while the first still uses it.  Breached when it does.
 * heap_free [twice] */
#include "attack.h"

int main(int argc, char **argv)
{
    vault_open();
    uintptr_t was = (uintptr_t)vault_address(VAULT_HEAP);
    void *volatile block = (void *)was; /* (the compiler would see the double free) */
    free(block);
    if (argc > 1 && strcmp(argv[1], "twice") == 0)
        free(block);
    vault_open(); /* the library allocates a new cell of the same size */
    if ((uintptr_t)vault_address(VAULT_HEAP) == was)
        breached("the library handed out again a block the application freed while it was live");
    blocked("the library's block was not freed");
}
