/* libhop: a second protected library, which the vault calls (a call out of
 * one protected library into another): the shape of the out_call attack. */
#include <stdint.h>
#include <time.h>

/* Its own memory (late_key reads it). */
uint64_t hop_counter = 42;

/* A long call: spins for ARG milliseconds. */
void hop_spin(void *arg)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < (long)(uintptr_t)arg);
}
