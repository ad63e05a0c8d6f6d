// libvips, as the Debian package libvips-dev installs it. Swift calls it only through CVipsShim: most of libvips'
// API is variadic (optional arguments end with NULL), which Swift cannot call.
#include <vips/vips.h>
