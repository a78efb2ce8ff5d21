/* An application that opens many descriptors (a server's connections):
 * under hardened mode none of them may land in the range kept for the
 * libraries' descriptors, and every one must work; then it closes every
 * descriptor it might have, as daemons do before an exec, which must go
 * quietly.  Prints the counts. */
#include "gatetest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

int main(void)
{
    struct rlimit r;
    getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = r.rlim_max < 4096 ? r.rlim_max : 4096;
    setrlimit(RLIMIT_NOFILE, &r);
    gt_sum6(1, 2, 3, 4, 5, 6); /* the library in use */
    int opened = 0, usable = 0, in_range = 0, lo = 1 << 30, hi = 0;
    for (int i = 0; i < 1500; i++) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd < 0)
            break;
        opened++;
        usable += write(fd, "x", 1) == 1;
        in_range += fd >= 960 && fd < 1024;
        lo = fd < lo ? fd : lo;
        hi = fd > hi ? fd : hi;
    }
    printf("opened %d, usable %d, numbered 960-1023: %d\n", opened, usable, in_range);
    int errors = 0;
    for (int fd = 3; fd < (int)r.rlim_cur; fd++)
        errors += close(fd) != 0 && errno != EBADF;
    printf("closed every descriptor: %d errors; the library still answers: %s\n", errors,
           gt_sum6(1, 2, 3, 4, 5, 6) == 91 ? "yes" : "no");
    return 0;
}
