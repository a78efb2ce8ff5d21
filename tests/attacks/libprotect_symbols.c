#define _GNU_SOURCE
#include "libprotect_symbols.h"

#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct found {
    const char *path;
    uintptr_t base;
    void *tls; /* the calling thread's block of libprotect's thread-locals */
};

static int find_libprotect(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct found *f = arg;
    if (!strstr(info->dlpi_name, "libprotect.so"))
        return 0;
    f->path = info->dlpi_name;
    f->base = info->dlpi_addr;
    f->tls = info->dlpi_tls_data;
    return 1;
}

static uintptr_t symbol_value(const char *path, const char *name)
{
    elf_version(EV_CURRENT);
    int fd = open(path, O_RDONLY);
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    uintptr_t value = 0;
    for (Elf_Scn *s = NULL; e && !value && (s = elf_nextscn(e, s));) {
        GElf_Shdr sh;
        gelf_getshdr(s, &sh);
        if (sh.sh_type != SHT_SYMTAB)
            continue;
        Elf_Data *d = elf_getdata(s, NULL);
        for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
            GElf_Sym sym;
            gelf_getsym(d, (int)i, &sym);
            if (strcmp(elf_strptr(e, sh.sh_link, sym.st_name), name) == 0)
                value = sym.st_value;
        }
    }
    elf_end(e);
    close(fd);
    return value;
}

void *libprotect_symbol(const char *name)
{
    struct found f = {0};
    dl_iterate_phdr(find_libprotect, &f);
    uintptr_t at = f.path ? symbol_value(f.path, name) : 0;
    return at ? (void *)(f.base + at) : NULL;
}

void *libprotect_thread_local(const char *name)
{
    struct found f = {0};
    dl_iterate_phdr(find_libprotect, &f);
    uintptr_t at = f.path && f.tls ? symbol_value(f.path, name) : 0;
    return at ? (uint8_t *)f.tls + at : NULL;
}

int libprotect_mappings(struct mapping *out, int max)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;
    unsigned long last_hi = 0;
    while (maps && n < max && fgets(line, sizeof line, maps)) {
        struct mapping m;
        char path[256] = "";
        if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %255s", &m.lo, &m.hi, m.perms, path) < 3)
            continue;
        /* Its own, and the anonymous rest of its .bss right after them. */
        if (strstr(path, "libprotect.so") || (!path[0] && last_hi && m.lo == last_hi))
            out[n++] = m;
        last_hi = strstr(path, "libprotect.so") ? m.hi : 0;
    }
    if (maps)
        fclose(maps);
    return n;
}

unsigned long libprotect_trusted_page(void)
{
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
    } k = {0};
    syscall(SYS_rt_sigaction, SIGSEGV, NULL, &k, 8);
    return (unsigned long)k.restorer & ~4095ul;
}
