/* The files a protected library maps shared, known by device and inode:
 * hardened mode's open handler refuses to open them anew for anyone else,
 * whatever the name (a hard link, /proc/self/fd/N, /proc/self/map_files). */
#ifndef LIBPROTECT_SHARED_FILES_H
#define LIBPROTECT_SHARED_FILES_H

#include <sys/types.h>

/* Notes that domain SLOT maps FD's file shared. */
void shared_files_note(int slot, int fd);

/* The slot of the domain that maps the file (DEV, INO) shared, or -1. */
int shared_file_owner(dev_t dev, ino_t ino);

#endif
