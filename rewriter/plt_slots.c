/* Finding a library's PLT slots bound to its own functions (libelf). */
#include "plt_slots.h"

#include <elf.h>
#include <gelf.h>
#include <stdlib.h>

long elf_image_own_plt_slots(const struct elf_image *img, struct plt_slot **slots)
{
    Elf *elf = img->elf;
    Elf_Scn *scn = NULL;
    size_t n = 0, cap = 0;
    *slots = NULL;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh, symsh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || sh.sh_entsize == 0)
            continue;
        Elf_Scn *symscn = elf_getscn(elf, sh.sh_link);
        Elf_Data *rel = elf_getdata(scn, NULL), *syms = symscn ? elf_getdata(symscn, NULL) : NULL;
        if (!rel || !syms || !gelf_getshdr(symscn, &symsh) || symsh.sh_type != SHT_DYNSYM)
            continue;
        for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
            GElf_Rela r;
            GElf_Sym sym;
            if (!gelf_getrela(rel, (int)i, &r)) {
                free(*slots);
                *slots = NULL;
                return -1;
            }
            if (GELF_R_TYPE(r.r_info) != R_X86_64_JUMP_SLOT || !gelf_getsym(syms, (int)GELF_R_SYM(r.r_info), &sym))
                continue;
            if (sym.st_shndx == SHN_UNDEF || GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_value == 0)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                struct plt_slot *grown = realloc(*slots, cap * sizeof **slots);
                if (!grown) {
                    free(*slots);
                    *slots = NULL;
                    return -1;
                }
                *slots = grown;
            }
            (*slots)[n++] = (struct plt_slot){r.r_offset, sym.st_value};
        }
    }
    return (long)n;
}
