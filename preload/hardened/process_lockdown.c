#define _GNU_SOURCE
#include "hardened/process_lockdown.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int lock_process_from_outside(void)
{
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return -1;
    /* Out of the bounding set (so no exec brings it back), then out of the
     * effective, permitted and inheritable sets. */
    if (prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0) != 0 && errno != EPERM)
        return -1;
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0)
        return -1;
    unsigned word = CAP_SYS_PTRACE / 32, bit = 1u << (CAP_SYS_PTRACE % 32);
    d[word].effective &= ~bit;
    d[word].permitted &= ~bit;
    d[word].inheritable &= ~bit;
    return (int)syscall(SYS_capset, &h, d);
}

/* The first object dl_iterate_phdr reports is the program. */
static int preinit_entries(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    size_t *n = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_DYNAMIC)
            continue;
        for (const ElfW(Dyn) *d = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
             d->d_tag != DT_NULL; d++)
            if (d->d_tag == DT_PREINIT_ARRAYSZ)
                *n = d->d_un.d_val / sizeof(ElfW(Addr));
    }
    return 1;
}

bool program_runs_code_before_us(void)
{
    size_t n = 0;
    dl_iterate_phdr(preinit_entries, &n);
    return n > 0;
}
