#ifndef CCHATD_H
#define CCHATD_H

// The few C library calls Swift's Glibc module does not expose.

#ifdef __linux__
#include <malloc.h>

/// Returns freed heap memory to the system (glibc's malloc_trim).
static inline int chatd_malloc_trim(void) { return malloc_trim(0); }
#else
static inline int chatd_malloc_trim(void) { return 0; }
#endif

/// Writes a file's dirty pages back to the disk and waits for them (sync_file_range), without committing the file
/// system's journal: a large file written in steps stays clean behind itself, and other files' fsyncs do not wait
/// for it. Not a durability barrier: the file is still fsynced at the end.
int chatd_write_back(int fd);

#endif
