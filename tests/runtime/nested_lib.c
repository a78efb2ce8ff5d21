/* libnested: a protected library that calls another protected library
 * (kvstore), for the library-to-library gate. */
#include "../../examples/kvstore/kvstore.h"

#include <stdio.h>
#include <string.h>

static struct kv_store *store; /* in this library's .bss: its own key */
static long calls;

int nested_put(const char *key, const char *value)
{
    if (!store)
        store = kv_open(64);
    calls++;
    return kv_put(store, key, value); /* crosses into kvstore's domain and back */
}

long nested_get(const char *key, char *buf, size_t len)
{
    calls++;
    return kv_get_copy(store, key, buf, len);
}

long nested_calls(void)
{
    return calls;
}

long *nested_calls_addr(void)
{
    return &calls;
}

/* Hands the application's FN to kvstore (A -> B -> application): the
 * callback runs below the application's stack, not this library's. */
void nested_foreach(void (*fn)(size_t, size_t, void *), void *arg)
{
    kv_foreach(store, fn, arg);
}
