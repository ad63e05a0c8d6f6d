// Zstandard (Debian's libzstd-dev), for compressing shipped WAL segments.
#include <zstd.h>
