/* The FLUX.1 autoencoder's decoder (BFL's modules/autoencoder.py), read top
 * to bottom in flux_vae_decode. Feature maps are channels-last [h · w, C]
 * (a row per pixel), so every convolution is a product of nn/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/json.h"
#include "image/flux.h"

loam_status flux_vae_open(flux_vae *a, const char *weights, const char *config, loam_error *err) {
    memset(a, 0, sizeof *a);
    cJSON *j = NULL;
    loam_status st = loam_json_load(config, &j, err);
    int32_t boc[8] = {0};
    int n = 0;
    int64_t layers = 0, z = 0, groups = 0, sample = 0;
    double scale = 0, shift = 0;
    if (!st) st = loam_json_int_list(j, "block_out_channels", boc, 8, &n, config, err);
    if (!st) st = loam_json_int(j, "layers_per_block", 0, 2, &layers, config, err);
    if (!st) st = loam_json_int(j, "latent_channels", 0, 16, &z, config, err);
    if (!st) st = loam_json_int(j, "norm_num_groups", 0, 32, &groups, config, err);
    if (!st) st = loam_json_float(j, "scaling_factor", 1, 0, &scale, config, err);
    /* the image size it was trained at: diffusers' tile size when tiling */
    if (!st && !cJSON_IsArray(cJSON_GetObjectItem(j, "sample_size")))
        st = loam_json_int(j, "sample_size", 0, 1024, &sample, config, err);
    else if (!st) sample = 1024;
    if (!st) st = loam_json_float(j, "shift_factor", 0, 0, &shift, config, err);
    cJSON_Delete(j);
    if (!st && (n < 1 || layers < 1 || layers > 16 || sample < 8 || sample > 65536 || z < 1 || z > 1024 || groups < 1 || scale == 0))
        st = loam_fail(err, LOAM_E_FORMAT, "%s: block_out_channels, layers_per_block, latent_channels, norm_num_groups or scaling_factor out of range", config);
    for (int i = 0; !st && i < n; i++)
        if (boc[i] <= 0 || boc[i] > 8192 || boc[i] % boc[0] || boc[i] % groups)
            st = loam_fail(err, LOAM_E_FORMAT, "%s: block_out_channels must be multiples of the first and of norm_num_groups", config);
    if (st) return st;
    a->ch = boc[0], a->n_levels = n, a->n_res = (int)layers, a->z_ch = (int)z, a->groups = (int)groups;
    a->sample_size = (int)sample;
    for (int i = 0; i < n; i++) a->mult[i] = boc[i] / boc[0];
    a->scale = (float)scale, a->shift = (float)shift;
    return enc_bind_open(&a->b, weights, err);
}

void flux_vae_close(flux_vae *a) {
    enc_bind_close(&a->b);
    memset(a, 0, sizeof *a);
}

/* The decoder works through one state: the feature map and two spares. */
typedef struct {
    flux_vae *a;
    loam_nn *nn;
    float *x, *t1, *t2; /* [h · w, C] each, sized for the largest map */
    int h, w, C;
    loam_status st;
    loam_error *err;
} vae_run;

static const float *vec(vae_run *r, const char *name, int n) {
    float *out = NULL;
    if (!r->st) r->st = enc_floats(&r->a->b, name, n, &out, r->err);
    return out;
}

/* out = conv k × k of in[H · W, C_in] with stride and zero padding pad */
static void conv_at(vae_run *r, const char *name, const float *in, int H, int W, int C_in, int C_out, int k, int stride, int pad,
                    float *out) {
    char n[200];
    const loam_tensor *w = NULL;
    int64_t shape[4] = {C_out, C_in, k, k};
    snprintf(n, sizeof n, "%s.weight", name);
    if (!r->st) r->st = enc_matrix(&r->a->b, n, 4, shape, &w, r->err);
    snprintf(n, sizeof n, "%s.bias", name);
    const float *b = vec(r, n, C_out);
    if (!r->st) nn_conv2d(r->nn, in, H, W, C_in, w, b, stride, pad, out);
}

/* out[h · w, C_out] = conv k × k (stride 1, same padding) of in[h · w, C_in] */
static void conv(vae_run *r, const char *name, const float *in, int C_in, int C_out, int k, float *out) {
    conv_at(r, name, in, r->h, r->w, C_in, C_out, k, 1, k / 2, out);
}

/* out = swish(GroupNorm(in)) (swish optional) */
static void norm(vae_run *r, const char *name, const float *in, int C, int swish, float *out) {
    char n[200];
    snprintf(n, sizeof n, "%s.weight", name);
    const float *w = vec(r, n, C);
    snprintf(n, sizeof n, "%s.bias", name);
    const float *b = vec(r, n, C);
    if (r->st) return;
    nn_group_norm_on(r->nn, in, out, r->h * r->w, C, r->a->groups, w, b, 1e-6f);
    if (swish) nn_activate_on(r->nn, NN_ACT_SILU, out, (size_t)r->h * r->w * C);
}

/* x[C_in] -> x[C_out] = shortcut(x) + conv2(swish(norm2(conv1(swish(norm1(x)))))) */
static void resnet(vae_run *r, const char *pre, int C_out) {
    char n[200];
    int C_in = r->C;
    size_t px = (size_t)r->h * r->w;
    snprintf(n, sizeof n, "%s.norm1", pre), norm(r, n, r->x, C_in, 1, r->t1);
    snprintf(n, sizeof n, "%s.conv1", pre), conv(r, n, r->t1, C_in, C_out, 3, r->t2);
    snprintf(n, sizeof n, "%s.norm2", pre), norm(r, n, r->t2, C_out, 1, r->t2);
    snprintf(n, sizeof n, "%s.conv2", pre), conv(r, n, r->t2, C_out, C_out, 3, r->t1);
    if (C_in != C_out) { /* the 1 × 1 nin_shortcut, into t2 */
        snprintf(n, sizeof n, "%s.nin_shortcut", pre), conv(r, n, r->x, C_in, C_out, 1, r->t2);
        if (!r->st) memcpy(r->x, r->t2, sizeof(float) * px * C_out);
    }
    if (!r->st) nn_add(r->x, r->t1, px * C_out);
    r->C = C_out;
}

/* x += proj_out(attention(q, k, v of norm(x))): one head over every pixel, scale 1/√C */
static void mid_attention(vae_run *r, const char *pre, float *q, float *k, float *v) {
    char n[200];
    int C = r->C;
    size_t px = (size_t)r->h * r->w;
    snprintf(n, sizeof n, "%s.norm", pre), norm(r, n, r->x, C, 0, r->t1);
    snprintf(n, sizeof n, "%s.q", pre), conv(r, n, r->t1, C, C, 1, q);
    snprintf(n, sizeof n, "%s.k", pre), conv(r, n, r->t1, C, C, 1, k);
    snprintf(n, sizeof n, "%s.v", pre), conv(r, n, r->t1, C, C, 1, v);
    nn_heads heads = {1, 1, C, 0.0f, NULL, NULL};
    if (!r->st) nn_attention_full(r->nn, q, k, v, (int)px, &heads, r->t2);
    snprintf(n, sizeof n, "%s.proj_out", pre), conv(r, n, r->t2, C, C, 1, r->t1);
    if (!r->st) nn_add(r->x, r->t1, px * C);
}

/* nearest 2x, then a 3 × 3 conv */
static void upsample(vae_run *r, const char *pre) {
    char n[200];
    nn_upsample2x(r->x, r->h, r->w, r->C, r->t1);
    r->h *= 2, r->w *= 2;
    snprintf(n, sizeof n, "%s.conv", pre), conv(r, n, r->t1, r->C, r->C, 3, r->x);
}

/* zero row and column added at the bottom and right, then a 3 × 3 conv of stride 2 (BFL's Downsample) */
static void downsample(vae_run *r, const char *pre) {
    char n[200];
    int H = r->h + 1, W = r->w + 1, C = r->C;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < C; c++)
                r->t1[((size_t)y * W + x) * C + c] = y < r->h && x < r->w ? r->x[((size_t)y * r->w + x) * C + c] : 0.0f;
    snprintf(n, sizeof n, "%s.conv", pre), conv_at(r, n, r->t1, H, W, C, C, 3, 2, 0, r->x);
    r->h /= 2, r->w /= 2;
}

loam_status flux_vae_encode(flux_vae *a, loam_nn *nn, const float *image, int H, int W, float *z, loam_error *err) {
    int top = a->ch * a->mult[a->n_levels - 1], down = 1 << (a->n_levels - 1);
    if (H <= 0 || W <= 0 || H % (2 * down) || W % (2 * down) || (int64_t)H * W > (1 << 26))
        return loam_fail(err, LOAM_E_RANGE, "a %d x %d image is outside what the encoder takes", W, H);
    /* the largest map: level lvl runs at 1/2^lvl of the image (plus the
     * downsample's padding row and column), holding its channels or those
     * carried down from the level before */
    size_t cap = (size_t)H * W * 3, lat = (size_t)(H / down) * (W / down);
    for (int lvl = 0; lvl < a->n_levels; lvl++) {
        int c = a->ch * a->mult[lvl], before = lvl ? a->ch * a->mult[lvl - 1] : a->ch, f = 1 << lvl;
        size_t need = (size_t)(H / f + 1) * (size_t)(W / f + 1) * (size_t)(c > before ? c : before);
        cap = need > cap ? need : cap;
    }
    cap = lat * 2 * (size_t)a->z_ch > cap ? lat * 2 * (size_t)a->z_ch : cap;
    vae_run r = {a, nn, malloc(sizeof(float) * cap), malloc(sizeof(float) * cap), malloc(sizeof(float) * cap), H, W, 3, LOAM_OK, err};
    size_t mid_px = lat;
    float *att = malloc(sizeof(float) * mid_px * 3 * top);
    if (!r.x || !r.t1 || !r.t2 || !att) {
        free(r.x), free(r.t1), free(r.t2), free(att);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory for a %d x %d image", W, H);
    }
    for (size_t p = 0; p < (size_t)H * W; p++) /* channels last */
        for (int c = 0; c < 3; c++) r.t2[p * 3 + c] = image[(size_t)c * H * W + p];
    conv(&r, "encoder.conv_in", r.t2, 3, a->ch, 3, r.x);
    r.C = a->ch;
    char n[128];
    for (int lvl = 0; lvl < a->n_levels; lvl++) {
        for (int b = 0; b < a->n_res; b++) {
            snprintf(n, sizeof n, "encoder.down.%d.block.%d", lvl, b);
            resnet(&r, n, a->ch * a->mult[lvl]);
        }
        if (lvl != a->n_levels - 1) snprintf(n, sizeof n, "encoder.down.%d.downsample", lvl), downsample(&r, n);
    }
    resnet(&r, "encoder.mid.block_1", top);
    mid_attention(&r, "encoder.mid.attn_1", att, att + mid_px * top, att + 2 * mid_px * top);
    resnet(&r, "encoder.mid.block_2", top);
    norm(&r, "encoder.norm_out", r.x, r.C, 1, r.t1);
    conv(&r, "encoder.conv_out", r.t1, r.C, 2 * a->z_ch, 3, r.t2);
    /* the mean half of the moments (the distribution's mode), scaled: z = scale (mean − shift) */
    if (!r.st)
        for (size_t p = 0; p < lat; p++)
            for (int c = 0; c < a->z_ch; c++) z[(size_t)c * lat + p] = a->scale * (r.t2[p * 2 * a->z_ch + c] - a->shift);
    free(r.x), free(r.t1), free(r.t2), free(att);
    loam_status nst = nn_status(nn, r.st ? NULL : err);
    return r.st ? r.st : nst;
}

loam_status flux_vae_decode(flux_vae *a, loam_nn *nn, const float *z, int h, int w, float *image, loam_error *err) {
    int top = a->ch * a->mult[a->n_levels - 1], up = 1 << (a->n_levels - 1);
    if (h <= 0 || w <= 0 || (int64_t)h * w * up * up > (1 << 26))
        return loam_fail(err, LOAM_E_RANGE, "a %d x %d latent is outside what the decoder takes", h, w);
    /* the largest map: level lvl runs at 2^(levels − 1 − lvl) × the latent,
     * holding its own channels or those carried up from the level above */
    size_t px = (size_t)h * w, cap = px * (size_t)(a->z_ch > top ? a->z_ch : top);
    for (int lvl = 0; lvl < a->n_levels; lvl++) {
        int c = a->ch * a->mult[lvl], above = lvl + 1 < a->n_levels ? a->ch * a->mult[lvl + 1] : top;
        size_t f = (size_t)1 << (a->n_levels - 1 - lvl), need = px * f * f * (size_t)(c > above ? c : above);
        cap = need > cap ? need : cap;
    }
    vae_run r = {a, nn, malloc(sizeof(float) * cap), malloc(sizeof(float) * cap), malloc(sizeof(float) * cap), h, w, a->z_ch,
                 LOAM_OK, err};
    float *att = malloc(sizeof(float) * px * 3 * top);
    if (!r.x || !r.t1 || !r.t2 || !att) {
        free(r.x), free(r.t1), free(r.t2), free(att);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory for a %d x %d image", 8 * h, 8 * w);
    }
    /* x[h · w, z_ch] = z / scale + shift, channels last */
    for (size_t p = 0; p < px; p++)
        for (int c = 0; c < a->z_ch; c++) r.x[p * a->z_ch + c] = z[(size_t)c * px + p] / a->scale + a->shift;
    conv(&r, "decoder.conv_in", r.x, a->z_ch, top, 3, r.t1);
    if (!r.st) memcpy(r.x, r.t1, sizeof(float) * px * top);
    r.C = top;
    resnet(&r, "decoder.mid.block_1", top);
    mid_attention(&r, "decoder.mid.attn_1", att, att + px * top, att + 2 * px * top);
    resnet(&r, "decoder.mid.block_2", top);
    char n[128];
    for (int lvl = a->n_levels - 1; lvl >= 0; lvl--) {
        for (int b = 0; b <= a->n_res; b++) {
            snprintf(n, sizeof n, "decoder.up.%d.block.%d", lvl, b);
            resnet(&r, n, a->ch * a->mult[lvl]);
        }
        if (lvl != 0) snprintf(n, sizeof n, "decoder.up.%d.upsample", lvl), upsample(&r, n);
    }
    norm(&r, "decoder.norm_out", r.x, r.C, 1, r.t1);
    conv(&r, "decoder.conv_out", r.t1, r.C, 3, 3, r.t2);
    /* image[3, H, W] from channels last */
    size_t out_px = (size_t)r.h * r.w;
    if (!r.st)
        for (size_t p = 0; p < out_px; p++)
            for (int c = 0; c < 3; c++) image[(size_t)c * out_px + p] = r.t2[p * 3 + c];
    free(r.x), free(r.t1), free(r.t2), free(att);
    loam_status nst = nn_status(nn, r.st ? NULL : err);
    return r.st ? r.st : nst;
}
