/* Writes a starting policy from what the binary tells: its exports, which
 * of them look like allocators, and which cannot be gated.  Callback
 * arguments cannot be seen in a binary: the policy says so. */
#include "gen_policy.h"

#include "lib_analysis.h"
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool looks_like_allocator(const char *name)
{
    static const char *const words[] = {"malloc", "calloc", "realloc", "alloc", "strdup", "mprintf"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strstr(name, words[i]) && !strstr(name, "free") && !strstr(name, "dealloc"))
            return true;
    return false;
}

int analyze_library(const char *lib, struct lib_analysis *a, char **path)
{
    char err[256];
    *path = policy_find_library(lib);
    if (!*path) {
        fprintf(stderr, "protect-wrap: %s: library not found\n", lib);
        return 2;
    }
    if (lib_analyze(*path, NULL, a, err, sizeof err) != 0) {
        fprintf(stderr, "protect-wrap: %s: %s\n", *path, err);
        lib_analysis_free(a);
        free(*path);
        return 2;
    }
    return 0;
}

int gen_policy(const char *lib)
{
    char *path;
    struct lib_analysis a;
    if (analyze_library(lib, &a, &path) != 0)
        return 2;
    const struct elf_image *img = &a.img;
    printf("; Starting policy for %s, written by protect-wrap --gen-policy.\n", path);
    printf("; Review it before use: check it with protect-wrap --validate.\n\n");
    printf("[library]\npath = %s\n", img->soname ? img->soname : lib);
    printf("; integrity: the application may read the library's memory (needed when the\n"
           "; library returns pointers into it); confidential: no access at all.\n");
    printf("mode = integrity\n\n[entries]\nexport = *\n");
    printf("; deny = GLOB ...   exports the application must never call\n\n");
    printf("; %zu exported functions, %zu gateable.\n", img->n_exports, a.n_jmp + a.n_trap);
    printf("; Callback arguments cannot be read from a binary: for every export that takes\n"
           "; a function pointer the library calls, add\n;   [entry NAME]\n;   callbacks = N\n\n");
    bool first = true;
    for (size_t i = 0; i < img->n_exports; i++) {
        const struct elf_export *e = &img->exports[i];
        if (!looks_like_allocator(e->name) || (i && strcmp(img->exports[i - 1].name, e->name) == 0))
            continue;
        if (first)
            printf("; These look like allocators whose memory the application writes:\n"
                   "; give them heap = app if it does.\n");
        first = false;
        printf(";[entry %s]\n;heap = app\n", e->name);
    }
    for (size_t g = 0; g < a.n_groups; g++)
        if (a.groups[g].plan.kind == PATCH_NONE)
            for (size_t m = 0; m < a.groups[g].n_members; m++)
                printf("; not gateable: %s: %s\n",
                       img->exports[a.groups[g].members[m]].name, a.groups[g].plan.reason);
    lib_analysis_free(&a);
    free(path);
    return 0;
}
