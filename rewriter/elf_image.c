/* ELF reading with libelf: exports with versions, load segments, TLS,
 * constructors and imports that matter to protection. */
#include "elf_image.h"

#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Imports that tell us the library manages memory, signals, threads or
 * code itself: each needs runtime handling by the shim. */
static const char *const interesting_imports[] = {
    "mmap", "mmap64", "mremap", "munmap", "mprotect", "sigaction", "signal",
    "sigaltstack", "pthread_create", "fork", "clone", "dlopen", "dlmopen",
    "pkey_alloc", "pkey_free", "pkey_mprotect", "pkey_set", "pkey_get",
};

static bool is_interesting_import(const char *name)
{
    for (size_t i = 0; i < sizeof interesting_imports / sizeof *interesting_imports; i++)
        if (strcmp(name, interesting_imports[i]) == 0)
            return true;
    return false;
}

static int export_order(const void *a, const void *b)
{
    const struct elf_export *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Maps a version index (from .gnu.version) to its name via .gnu.version_d. */
static char *version_name(Elf *elf, Elf_Scn *verdef_scn, size_t verdef_strtab, unsigned index)
{
    if (!verdef_scn)
        return NULL;
    Elf_Data *data = elf_getdata(verdef_scn, NULL);
    if (!data)
        return NULL;
    size_t off = 0;
    for (;;) {
        GElf_Verdef def;
        if (!gelf_getverdef(data, off, &def))
            return NULL;
        if (def.vd_ndx == index) {
            GElf_Verdaux aux;
            if (!gelf_getverdaux(data, off + def.vd_aux, &aux))
                return NULL;
            const char *s = elf_strptr(elf, verdef_strtab, aux.vda_name);
            return s ? strdup(s) : NULL;
        }
        if (def.vd_next == 0)
            return NULL;
        off += def.vd_next;
    }
}

static int fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

/* Byte-level checks, before libelf sees the file (it rejects short files
 * without saying why). */
static int check_ident(const struct elf_image *img, char *err, size_t errlen)
{
    if (img->file_size < 4 || memcmp(img->file, ELFMAG, SELFMAG) != 0)
        return fail(err, errlen, "not an ELF file");
    if (img->file_size < EI_NIDENT)
        return fail(err, errlen, "truncated ELF file (no complete header)");
    if (img->file[EI_CLASS] == ELFCLASS32)
        return fail(err, errlen, "32-bit ELF file; only x86-64 is supported");
    if (img->file[EI_CLASS] != ELFCLASS64)
        return fail(err, errlen, "ELF file of unknown class");
    if (img->file_size < sizeof(Elf64_Ehdr))
        return fail(err, errlen, "truncated ELF file (no complete header)");
    return 0;
}

static int check_header(const struct elf_image *img, Elf *elf, char *err, size_t errlen)
{
    GElf_Ehdr eh;
    if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
        return fail(err, errlen, "not an ELF file");
    if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
        return fail(err, errlen, "big-endian ELF file; only x86-64 is supported");
    if (eh.e_machine != EM_X86_64) {
        snprintf(err, errlen, "not an x86-64 ELF file (e_machine %u)", eh.e_machine);
        return -1;
    }
    if (eh.e_type != ET_DYN)
        return fail(err, errlen, "not a shared object (ELF type is not ET_DYN)");
    if (eh.e_phoff + (uint64_t)eh.e_phnum * eh.e_phentsize > img->file_size ||
        eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize > img->file_size)
        return fail(err, errlen, "truncated ELF file (headers point past its end)");
    return 0;
}

static int read_segments(struct elf_image *img, Elf *elf, char *err, size_t errlen)
{
    size_t phnum;
    if (elf_getphdrnum(elf, &phnum) != 0)
        return fail(err, errlen, "truncated ELF file (bad program headers)");
    img->segments = calloc(phnum ? phnum : 1, sizeof *img->segments);
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph))
            return fail(err, errlen, "truncated ELF file (bad program header)");
        if (ph.p_type == PT_TLS) {
            img->has_tls = true;
            img->tls_memsz = ph.p_memsz;
        }
        if (ph.p_type != PT_LOAD)
            continue;
        if (ph.p_offset + ph.p_filesz > img->file_size)
            return fail(err, errlen, "truncated ELF file (a load segment ends past the file)");
        img->segments[img->n_segments++] = (struct elf_segment){
            .vaddr = ph.p_vaddr, .memsz = ph.p_memsz, .offset = ph.p_offset,
            .filesz = ph.p_filesz, .read = ph.p_flags & PF_R,
            .write = ph.p_flags & PF_W, .exec = ph.p_flags & PF_X,
        };
    }
    return 0;
}

static void read_dynamic(struct elf_image *img, Elf *elf, Elf_Scn *scn, GElf_Shdr *sh)
{
    Elf_Data *data = elf_getdata(scn, NULL);
    if (!data || sh->sh_entsize == 0)
        return;
    for (size_t i = 0; i < sh->sh_size / sh->sh_entsize; i++) {
        GElf_Dyn dyn;
        if (!gelf_getdyn(data, (int)i, &dyn))
            break;
        switch (dyn.d_tag) {
        case DT_SONAME: {
            const char *s = elf_strptr(elf, sh->sh_link, dyn.d_un.d_val);
            if (s && !img->soname)
                img->soname = strdup(s);
            break;
        }
        case DT_INIT: img->has_dt_init = true; break;
        case DT_FINI: img->has_dt_fini = true; break;
        case DT_INIT_ARRAYSZ: img->n_init_array = dyn.d_un.d_val / 8; break;
        case DT_FINI_ARRAYSZ: img->n_fini_array = dyn.d_un.d_val / 8; break;
        case DT_BIND_NOW: img->bind_now = true; break;
        case DT_FLAGS: if (dyn.d_un.d_val & DF_BIND_NOW) img->bind_now = true; break;
        case DT_FLAGS_1: if (dyn.d_un.d_val & DF_1_NOW) img->bind_now = true; break;
        default: break;
        }
    }
}

static int read_dynsym(struct elf_image *img, Elf *elf, Elf_Scn *dynsym, Elf_Scn *versym,
                       Elf_Scn *verdef, size_t verdef_strtab, char *err, size_t errlen)
{
    GElf_Shdr sh;
    Elf_Data *data;
    if (!gelf_getshdr(dynsym, &sh) || !(data = elf_getdata(dynsym, NULL)) || sh.sh_entsize == 0)
        return fail(err, errlen, "unreadable .dynsym section");
    Elf_Data *vdata = versym ? elf_getdata(versym, NULL) : NULL;
    size_t n = sh.sh_size / sh.sh_entsize;
    img->exports = calloc(n ? n : 1, sizeof *img->exports);
    img->imports = calloc(n ? n : 1, sizeof *img->imports);
    for (size_t i = 1; i < n; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(data, (int)i, &sym))
            return fail(err, errlen, "truncated ELF file (bad .dynsym entry)");
        const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
        if (!name || !*name)
            continue;
        int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);
        if (sym.st_shndx == SHN_UNDEF) {
            if (is_interesting_import(name))
                img->imports[img->n_imports++] = strdup(name);
            continue;
        }
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || (bind != STB_GLOBAL && bind != STB_WEAK))
            continue;
        if (GELF_ST_VISIBILITY(sym.st_other) == STV_HIDDEN ||
            GELF_ST_VISIBILITY(sym.st_other) == STV_INTERNAL)
            continue;
        struct elf_export *e = &img->exports[img->n_exports++];
        e->name = strdup(name);
        e->addr = sym.st_value;
        e->size = sym.st_size;
        e->weak = bind == STB_WEAK;
        e->ifunc = type == STT_GNU_IFUNC;
        GElf_Versym vs;
        if (vdata && gelf_getversym(vdata, (int)i, &vs)) {
            e->default_version = !(vs & 0x8000);
            if ((vs & 0x7fff) >= 2)
                e->version = version_name(elf, verdef, verdef_strtab, vs & 0x7fff);
        }
    }
    qsort(img->exports, img->n_exports, sizeof *img->exports, export_order);
    return 0;
}

static int read_sections(struct elf_image *img, Elf *elf, char *err, size_t errlen)
{
    size_t shstrndx;
    if (elf_getshdrstrndx(elf, &shstrndx) != 0)
        return fail(err, errlen, "truncated ELF file (no section name table)");
    Elf_Scn *scn = NULL, *dynsym = NULL, *versym = NULL, *verdef = NULL;
    size_t verdef_strtab = 0;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            return fail(err, errlen, "truncated ELF file (bad section header)");
        if (sh.sh_type != SHT_NOBITS && sh.sh_offset + sh.sh_size > img->file_size)
            return fail(err, errlen, "truncated ELF file (a section ends past the file)");
        switch (sh.sh_type) {
        case SHT_DYNSYM: dynsym = scn; break;
        case SHT_GNU_versym: versym = scn; break;
        case SHT_GNU_verdef: verdef = scn; verdef_strtab = sh.sh_link; break;
        case SHT_DYNAMIC: read_dynamic(img, elf, scn, &sh); break;
        default: break;
        }
    }
    if (!dynsym)
        return fail(err, errlen, "no dynamic symbol table (.dynsym)");
    return read_dynsym(img, elf, dynsym, versym, verdef, verdef_strtab, err, errlen);
}

int elf_image_open(const char *path, struct elf_image *img, char *err, size_t errlen)
{
    memset(img, 0, sizeof *img);
    img->fd = -1;
    img->path = strdup(path);
    img->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (img->fd < 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(img->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file");
        return -1;
    }
    img->file_size = (size_t)st.st_size;
    if (img->file_size == 0)
        return fail(err, errlen, "not an ELF file (empty)");
    void *map = mmap(NULL, img->file_size, PROT_READ, MAP_PRIVATE, img->fd, 0);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "cannot map: %s", strerror(errno));
        return -1;
    }
    img->file = map;
    if (check_ident(img, err, errlen) != 0)
        return -1;
    elf_version(EV_CURRENT);
    /* elf_memory keeps libelf on our mapping instead of reading a second copy. */
    Elf *elf = elf_memory((char *)img->file, img->file_size);
    img->elf = elf;
    if (!elf)
        return fail(err, errlen, "not an ELF file");
    if (check_header(img, elf, err, errlen) != 0 || read_segments(img, elf, err, errlen) != 0 ||
        read_sections(img, elf, err, errlen) != 0)
        return -1;
    img->cfi = dwarf_getcfi_elf(elf); /* NULL when the object has no unwind tables */
    return 0;
}

void elf_image_close(struct elf_image *img)
{
    for (size_t i = 0; i < img->n_exports; i++) {
        free(img->exports[i].name);
        free(img->exports[i].version);
    }
    for (size_t i = 0; i < img->n_imports; i++)
        free(img->imports[i]);
    free(img->exports);
    free(img->imports);
    free(img->segments);
    free(img->soname);
    if (img->cfi)
        dwarf_cfi_end(img->cfi);
    if (img->elf)
        elf_end(img->elf);
    if (img->file)
        munmap((void *)img->file, img->file_size);
    if (img->fd >= 0)
        close(img->fd);
    free(img->path);
    memset(img, 0, sizeof *img);
    img->fd = -1;
}

const uint8_t *elf_image_code_at(const struct elf_image *img, uint64_t vaddr, size_t *len)
{
    for (size_t i = 0; i < img->n_segments; i++) {
        const struct elf_segment *s = &img->segments[i];
        if (!s->exec || vaddr < s->vaddr || vaddr >= s->vaddr + s->filesz)
            continue;
        uint64_t avail = s->vaddr + s->filesz - vaddr;
        if (*len > avail)
            *len = avail;
        return img->file + s->offset + (vaddr - s->vaddr);
    }
    return NULL;
}

size_t elf_image_first_export_from(const struct elf_image *img, uint64_t vaddr)
{
    size_t lo = 0, hi = img->n_exports;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (img->exports[mid].addr < vaddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct elf_export *elf_image_symbol_for(const struct elf_image *img, uint64_t vaddr)
{
    /* Exports are sorted by address: the last one at or below vaddr wins,
     * preferring one whose size covers vaddr. */
    const struct elf_export *best = NULL;
    for (size_t i = elf_image_first_export_from(img, vaddr + 1); i-- > 0;) {
        const struct elf_export *e = &img->exports[i];
        if (vaddr < e->addr + e->size)
            return e;
        if (!best)
            best = e;
        if (e->addr != best->addr)
            break;
    }
    return best;
}

int elf_image_function_range(const struct elf_image *img, uint64_t vaddr,
                             uint64_t *start, uint64_t *end)
{
    Dwarf_CFI *cfi = img->cfi;
    if (!cfi)
        return -1;
    Dwarf_Frame *frame = NULL;
    int rc = -1;
    if (dwarf_cfi_addrframe(cfi, vaddr, &frame) == 0) {
        Dwarf_Addr s, e;
        bool signalp;
        if (dwarf_frame_info(frame, &s, &e, &signalp) >= 0) {
            *start = s;
            *end = e;
            rc = 0;
        }
        free(frame);
    }
    return rc;
}
