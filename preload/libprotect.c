/* libprotect.so: the LD_PRELOAD shim.  The runtime (gates, domains,
 * signals) arrives with the runtime issue; for now the shim only checks
 * that it was given policies it can parse, so that a bad policy stops the
 * program before main instead of being ignored. */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((constructor)) static void libprotect_init(void)
{
    const char *list = getenv("PROTECT_POLICY");
    if (!list || !*list)
        return;
    char *copy = strdup(list), *save = NULL;
    int bad = 0;
    for (char *f = strtok_r(copy, ":", &save); f; f = strtok_r(NULL, ":", &save)) {
        struct policy p;
        if (policy_load(f, &p, stderr) != 0)
            bad++;
        else
            policy_free(&p);
    }
    free(copy);
    if (bad) {
        fprintf(stderr, "libprotect: invalid policy, not running the program unprotected\n");
        exit(1);
    }
}
