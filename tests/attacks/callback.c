/* A callback the library calls runs with the application's rights: it
 * cannot read the library's stack (callback read-stack) nor write the
 * library's memory (callback write-data). */
#include "attack.h"

static int write_mode;

static void visit(struct vault_cell *on_stack, void *arg)
{
    if (write_mode)
        write_counter_at(VAULT_DATA, &vault_address(VAULT_DATA)->counter);
    read_secret_at(VAULT_DATA, on_stack->secret);
}

int main(int argc, char **argv)
{
    vault_open();
    write_mode = argc > 1 && strcmp(argv[1], "write-data") == 0;
    vault_visit(visit, NULL);
    blocked("the callback did not run");
}
