/* The chaos driver: N producers and M consumers (and a scribbler) on one
 * ring, each started through an optional wrapper (protect-wrap), while
 * random SIGTERM, SIGINT, SIGHUP and SIGKILL stop them and they are
 * started again; at the end the ring is drained and every message
 * accounted for. */
#define _GNU_SOURCE
#include "chaos_state.h"
#include "shmring.h"
#include "workers.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum role { PRODUCER, CONSUMER, SCRIBBLER };

struct proc {
    pid_t pid;
    enum role role;
    unsigned id;
    uint64_t beat, beat_at_start;
    double beat_at;
    int starts;
};

/* A producer's death with the message its receipt names. */
struct death {
    unsigned producer;
    uint64_t seq;
    int sig;
};

struct run {
    const char *self, *ring, *state_path, *log_path;
    char **wrapper;
    int n_wrapper;
    struct chaos_state *st;
    struct proc procs[MAX_PRODUCERS + MAX_CONSUMERS + 1];
    int n_procs;
    struct death *deaths;
    size_t n_deaths, cap_deaths;
    unsigned long sent_signals[NSIG], signal_deaths[NSIG], stalled, restarts, worker_errors;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static pid_t spawn(struct run *r, enum role role, unsigned id, int drain)
{
    static const char *const verbs[] = {"produce", "consume", "scribble"};
    char idtext[16];
    snprintf(idtext, sizeof idtext, "%u", id);
    char *argv[40];
    int n = 0;
    for (int i = 0; i < r->n_wrapper && n < 32; i++)
        argv[n++] = r->wrapper[i];
    argv[n++] = (char *)r->self;
    argv[n++] = (char *)verbs[role];
    argv[n++] = (char *)r->ring;
    argv[n++] = (char *)r->state_path;
    argv[n++] = idtext;
    if (drain)
        argv[n++] = "--drain";
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(r->log_path, "a", stderr))
            _exit(127);
        execvp(argv[0], argv);
        fprintf(stderr, "shmring chaos: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

static uint64_t beat_of(const struct run *r, const struct proc *p);

static void start(struct run *r, struct proc *p)
{
    p->beat_at_start = beat_of(r, p);
    p->pid = spawn(r, p->role, p->id, 0);
    p->beat_at = now();
    if (p->starts++)
        r->restarts++;
}

static uint64_t beat_of(const struct run *r, const struct proc *p)
{
    switch (p->role) {
    case PRODUCER: return __atomic_load_n(&r->st->producer[p->id].beat, __ATOMIC_RELAXED);
    case CONSUMER: return __atomic_load_n(&r->st->consumer[p->id].beat, __ATOMIC_RELAXED);
    default: return r->st->scribbler.beat;
    }
}

static void record_death(struct run *r, struct proc *p, int status)
{
    p->pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        r->worker_errors++;
    if (!WIFSIGNALED(status))
        return;
    int sig = WTERMSIG(status);
    r->signal_deaths[sig]++;
    if (p->role != PRODUCER)
        return;
    if (r->n_deaths == r->cap_deaths) {
        r->cap_deaths = r->cap_deaths ? 2 * r->cap_deaths : 64;
        r->deaths = realloc(r->deaths, r->cap_deaths * sizeof *r->deaths);
    }
    r->deaths[r->n_deaths++] = (struct death){p->id, r->st->producer[p->id].sent, sig};
}

static struct proc *by_pid(struct run *r, pid_t pid)
{
    for (int i = 0; i < r->n_procs; i++)
        if (r->procs[i].pid == pid)
            return &r->procs[i];
    return NULL;
}

static void reap(struct run *r)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct proc *p = by_pid(r, pid);
        if (p)
            record_death(r, p, status);
    }
}

/* A process whose heartbeat has not moved for 3 s is stalled: counted,
 * then killed so that the run goes on. */
static void check_stalls(struct run *r, double t)
{
    for (int i = 0; i < r->n_procs; i++) {
        struct proc *p = &r->procs[i];
        uint64_t b = beat_of(r, p);
        if (!p->pid || b != p->beat) {
            p->beat = b;
            p->beat_at = t;
        } else if (t - p->beat_at > 3.0) {
            r->stalled++;
            fprintf(stderr, "shmring chaos: process %d (%s %u) stalled\n", p->pid,
                    p->role == PRODUCER ? "producer" : p->role == CONSUMER ? "consumer" : "scribbler", p->id);
            kill(p->pid, SIGKILL);
            p->beat_at = t;
        }
    }
}

static void stop_all(struct run *r)
{
    for (int i = 0; i < r->n_procs; i++)
        if (r->procs[i].pid)
            kill(r->procs[i].pid, SIGTERM);
    double until = now() + 5.0;
    for (;;) {
        reap(r);
        int live = 0;
        for (int i = 0; i < r->n_procs; i++)
            live += r->procs[i].pid != 0;
        if (!live)
            return;
        if (now() > until) {
            for (int i = 0; i < r->n_procs; i++)
                if (r->procs[i].pid) {
                    r->stalled++;
                    fprintf(stderr, "shmring chaos: process %d did not stop at SIGTERM\n", r->procs[i].pid);
                    kill(r->procs[i].pid, SIGKILL);
                }
            until = now() + 60.0;
        }
        usleep(10000);
    }
}

static int drain(struct run *r)
{
    pid_t pid = spawn(r, CONSUMER, 0, 1);
    int status;
    for (int waited = 0; waited < 3000; waited++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    r->stalled++;
    return -1;
}

static const struct death *death_at(const struct run *r, unsigned producer, uint64_t seq)
{
    for (size_t i = r->n_deaths; i-- > 0;)
        if (r->deaths[i].producer == producer && r->deaths[i].seq == seq)
            return &r->deaths[i];
    return NULL;
}

static int report(struct run *r, int producers, int consumers, double seconds, int scribble)
{
    struct chaos_state *st = r->st;
    uint64_t sent = 0, received = 0, dup = 0, lost = 0, unfinished_kill = 0, unfinished_other = 0, torn = 0,
             forged = 0;
    for (int p = 0; p < producers; p++) {
        sent += st->producer[p].sent;
        for (uint64_t seq = 1; seq <= st->producer[p].sent; seq++) {
            unsigned c = st->seen[p][seq];
            received += c;
            if (c > 1)
                dup += c - 1;
            if (c)
                continue;
            const struct death *d = death_at(r, (unsigned)p, seq);
            if (!d)
                lost++;
            else if (d->sig == SIGKILL)
                unfinished_kill++;
            else
                unfinished_other++;
        }
    }
    for (int c = 0; c < MAX_CONSUMERS; c++) {
        torn += st->consumer[c].torn;
        forged += st->consumer[c].forged;
    }
    const struct scribble_state *s = &st->scribbler;
    printf("shmring chaos: %d producers, %d consumers, %.0f s, %lu restarts\n", producers, consumers, seconds,
           r->restarts);
    printf("signals sent: SIGTERM %lu, SIGINT %lu, SIGHUP %lu, SIGKILL %lu; deaths by signal: SIGINT %lu, SIGHUP %lu, "
           "SIGKILL %lu\n",
           r->sent_signals[SIGTERM], r->sent_signals[SIGINT], r->sent_signals[SIGHUP], r->sent_signals[SIGKILL],
           r->signal_deaths[SIGINT], r->signal_deaths[SIGHUP], r->signal_deaths[SIGKILL]);
    printf("messages: sent %lu, received %lu, duplicated %lu, lost %lu, torn %lu, never sent %lu\n",
           (unsigned long)sent, (unsigned long)received, (unsigned long)dup, (unsigned long)lost,
           (unsigned long)torn, (unsigned long)forged);
    printf("unfinished enqueues: %lu of SIGKILLed producers, %lu of producers another signal killed inside one\n",
           (unsigned long)unfinished_kill, (unsigned long)unfinished_other);
    printf("stalled processes: %lu; worker errors: %lu\n", r->stalled, r->worker_errors);
    struct shmring *ring = shmring_attach(r->ring);
    if (ring) {
        struct shmring_stats rs;
        shmring_stats(ring, &rs);
        printf("ring: %lu recoveries from a dead lock owner\n", (unsigned long)rs.recoveries);
        shmring_detach(ring);
    }
    if (scribble)
        printf("scribbles: stray writes %lu (refused %lu), writes through the kernel %lu (refused %lu)\n",
               (unsigned long)s->stray_tried, (unsigned long)s->stray_refused, (unsigned long)s->kernel_tried,
               (unsigned long)s->kernel_refused);
    int clean = !dup && !lost && !torn && !forged && !unfinished_other && !r->stalled && !r->worker_errors &&
                unfinished_kill <= r->signal_deaths[SIGKILL] &&
                (!scribble || (s->stray_tried && s->stray_refused == s->stray_tried &&
                               s->kernel_refused == s->kernel_tried));
    struct stat lg;
    if (stat(r->log_path, &lg) == 0 && lg.st_size > 0)
        printf("the processes' messages (libprotect's reports among them): %s\n", r->log_path);
    printf("verdict: %s\n", clean ? "intact" : "CORRUPTED");
    return clean ? 0 : 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: shmring chaos [-p PRODUCERS] [-c CONSUMERS] [-t SECONDS] [--scribble] [--no-kill]\n"
               "                     [--ring NAME] [--state FILE] [-- WRAPPER [ARGS...]]\n"
               "Runs producers and consumers of one ring, each as WRAPPER ARGS... shmring ROLE ...,\n"
               "stops them with random signals and starts them again, then drains the ring and\n"
               "accounts for every message.  Exit status: 0 intact, 1 corrupted, 2 usage or setup.\n");
}

int run_chaos(int argc, char **argv, const char *self)
{
    int producers = 3, consumers = 2, scribble = 0, with_kill = 1;
    double seconds = 5;
    static char ring_name[64], state_path[256], log_path[300];
    snprintf(ring_name, sizeof ring_name, "chaos%d", (int)getpid());
    snprintf(state_path, sizeof state_path, "/tmp/shmring-chaos.%d", (int)getpid());
    static const struct option opts[] = {
        {"scribble", no_argument, NULL, 's'}, {"no-kill", no_argument, NULL, 'k'},
        {"ring", required_argument, NULL, 'r'}, {"state", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'}, {0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "+p:c:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'p': producers = atoi(optarg); break;
        case 'c': consumers = atoi(optarg); break;
        case 't': seconds = atof(optarg); break;
        case 's': scribble = 1; break;
        case 'k': with_kill = 0; break;
        case 'r': snprintf(ring_name, sizeof ring_name, "%s", optarg); break;
        case 'S': snprintf(state_path, sizeof state_path, "%s", optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (producers < 1 || producers > MAX_PRODUCERS || consumers < 1 || consumers >= MAX_CONSUMERS ||
        seconds <= 0) {
        fprintf(stderr, "shmring chaos: 1-%d producers, 1-%d consumers, a positive time\n", MAX_PRODUCERS,
                MAX_CONSUMERS - 1);
        return 2;
    }
    snprintf(log_path, sizeof log_path, "%s.log", state_path);
    struct run *r = calloc(1, sizeof *r);
    *r = (struct run){.self = self, .ring = ring_name, .state_path = state_path, .log_path = log_path,
                      .wrapper = argv + optind, .n_wrapper = argc - optind};
    r->st = chaos_state_map(state_path, 1);
    struct shmring *ring = shmring_create(ring_name, 256, sizeof(struct message));
    if (!r->st || !ring) {
        fprintf(stderr, "shmring chaos: cannot set up (%s)\n", strerror(errno));
        return 2;
    }
    shmring_detach(ring);
    truncate(log_path, 0);
    /* consumers 1..M: 0 is the drain's */
    for (int i = 0; i < producers; i++)
        r->procs[r->n_procs++] = (struct proc){.role = PRODUCER, .id = (unsigned)i};
    for (int i = 1; i <= consumers; i++)
        r->procs[r->n_procs++] = (struct proc){.role = CONSUMER, .id = (unsigned)i};
    if (scribble)
        r->procs[r->n_procs++] = (struct proc){.role = SCRIBBLER, .id = 1};
    for (int i = 0; i < r->n_procs; i++)
        start(r, &r->procs[i]);

    srandom((unsigned)getpid());
    double t0 = now(), next_signal = t0 + 0.05;
    for (double t = t0; t - t0 < seconds; t = now()) {
        reap(r);
        for (int i = 0; i < r->n_procs; i++)
            if (!r->procs[i].pid)
                start(r, &r->procs[i]);
        if (t >= next_signal) {
            /* Only a process that has started working: on a slow machine a
             * storm of signals would otherwise stop every process before
             * its first message. */
            struct proc *p = &r->procs[random() % (r->n_procs - scribble)];
            if (beat_of(r, p) == p->beat_at_start)
                p = NULL;
            static const int for_producers[] = {SIGTERM, SIGINT, SIGHUP, SIGKILL};
            static const int for_consumers[] = {SIGTERM, SIGINT, SIGHUP};
            int sig = p && p->role == PRODUCER ? for_producers[random() % (with_kill ? 4 : 3)]
                                               : for_consumers[random() % 3];
            if (p && p->pid && kill(p->pid, sig) == 0)
                r->sent_signals[sig]++;
            next_signal = t + 0.01 + (double)(random() % 40) / 1000.0;
        }
        check_stalls(r, t);
        usleep(2000);
    }
    stop_all(r);
    if (drain(r) != 0)
        r->worker_errors++;
    int rc = report(r, producers, consumers, seconds, scribble);
    shmring_unlink(ring_name);
    unlink(state_path);
    return rc;
}
