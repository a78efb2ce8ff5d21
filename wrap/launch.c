/* Run mode.  The shim is found next to protect-wrap, so that an installed
 * tree can be moved; policies are passed as absolute paths, because the
 * program may change its working directory before the shim reads them. */
#define _GNU_SOURCE
#include "launch.h"

#include "policy.h"

#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PROTECT_INSTALL_LIBDIR
#define PROTECT_INSTALL_LIBDIR "lib"
#endif

int validate_policies(char **files, int n, FILE *errors, bool warnings)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        struct policy p;
        if (policy_load(files[i], &p, errors) != 0) {
            bad++;
            continue;
        }
        if (!p.library_path && errors && warnings)
            fprintf(errors,
                    "%s:%d: warning: library '%s' is not on the default search path: it will be protected "
                    "if the program loads an object of that file name or soname (from its RUNPATH, say)\n",
                    p.file, p.library_line, p.library);
        policy_free(&p);
    }
    return bad;
}

char *find_shim(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return NULL;
    self[n] = 0;
    const char *dir = dirname(self);
    const char *candidates[] = {"../" PROTECT_INSTALL_LIBDIR "/libprotect", "../lib"};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s/libprotect.so", dir, candidates[i]);
        char *real = realpath(path, NULL);
        if (real)
            return real;
    }
    return NULL;
}

/* NAME=VALUE for an option that is "1" or a file: the file made absolute
 * (the program may change directory before it exits). */
static void set_file_env(const char *name, const char *value)
{
    if (!value)
        return;
    char *dir = strcmp(value, "1") ? realpath(dirname(strdupa(value)), NULL) : NULL, *file = NULL;
    if (dir && asprintf(&file, "%s/%s", dir, basename(strdupa(value))) < 0)
        file = NULL;
    setenv(name, file ? file : value, 1);
    free(dir);
    free(file);
}

int launch(char **policies, int n_policies, const struct launch_options *opts, char **argv)
{
    if (validate_policies(policies, n_policies, stderr, false))
        return 1;
    char *shim = find_shim();
    if (!shim) {
        fprintf(stderr, "protect-wrap: libprotect.so not found next to this protect-wrap\n");
        return 2;
    }
    size_t len = 1;
    for (int i = 0; i < n_policies; i++)
        len += PATH_MAX + 1;
    char *list = calloc(1, len);
    for (int i = 0; i < n_policies; i++) {
        char *abs = realpath(policies[i], NULL);
        if (i)
            strcat(list, ":");
        strcat(list, abs ? abs : policies[i]);
        free(abs);
    }
    const char *old = getenv("LD_PRELOAD");
    char *preload;
    if (old && *old) {
        if (asprintf(&preload, "%s:%s", shim, old) < 0)
            return 2;
    } else {
        preload = shim;
    }
    setenv("LD_PRELOAD", preload, 1);
    setenv("PROTECT_POLICY", list, 1);
    setenv("LD_BIND_NOW", "1", 1); /* hardened mode forbids the loader's lazy-binding XRSTOR */
    if (!opts->hardened)
        setenv("PROTECT_HARDENED", "0", 1);
    if (opts->dry_run)
        setenv("PROTECT_DRY_RUN", "1", 1);
    set_file_env("PROTECT_AUDIT", opts->audit);
    set_file_env("PROTECT_STATS", opts->stats);
    if (opts->verbose) {
        setenv("PROTECT_VERBOSE", "1", 1);
        fprintf(stderr, "protect-wrap: LD_PRELOAD=%s PROTECT_POLICY=%s\n", preload, list);
    }
    execvp(argv[0], argv);
    int e = errno;
    fprintf(stderr, "protect-wrap: %s: %s\n", argv[0], strerror(e));
    return e == ENOENT ? 127 : 126;
}
