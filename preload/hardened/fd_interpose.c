/* The libc calls a library makes on its own descriptors, interposed so
 * that they need no SIGSYS: for a descriptor in the libraries' range
 * (library_fds.h), called with a library's rights, the call goes to the
 * trusted page.  Anything else is the plain libc call (one compare more),
 * and the filter judges it. */
#define _GNU_SOURCE
#include "hardened/library_fds.h"
#include "gates/domains.h"
#include "gates/gate_table.h"
#include "base/pku.h"
#include "base/trusted_syscall.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

extern ssize_t __read(int, void *, size_t);
extern ssize_t __write(int, const void *, size_t);
extern ssize_t __pread64(int, void *, size_t, off_t);
extern ssize_t __pwrite64(int, const void *, size_t, off_t);
extern int __close(int);
extern off_t __lseek(int, off_t, int);
extern int __fcntl(int, int, ...);

static inline bool library_own(int fd)
{
    if (__builtin_expect(!in_library_fds(fd, library_fd_base()), 1))
        return false;
    uint32_t rights = pku_read();
    return rights != app_rights() && domain_for_rights(rights) != NULL;
}

static long result(long r)
{
    if ((unsigned long)r > -4096ul) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

#define TRUSTED(nr, a0, a1, a2, a3) result(trusted_syscall(nr, (long)(a0), (long)(a1), (long)(a2), (long)(a3), 0, 0))

ssize_t read(int fd, void *buf, size_t n)
{
    return library_own(fd) ? TRUSTED(SYS_read, fd, buf, n, 0) : __read(fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    return library_own(fd) ? TRUSTED(SYS_write, fd, buf, n, 0) : __write(fd, buf, n);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
    return library_own(fd) ? TRUSTED(SYS_pread64, fd, buf, n, off) : __pread64(fd, buf, n, off);
}
ssize_t pread(int fd, void *buf, size_t n, off_t off) __attribute__((alias("pread64")));

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return library_own(fd) ? TRUSTED(SYS_pwrite64, fd, buf, n, off) : __pwrite64(fd, buf, n, off);
}
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) __attribute__((alias("pwrite64")));

int close(int fd)
{
    return library_own(fd) ? (int)result(library_fd_release(fd)) : __close(fd);
}

off_t lseek64(int fd, off_t off, int whence)
{
    return library_own(fd) ? TRUSTED(SYS_lseek, fd, off, whence, 0) : __lseek(fd, off, whence);
}
off_t lseek(int fd, off_t off, int whence) __attribute__((alias("lseek64")));

int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long); /* every command's argument fits a long */
    va_end(ap);
    return library_own(fd) ? (int)TRUSTED(SYS_fcntl, fd, cmd, arg, 0) : __fcntl(fd, cmd, arg);
}
int fcntl(int fd, int cmd, ...) __attribute__((alias("fcntl64")));

/* Plain system calls in libc as well. */
#define SIMPLE(name, nr, ...) (library_own(fd) ? TRUSTED(nr, __VA_ARGS__) : result(syscall(nr, __VA_ARGS__)))

int fstat(int fd, struct stat *st)
{
    return (int)SIMPLE(fstat, SYS_fstat, fd, st, 0, 0);
}

int fstat64(int fd, struct stat64 *st)
{
    return fstat(fd, (struct stat *)st);
}

int fsync(int fd)
{
    return (int)SIMPLE(fsync, SYS_fsync, fd, 0, 0, 0);
}

int fdatasync(int fd)
{
    return (int)SIMPLE(fdatasync, SYS_fdatasync, fd, 0, 0, 0);
}

int ftruncate64(int fd, off_t len)
{
    return (int)SIMPLE(ftruncate, SYS_ftruncate, fd, len, 0, 0);
}
int ftruncate(int fd, off_t len) __attribute__((alias("ftruncate64")));

int fallocate64(int fd, int mode, off_t off, off_t len)
{
    return (int)SIMPLE(fallocate, SYS_fallocate, fd, mode, off, len);
}
int fallocate(int fd, int mode, off_t off, off_t len) __attribute__((alias("fallocate64")));

int flock(int fd, int op)
{
    return (int)SIMPLE(flock, SYS_flock, fd, op, 0, 0);
}
