/* The telemetry a protected process publishes, as protect-top and
 * protect-wrap --stats read it: one file per process,
 * /dev/shm/libprotect-<pid>.stats (mode 0600: its user's only), holding one
 * struct protect_stats, rewritten every PROTECT_STATS_PERIOD_MS.  A reader
 * takes a snapshot when seq is even and the same before and after. */
#ifndef LIBPROTECT_STATS_FORMAT_H
#define LIBPROTECT_STATS_FORMAT_H

#include <stdint.h>

#define PROTECT_STATS_MAGIC 0x3153544154504c4cull /* "LLPTATS1" */
#define PROTECT_STATS_DIR "/dev/shm"
#define PROTECT_STATS_PREFIX "libprotect-"
#define PROTECT_STATS_SUFFIX ".stats"
#define PROTECT_STATS_MAX_LIBS 15
#define PROTECT_STATS_PERIOD_MS 250

struct protect_stats_lib {
    char library[64];
    uint64_t entries;             /* gate entries from outside the library */
    uint64_t nested;              /* entries from inside it (its own export called directly) */
    uint64_t callbacks;           /* callbacks out to the application */
    uint64_t denied;              /* calls of denied exports */
    uint64_t trap_entries;        /* entries through an int3 gate */
    uint64_t deferred_signals;
    uint64_t longest_deferral_us;
    uint64_t bound_hits;          /* deferrals that ran out of time */
    uint64_t faults;              /* the library's own crashes */
    uint64_t contained;           /* ... of which contained (on_fault = contain) */
    uint64_t blocked_accesses;    /* accesses of the application its key stopped */
    uint64_t heap_bytes;          /* of its heap region in use (slabs and large blocks) */
    uint64_t heap_peak;
    uint64_t tagged_bytes;        /* of its segments tagged with its key */
};

struct protect_stats {
    uint64_t magic;
    uint64_t seq;             /* odd while being written */
    int64_t pid;
    uint64_t taken_ns;        /* CLOCK_MONOTONIC */
    uint64_t refused_syscalls;
    uint64_t n_libraries;
    struct protect_stats_lib lib[PROTECT_STATS_MAX_LIBS];
};

#endif
