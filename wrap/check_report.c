/* Text and JSON reports for protect-wrap --check. */
#include "check_report.h"

#include "json_out.h"
#include "lib_analysis.h"

#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double percent(size_t part, size_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 100.0;
}

static void print_export_name(FILE *out, const struct elf_export *e)
{
    fprintf(out, "%s", e->name);
    if (e->version)
        fprintf(out, "%s%s", e->default_version ? "@@" : "@", e->version);
}

static void print_location(FILE *out, const struct danger_site *d)
{
    fprintf(out, "%#llx", (unsigned long long)d->vaddr);
    if (d->symbol) {
        bool inside = d->vaddr < d->symbol->addr + d->symbol->size;
        fprintf(out, " (%s%s+%#llx)", inside ? "" : "after ", d->symbol->name,
                (unsigned long long)(d->vaddr - d->symbol->addr));
    }
}

static void text_groups(const struct lib_analysis *a, enum patch_kind kind, const char *title)
{
    bool any = false;
    for (size_t g = 0; g < a->n_groups; g++) {
        const struct export_group *grp = &a->groups[g];
        if (grp->plan.kind != kind)
            continue;
        if (!any)
            printf("  %s:\n", title);
        any = true;
        printf("    ");
        for (size_t m = 0; m < grp->n_members; m++) {
            if (m)
                printf(", ");
            print_export_name(stdout, &a->img.exports[grp->members[m]]);
        }
        printf(": %s\n", grp->plan.reason);
    }
}

static void text_report(const struct lib_analysis *a)
{
    const struct elf_image *img = &a->img;
    size_t n = img->n_exports, gateable = a->n_jmp + a->n_trap;
    printf("%s\n", img->path);
    if (img->soname)
        printf("  soname: %s\n", img->soname);
    printf("  exports: %zu functions at %zu addresses\n", n, a->n_groups);
    printf("  gateable: %zu of %zu (%.1f%%): %zu by jmp, %zu by int3 trap (slower)\n", gateable, n,
           percent(gateable, n), a->n_jmp, a->n_trap);
    if (a->ifunc_error[0])
        printf("  ifunc: %s\n", a->ifunc_error);
    text_groups(a, PATCH_NONE, "not gateable");
    text_groups(a, PATCH_TRAP, "int3 trap instead of jmp");
    for (int kind = DANGER_WRPKRU; kind <= DANGER_XRSTOR; kind++) {
        size_t count = 0;
        for (size_t i = 0; i < a->n_dangers; i++)
            count += a->dangers[i].kind == (enum danger_kind)kind;
        printf("  %s: %zu\n", danger_kind_name(kind), count);
        for (size_t i = 0; i < a->n_dangers; i++)
            if (a->dangers[i].kind == (enum danger_kind)kind) {
                printf("    at ");
                print_location(stdout, &a->dangers[i]);
                printf("\n");
            }
    }
    if (img->has_tls)
        printf("  tls: %llu bytes (thread-local data stays in the thread's static TLS block, "
               "outside the library's key)\n", (unsigned long long)img->tls_memsz);
    if (img->has_dt_init || img->n_init_array)
        printf("  constructors: %zu%s (they run before the shim can attach to a linked library)\n",
               img->n_init_array, img->has_dt_init ? " + DT_INIT" : "");
    if (img->n_imports) {
        printf("  imports that need runtime handling:");
        for (size_t i = 0; i < img->n_imports; i++)
            printf(" %s", img->imports[i]);
        printf("\n");
    }
    printf("  bind now: %s\n", img->bind_now ? "yes" : "no");
}

static void json_groups(const struct lib_analysis *a, enum patch_kind kind)
{
    bool first = true;
    for (size_t g = 0; g < a->n_groups; g++) {
        const struct export_group *grp = &a->groups[g];
        if (grp->plan.kind != kind)
            continue;
        for (size_t m = 0; m < grp->n_members; m++) {
            const struct elf_export *e = &a->img.exports[grp->members[m]];
            printf("%s{\"name\":", first ? "" : ",");
            json_string(stdout, e->name);
            printf(",\"version\":");
            if (e->version)
                json_string(stdout, e->version);
            else
                printf("null");
            printf(",\"address\":%llu,\"reason\":", (unsigned long long)grp->addr);
            json_string(stdout, grp->plan.reason);
            printf("}");
            first = false;
        }
    }
}

/* KINDS: bit mask of enum danger_kind values to list. */
static void json_dangers(const struct lib_analysis *a, unsigned kinds)
{
    bool first = true;
    for (size_t i = 0; i < a->n_dangers; i++) {
        const struct danger_site *d = &a->dangers[i];
        if (!(kinds & 1u << d->kind))
            continue;
        printf("%s{\"kind\":\"%s\",\"offset\":%llu,\"symbol\":", first ? "" : ",",
               danger_kind_name(d->kind), (unsigned long long)d->vaddr);
        if (d->symbol)
            json_string(stdout, d->symbol->name);
        else
            printf("null");
        printf(",\"symbol_offset\":%llu}",
               (unsigned long long)(d->symbol ? d->vaddr - d->symbol->addr : 0));
        first = false;
    }
}

static void json_report(const struct lib_analysis *a)
{
    const struct elf_image *img = &a->img;
    printf("{\"library\":");
    json_string(stdout, img->path);
    printf(",\"soname\":");
    if (img->soname)
        json_string(stdout, img->soname);
    else
        printf("null");
    printf(",\"exports\":%zu,\"addresses\":%zu,\"gateable\":%zu,\"gateable_jmp\":%zu,"
           "\"gateable_trap\":%zu,\"not_gateable\":[",
           img->n_exports, a->n_groups, a->n_jmp + a->n_trap, a->n_jmp, a->n_trap);
    json_groups(a, PATCH_NONE);
    printf("],\"trap\":[");
    json_groups(a, PATCH_TRAP);
    printf("],\"wrpkru\":[");
    json_dangers(a, 1u << DANGER_WRPKRU);
    printf("],\"xrstor\":[");
    json_dangers(a, 1u << DANGER_XRSTOR);
    printf("],\"tls_bytes\":%llu,\"init_array\":%zu,\"dt_init\":%s,\"bind_now\":%s,\"imports\":[",
           (unsigned long long)(img->has_tls ? img->tls_memsz : 0), img->n_init_array,
           img->has_dt_init ? "true" : "false", img->bind_now ? "true" : "false");
    for (size_t i = 0; i < img->n_imports; i++) {
        if (i)
            printf(",");
        json_string(stdout, img->imports[i]);
    }
    printf("],\"ifunc_error\":");
    if (a->ifunc_error[0])
        json_string(stdout, a->ifunc_error);
    else
        printf("null");
    printf("}");
}

int check_libraries(char **paths, int n, bool json)
{
    int rc = 0;
    size_t total = 0, gateable = 0, reported = 0;
    if (json)
        printf("{\"libraries\":[");
    for (int i = 0; i < n; i++) {
        struct lib_analysis a;
        char err[256];
        /* A bare name (libz.so.1) is looked up as the loader would. */
        char *found = strchr(paths[i], '/') ? NULL : policy_find_library(paths[i]);
        const char *path = found ? found : paths[i];
        int failed = lib_analyze(path, NULL, &a, err, sizeof err);
        if (failed)
            fprintf(stderr, "protect-wrap: %s: %s\n", paths[i], err);
        free(found);
        if (failed) {
            lib_analysis_free(&a);
            rc = 2;
            continue;
        }
        if (json) {
            if (reported)
                printf(",");
            json_report(&a);
        } else {
            text_report(&a);
        }
        fflush(stdout);
        reported++;
        total += a.img.n_exports;
        gateable += a.n_jmp + a.n_trap;
        lib_analysis_free(&a);
    }
    if (json)
        printf("],\"checked\":%zu,\"failed\":%d,\"total_exports\":%zu,\"total_gateable\":%zu}\n",
               reported, n - (int)reported, total, gateable);
    else if (reported > 1)
        printf("total: %zu libraries, %zu of %zu exports gateable (%.2f%%)\n", reported, gateable,
               total, percent(gateable, total));
    return rc;
}
