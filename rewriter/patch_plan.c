/* Gate patch planning: a 5-byte jmp when the function allows it, else a
 * 1-byte int3, else a reason why the export cannot be gated. */
#include "patch_plan.h"

#include <stdio.h>
#include <string.h>

static bool is_endbr64(const uint8_t *c, size_t n)
{
    return n >= ENDBR64_LEN && c[0] == 0xf3 && c[1] == 0x0f && c[2] == 0x1e && c[3] == 0xfa;
}

/* The jmp form: relocate at least PATCH_JMP_LEN bytes, then make sure
 * nothing in the function lands inside what the jmp overwrites.  A branch
 * to the first patched byte is fine: it enters the gate again, which from
 * inside the domain goes straight to the relocated original. */
static bool plan_jmp(const uint8_t *code, size_t limit, struct patch_plan *p,
                     bool (*symbol_starts_in)(const void *, uint64_t, uint64_t), const void *ctx)
{
    uint64_t at = p->addr + p->patch_offset;
    char why[160];
    if (x86_relocate(code + p->patch_offset, limit - p->patch_offset, at, PATCH_JMP_LEN,
                     p->trampoline, &p->reloc, why, sizeof why) != 0) {
        snprintf(p->reason, sizeof p->reason, "%s", why);
        return false;
    }
    uint64_t end = at + p->reloc.copied, from;
    if (x86_branches_into(code, limit, p->addr, at + 1, end, &from)) {
        snprintf(p->reason, sizeof p->reason, "branch at +%#llx into the patched bytes",
                 (unsigned long long)(from - p->addr));
        return false;
    }
    if (symbol_starts_in && symbol_starts_in(ctx, at + 1, end)) {
        snprintf(p->reason, sizeof p->reason, "another symbol starts inside the patched bytes");
        return false;
    }
    p->patch_len = PATCH_JMP_LEN;
    return true;
}

enum patch_kind patch_plan_bytes(const uint8_t *code, size_t code_len, uint64_t addr, uint64_t size,
                                 uint64_t trampoline,
                                 bool (*symbol_starts_in)(const void *ctx, uint64_t lo, uint64_t hi),
                                 const void *ctx, struct patch_plan *p)
{
    memset(p, 0, sizeof *p);
    p->addr = addr;
    p->size = size;
    p->trampoline = trampoline;
    /* With a known size we decode no further than the function; without one
     * we may still read on, but only ever write one byte. */
    size_t limit = size && size < code_len ? (size_t)size : code_len;
    p->patch_offset = is_endbr64(code, limit) ? ENDBR64_LEN : 0;
    if (limit <= p->patch_offset) {
        snprintf(p->reason, sizeof p->reason, "function has no code after its entry (%llu bytes)",
                 (unsigned long long)size);
        return p->kind = PATCH_NONE;
    }
    if (size == 0)
        snprintf(p->reason, sizeof p->reason, "function size unknown");
    else if (size - p->patch_offset < PATCH_JMP_LEN)
        snprintf(p->reason, sizeof p->reason, "function is %llu bytes, a jmp gate needs %u",
                 (unsigned long long)size, p->patch_offset + PATCH_JMP_LEN);
    else if (plan_jmp(code, limit, p, symbol_starts_in, ctx))
        return p->kind = PATCH_JMP;

    char why[160];
    uint64_t at = addr + p->patch_offset;
    if (x86_relocate(code + p->patch_offset, limit - p->patch_offset, at, 1, trampoline, &p->reloc,
                     why, sizeof why) != 0) {
        snprintf(p->reason, sizeof p->reason, "%s", why);
        return p->kind = PATCH_NONE;
    }
    p->patch_len = 1;
    return p->kind = PATCH_TRAP;
}

struct biased_image {
    const struct elf_image *img;
    uint64_t bias;
};

static bool export_starts_in(const void *ctx, uint64_t lo, uint64_t hi)
{
    const struct biased_image *bi = ctx;
    const struct elf_image *img = bi->img;
    size_t i = elf_image_first_export_from(img, lo - bi->bias);
    return i < img->n_exports && img->exports[i].addr < hi - bi->bias;
}

enum patch_kind patch_plan_make(const struct elf_image *img, uint64_t addr, uint64_t size,
                                uint64_t bias, uint64_t trampoline, struct patch_plan *plan)
{
    uint64_t start, end;
    if (size == 0 && elf_image_function_range(img, addr, &start, &end) == 0 && start == addr)
        size = end - start;
    size_t len = size ? (size_t)size : 64;
    if (len < 64)
        len = 64; /* room for the last instruction's bytes; writes stay within size */
    const uint8_t *code = elf_image_code_at(img, addr, &len);
    if (!code) {
        memset(plan, 0, sizeof *plan);
        plan->addr = addr + bias;
        plan->size = size;
        snprintf(plan->reason, sizeof plan->reason, "not in an executable segment");
        return plan->kind = PATCH_NONE;
    }
    struct biased_image bi = {img, bias};
    return patch_plan_bytes(code, len, addr + bias, size, trampoline, export_starts_in, &bi, plan);
}

uint64_t patch_plan_default_trampoline(const struct elf_image *img)
{
    uint64_t top = 0;
    for (size_t i = 0; i < img->n_segments; i++)
        if (img->segments[i].vaddr + img->segments[i].memsz > top)
            top = img->segments[i].vaddr + img->segments[i].memsz;
    return (top + 0xfff) & ~(uint64_t)0xfff;
}
