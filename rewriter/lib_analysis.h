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
    struct patch_plan plan;
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
};

/* Returns 0, or -1 with one line (without the path) in ERR. */
int lib_analyze(const char *path, struct lib_analysis *a, char *err, size_t errlen);
void lib_analysis_free(struct lib_analysis *a);

#endif
