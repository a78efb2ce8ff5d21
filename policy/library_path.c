/* Library lookup as the dynamic loader does it, for policy validation:
 * LD_LIBRARY_PATH, then the directories of /etc/ld.so.conf, then the
 * default directories. */
#define _GNU_SOURCE
#include "policy.h"

#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const default_dirs[] = {
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
};

static char *try_dir(const char *dir, size_t dirlen, const char *name)
{
    char path[PATH_MAX];
    if (dirlen == 0 || (size_t)snprintf(path, sizeof path, "%.*s/%s", (int)dirlen, dir, name) >= sizeof path)
        return NULL;
    return access(path, R_OK) == 0 ? realpath(path, NULL) : NULL;
}

static char *search_list(const char *list, const char *name)
{
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ":;");
        char *found = try_dir(p, n, name);
        if (found)
            return found;
        p += n + (p[n] != 0);
    }
    return NULL;
}

/* Reads one ld.so.conf file, following "include" lines (globs). */
static char *search_conf(const char *conf, const char *name, int depth)
{
    FILE *f = depth < 8 ? fopen(conf, "r") : NULL;
    if (!f)
        return NULL;
    char *line = NULL, *found = NULL;
    size_t cap = 0;
    while (!found && getline(&line, &cap, f) > 0) {
        line[strcspn(line, "#\n")] = 0;
        char *s = line + strspn(line, " \t");
        if (strncmp(s, "include", 7) == 0 && (s[7] == ' ' || s[7] == '\t')) {
            glob_t g;
            char *pattern = s + 8 + strspn(s + 8, " \t");
            if (glob(pattern, 0, NULL, &g) == 0)
                for (size_t i = 0; i < g.gl_pathc && !found; i++)
                    found = search_conf(g.gl_pathv[i], name, depth + 1);
            globfree(&g);
        } else if (*s == '/') {
            found = try_dir(s, strcspn(s, " \t"), name);
        }
    }
    free(line);
    fclose(f);
    return found;
}

char *policy_find_library(const char *name)
{
    if (strchr(name, '/'))
        return access(name, R_OK) == 0 ? realpath(name, NULL) : NULL;
    char *found = search_list(getenv("LD_LIBRARY_PATH"), name);
    if (!found)
        found = search_conf("/etc/ld.so.conf", name, 0);
    for (size_t i = 0; !found && i < sizeof default_dirs / sizeof *default_dirs; i++)
        found = try_dir(default_dirs[i], strlen(default_dirs[i]), name);
    return found;
}
