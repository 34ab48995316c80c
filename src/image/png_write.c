/* PNG through libpng: out with its text chunks in memory, for the CLI's
 * files and the server's b64_json answers alike; in for image-to-image. */
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "loam_image.h"

typedef struct {
    uint8_t *data;
    size_t len, cap;
    int failed;
} png_buf;

static void on_write(png_structp png, png_bytep data, png_size_t n) {
    png_buf *b = png_get_io_ptr(png);
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n) cap *= 2;
        uint8_t *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown, b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void on_flush(png_structp png) { (void)png; }

loam_status loam_png_encode(const uint8_t *rgb, int width, int height, const char *const *kv, int n_kv, uint8_t **out, size_t *len,
                            loam_error *err) {
    *out = NULL, *len = 0;
    if (width < 1 || height < 1 || n_kv < 0 || n_kv > 32) return loam_fail(err, LOAM_E_ARG, "PNG of %d x %d with %d texts", width, height, n_kv);
    png_buf b = {0};
    png_text text[32];
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(b.data);
        return loam_fail(err, LOAM_E_NOMEM, "cannot encode the PNG");
    }
    png_set_write_fn(png, &b, on_write, on_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    memset(text, 0, sizeof text);
    for (int i = 0; i < n_kv; i++) { /* iTXt: UTF-8 prompts */
        text[i].compression = PNG_ITXT_COMPRESSION_NONE;
        text[i].key = (png_charp)kv[2 * i], text[i].text = (png_charp)kv[2 * i + 1];
        text[i].lang = (png_charp) "", text[i].lang_key = (png_charp) "";
    }
    if (n_kv) png_set_text(png, info, text, n_kv);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * width * 3));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    if (b.failed) {
        free(b.data);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory for the PNG");
    }
    *out = b.data, *len = b.len;
    return LOAM_OK;
}

loam_status loam_png_decode(const uint8_t *data, size_t len, uint8_t **rgb, int *width, int *height, loam_error *err) {
    *rgb = NULL, *width = *height = 0;
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, len))
        return loam_fail(err, LOAM_E_FORMAT, "not a PNG image (%s)", img.message[0] ? img.message : "unreadable");
    if (img.width < 1 || img.height < 1 || img.width > 8192 || img.height > 8192) {
        png_image_free(&img);
        return loam_fail(err, LOAM_E_RANGE, "a %u x %u PNG: loam takes up to 8192 x 8192", img.width, img.height);
    }
    img.format = PNG_FORMAT_RGB;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    if (!px) {
        png_image_free(&img);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory for a %u x %u image", img.width, img.height);
    }
    if (!png_image_finish_read(&img, NULL, px, 0, NULL)) {
        free(px);
        return loam_fail(err, LOAM_E_FORMAT, "a damaged PNG (%s)", img.message);
    }
    *rgb = px, *width = (int)img.width, *height = (int)img.height;
    return LOAM_OK;
}
