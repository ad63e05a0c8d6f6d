#ifndef CHATD_VIPS_H
#define CHATD_VIPS_H

// chatd's whole use of libvips, in a few calls Swift can make.
//
// Ownership: every string argument is borrowed for the duration of the call. Nothing returned points into libvips:
// images never cross this boundary (each call opens, uses and unrefs its own). Memory returned through an out
// parameter (`pixels`, the error text) is the caller's, freed with chatd_vips_free.
//
// Threads: the calls are safe from any thread after chatd_vips_start; libvips runs its own worker threads inside
// each call. The error text is per process in libvips: chatd_vips_take_error returns (and clears) what has gathered,
// so a caller that wants each failure's own message makes its calls one at a time, as chatd-imaging (the only program
// linking this) does from its main thread.

#include <stddef.h>
#include <stdint.h>

/// Starts libvips once per process: refuses every operation flagged untrusted, blocks every loader, then unblocks
/// only the allow-list (JPEG, PNG, WebP, GIF, HEIF/AVIF), so ImageMagick, PDF, SVG and the rest never see a byte.
/// Turns the operation cache off (each image is processed once). Returns 0, or -1 (see chatd_vips_take_error).
int chatd_vips_start(int concurrency);

/// Whether libvips will run the loader of this nickname ("jpegload", "svgload", …) at all.
int chatd_vips_loader_allowed(const char *nickname);

typedef struct {
    int width;
    int height;
    /// Frames of an animated image (1 for a still one).
    int pages;
    int bands;
    int has_alpha;
    /// EXIF orientation, 1 (upright) to 8.
    int orientation;
} chatd_vips_header;

/// Reads the header of `path` with the loader of that nickname (one of the allow-list) without decoding pixels.
int chatd_vips_probe(const char *path, const char *loader, chatd_vips_header *header);

typedef enum { CHATD_VIPS_JPEG = 0, CHATD_VIPS_PNG = 1, CHATD_VIPS_GIF = 2 } chatd_vips_format;

/// Makes a copy of `input` whose longest side is at most `size` (never enlarged), upright by its EXIF orientation,
/// in sRGB, with every frame when `animated`, and saves it to `output` in `format` without any metadata. Reads
/// `input` with shrink-on-load where the format allows it. Writes the copy's dimensions to `width` and `height`.
int chatd_vips_resize(
    const char *input, int size, int animated, const char *output, chatd_vips_format format, int quality,
    int *width, int *height);

/// Decodes `path` to at most `size` × `size` sRGB pixels, 3 bytes each, row by row (for a blurhash). The caller
/// frees `*pixels` with chatd_vips_free.
int chatd_vips_pixels(const char *path, int size, unsigned char **pixels, int *width, int *height);

/// The latest libvips error as a string the caller frees with chatd_vips_free (never NULL), and clears it.
char *chatd_vips_take_error(void);

void chatd_vips_free(void *memory);



#endif
