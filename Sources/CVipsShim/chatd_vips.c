#include "chatd_vips.h"

#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

static const char *allowed_loaders[] = {
    "VipsForeignLoadJpeg", "VipsForeignLoadPng", "VipsForeignLoadWebp", "VipsForeignLoadNsgif",
    "VipsForeignLoadHeif", NULL,
};

int chatd_vips_start(int concurrency) {
    if (VIPS_INIT("chatd")) return -1;
    vips_block_untrusted_set(TRUE);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (const char **name = allowed_loaders; *name; name++) vips_operation_block_set(*name, FALSE);
    vips_cache_set_max(0);
    if (concurrency > 0) vips_concurrency_set(concurrency);
    return 0;
}

int chatd_vips_loader_allowed(const char *nickname) {
    GType type = vips_type_find("VipsOperation", nickname);
    if (!type) return 0;
    VipsOperation *operation = vips_operation_new(nickname);
    if (!operation) {
        vips_error_clear();
        return 0;
    }
    int blocked = (vips_operation_get_flags(operation) & VIPS_OPERATION_BLOCKED) != 0;
    g_object_unref(operation);
    return !blocked;
}

static VipsImage *open_header(const char *path, const char *loader) {
    VipsImage *image = NULL;
    if (strcmp(loader, "jpegload") == 0) {
        vips_jpegload(path, &image, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    } else if (strcmp(loader, "pngload") == 0) {
        vips_pngload(path, &image, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    } else if (strcmp(loader, "webpload") == 0) {
        vips_webpload(path, &image, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    } else if (strcmp(loader, "gifload") == 0) {
        vips_gifload(path, &image, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    } else if (strcmp(loader, "heifload") == 0) {
        vips_heifload(path, &image, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    } else {
        vips_error("chatd", "loader %s is not on chatd's allow-list", loader);
    }
    return image;
}

int chatd_vips_probe(const char *path, const char *loader, chatd_vips_header *header) {
    VipsImage *image = open_header(path, loader);
    if (!image) return -1;
    header->width = vips_image_get_width(image);
    header->height = vips_image_get_page_height(image);
    header->pages = vips_image_get_n_pages(image);
    header->bands = vips_image_get_bands(image);
    header->has_alpha = vips_image_hasalpha(image);
    header->orientation = vips_image_get_orientation(image);
    g_object_unref(image);
    return 0;
}

int chatd_vips_resize(
    const char *input, int size, int animated, const char *output, chatd_vips_format format, int quality,
    int *width, int *height) {
    VipsImage *thumbnail = NULL;
    // vips_thumbnail opens the file with shrink-on-load, applies the EXIF orientation, and converts to sRGB.
    // Every frame of an animated image ("[n=-1]": only the GIF and WebP loaders take the option).
    char *source = g_strconcat(input, animated ? "[n=-1]" : "", NULL);
    int failed = vips_thumbnail(source, &thumbnail, size, "size", VIPS_SIZE_DOWN, NULL);
    g_free(source);
    if (failed) return -1;
    switch (format) {
    case CHATD_VIPS_JPEG:
        failed = vips_jpegsave(
            thumbnail, output, "Q", quality, "strip", TRUE, "optimize_coding", TRUE, "interlace", TRUE, NULL);
        break;
    case CHATD_VIPS_PNG:
        failed = vips_pngsave(thumbnail, output, "strip", TRUE, "compression", 6, NULL);
        break;
    case CHATD_VIPS_GIF:
        failed = vips_gifsave(thumbnail, output, "strip", TRUE, NULL);
        break;
    default:
        vips_error("chatd", "unknown output format %d", (int)format);
        failed = -1;
    }
    *width = vips_image_get_width(thumbnail);
    *height = vips_image_get_page_height(thumbnail);
    g_object_unref(thumbnail);
    return failed ? -1 : 0;
}

int chatd_vips_pixels(const char *path, int size, unsigned char **pixels, int *width, int *height) {
    VipsImage *small = NULL, *flat = NULL, *rgb = NULL;
    *pixels = NULL;
    if (vips_thumbnail(path, &small, size, "height", size, "size", VIPS_SIZE_DOWN, NULL)) return -1;
    VipsImage *current = small;
    if (vips_image_hasalpha(current)) {
        double white[] = {255, 255, 255};
        VipsArrayDouble *background = vips_array_double_new(white, 3);
        int failed = vips_flatten(current, &flat, "background", background, NULL);
        vips_area_unref(VIPS_AREA(background));
        if (failed) {
            g_object_unref(small);
            return -1;
        }
        current = flat;
    }
    int failed = vips_colourspace(current, &rgb, VIPS_INTERPRETATION_sRGB, NULL);
    if (!failed && vips_image_get_bands(rgb) > 3) {
        VipsImage *three = NULL;
        failed = vips_extract_band(rgb, &three, 0, "n", 3, NULL);
        g_object_unref(rgb);
        rgb = three;
    }
    if (!failed) {
        VipsImage *bytes = NULL;
        failed = vips_cast_uchar(rgb, &bytes, NULL);
        if (!failed) {
            size_t length = 0;
            *pixels = vips_image_write_to_memory(bytes, &length);
            *width = vips_image_get_width(bytes);
            *height = vips_image_get_height(bytes);
            failed = *pixels == NULL;
            if (!failed && length != (size_t)*width * (size_t)*height * 3) {
                vips_error("chatd", "expected %d × %d × 3 bytes, got %zu", *width, *height, length);
                g_free(*pixels);
                *pixels = NULL;
                failed = -1;
            }
            g_object_unref(bytes);
        }
    }
    if (rgb) g_object_unref(rgb);
    if (flat) g_object_unref(flat);
    g_object_unref(small);
    return failed ? -1 : 0;
}

char *chatd_vips_take_error(void) {
    // Copies and clears under libvips' own lock (the buffer is per process; two images may fail at once).
    return vips_error_buffer_copy();
}

void chatd_vips_free(void *memory) { g_free(memory); }
