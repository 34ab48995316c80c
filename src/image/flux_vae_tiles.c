/* Tiled decoding for images the whole-image decoder would need too much
 * memory for, as diffusers' AutoencoderKL.tiled_decode does it: latent
 * tiles of T × T starting every ⌊3T/4⌋, each decoded alone; each decoded
 * tile is blended, in place, with the tile above and then the tile to its
 * left over the last quarter of their pixels (a linear ramp), and its first
 * 8T − ⌊8T/4⌋ rows and columns are kept. The decoder's GroupNorm and mid
 * attention see one tile at a time, so a tiled image differs a little from
 * the whole-image one (which BFL's reference computes): tiling is used only
 * when asked for or when the whole image would not fit in memory. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "image/flux.h"

/* One decoded tile: image[3, h, w]. */
typedef struct {
    float *px;
    int h, w;
} tile_image;

size_t flux_vae_decode_bytes(const flux_vae *a, int h, int w) {
    int top = a->ch * a->mult[a->n_levels - 1];
    size_t px = (size_t)h * w, cap = px * (size_t)(a->z_ch > top ? a->z_ch : top);
    for (int lvl = 0; lvl < a->n_levels; lvl++) {
        int c = a->ch * a->mult[lvl], above = lvl + 1 < a->n_levels ? a->ch * a->mult[lvl + 1] : top;
        size_t f = (size_t)1 << (a->n_levels - 1 - lvl), need = px * f * f * (size_t)(c > above ? c : above);
        cap = need > cap ? need : cap;
    }
    return sizeof(float) * (3 * cap + px * 3 * (size_t)top);
}

int flux_vae_tile_for(const flux_vae *a, int h, int w, int tile_px) {
    int up = 1 << (a->n_levels - 1);
    if (tile_px == 0) return 0;
    if (tile_px < 0) { /* auto: only when the whole image would take over half the machine's memory */
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        double ram = pages > 0 && page > 0 ? (double)pages * (double)page : 0.0;
        if (ram <= 0 || (double)flux_vae_decode_bytes(a, h, w) <= ram / 2) return 0;
        tile_px = a->sample_size;
    }
    int t = tile_px / up / 4 * 4; /* a multiple of 4: the kept parts then abut exactly */
    if (t < 4) t = 4;
    return h > t || w > t ? t : 0;
}

/* b's first rows (or columns) fade in over a's last ones, in place:
 * b[y] = a[end − e + y] (1 − y/e) + b[y] (y/e), y < e. */
static void blend_rows(const tile_image *a, tile_image *b, int extent) {
    int e = extent < a->h ? extent : a->h;
    e = e < b->h ? e : b->h;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < e; y++) {
            float wb = (float)((double)y / e), wa = (float)(1.0 - (double)y / e);
            const float *ra = a->px + ((size_t)c * a->h + (a->h - e + y)) * a->w;
            float *rb = b->px + ((size_t)c * b->h + y) * b->w;
            for (int x = 0; x < b->w; x++) rb[x] = ra[x] * wa + rb[x] * wb;
        }
}

static void blend_columns(const tile_image *a, tile_image *b, int extent) {
    int e = extent < a->w ? extent : a->w;
    e = e < b->w ? e : b->w;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < b->h; y++) {
            const float *ra = a->px + ((size_t)c * a->h + y) * a->w;
            float *rb = b->px + ((size_t)c * b->h + y) * b->w;
            for (int x = 0; x < e; x++) {
                float wb = (float)((double)x / e), wa = (float)(1.0 - (double)x / e);
                rb[x] = ra[a->w - e + x] * wa + rb[x] * wb;
            }
        }
}

/* out[z_ch, th, tw] = the latent's window at (y0, x0) */
static void latent_window(const float *z, int z_ch, int h, int w, int y0, int x0, int th, int tw, float *out) {
    for (int c = 0; c < z_ch; c++)
        for (int y = 0; y < th; y++)
            memcpy(out + ((size_t)c * th + y) * tw, z + ((size_t)c * h + y0 + y) * w + x0, sizeof(float) * tw);
}

static void free_row(tile_image *row, int n) {
    for (int j = 0; row && j < n; j++) free(row[j].px);
    free(row);
}

loam_status flux_vae_decode_tiled(flux_vae *a, loam_nn *nn, const float *z, int h, int w, int tile, float *image, loam_error *err) {
    int up = 1 << (a->n_levels - 1);
    if (tile < 4 || tile % 4 || h <= 0 || w <= 0) return loam_fail(err, LOAM_E_RANGE, "a latent tile of %d for a %d x %d latent", tile, h, w);
    int stride = tile * 3 / 4, sample = tile * up, extent = sample / 4, keep = sample - extent;
    int rows = (h + stride - 1) / stride, cols = (w + stride - 1) / stride, H = h * up, W = w * up;
    tile_image *above = calloc((size_t)cols, sizeof *above), *row = calloc((size_t)cols, sizeof *row);
    float *window = malloc(sizeof(float) * a->z_ch * tile * tile);
    loam_status st = above && row && window ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory for the decoder's tiles");
    for (int i = 0; !st && i < rows; i++) {
        for (int j = 0; !st && j < cols; j++) {
            int y0 = i * stride, x0 = j * stride;
            int th = h - y0 < tile ? h - y0 : tile, tw = w - x0 < tile ? w - x0 : tile;
            tile_image *t = &row[j];
            free(t->px);
            t->h = th * up, t->w = tw * up, t->px = malloc(sizeof(float) * 3 * t->h * t->w);
            if (!t->px) {
                st = loam_fail(err, LOAM_E_NOMEM, "out of memory for a decoder tile");
                break;
            }
            latent_window(z, a->z_ch, h, w, y0, x0, th, tw, window);
            st = flux_vae_decode(a, nn, window, th, tw, t->px, err);
            if (st) break;
            if (i > 0) blend_rows(&above[j], t, extent);
            if (j > 0) blend_columns(&row[j - 1], t, extent);
            /* its kept corner goes to (i · keep, j · keep) of the image */
            int kh = t->h < keep ? t->h : keep, kw = t->w < keep ? t->w : keep, oy = i * keep, ox = j * keep;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < kh && oy + y < H; y++)
                    memcpy(image + ((size_t)c * H + oy + y) * W + ox, t->px + ((size_t)c * t->h + y) * t->w,
                           sizeof(float) * (size_t)(ox + kw <= W ? kw : W - ox));
        }
        tile_image *swap = above;
        above = row, row = swap;
    }
    free_row(above, cols), free_row(row, cols), free(window);
    return st;
}
