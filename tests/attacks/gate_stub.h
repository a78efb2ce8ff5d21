/* Finding a gate from a patched export, as an attacker reading the code
 * would. */
#ifndef GATE_STUB_H
#define GATE_STUB_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The gate behind a patched export: [endbr64] jmp stub; stub = mov r11d, id;
 * jmp *gate(%rip).  NULL if ENTRY does not look like that. */
static inline const uint8_t *gate_of(const uint8_t *entry, uint32_t *id)
{
    if (entry[0] == 0xf3 && entry[1] == 0x0f && entry[2] == 0x1e && entry[3] == 0xfa)
        entry += 4;
    if (entry[0] != 0xe9)
        return NULL;
    int32_t rel;
    memcpy(&rel, entry + 1, 4);
    const uint8_t *stub = entry + 5 + rel;
    if (stub[0] != 0x41 || stub[1] != 0xbb || stub[6] != 0xff || stub[7] != 0x25)
        return NULL;
    memcpy(id, stub + 2, 4);
    const uint8_t *gate;
    memcpy(&gate, stub + 12, 8);
    return gate;
}

/* The protection key of the page holding ADDR (/proc/self/smaps), or -1. */
static inline int key_of(const void *addr)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[256];
    int key = -1, inside = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
            inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
        else if (inside && sscanf(line, "ProtectionKey: %d", &key) == 1)
            break;
    }
    if (f)
        fclose(f);
    return key;
}

#endif
