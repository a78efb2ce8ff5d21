#define _GNU_SOURCE
#include "hardened/syscall_trap.h"

#include "insn_scan.h"
#include "log.h"
#include "base/pkru_sync.h"
#include "base/pku.h"
#include "base/proc_maps.h"
#include "hardened/syscall_filter.h"
#include "gates/domains.h"
#include "gates/gate_table.h"
#include "gates/services.h"
#include "hardened/library_fds.h"
#include "hardened/open_trap.h"
#include "hardened/thread_start.h"
#include "memory/library_files.h"
#include "signals/signals.h"
#include "base/trusted_syscall.h"

#include <errno.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/openat2.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

const char *trap_call_name(long nr)
{
    switch (nr) {
    case SYS_pkey_alloc: return "pkey_alloc";
    case SYS_pkey_free: return "pkey_free";
    case SYS_pkey_mprotect: return "pkey_mprotect";
    case SYS_process_vm_readv: return "process_vm_readv";
    case SYS_process_vm_writev: return "process_vm_writev";
    case SYS_ptrace: return "ptrace";
    case SYS_io_uring_setup: return "io_uring_setup";
    case SYS_io_uring_enter: return "io_uring_enter";
    case SYS_io_uring_register: return "io_uring_register";
    case SYS_io_submit: return "io_submit";
    case SYS_userfaultfd: return "userfaultfd";
    case SYS_remap_file_pages: return "remap_file_pages";
    case SYS_process_madvise: return "process_madvise";
    case SYS_personality: return "personality";
    case SYS_perf_event_open: return "perf_event_open";
    case SYS_bpf: return "bpf";
    case SYS_prctl: return "prctl(PR_SET_MM)";
    case SYS_mount: return "mount";
    case SYS_umount2: return "umount2";
    case SYS_pivot_root: return "pivot_root";
    case SYS_open_tree: return "open_tree";
    case SYS_move_mount: return "move_mount";
    case SYS_fsopen: return "fsopen";
    case SYS_fsconfig: return "fsconfig";
    case SYS_fsmount: return "fsmount";
    case SYS_fspick: return "fspick";
    case SYS_mount_setattr: return "mount_setattr";
    case SYS_init_module: return "init_module";
    case SYS_finit_module: return "finit_module";
    case SYS_kexec_load: return "kexec_load";
    case SYS_kexec_file_load: return "kexec_file_load";
    case SYS_mprotect: return "mprotect";
    case SYS_munmap: return "munmap";
    case SYS_madvise: return "madvise";
    case SYS_mremap: return "mremap";
    case SYS_mmap: return "mmap";
    case SYS_shmat: return "shmat";
    case SYS_shmdt: return "shmdt";
    case SYS_open: return "open";
    case SYS_openat: return "openat";
    case SYS_openat2: return "openat2";
    case SYS_creat: return "creat";
    case SYS_open_by_handle_at: return "open_by_handle_at";
    case SYS_truncate: return "truncate";
    case SYS_memfd_create: return "memfd_create";
    case SYS_sendmsg: return "sendmsg";
    case SYS_sendmmsg: return "sendmmsg";
    case SYS_close_range: return "close_range";
    case SYS_read: return "read";
    case SYS_write: return "write";
    case SYS_pread64: return "pread64";
    case SYS_pwrite64: return "pwrite64";
    case SYS_readv: return "readv";
    case SYS_writev: return "writev";
    case SYS_close: return "close";
    case SYS_fcntl: return "fcntl";
    case SYS_ioctl: return "ioctl";
    case SYS_lseek: return "lseek";
    case SYS_fstat: return "fstat";
    case SYS_fsync: return "fsync";
    case SYS_fdatasync: return "fdatasync";
    case SYS_ftruncate: return "ftruncate";
    case SYS_fallocate: return "fallocate";
    case SYS_flock: return "flock";
    case SYS_dup: return "dup";
    case SYS_dup2: return "dup2";
    case SYS_dup3: return "dup3";
    case SYS_sendfile: return "sendfile";
    case SYS_splice: return "splice";
    case SYS_tee: return "tee";
    case SYS_copy_file_range: return "copy_file_range";
    case SYS_pidfd_getfd: return "pidfd_getfd";
    case SYS_arch_prctl: return "arch_prctl(ARCH_MAP_VDSO)";
    case SYS_rt_sigreturn: return "rt_sigreturn";
    default: {
        static __thread char number[32];
        snprintf(number, sizeof number, "system call %ld", nr);
        return number;
    }
    }
}

static _Atomic unsigned long refusals;

unsigned long syscall_refusals(void)
{
    return refusals;
}

long trap_refuse(long nr, const char *why)
{
    refusals++;
    protect_log("blocked %s: %s", trap_call_name(nr), why);
    return -EPERM;
}

static long refuse_over(long nr, uintptr_t lo, uintptr_t len)
{
    refusals++;
    const char *owner = protected_owner(lo, lo + (len ? len : 1));
    protect_log("blocked %s(%#lx, %#lx): protected memory of %s", trap_call_name(nr), (unsigned long)lo,
                (unsigned long)len, owner ? owner : "a protected library");
    return -EPERM;
}

static long call(long nr, const long *a)
{
    return trusted_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

struct shared_query {
    uintptr_t lo, hi;
};

static int is_shared(const struct map_entry *m, void *arg)
{
    const struct shared_query *q = arg;
    return m->shared && m->start < q->hi && m->end > q->lo;
}

/* Bytes on each side of a boundary that a WRPKRU/XRSTOR pattern can span. */
#define EDGE 4

struct exec_query {
    uintptr_t addr;
};

static int executable_at(const struct map_entry *m, void *arg)
{
    const struct exec_query *q = arg;
    return q->addr >= m->start && q->addr < m->end && m->exec && m->read;
}

struct straddle {
    size_t boundary, found;
};

static void count_straddling(const struct danger_hit *hit, void *arg)
{
    struct straddle *s = arg;
    s->found += hit->offset < s->boundary && hit->offset + hit->len > s->boundary;
}

/* Patterns that start in one executable range and end in the other, at the
 * edges of [LO, HI) (each side, scanned alone, looked clean: 0f 01 at the
 * end of one page, ef at the start of the next).  The new code's own bytes
 * come from CODE (its sealed copy), the neighbours' from memory. */
static size_t across_neighbours(uintptr_t lo, uintptr_t hi, const uint8_t *code)
{
    size_t found = 0;
    uintptr_t edges[2] = {lo, hi};
    for (int i = 0; i < 2; i++) {
        uintptr_t b = edges[i];
        struct exec_query other = {i == 0 ? b - 1 : b};
        if (proc_maps_each(executable_at, &other) != 1)
            continue;
        uint8_t buf[2 * EDGE];
        for (uintptr_t k = 0; k < 2 * EDGE; k++) {
            uintptr_t at = b - EDGE + k;
            buf[k] = at >= lo && at < hi ? code[at - lo] : *(const uint8_t *)at;
        }
        struct straddle s = {EDGE, 0};
        insn_scan(buf, sizeof buf, count_straddling, &s);
        found += s.found;
    }
    return found;
}

/* A sealed copy of [LO, LO+READABLE) in a memory file of LEN bytes (zero
 * past READABLE): once sealed, nobody can change it, so what is scanned
 * is what will run.  The descriptor, or -errno. */
static long sealed_copy(uintptr_t lo, size_t len, size_t readable)
{
#ifndef MFD_EXEC
#define MFD_EXEC 0x10u
#endif
    /* MFD_EXEC where vm.memfd_noexec would otherwise refuse to run it;
     * kernels before 6.3 do not know the flag (EINVAL). */
    long fd = trusted_syscall(SYS_memfd_create, (long)"libprotect-code", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC, 0,
                              0, 0, 0);
    if (fd == -EINVAL)
        fd = trusted_syscall(SYS_memfd_create, (long)"libprotect-code", MFD_CLOEXEC | MFD_ALLOW_SEALING, 0, 0, 0, 0);
    if (fd < 0)
        return fd;
    long r = trusted_syscall(SYS_ftruncate, fd, (long)len, 0, 0, 0, 0);
    for (size_t done = 0, want = readable < len ? readable : len; r >= 0 && done < want; done += (size_t)r)
        if ((r = trusted_syscall(SYS_pwrite64, fd, (long)(lo + done), (long)(want - done), (long)done, 0, 0)) == 0)
            r = -EIO;
    if (r >= 0)
        r = trusted_syscall(SYS_fcntl, fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE, 0, 0,
                            0);
    if (r < 0) {
        trusted_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
        return r;
    }
    return fd;
}

/* Replaces [LO, LO+LEN) by a private mapping of a sealed copy with PROT,
 * after checking that the copy holds no WRPKRU/XRSTOR (at any
 * offset, and across its edges with executable memory beside it): neither
 * the file behind the original mapping nor another thread writing the copy
 * can change the code once it is checked.  Bytes past READABLE (past the
 * end of a file) are zero. */
static long freeze(long nr, uintptr_t lo, size_t len, size_t readable, int prot)
{
    long fd = sealed_copy(lo, len, readable);
    if (fd < 0)
        return fd;
    const uint8_t *view = trusted_mmap(NULL, len, PROT_READ, MAP_SHARED, (int)fd, 0);
    if (view == MAP_FAILED) {
        trusted_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
        return -ENOMEM;
    }
    size_t spanning = across_neighbours(lo, lo + len, view), dangers = spanning ? 0 : insn_scan(view, len, NULL, NULL);
    trusted_munmap((void *)view, len);
    if (spanning || dangers) {
        trusted_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
        if (spanning)
            protect_log("blocked %s(%#lx, %#zx, PROT_EXEC): %zu WRPKRU/XRSTOR across the edge of the new "
                        "code and executable memory beside it",
                        trap_call_name(nr), (unsigned long)lo, len, spanning);
        else
            protect_log("blocked %s(%#lx, %#zx, PROT_EXEC): %zu WRPKRU/XRSTOR in the new code", trap_call_name(nr),
                        (unsigned long)lo, len, dangers);
        return -EPERM;
    }
    void *p = trusted_mmap((void *)lo, len, prot, MAP_PRIVATE | MAP_FIXED, (int)fd, 0);
    trusted_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
    if (p == MAP_FAILED)
        return -errno;
    if (syscall_filter_add_code(lo, lo + len) != 0) {
        trusted_mprotect((void *)lo, len, prot & ~PROT_EXEC);
        protect_log("blocked %s: too much new executable memory for the filter to watch", trap_call_name(nr));
        return -EPERM;
    }
    return 0;
}

/* mmap, mprotect or pkey_mprotect with PROT_EXEC. */
static long exec_here(long nr, const long *a)
{
    uintptr_t lo = (uintptr_t)a[0];
    size_t len = ((size_t)a[1] + 4095) & ~4095ul;
    int prot = (int)a[2];
    if (prot & PROT_WRITE)
        return trap_refuse(nr, "memory both writable and executable");
    if ((nr != SYS_mmap || (a[3] & MAP_FIXED)) && protected_owner(lo, lo + len))
        return refuse_over(nr, lo, len);
    if (nr == SYS_mmap) {
        int flags = (int)a[3];
        if ((flags & MAP_TYPE) != MAP_PRIVATE)
            return trap_refuse(nr, "shared executable mapping (its other views could change the code)");
        long b[6] = {a[0], a[1], PROT_READ, a[3], a[4], a[5]};
        long r = call(nr, b);
        if (r < 0)
            return r;
        size_t readable = len;
        struct stat st;
        if (!(flags & MAP_ANONYMOUS) && fstat((int)a[4], &st) == 0)
            readable = st.st_size > a[5] ? (size_t)(st.st_size - a[5]) : 0;
        long f = freeze(nr, (uintptr_t)r, len, readable, prot);
        if (f < 0) {
            trusted_munmap((void *)r, len);
            return f;
        }
        return r;
    }
    struct shared_query q = {lo, lo + len};
    if (proc_maps_each(is_shared, &q) != 0)
        return trap_refuse(nr, "shared memory made executable (its other views could change the code)");
    long r = trusted_mprotect((void *)lo, len, PROT_READ) == 0 ? freeze(nr, lo, len, len, prot) : -errno;
    if (r == 0 && nr == SYS_pkey_mprotect)
        r = trusted_pkey_mprotect((void *)lo, len, prot, (int)a[3]) == 0 ? 0 : -errno;
    return r;
}

/* Code made executable is scanned, then frozen in a sealed copy: keying
 * the copy in place is the runtime domain's to do, once it has one. */
static long exec_request(long nr, const long *a)
{
    if (!trusted_page_needs_runtime())
        return exec_here(nr, a);
    union service_io io = {.w = {(uint64_t)nr}};
    memcpy(&io.w[1], a, 6 * sizeof *a);
    return (long)runtime_service(RT_EXEC, &io);
}

/* RT_EXEC: w[0] the call, w[1..6] its arguments, as exec_request takes
 * them; anyone may ask (the application's own call goes the same way). */
static uintptr_t exec_service(int slot, void *io)
{
    const union service_io *q = io;
    long nr = (long)q->w[0], a[6];
    memcpy(a, &q->w[1], sizeof a);
    if (slot != RT_SLOT || (nr != SYS_mmap && nr != SYS_mprotect && nr != SYS_pkey_mprotect) || !(a[2] & PROT_EXEC))
        return (uintptr_t)trap_refuse(nr, "asked of libprotect's runtime as executable memory, which it is not");
    return (uintptr_t)exec_here(nr, a);
}

static long remap_request(const long *a)
{
    uintptr_t old = (uintptr_t)a[0], old_len = (uintptr_t)a[1];
    if (protected_owner(old, old + (old_len ? old_len : 1)))
        return refuse_over(SYS_mremap, old, old_len);
    if ((a[3] & MREMAP_FIXED) && protected_owner((uintptr_t)a[4], (uintptr_t)a[4] + (uintptr_t)a[2]))
        return refuse_over(SYS_mremap, (uintptr_t)a[4], (uintptr_t)a[2]);
    if (watched_code(old, old + (old_len ? old_len : 1)))
        return trap_refuse(SYS_mremap, "moving executable memory");
    return call(SYS_mremap, a);
}

/* The caller's domain, when a library made the call; else NULL. */
static struct domain *calling_domain(uint32_t rights)
{
    return rights == app_rights() ? NULL : domain_for_rights(rights);
}

/* A call on a descriptor of the libraries' range: the library's own are
 * carried out; close_range over the range closes the rest; the
 * application's are refused. */
static long fd_request(long nr, const long *a, uint32_t rights)
{
    if (calling_domain(rights))
        return nr == SYS_close ? library_fd_release(a[0]) : call(nr, a);
    int base = library_fd_base();
    if (nr == SYS_close_range) {
        unsigned first = (unsigned)a[0], last = (unsigned)a[1];
        long r = 0;
        if (first < (unsigned)base)
            r = trusted_syscall(SYS_close_range, first, base - 1, a[2], 0, 0, 0);
        if (r == 0 && last >= (unsigned)(base + LIBRARY_FDS))
            r = trusted_syscall(SYS_close_range, base + LIBRARY_FDS, last, a[2], 0, 0, 0);
        return r;
    }
    long fd = -1;
    for (int i = 0; i < 6 && fd < 0; i++)
        if (in_library_fds((int)a[i], base) && (nr == SYS_mmap) == (i == 4))
            fd = (int)a[i];
    /* A number no library holds: for the application it is not open (a
     * daemon closing or probing every descriptor gets on quietly). */
    if (nr != SYS_dup2 && nr != SYS_dup3 && library_fd_is_placeholder(fd))
        return nr == SYS_close ? 0 : -EBADF;
    refusals++;
    protect_log("blocked %s(%ld): a descriptor of a protected library (numbers %d-%d are theirs)", trap_call_name(nr), fd,
                base, base + LIBRARY_FDS - 1);
    return -EPERM;
}

/* Whether [P, P + LEN) is memory the caller may name: a page past the
 * first, no wrap, none of the runtime domain's memory.  The trapped calls
 * of the application are carried out in the runtime domain, whose rights
 * (and so the kernel's, reading or writing for the call) include its own
 * memory: a pointer the caller hands over must not reach it. */
static bool callers_memory(uintptr_t p, size_t len)
{
    return p >= 4096 && p + len >= p && !in_runtime_region(p, p + (len ? len : 1));
}

/* On the handler's (alternate) stack, or a service stack: 16 KiB at most. */
#define MAX_SENT 8
#define MAX_CONTROL 1024
#define MAX_SENT_IOV 256

/* The vectors of the messages being sent, copied (so that another thread
 * cannot change a checked pointer before the kernel reads it). */
struct sent_iov {
    struct iovec v[MAX_SENT_IOV];
    size_t used;
};

/* One message's parts copied (the application could change them between
 * the check and the call) and checked: its vector and name in the caller's
 * memory, no library descriptor in its control data.  0, or -errno. */
static long copy_checked(struct msghdr *m, char *control, int base, struct sent_iov *iov)
{
    if (m->msg_name && m->msg_namelen && !callers_memory((uintptr_t)m->msg_name, m->msg_namelen))
        return -EFAULT;
    if (m->msg_iovlen > MAX_SENT_IOV - iov->used)
        return -EMSGSIZE;
    if (m->msg_iovlen) {
        if (!callers_memory((uintptr_t)m->msg_iov, m->msg_iovlen * sizeof *m->msg_iov))
            return -EFAULT;
        struct iovec *v = iov->v + iov->used;
        memcpy(v, m->msg_iov, m->msg_iovlen * sizeof *v);
        for (size_t i = 0; i < m->msg_iovlen; i++)
            if (v[i].iov_len && !callers_memory((uintptr_t)v[i].iov_base, v[i].iov_len))
                return -EFAULT;
        m->msg_iov = v;
        iov->used += m->msg_iovlen;
    }
    if (!m->msg_control || !m->msg_controllen)
        return 0;
    if (m->msg_controllen > MAX_CONTROL)
        return -EPERM;
    if (!callers_memory((uintptr_t)m->msg_control, m->msg_controllen))
        return -EFAULT;
    memcpy(control, m->msg_control, m->msg_controllen);
    m->msg_control = control;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const int *fds = (const int *)CMSG_DATA(c);
        for (size_t i = 0; i < n; i++)
            if (in_library_fds(fds[i], base))
                return -EPERM;
    }
    return 0;
}

static long sent_refusal(long nr, long r)
{
    return r == -EPERM ? trap_refuse(nr, "a descriptor of a protected library sent away (SCM_RIGHTS), or too much "
                                         "control data")
                       : r;
}

/* sendmsg and sendmmsg: a library's descriptor must not be sent away
 * (another process would write through it). */
static long sendmsg_request(long nr, const long *a, uint32_t rights)
{
    int base = library_fd_base();
    if (in_library_fds(a[0], base) || calling_domain(rights))
        return calling_domain(rights) ? call(nr, a) : fd_request(nr, a, rights);
    char control[MAX_SENT][MAX_CONTROL];
    struct sent_iov iov = {.used = 0};
    long r;
    if (nr == SYS_sendmsg) {
        if (!callers_memory((uintptr_t)a[1], sizeof(struct msghdr)))
            return -EFAULT;
        struct msghdr m = *(struct msghdr *)a[1];
        if ((r = copy_checked(&m, control[0], base, &iov)) != 0)
            return sent_refusal(nr, r);
        return trusted_syscall(nr, a[0], (long)&m, a[2], 0, 0, 0);
    }
    struct mmsghdr copy[MAX_SENT], *orig = (struct mmsghdr *)a[1];
    unsigned n = (unsigned)a[2] < MAX_SENT ? (unsigned)a[2] : MAX_SENT; /* fewer sent: allowed */
    if (!callers_memory((uintptr_t)orig, n * sizeof *orig))
        return -EFAULT;
    for (unsigned i = 0; i < n; i++) {
        copy[i] = orig[i];
        if ((r = copy_checked(&copy[i].msg_hdr, control[i], base, &iov)) == -EMSGSIZE && i > 0) {
            n = i; /* the vectors copied are full: the rest waits for another call */
            break;
        }
        if (r != 0)
            return sent_refusal(nr, r);
    }
    r = trusted_syscall(nr, a[0], (long)copy, n, a[3], 0, 0);
    for (long i = 0; i < r; i++)
        orig[i].msg_len = copy[i].msg_len;
    return r;
}

#define SIGBIT(sig) (1ull << ((sig) - 1))

/* rt_sigprocmask(how, set, old, size) that sets or adds: applied to MASK,
 * the interrupted code's (the frame's: sigreturn puts it in place), less
 * SIGSYS, which the filter's traps need (blocked, they kill), and
 * libprotect's own signal. */
static long mask_request(const long *a, uint64_t *mask)
{
    if (a[3] != sizeof *mask)
        return -EINVAL;
    uint64_t old = *mask, set = *(const uint64_t *)a[1];
    switch ((int)a[0]) {
    case SIG_BLOCK:
        *mask |= set;
        break;
    case SIG_SETMASK:
        *mask = set;
        break;
    default:
        return -EINVAL;
    }
    *mask &= ~(SIGBIT(SIGSYS) | SIGBIT(SIGKILL) | SIGBIT(SIGSTOP) | PROTECT_SIGNAL_BIT);
    if (a[2])
        *(uint64_t *)a[2] = old;
    return 0;
}

/* Whether signal call NR (FILTER_SIGNAL) with arguments A points into
 * protected memory. */
static bool signal_call_in_protected_memory(long nr, const long *a)
{
    int first = nr == SYS_sigaltstack ? 0 : 1;
    size_t size = nr == SYS_rt_sigaction ? sizeof(struct kernel_sigaction) : nr == SYS_sigaltstack ? sizeof(stack_t) : 8;
    for (int i = first; i < first + 2; i++)
        if (a[i] && protected_owner((uintptr_t)a[i], (uintptr_t)a[i] + size))
            return true;
    return false;
}

/* A handler's action, an alternate stack or a mask (FILTER_SIGNAL).  A
 * library's rt_sigaction goes to the kernel as it asked (abort() in a
 * library resets SIGABRT so); the application's keeps its view. */
static long signal_request(long nr, const long *a, uint32_t rights, uint64_t *mask)
{
    if (nr == SYS_rt_sigprocmask)
        return mask_request(a, mask);
    if (nr == SYS_sigaltstack)
        return signals_sigaltstack_call(a);
    return signals_rt_sigaction_call(a, calling_domain(rights) != NULL);
}

/* What carry_out answers for a reason the filter has not: the signal is
 * left to the program. */
#define NOT_A_REQUEST (-4096 - 1)

/* Carries out call NR, which the filter sent here for REASON, for a caller
 * with RIGHTS (the rights this runs with) whose signal mask is MASK. */
static long carry_out(long nr, int reason, const long *a, uint32_t rights, uint64_t *mask)
{
    switch (reason) {
    case FILTER_FORBIDDEN:
        return trap_refuse(nr, "not allowed in hardened mode");
    case FILTER_PROTECTED:
        return refuse_over(nr, (uintptr_t)a[0], nr == SYS_shmdt ? 1 : (uintptr_t)a[1]);
    case FILTER_EXEC:
        return exec_request(nr, a);
    case FILTER_REMAP:
        return remap_request(a);
    case FILTER_OPEN:
        return nr == SYS_truncate ? truncate_request(a, rights) : open_request(nr, a, rights);
    case FILTER_FD:
        return fd_request(nr, a, rights);
    case FILTER_SENDMSG:
        return sendmsg_request(nr, a, rights);
    case FILTER_SIGRETURN:
        return trap_refuse(nr, "not from libprotect's restorer (a forged signal frame?)");
    case FILTER_SIGNAL:
        return signal_request(nr, a, rights, mask);
    case FILTER_THREAD: /* the application's in syscall_trap, a library's in trap_service */
        return NOT_A_REQUEST;
    default:
        return NOT_A_REQUEST;
    }
}

/* ---- the application's trapped calls, in the runtime domain ---- */

/* The reasons whose calls the runtime domain carries out: all but the
 * signal and thread calls (which the trusted page still makes without the
 * cookie, and the SIGSYS handler with the application's rights). */
static bool runtime_carries(int reason)
{
    return reason && reason != FILTER_SIGNAL && reason != FILTER_THREAD;
}

/* What an open-type call names, copied into the runtime's memory: the
 * kernel, reading a name with the runtime's rights, would read the
 * runtime's memory there too (a memfd or a file created with the cookie
 * in its name). */
struct named_copy {
    char path[PATH_MAX];
    struct open_how how;
    union {
        struct file_handle h;
        char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    } handle;
};

static long copy_name(char *to, uintptr_t from)
{
    for (size_t i = 0; i < PATH_MAX; i++) {
        if ((i == 0 || ((from + i) & 4095) == 0) && !callers_memory((from + i) & ~4095ul, 4096))
            return -EFAULT;
        if (!(to[i] = *(const char *)(from + i)))
            return 0;
    }
    return -ENAMETOOLONG;
}

/* A's pointers for call NR (FILTER_OPEN) made to point at copies in C. */
static long copy_named(long nr, long *a, struct named_copy *c)
{
    int at = nr == SYS_openat || nr == SYS_openat2 || nr == SYS_open_by_handle_at;
    if (nr == SYS_open_by_handle_at) {
        if (!callers_memory((uintptr_t)a[1], sizeof c->handle.h))
            return -EFAULT;
        unsigned bytes = ((const struct file_handle *)a[1])->handle_bytes;
        if (bytes > MAX_HANDLE_SZ)
            return -EINVAL;
        if (!callers_memory((uintptr_t)a[1], sizeof c->handle.h + bytes))
            return -EFAULT;
        memcpy(&c->handle, (const void *)a[1], sizeof c->handle.h + bytes);
        c->handle.h.handle_bytes = bytes;
        a[1] = (long)&c->handle;
        return 0;
    }
    if (nr == SYS_openat2) {
        if (a[3] != (long)sizeof c->how)
            return -E2BIG; /* (copy_how knows only this size) */
        if (!callers_memory((uintptr_t)a[2], sizeof c->how))
            return -EFAULT;
        memcpy(&c->how, (const void *)a[2], sizeof c->how);
        a[2] = (long)&c->how;
    }
    long r = copy_name(c->path, (uintptr_t)a[at]);
    a[at] = (long)c->path;
    return r;
}

/* RT_TRAP: w[0] the call, w[1] the filter's reason, w[2..7] its arguments:
 * a call the filter stops for the application (its own, or libprotect's
 * made with its rights), carried out by the application's rules.  Anyone
 * may ask: the reason must be the filter's for that call. */
static uintptr_t app_trap_service(int slot, void *io)
{
    const union service_io *q = io;
    long nr = (long)q->w[0], a[6];
    int reason = (int)q->w[1];
    memcpy(a, &q->w[2], sizeof a);
    if (slot != RT_SLOT || !runtime_carries(reason) || app_trap_reason(nr, a) != reason)
        return (uintptr_t)trap_refuse(nr, "asked of libprotect's runtime as a trapped call, which it is not");
    struct named_copy names;
    long r;
    if (reason == FILTER_OPEN && (r = copy_named(nr, a, &names)) != 0)
        return (uintptr_t)r;
    return (uintptr_t)carry_out(nr, reason, a, app_rights(), NULL);
}

/* The reason the trusted page wants the cookie with call NR (A): one
 * whose call the runtime domain carries out for the application, or an
 * action or alternate stack set (for libprotect's own, signals.c's
 * RT_SIGACTION and RT_ALTSTACK). */
static int cookie_reason(long nr, const long *a)
{
    int reason = app_trap_reason(nr, a);
    return runtime_carries(reason) || (reason == FILTER_SIGNAL && nr != SYS_rt_sigprocmask) ? reason : 0;
}

/* trusted_syscall's route for such a call, made by a thread that may not
 * read the cookie. */
static long carry_in_runtime(long nr, int reason, const long *a)
{
    union service_io io = {.w = {(uint64_t)nr, (uint64_t)reason}};
    memcpy(&io.w[2], a, 6 * sizeof *a);
    return (long)runtime_service(RT_TRAP, &io);
}

void syscall_trap_routes(struct trusted_routes *r)
{
    r->traps = cookie_reason;
    r->carry = carry_in_runtime;
}

bool syscall_trap(siginfo_t *si, ucontext_t *uc)
{
    if (si->si_code != SYS_SECCOMP)
        return false;
    greg_t *g = uc->uc_mcontext.gregs;
    long nr = si->si_syscall;
    const long a[6] = {g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]};
    /* A trap of the filter leaves the call's number in rax (the kernel
     * rolls the registers back) at the address after the syscall, and is
     * one the filter sends here for its reason; a SIGSYS a thread sent
     * itself (or the main thread sent the process) with made-up siginfo is
     * the program's own signal, and gets no call made for it. */
    if (si->si_arch != AUDIT_ARCH_X86_64 || (uintptr_t)si->si_call_addr != (uintptr_t)g[REG_RIP] ||
        g[REG_RAX] != nr || !filter_sends(nr, si->si_errno, a)) {
        protect_log("a SIGSYS made up to look like the system-call filter's (%s, reason %d): not acted on, left "
                    "to the program as its own signal",
                    trap_call_name(nr), si->si_errno);
        return false;
    }
    /* The call is made with the caller's rights: a library's open reads
     * its path from its own memory.  A library's, then, is carried out by a
     * service in its domain (libprotect's C code never raises the rights
     * itself); the application's here. */
    long r;
    struct domain *d = calling_domain(frame_rights(uc));
    uint64_t *mask = (uint64_t *)&uc->uc_sigmask;
    /* A signal call of a thread with a library's rights that reads and
     * writes only the application's memory (glibc's start of a thread a
     * library created sets its mask before anything of the thread's own
     * runs): made here, with the application's rights. */
    if (d && si->si_errno == FILTER_SIGNAL && !signal_call_in_protected_memory(nr, a))
        d = NULL;
    struct thread_context thread;
    if (si->si_errno == FILTER_THREAD)
        thread_context_of(uc, a, &thread);
    if (d) {
        union service_io io = {.w = {(uint64_t)nr, (uint64_t)si->si_errno}};
        memcpy(&io.w[2], a, sizeof a);
        if (si->si_errno == FILTER_THREAD)
            memcpy(&io.w[8], &thread, THREAD_CONTEXT_SENT * sizeof(uint64_t));
        else
            io.w[8] = *mask;
        r = (long)domain_service(d->slot, SVC_TRAP, &io);
        if (si->si_errno != FILTER_THREAD)
            *mask = io.w[8];
    } else if (trusted_page_needs_runtime() && runtime_carries(si->si_errno)) {
        r = carry_in_runtime(nr, si->si_errno, a);
    } else {
        uint32_t saved = pku_read(), rights = frame_rights(uc);
        pku_write_checked(rights_within_app(rights) ? rights : app_rights());
        r = si->si_errno == FILTER_THREAD ? thread_start_clone(a, &thread, false)
                                          : carry_out(nr, si->si_errno, a, pku_read(), mask);
        pku_write_checked(saved);
    }
    if (r == NOT_A_REQUEST)
        return false;
    g[REG_RAX] = r;
    return true;
}

/* SVC_TRAP: w[0] the call, w[1] the filter's reason, w[2..7] its arguments,
 * w[8] the caller's signal mask (the answer's: the mask it returns with);
 * with the domain's rights, as the library made it. */
static uintptr_t trap_service(int slot, void *io)
{
    union service_io *q = io;
    long a[6];
    memcpy(a, &q->w[2], sizeof a);
    /* Only for a thread that an entry is inside: the application may ask
     * for this service too, and a library's calls (its descriptors) are
     * not the application's to make. */
    const struct gate_block *b = gate_block_checked(slot);
    if (!b || !(b->sp & GB_SP_INSIDE))
        return (uintptr_t)trap_refuse((long)q->w[0],
                                      "asked for as a library's trapped call by a thread not inside the library");
    if (q->w[1] == FILTER_THREAD) {
        /* The child inherits the domain's rights, as a library's thread
         * always did; its stack may be the library's memory. */
        struct thread_context c = {0};
        memcpy(&c, &q->w[8], THREAD_CONTEXT_SENT * sizeof(uint64_t));
        return (uintptr_t)thread_start_clone(a, &c, true);
    }
    return (uintptr_t)carry_out((long)q->w[0], (int)q->w[1], a, protect_gate_page.t.domain[slot].pkru, &q->w[8]);
}

void syscall_trap_register_service(void)
{
    gate_table_set_service(SVC_TRAP, trap_service);
    gate_table_set_rt_service(RT_EXEC, exec_service);
    gate_table_set_rt_service(RT_TRAP, app_trap_service);
}
