#define _GNU_SOURCE
#include "memory/shared_files.h"

#include "log.h"
#include "base/sealed.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_SHARED_FILES 512

struct shared_file {
    dev_t dev;
    ino_t ino;
    int slot;
};

/* Sealed: the open handler's decision reads it. */
struct shared_file_table {
    struct shared_file f[MAX_SHARED_FILES];
    int n;
    bool full_said;
};
static SEALED union {
    struct shared_file_table v;
    char pages[SEALED_PAGES(struct shared_file_table)];
} table;

void shared_files_note(int slot, int fd)
{
    struct stat st;
    if (syscall(SYS_fstat, fd, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    if (shared_file_owner(st.st_dev, st.st_ino) >= 0)
        return;
    sealed_open();
    if (table.v.n < MAX_SHARED_FILES)
        table.v.f[table.v.n++] = (struct shared_file){st.st_dev, st.st_ino, slot};
    else if (!table.v.full_said) {
        table.v.full_said = true;
        protect_log("more than %d files mapped shared by protected libraries: later ones are not guarded "
                    "against being opened anew", MAX_SHARED_FILES);
    }
    sealed_close();
}

int shared_file_owner(dev_t dev, ino_t ino)
{
    for (int i = 0; i < table.v.n; i++)
        if (table.v.f[i].dev == dev && table.v.f[i].ino == ino)
            return table.v.f[i].slot;
    return -1;
}
