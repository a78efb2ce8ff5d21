/* What the chaos test's processes record, in a file they all map shared.
 * It is the application's memory, not the ring's: the bookkeeping that
 * lets the driver say, at the end, what was lost or duplicated. */
#ifndef SHMRING_CHAOS_STATE_H
#define SHMRING_CHAOS_STATE_H

#include <stdint.h>

#define MAX_PRODUCERS 16
#define MAX_CONSUMERS 16
#define MAX_SEQ (1u << 22) /* messages per producer, at most */

/* A message: who sent it, its number, and a check over both. */
struct message {
    uint32_t producer;
    uint32_t pad;
    uint64_t seq;
    uint64_t check;
    uint8_t filler[40];
};

static inline uint64_t message_check(const struct message *m)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ m->producer;
    h = (h ^ m->seq) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 29);
}

struct producer_state {
    uint64_t sent; /* the receipt: the last message the ring took (or was taking) */
    uint64_t beat;
};

struct consumer_state {
    uint64_t received, torn, forged;
    uint64_t beat;
};

struct scribble_state {
    uint64_t stray_tried, stray_refused;   /* writes through a stray pointer */
    uint64_t kernel_tried, kernel_refused; /* opening the ring's file anew to write it */
    uint64_t beat;
};

struct chaos_state {
    struct producer_state producer[MAX_PRODUCERS];
    struct consumer_state consumer[MAX_CONSUMERS];
    struct scribble_state scribbler;
    uint8_t seen[MAX_PRODUCERS][MAX_SEQ]; /* times each message was received */
};

/* Maps the state file PATH (created, sized and zeroed when CREATE). */
struct chaos_state *chaos_state_map(const char *path, int create);

#endif
