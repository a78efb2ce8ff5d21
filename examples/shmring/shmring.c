#define _GNU_SOURCE
#include "shmring.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x73686d72696e6731ull /* "shmring1" */

/* The shared state.  head and tail count messages since creation; slot
 * i % slots holds message i.  Both move only under the lock, and only
 * after the message they publish (or release) is complete. */
struct ring_shared {
    uint64_t magic;
    uint32_t slots, msg_size;
    pthread_mutex_t lock; /* robust, process-shared */
    uint64_t head, tail;
    uint64_t recoveries;
    uint32_t not_empty, not_full; /* futex words: bumped on every change */
    unsigned char data[];
};

struct shmring {
    struct ring_shared *s;
    size_t size;
};

static void object_name(char *out, size_t n, const char *name)
{
    snprintf(out, n, "/shmring.%s", name);
}

static size_t ring_size(uint32_t slots, uint32_t msg_size)
{
    return sizeof(struct ring_shared) + (size_t)slots * msg_size;
}

static struct shmring *map_ring(int fd, size_t size)
{
    struct shmring *r = malloc(sizeof *r);
    if (!r)
        return NULL;
    r->s = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (r->s == MAP_FAILED) {
        free(r);
        return NULL;
    }
    r->size = size;
    return r;
}

struct shmring *shmring_create(const char *name, uint32_t slots, uint32_t msg_size)
{
    if (!slots || !msg_size || msg_size > (1u << 20) || slots > (1u << 24)) {
        errno = EINVAL;
        return NULL;
    }
    char obj[NAME_MAX];
    object_name(obj, sizeof obj, name);
    shm_unlink(obj);
    int fd = shm_open(obj, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return NULL;
    size_t size = ring_size(slots, msg_size);
    struct shmring *r = ftruncate(fd, (off_t)size) == 0 ? map_ring(fd, size) : NULL;
    close(fd);
    if (!r)
        return NULL;
    struct ring_shared *s = r->s;
    s->slots = slots;
    s->msg_size = msg_size;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&s->lock, &a);
    pthread_mutexattr_destroy(&a);
    __atomic_store_n(&s->magic, MAGIC, __ATOMIC_RELEASE);
    return r;
}

struct shmring *shmring_attach(const char *name)
{
    char obj[NAME_MAX];
    object_name(obj, sizeof obj, name);
    int fd = shm_open(obj, O_RDWR, 0);
    if (fd < 0)
        return NULL;
    struct stat st;
    struct shmring *r = NULL;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(struct ring_shared))
        r = map_ring(fd, (size_t)st.st_size);
    close(fd);
    if (!r)
        return NULL;
    struct ring_shared *s = r->s;
    if (__atomic_load_n(&s->magic, __ATOMIC_ACQUIRE) != MAGIC || ring_size(s->slots, s->msg_size) > r->size) {
        shmring_detach(r);
        errno = EPROTO;
        return NULL;
    }
    return r;
}

void shmring_detach(struct shmring *r)
{
    if (!r)
        return;
    munmap(r->s, r->size);
    free(r);
}

int shmring_unlink(const char *name)
{
    char obj[NAME_MAX];
    object_name(obj, sizeof obj, name);
    return shm_unlink(obj);
}

uint32_t shmring_msg_size(const struct shmring *r)
{
    return r->s->msg_size;
}

/* Takes the lock; a dead owner left the ring consistent (see the top of
 * shmring.h), so it is marked consistent and counted. */
static void lock_ring(struct ring_shared *s)
{
    int rc = pthread_mutex_lock(&s->lock);
    if (rc == EOWNERDEAD) {
        s->recoveries++;
        pthread_mutex_consistent(&s->lock);
    } else if (rc != 0) {
        abort();
    }
}

static void wake(uint32_t *word)
{
    __atomic_add_fetch(word, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Waits until *WORD moves from SEEN or the deadline passes; false then. */
static int wait_change(uint32_t *word, uint32_t seen, const struct timespec *deadline)
{
    struct timespec now, left;
    clock_gettime(CLOCK_MONOTONIC, &now);
    left.tv_sec = deadline->tv_sec - now.tv_sec;
    left.tv_nsec = deadline->tv_nsec - now.tv_nsec;
    if (left.tv_nsec < 0) {
        left.tv_sec--;
        left.tv_nsec += 1000000000;
    }
    if (left.tv_sec < 0)
        return 0;
    syscall(SYS_futex, word, FUTEX_WAIT, seen, &left, NULL, 0);
    return 1;
}

static void deadline_in(struct timespec *t, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, t);
    t->tv_sec += ms / 1000;
    t->tv_nsec += (long)(ms % 1000) * 1000000;
    if (t->tv_nsec >= 1000000000) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000;
    }
}

int shmring_enqueue(struct shmring *r, const void *msg, int timeout_ms)
{
    return shmring_enqueue_receipt(r, msg, timeout_ms, NULL, 0);
}

/* Runs STEP under the ring's lock until it can act (then wakes the other
 * side through WAKE_WORD), waiting on WAIT_WORD in between; -1 with EAGAIN
 * when TIMEOUT_MS pass first. */
static int under_lock(struct ring_shared *s, bool (*step)(struct ring_shared *, void *), void *ctx,
                      uint32_t *wait_word, uint32_t *wake_word, int timeout_ms)
{
    struct timespec deadline;
    deadline_in(&deadline, timeout_ms);
    for (;;) {
        uint32_t seen = __atomic_load_n(wait_word, __ATOMIC_ACQUIRE);
        lock_ring(s);
        bool done = step(s, ctx);
        pthread_mutex_unlock(&s->lock);
        if (done) {
            wake(wake_word);
            return 0;
        }
        if (!wait_change(wait_word, seen, &deadline)) {
            errno = EAGAIN;
            return -1;
        }
    }
}

struct put {
    const void *msg;
    uint64_t *receipt, value;
};

static bool put_one(struct ring_shared *s, void *ctx)
{
    struct put *p = ctx;
    if (s->head - s->tail >= s->slots)
        return false;
    if (p->receipt)
        __atomic_store_n(p->receipt, p->value, __ATOMIC_RELEASE);
    memcpy(s->data + (s->head % s->slots) * s->msg_size, p->msg, s->msg_size);
    __atomic_store_n(&s->head, s->head + 1, __ATOMIC_RELEASE); /* publishes it */
    return true;
}

static bool take_one(struct ring_shared *s, void *msg)
{
    if (s->head == s->tail)
        return false;
    memcpy(msg, s->data + (s->tail % s->slots) * s->msg_size, s->msg_size);
    __atomic_store_n(&s->tail, s->tail + 1, __ATOMIC_RELEASE); /* releases the slot */
    return true;
}

int shmring_enqueue_receipt(struct shmring *r, const void *msg, int timeout_ms, uint64_t *receipt,
                            uint64_t value)
{
    struct ring_shared *s = r->s;
    /* The caller's pointer is written with the library's rights: never
     * into the ring or its handle. */
    uintptr_t at = (uintptr_t)receipt;
    if (receipt && ((at + sizeof *receipt > (uintptr_t)s && at < (uintptr_t)s + r->size) ||
                    (at + sizeof *receipt > (uintptr_t)r && at < (uintptr_t)(r + 1)))) {
        errno = EINVAL;
        return -1;
    }
    return under_lock(s, put_one, &(struct put){msg, receipt, value}, &s->not_full, &s->not_empty, timeout_ms);
}

int shmring_dequeue(struct shmring *r, void *msg, int timeout_ms)
{
    struct ring_shared *s = r->s;
    return under_lock(s, take_one, msg, &s->not_empty, &s->not_full, timeout_ms);
}

void shmring_stats(struct shmring *r, struct shmring_stats *st)
{
    struct ring_shared *s = r->s;
    lock_ring(s);
    *st = (struct shmring_stats){s->head, s->tail, (uint32_t)(s->head - s->tail), s->slots, s->recoveries};
    pthread_mutex_unlock(&s->lock);
}
