/* Two protected libraries, one calling the other: values round-trip, each
 * keeps its own memory, and the application can write neither.
 * Usage: nested_test [stray-outer|stray-inner] */
#include <stdio.h>
#include <string.h>

int nested_put(const char *key, const char *value);
long nested_get(const char *key, char *buf, size_t len);
long nested_calls(void);
long *nested_calls_addr(void);

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
    return bad;
}
