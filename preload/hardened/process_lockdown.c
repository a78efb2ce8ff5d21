#define _GNU_SOURCE
#include "hardened/process_lockdown.h"

#include <errno.h>
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
