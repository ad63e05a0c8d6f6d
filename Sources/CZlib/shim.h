// zlib (Debian's zlib1g-dev), for reading the WAL segments an older chatd compressed with it (format 2).
#include <zlib.h>
