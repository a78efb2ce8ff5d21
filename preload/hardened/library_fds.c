#define _GNU_SOURCE
#include "hardened/library_fds.h"

#include "log.h"
#include "base/sealed.h"
#include "base/trusted_syscall.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/syscall.h>

static SEALED union {
    struct {
        int base;
        bool chosen;
    } v;
    char pages[4096];
} range;

void library_fds_reserve(void)
{
    struct rlimit r;
    if (range.v.chosen)
        return;
    sealed_open();
    range.v.chosen = true;
    sealed_close();
    if (getrlimit(RLIMIT_NOFILE, &r) != 0)
        return;
    /* Below 256 there is no room to spare without starving the program. */
    if (r.rlim_cur < 256 || r.rlim_cur > (1u << 30)) {
        protect_log("hardened mode: RLIMIT_NOFILE %lu leaves no room for the libraries' descriptors: "
                    "they are not guarded from the application", (unsigned long)r.rlim_cur);
        return;
    }
    /* Below FD_SETSIZE where the limit allows: a library may select() on
     * its descriptors (lwIP's TAP driver does). */
    rlim_t top = r.rlim_cur < FD_SETSIZE ? r.rlim_cur : FD_SETSIZE;
    sealed_open();
    range.v.base = (int)top - LIBRARY_FDS;
    sealed_close();
}

int library_fd_base(void)
{
    return range.v.base;
}

long library_fd_adopt(long fd)
{
    int base = range.v.base;
    if (!base || fd < 0 || in_library_fds(fd, base))
        return fd;
    long moved = trusted_syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, base, 0, 0, 0);
    if (moved >= 0 && in_library_fds(moved, base)) {
        trusted_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
        return moved;
    }
    if (moved >= 0)
        trusted_syscall(SYS_close, moved, 0, 0, 0, 0, 0);
    static bool said;
    if (!said)
        protect_log("hardened mode: the protected libraries hold more than %d descriptors; later ones are not "
                    "guarded from the application", LIBRARY_FDS);
    said = true;
    return fd;
}
