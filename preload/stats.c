/* PROTECT_STATS=1: at exit, one line per protected library with its gate
 * crossings (what the benchmarks turn into crossings per operation). */
#define _GNU_SOURCE
#include "stats.h"

#include "gates/domains.h"
#include "gates/gate_table.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

static void report(void)
{
    for (int i = 0; i < protect_n_domains; i++) {
        const struct domain *d = &protect_domains[i];
        if (d->key <= 0)
            continue;
        struct gate_counts c;
        gate_counts(d->slot, &c);
        protect_log("stats: %s: %llu entries, %llu callbacks", d->name, (unsigned long long)c.entries,
                    (unsigned long long)c.callbacks);
    }
}

/* For benchmarks and tests: dlsym(RTLD_DEFAULT, "libprotect_gate_crossings")
 * gives every protected library's gate entries plus callbacks so far. */
__attribute__((visibility("default"))) unsigned long long libprotect_gate_crossings(void)
{
    unsigned long long n = 0;
    for (int i = 0; i < protect_n_domains; i++) {
        if (protect_domains[i].key <= 0)
            continue;
        struct gate_counts c;
        gate_counts(protect_domains[i].slot, &c);
        n += c.entries + c.callbacks;
    }
    return n;
}

void stats_at_exit(void)
{
    const char *v = getenv("PROTECT_STATS");
    if (v && *v && strcmp(v, "0") != 0)
        atexit(report);
}
