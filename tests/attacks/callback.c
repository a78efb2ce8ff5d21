/* A callback the library calls runs with the application's rights: it
 * cannot read the library's stack (callback read-stack), write it
 * (callback write-stack), nor write the library's memory (callback
 * write-data), nor find the library's stack in the copy of it that the
 * callback gate makes for stack arguments (callback window). */
#include "attack.h"

static const char *mode = "";

/* The end of the mapping that holds P (the stack's top), from /proc/self/maps. */
static uintptr_t mapping_end(const void *p)
{
    FILE *f = fopen("/proc/self/maps", "r");
    unsigned long lo, hi, end = (uintptr_t)p;
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)p >= lo && (uintptr_t)p < hi)
            end = hi;
    if (f)
        fclose(f);
    return end;
}

/* The callback's own stack, above its frame: the gate's copy of the
 * caller's stack-argument window lies there.  Every 8-byte offset tried,
 * up to 2 KiB or the stack's top (where main's frame is near it, the last
 * reads would fault). */
__attribute__((noinline)) static void search_window(void)
{
    volatile uint8_t here[8];
    const uint8_t *from = (const uint8_t *)here;
    size_t room = mapping_end(from) - (uintptr_t)from;
    for (size_t off = 0; off < 2048 && off + VAULT_SECRET_LEN <= room; off += 8)
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
