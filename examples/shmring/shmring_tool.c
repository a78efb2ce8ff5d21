/* shmring: the command for the shmring example library.  The chaos
 * driver, and the roles it starts (one process each). */
#define _GNU_SOURCE
#include "chaos_state.h"
#include "shmring.h"
#include "workers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: shmring chaos [OPTIONS] [-- WRAPPER ARGS...]   the chaos test (shmring chaos --help)\n"
               "       shmring produce RING STATE ID                one producer\n"
               "       shmring consume RING STATE ID [--drain]      one consumer\n"
               "       shmring scribble RING STATE SEED             a peer writing through stray pointers\n"
               "                                                    and through the kernel\n"
               "       shmring stats RING                           the ring's counters\n");
}

static char *self_path(const char *argv0)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return (char *)argv0;
    path[n] = 0;
    return path;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "chaos") == 0)
        return run_chaos(argc - 1, argv + 1, self_path(argv[0]));
    if (strcmp(verb, "stats") == 0 && argc == 3) {
        struct shmring *r = shmring_attach(argv[2]);
        if (!r) {
            fprintf(stderr, "shmring: cannot attach to ring %s: %s\n", argv[2], strerror(errno));
            return 2;
        }
        struct shmring_stats s;
        shmring_stats(r, &s);
        printf("enqueued %lu, dequeued %lu, in ring %u of %u, recoveries %lu\n", (unsigned long)s.enqueued,
               (unsigned long)s.dequeued, s.in_ring, s.slots, (unsigned long)s.recoveries);
        return 0;
    }
    if (argc < 5) {
        usage(stderr);
        return 2;
    }
    struct chaos_state *st = chaos_state_map(argv[3], 0);
    if (!st) {
        fprintf(stderr, "shmring: cannot map %s: %s\n", argv[3], strerror(errno));
        return 2;
    }
    unsigned n = (unsigned)strtoul(argv[4], NULL, 10);
    if (strcmp(verb, "produce") == 0 && n < MAX_PRODUCERS)
        return run_producer(argv[2], st, n);
    if (strcmp(verb, "consume") == 0 && n < MAX_CONSUMERS)
        return run_consumer(argv[2], st, n, argc > 5 && strcmp(argv[5], "--drain") == 0);
    if (strcmp(verb, "scribble") == 0)
        return run_scribbler(argv[2], st, n);
    usage(stderr);
    return 2;
}
