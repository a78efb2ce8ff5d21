/* Counters reported at exit (PROTECT_STATS=1). */
#ifndef LIBPROTECT_STATS_H
#define LIBPROTECT_STATS_H

/* Registers the report if PROTECT_STATS asks for it. */
void stats_at_exit(void);

#endif
