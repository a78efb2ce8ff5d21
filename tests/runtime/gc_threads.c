/* A program of Boehm's collector (libgc), as guile, w3m or ECL are: four
 * threads build lists that only their stacks and registers keep alive,
 * while collections (set off by any of them) stop the others with a signal
 * whose handler records where their stacks are, then scan them; each
 * thread also calls zlib, so that a policy protects it.  A root the
 * collector misses frees a live node, which the next allocation reuses: the
 * list's count or sum then comes out wrong.  Prints the count of rounds
 * that went wrong (0) and exits 1 if any did. */
#define GC_THREADS
#include <gc.h>
#include <pthread.h>
#include <stdio.h>
#include <zlib.h>

#define ROUNDS 150
#define NODES 2000

struct node {
    struct node *next;
    long value;
    char pad[40];
};

static void *work(void *arg)
{
    long bad = 0;
    for (int round = 0; round < ROUNDS; round++) {
        struct node *head = NULL;
        for (long i = 0; i < NODES; i++) {
            struct node *n = GC_MALLOC(sizeof *n);
            n->next = head;
            n->value = i;
            head = n;
        }
        for (int k = 0; k < 50; k++)
            GC_MALLOC(4096); /* collections while the list lives only on this thread */
        long sum = 0, count = 0;
        for (struct node *n = head; n; n = n->next) {
            sum += n->value;
            count++;
        }
        if (count != NODES || sum != (long)(NODES - 1) * NODES / 2)
            bad++;
        unsigned char text[256] = "a line for zlib", packed[512];
        uLongf len = sizeof packed;
        if (compress(packed, &len, text, sizeof text) != Z_OK)
            bad++;
    }
    return (void *)bad;
}

int main(void)
{
    GC_INIT();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, work, NULL);
    long bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    printf("gc_threads: %lu collections, %ld rounds wrong\n", (unsigned long)GC_get_gc_no(), bad);
    return bad != 0;
}
