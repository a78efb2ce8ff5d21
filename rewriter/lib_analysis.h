/* Everything --check and the runtime need to know about one library: its
 * exports grouped by the code they run, a gate plan per group, and the
 * instructions that could change PKRU behind a gate's back. */
#ifndef LIBPROTECT_LIB_ANALYSIS_H
#define LIBPROTECT_LIB_ANALYSIS_H

#include "elf_image.h"
#include "insn_scan.h"
#include "patch_plan.h"

/* Exports that run the same code (aliases, versions, IFUNCs resolving to
 * one implementation) share one plan: the code is patched once. */
struct export_group {
    size_t *members; /* indices into img.exports */
    size_t n_members;
    uint64_t addr;   /* the code that runs (the IFUNC's resolved target) */
    bool ifunc;
    struct patch_plan plan;   /* addresses are live when planned with a load bias */
};

struct danger_site {
    enum danger_kind kind;
    uint64_t vaddr;
    const struct elf_export *symbol; /* containing (or nearest preceding) export, or NULL */
};

struct lib_analysis {
    struct elf_image img;
    struct export_group *groups;
    size_t n_groups;
    size_t n_jmp, n_trap, n_none; /* counted per export */
    struct danger_site *dangers;
    size_t n_dangers;
    char ifunc_error[160];        /* why IFUNCs were not resolved, or "" */
    uint64_t trampoline_bytes;    /* relocated originals, packed 16-byte aligned */
};

/* How to plan: --check plans at link-time addresses and resolves IFUNCs in a
 * child process; the runtime plans at the addresses the library is loaded
 * at, with the trampolines where it really put them, and asks its own
 * dynamic loader. */
struct analysis_options {
    uint64_t load_bias;       /* added to link-time addresses */
    /* Where the relocated originals go, packed; 0: just past the image (what
     * --check assumes).  The runtime gives an address near the library with
     * room for RELOC_MAX_CODE per export, then keeps trampoline_bytes. */
    uint64_t trampoline_base;
    /* Fills RESOLVED[i] with the link-time address an IFUNC export resolves
     * to (0: unknown).  NULL: ifunc_resolve() in a child process. */
    int (*resolve_ifuncs)(const struct elf_image *img, uint64_t *resolved, void *ctx, char *err,
                          size_t errlen);
    void *ctx;
};

/* Returns 0, or -1 with one line (without the path) in ERR.  OPTIONS may be
 * NULL (link-time addresses, as --check reports them). */
int lib_analyze(const char *path, const struct analysis_options *options, struct lib_analysis *a,
                char *err, size_t errlen);
void lib_analysis_free(struct lib_analysis *a);

#endif
