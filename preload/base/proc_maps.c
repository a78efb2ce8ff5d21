#define _GNU_SOURCE
#include "base/proc_maps.h"

#include "base/trusted_syscall.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

static bool parse(char *line, struct map_entry *m)
{
    unsigned long start, end, offset, inode;
    char perms[5];
    int name_at = 0;
    if (sscanf(line, "%lx-%lx %4s %lx %*x:%*x %lu %n", &start, &end, perms, &offset, &inode, &name_at) < 5)
        return false;
    *m = (struct map_entry){
        .start = start, .end = end,
        .read = perms[0] == 'r', .write = perms[1] == 'w', .exec = perms[2] == 'x', .shared = perms[3] == 's',
        .anonymous = inode == 0,
    };
    return true;
}

int proc_maps_each(int (*fn)(const struct map_entry *m, void *arg), void *arg)
{
    /* openat through the trusted page: the filter would send an open from
     * libprotect's own code back to the SIGSYS handler. */
    int fd = (int)trusted_syscall(SYS_openat, AT_FDCWD, (long)"/proc/self/maps", O_RDONLY | O_CLOEXEC, 0, 0, 0);
    if (fd < 0)
        return -1;
    char buf[8192];
    size_t have = 0;
    int rc = 0;
    while (rc == 0) {
        long n = trusted_syscall(SYS_read, fd, (long)(buf + have), (long)(sizeof buf - 1 - have), 0, 0, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = 0;
        char *line = buf, *nl;
        while (rc == 0 && (nl = strchr(line, '\n'))) {
            *nl = 0;
            struct map_entry m;
            if (parse(line, &m))
                rc = fn(&m, arg);
            line = nl + 1;
        }
        have = strlen(line);
        memmove(buf, line, have);
    }
    trusted_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
    return rc;
}
