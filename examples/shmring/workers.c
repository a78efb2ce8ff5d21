/* The chaos test's processes: producers, consumers and a scribbler, each
 * an ordinary application of libshmring.so. */
#define _GNU_SOURCE
#include "workers.h"

#include "chaos_state.h"
#include "shmring.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void stop(int sig)
{
    (void)sig;
    stopping = 1;
}

static void on(int sig, void (*fn)(int))
{
    struct sigaction sa = {.sa_handler = fn};
    sigaction(sig, &sa, NULL);
}

struct chaos_state *chaos_state_map(const char *path, int create)
{
    int fd = open(path, O_RDWR | (create ? O_CREAT | O_TRUNC : 0), 0600);
    if (fd < 0)
        return NULL;
    if (create && ftruncate(fd, sizeof(struct chaos_state)) != 0) {
        close(fd);
        return NULL;
    }
    void *p = mmap(NULL, sizeof(struct chaos_state), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

static struct shmring *attach_or_die(const char *ring)
{
    struct shmring *r = shmring_attach(ring);
    if (!r) {
        fprintf(stderr, "shmring: cannot attach to ring %s: %s\n", ring, strerror(errno));
        exit(2);
    }
    if (shmring_msg_size(r) != sizeof(struct message)) {
        fprintf(stderr, "shmring: ring %s holds %u-byte messages, not %zu\n", ring, shmring_msg_size(r),
                sizeof(struct message));
        exit(2);
    }
    return r;
}

/* SIGTERM stops it between messages; SIGINT and SIGHUP keep their default
 * action (death), which is what deferral is for: an unprotected producer
 * can die inside an enqueue, a protected one only after it.  The ring's
 * receipt says which message a dead producer was sending; the next run
 * starts after it. */
int run_producer(const char *ring, struct chaos_state *st, unsigned id)
{
    on(SIGTERM, stop);
    struct shmring *r = attach_or_die(ring);
    struct producer_state *p = &st->producer[id];
    struct message m = {.producer = id};
    for (uint64_t seq = p->sent + 1; !stopping && seq < MAX_SEQ; seq++) {
        m.seq = seq;
        m.check = message_check(&m);
        memset(m.filler, (int)(seq & 0xff), sizeof m.filler);
        while (shmring_enqueue_receipt(r, &m, 100, &p->sent, seq) != 0) {
            __atomic_add_fetch(&p->beat, 1, __ATOMIC_RELAXED);
            if (stopping)
                goto out;
        }
        __atomic_add_fetch(&p->beat, 1, __ATOMIC_RELAXED);
    }
out:
    shmring_detach(r);
    return 0;
}

static int well_formed(const struct message *m)
{
    if (m->check != message_check(m) || m->producer >= MAX_PRODUCERS || m->seq == 0 || m->seq >= MAX_SEQ)
        return 0;
    for (size_t i = 0; i < sizeof m->filler; i++)
        if (m->filler[i] != (uint8_t)(m->seq & 0xff))
            return 0;
    return 1;
}

/* Every stop signal is handled: a consumer killed between a dequeue and
 * its record would lose the message whatever the library did. */
int run_consumer(const char *ring, struct chaos_state *st, unsigned id, int drain)
{
    on(SIGTERM, stop);
    on(SIGINT, stop);
    on(SIGHUP, stop);
    struct shmring *r = attach_or_die(ring);
    struct consumer_state *c = &st->consumer[id];
    struct message m;
    while (!stopping) {
        __atomic_add_fetch(&c->beat, 1, __ATOMIC_RELAXED);
        if (shmring_dequeue(r, &m, drain ? 300 : 100) != 0) {
            if (drain)
                break;
            continue;
        }
        __atomic_add_fetch(&c->received, 1, __ATOMIC_RELAXED);
        if (!well_formed(&m))
            __atomic_add_fetch(&c->torn, 1, __ATOMIC_RELAXED);
        else if (m.seq > __atomic_load_n(&st->producer[m.producer].sent, __ATOMIC_ACQUIRE))
            __atomic_add_fetch(&c->forged, 1, __ATOMIC_RELAXED); /* never sent */
        else
            __atomic_add_fetch(&st->seen[m.producer][m.seq], 1, __ATOMIC_RELAXED);
    }
    shmring_detach(r);
    return 0;
}

static sigjmp_buf back;
static volatile sig_atomic_t refused;

static void stray_fault(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
#ifdef SEGV_PKUERR
    refused = si->si_code == SEGV_PKUERR;
#endif
    siglongjmp(back, 1);
}

struct found {
    char path[256];
    uintptr_t lo, hi;
};

/* The ring's mapping, as a stray pointer would find it. */
static int find_ring(const char *ring, struct found *f)
{
    char want[128], line[512];
    snprintf(want, sizeof want, "/dev/shm/shmring.%s", ring);
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps)
        return -1;
    int rc = -1;
    while (rc && fgets(line, sizeof line, maps)) {
        unsigned long lo, hi;
        char *path = strchr(line, '/');
        if (path && sscanf(line, "%lx-%lx", &lo, &hi) == 2 && strncmp(path, want, strlen(want)) == 0) {
            *f = (struct found){.lo = lo, .hi = hi};
            snprintf(f->path, sizeof f->path, "%s", want);
            rc = 0;
        }
    }
    fclose(maps);
    return rc;
}

/* A buggy (or hostile) peer: attached like the others, it writes through
 * stray pointers into the ring, and through the kernel (the ring's file
 * opened anew, by its name and through a hard link, and written). */
int run_scribbler(const char *ring, struct chaos_state *st, unsigned seed)
{
    on(SIGTERM, stop);
    struct sigaction sa = {.sa_sigaction = stray_fault, .sa_flags = SA_SIGINFO | SA_NODEFER};
    sigaction(SIGSEGV, &sa, NULL);
    struct shmring *r = attach_or_die(ring);
    struct found f;
    if (find_ring(ring, &f) != 0) {
        fprintf(stderr, "shmring scribble: the ring's mapping is not in /proc/self/maps\n");
        return 2;
    }
    char alias[300];
    snprintf(alias, sizeof alias, "%s.alias", f.path);
    struct scribble_state *s = &st->scribbler;
    srandom(seed);
    for (unsigned n = 0; !stopping; n++) {
        s->beat++;
        /* half of them at the ring's header: its counters and its lock */
        size_t span = f.hi - f.lo, off = (random() & 1) ? (size_t)random() % 128 : (size_t)random() % span;
        off &= ~(size_t)7;
        refused = 0;
        s->stray_tried++;
        if (sigsetjmp(back, 1) == 0)
            *(volatile uint64_t *)(f.lo + off) = ((uint64_t)random() << 32) | (uint64_t)random();
        if (refused)
            s->stray_refused++;
        const char *path = (n & 1) ? alias : f.path;
        if (n & 1)
            link(f.path, alias);
        s->kernel_tried++;
        int fd = open(path, O_RDWR);
        if (fd < 0) {
            s->kernel_refused += errno == EPERM;
        } else {
            uint64_t junk = ((uint64_t)random() << 32) | (uint64_t)random();
            if (pwrite(fd, &junk, sizeof junk, (off_t)off) != (ssize_t)sizeof junk)
                s->kernel_refused++;
            close(fd);
        }
        if (n & 1)
            unlink(alias);
        struct timespec pause = {0, 2000000};
        nanosleep(&pause, NULL);
    }
    shmring_detach(r);
    return 0;
}
