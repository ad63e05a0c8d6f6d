// zlib (Debian's zlib1g-dev), for compressing shipped WAL segments.
#include <zlib.h>
