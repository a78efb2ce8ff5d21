/* Hardened mode, first part: WRPKRU outside libprotect's gates. */
#define _GNU_SOURCE
#include "wrpkru_guard.h"

#include "domains.h"
#include "gate_table.h"
#include "insn_scan.h"
#include "lib_analysis.h"
#include "log.h"
#include "patcher.h"
#include "pkru_sync.h"
#include "pku.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define MAX_GUARDED 64
#define MAX_OBJECTS 256

static uintptr_t guarded[MAX_GUARDED];
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

static bool at_instruction_start(const struct lib_analysis *a, uint64_t vaddr)
{
    const struct elf_export *e = elf_image_symbol_for(&a->img, vaddr);
    if (!e || !e->size || vaddr >= e->addr + e->size)
        return false;
    size_t len = e->size;
    const uint8_t *code = elf_image_code_at(&a->img, e->addr, &len);
    /* Decode the function from its start: is VADDR one of its instruction
     * boundaries?  (Relocating one instruction in place gives its length.) */
    for (uint64_t at = e->addr; code && at < e->addr + len;) {
        if (at == vaddr)
            return true;
        size_t step = 1;
        struct reloc_output out;
        char why[64];
        if (x86_relocate(code + (at - e->addr), len - (at - e->addr), at, 1, at, &out, why, sizeof why) == 0)
            step = out.copied;
        at += step;
    }
    return false;
}

static void guard(uintptr_t at)
{
    int n = atomic_load(&n_guarded);
    if (n == MAX_GUARDED)
        return;
    uintptr_t page = at & ~4095ul;
    if (mprotect((void *)page, 8192, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        return;
    guarded[n] = at;
    atomic_store(&n_guarded, n + 1);
    *(volatile uint8_t *)at = 0xcc;
    mprotect((void *)page, 8192, PROT_READ | PROT_EXEC);
    sync_cores();
}

static int scan_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    const char *path = info->dlpi_name;
    Dl_info self;
    if (!path || !*path || seen(path))
        return 0;
    if (dladdr((void *)wrpkru_guard_scan, &self) && self.dli_fbase == (void *)info->dlpi_addr)
        return 0; /* libprotect's own gates */
    struct lib_analysis a = {0};
    char err[128];
    if (elf_image_open(path, &a.img, err, sizeof err) != 0)
        return 0;
    int guarded_here = 0, left = 0;
    for (size_t s = 0; s < a.img.n_segments; s++) {
        const struct elf_segment *seg = &a.img.segments[s];
        if (!seg->exec)
            continue;
        for (size_t off = 0; off + 3 <= seg->filesz; off++) {
            const uint8_t *b = a.img.file + seg->offset + off;
            if (b[0] != 0x0f || b[1] != 0x01 || b[2] != 0xef)
                continue;
            uint64_t vaddr = seg->vaddr + off;
            if (at_instruction_start(&a, vaddr)) {
                guard(info->dlpi_addr + vaddr);
                guarded_here++;
            } else {
                left++;
            }
        }
    }
    if (guarded_here || left)
        protect_info("%s: %d WRPKRU guarded, %d inside other instructions left unguarded", path, guarded_here,
                     left);
    elf_image_close(&a.img);
    return 0;
}

void wrpkru_guard_scan(void)
{
    pthread_mutex_lock(&guard_lock);
    dl_iterate_phdr(scan_object, NULL);
    pthread_mutex_unlock(&guard_lock);
}

bool wrpkru_guard_trap(ucontext_t *uc)
{
    greg_t *g = uc->uc_mcontext.gregs;
    uintptr_t at = (uintptr_t)g[REG_RIP] - 1;
    int n = atomic_load(&n_guarded);
    bool found = false;
    for (int i = 0; i < n && !found; i++)
        found = guarded[i] == at;
    if (!found)
        return false;
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
    g[REG_RIP] = (greg_t)at; /* the int3 again, with the default action: the process stops */
    return false;
}
