/* kvapp: fills a kvstore from several threads and prints what it holds.
 * --stray-write and --stray-read make it commit the bug libprotect is for:
 * writing (or reading) the library's memory through a pointer it kept. */
#include "kvstore.h"

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

struct job {
    struct kv_store *s;
    int id, ops;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    char key[64], value[64];
    for (int i = 0; i < j->ops; i++) {
        snprintf(key, sizeof key, "t%d-k%d", j->id, i);
        snprintf(value, sizeof value, "value-%d-%d", j->id, i * 7);
        if (kv_put(j->s, key, value) != 0)
            return (void *)1;
        if (i % 3 == 0)
            kv_delete(j->s, key);
        char got[64];
        long n = kv_get_copy(j->s, key, got, sizeof got);
        if (i % 3 != 0 && (n < 0 || strcmp(got, value) != 0))
            return (void *)1;
    }
    return NULL;
}

/* --own-handler: the application's own SIGSEGV handler, which must still
 * run (after libprotect's report) and see what the kernel said. */
static void own_handler(int sig, siginfo_t *si, void *ctx)
{
    char line[80];
    int n = snprintf(line, sizeof line, "kvapp: own SIGSEGV handler: si_code=%d\n", si->si_code);
    ssize_t unused = write(2, line, (size_t)n);
    (void)unused;
    signal(SIGSEGV, SIG_DFL);
}

static void count_entry(size_t key_len, size_t value_len, void *arg)
{
    *(size_t *)arg += key_len + value_len; /* ARG is the application's: writable here */
}

int main(int argc, char **argv)
{
    int threads = 4, ops = 20000, stray_write = 0, stray_read = 0, own = 0;
    static const struct option options[] = {
        {"threads", required_argument, NULL, 't'}, {"ops", required_argument, NULL, 'n'},
        {"stray-write", no_argument, NULL, 'w'}, {"stray-read", no_argument, NULL, 'r'},
        {"own-handler", no_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    for (int c; (c = getopt_long(argc, argv, "t:n:wro", options, NULL)) != -1;) {
        switch (c) {
        case 't': threads = atoi(optarg); break;
        case 'n': ops = atoi(optarg); break;
        case 'w': stray_write = 1; break;
        case 'r': stray_read = 1; break;
        case 'o': own = 1; break;
        default:
            fprintf(stderr, "usage: kvapp [--threads N] [--ops N] [--stray-write | --stray-read] [--own-handler]\n");
            return 2;
        }
    }
    if (own) {
        struct sigaction sa = {.sa_sigaction = own_handler, .sa_flags = SA_SIGINFO};
        sigaction(SIGSEGV, &sa, NULL);
    }
    struct kv_store *s = kv_open(4096);
    pthread_t tid[64];
    struct job jobs[64];
    if (threads < 1 || threads > 64)
        threads = 4;
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){s, i, ops};
        pthread_create(&tid[i], NULL, worker, &jobs[i]);
    }
    int failed = 0;
    for (int i = 0; i < threads; i++) {
        void *r;
        pthread_join(tid[i], &r);
        failed |= r != NULL;
    }
    size_t bytes = 0;
    kv_foreach(s, count_entry, &bytes);
    printf("entries %zu bytes %zu checksum %016" PRIx64 " %s\n", kv_count(s), bytes, kv_checksum(s),
           failed ? "MISMATCH" : "ok");
    fflush(stdout);
    if (stray_read || stray_write) {
        kv_put(s, "victim", "precious");
        const char *v = kv_get(s, "victim");
        if (stray_read)
            printf("read through a kept pointer: %c\n", v[0]);
        if (stray_write)
            ((char *)v)[0] = 'X'; /* the bug */
        char now[64];
        kv_get_copy(s, "victim", now, sizeof now);
        printf("victim is now %s\n", now);
    }
    kv_close(s);
    return failed;
}
