/* Library analysis: ELF facts + IFUNC resolution + one gate plan per
 * distinct entry address + the dangerous-instruction scan. */
#include "lib_analysis.h"

#include "ifunc_resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct keyed { uint64_t addr; size_t index; };

static int keyed_order(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Size of the code at ADDR when it is not the export's own: an export that
 * starts there says it, else the unwind tables do (0 = unknown). */
static uint64_t size_at(const struct elf_image *img, uint64_t addr)
{
    const struct elf_export *e = elf_image_symbol_for(img, addr);
    if (e && e->addr == addr && !e->ifunc && e->size)
        return e->size;
    return 0;
}

static void plan_groups(struct lib_analysis *a, const uint64_t *resolved,
                        const struct analysis_options *opt)
{
    const struct elf_image *img = &a->img;
    struct keyed *k = calloc(img->n_exports + 1, sizeof *k);
    for (size_t i = 0; i < img->n_exports; i++)
        k[i] = (struct keyed){img->exports[i].ifunc ? resolved[i] : img->exports[i].addr, i};
    qsort(k, img->n_exports, sizeof *k, keyed_order);
    a->groups = calloc(img->n_exports + 1, sizeof *a->groups);
    uint64_t tramp = opt->trampoline_base ? opt->trampoline_base
                                          : patch_plan_default_trampoline(img) + opt->load_bias;
    const uint64_t first_tramp = tramp;
    for (size_t i = 0; i < img->n_exports;) {
        size_t j = i;
        while (j < img->n_exports && k[j].addr == k[i].addr)
            j++;
        struct export_group *g = &a->groups[a->n_groups++];
        g->members = calloc(j - i, sizeof *g->members);
        for (size_t m = i; m < j; m++) {
            g->members[g->n_members++] = k[m].index;
            g->ifunc |= img->exports[k[m].index].ifunc;
        }
        g->addr = k[i].addr;
        if (g->ifunc && g->addr == 0) {
            snprintf(g->plan.reason, sizeof g->plan.reason, "IFUNC target unknown (%s)",
                     a->ifunc_error[0] ? a->ifunc_error : "resolver gave no address");
            g->plan.kind = PATCH_NONE;
        } else {
            const struct elf_export *first = &img->exports[g->members[0]];
            uint64_t size = g->ifunc ? size_at(img, g->addr) : first->size;
            patch_plan_make(img, g->addr, size, opt->load_bias, tramp, &g->plan);
            if (g->ifunc && g->plan.kind == PATCH_NONE && !elf_image_code_at(img, g->addr, &(size_t){1}))
                snprintf(g->plan.reason, sizeof g->plan.reason,
                         "IFUNC resolves to code outside this library (the vDSO?)");
        }
        size_t *count = g->plan.kind == PATCH_JMP ? &a->n_jmp : g->plan.kind == PATCH_TRAP ? &a->n_trap : &a->n_none;
        *count += g->n_members;
        tramp += (g->plan.reloc.len + 15) & ~(size_t)15;
        i = j;
    }
    a->trampoline_bytes = tramp - first_tramp;
    free(k);
}

static void record_danger(const struct danger_hit *hit, void *arg)
{
    struct lib_analysis *a = arg;
    a->dangers = realloc(a->dangers, (a->n_dangers + 1) * sizeof *a->dangers);
    a->dangers[a->n_dangers++] = (struct danger_site){.kind = hit->kind, .vaddr = hit->offset};
}

static void scan_dangers(struct lib_analysis *a)
{
    for (size_t s = 0; s < a->img.n_segments; s++) {
        const struct elf_segment *seg = &a->img.segments[s];
        if (!seg->exec)
            continue;
        size_t first = a->n_dangers;
        insn_scan(a->img.file + seg->offset, seg->filesz, record_danger, a);
        for (size_t i = first; i < a->n_dangers; i++) {
            a->dangers[i].vaddr += seg->vaddr;
            a->dangers[i].symbol = elf_image_symbol_for(&a->img, a->dangers[i].vaddr);
        }
    }
}

static int resolve_in_child(const struct elf_image *img, uint64_t *resolved, void *ctx, char *err,
                            size_t errlen)
{
    return ifunc_resolve(img, resolved, err, errlen);
}

int lib_analyze(const char *path, const struct analysis_options *options, struct lib_analysis *a,
                char *err, size_t errlen)
{
    static const struct analysis_options link_time = {0};
    const struct analysis_options *opt = options ? options : &link_time;
    memset(a, 0, sizeof *a);
    if (elf_image_open(path, &a->img, err, errlen) != 0)
        return -1;
    uint64_t *resolved = calloc(a->img.n_exports + 1, sizeof *resolved);
    int (*resolve)(const struct elf_image *, uint64_t *, void *, char *, size_t) =
        opt->resolve_ifuncs ? opt->resolve_ifuncs : resolve_in_child;
    if (resolve(&a->img, resolved, opt->ctx, a->ifunc_error, sizeof a->ifunc_error) != 0)
        memset(resolved, 0, (a->img.n_exports + 1) * sizeof *resolved);
    plan_groups(a, resolved, opt);
    free(resolved);
    scan_dangers(a);
    return 0;
}

void lib_analysis_free(struct lib_analysis *a)
{
    for (size_t i = 0; i < a->n_groups; i++)
        free(a->groups[i].members);
    free(a->groups);
    free(a->dangers);
    elf_image_close(&a->img);
    memset(a, 0, sizeof *a);
}
