/* Read-only view of an x86-64 shared object on disk: exports, segments and
 * the facts about it that matter to protection.  Built on libelf. */
#ifndef LIBPROTECT_ELF_IMAGE_H
#define LIBPROTECT_ELF_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_export {
    char *name;
    char *version;      /* NULL when the symbol carries no version */
    bool default_version; /* name@@VER (true) or name@VER (false) */
    bool weak;
    bool ifunc;         /* STT_GNU_IFUNC: addr is the resolver */
    uint64_t addr;      /* link-time virtual address */
    uint64_t size;      /* st_size; 0 when the object did not say */
};

struct elf_segment {
    uint64_t vaddr, memsz, offset, filesz;
    bool read, write, exec;
};

struct elf_image {
    char *path;
    int fd;
    const uint8_t *file; /* the whole file, mapped read-only */
    size_t file_size;
    void *elf;          /* Elf * (kept opaque so users need not include libelf) */
    void *cfi;          /* Dwarf_CFI * from .eh_frame, or NULL */

    char *soname;
    struct elf_export *exports; /* sorted by address, then name */
    size_t n_exports;
    struct elf_segment *segments; /* PT_LOAD only */
    size_t n_segments;

    bool has_tls;
    uint64_t tls_memsz;
    size_t n_init_array, n_fini_array;
    bool has_dt_init, has_dt_fini;
    bool bind_now;
    char **imports; /* undefined dynamic symbols of interest to protection */
    size_t n_imports;
};

/* Opens PATH.  On failure returns -1 and writes one line (without the file
 * name) to ERR: "not an ELF file", "truncated ELF file", "32-bit ELF",
 * "not x86-64 (machine N)", ... */
int elf_image_open(const char *path, struct elf_image *img, char *err, size_t errlen);
void elf_image_close(struct elf_image *img);

/* File bytes backing [vaddr, vaddr+*len) in an executable segment.  *len is
 * clamped to what the segment holds; NULL when vaddr is not executable. */
const uint8_t *elf_image_code_at(const struct elf_image *img, uint64_t vaddr, size_t *len);

/* Index of the first export at or above VADDR (n_exports if none). */
size_t elf_image_first_export_from(const struct elf_image *img, uint64_t vaddr);

/* The export whose [addr, addr+size) contains VADDR, or else the closest one
 * starting below it within the same executable segment; NULL if none. */
const struct elf_export *elf_image_symbol_for(const struct elf_image *img, uint64_t vaddr);

/* Range of the function containing VADDR according to the unwind tables
 * (.eh_frame), for code that has no sized symbol.  0 on success. */
int elf_image_function_range(const struct elf_image *img, uint64_t vaddr,
                             uint64_t *start, uint64_t *end);

#endif
