/* The library's own file, reached through the kernel: its descriptor used
 * by the application, the file opened anew by another name, the
 * descriptor sent to another process.
 *   library_fds write|dup2|cloexec|close|mmap|copy|reopen-fd|reopen-link|scm-rights|aio */
#define _GNU_SOURCE
#include "attack.h"

#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

static char path[64];

/* BREACHED if the file no longer holds what the library wrote. */
__attribute__((noreturn)) static void judge(void)
{
    if (!vault_file_intact())
        breached("changed the library's file");
    blocked("the library's file is intact");
}

static void scribble(int fd)
{
    if (pwrite(fd, "scribbled over the vault's file", 32, 0) != 32)
        blocked_errno("pwrite");
}

/* Writes through a descriptor that another process received. */
static void receive_and_write(int sock)
{
    char data[1];
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {data, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    if (recvmsg(sock, &m, 0) != 1)
        _exit(1);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (!c || c->cmsg_type != SCM_RIGHTS)
        _exit(1);
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    _exit(pwrite(fd, "scribbled by another process....", 32, 0) == 32 ? 0 : 1);
}

static void remove_file(void)
{
    unlink(path);
}

int main(int argc, char **argv)
{
    vault_open();
    snprintf(path, sizeof path, "/tmp/vault-file.%d", (int)getpid());
    atexit(remove_file);
    if (vault_file_open(path) != 0) {
        printf("vault_file_open failed\n");
        return 2;
    }
    int lib = vault_file_fd();
    const char *how = argc > 1 ? argv[1] : "";
    int rc = 0;
    if (strcmp(how, "write") == 0) {
        scribble(lib);
    } else if (strcmp(how, "dup2") == 0) {
        /* The library's descriptor now names the application's file: the
         * library writes its database there, and reads the attacker's. */
        int mine = open("/dev/null", O_RDWR);
        if (dup2(mine, lib) < 0)
            blocked_errno("dup2");
        if (!vault_file_intact())
            breached("replaced the library's file under its descriptor");
        blocked("the library's descriptor still names its file");
    } else if (strcmp(how, "cloexec") == 0) {
        if (fcntl(lib, F_SETFD, 0) < 0)
            blocked_errno("fcntl(F_SETFD)");
        breached("cleared close-on-exec on the library's descriptor (a program it runs keeps it)");
    } else if (strcmp(how, "close") == 0) {
        if (close(lib) < 0)
            blocked_errno("close");
        breached("closed the library's descriptor (the next open of the application gets its number)");
    } else if (strcmp(how, "mmap") == 0) {
        char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, lib, 0);
        if (p == MAP_FAILED)
            blocked_errno("mmap");
        memcpy(p, "scribbled through a mapping.....", 32);
        msync(p, 4096, MS_SYNC);
    } else if (strcmp(how, "copy") == 0) {
        int mine = open("/proc/self/exe", O_RDONLY);
        loff_t from = 0, to = 0;
        if (copy_file_range(mine, &from, lib, &to, 32, 0) != 32)
            blocked_errno("copy_file_range");
    } else if (strcmp(how, "reopen-fd") == 0) {
        char name[64];
        snprintf(name, sizeof name, "/proc/self/fd/%d", lib);
        int fd = open(name, O_RDWR);
        if (fd < 0)
            blocked_errno("open %s", name);
        scribble(fd);
    } else if (strcmp(how, "reopen-link") == 0) {
        char alias[80];
        snprintf(alias, sizeof alias, "%s.alias", path);
        link(path, alias);
        int fd = open(alias, O_WRONLY);
        unlink(alias);
        if (fd < 0)
            blocked_errno("open of a hard link");
        scribble(fd);
    } else if (strcmp(how, "scm-rights") == 0) {
        int sv[2];
        socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
        pid_t child = fork();
        if (child == 0) /* any process: one that runs another program, unprotected */
            receive_and_write(sv[1]);
        char data[1] = {'x'};
        char control[CMSG_SPACE(sizeof(int))] = {0};
        struct iovec iov = {data, 1};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &lib, sizeof lib);
        if (sendmsg(sv[0], &m, 0) != 1) {
            kill(child, SIGKILL);
            blocked_errno("sendmsg(SCM_RIGHTS)");
        }
        int status;
        waitpid(child, &status, 0);
    } else if (strcmp(how, "aio") == 0) {
        aio_context_t ctx = 0;
        if (syscall(SYS_io_setup, 1, &ctx) != 0)
            blocked_errno("io_setup");
        static const char junk[32] = "scribbled through Linux AIO.....";
        struct iocb cb = {.aio_lio_opcode = IOCB_CMD_PWRITE, .aio_fildes = (uint32_t)lib,
                          .aio_buf = (uintptr_t)junk, .aio_nbytes = sizeof junk};
        struct iocb *list[1] = {&cb};
        if (syscall(SYS_io_submit, ctx, 1, list) != 1)
            blocked_errno("io_submit");
        struct io_event ev;
        syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL);
    } else {
        fprintf(stderr, "unknown attack '%s'\n", how);
        rc = 2;
    }
    if (rc)
        return rc;
    judge();
}
