/* The roles of the chaos test's processes (workers.c). */
#ifndef SHMRING_WORKERS_H
#define SHMRING_WORKERS_H

#include "chaos_state.h"

int run_producer(const char *ring, struct chaos_state *st, unsigned id);
/* DRAIN: stop when the ring stays empty, instead of at SIGTERM. */
int run_consumer(const char *ring, struct chaos_state *st, unsigned id, int drain);
int run_scribbler(const char *ring, struct chaos_state *st, unsigned seed);

/* The driver (chaos.c): argv after "chaos". */
int run_chaos(int argc, char **argv, const char *self);

#endif
