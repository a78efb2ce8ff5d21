/* Telemetry: gathered from the layers below, published by a thread of its
 * own every PROTECT_STATS_PERIOD_MS in /dev/shm/libprotect-<pid>.stats
 * (written with pwrite: nothing of libprotect's is mapped where the
 * application could change it, and the counters themselves live in the
 * libraries' gate blocks), and reported at exit (PROTECT_STATS). */
#define _GNU_SOURCE
#include "telemetry/telemetry.h"

#include "base/pkru_sync.h"
#include "gates/domains.h"
#include "gates/gate_table.h"
#include "hardened/syscall_trap.h"
#include "log.h"
#include "memory/interpose.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void telemetry_snapshot(struct protect_stats *s)
{
    memset(s, 0, sizeof *s);
    s->magic = PROTECT_STATS_MAGIC;
    s->pid = getpid();
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    s->taken_ns = (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
    s->refused_syscalls = syscall_refusals();
    for (int i = 0; i < protect_n_domains && s->n_libraries < PROTECT_STATS_MAX_LIBS; i++) {
        const struct domain *d = &protect_domains[i];
        if (d->key <= 0 || !d->attached) /* (a library being attached has a key before its gates are published) */
            continue;
        struct protect_stats_lib *l = &s->lib[s->n_libraries++];
        struct gate_counts c;
        gate_counts(d->slot, &c);
        size_t heap_bytes, heap_peak;
        domain_heap_usage_of(d, &heap_bytes, &heap_peak); /* the heap's header is the domain's */
        snprintf(l->library, sizeof l->library, "%s", d->name);
        l->entries = c.entries;
        l->nested = c.nested;
        l->callbacks = c.callbacks;
        l->denied = c.counter[GC_DENIED];
        l->trap_entries = c.counter[GC_TRAP_ENTRIES];
        l->deferred_signals = c.counter[GC_DEFERRED];
        l->longest_deferral_us = c.longest_deferral_ns / 1000;
        l->bound_hits = c.counter[GC_BOUND_HITS];
        l->faults = c.counter[GC_FAULTS];
        l->contained = c.counter[GC_CONTAINED];
        l->blocked_accesses = c.counter[GC_BLOCKED];
        l->heap_bytes = heap_bytes;
        l->heap_peak = heap_peak;
        l->tagged_bytes = d->tagged_bytes > 0 ? (uint64_t)d->tagged_bytes : 0;
    }
}

static int published = -1; /* the file's descriptor */
static char published_path[64];
static uint64_t seq;
static pthread_mutex_t publish_lock = PTHREAD_MUTEX_INITIALIZER;

static void publish(void)
{
    pthread_mutex_lock(&publish_lock);
    if (published >= 0) {
        struct protect_stats s;
        telemetry_snapshot(&s);
        uint64_t odd = seq + 1;
        s.seq = seq += 2;
        /* seq odd, then the snapshot, then seq even: a reader that sees the
         * same even seq before and after has a consistent copy */
        if (pwrite(published, &odd, sizeof odd, offsetof(struct protect_stats, seq)) < 0 ||
            pwrite(published, &s, sizeof s, 0) < 0)
            published = -1;
    }
    pthread_mutex_unlock(&publish_lock);
}

static void *publisher(void *arg)
{
    for (;;) {
        nanosleep(&(struct timespec){0, PROTECT_STATS_PERIOD_MS * 1000000l}, NULL);
        publish();
    }
    return NULL;
}

/* Files of processes that died without removing theirs (killed by a
 * signal): removed by the next protected process of their user. */
static void remove_stale(void)
{
    DIR *dir = opendir(PROTECT_STATS_DIR);
    struct dirent *e;
    while (dir && (e = readdir(dir))) {
        int pid;
        char tail[16];
        if (sscanf(e->d_name, PROTECT_STATS_PREFIX "%d%15s", &pid, tail) != 2 || strcmp(tail, PROTECT_STATS_SUFFIX))
            continue;
        struct stat st;
        if (kill(pid, 0) != 0 && errno == ESRCH && fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            st.st_uid == geteuid())
            unlinkat(dirfd(dir), e->d_name, 0);
    }
    if (dir)
        closedir(dir);
}

static void open_published(void)
{
    snprintf(published_path, sizeof published_path, PROTECT_STATS_DIR "/" PROTECT_STATS_PREFIX "%d" PROTECT_STATS_SUFFIX,
             (int)getpid());
    int fd = open(published_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        protect_info("telemetry: cannot create %s: %s", published_path, strerror(errno));
        return;
    }
    fchmod(fd, 0600);
    published = fd;
    publish();
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    /* Born with every signal blocked (a mask set by the thread itself would
     * leave a moment in which a process-directed SIGTERM could pick it and
     * end the process while another thread is inside a library), but the
     * filter's answers and libprotect's own signal: a library attached
     * later (dlopen) waits for every thread to take its key's rights, two
     * seconds for one that cannot. */
    sigset_t all, saved;
    sigfillset(&all);
    sigdelset(&all, SIGSYS);
    sigdelset(&all, PROTECT_SIGNAL);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    int rc = pthread_create(&t, &attr, publisher, NULL);
    if (rc != 0)
        protect_info("telemetry: no publisher thread: %s", strerror(rc));
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    pthread_attr_destroy(&attr);
}

static void unpublish(void)
{
    if (published >= 0 && published_path[0])
        unlink(published_path);
}

/* A forked child is another process: its own file, its own publisher. */
static void after_fork_in_child(void)
{
    if (published >= 0)
        close(published);
    published = -1;
    seq = 0;
    pthread_mutex_init(&publish_lock, NULL);
    open_published();
}

static void report(void)
{
    struct protect_stats s;
    telemetry_snapshot(&s);
    const char *to = getenv("PROTECT_STATS");
    bool json = to && strcmp(to, "1") != 0;
    FILE *f = json ? fopen(to, "w") : NULL;
    if (json && !f) {
        protect_log("stats: cannot write %s: %s", to, strerror(errno));
        json = false;
    }
    if (!json) {
        protect_log("stats: %-20s %10s %8s %9s %6s %6s %8s %10s %6s %6s %8s %10s %10s", "library", "entries",
                    "nested", "callbacks", "denied", "traps", "deferred", "longest_us", "bound", "faults", "blocked",
                    "heap", "heap_peak");
        for (uint64_t i = 0; i < s.n_libraries; i++) {
            const struct protect_stats_lib *l = &s.lib[i];
            protect_log("stats: %-20s %10llu %8llu %9llu %6llu %6llu %8llu %10llu %6llu %6llu %8llu %10llu %10llu",
                        l->library, (unsigned long long)l->entries, (unsigned long long)l->nested,
                        (unsigned long long)l->callbacks, (unsigned long long)l->denied,
                        (unsigned long long)l->trap_entries, (unsigned long long)l->deferred_signals,
                        (unsigned long long)l->longest_deferral_us, (unsigned long long)l->bound_hits,
                        (unsigned long long)l->faults, (unsigned long long)l->blocked_accesses,
                        (unsigned long long)l->heap_bytes, (unsigned long long)l->heap_peak);
        }
        protect_log("stats: refused system calls: %llu", (unsigned long long)s.refused_syscalls);
        return;
    }
    fprintf(f, "{\"libraries\":[");
    for (uint64_t i = 0; i < s.n_libraries; i++) {
        const struct protect_stats_lib *l = &s.lib[i];
        fprintf(f,
                "%s{\"library\":\"%s\",\"entries\":%llu,\"nested\":%llu,\"callbacks\":%llu,\"denied\":%llu,"
                "\"trap_entries\":%llu,\"deferred_signals\":%llu,\"longest_deferral_us\":%llu,\"bound_hits\":%llu,"
                "\"faults\":%llu,\"contained\":%llu,\"blocked_accesses\":%llu,\"heap_bytes\":%llu,\"heap_peak\":%llu,"
                "\"tagged_bytes\":%llu}",
                i ? "," : "", l->library, (unsigned long long)l->entries, (unsigned long long)l->nested,
                (unsigned long long)l->callbacks, (unsigned long long)l->denied, (unsigned long long)l->trap_entries,
                (unsigned long long)l->deferred_signals, (unsigned long long)l->longest_deferral_us,
                (unsigned long long)l->bound_hits, (unsigned long long)l->faults, (unsigned long long)l->contained,
                (unsigned long long)l->blocked_accesses, (unsigned long long)l->heap_bytes,
                (unsigned long long)l->heap_peak, (unsigned long long)l->tagged_bytes);
    }
    fprintf(f, "],\"refused_syscalls\":%llu}\n", (unsigned long long)s.refused_syscalls);
    fclose(f);
}

void telemetry_start(void)
{
    static bool started;
    if (started)
        return;
    started = true;
    const char *stats = getenv("PROTECT_STATS"), *off = getenv("PROTECT_TELEMETRY");
    if (stats && *stats && strcmp(stats, "0") != 0)
        atexit(report);
    if (off && strcmp(off, "0") == 0)
        return;
    remove_stale();
    open_published();
    atexit(unpublish);
    pthread_atfork(NULL, NULL, after_fork_in_child);
}

/* For benchmarks and tests: dlsym(RTLD_DEFAULT, "libprotect_gate_crossings")
 * gives every protected library's gate entries plus callbacks so far. */
__attribute__((visibility("default"))) unsigned long long libprotect_gate_crossings(void)
{
    unsigned long long n = 0;
    for (int i = 0; i < protect_n_domains; i++) {
        if (protect_domains[i].key <= 0)
            continue;
        struct gate_counts c;
        gate_counts(protect_domains[i].slot, &c);
        n += c.entries + c.callbacks;
    }
    return n;
}
