/* Changing the library's memory through the kernel instead of the CPU:
 * mem_calls pkey_mprotect|mprotect-data|mprotect-text|madvise|munmap|
 *           mmap-fixed|mremap-move|mremap-alias|map-files-alias|pkey_alloc|realloc|
 *           uffd-device|vdso-remap|vdso-move|
 *           munmap-mapped[-raw]|mmap-fixed-mapped[-raw]|madvise-mapped-raw|mremap-mapped-raw
 * (-mapped: the memory the library mmapped after start, through libc or,
 * -raw, the bare system call)
 * (uffd-device and vdso-*: steps towards the library's memory that must
 * fail themselves: a userfaultfd without the refused call, and a vDSO
 * mapped anew or moved where the filter's scope does not reach: its
 * `syscall` would pass) */
#define _GNU_SOURCE
#include "attack.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *page_of(const void *p)
{
    return (void *)((uintptr_t)p & ~4095ul);
}

static void refused(int rc, const char *call)
{
    if (rc != 0)
        blocked_errno("%s", call);
}

int main(int argc, char **argv)
{
    vault_open();
    const char *how = argc > 1 ? argv[1] : "";
    struct vault_cell *data = vault_address(VAULT_DATA), *heap = vault_address(VAULT_HEAP);
    void *page = page_of(data);
    if (strcmp(how, "uffd-device") == 0) {
        int fd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
        refused(fd < 0 ? -1 : 0, "open /dev/userfaultfd");
        printf("NOT BLOCKED: /dev/userfaultfd opened\n");
        return 0;
    }
    if (strcmp(how, "vdso-remap") == 0) {
        void *spot = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        refused((int)syscall(SYS_arch_prctl, 0x2003 /* ARCH_MAP_VDSO_64 */, (unsigned long)spot + 65536) < 0 ? -1 : 0,
                "arch_prctl(ARCH_MAP_VDSO_64)");
        printf("NOT BLOCKED: the vDSO was mapped anew\n");
        return 0;
    }
    if (strcmp(how, "vdso-move") == 0) {
        FILE *maps = fopen("/proc/self/maps", "r");
        char line[256];
        unsigned long lo = 0, hi = 0;
        while (maps && fgets(line, sizeof line, maps))
            if (strstr(line, "[vdso]"))
                sscanf(line, "%lx-%lx", &lo, &hi);
        if (!lo)
            blocked("no vDSO to move");
        char *spot = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        void *to = mremap((void *)lo, hi - lo, hi - lo, MREMAP_MAYMOVE | MREMAP_FIXED, spot + 65536);
        refused(to == MAP_FAILED ? -1 : 0, "mremap of the vDSO");
        printf("NOT BLOCKED: the vDSO was moved\n");
        return 0;
    }
    if (strcmp(how, "pkey_mprotect") == 0) {
        /* Back to key 0: the application's own key. */
        refused((int)syscall(SYS_pkey_mprotect, page, 4096, PROT_READ | PROT_WRITE, 0), "pkey_mprotect");
        read_secret_at(VAULT_DATA, data->secret);
    }
    if (strcmp(how, "realloc") == 0) {
        /* realloc of the library's block from the application: a copy into application memory. */
        struct vault_cell *copy = realloc(heap, sizeof *heap);
        refused(copy ? 0 : -1, "realloc");
        read_secret_at(VAULT_HEAP, copy->secret);
    }
    if (strcmp(how, "pkey_alloc") == 0) {
        refused(syscall(SYS_pkey_alloc, 0, 0) < 0 ? -1 : 0, "pkey_alloc");
        breached("allocated a protection key of its own (the gates' rights check depends on owning them all)");
    }
    if (strcmp(how, "mprotect-data") == 0) {
        refused(mprotect(page, 4096, PROT_READ), "mprotect");
        breached("changed the protection of the library's data");
    }
    if (strcmp(how, "mprotect-text") == 0) {
        /* Make the library's code writable, then replace vault_matches by "return 1". */
        uint8_t *code = (uint8_t *)dlsym(RTLD_DEFAULT, "vault_counter");
        refused(mprotect(page_of(code), 8192, PROT_READ | PROT_WRITE | PROT_EXEC), "mprotect RWX");
        breached("made the library's code writable");
    }
    if (strcmp(how, "madvise") == 0) {
        /* MADV_DONTNEED: the pages come back as zeros (or the file's data). */
        vault_bump();
        refused(madvise(page_of(heap), 4096, MADV_DONTNEED), "madvise");
        if (vault_counter(VAULT_HEAP) != 2)
            breached("reset the library's heap");
        blocked("the heap survived");
    }
    if (strcmp(how, "munmap") == 0) {
        refused(munmap(page, 4096), "munmap");
        void *p = mmap(page, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (p == MAP_FAILED)
            blocked("mmap in its place failed");
        write_counter_at(VAULT_DATA, &data->counter);
    }
    if (strcmp(how, "mmap-fixed") == 0) {
        void *p = mmap(page_of(heap), 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        refused(p == MAP_FAILED ? -1 : 0, "mmap MAP_FIXED");
        write_counter_at(VAULT_HEAP, &heap->counter);
    }
    if (strcmp(how, "mremap-move") == 0) {
        /* The page moved out of the library, to where the application expects it. */
        void *p = mremap(page, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)0x500000000000);
        refused(p == MAP_FAILED ? -1 : 0, "mremap");
        read_secret_at(VAULT_DATA, ((struct vault_cell *)((char *)p + ((uintptr_t)data & 4095)))->secret);
    }
    if (strcmp(how, "mremap-alias") == 0) {
        /* old_size 0: a second view of the same pages (shared memory). */
        void *p = mremap(page, 0, 4096, MREMAP_MAYMOVE);
        refused(p == MAP_FAILED ? -1 : 0, "mremap");
        read_secret_at(VAULT_DATA, ((struct vault_cell *)((char *)p + ((uintptr_t)data & 4095)))->secret);
    }
    if (strcmp(how, "map-files-alias") == 0) {
        /* The file behind the library's data, mapped again through /proc/self/map_files. */
        FILE *maps = fopen("/proc/self/maps", "r");
        char line[512], path[128];
        unsigned long lo = 0, hi = 0, off = 0;
        while (maps && fgets(line, sizeof line, maps))
            if (sscanf(line, "%lx-%lx %*s %lx", &lo, &hi, &off) == 3 && lo <= (uintptr_t)page && (uintptr_t)page < hi)
                break;
        snprintf(path, sizeof path, "/proc/self/map_files/%lx-%lx", lo, hi);
        int fd = open(path, O_RDONLY);
        refused(fd < 0 ? -1 : 0, "open map_files");
        uint8_t *view = mmap(NULL, hi - lo, PROT_READ, MAP_SHARED, fd, 0);
        refused(view == MAP_FAILED ? -1 : 0, "mmap of map_files");
        read_secret_at(VAULT_DATA, view + ((uintptr_t)data->secret - lo));
    }
    struct vault_cell *mapped = vault_address(VAULT_MMAP);
    void *mpage = page_of(mapped);
    bool raw = strstr(how, "-raw") != NULL;
    if (strncmp(how, "munmap-mapped", 13) == 0) {
        /* The library's own mapping swapped for the application's page. */
        refused(raw ? (int)syscall(SYS_munmap, mpage, 4096) : munmap(mpage, 4096), "munmap");
        void *p = mmap(mpage, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (p == MAP_FAILED)
            blocked("mmap in its place failed");
        write_counter_at(VAULT_MMAP, &mapped->counter);
    }
    if (strncmp(how, "mmap-fixed-mapped", 17) == 0) {
        long p = raw ? syscall(SYS_mmap, mpage, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
                     : (long)mmap(mpage, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        refused(p == -1 ? -1 : 0, "mmap MAP_FIXED");
        write_counter_at(VAULT_MMAP, &mapped->counter);
    }
    if (strcmp(how, "madvise-mapped-raw") == 0) {
        vault_bump();
        refused((int)syscall(SYS_madvise, mpage, 4096, MADV_DONTNEED), "madvise");
        if (vault_counter(VAULT_MMAP) != 2)
            breached("reset the library's mapping");
        blocked("the mapping survived");
    }
    if (strcmp(how, "mremap-mapped-raw") == 0) {
        long p = syscall(SYS_mremap, mpage, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, 0x500000000000ul);
        refused(p == -1 ? -1 : 0, "mremap");
        read_secret_at(VAULT_MMAP, ((struct vault_cell *)((char *)p + ((uintptr_t)mapped & 4095)))->secret);
    }
    fprintf(stderr, "unknown attack '%s'\n", how);
    return 2;
}
