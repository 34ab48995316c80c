/* FLUX.1 against fixtures/flux/tiny-{schnell,dev} (BFL reference goldens):
 * every stage from its golden inputs (CLIP, T5, schedule, packing, the
 * transformer's velocity and modulation vector, the Euler loop, the
 * decoder), then the whole chain from the ids, each within golden.json's
 * tolerance; layout tensors exact. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/encoders.h"
#include "loam_image.h"
#include "test.h"

static const float *g_f32(const golden *g, const char *name, size_t n) {
    const loam_tensor *t = golden_tensor(g, name);
    if (!(t && t->type == LOAM_T_F32 && (size_t)loam_tensor_nelements(t) == n))
        test_fail(__FILE__, __LINE__, "golden %s: missing or not %zu floats", name, n);
    return t && t->type == LOAM_T_F32 && (size_t)loam_tensor_nelements(t) == n ? t->data : NULL;
}

static const int32_t *g_i32(const golden *g, const char *name, int *n) {
    const loam_tensor *t = golden_tensor(g, name);
    if (!t || t->type != LOAM_T_I32) test_fail(__FILE__, __LINE__, "golden %s: missing or not I32", name);
    *n = t ? (int)loam_tensor_nelements(t) : 0;
    return t && t->type == LOAM_T_I32 ? t->data : NULL;
}

static int g_int(const golden *g, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(g->json, key);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : -1;
}

/* max |a − golden| within the golden's tolerance for `name` */
static void within(const golden *g, const char *case_name, const char *name, const float *a, size_t n) {
    const float *ref = g_f32(g, name, n);
    if (!ref || !a) return;
    double d = max_abs_diff(a, ref, n), tol = golden_tol(g, name);
    printf("    %s %s: max |diff| %.3g (tolerance %.3g)\n", case_name, name, d, tol);
    CHECK(tol >= 0 && d <= tol, "%s %s: max |diff| %g over %g", case_name, name, d, tol);
}

static void check_case(const char *case_name) {
    char dir[64];
    snprintf(dir, sizeof dir, "flux/%s", case_name);
    golden g;
    CHECK(golden_open(&g, fixture(dir)), "cannot open the goldens of %s", dir);
    if (!g.ok) return;
    loam_error err;
    loam_flux *f = NULL;
    CHECK_OK(loam_flux_open(fixture(dir), NULL, &f, &err), &err);
    if (!f) return golden_close(&g);
    loam_flux_info info;
    loam_flux_get_info(f, &info);
    int H = g_int(&g, "height"), W = g_int(&g, "width"), steps = g_int(&g, "num_steps"), n_clip = 0, T = 0;
    int L = (H / 16) * (W / 16), lat = 16 * (H / 8) * (W / 8);
    const cJSON *gj = cJSON_GetObjectItem(g.json, "guidance");
    float guidance = cJSON_IsNumber(gj) ? (float)gj->valuedouble : 0.0f;
    const int32_t *clip_ids = g_i32(&g, "clip_ids", &n_clip), *t5_ids = g_i32(&g, "t5_ids", &T);
    float *pooled = calloc((size_t)info.clip_dim, 4), *txt = calloc((size_t)T * info.t5_dim, 4), *ts = calloc((size_t)steps + 1, 4);
    float *x = calloc((size_t)lat, 4), *v = calloc((size_t)L * 64, 4), *vec = calloc(4096, 4), *img = calloc(3 * (size_t)H * W, 4);
    float *lat_u = calloc((size_t)lat, 4);
    CHECK(n_clip == info.clip_len && steps > 0 && H > 0 && W > 0, "golden shapes: %d clip ids, %d steps, %d x %d", n_clip, steps, H, W);
    if (!clip_ids || !t5_ids || n_clip != info.clip_len || steps <= 0) goto done;

    /* text encoders from the ids */
    CHECK_OK(loam_flux_encode_text(f, clip_ids, t5_ids, T, pooled, txt, &err), &err);
    within(&g, case_name, "clip_pooled", pooled, (size_t)info.clip_dim);
    within(&g, case_name, "t5_hidden", txt, (size_t)T * info.t5_dim);
    /* schedule and packing (layout exact) */
    loam_flux_schedule(f, steps, W, H, ts);
    within(&g, case_name, "timesteps", ts, (size_t)steps + 1);
    const float *noise_u = g_f32(&g, "noise_unpacked", (size_t)lat), *noise = g_f32(&g, "noise", (size_t)L * 64);
    if (!noise_u || !noise) goto done;
    loam_flux_pack(noise_u, 16, H / 8, W / 8, x);
    CHECK(max_abs_diff(x, noise, (size_t)L * 64) == 0, "%s: packing differs from the golden's", case_name);
    /* the transformer at step 0 from the golden text */
    const float *g_pooled = g_f32(&g, "clip_pooled", (size_t)info.clip_dim), *g_txt = g_f32(&g, "t5_hidden", (size_t)T * info.t5_dim);
    const float *g_ts = g_f32(&g, "timesteps", (size_t)steps + 1);
    if (!g_pooled || !g_txt || !g_ts) goto done;
    CHECK_OK(loam_flux_velocity(f, x, W, H, g_txt, T, g_pooled, g_ts[0], guidance, v, vec, &err), &err);
    within(&g, case_name, "vec_step0", vec, 64);
    within(&g, case_name, "velocity_step0", v, (size_t)L * 64);
    /* the whole Euler loop from the golden text */
    loam_flux_params p = loam_flux_default_params(f);
    p.guidance = guidance;
    CHECK_OK(loam_flux_denoise(f, x, W, H, g_txt, T, g_pooled, g_ts, steps, &p, &err), &err);
    loam_flux_unpack(x, 16, H / 8, W / 8, lat_u);
    within(&g, case_name, "latent_final", lat_u, (size_t)lat);
    /* the decoder from the golden latent */
    const float *g_lat = g_f32(&g, "latent_final", (size_t)lat);
    if (!g_lat) goto done;
    CHECK_OK(loam_flux_decode(f, g_lat, W, H, img, &err), &err);
    within(&g, case_name, "image", img, 3 * (size_t)H * W);
    /* and the whole chain from the ids: text encoders, denoising, decoding */
    loam_flux_pack(noise_u, 16, H / 8, W / 8, x);
    CHECK_OK(loam_flux_denoise(f, x, W, H, txt, T, pooled, ts, steps, &p, &err), &err);
    loam_flux_unpack(x, 16, H / 8, W / 8, lat_u);
    CHECK_OK(loam_flux_decode(f, lat_u, W, H, img, &err), &err);
    within(&g, case_name, "latent_final", lat_u, (size_t)lat);
    within(&g, case_name, "image", img, 3 * (size_t)H * W);
done:
    free(pooled), free(txt), free(ts), free(x), free(v), free(vec), free(img), free(lat_u);
    loam_flux_free(f);
    golden_close(&g);
}

static void test_schnell(void) { check_case("tiny-schnell"); }
static void test_dev(void) { check_case("tiny-dev"); }

/* transformers' bidirectional buckets: exact below 8 each side, logarithmic
 * to 128, the farthest clamped (32 buckets) */
static void test_t5_buckets(void) {
    int cases[][2] = {{0, 0}, {1, 17}, {-1, 1}, {7, 23}, {-7, 7}, {8, 24}, {-8, 8}, {12, 25}, {-200, 15}, {200, 31}, {127, 31}, {-64, 14}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int b = enc_t5_bucket(cases[i][0], 32, 128);
        CHECK(b == cases[i][1], "bucket of %d: %d, want %d", cases[i][0], b, cases[i][1]);
    }
}

/* the generator: the same seed gives the same noise, about N(0, 1) */
static void test_noise(void) {
    int W = 256, H = 256;
    size_t n = (size_t)16 * (H / 8) * (W / 8);
    float *a = malloc(n * 4), *b = malloc(n * 4);
    loam_flux_noise(42, W, H, a);
    loam_flux_noise(42, W, H, b);
    CHECK(memcmp(a, b, n * 4) == 0, "the same seed gave different noise");
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += a[i], s2 += (double)a[i] * a[i];
    double mean = s / n, var = s2 / n - mean * mean;
    CHECK(fabs(mean) < 0.03 && fabs(var - 1) < 0.05, "noise mean %g variance %g", mean, var);
    loam_flux_noise(43, W, H, b);
    CHECK(memcmp(a, b, n * 4) != 0, "another seed gave the same noise");
    free(a), free(b);
}

/* diffusers' tiled_decode restated: every tile decoded alone (tiles[i][j]
 * [3, 8th, 8tw]), then in order each blended in place with the tile above
 * and the one to its left, its first rows and columns cropped, the crops
 * concatenated. */
enum { TILE = 8, UP = 8 };
static void tiled_reference(loam_flux *whole, const float *z, int h, int w, float *image) {
    int ov = TILE * 3 / 4, sample = TILE * UP, extent = sample / 4, limit = sample - extent;
    int rows = (h + ov - 1) / ov, cols = (w + ov - 1) / ov, W = w * UP;
    float *tiles[8][8] = {{0}};
    int th[8][8], tw[8][8];
    loam_error err;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            int lh = h - i * ov < TILE ? h - i * ov : TILE, lw = w - j * ov < TILE ? w - j * ov : TILE;
            float *win = malloc(sizeof(float) * 16 * lh * lw);
            for (int c = 0; c < 16; c++)
                for (int y = 0; y < lh; y++)
                    for (int x = 0; x < lw; x++) win[(c * lh + y) * lw + x] = z[(c * h + i * ov + y) * w + j * ov + x];
            th[i][j] = lh * UP, tw[i][j] = lw * UP, tiles[i][j] = malloc(sizeof(float) * 3 * lh * UP * lw * UP);
            CHECK_OK(loam_flux_decode(whole, win, lw * UP, lh * UP, tiles[i][j], &err), &err);
            free(win);
        }
    int oy = 0;
    for (int i = 0; i < rows; i++) {
        int ox = 0;
        for (int j = 0; j < cols; j++) {
            float *b = tiles[i][j];
            int bh = th[i][j], bw = tw[i][j];
#define PX(t, wd, hh, c, y, x) (t)[((c) * (hh) + (y)) * (wd) + (x)]
            if (i > 0) {
                float *a = tiles[i - 1][j];
                int ah = th[i - 1][j], e = extent < ah ? extent : ah;
                e = e < bh ? e : bh;
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < e; y++)
                        for (int x = 0; x < bw; x++)
                            PX(b, bw, bh, c, y, x) = PX(a, bw, ah, c, ah - e + y, x) * (float)(1.0 - (double)y / e) +
                                                     PX(b, bw, bh, c, y, x) * (float)((double)y / e);
            }
            if (j > 0) {
                float *a = tiles[i][j - 1];
                int aw = tw[i][j - 1], e = extent < aw ? extent : aw;
                e = e < bw ? e : bw;
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < bh; y++)
                        for (int x = 0; x < e; x++)
                            PX(b, bw, bh, c, y, x) = PX(a, aw, bh, c, y, aw - e + x) * (float)(1.0 - (double)x / e) +
                                                     PX(b, bw, bh, c, y, x) * (float)((double)x / e);
            }
            int kh = bh < limit ? bh : limit, kw = bw < limit ? bw : limit;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < kh; y++)
                    for (int x = 0; x < kw; x++) image[(c * h * UP + oy + y) * W + ox + x] = PX(b, bw, bh, c, y, x);
#undef PX
            ox += kw;
        }
        oy += th[i][0] < limit ? th[i][0] : limit;
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) free(tiles[i][j]);
}

/* Tiled decoding (--vae-tile-size): equal to diffusers' tiled_decode
 * restated above, close to the whole image; a tile as large as the image,
 * or the default on a small image, is the whole-image decode itself. */
static void test_vae_tiles(void) {
    int h = 16, w = 22, H = h * UP, W = w * UP; /* tiles at 0, 6, 12 (rows) and 0 … 18 (columns), edges of 4 */
    size_t n_img = (size_t)3 * H * W, n_lat = (size_t)16 * h * w;
    float *z = malloc(n_lat * 4), *whole = malloc(n_img * 4), *tiled = malloc(n_img * 4), *ref = calloc(n_img, 4);
    loam_flux_noise(7, W, H, z);
    loam_error err;
    loam_flux_open_params op = loam_flux_default_open_params();
    loam_flux *fw = NULL, *ft = NULL, *fbig = NULL;
    CHECK_OK(loam_flux_open(fixture("flux/tiny-schnell"), &op, &fw, &err), &err); /* default: whole, it fits */
    op.vae_tile = TILE * UP;
    CHECK_OK(loam_flux_open(fixture("flux/tiny-schnell"), &op, &ft, &err), &err);
    op.vae_tile = 256; /* one tile (32 latent pixels) holds it all */
    CHECK_OK(loam_flux_open(fixture("flux/tiny-schnell"), &op, &fbig, &err), &err);
    if (fw && ft && fbig) {
        CHECK_OK(loam_flux_decode(fw, z, W, H, whole, &err), &err);
        CHECK_OK(loam_flux_decode(ft, z, W, H, tiled, &err), &err);
        tiled_reference(fw, z, h, w, ref);
        double d_ref = max_abs_diff(tiled, ref, n_img), mean = 0, size = 0;
        for (size_t i = 0; i < n_img; i++) mean += fabs(tiled[i] - whole[i]), size += fabs(whole[i]);
        mean /= (double)n_img, size /= (double)n_img;
        printf("    %d x %d in %d-pixel tiles: max |diff| to diffusers' tiling %.3g; mean |diff| to the whole image %.3g (mean |pixel| %.3g)\n",
               W, H, TILE * UP, d_ref, mean, size);
        CHECK(d_ref <= 1e-6, "tiled decode differs from diffusers' tiled_decode by %g", d_ref);
        /* the tiny random decoder at 4-latent tiles: GroupNorm over a tile
         * differs from the whole, so only "the same picture, not another" */
        CHECK(mean > 0 && mean < 0.5 * size, "tiled decode's mean |diff| to the whole image: %g (mean |pixel| %g)", mean, size);
        CHECK_OK(loam_flux_decode(fbig, z, W, H, tiled, &err), &err);
        CHECK(memcmp(tiled, whole, n_img * 4) == 0, "a tile as large as the image changed the decode");
    }
    loam_flux_free(fw), loam_flux_free(ft), loam_flux_free(fbig);
    free(z), free(whole), free(tiled), free(ref);
}

void register_image_tests(void) {
    test_add("image: T5 relative-position buckets", test_t5_buckets);
    test_add("image: seeded noise reproduces and is N(0, 1)", test_noise);
    test_add("image: FLUX.1 schnell tiny: every stage and the whole chain within the BFL goldens", test_schnell);
    test_add("image: tiled VAE decoding equals diffusers' tiled_decode; one tile is the whole decode", test_vae_tiles);
    test_add("image: FLUX.1 dev tiny: every stage and the whole chain within the BFL goldens", test_dev);
}
