/* Loads libgatetest with dlopen, calls it through dlsym pointers, then
 * (with "stray") writes into its memory: a dlopened library is protected
 * like a linked one.  "close" also unloads and loads it again.  "thread"
 * starts a thread before the library is loaded, which must then use it
 * (PKRU is per thread: that one learns the new key from libprotect).
 * "timer" makes a SIGEV_THREAD timer before the load, whose callbacks then
 * call the library: glibc runs them on threads its timer thread starts,
 * which blocks every signal (libprotect's too, once), and they inherit its
 * rights; the load must also not wait for that thread.  "timer-stray": a
 * callback writes the library's memory (the timer thread must not have
 * kept the new key open). */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_barrier_t loaded;
static void *handle;
static long (*timer_sum6)(long, long, long, long, long, long);
static long *(*timer_counter_addr)(void);
static volatile int timer_calls, timer_wrong, timer_stray;

static void on_timer(union sigval unused)
{
    if (!timer_sum6)
        return;
    if (timer_stray)
        *timer_counter_addr() = 1; /* the bug, in a timer callback */
    if (timer_sum6(1, 2, 3, 4, 5, 6) != 91)
        timer_wrong = 1;
    timer_calls++;
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int timer_mode(const char *lib, int stray)
{
    timer_t t;
    struct sigevent ev = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_timer};
    struct itimerspec every_20ms = {{0, 20000000}, {0, 20000000}};
    if (timer_create(CLOCK_MONOTONIC, &ev, &t) != 0 || timer_settime(t, 0, &every_20ms, NULL) != 0) {
        perror("timer");
        return 1;
    }
    usleep(100000); /* glibc's timer thread runs by now */
    double before = seconds();
    void *h = dlopen(lib, RTLD_NOW);
    double took = seconds() - before;
    if (!h) {
        printf("dlopen failed: %s\n", dlerror());
        return 1;
    }
    timer_counter_addr = (long *(*)(void))dlsym(h, "gt_counter_addr");
    timer_stray = stray;
    timer_sum6 = (long (*)(long, long, long, long, long, long))dlsym(h, "gt_sum6");
    usleep(300000);
    printf("timer callbacks that called the library: %s%s; the load took %s\n", timer_calls ? "some" : "none",
           timer_wrong ? " (wrong results)" : "", took < 1.0 ? "under a second" : "a second or more");
    if (stray)
        printf("stray write went through\n");
    return timer_calls && !timer_wrong && took < 1.0 ? (stray ? 3 : 0) : 1;
}

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
    if (strncmp(mode, "timer", 5) == 0)
        return timer_mode(lib, strcmp(mode, "timer-stray") == 0);
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
