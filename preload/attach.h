/* Putting a loaded library behind its gates, and letting go of it. */
#ifndef LIBPROTECT_ATTACH_H
#define LIBPROTECT_ATTACH_H

#include "gates/domains.h"

#include <link.h>

/* Attaches D to the object INFO describes (as dl_iterate_phdr reports it).
 * Returns 0, or -1 after one error line. */
int domain_attach(struct domain *d, const struct dl_phdr_info *info);

/* The object was unloaded: its gates can no longer be reached. */
void domain_detach(struct domain *d);

#endif
