/* The domain registry and the lookups the hot paths need. */
#include "gates/domains.h"

#include "gates/gate_table.h"
#include "log.h"

#include <stdio.h>

SEALED union sealed_domain_registry protect_registry;

int domain_key(int slot)
{
    return protect_domains[slot].key;
}

const char *domain_name(int slot)
{
    return protect_domains[slot].name;
}

struct domain *domain_of_key(int key)
{
    for (int i = 0; i < protect_n_domains; i++)
        if (protect_domains[i].key == key && key > 0)
            return &protect_domains[i];
    return NULL;
}

/* Entry of an export the policy denies (from protect_gate_denied). */
__attribute__((noreturn)) void protect_denied_call(uint32_t id)
{
    unsigned slot = id >> GATE_ID_DOMAIN_SHIFT, f = id & GATE_ID_FUNC_MASK;
    const struct domain *d = slot < MAX_DOMAINS ? &protect_domains[slot] : NULL;
    if (!d || f >= d->n_funcs)
        protect_fatal("call of a denied export (unknown id %#x)", id);
    gate_count(d->slot, GC_DENIED, 1);
    protect_fatal("%s: %s is denied by %s", d->name, d->funcs[f].name, d->policy.file);
}
