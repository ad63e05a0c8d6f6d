#ifndef CCHATD_H
#define CCHATD_H

#ifdef __linux__
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>
#endif

// The few C library calls Swift's Glibc module does not expose.

#ifdef __linux__
#include <malloc.h>

/// Returns freed heap memory to the system (glibc's malloc_trim).
static inline int chatd_malloc_trim(void) { return malloc_trim(0); }
#else
static inline int chatd_malloc_trim(void) { return 0; }
#endif

#ifdef __linux__
/// Closes every descriptor from `low` up in a child posix_spawn starts (glibc 2.34's
/// posix_spawn_file_actions_addclosefrom_np).
static inline int chatd_spawn_closefrom(posix_spawn_file_actions_t *actions, int low) {
    return posix_spawn_file_actions_addclosefrom_np(actions, low);
}

/// A pipe whose two ends close on exec (pipe2 with O_CLOEXEC): no other child inherits them.
static inline int chatd_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
#endif

#endif
