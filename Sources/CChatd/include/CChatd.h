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

#endif
