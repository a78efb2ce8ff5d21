/* How an open is judged without a window (open_trap.h): the name is first
 * opened O_PATH (a descriptor nobody can read or write through), moved
 * into the libraries' reserved range, where the application cannot touch
 * or replace it, and judged there; only then is the file opened for real,
 * through /proc/self/fd/N of that very descriptor, so the descriptor the
 * caller gets is the file judged, with the flags judged.  New files
 * (O_CREAT|O_EXCL, O_TMPFILE, memfd_create) need no judging. */
#define _GNU_SOURCE
#include "hardened/open_trap.h"

#include "log.h"
#include "gates/domains.h"
#include "hardened/library_fds.h"
#include "hardened/syscall_trap.h"
#include "memory/library_files.h"
#include "base/proc_maps.h"
#include "base/trusted_syscall.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

/* The target of /proc/self/fd/FD, read through the kept /proc descriptor
 * (also after a chroot); its length, or -1. */
static long fd_link(int fd, char *path, size_t size)
{
    char link[48];
    int root = library_fds_proc_root();
    snprintf(link, sizeof link, root >= 0 ? "self/fd/%d" : "/proc/self/fd/%d", fd);
    long n = trusted_syscall(SYS_readlinkat, root >= 0 ? root : AT_FDCWD, (long)link, (long)path, (long)size - 1,
                             0, 0);
    if (n >= 0)
        path[n] = 0;
    return n;
}

/* /proc/<pid>/mem and /proc/<pid>/task/<tid>/mem: writes and reads through
 * them ignore PKU.  Known by the file system and the name (procfs cannot be
 * mounted or bound elsewhere: the filter refuses the mount calls).  A procfs
 * file whose name cannot be read is taken for one: unsure is no. */
static bool is_proc_mem(int fd)
{
    struct statfs fs;
    if (trusted_syscall(SYS_fstatfs, fd, (long)&fs, 0, 0, 0, 0) != 0)
        return true;
    if (fs.f_type != PROC_SUPER_MAGIC)
        return false;
    char path[256];
    long n = fd_link(fd, path, sizeof path);
    return n < 5 || strcmp(path + n - 4, "/mem") == 0;
}

/* /dev/userfaultfd: a userfaultfd without the (refused) system call.  Its
 * device number, looked up once (0: none). */
static bool is_userfaultfd_device(const struct stat *st)
{
    static dev_t device = (dev_t)-1;
    if (device == (dev_t)-1) {
        struct stat dev;
        device = stat("/dev/userfaultfd", &dev) == 0 && S_ISCHR(dev.st_mode) ? dev.st_rdev : 0;
    }
    return S_ISCHR(st->st_mode) && device && st->st_rdev == device;
}

/* A file a protected library holds (library_files.h), opened anew by
 * anyone but that library (RIGHTS: the caller's) with FLAGS: refused when
 * for writing, or at all when the library is confidential.  Judged by the
 * file itself (ST), so any name for it is the same.  The refusal, or 0. */
static long library_file_refusal(long nr, const struct stat *st, long flags, uint32_t rights)
{
    if (!S_ISREG(st->st_mode))
        return 0;
    int owner = library_file_owner(st->st_dev, st->st_ino);
    if (owner < 0 || protect_gate_page.t.domain[owner].pkru == rights || (flags & O_PATH))
        return 0; /* (no reads or writes through O_PATH; reopening it comes back here) */
    bool writable = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
    if (!writable && protect_domains[owner].policy.mode != POLICY_CONFIDENTIAL)
        return 0;
    char why[160];
    snprintf(why, sizeof why, "a file of %s (mapped shared, or its database: opened anew %s)", domain_name(owner),
             writable ? "for writing" : "by the application of a confidential library");
    return trap_refuse(nr, why);
}

/* Whether the file at FD may be opened with FLAGS by the caller: 0, or the
 * refusal. */
static long judged(long nr, int fd, long flags, uint32_t rights)
{
    struct stat st;
    if (is_proc_mem(fd))
        return trap_refuse(nr, "/proc/<pid>/mem reaches memory past PKU (or a procfs file it cannot name)");
    if (trusted_syscall(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) != 0)
        return 0; /* (an O_PATH descriptor always has one) */
    if (is_userfaultfd_device(&st))
        return trap_refuse(nr, "/dev/userfaultfd gives what the refused userfaultfd call would");
    return library_file_refusal(nr, &st, flags, rights);
}

struct span {
    uintptr_t lo, hi;
};

static int holds(const struct map_entry *m, void *arg)
{
    const struct span *s = arg;
    return m->start <= s->lo && s->hi <= m->end && m->read;
}

/* openat2's struct open_how, copied once (another thread may change it):
 * false if it is not readable or not the size this code knows. */
static bool copy_how(struct open_how *to, const long *a)
{
    struct span s = {(uintptr_t)a[2], (uintptr_t)a[2] + sizeof *to};
    if (a[3] != (long)sizeof *to || s.hi < s.lo || proc_maps_each(holds, &s) != 1)
        return false;
    memcpy(to, (const void *)a[2], sizeof *to);
    return true;
}

/* The call NR as the O_PATH opening of the same name (same directory,
 * same resolution flags, the final link followed or not as asked). */
static long open_path_only(long nr, const long *a, long flags, const struct open_how *how)
{
    long path_flags = O_PATH | O_CLOEXEC | (flags & (O_NOFOLLOW | O_DIRECTORY));
    switch (nr) {
    case SYS_open:
    case SYS_creat:
        return trusted_syscall(SYS_openat, AT_FDCWD, a[0], path_flags, 0, 0, 0);
    case SYS_openat:
        return trusted_syscall(SYS_openat, a[0], a[1], path_flags, 0, 0, 0);
    case SYS_openat2: {
        struct open_how h = *how;
        h.flags = (uint64_t)path_flags;
        h.mode = 0;
        return trusted_syscall(SYS_openat2, a[0], a[1], (long)&h, sizeof h, 0, 0);
    }
    default: /* open_by_handle_at */
        return trusted_syscall(nr, a[0], a[1], path_flags, 0, 0, 0);
    }
}

/* The same call, creating a new file only (O_EXCL: no link followed, no
 * existing file opened): nothing to judge. */
static long create_only(long nr, const long *a, long flags, long mode, const struct open_how *how)
{
    switch (nr) {
    case SYS_open:
    case SYS_creat:
        return trusted_syscall(SYS_openat, AT_FDCWD, a[0], flags | O_EXCL, mode, 0, 0);
    case SYS_openat:
        return trusted_syscall(SYS_openat, a[0], a[1], flags | O_EXCL, mode, 0, 0);
    case SYS_openat2: {
        struct open_how h = *how;
        h.flags |= O_EXCL;
        return trusted_syscall(SYS_openat2, a[0], a[1], (long)&h, sizeof h, 0, 0);
    }
    default:
        return -ENOENT;
    }
}

/* The file of descriptor HELD (in the reserved range) opened for real with
 * FLAGS, through /proc/self/fd (the kept /proc: also after a chroot).  An
 * O_PATH request gets a plain copy of it. */
static long reopen(int held, long flags)
{
    if (flags & O_PATH)
        return trusted_syscall(SYS_fcntl, held, (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0, 0, 0, 0);
    char link[48];
    int root = library_fds_proc_root();
    snprintf(link, sizeof link, root >= 0 ? "self/fd/%d" : "/proc/self/fd/%d", held);
    /* (the name was resolved by the O_PATH open: O_NOFOLLOW would stop at
     * the /proc link; O_CREAT and O_EXCL concern a name no longer used) */
    return trusted_syscall(SYS_openat, root >= 0 ? root : AT_FDCWD, (long)link,
                           flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL), 0, 0, 0);
}

/* What the caller gets: a library's descriptor goes into the range (and
 * its writable files are noted: library_files.h). */
static long hand_over(long fd, long flags, uint32_t rights)
{
    struct domain *d = rights == app_rights() ? NULL : domain_for_rights(rights);
    if (fd < 0 || !d)
        return fd;
    if ((flags & O_ACCMODE) != O_RDONLY && !(flags & O_PATH))
        library_files_note(d->slot, (int)fd);
    return library_fd_adopt(fd);
}

/* The name of call NR (ARGS) is a symbolic link: ARGS made to name its
 * target instead (into BUF), relative to the link's directory.  False if
 * it is not a link (any more), or the call resolves names in a way this
 * cannot follow (openat2's RESOLVE_* flags, open_by_handle_at). */
static bool follow_link(long nr, long *args, const struct open_how *how, char *buf)
{
    int at = nr == SYS_open || nr == SYS_creat ? 0 : 1;
    if (nr == SYS_open_by_handle_at || (nr == SYS_openat2 && how->resolve))
        return false;
    long dir = at ? args[0] : AT_FDCWD;
    const char *name = (const char *)args[at];
    char target[PATH_MAX];
    long n = trusted_syscall(SYS_readlinkat, dir, (long)name, (long)target, sizeof target - 1, 0, 0);
    if (n <= 0)
        return false;
    target[n] = 0;
    const char *slash = target[0] == '/' ? NULL : strrchr(name, '/');
    size_t keep = slash ? (size_t)(slash - name) + 1 : 0;
    if (keep + (size_t)n + 1 > PATH_MAX)
        return false;
    memmove(buf, name, keep); /* (NAME may be the other buffer) */
    memcpy(buf + keep, target, (size_t)n + 1);
    args[at] = (long)buf;
    return true;
}

/* The old way, for what the new cannot do (no reserved range, an openat2
 * argument it cannot read): open, then judge and close; another thread
 * may use the descriptor in between. */
static long open_then_judge(long nr, const long *a, long *flags, uint32_t rights)
{
    long fd = trusted_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (fd < 0)
        return fd;
    if (*flags < 0)
        *flags = trusted_syscall(SYS_fcntl, fd, F_GETFL, 0, 0, 0, 0);
    long refused = judged(nr, (int)fd, *flags, rights);
    if (refused)
        trusted_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
    return refused ? refused : fd;
}

/* The call NR with arguments A, judged (above); the descriptor at an
 * ordinary number, or -errno.  *FLAGS: what it was opened with. */
static long open_judged(long nr, const long *a, uint32_t rights, long *flags)
{
    long mode = 0;
    struct open_how how = {0};
    *flags = -1;
    switch (nr) {
    case SYS_memfd_create: /* a new file */
        *flags = O_RDWR;
        return trusted_syscall(nr, a[0], a[1], 0, 0, 0, 0);
    case SYS_open: *flags = a[1], mode = a[2]; break;
    case SYS_creat: *flags = O_CREAT | O_WRONLY | O_TRUNC, mode = a[1]; break;
    case SYS_openat: *flags = a[2], mode = a[3]; break;
    case SYS_open_by_handle_at: *flags = a[2]; break;
    case SYS_openat2:
        if (copy_how(&how, a))
            *flags = (long)how.flags, mode = (long)how.mode;
        break;
    }
    long f = *flags;
    if (f < 0 || !library_fd_base())
        return open_then_judge(nr, a, flags, rights);
    if ((f & O_TMPFILE) == O_TMPFILE || (f & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
        return create_only(nr, a, f & ~O_EXCL, mode, &how);
    long args[6] = {a[0], a[1], a[2], a[3], a[4], a[5]};
    char name[2][PATH_MAX];
    for (int tries = 0; tries < 16; tries++) {
        long path = open_path_only(nr, args, f, &how);
        if (path == -ENOENT && (f & O_CREAT)) {
            long made = create_only(nr, args, f, mode, &how);
            if (made != -EEXIST)
                return made;
            /* The name exists but leads nowhere: a dangling symbolic link,
             * whose target O_CREAT creates.  Followed here, one link at a
             * time (every open still judged, every creation O_EXCL); not a
             * link (a file made meanwhile): again as it is. */
            follow_link(nr, args, &how, name[tries % 2]);
            continue;
        }
        if (path < 0)
            return path;
        long held = library_fd_adopt(path);
        if (!in_library_fds(held, library_fd_base())) { /* the range is full */
            trusted_syscall(SYS_close, held, 0, 0, 0, 0, 0);
            return open_then_judge(nr, args, flags, rights);
        }
        long r = judged(nr, (int)held, f, rights);
        if (!r)
            r = reopen((int)held, f);
        library_fd_release(held);
        return r;
    }
    return -ELOOP; /* (as the kernel says of too many links) */
}

long open_request(long nr, const long *a, uint32_t rights)
{
    long flags;
    long fd = open_judged(nr, a, rights, &flags);
    return hand_over(fd, flags, rights);
}

void close_early_proc_mem(void)
{
    int root = library_fds_proc_root();
    long dir = trusted_syscall(SYS_openat, root >= 0 ? root : AT_FDCWD, (long)(root >= 0 ? "self/fd" : "/proc/self/fd"),
                               O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
    if (dir < 0)
        return;
    char buf[4096];
    long n;
    int found[64], n_found = 0;
    while ((n = trusted_syscall(SYS_getdents64, dir, (long)buf, sizeof buf, 0, 0, 0)) > 0)
        for (long off = 0; off < n;) {
            struct dirent64_head {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *e = (struct dirent64_head *)(buf + off);
            off += e->reclen;
            char *end;
            long fd = strtol(e->name, &end, 10);
            if (*end || end == e->name || fd == dir || fd == root)
                continue;
            struct statfs fs;
            if (trusted_syscall(SYS_fstatfs, fd, (long)&fs, 0, 0, 0, 0) == 0 && fs.f_type == PROC_SUPER_MAGIC &&
                is_proc_mem((int)fd) && n_found < 64)
                found[n_found++] = (int)fd;
        }
    trusted_syscall(SYS_close, dir, 0, 0, 0, 0, 0);
    for (int i = 0; i < n_found; i++) {
        trusted_syscall(SYS_close, found[i], 0, 0, 0, 0, 0);
        protect_log("hardened mode: closed descriptor %d, a /proc/<pid>/mem (or a procfs file it cannot name) "
                    "open before libprotect started", found[i]);
    }
}

/* truncate(path): the file is opened and judged like an open for writing,
 * then truncated through that descriptor (no window for a rename). */
long truncate_request(const long *a, uint32_t rights)
{
    long flags;
    long fd = open_judged(SYS_open, (const long[6]){a[0], O_WRONLY | O_CLOEXEC}, rights, &flags);
    if (fd < 0)
        return fd;
    long r = trusted_syscall(SYS_ftruncate, fd, a[1], 0, 0, 0, 0);
    trusted_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
    return r;
}
