#ifndef CCHATD_H
#define CCHATD_H

// The few C library calls Swift's Glibc module does not expose.

#ifdef __linux__
#include <malloc.h>
#include <spawn.h>

/// Returns freed heap memory to the system (glibc's malloc_trim).
static inline int chatd_malloc_trim(void) { return malloc_trim(0); }

// GNU extensions, defined in CChatd.c (which alone sees _GNU_SOURCE: defining it here would change the system
// headers' types under Swift's Glibc module).

/// Closes every descriptor from `low` up in a child posix_spawn starts (glibc 2.34's
/// posix_spawn_file_actions_addclosefrom_np).
int chatd_spawn_closefrom(posix_spawn_file_actions_t *actions, int low);

/// A pipe whose two ends close on exec (pipe2 with O_CLOEXEC): no other child inherits them.
int chatd_pipe_cloexec(int fds[2]);
#else
static inline int chatd_malloc_trim(void) { return 0; }
#endif

#endif
