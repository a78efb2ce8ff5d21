/* protect-top: like top, for protected libraries.  Reads what every
 * protected process of this user publishes (/dev/shm/libprotect-<pid>.stats,
 * preload/telemetry/stats_format.h), without stopping or slowing it. */
#define _GNU_SOURCE
#include "telemetry/stats_format.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 256

static const char usage[] =
    "Usage: protect-top [-p PID] [-d SECONDS]\n"
    "       protect-top --once [--json] [PID]\n"
    "\n"
    "Shows every protected process of this user (or PID): per protected library, gate\n"
    "entries and callbacks per second, deferred signals, the longest deferral, heap in use,\n"
    "accesses the key stopped.  Refreshes every second; keys: e entries, c callbacks,\n"
    "d deferred, h heap, b blocked, p pid (sort by that column), q quit.\n"
    "\n"
    "  -p, --pid PID       only that process\n"
    "  -d, --delay SECONDS between refreshes (default 1)\n"
    "      --once          print one table (totals since start) and exit\n"
    "      --json          with --once: one JSON document per process, as protect-wrap --stats\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit status: 0; 1 when --once finds no protected process; 2 bad usage.\n";

/* One consistent snapshot of PID's file; false if there is none, it is
 * not ours to read, or its process is gone. */
static bool read_stats(int pid, struct protect_stats *s)
{
    char path[128];
    snprintf(path, sizeof path, PROTECT_STATS_DIR "/" PROTECT_STATS_PREFIX "%d" PROTECT_STATS_SUFFIX, pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    bool ok = false;
    for (int tries = 0; tries < 20 && !ok; tries++) {
        uint64_t before = 0;
        if (pread(fd, &before, sizeof before, offsetof(struct protect_stats, seq)) != sizeof before)
            break;
        if (before & 1) {
            nanosleep(&(struct timespec){0, 1000000}, NULL);
            continue;
        }
        ok = pread(fd, s, sizeof *s, 0) == (ssize_t)sizeof *s && s->magic == PROTECT_STATS_MAGIC &&
             s->seq == before && s->n_libraries <= PROTECT_STATS_MAX_LIBS;
    }
    close(fd);
    return ok && (kill(pid, 0) == 0 || errno == EPERM);
}

/* The PIDs that publish, this user's (others' files are not readable). */
static int list_pids(int *pids, int max)
{
    DIR *dir = opendir(PROTECT_STATS_DIR);
    struct dirent *e;
    int n = 0;
    while (dir && (e = readdir(dir)) && n < max) {
        int pid;
        char tail[16];
        if (sscanf(e->d_name, PROTECT_STATS_PREFIX "%d%15s", &pid, tail) == 2 && strcmp(tail, PROTECT_STATS_SUFFIX) == 0)
            pids[n++] = pid;
    }
    if (dir)
        closedir(dir);
    return n;
}

static void print_json(const struct protect_stats *s)
{
    printf("{\"pid\":%lld,\"libraries\":[", (long long)s->pid);
    for (uint64_t i = 0; i < s->n_libraries; i++) {
        const struct protect_stats_lib *l = &s->lib[i];
        printf("%s{\"library\":\"%.*s\",\"entries\":%llu,\"nested\":%llu,\"callbacks\":%llu,\"denied\":%llu,"
               "\"trap_entries\":%llu,\"deferred_signals\":%llu,\"longest_deferral_us\":%llu,\"bound_hits\":%llu,"
               "\"faults\":%llu,\"contained\":%llu,\"blocked_accesses\":%llu,\"heap_bytes\":%llu,\"heap_peak\":%llu,"
               "\"tagged_bytes\":%llu}",
               i ? "," : "", (int)sizeof l->library, l->library, (unsigned long long)l->entries,
               (unsigned long long)l->nested, (unsigned long long)l->callbacks, (unsigned long long)l->denied,
               (unsigned long long)l->trap_entries, (unsigned long long)l->deferred_signals,
               (unsigned long long)l->longest_deferral_us, (unsigned long long)l->bound_hits,
               (unsigned long long)l->faults, (unsigned long long)l->contained,
               (unsigned long long)l->blocked_accesses, (unsigned long long)l->heap_bytes,
               (unsigned long long)l->heap_peak, (unsigned long long)l->tagged_bytes);
    }
    printf("],\"refused_syscalls\":%llu}\n", (unsigned long long)s->refused_syscalls);
}

/* A row: one library of one process, with rates against the last look. */
struct row {
    int pid;
    char library[64];
    double entries_ps, callbacks_ps;
    uint64_t entries, deferred, longest_us, heap, blocked;
};

struct seen {
    int pid;
    struct protect_stats s;
};
static struct seen last[MAX_PROCS];
static int n_last;

static const struct protect_stats *last_of(int pid)
{
    for (int i = 0; i < n_last; i++)
        if (last[i].pid == pid)
            return &last[i].s;
    return NULL;
}

static char sort_key = 'e';

static double key_of(const struct row *r)
{
    switch (sort_key) {
    case 'c': return r->callbacks_ps;
    case 'd': return (double)r->deferred;
    case 'h': return (double)r->heap;
    case 'b': return (double)r->blocked;
    case 'p': return -(double)r->pid;
    default: return r->entries_ps;
    }
}

static int by_key(const void *a, const void *b)
{
    double x = key_of(a), y = key_of(b);
    return x < y ? 1 : x > y ? -1 : 0;
}

static int gather(int only, struct row *rows, int max_rows, struct seen *now, int *n_now)
{
    int pids[MAX_PROCS], n = only ? 1 : list_pids(pids, MAX_PROCS), n_rows = 0;
    if (only)
        pids[0] = only;
    *n_now = 0;
    for (int p = 0; p < n; p++) {
        struct protect_stats s;
        if (!read_stats(pids[p], &s))
            continue;
        const struct protect_stats *before = last_of(pids[p]);
        double dt = before && s.taken_ns > before->taken_ns ? (double)(s.taken_ns - before->taken_ns) / 1e9 : 0;
        for (uint64_t i = 0; i < s.n_libraries && n_rows < max_rows; i++) {
            const struct protect_stats_lib *l = &s.lib[i];
            struct row *r = &rows[n_rows++];
            memset(r, 0, sizeof *r);
            r->pid = pids[p];
            snprintf(r->library, sizeof r->library, "%.*s", (int)sizeof l->library - 1, l->library);
            r->entries = l->entries;
            r->deferred = l->deferred_signals;
            r->longest_us = l->longest_deferral_us;
            r->heap = l->heap_bytes;
            r->blocked = l->blocked_accesses;
            if (dt > 0 && i < before->n_libraries) {
                r->entries_ps = (double)(l->entries - before->lib[i].entries) / dt;
                r->callbacks_ps = (double)(l->callbacks - before->lib[i].callbacks) / dt;
            }
        }
        if (*n_now < MAX_PROCS)
            now[(*n_now)++] = (struct seen){pids[p], s};
    }
    return n_rows;
}

static void draw(const struct row *rows, int n)
{
    printf("\033[H\033[2Jprotect-top: %d librar%s; sorted by %c (e c d h b p), q to quit\n\n", n, n == 1 ? "y" : "ies",
           sort_key);
    printf("%7s  %-24s %12s %12s %9s %10s %10s %8s\n", "PID", "LIBRARY", "ENTRIES/S", "CALLBACKS/S", "DEFERRED",
           "LONGEST_US", "HEAP_KIB", "BLOCKED");
    for (int i = 0; i < n; i++)
        printf("%7d  %-24.24s %12.0f %12.0f %9llu %10llu %10llu %8llu\n", rows[i].pid, rows[i].library,
               rows[i].entries_ps, rows[i].callbacks_ps, (unsigned long long)rows[i].deferred,
               (unsigned long long)rows[i].longest_us, (unsigned long long)(rows[i].heap / 1024),
               (unsigned long long)rows[i].blocked);
    fflush(stdout);
}

static struct termios saved_tty;
static bool tty_changed;

static void restore_tty(void)
{
    if (tty_changed)
        tcsetattr(0, TCSANOW, &saved_tty);
}

static int interactive(int only, int delay_ms)
{
    if (isatty(0) && tcgetattr(0, &saved_tty) == 0) {
        struct termios raw = saved_tty;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        tty_changed = tcsetattr(0, TCSANOW, &raw) == 0;
        atexit(restore_tty);
    }
    static struct row rows[MAX_PROCS * PROTECT_STATS_MAX_LIBS];
    static struct seen now[MAX_PROCS];
    for (;;) {
        int n_now, n = gather(only, rows, (int)(sizeof rows / sizeof *rows), now, &n_now);
        memcpy(last, now, (size_t)n_now * sizeof *now);
        n_last = n_now;
        qsort(rows, (size_t)n, sizeof *rows, by_key);
        draw(rows, n);
        struct pollfd in = {0, POLLIN, 0};
        if (poll(&in, 1, delay_ms) > 0) {
            char c;
            if (read(0, &c, 1) != 1 || c == 'q')
                return 0;
            if (strchr("ecdhbp", c))
                sort_key = c;
        }
    }
}

int main(int argc, char **argv)
{
    enum { OPT_ONCE = 256, OPT_JSON };
    static const struct option options[] = {
        {"pid", required_argument, NULL, 'p'}, {"delay", required_argument, NULL, 'd'},
        {"once", no_argument, NULL, OPT_ONCE}, {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
    };
    bool once = false, json = false;
    int pid = 0, delay_ms = 1000, opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "p:d:h", options, NULL)) != -1) {
        switch (opt) {
        case 'p': pid = atoi(optarg); break;
        case 'd': delay_ms = (int)(atof(optarg) * 1000); break;
        case OPT_ONCE: once = true; break;
        case OPT_JSON: json = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default:
            fprintf(stderr, "protect-top: unknown option '%s'\nTry 'protect-top --help'.\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc)
        pid = atoi(argv[optind++]);
    if (optind < argc || pid < 0 || delay_ms < 100 || (json && !once)) {
        fprintf(stderr, "protect-top: %s\nTry 'protect-top --help'.\n",
                json && !once ? "--json goes with --once" : "bad arguments");
        return 2;
    }
    if (!once)
        return interactive(pid, delay_ms);
    int pids[MAX_PROCS], n = pid ? 1 : list_pids(pids, MAX_PROCS), shown = 0;
    if (pid)
        pids[0] = pid;
    if (!json)
        printf("%7s  %-24s %12s %12s %9s %10s %10s %8s\n", "PID", "LIBRARY", "ENTRIES", "CALLBACKS", "DEFERRED",
               "LONGEST_US", "HEAP_KIB", "BLOCKED");
    for (int p = 0; p < n; p++) {
        struct protect_stats s;
        if (!read_stats(pids[p], &s))
            continue;
        shown++;
        if (json) {
            print_json(&s);
            continue;
        }
        for (uint64_t i = 0; i < s.n_libraries; i++)
            printf("%7d  %-24.*s %12llu %12llu %9llu %10llu %10llu %8llu\n", pids[p], 24, s.lib[i].library,
                   (unsigned long long)s.lib[i].entries, (unsigned long long)s.lib[i].callbacks,
                   (unsigned long long)s.lib[i].deferred_signals, (unsigned long long)s.lib[i].longest_deferral_us,
                   (unsigned long long)(s.lib[i].heap_bytes / 1024), (unsigned long long)s.lib[i].blocked_accesses);
    }
    if (!shown)
        fprintf(stderr, "protect-top: no protected process%s\n", pid ? " with that PID (of this user)" : " of this user");
    return shown ? 0 : 1;
}
