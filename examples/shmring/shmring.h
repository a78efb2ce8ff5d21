/* shmring: a multi-producer, multi-consumer ring of fixed-size messages in
 * shared memory, which any number of processes attach to by name (in the
 * spirit of DPDK's rte_ring and memif, made small).
 *
 * Robust against a process that dies inside it: the ring's lock is a
 * robust, process-shared mutex, and each operation publishes its result
 * with one store after the message is complete, so the next process to
 * take the lock after an owner died finds the ring consistent (the dead
 * process's unfinished enqueue is simply not there) and carries on. */
#ifndef SHMRING_H
#define SHMRING_H

#include <stddef.h>
#include <stdint.h>

struct shmring;

/* Creates ring NAME (a POSIX shared-memory object, /dev/shm/shmring.NAME)
 * with SLOTS messages of MSG_SIZE bytes, replacing one of that name.
 * NULL with errno set on failure. */
struct shmring *shmring_create(const char *name, uint32_t slots, uint32_t msg_size);
/* Attaches to ring NAME made by shmring_create (in any process). */
struct shmring *shmring_attach(const char *name);
void shmring_detach(struct shmring *r);
/* Removes ring NAME's shared-memory object (attached processes keep it). */
int shmring_unlink(const char *name);

uint32_t shmring_msg_size(const struct shmring *r);

/* Copies MSG (shmring_msg_size bytes) in.  0, or -1 with errno EAGAIN when
 * the ring stays full for TIMEOUT_MS (0: do not wait). */
int shmring_enqueue(struct shmring *r, const void *msg, int timeout_ms);
/* The same, and stores VALUE at *RECEIPT once the message has a slot, in
 * the same critical section: a producer that dies at any point knows from
 * *RECEIPT which message it was sending (exactly-once producers).  RECEIPT
 * must not point into the ring (-1, errno EINVAL). */
int shmring_enqueue_receipt(struct shmring *r, const void *msg, int timeout_ms, uint64_t *receipt,
                            uint64_t value);
/* Copies the oldest message out to MSG.  0, or -1 with errno EAGAIN when
 * the ring stays empty for TIMEOUT_MS. */
int shmring_dequeue(struct shmring *r, void *msg, int timeout_ms);

struct shmring_stats {
    uint64_t enqueued, dequeued; /* since creation, all processes */
    uint32_t in_ring, slots;
    uint64_t recoveries;         /* times a process found the lock's owner dead */
};
void shmring_stats(struct shmring *r, struct shmring_stats *s);

#endif
