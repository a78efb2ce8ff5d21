/* Opens of every kind, as a protected program makes them: in hardened mode
 * the SIGSYS handler opens each name O_PATH, judges it, then reopens it
 * through /proc (preload/hardened/open_trap.c).  The test runs this
 * plainly and protected and compares the lines: same results, same errors.
 * Usage: open_semantics DIR (an empty scratch directory). */
#define _GNU_SOURCE
#include "gatetest.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void say(const char *what, long r)
{
    if (r < 0)
        printf("%s: %s\n", what, strerror(errno));
    else
        printf("%s: ok\n", what);
}

/* What an open descriptor is: its access mode and flags, and the file. */
static void describe(const char *what, int fd)
{
    if (fd < 0) {
        say(what, fd);
        return;
    }
    struct stat st;
    fstat(fd, &st);
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
    printf("%s: ok, mode %o, flags %#x, cloexec %d, size %lld\n", what, st.st_mode & 0170777,
           fl & (O_ACCMODE | O_APPEND | O_NONBLOCK | O_PATH | O_DIRECTORY), fdfl & FD_CLOEXEC, (long long)st.st_size);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 2 || chdir(argv[1]) != 0)
        return 2;
    umask(022);
    gt_sum6(1, 2, 3, 4, 5, 6); /* the library is in use */
    describe("create new (O_CREAT)", open("a", O_CREAT | O_WRONLY, 0640));
    describe("create new (O_CREAT|O_EXCL)", open("b", O_CREAT | O_EXCL | O_RDWR, 0600));
    describe("O_EXCL on an existing file", open("b", O_CREAT | O_EXCL | O_RDWR, 0600));
    int w = open("a", O_WRONLY | O_APPEND);
    say("write", write(w, "0123456789", 10));
    describe("append", w);
    describe("existing, O_CREAT, read-write", open("a", O_CREAT | O_RDWR, 0600));
    describe("O_TRUNC", open("a", O_WRONLY | O_TRUNC));
    describe("creat() of an existing file", creat("b", 0600));
    describe("missing file", open("missing", O_RDONLY));
    describe("missing directory", open("nodir/x", O_RDONLY));
    symlink("a", "link");
    symlink("dangling-target", "dangling");
    describe("through a symbolic link", open("link", O_RDONLY | O_CLOEXEC));
    describe("O_NOFOLLOW on a link", open("link", O_RDONLY | O_NOFOLLOW));
    describe("O_NOFOLLOW|O_PATH on a link", open("link", O_PATH | O_NOFOLLOW));
    describe("O_CREAT through a dangling link", open("dangling", O_CREAT | O_WRONLY, 0600));
    struct stat st;
    printf("dangling link's target made: %s\n", stat("dangling-target", &st) == 0 ? "yes" : "no");
    mkdir("sub", 0755);
    symlink("../sub/far-target", "sub/link1");
    symlink("sub/link1", "chain");
    describe("O_CREAT through a chain of two dangling links", open("chain", O_CREAT | O_RDWR, 0600));
    printf("the chain's target made: %s\n", stat("sub/far-target", &st) == 0 ? "yes" : "no");
    symlink("loop2", "loop1");
    symlink("loop1", "loop2");
    describe("O_CREAT through a loop of links", open("loop1", O_CREAT | O_RDWR, 0600));
    mkdir("dir", 0755);
    describe("a directory, O_DIRECTORY", open("dir", O_RDONLY | O_DIRECTORY));
    describe("a file, O_DIRECTORY", open("a", O_RDONLY | O_DIRECTORY));
    describe("a directory for writing", open("dir", O_WRONLY));
    describe("O_PATH", open("a", O_PATH));
    int dir = open("dir", O_RDONLY | O_DIRECTORY);
    describe("openat in a directory, O_CREAT", openat(dir, "c", O_CREAT | O_RDWR | O_NONBLOCK, 0644));
    describe("openat, absolute name", openat(dir, "/dev/null", O_WRONLY));
    describe("O_TMPFILE", openat(dir, ".", O_TMPFILE | O_RDWR, 0600));
    struct open_how how = {.flags = O_RDONLY, .resolve = RESOLVE_BENEATH};
    describe("openat2 beneath", (int)syscall(SYS_openat2, dir, "c", &how, sizeof how));
    describe("openat2 beneath, escaping", (int)syscall(SYS_openat2, dir, "../a", &how, sizeof how));
    how = (struct open_how){.flags = O_CREAT | O_WRONLY, .mode = 0600};
    describe("openat2 O_CREAT", (int)syscall(SYS_openat2, dir, "d", &how, sizeof how));
    chmod("a", 0400);
    describe("no permission to write (root may)", open("a", O_WRONLY));
    mkfifo("fifo", 0600);
    describe("a FIFO, non-blocking read", open("fifo", O_RDONLY | O_NONBLOCK));
    describe("/dev/null", open("/dev/null", O_RDWR));
    describe("/proc/self/status", open("/proc/self/status", O_RDONLY));
    describe("/dev/stdin (a link through /proc)", open("/dev/stdin", O_RDONLY));
    say("truncate", truncate("b", 3));
    stat("b", &st);
    printf("truncated size: %lld\n", (long long)st.st_size);
    return 0;
}
