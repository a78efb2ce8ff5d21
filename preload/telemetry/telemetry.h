/* Telemetry: every protected library's counters, gathered from the gate
 * blocks, the heap and the filter, published for protect-top in a file a
 * reader maps (telemetry/stats_format.h) and reported at exit with
 * PROTECT_STATS. */
#ifndef LIBPROTECT_TELEMETRY_H
#define LIBPROTECT_TELEMETRY_H

#include "telemetry/stats_format.h"

/* Gathers the counters now. */
void telemetry_snapshot(struct protect_stats *s);

/* Starts publishing (once a library is attached) and registers the report
 * at exit that PROTECT_STATS asks for (1: a table on stderr; a path: JSON). */
void telemetry_start(void);

#endif
