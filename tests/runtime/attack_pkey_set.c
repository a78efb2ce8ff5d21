/* Attack: libc's pkey_set holds a WRPKRU anyone can call.  Open every key
 * with it, then write the key-value store.  Prints BREACHED if it worked. */
#define _GNU_SOURCE
#include "../../examples/kvstore/kvstore.h"

#include <stdio.h>
#include <sys/mman.h>

int main(void)
{
    struct kv_store *s = kv_open(16);
    kv_put(s, "victim", "precious");
    char *v = (char *)kv_get(s, "victim");
    for (int key = 1; key < 16; key++)
        pkey_set(key, 0);
    v[0] = 'X';
    char now[32];
    kv_get_copy(s, "victim", now, sizeof now);
    printf("%s: victim is now %s\n", now[0] == 'X' ? "BREACHED" : "BLOCKED", now);
    return 0;
}
