/* A callback the library calls runs with the application's rights: it
 * cannot read the library's stack (callback read-stack), write it
 * (callback write-stack), nor write the library's memory (callback
 * write-data), nor find the library's stack in the copy of it that the
 * callback gate makes for stack arguments (callback window). */
#include "attack.h"

static const char *mode = "";

/* The callback's own stack, above its frame: the gate's copy of the
 * caller's stack-argument window lies there.  Every 8-byte offset tried. */
__attribute__((noinline)) static void search_window(void)
{
    volatile uint8_t here[8];
    const uint8_t *from = (const uint8_t *)here;
    for (size_t off = 0; off < 2048; off += 8)
        if (vault_matches(VAULT_DATA, from + off))
            breached("found the library's secret in the callback gate's copy of its stack");
    blocked("no copy of the library's stack on the callback's");
}

static void visit(struct vault_cell *on_stack, void *arg)
{
    if (strcmp(mode, "window") == 0)
        search_window();
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
