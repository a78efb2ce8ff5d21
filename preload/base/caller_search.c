#define _GNU_SOURCE
#include "base/caller_search.h"

#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The first of the caller's own search directories holding FILE, into
 * PATH; false if none. */
static bool found_for_caller(const char *file, const void *caller, char *path, size_t size)
{
    Dl_info info;
    struct link_map *map = NULL;
    Dl_serinfo counts;
    if (!dladdr1(caller, &info, (void **)&map, RTLD_DL_LINKMAP) || !map ||
        dlinfo(map, RTLD_DI_SERINFOSIZE, &counts) != 0)
        return false;
    Dl_serinfo *dirs = malloc(counts.dls_size);
    if (!dirs)
        return false;
    *dirs = counts;
    bool found = false;
    if (dlinfo(map, RTLD_DI_SERINFO, dirs) == 0)
        for (unsigned i = 0; i < dirs->dls_cnt && !found; i++) {
            const Dl_serpath *d = &dirs->dls_serpath[i];
            if (d->dls_flags & (LA_SER_CONFIG | LA_SER_DEFAULT)) /* (after the cache: the loader's own turn) */
                continue;
            found = (size_t)snprintf(path, size, "%s/%s", d->dls_name, file) < size && access(path, F_OK) == 0;
        }
    free(dirs);
    return found;
}

void *dlopen_for_caller(const char *file, int mode, const void *caller, void *(*real)(const char *, int))
{
    if (!file || strchr(file, '/'))
        return real(file, mode);
    void *loaded = real(file, mode | RTLD_NOLOAD);
    if (loaded)
        return loaded;
    char path[PATH_MAX];
    if (found_for_caller(file, caller, path, sizeof path)) {
        void *h = real(path, mode);
        if (h)
            return h;
    }
    return real(file, mode);
}
