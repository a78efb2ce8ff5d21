#define _GNU_SOURCE
#include "hardened/library_fds.h"

#include "log.h"
#include "base/sealed.h"
#include "base/trusted_syscall.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
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
        int proc_root;  /* /proc, for the open handler (-1: none) */
    } v;
    char pages[4096];
} range = {.v.proc_root = -1};
#define MASTER (range.v.base + LIBRARY_FDS - 1)

/* Which numbers of the range hold a descriptor (bit N: base + N): taken
 * by compare-and-swap, so that two threads opening at once never pick the
 * same one (and without a lock: the SIGSYS handler adopts too).  Each is
 * checked to hold the placeholder before it is replaced. */
static _Atomic uint64_t taken;
_Static_assert(LIBRARY_FDS == 64, "one word of bits");

static bool free_slot(int fd)
{
    struct stat st;
    return trusted_syscall(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) == 0 && st.st_dev == range.v.free_dev &&
           st.st_ino == range.v.free_ino;
}

static bool take_bit(int n)
{
    uint64_t bit = 1ull << (n - range.v.base);
    return !(atomic_fetch_or(&taken, bit) & bit);
}

static void drop_bit(int n)
{
    atomic_fetch_and(&taken, ~(1ull << (n - range.v.base)));
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
    atomic_store(&taken, 1ull << (LIBRARY_FDS - 1)); /* MASTER */
    long proc = trusted_syscall(SYS_open, (long)"/proc", O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0, 0, 0);
    proc = proc >= 0 ? library_fd_adopt(proc) : -1;
    sealed_open();
    range.v.proc_root = in_library_fds(proc, base) ? (int)proc : -1;
    sealed_close();
}

int library_fds_proc_root(void)
{
    return range.v.proc_root;
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
    for (int n = base; n < MASTER; n++) {
        if (!take_bit(n))
            continue;
        if (free_slot(n) && trusted_syscall(SYS_dup3, fd, n, O_CLOEXEC, 0, 0, 0) == n) {
            trusted_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
            return n;
        }
        /* not a placeholder after all (the bits are the application's to
         * spoil): left taken */
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
    if (fd == MASTER || fd == range.v.proc_root || free_slot((int)fd))
        return -EBADF; /* not the library's */
    long r = trusted_syscall(SYS_dup3, MASTER, fd, O_CLOEXEC, 0, 0, 0);
    if (r >= 0)
        drop_bit((int)fd);
    return r < 0 ? r : 0;
}

bool library_fd_is_placeholder(long fd)
{
    return in_library_fds(fd, range.v.base) && (fd == range.v.proc_root || free_slot((int)fd));
}
