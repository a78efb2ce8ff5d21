/* Loads libgatetest with dlopen, calls it through dlsym pointers, then
 * (with "stray") writes into its memory: a dlopened library is protected
 * like a linked one.  "close" also unloads and loads it again.  "thread"
 * starts a thread before the library is loaded, which must then use it
 * (PKRU is per thread: that one learns the new key from libprotect). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_barrier_t loaded;
static void *handle;

static void *early_thread(void *arg)
{
    pthread_barrier_wait(&loaded);
    long (*sum6)(long, long, long, long, long, long) = (long (*)(long, long, long, long, long, long))dlsym(handle, "gt_sum6");
    char *(*dup)(const char *) = (char *(*)(const char *))dlsym(handle, "gt_strdup");
    char *s = dup("made in the library");
    int ok = sum6(1, 2, 3, 4, 5, 6) == 91 && strcmp(s, "made in the library") == 0; /* reads library memory */
    free(s);
    return ok ? NULL : (void *)1;
}

int main(int argc, char **argv)
{
    const char *lib = argc > 1 ? argv[1] : "libgatetest.so";
    const char *mode = argc > 2 ? argv[2] : "";
    pthread_t early;
    int threaded = strcmp(mode, "thread") == 0;
    if (threaded) {
        pthread_barrier_init(&loaded, NULL, 2);
        pthread_create(&early, NULL, early_thread, NULL);
    }
    void *h = handle = dlopen(lib, RTLD_NOW);
    if (!h) {
        printf("dlopen failed: %s\n", dlerror());
        return 1;
    }
    long (*sum6)(long, long, long, long, long, long) = (long (*)(long, long, long, long, long, long))dlsym(h, "gt_sum6");
    long *(*counter_addr)(void) = (long *(*)(void))dlsym(h, "gt_counter_addr");
    printf("sum6 %ld\n", sum6(1, 2, 3, 4, 5, 6));
    if (threaded) {
        void *r;
        pthread_barrier_wait(&loaded);
        pthread_join(early, &r);
        printf("thread started before the load: %s\n", r ? "FAILED" : "ok");
        return r != NULL;
    }
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
