/* A callback the library calls runs with the application's rights: it
 * cannot read the library's stack (callback read-stack), write it
 * (callback write-stack), nor write the library's memory (callback
 * write-data). */
#include "attack.h"

static const char *mode = "";

static void visit(struct vault_cell *on_stack, void *arg)
{
    if (strcmp(mode, "write-data") == 0)
        write_counter_at(VAULT_DATA, &vault_address(VAULT_DATA)->counter);
    if (strcmp(mode, "write-stack") == 0) {
        on_stack->counter = FORGED_COUNTER;
        breached("wrote the library's stack");
    }
    read_secret_at(VAULT_DATA, on_stack->secret);
}

int main(int argc, char **argv)
{
    vault_open();
    mode = argc > 1 ? argv[1] : "";
    vault_visit(visit, NULL);
    blocked("the callback did not run");
}
