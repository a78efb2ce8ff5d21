#define _GNU_SOURCE
#include "hardened/library_fds.h"

#include "log.h"
#include "base/sealed.h"
#include "base/trusted_syscall.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* Every number of the range is always taken: by a library's descriptor, or
 * by a placeholder (a dup of one memory file of libprotect's), so the
 * kernel never hands one to the application, however many it opens.  The
 * last number holds a placeholder for good: the source of the others. */
static SEALED union {
    struct {
        int base;
        bool chosen;
        dev_t free_dev; /* the placeholder's identity */
        ino_t free_ino;
    } v;
    char pages[4096];
} range;
#define MASTER (range.v.base + LIBRARY_FDS - 1)

static bool free_slot(int fd)
{
    struct stat st;
    return trusted_syscall(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) == 0 && st.st_dev == range.v.free_dev &&
           st.st_ino == range.v.free_ino;
}

/* The highest run of LIBRARY_FDS unused numbers at or below TOP. */
static int unused_run(int top)
{
    for (int hi = top; hi >= 256; hi--) {
        int lo = hi - LIBRARY_FDS;
        while (hi > lo && trusted_syscall(SYS_fcntl, hi - 1, F_GETFD, 0, 0, 0, 0) == -EBADF)
            hi--;
        if (hi == lo)
            return lo;
    }
    return 0;
}

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
    /* Below FD_SETSIZE where the limit allows: a library may select() on
     * its descriptors (lwIP's TAP driver does). */
    rlim_t top = r.rlim_cur < FD_SETSIZE ? r.rlim_cur : FD_SETSIZE;
    int base = unused_run((int)top);
    long fd = base ? trusted_syscall(SYS_memfd_create, (long)"libprotect-free-slot", MFD_CLOEXEC, 0, 0, 0, 0) : -1;
    struct stat st;
    if (fd < 0 || trusted_syscall(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) != 0) {
        protect_log("hardened mode: no %d free descriptor numbers below %lu for the libraries' descriptors: "
                    "they are not guarded from the application", LIBRARY_FDS, (unsigned long)top);
        return;
    }
    for (int n = base; n < base + LIBRARY_FDS; n++)
        trusted_syscall(SYS_dup3, fd, n, O_CLOEXEC, 0, 0, 0);
    trusted_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
    sealed_open();
    range.v.base = base;
    range.v.free_dev = st.st_dev;
    range.v.free_ino = st.st_ino;
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
    for (int n = base; n < MASTER; n++)
        if (free_slot(n) && trusted_syscall(SYS_dup3, fd, n, O_CLOEXEC, 0, 0, 0) == n) {
            trusted_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
            return n;
        }
    static bool said;
    if (!said)
        protect_log("hardened mode: the protected libraries hold more than %d descriptors; later ones are not "
                    "guarded from the application", LIBRARY_FDS - 1);
    said = true;
    return fd;
}

long library_fd_release(long fd)
{
    int base = range.v.base;
    if (!in_library_fds(fd, base))
        return trusted_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
    if (fd == MASTER || free_slot((int)fd))
        return -EBADF; /* not the library's */
    long r = trusted_syscall(SYS_dup3, MASTER, fd, O_CLOEXEC, 0, 0, 0);
    return r < 0 ? r : 0;
}

bool library_fd_is_placeholder(long fd)
{
    return in_library_fds(fd, range.v.base) && free_slot((int)fd);
}
