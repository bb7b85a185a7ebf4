#ifndef STATECOORDINATOR_CSYSTEMSHIMS_H
#define STATECOORDINATOR_CSYSTEMSHIMS_H

// Calls that Swift's Glibc module does not import cleanly: `flock` is shadowed by `struct flock`,
// <sys/vfs.h> is not part of the module, and renameat2 is declared only with _GNU_SOURCE.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/vfs.h>
#include <sys/eventfd.h>

static inline int statecoordinator_flock(int fd, int operation) { return flock(fd, operation); }

/// fstatfs(2) reduced to f_type; returns -1 with errno set on failure.
static inline int statecoordinator_fstatfs_type(int fd, long long *type) {
    struct statfs buffer;
    int result = fstatfs(fd, &buffer);
    if (result == 0) *type = (long long)buffer.f_type;
    return result;
}

/// renameat2(2) with RENAME_EXCHANGE: swaps two names in one directory atomically.
static inline int statecoordinator_exchange(int dirfd, const char *a, const char *b) {
    return renameat2(dirfd, a, dirfd, b, RENAME_EXCHANGE);
}

/// eventfd(2), close-on-exec and non-blocking: the watch loop's wake-up (Glibc's module lacks <sys/eventfd.h>).
static inline int statecoordinator_wake_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

/// getrandom(2) into `buffer`; returns the bytes filled, or -1. Defined in CSystemShims.c: Glibc's
/// module lacks <sys/random.h>, and including it here clashes with that module's `fd_set` in a
/// clean build.
long statecoordinator_getrandom(void *buffer, unsigned long length);

#endif
