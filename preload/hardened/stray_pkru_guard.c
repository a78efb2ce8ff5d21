/* Hardened mode: instructions outside libprotect's gates that can change
 * PKRU, in the code loaded at start (code mapped later is checked by the
 * system-call filter's handler, which refuses any).  A WRPKRU at an
 * instruction start gets an int3 whose handler performs the write only if
 * it leaves every protected library's key as the application has it; an
 * XRSTOR at an instruction start gets an int3 that stops the
 * process (the loader's lazy binding is their only stock user, and hardened
 * mode binds now); bytes inside other instructions (or outside any known
 * function) cannot take an int3 without breaking the instruction around
 * them: up to three get a hardware execute breakpoint instead (x86 has four
 * debug registers; the signal deferral keeps one), inherited by every
 * thread created afterwards; beyond that, hardened mode refuses to run. */
#define _GNU_SOURCE
#include "hardened/stray_pkru_guard.h"
#include "hardened/library_fds.h"

#include "gates/domains.h"
#include "gates/gate_table.h"
#include "insn_scan.h"
#include "lib_analysis.h"
#include "log.h"
#include "gates/patcher.h"
#include "base/pkru_sync.h"
#include "base/pku.h"
#include "hardened/syscall_filter.h"
#include "base/trusted_syscall.h"

#include <dirent.h>
#include <dlfcn.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define X86_EFLAGS_RF (1u << 16)
#ifndef TRAP_PERF
#define TRAP_PERF 6
#endif

#define MAX_GUARDED 64
#define MAX_WATCHED 3
#define MAX_OBJECTS 256

static uintptr_t guarded[MAX_GUARDED];
static enum danger_kind guarded_kind[MAX_GUARDED];
static uintptr_t watched[MAX_WATCHED];
static enum danger_kind watched_kind[MAX_WATCHED];
static _Atomic int n_watched;
static _Atomic int n_guarded;
static ino_t seen_ino[MAX_OBJECTS];
static int n_seen;
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;

static bool seen(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return true;
    for (int i = 0; i < n_seen; i++)
        if (seen_ino[i] == st.st_ino)
            return true;
    if (n_seen < MAX_OBJECTS)
        seen_ino[n_seen++] = st.st_ino;
    return false;
}

/* The function holding VADDR: a sized symbol, else the unwind tables. */
static bool function_of(const struct lib_analysis *a, uint64_t vaddr, uint64_t *start, uint64_t *end)
{
    const struct elf_export *e = elf_image_symbol_for(&a->img, vaddr);
    if (e && e->size && vaddr >= e->addr && vaddr < e->addr + e->size) {
        *start = e->addr;
        *end = e->addr + e->size;
        return true;
    }
    return elf_image_function_range(&a->img, vaddr, start, end) == 0 && vaddr >= *start && vaddr < *end;
}

static bool is_prefix(uint8_t b)
{
    return (b >= 0x40 && b <= 0x4f) || b == 0x66 || b == 0x67 || b == 0xf2 || b == 0xf3 || b == 0x26 ||
           b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65;
}

/* Whether the 0F opcode byte at VADDR begins an instruction, or follows
 * only prefixes of one (xrstor64 is 48 0f ae /5: the int3 then goes on the
 * 0F byte, which also catches a jump that skips the prefix). */
static bool at_instruction_start(const struct lib_analysis *a, uint64_t vaddr)
{
    uint64_t start, end;
    if (!function_of(a, vaddr, &start, &end))
        return false;
    size_t len = end - start;
    const uint8_t *code = elf_image_code_at(&a->img, start, &len);
    /* Decode the function from its start: is VADDR one of its instruction
     * boundaries?  (Relocating one instruction in place gives its length.) */
    for (uint64_t at = start; code && at < start + len && at <= vaddr;) {
        bool only_prefixes = true;
        for (uint64_t p = at; p < vaddr && only_prefixes; p++)
            only_prefixes = is_prefix(code[p - start]);
        if (only_prefixes && vaddr - at <= 4)
            return true;
        size_t step = 1;
        struct reloc_output out;
        char why[64];
        if (x86_relocate(code + (at - start), len - (at - start), at, 1, at, &out, why, sizeof why) == 0)
            step = out.copied;
        at += step;
    }
    return false;
}

static bool guard(uintptr_t at, enum danger_kind kind)
{
    int n = atomic_load(&n_guarded);
    if (n == MAX_GUARDED)
        return false;
    uintptr_t page = at & ~4095ul;
    if (trusted_mprotect((void *)page, 8192, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        return false;
    guarded[n] = at;
    guarded_kind[n] = kind;
    atomic_store(&n_guarded, n + 1);
    *(volatile uint8_t *)at = 0xcc;
    trusted_mprotect((void *)page, 8192, PROT_READ | PROT_EXEC);
    sync_cores();
    return true;
}

/* Only threads created after the breakpoint inherit it: with others
 * already running, a watch would leave them unguarded. */
static bool single_threaded(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n == 1;
}

static bool watch(uintptr_t at, enum danger_kind kind)
{
    int n = atomic_load(&n_watched);
    if (n == MAX_WATCHED || !single_threaded())
        return false;
    struct perf_event_attr a = {
        .type = PERF_TYPE_BREAKPOINT, .size = sizeof a, .bp_type = HW_BREAKPOINT_X, .bp_addr = at,
        .bp_len = sizeof(long), .sample_period = 1, .sigtrap = 1, .remove_on_exec = 1, .inherit = 1,
        .exclude_kernel = 1, .exclude_hv = 1,
    };
    long fd = trusted_syscall(SYS_perf_event_open, (long)&a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC, 0);
    if (fd < 0)
        return false;
    /* Among the libraries' descriptors: the application must not disable
     * or close the breakpoint (the filter refuses it any call on them). */
    library_fds_reserve();
    library_fd_adopt(fd);
    watched[n] = at;
    watched_kind[n] = kind;
    atomic_store(&n_watched, n + 1);
    return true;
}

struct object_scan {
    struct lib_analysis a;
    const char *path;
    uintptr_t bias;
    uint64_t seg_vaddr;
    int guarded, left;
    uint64_t first_left;
    enum danger_kind first_left_kind;
};

static void on_danger(const struct danger_hit *hit, void *arg)
{
    struct object_scan *o = arg;
    uint64_t vaddr = o->seg_vaddr + hit->offset;
    if (at_instruction_start(&o->a, vaddr) ? guard(o->bias + vaddr, hit->kind) : watch(o->bias + vaddr, hit->kind)) {
        o->guarded++;
        return;
    }
    if (!o->left++) {
        o->first_left = vaddr;
        o->first_left_kind = hit->kind;
    }
}

static int scan_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    bool *first = arg;
    const char *path = info->dlpi_name;
    if (*first && (!path || !*path))
        path = "/proc/self/exe"; /* the program itself */
    *first = false;
    Dl_info self;
    if (!path || !*path || seen(path))
        return 0;
    if (dladdr((void *)stray_pkru_guard_scan, &self) && self.dli_fbase == (void *)info->dlpi_addr)
        return 0; /* libprotect's own gates */
    struct object_scan o = {.path = path, .bias = info->dlpi_addr};
    char err[128];
    if (elf_image_open(path, &o.a.img, err, sizeof err) != 0)
        return 0;
    for (size_t s = 0; s < o.a.img.n_segments; s++) {
        const struct elf_segment *seg = &o.a.img.segments[s];
        if (!seg->exec)
            continue;
        o.seg_vaddr = seg->vaddr;
        insn_scan(o.a.img.file + seg->offset, seg->filesz, on_danger, &o);
    }
    elf_image_close(&o.a.img);
    if (o.guarded || o.left)
        protect_info("%s: %d WRPKRU/XRSTOR guarded, %d left unguarded", path, o.guarded, o.left);
    if (o.left && hardened_mode())
        protect_refuse("%s+%#lx: %s bytes inside another instruction or outside any known function, "
                       "beyond the %d hardware breakpoints (%d unguarded in all): hardened mode cannot "
                       "neutralise them (--no-hardened runs anyway)", path, (unsigned long)o.first_left,
                       danger_kind_name(o.first_left_kind), MAX_WATCHED, o.left);
    return 0;
}

void stray_pkru_guard_scan(void)
{
    pthread_mutex_lock(&guard_lock);
    bool first = true;
    dl_iterate_phdr(scan_object, &first);
    pthread_mutex_unlock(&guard_lock);
}

/* The trapped instruction at AT: a WRPKRU is carried out (in the frame)
 * if it leaves every protected library's key as the application has it. */
static bool decide(ucontext_t *uc, uintptr_t at, enum danger_kind kind)
{
    greg_t *g = uc->uc_mcontext.gregs;
    /* Refused: it runs again under the default action, and the process
     * stops.  (After a hardware breakpoint the kernel sets the resume
     * flag, which would let it run once unwatched: cleared.) */
    g[REG_RIP] = (greg_t)at;
    g[REG_EFL] &= ~(greg_t)X86_EFLAGS_RF;
    if (kind != DANGER_WRPKRU) {
        protect_log("blocked an %s at %#lx: it can load PKRU from memory", danger_kind_name(kind), (unsigned long)at);
        return false;
    }
    uint32_t value = (uint32_t)g[REG_RAX], mask = 0;
    for (int i = 0; i < protect_n_domains; i++)
        if (protect_domains[i].key > 0)
            mask |= pku_key_mask(protect_domains[i].key);
    if ((g[REG_RCX] & 0xffffffff) == 0 && (g[REG_RDX] & 0xffffffff) == 0 &&
        (value & mask) == (app_rights() & mask)) {
        *frame_pkru_slot(uc) = value;
        g[REG_RIP] = (greg_t)(at + 3);
        return true;
    }
    protect_log("blocked a WRPKRU that would change a protected library's key (PKRU %#x)", value);
    return false;
}

bool stray_pkru_guard_trap(const siginfo_t *si, ucontext_t *uc)
{
    uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (si->si_code == TRAP_PERF) { /* a watch: the thread stands at the bytes */
        int n = atomic_load(&n_watched);
        for (int i = 0; i < n; i++)
            if (watched[i] == ip)
                return decide(uc, ip, watched_kind[i]);
        return false;
    }
    int n = atomic_load(&n_guarded);
    for (int i = 0; i < n; i++)
        if (guarded[i] == ip - 1)
            return decide(uc, ip - 1, guarded_kind[i]);
    return false;
}
