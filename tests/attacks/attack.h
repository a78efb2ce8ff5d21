/* What every attack program shares: the vault, opened, and one line of
 * outcome.  An attack prints BREACHED only after checking through the
 * library's own gates that it really read the secret or changed a
 * counter; BLOCKED when a defence answered (an error, unchanged data).
 * Stopped by a signal or refused at start, it prints nothing: the suite
 * then looks for libprotect's report. */
#ifndef ATTACK_H
#define ATTACK_H

#include "vault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noreturn)) static inline void breached(const char *what)
{
    printf("BREACHED: %s\n", what);
    fflush(stdout);
    exit(0);
}

__attribute__((noreturn)) static inline void blocked(const char *how)
{
    printf("BLOCKED: %s\n", how);
    fflush(stdout);
    exit(0);
}

/* Copies PLACE's secret from P (by whatever means got P readable). */
__attribute__((noreturn)) static inline void read_secret_at(enum vault_place place, const volatile uint8_t *p)
{
    uint8_t copy[VAULT_SECRET_LEN];
    for (int i = 0; i < VAULT_SECRET_LEN; i++)
        copy[i] = p[i];
    if (vault_matches(place, copy))
        breached("read the library's secret");
    blocked("what was read is not the secret");
}

#define FORGED_COUNTER 0x5eedull

__attribute__((noreturn)) static inline void write_counter_at(enum vault_place place, volatile uint64_t *p)
{
    *p = FORGED_COUNTER;
    if (vault_counter(place) == FORGED_COUNTER)
        breached("changed the library's counter");
    blocked("the counter did not change");
}

static inline enum vault_place place_named(const char *name)
{
    static const char *names[] = {"data", "bss", "heap", "mmap"};
    for (int i = 0; i < VAULT_PLACES; i++)
        if (name && strcmp(name, names[i]) == 0)
            return (enum vault_place)i;
    fprintf(stderr, "unknown place '%s' (data, bss, heap, mmap)\n", name ? name : "");
    exit(2);
}

#endif
