/* Loads libgatetest with dlopen, calls it through dlsym pointers, then
 * (with "stray") writes into its memory: a dlopened library is protected
 * like a linked one.  "close" also unloads and loads it again. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *lib = argc > 1 ? argv[1] : "libgatetest.so";
    const char *mode = argc > 2 ? argv[2] : "";
    void *h = dlopen(lib, RTLD_NOW);
    if (!h) {
        printf("dlopen failed: %s\n", dlerror());
        return 1;
    }
    long (*sum6)(long, long, long, long, long, long) = (long (*)(long, long, long, long, long, long))dlsym(h, "gt_sum6");
    long *(*counter_addr)(void) = (long *(*)(void))dlsym(h, "gt_counter_addr");
    printf("sum6 %ld\n", sum6(1, 2, 3, 4, 5, 6));
    if (strcmp(mode, "close") == 0) {
        dlclose(h);
        h = dlopen(lib, RTLD_NOW);
        sum6 = (long (*)(long, long, long, long, long, long))dlsym(h, "gt_sum6");
        counter_addr = (long *(*)(void))dlsym(h, "gt_counter_addr");
        printf("after reload sum6 %ld\n", sum6(6, 5, 4, 3, 2, 1));
    }
    fflush(stdout);
    if (strcmp(mode, "stray") == 0 || strcmp(mode, "close") == 0) {
        *counter_addr() = 1; /* the bug */
        printf("stray write went through\n");
        return 3;
    }
    return 0;
}
