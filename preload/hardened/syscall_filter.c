#define _GNU_SOURCE
#include "hardened/syscall_filter.h"
#include "signals/protected_frames.h"

#include "hardened/bpf_program.h"
#include "hardened/library_fds.h"
#include "hardened/open_trap.h"
#include "hardened/runtime_domain.h"
#include "gates/callbacks.h"
#include "gates/domains.h"
#include "gates/gate_table.h"
#include "gates/threads.h"
#include "gates/services.h"
#include "log.h"
#include "base/proc_maps.h"
#include "base/sealed.h"
#include "base/trusted_syscall.h"

#include <errno.h>
#include <link.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_RANGES 512
#define PAGE 4096ul

struct range {
    uintptr_t lo, hi;
    int owner; /* domain slot, or -1 for libprotect */
};

/* The filter's view of memory: the SIGSYS handler's decisions read it, so
 * it is sealed like sealed.h's state, but in pages of its own, opened and
 * closed under filter_lock alone.  (The SIGSYS handler adds code while the
 * loader's lock may be held, when dlopen maps a library; attach holds the
 * sealed.h lock while it calls dlopen: one lock for both would deadlock.) */
struct memory_view {
    struct range code[MAX_RANGES];
    int n_code;
    struct range protected_mem[MAX_RANGES];
    int n_protected;
    bool installed;
};
static __attribute__((section("protect_filter_view"), aligned(4096))) union {
    struct memory_view v;
    char pages[SEALED_PAGES(struct memory_view)];
} view;

static void view_writable(bool writable)
{
    if (trusted_mprotect(&view, sizeof view, writable ? PROT_READ | PROT_WRITE : PROT_READ) != 0)
        protect_fatal("cannot change the protection of the filter's view of memory");
}
#define code (view.v.code)
#define n_code (view.v.n_code)
#define protected_mem (view.v.protected_mem)
#define n_protected (view.v.n_protected)
#define installed (view.v.installed)
static pthread_mutex_t filter_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bpf_program_buf program; /* static: also built in the SIGSYS handler */

/* Decided once, at start, and sealed: the environment is the application's
 * to change (setenv("PROTECT_HARDENED", "0") before a dlopen would have
 * turned off the refusal of a library with more stray WRPKRUs than there
 * are breakpoints). */
static SEALED union {
    struct {
        bool decided, on;
    } v;
    char pages[4096];
} mode;

bool hardened_mode(void)
{
    if (mode.v.decided)
        return mode.v.on;
    const char *h = getenv("PROTECT_HARDENED");
    return !h || strcmp(h, "0") != 0;
}

bool hardened_mode_decide(void)
{
    bool on = hardened_mode();
    sealed_open();
    mode.v.on = on;
    mode.v.decided = true;
    sealed_close();
    return on;
}

/* ---- what to watch ---- */

static void add_range(struct range *set, int *n, uintptr_t lo, uintptr_t hi, int owner)
{
    lo &= ~(PAGE - 1);
    hi = (hi + PAGE - 1) & ~(PAGE - 1);
    if (lo >= hi)
        return;
    for (int i = 0; i < *n; i++) /* merge with a neighbour of the same owner */
        if (set[i].owner == owner && lo <= set[i].hi && hi >= set[i].lo) {
            set[i].lo = lo < set[i].lo ? lo : set[i].lo;
            set[i].hi = hi > set[i].hi ? hi : set[i].hi;
            return;
        }
    if (*n < MAX_RANGES)
        set[(*n)++] = (struct range){lo, hi, owner};
}

struct image_query {
    uintptr_t base;
    int owner;
};

/* Every loadable segment of the object loaded at BASE. */
static int add_image(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct image_query *q = arg;
    if (info->dlpi_addr != q->base)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD)
            add_range(protected_mem, &n_protected, info->dlpi_addr + ph->p_vaddr,
                      info->dlpi_addr + ph->p_vaddr + ph->p_memsz, q->owner);
    }
    return 1;
}

static void collect_protected(void)
{
    n_protected = 0;
    Dl_info self;
    if (dladdr((void *)collect_protected, &self))
        dl_iterate_phdr(add_image, &(struct image_query){(uintptr_t)self.dli_fbase, -1});
    uintptr_t lo, hi;
    trusted_page_range(&lo, &hi);
    add_range(protected_mem, &n_protected, lo, hi, -1);
    protected_frames_region(&lo, &hi);
    if (lo)
        add_range(protected_mem, &n_protected, lo, hi, -1);
    for (int i = 0; i < 3; i++) {
        runtime_domain_region(i, &lo, &hi);
        add_range(protected_mem, &n_protected, lo, hi, -1);
    }
    for (int i = 0; i < protect_n_domains; i++) {
        struct domain *d = &protect_domains[i];
        if (d->key <= 0)
            continue;
        if (d->attached)
            dl_iterate_phdr(add_image, &(struct image_query){d->base, i});
        add_range(protected_mem, &n_protected, d->heap_lo, d->heap_hi, i);
        add_range(protected_mem, &n_protected, d->maps_lo, d->maps_hi, i);
        if (d->thread_tokens)
            add_range(protected_mem, &n_protected, (uintptr_t)d->thread_tokens,
                      (uintptr_t)d->thread_tokens + THREAD_TOKENS_BYTES, i);
        add_range(protected_mem, &n_protected, d->near_lo, d->near_lo + d->near_size, i);
        if (d->targets)
            add_range(protected_mem, &n_protected, (uintptr_t)d->targets,
                      (uintptr_t)d->targets + d->n_funcs * sizeof *d->targets, i);
        if (d->funcs)
            add_range(protected_mem, &n_protected, (uintptr_t)d->funcs,
                      (uintptr_t)d->funcs + d->n_funcs * sizeof *d->funcs, i);
        struct gate_regions g;
        gate_regions(i, &g);
        add_range(protected_mem, &n_protected, g.blocks_lo, g.blocks_lo + g.blocks_size, i);
        add_range(protected_mem, &n_protected, g.stacks_lo, g.stacks_lo + g.stacks_size, i);
        size_t cb_size;
        callbacks_region(i, &lo, &cb_size);
        add_range(protected_mem, &n_protected, lo, lo + cb_size, i);
    }
}

static int add_exec_mapping(const struct map_entry *m, void *arg)
{
    uintptr_t lo, hi;
    trusted_page_range(&lo, &hi);
    if (m->exec && !(m->start < hi && m->end > lo))
        add_range(code, &n_code, m->start, m->end, 0);
    return 0;
}

static bool overlaps(const struct range *set, int n, uintptr_t lo, uintptr_t hi, int *which)
{
    for (int i = 0; i < n; i++)
        if (lo < set[i].hi && hi > set[i].lo) {
            if (which)
                *which = i;
            return true;
        }
    return false;
}

const char *protected_owner(uintptr_t lo, uintptr_t hi)
{
    int i;
    if (!overlaps(protected_mem, n_protected, lo, hi, &i))
        return NULL;
    return protected_mem[i].owner < 0 ? "libprotect" : protect_domains[protected_mem[i].owner].name;
}

bool in_protected_memory(uintptr_t lo, uintptr_t hi)
{
    return protected_owner(lo, hi) != NULL;
}

bool watched_code(uintptr_t lo, uintptr_t hi)
{
    return overlaps(code, n_code, lo, hi, NULL);
}

/* ---- the scoped program ---- */

#define ARG(n) ((uint32_t)offsetof(struct seccomp_data, args) + 8u * (n))
#define TRAP(reason) (SECCOMP_RET_TRAP | (reason))

static void load_nr(struct bpf_program_buf *p)
{
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
}

/* "if nr == NR" around a section; returns the jump past it. */
static size_t section(struct bpf_program_buf *p, long nr)
{
    load_nr(p);
    bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, (uint32_t)nr);
    return bpf_jump_placeholder(p);
}

/* The end of section S whose tests fall through to trap the call for WHY
 * and jump one further to allow it. */
static void trap_else_allow(struct bpf_program_buf *p, size_t s, enum filter_reason why)
{
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, TRAP(why));
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    bpf_jump_to_here(p, s);
}

/* Loads [args[ADDR], + args[LEN]) (LEN < 0: one byte) and jumps to the
 * shared range test, whose jump is added to TO_RANGES. */
static void to_range_test(struct bpf_program_buf *p, int addr, int len, size_t *to_ranges, int *n_to)
{
    bpf_load64(p, ARG(addr), M_ADDR_LO, M_ADDR_HI);
    bpf_end_from_len(p, len < 0 ? 0 : ARG(len));
    to_ranges[(*n_to)++] = bpf_jump_placeholder(p);
}

/* Sends the call to the handler if the low word of args[ARG] has a bit of MASK. */
static void trap_if_flags(struct bpf_program_buf *p, int arg, uint32_t mask, enum filter_reason why)
{
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG(arg));
    bpf_emit(p, BPF_JMP | BPF_JSET | BPF_K, 0, 1, mask);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, TRAP(why));
}

static const long forbidden[] = {
    SYS_pkey_alloc, SYS_pkey_free, SYS_process_vm_readv, SYS_process_vm_writev, SYS_ptrace,
    SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register, SYS_userfaultfd,
    SYS_io_submit, /* its descriptors are in memory, where the filter cannot check them */
    SYS_remap_file_pages, SYS_process_madvise,
    SYS_perf_event_open, /* samples copy a thread's registers and stack, inside a library too */
    SYS_bpf,             /* tracing programs read user memory in the traced thread's context */
    /* a procfs mounted or bound elsewhere would hide /proc/<pid>/mem's name */
    SYS_mount, SYS_umount2, SYS_pivot_root, SYS_open_tree, SYS_move_mount, SYS_fsopen, SYS_fsconfig,
    SYS_fsmount, SYS_fspick, SYS_mount_setattr,
    /* the kernel itself */
    SYS_init_module, SYS_finit_module, SYS_kexec_load, SYS_kexec_file_load,
};

/* Calls that take a descriptor, by which arguments are descriptors: with
 * one in the libraries' range, they go to the handler (the library's own
 * are carried out, the application's refused).  openat-style directory
 * descriptors are left out: the open handler judges the file opened. */
static const long fd_arg0[] = {
    SYS_read, SYS_write, SYS_pread64, SYS_pwrite64, SYS_readv, SYS_writev, SYS_preadv, SYS_pwritev,
    SYS_preadv2, SYS_pwritev2, SYS_close, SYS_fstat, SYS_lseek, SYS_ioctl, SYS_fcntl, SYS_flock, SYS_fsync,
    SYS_fdatasync, SYS_ftruncate, SYS_fallocate, SYS_getdents64, SYS_fchmod, SYS_fchown, SYS_fstatfs,
    SYS_fgetxattr, SYS_fsetxattr, SYS_flistxattr, SYS_fremovexattr, SYS_readahead, SYS_sync_file_range,
    SYS_fadvise64, SYS_dup, SYS_vmsplice, SYS_fchdir, SYS_syncfs, SYS_execveat, SYS_name_to_handle_at,
    SYS_sendto, SYS_recvfrom, SYS_recvmsg, SYS_recvmmsg, SYS_connect, SYS_bind, SYS_listen, SYS_accept,
    SYS_accept4, SYS_shutdown, SYS_getsockopt, SYS_setsockopt, SYS_getsockname, SYS_getpeername,
    SYS_epoll_wait, SYS_epoll_pwait, SYS_epoll_ctl, SYS_inotify_rm_watch, SYS_timerfd_settime,
};
static const long fd_arg01[] = {SYS_dup2, SYS_dup3, SYS_sendfile, SYS_tee};
static const long fd_arg02[] = {SYS_splice, SYS_copy_file_range};
static const long fd_arg1[] = {SYS_pidfd_getfd};
static const struct fd_group {
    const long *nrs;
    size_t n;
    unsigned args; /* bit N: argument N is a descriptor */
} fd_groups[] = {
    {fd_arg0, sizeof fd_arg0 / sizeof *fd_arg0, 1u},
    {fd_arg01, sizeof fd_arg01 / sizeof *fd_arg01, 3u},
    {fd_arg02, sizeof fd_arg02 / sizeof *fd_arg02, 5u},
    {fd_arg1, sizeof fd_arg1 / sizeof *fd_arg1, 2u},
};
#define N_FD_GROUPS (sizeof fd_groups / sizeof *fd_groups)
#define MAX_FD_GROUP 64

/* Sends the call to the handler if the low word of args[ARG] is in [BASE, BASE+LIBRARY_FDS). */
static void trap_if_fd(struct bpf_program_buf *p, int arg, int base)
{
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG(arg));
    bpf_emit(p, BPF_JMP | BPF_JGE | BPF_K, 0, 2, (uint32_t)base);
    bpf_emit(p, BPF_JMP | BPF_JGT | BPF_K, 1, 0, (uint32_t)(base + LIBRARY_FDS - 1));
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, TRAP(FILTER_FD));
}

/* With the call's number in A: jumps to each group's check (filled in by
 * fd_group_checks). */
static void fd_dispatch(struct bpf_program_buf *p, size_t to_group[][MAX_FD_GROUP], size_t *to_close_range)
{
    for (size_t g = 0; g < N_FD_GROUPS; g++)
        for (size_t i = 0; i < fd_groups[g].n; i++) {
            bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, (uint32_t)fd_groups[g].nrs[i]);
            to_group[g][i] = bpf_jump_placeholder(p);
        }
    bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, SYS_close_range);
    *to_close_range = bpf_jump_placeholder(p);
}

static void fd_group_checks(struct bpf_program_buf *p, size_t to_group[][MAX_FD_GROUP], size_t to_close_range,
                            int base)
{
    for (size_t g = 0; g < N_FD_GROUPS; g++) {
        for (size_t i = 0; i < fd_groups[g].n; i++)
            bpf_jump_to_here(p, to_group[g][i]);
        for (int arg = 0; arg < 6; arg++)
            if (fd_groups[g].args & (1u << arg))
                trap_if_fd(p, arg, base);
        bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    }
    /* close_range(first, last): overlapping the range, the handler closes
     * the rest (a program closing everything before exec must still work). */
    bpf_jump_to_here(p, to_close_range);
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG(0));
    bpf_emit(p, BPF_JMP | BPF_JGT | BPF_K, 3, 0, (uint32_t)(base + LIBRARY_FDS - 1));
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG(1));
    bpf_emit(p, BPF_JMP | BPF_JGE | BPF_K, 0, 1, (uint32_t)base);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, TRAP(FILTER_FD));
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
}

static bool listed(long nr, const long *nrs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (nrs[i] == nr)
            return true;
    return false;
}

bool filter_sends(long nr, int reason, const long *a)
{
    int base = library_fd_base();
    switch (reason) {
    case FILTER_FORBIDDEN:
    case FILTER_PROTECTED:
    case FILTER_SIGRETURN:
        return true; /* refused, whatever the call */
    case FILTER_EXEC:
        return (nr == SYS_mmap || nr == SYS_mprotect || nr == SYS_pkey_mprotect) && (a[2] & PROT_EXEC);
    case FILTER_REMAP:
        return nr == SYS_mremap;
    case FILTER_OPEN:
        return nr == SYS_open || nr == SYS_openat || nr == SYS_openat2 || nr == SYS_creat ||
               nr == SYS_open_by_handle_at || nr == SYS_truncate || nr == SYS_memfd_create;
    case FILTER_SENDMSG:
        return nr == SYS_sendmsg || nr == SYS_sendmmsg;
    case FILTER_THREAD:
        return nr == SYS_clone && (a[0] & (CLONE_VM | CLONE_VFORK)) == CLONE_VM;
    case FILTER_SIGNAL:
        return (nr == SYS_rt_sigaction && a[1]) || (nr == SYS_sigaltstack && a[0]) ||
               (nr == SYS_rt_sigprocmask && a[1] && (uint32_t)a[0] != SIG_UNBLOCK);
    case FILTER_FD:
        if (nr == SYS_close_range)
            return a[0] <= base + LIBRARY_FDS - 1 && a[1] >= base;
        if (nr == SYS_mmap)
            return in_library_fds(a[4], base);
        for (size_t g = 0; g < N_FD_GROUPS; g++)
            if (listed(nr, fd_groups[g].nrs, fd_groups[g].n))
                for (int arg = 0; arg < 6; arg++)
                    if ((fd_groups[g].args & (1u << arg)) && in_library_fds((int)a[arg], base))
                        return true;
        return false;
    default:
        return false;
    }
}

/* The reason the scoped filter traps call NR with arguments A for, when
 * the application makes it; 0 if it lets the call through.  (The program
 * emit_rules emits, in C: what the trusted page's calls without the
 * runtime's cookie are held to.) */
int app_trap_reason(long nr, const long *a)
{
    if (listed(nr, forbidden, sizeof forbidden / sizeof *forbidden) ||
        (nr == SYS_personality && (uint32_t)a[0] != 0xffffffffu) ||
        (nr == SYS_arch_prctl && (uint32_t)a[0] >= 0x2001 && (uint32_t)a[0] <= 0x2003) ||
        (nr == SYS_prctl && (uint32_t)a[0] == PR_SET_MM))
        return FILTER_FORBIDDEN;
    if (nr == SYS_rt_sigreturn)
        return FILTER_SIGRETURN;
    static const int reasons[] = {FILTER_REMAP, FILTER_OPEN, FILTER_SENDMSG, FILTER_FD,
                                  FILTER_SIGNAL, FILTER_THREAD, FILTER_EXEC};
    for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++)
        if ((reasons[i] != FILTER_SENDMSG && reasons[i] != FILTER_FD) || library_fd_base())
            if (filter_sends(nr, reasons[i], a))
                return reasons[i];
    if (nr == SYS_mprotect || nr == SYS_pkey_mprotect || nr == SYS_munmap || nr == SYS_madvise ||
        (nr == SYS_mmap && (a[3] & MAP_FIXED)))
        return in_protected_memory((uintptr_t)a[0], (uintptr_t)a[0] + ((uintptr_t)a[1] ? (uintptr_t)a[1] : 1))
                   ? FILTER_PROTECTED
                   : 0;
    if (nr == SYS_shmdt)
        return in_protected_memory((uintptr_t)a[0], (uintptr_t)a[0] + 1) ? FILTER_PROTECTED : 0;
    if (nr == SYS_shmat && (a[2] & (SHM_EXEC | SHM_REMAP)))
        return FILTER_FORBIDDEN;
    return 0;
}

static void emit_rules(struct bpf_program_buf *p);

/* The program for calls made from SCOPE (code ranges), checking memory
 * calls against every protected range. */
static void build_scoped(struct bpf_program_buf *p, const struct range *scope, int n_scope)
{
    p->n = 0;
    p->overflow = false;
    /* Other architectures: libseccomp's filter kills them. */
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
    bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_X86_64);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    /* Only calls made from the scope. */
    bpf_load_ip(p);
    size_t to_rules[MAX_RANGES];
    for (int i = 0; i < n_scope; i++)
        to_rules[i] = bpf_goto_if_in(p, M_IP_LO, M_IP_HI, scope[i].lo, scope[i].hi);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    for (int i = 0; i < n_scope; i++)
        bpf_jump_to_here(p, to_rules[i]);
    emit_rules(p);
}

/* The rules themselves: every call's verdict, from its number and
 * arguments (app_trap_reason says the same in C). */
static void emit_rules(struct bpf_program_buf *p)
{
    load_nr(p);
    for (size_t i = 0; i < sizeof forbidden / sizeof *forbidden; i++) {
        bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, (uint32_t)forbidden[i]);
        bpf_emit(p, BPF_RET | BPF_K, 0, 0, TRAP(FILTER_FORBIDDEN));
    }
    static const long to_handler[][2] = {
        {SYS_mremap, FILTER_REMAP}, {SYS_open, FILTER_OPEN}, {SYS_openat, FILTER_OPEN},
        {SYS_openat2, FILTER_OPEN}, {SYS_creat, FILTER_OPEN}, {SYS_open_by_handle_at, FILTER_OPEN},
        {SYS_truncate, FILTER_OPEN}, {SYS_memfd_create, FILTER_OPEN}, {SYS_rt_sigreturn, FILTER_SIGRETURN},
    };
    for (size_t i = 0; i < sizeof to_handler / sizeof *to_handler; i++) {
        bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, (uint32_t)to_handler[i][0]);
        bpf_emit(p, BPF_RET | BPF_K, 0, 0, TRAP(to_handler[i][1]));
    }
    int fd_base = library_fd_base();
    size_t to_group[N_FD_GROUPS][MAX_FD_GROUP], to_close_range = 0;
    if (fd_base) {
        static const long sends[] = {SYS_sendmsg, SYS_sendmmsg};
        for (size_t i = 0; i < 2; i++) {
            bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, (uint32_t)sends[i]);
            bpf_emit(p, BPF_RET | BPF_K, 0, 0, TRAP(FILTER_SENDMSG));
        }
        fd_dispatch(p, to_group, &to_close_range);
    }
    size_t s, to_ranges[8];
    int n_to = 0;
    /* personality: only the query */
    s = section(p, SYS_personality);
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG(0));
    bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0xffffffffu);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, TRAP(FILTER_FORBIDDEN));
    bpf_jump_to_here(p, s);
    /* arch_prctl(ARCH_MAP_VDSO_*): a vDSO mapped anew, where the scope does
     * not reach, is a `syscall` instruction the filter would let through. */
    s = section(p, SYS_arch_prctl);
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG(0));
    bpf_emit(p, BPF_JMP | BPF_JGE | BPF_K, 0, 2, 0x2001); /* ARCH_MAP_VDSO_X32 */
    bpf_emit(p, BPF_JMP | BPF_JGT | BPF_K, 1, 0, 0x2003); /* ARCH_MAP_VDSO_64 */
    trap_else_allow(p, s, FILTER_FORBIDDEN);
    /* prctl(PR_SET_MM): moves where /proc/<pid>/cmdline and environ are read
     * from, which the kernel reads past PKU. */
    s = section(p, SYS_prctl);
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG(0));
    bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, PR_SET_MM);
    trap_else_allow(p, s, FILTER_FORBIDDEN);
    /* A handler's action or an alternate stack set: libprotect's handler
     * makes every handler run on an alternate stack of its own (a frame is
     * written where the stack pointer points otherwise, and since Linux
     * 6.12 with every key open).  A mask set or added to: SIGSYS taken out
     * (glibc blocks every signal in posix_spawn's child, whose rt_sigaction
     * calls this filter then sends to a handler).  Queries (a null
     * pointer) and unblocking pass. */
    static const long signal_calls[][2] = {{SYS_rt_sigaction, 1}, {SYS_sigaltstack, 0}, {SYS_rt_sigprocmask, 1}};
    for (size_t i = 0; i < 3; i++) {
        s = section(p, signal_calls[i][0]);
        if (signal_calls[i][0] == SYS_rt_sigprocmask) {
            bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG(0));
            bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, SIG_UNBLOCK);
            bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
        }
        uint32_t arg = ARG(signal_calls[i][1]);
        bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, arg);
        bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0);
        bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, arg + 4);
        bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0);
        trap_else_allow(p, s, FILTER_SIGNAL);
    }
    /* A thread's clone: its child starts with an alternate stack
     * (thread_start.h).  clone3 keeps its arguments in memory, where the
     * filter cannot see CLONE_VM: ENOSYS, and glibc falls back to clone. */
    s = section(p, SYS_clone);
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG(0));
    bpf_emit(p, BPF_JMP | BPF_JSET | BPF_K, 0, 2, CLONE_VM);
    bpf_emit(p, BPF_JMP | BPF_JSET | BPF_K, 1, 0, CLONE_VFORK);
    trap_else_allow(p, s, FILTER_THREAD);
    s = section(p, SYS_clone3);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS);
    bpf_jump_to_here(p, s);
    /* New executable memory goes to the handler (which checks the range too). */
    static const long prot_calls[] = {SYS_mprotect, SYS_pkey_mprotect};
    for (size_t i = 0; i < 2; i++) {
        s = section(p, prot_calls[i]);
        trap_if_flags(p, 2, PROT_EXEC, FILTER_EXEC);
        to_range_test(p, 0, 1, to_ranges, &n_to);
        bpf_jump_to_here(p, s);
    }
    static const long range_calls[] = {SYS_munmap, SYS_madvise};
    for (size_t i = 0; i < 2; i++) {
        s = section(p, range_calls[i]);
        to_range_test(p, 0, 1, to_ranges, &n_to);
        bpf_jump_to_here(p, s);
    }
    s = section(p, SYS_mmap);
    if (fd_base)
        trap_if_fd(p, 4, fd_base);
    trap_if_flags(p, 2, PROT_EXEC, FILTER_EXEC);
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG(3));
    bpf_emit(p, BPF_JMP | BPF_JSET | BPF_K, 1, 0, MAP_FIXED);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    to_range_test(p, 0, 1, to_ranges, &n_to);
    bpf_jump_to_here(p, s);
    s = section(p, SYS_shmat);
    trap_if_flags(p, 2, SHM_EXEC | SHM_REMAP, FILTER_FORBIDDEN);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    bpf_jump_to_here(p, s);
    s = section(p, SYS_shmdt);
    to_range_test(p, 0, -1, to_ranges, &n_to);
    bpf_jump_to_here(p, s);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    /* The shared test: [M_ADDR, M_END) against every protected range. */
    for (int i = 0; i < n_to; i++)
        bpf_jump_to_here(p, to_ranges[i]);
    for (int i = 0; i < n_protected; i++)
        bpf_ret_if_overlap(p, protected_mem[i].lo, protected_mem[i].hi, TRAP(FILTER_PROTECTED));
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    if (fd_base)
        fd_group_checks(p, to_group, to_close_range, fd_base);
}

static int load_program(const struct bpf_program_buf *p)
{
    if (p->overflow) {
        errno = E2BIG;
        return -1;
    }
    struct sock_fprog prog = {.len = (unsigned short)p->n, .filter = (struct sock_filter *)p->insn};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
        return 0;
    /* Without CAP_SYS_ADMIN the kernel wants no_new_privs first. */
    if (errno != EACCES || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static int install_libseccomp_filter(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return -1;
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    rc |= seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    static const int reach_other[] = {SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev)};
    for (size_t i = 0; i < sizeof reach_other / sizeof *reach_other; i++)
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), reach_other[i], 0);
    if (rc == 0 && seccomp_load(ctx) != 0) {
        rc = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || seccomp_load(ctx) != 0;
    }
    seccomp_release(ctx);
    return rc ? -1 : 0;
}

/* The trusted page's own program.  With protected signal frames, an
 * rt_sigreturn from its restorer carries the cookie only libprotect's way
 * back (which opens the runtime key through its checked WRPKRU) can read,
 * in rdi: a jump to the restorer with a frame of the application's making
 * fails.  With the runtime domain, a call carries the runtime's cookie
 * (which the page's cookie entry reads from memory of the runtime key),
 * where trusted_cookie_slot puts it, and goes through; a memory call
 * without it kills; rt_sigprocmask and clone pass without it (libprotect
 * makes them with the application's rights, and they give no more than
 * the application's own); any other call without it is judged as the
 * application's (the same rules: an open of /proc/self/mem made there is
 * the application's open).  (By where the call is made: a program this one
 * execs keeps the filter, and makes its calls elsewhere.)  The program,
 * cookies included, is wiped once the kernel has its copy. */
static void require_word(struct bpf_program_buf *p, uint32_t offset, uint32_t want)
{
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offset);
    bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, want);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
}

/* Call NR is allowed only with WORDS[0..N) at OFFSETS[0..N), else it kills;
 * other calls go on to what follows. */
static void call_requires(struct bpf_program_buf *p, long nr, const uint32_t *offsets, const uint32_t *words, int n)
{
    load_nr(p);
    bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, (uint32_t)nr);
    size_t other = bpf_jump_placeholder(p);
    for (int i = 0; i < n; i++)
        require_word(p, offsets[i], words[i]);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    bpf_jump_to_here(p, other);
}

/* Call NR (every call if NR < 0) with WORD at OFFSET goes through. */
static void allow_with_word(struct bpf_program_buf *p, long nr, uint32_t offset, uint32_t word)
{
    if (nr >= 0) {
        load_nr(p);
        bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 3, (uint32_t)nr);
    }
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offset);
    bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, word);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
}

/* Call NR ends with VERDICT; other calls go on. */
static void call_ends(struct bpf_program_buf *p, long nr, uint32_t verdict)
{
    load_nr(p);
    bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, (uint32_t)nr);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, verdict);
}

static int install_cookie_filter(void)
{
    static const long memory_calls[] = {SYS_mprotect, SYS_pkey_mprotect, SYS_munmap, SYS_madvise, SYS_mremap,
                                        SYS_pkey_alloc, SYS_pkey_free, SYS_shmat, SYS_shmdt, SYS_remap_file_pages,
                                        SYS_process_madvise};
    static const long without_cookie[] = {SYS_rt_sigprocmask, SYS_clone};
    uint64_t frames = protected_frames_cookie(), memory = runtime_cookie_for_filter();
    if (!protected_frames_on() && !runtime_domain_on())
        return 0;
    if ((protected_frames_on() && !frames) || (runtime_domain_on() && !memory)) {
        errno = EINVAL;
        return -1;
    }
    struct bpf_program_buf *p = malloc(sizeof *p);
    if (!p)
        return -1;
    p->n = 0;
    p->overflow = false;
    uintptr_t t_lo, t_hi;
    trusted_page_range(&t_lo, &t_hi);
    bpf_load_ip(p);
    size_t in_page = bpf_goto_if_in(p, M_IP_LO, M_IP_HI, t_lo, t_hi);
    bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    bpf_jump_to_here(p, in_page);
    if (frames)
        call_requires(p, SYS_rt_sigreturn, (const uint32_t[]){ARG(0), ARG(0) + 4},
                      (const uint32_t[]){(uint32_t)frames, (uint32_t)(frames >> 32)}, 2);
    else
        call_ends(p, SYS_rt_sigreturn, SECCOMP_RET_ALLOW); /* the restorer, before Linux 6.12 */
    if (memory) {
        call_requires(p, SYS_mmap, (const uint32_t[]){ARG(4) + 4}, (const uint32_t[]){(uint32_t)memory}, 1);
        size_t n_first;
        const long *first = trusted_first_arg_calls(&n_first);
        for (size_t i = 0; i < n_first; i++)
            allow_with_word(p, first[i], ARG(0) + 4, (uint32_t)memory);
        /* (allow_with_word's test in two halves: the low one, then the high) */
        bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG(5));
        bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 3, (uint32_t)memory);
        allow_with_word(p, -1, ARG(5) + 4, (uint32_t)(memory >> 32));
        for (size_t i = 0; i < sizeof memory_calls / sizeof *memory_calls; i++)
            call_ends(p, memory_calls[i], SECCOMP_RET_KILL_PROCESS);
        for (size_t i = 0; i < sizeof without_cookie / sizeof *without_cookie; i++)
            call_ends(p, without_cookie[i], SECCOMP_RET_ALLOW);
        emit_rules(p);
    } else {
        bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    }
    explicit_bzero(&frames, sizeof frames);
    explicit_bzero(&memory, sizeof memory);
    int rc = p->overflow ? (errno = E2BIG, -1) : load_program(p);
    explicit_bzero(p, sizeof *p);
    free(p);
    return rc;
}

/* RT_START_DONE: the page's program, once: from then on libprotect's
 * memory calls carry the cookie (blocked signals keep it out of frames the
 * application could read). */
static uintptr_t finish_start_service(int slot, void *io)
{
    (void)io;
    if (slot != RT_SLOT || trusted_cookie_required())
        return (uintptr_t)-1;
    trusted_page_require_cookie(!protected_frames_on()); /* (a cookie before the program is harmless) */
    return (uintptr_t)(install_cookie_filter() != 0 ? -1 : 0);
}

/* A filter for calls from SCOPE; RECOLLECT first learns the protected
 * memory anew (not from the SIGSYS handler: dl_iterate_phdr takes the
 * loader's lock, and the code added there changes nothing protected). */
static int install_scoped(const struct range *scope, int n_scope, bool recollect)
{
    if (recollect)
        collect_protected();
    build_scoped(&program, scope, n_scope);
    return load_program(&program);
}

void syscall_filter_install(void)
{
    if (installed || !hardened_mode())
        return;
    pthread_mutex_lock(&filter_lock);
    library_fds_reserve();
    close_early_proc_mem();
    view_writable(true);
    n_code = 0;
    if (proc_maps_each(add_exec_mapping, NULL) != 0 || install_libseccomp_filter() != 0 ||
        install_scoped(code, n_code, true) != 0)
        protect_refuse("hardened mode: cannot install the system-call filter (%s)", strerror(errno));
    installed = true;
    protect_info("system-call filter installed: %d code ranges watched, %d protected ranges, %zu instructions",
                 n_code, n_protected, program.n);
    view_writable(false);
    /* Last, the page's own program, from the runtime domain (which can
     * read the cookie its own calls need from then on). */
    gate_table_set_rt_service(RT_START_DONE, finish_start_service);
    if ((runtime_domain_on() ? (long)runtime_service(RT_START_DONE, &(union service_io){0})
                             : (long)finish_start_service(RT_SLOT, NULL)) != 0)
        protect_refuse("hardened mode: cannot install the system-call filter (%s)", strerror(errno));
    pthread_mutex_unlock(&filter_lock);
}

void syscall_filter_refresh(void)
{
    if (!installed)
        return;
    pthread_mutex_lock(&filter_lock);
    view_writable(true);
    if (install_scoped(code, n_code, true) != 0)
        protect_fatal("hardened mode: cannot extend the system-call filter (%s)", strerror(errno));
    view_writable(false);
    pthread_mutex_unlock(&filter_lock);
}

/* Only the new code is in the new filter's scope: the older filters
 * already hold the older code to the same rules.  The scope is widened to
 * the 2 MiB around the new code, so that the executable mappings that
 * follow nearby (the kernel places them side by side) need no filter of
 * their own; memory that is not executable issues no system calls, and
 * anything made executable later passes through the SIGSYS handler. */
#define SCOPE_GRAIN (2ul << 20)

static bool inside_code(uintptr_t lo, uintptr_t hi)
{
    for (int i = 0; i < n_code; i++)
        if (lo >= code[i].lo && hi <= code[i].hi)
            return true;
    return false;
}

int syscall_filter_add_code(uintptr_t lo, uintptr_t hi)
{
    if (!installed)
        return 0;
    pthread_mutex_lock(&filter_lock);
    view_writable(true);
    int rc = 0;
    if (!inside_code(lo, hi)) {
        /* The window, less the trusted page (whose calls must stay out of scope). */
        struct range w[2] = {{lo & ~(SCOPE_GRAIN - 1), (hi + SCOPE_GRAIN - 1) & ~(SCOPE_GRAIN - 1), 0}};
        int n_w = 1;
        uintptr_t t_lo, t_hi;
        trusted_page_range(&t_lo, &t_hi);
        if (t_lo < w[0].hi && t_hi > w[0].lo) {
            w[1] = (struct range){t_hi, w[0].hi, 0};
            w[0].hi = t_lo;
            n_w = 2;
        }
        rc = n_code + n_w <= MAX_RANGES ? install_scoped(w, n_w, false) : -1;
        for (int i = 0; rc == 0 && i < n_w; i++)
            code[n_code++] = w[i];
    }
    view_writable(false);
    pthread_mutex_unlock(&filter_lock);
    return rc;
}
