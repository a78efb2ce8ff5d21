/* Two protected libraries, one calling the other: values round-trip, each
 * keeps its own memory, and the application can write neither.
 * Usage: nested_test [stray-outer|callback-through] */
#include <stdio.h>
#include <string.h>

int nested_put(const char *key, const char *value);
long nested_get(const char *key, char *buf, size_t len);
long nested_calls(void);
long *nested_calls_addr(void);
void nested_foreach(void (*fn)(size_t, size_t, void *), void *arg);

static void count(size_t key_len, size_t value_len, void *arg)
{
    ++*(long *)arg;
}

int main(int argc, char **argv)
{
    char buf[64], key[32], want[64];
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        snprintf(want, sizeof want, "v%d", i * 3);
        bad |= nested_put(key, want) != 0;
    }
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        snprintf(want, sizeof want, "v%d", i * 3);
        bad |= nested_get(key, buf, sizeof buf) < 0 || strcmp(buf, want) != 0;
    }
    printf("nested: %s after %ld calls\n", bad ? "MISMATCH" : "ok", nested_calls());
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "stray-outer") == 0)
        *nested_calls_addr() = 0;
    if (argc > 1 && strcmp(argv[1], "callback-through") == 0) {
        long n = 0;
        nested_foreach(count, &n);
        printf("callback through two libraries: %ld entries\n", n);
    }
    return bad;
}
