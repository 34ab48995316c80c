/* The FLUX.1 transformer (BFL's flux/model.py), read top to bottom in
 * flux_dit_forward: embeddings, double-stream blocks (image and text each
 * with its own weights, one joint attention), single-stream blocks over the
 * joined sequence, the final modulated layer. Tokens are rows, text first. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/json.h"
#include "image/flux.h"

static loam_status read_config(flux_dit *d, const char *path, loam_error *err) {
    cJSON *j = NULL;
    loam_status st = loam_json_load(path, &j, err);
    int64_t in = 0, hd = 0, heads = 0, nd = 0, ns = 0, ctx = 0, pooled = 0;
    int guid = 0, n_axes = 0;
    int32_t axes[4] = {0};
    if (!st) st = loam_json_int(j, "in_channels", 0, 64, &in, path, err);
    if (!st) st = loam_json_int(j, "attention_head_dim", 1, 0, &hd, path, err);
    if (!st) st = loam_json_int(j, "num_attention_heads", 1, 0, &heads, path, err);
    if (!st) st = loam_json_int(j, "num_layers", 1, 0, &nd, path, err);
    if (!st) st = loam_json_int(j, "num_single_layers", 1, 0, &ns, path, err);
    if (!st) st = loam_json_int(j, "joint_attention_dim", 0, 4096, &ctx, path, err);
    if (!st) st = loam_json_int(j, "pooled_projection_dim", 0, 768, &pooled, path, err);
    if (!st) st = loam_json_bool(j, "guidance_embeds", 0, 0, &guid, path, err);
    if (!st) st = loam_json_int_list(j, "axes_dims_rope", axes, 4, &n_axes, path, err);
    if (!st && (in <= 0 || in > 4096 || hd <= 0 || hd % 2 || heads <= 0 || hd * heads > 65536 || nd < 0 || nd > FLUX_MAX_DOUBLE ||
                ns < 0 || ns > FLUX_MAX_SINGLE || ctx <= 0 || ctx > 65536 || pooled <= 0 || pooled > 65536))
        st = loam_fail(err, LOAM_E_FORMAT, "%s: channels, heads, head dimension, layers or text widths out of range", path);
    if (!st && (n_axes != 3 || axes[0] < 0 || axes[1] < 0 || axes[2] < 0 || axes[0] % 2 || axes[1] % 2 || axes[2] % 2 ||
                axes[0] + axes[1] + axes[2] != hd))
        st = loam_fail(err, LOAM_E_FORMAT, "%s: axes_dims_rope must be three even sizes that add up to attention_head_dim %lld",
                       path, (long long)hd);
    d->in_ch = (int)in, d->head_dim = (int)hd, d->heads = (int)heads, d->hidden = (int)(hd * heads);
    d->n_double = (int)nd, d->n_single = (int)ns, d->ctx_in = (int)ctx, d->vec_in = (int)pooled, d->guidance = guid;
    for (int i = 0; i < 3; i++) d->axes[i] = axes[i];
    d->theta = 10000.0; /* BFL's EmbedND, for both published models */
    cJSON_Delete(j);
    return st;
}

/* The same hyperparameters from a GGUF's flux.* metadata (loam synth's
 * files), for a transformer file without its folder. */
static loam_status read_gguf_config(flux_dit *d, loam_error *err) {
    const gguf_file *g = d->b.ws.gguf;
    int64_t H = 0, heads = 0, nd = 0, ns = 0, in = 0, ctx = 0, vec = 0, guid = 0;
    double theta = 10000;
    const gguf_kv *axes = gguf_find(g, "flux.axes_dim");
    int ok = gguf_get_int(g, "flux.hidden_size", &H) && gguf_get_int(g, "flux.num_heads", &heads) && gguf_get_int(g, "flux.depth", &nd) &&
             gguf_get_int(g, "flux.depth_single_blocks", &ns) && gguf_get_int(g, "flux.in_channels", &in) &&
             gguf_get_int(g, "flux.context_in_dim", &ctx) && gguf_get_int(g, "flux.vec_in_dim", &vec) && axes && axes->count == 3;
    gguf_get_int(g, "flux.guidance_embed", &guid);
    gguf_get_float(g, "flux.theta", &theta);
    double a[3] = {0};
    for (int i = 0; ok && i < 3; i++) ok = gguf_array_num(axes, (uint64_t)i, &a[i]);
    if (!ok || heads <= 0 || H % heads || H <= 0 || H > 65536 || nd < 0 || nd > FLUX_MAX_DOUBLE || ns < 0 || ns > FLUX_MAX_SINGLE || in <= 0 ||
        in > 4096 || ctx <= 0 || ctx > 65536 || vec <= 0 || vec > 65536 || a[0] + a[1] + a[2] != (double)(H / heads) || !(theta > 0))
        return loam_fail(err, LOAM_E_FORMAT, "%s: no transformer/config.json, and its flux.* metadata is missing or out of range", d->b.path);
    d->hidden = (int)H, d->heads = (int)heads, d->head_dim = (int)(H / heads), d->n_double = (int)nd, d->n_single = (int)ns;
    d->in_ch = (int)in, d->ctx_in = (int)ctx, d->vec_in = (int)vec, d->guidance = guid != 0, d->theta = theta;
    for (int i = 0; i < 3; i++) d->axes[i] = (int)a[i];
    return LOAM_OK;
}

/* BFL's name of a part -> diffusers' (FluxTransformer2DModel); %d is the block */
static const char *const DIFFUSERS_NAMES[][2] = {
    {"img_in", "x_embedder"},
    {"txt_in", "context_embedder"},
    {"time_in.in_layer", "time_text_embed.timestep_embedder.linear_1"},
    {"time_in.out_layer", "time_text_embed.timestep_embedder.linear_2"},
    {"guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1"},
    {"guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2"},
    {"vector_in.in_layer", "time_text_embed.text_embedder.linear_1"},
    {"vector_in.out_layer", "time_text_embed.text_embedder.linear_2"},
    {"final_layer.adaLN_modulation.1", "norm_out.linear"},
    {"final_layer.linear", "proj_out"},
    {"double_blocks.%d.img_mod.lin", "transformer_blocks.%d.norm1.linear"},
    {"double_blocks.%d.txt_mod.lin", "transformer_blocks.%d.norm1_context.linear"},
    {"double_blocks.%d.img_attn.proj", "transformer_blocks.%d.attn.to_out.0"},
    {"double_blocks.%d.txt_attn.proj", "transformer_blocks.%d.attn.to_add_out"},
    {"double_blocks.%d.img_mlp.0", "transformer_blocks.%d.ff.net.0.proj"},
    {"double_blocks.%d.img_mlp.2", "transformer_blocks.%d.ff.net.2"},
    {"double_blocks.%d.txt_mlp.0", "transformer_blocks.%d.ff_context.net.0.proj"},
    {"double_blocks.%d.txt_mlp.2", "transformer_blocks.%d.ff_context.net.2"},
    {"double_blocks.%d.img_attn.norm.query_norm.scale", "transformer_blocks.%d.attn.norm_q.weight"},
    {"double_blocks.%d.img_attn.norm.key_norm.scale", "transformer_blocks.%d.attn.norm_k.weight"},
    {"double_blocks.%d.txt_attn.norm.query_norm.scale", "transformer_blocks.%d.attn.norm_added_q.weight"},
    {"double_blocks.%d.txt_attn.norm.key_norm.scale", "transformer_blocks.%d.attn.norm_added_k.weight"},
    {"single_blocks.%d.modulation.lin", "single_transformer_blocks.%d.norm.linear"},
    {"single_blocks.%d.linear2", "single_transformer_blocks.%d.proj_out"},
    {"single_blocks.%d.norm.query_norm.scale", "single_transformer_blocks.%d.attn.norm_q.weight"},
    {"single_blocks.%d.norm.key_norm.scale", "single_transformer_blocks.%d.attn.norm_k.weight"},
};

/* The file's name for BFL's `bfl` (block i where it has %d). */
static const char *name_of(const flux_dit *d, const char *bfl, int i, char *out, size_t n) {
    const char *pat = bfl;
    for (size_t k = 0; d->diffusers && k < sizeof DIFFUSERS_NAMES / sizeof *DIFFUSERS_NAMES; k++)
        if (!strcmp(DIFFUSERS_NAMES[k][0], bfl)) pat = DIFFUSERS_NAMES[k][1];
    snprintf(out, n, pat, i);
    return out;
}

/* name.weight [rows, cols] and name.bias [rows] (the bias only when asked or present) */
static loam_status lin_at(flux_dit *d, const char *bfl, int block, int64_t rows, int64_t cols, int bias, flux_lin *out, loam_error *err) {
    char n[200], name[160];
    name_of(d, bfl, block, name, sizeof name);
    snprintf(n, sizeof n, "%s.weight", name);
    loam_status st = enc_linear(&d->b, n, rows, cols, &out->w, err);
    snprintf(n, sizeof n, "%s.bias", name);
    out->b = NULL;
    if (!st && (bias || enc_has(&d->b, n))) st = enc_floats(&d->b, n, rows, &out->b, err);
    return st;
}

static loam_status lin(flux_dit *d, const char *name, int64_t rows, int64_t cols, int bias, flux_lin *out, loam_error *err) {
    return lin_at(d, name, 0, rows, cols, bias, out, err);
}

/* pre (a BFL pattern) + ".query_norm.scale" / ".key_norm.scale" */
static loam_status bind_qk_norm(flux_dit *d, const char *pre, int block, float **q, float **k, loam_error *err) {
    char p[160], n[200];
    snprintf(p, sizeof p, "%s.query_norm.scale", pre);
    loam_status st = enc_floats(&d->b, name_of(d, p, block, n, sizeof n), d->head_dim, q, err);
    snprintf(p, sizeof p, "%s.key_norm.scale", pre);
    return st ? st : enc_floats(&d->b, name_of(d, p, block, n, sizeof n), d->head_dim, k, err);
}

/* A fused product: BFL's one matrix `bfl` of `rows`, or diffusers' parts
 * (each "…%d…" with its rows), side by side in that order. */
static loam_status fused(flux_dit *d, const char *bfl, int block, int64_t rows, const char *const *parts, const int64_t *part_rows, int n_parts,
                         int64_t cols, flux_fused *out, loam_error *err) {
    out->rows = (int)rows;
    if (!d->diffusers) return out->n = 1, lin_at(d, bfl, block, rows, cols, 0, &out->part[0], err);
    loam_status st = LOAM_OK;
    out->n = n_parts;
    for (int i = 0; !st && i < n_parts; i++) {
        char n[200], w[220];
        snprintf(n, sizeof n, parts[i], block);
        snprintf(w, sizeof w, "%s.weight", n);
        st = enc_linear(&d->b, w, part_rows[i], cols, &out->part[i].w, err);
        snprintf(w, sizeof w, "%s.bias", n);
        out->part[i].b = NULL;
        if (!st && enc_has(&d->b, w)) st = enc_floats(&d->b, w, part_rows[i], &out->part[i].b, err);
    }
    return st;
}

static loam_status bind_stream(flux_dit *d, int i, const char *which, flux_stream *s, loam_error *err) {
    char p[160];
    int64_t H = d->hidden;
    int img = !strcmp(which, "img");
#define NM(part) (snprintf(p, sizeof p, "double_blocks.%%d.%s_%s", which, part), p)
    loam_status st = lin_at(d, NM("mod.lin"), i, 6 * H, H, 1, &s->mod, err);
    static const char *const img_qkv[] = {"transformer_blocks.%d.attn.to_q", "transformer_blocks.%d.attn.to_k", "transformer_blocks.%d.attn.to_v"};
    static const char *const txt_qkv[] = {"transformer_blocks.%d.attn.add_q_proj", "transformer_blocks.%d.attn.add_k_proj",
                                          "transformer_blocks.%d.attn.add_v_proj"};
    const int64_t thirds[] = {H, H, H};
    if (!st) st = fused(d, NM("attn.qkv"), i, 3 * H, img ? img_qkv : txt_qkv, thirds, 3, H, &s->qkv, err);
    if (!st) st = lin_at(d, NM("attn.proj"), i, H, H, 1, &s->proj, err);
    if (!st) st = bind_qk_norm(d, NM("attn.norm"), i, &s->q_norm, &s->k_norm, err);
    /* the MLP width from the file (mlp_ratio 4 in both published models) */
    char n[200], w[220];
    snprintf(w, sizeof w, "%s.weight", name_of(d, NM("mlp.0"), i, n, sizeof n));
    const loam_tensor *m0 = st ? NULL : loam_weights_find(&d->b.ws, w);
    if (!st && !m0) st = loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" is missing", d->b.path, w);
    if (!st && !d->mlp) d->mlp = (int)(m0->shape[0] > 0 && m0->shape[0] < (1 << 20) ? m0->shape[0] : 0);
    if (!st) st = lin_at(d, NM("mlp.0"), i, d->mlp, H, 1, &s->mlp0, err);
    if (!st) st = lin_at(d, NM("mlp.2"), i, H, d->mlp, 1, &s->mlp2, err);
#undef NM
    return st;
}

static loam_status bind_single(flux_dit *d, int i, flux_single *s, loam_error *err) {
    int64_t H = d->hidden;
    loam_status st = lin_at(d, "single_blocks.%d.modulation.lin", i, 3 * H, H, 1, &s->mod, err);
    static const char *const parts[] = {"single_transformer_blocks.%d.attn.to_q", "single_transformer_blocks.%d.attn.to_k",
                                        "single_transformer_blocks.%d.attn.to_v", "single_transformer_blocks.%d.proj_mlp"};
    const int64_t rows[] = {H, H, H, d->mlp};
    if (!st) st = fused(d, "single_blocks.%d.linear1", i, 3 * H + d->mlp, parts, rows, 4, H, &s->linear1, err);
    if (!st && !d->diffusers && !s->linear1.part[0].b) st = loam_fail(err, LOAM_E_FORMAT, "%s: single_blocks.%d.linear1.bias is missing", d->b.path, i);
    if (!st) st = lin_at(d, "single_blocks.%d.linear2", i, H, H + d->mlp, 1, &s->linear2, err);
    if (!st) st = bind_qk_norm(d, "single_blocks.%d.norm", i, &s->q_norm, &s->k_norm, err);
    return st;
}

loam_status flux_dit_open(flux_dit *d, const char *weights, const char *config, loam_error *err) {
    memset(d, 0, sizeof *d);
    loam_status st = config ? read_config(d, config, err) : LOAM_OK;
    if (!st) st = enc_bind_open(&d->b, weights, err);
    if (!st && !config)
        st = d->b.ws.gguf ? read_gguf_config(d, err) : loam_fail(err, LOAM_E_ARG, "%s: a transformer without transformer/config.json must be a GGUF with flux.* metadata", weights);
    int64_t H = d->hidden;
    d->diffusers = !st && enc_has(&d->b, "x_embedder.weight");
    if (!st) st = lin(d, "img_in", H, d->in_ch, 1, &d->img_in, err);
    if (!st) st = lin(d, "txt_in", H, d->ctx_in, 1, &d->txt_in, err);
    if (!st) st = lin(d, "time_in.in_layer", H, 256, 1, &d->time_in, err);
    if (!st) st = lin(d, "time_in.out_layer", H, H, 1, &d->time_out, err);
    if (!st) st = lin(d, "vector_in.in_layer", H, d->vec_in, 1, &d->vec_in1, err);
    if (!st) st = lin(d, "vector_in.out_layer", H, H, 1, &d->vec_out, err);
    if (!st && d->guidance) st = lin(d, "guidance_in.in_layer", H, 256, 1, &d->guid_in, err);
    if (!st && d->guidance) st = lin(d, "guidance_in.out_layer", H, H, 1, &d->guid_out, err);
    if (!st) st = lin(d, "final_layer.adaLN_modulation.1", 2 * H, H, 1, &d->final_mod, err);
    if (!st) st = lin(d, "final_layer.linear", d->in_ch, H, 1, &d->final_lin, err);
    if (!st && (!(d->dbl = calloc((size_t)d->n_double + 1, sizeof *d->dbl)) || !(d->sgl = calloc((size_t)d->n_single + 1, sizeof *d->sgl))))
        st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; !st && i < d->n_double; i++) {
        st = bind_stream(d, i, "img", &d->dbl[i].img, err);
        if (!st) st = bind_stream(d, i, "txt", &d->dbl[i].txt, err);
    }
    if (!st && !d->mlp) d->mlp = 4 * d->hidden;
    for (int i = 0; !st && i < d->n_single; i++) st = bind_single(d, i, &d->sgl[i], err);
    if (st) flux_dit_close(d);
    return st;
}

void flux_dit_close(flux_dit *d) {
    enc_bind_close(&d->b);
    free(d->dbl), free(d->sgl);
    memset(d, 0, sizeof *d);
}

/* ------------------------------------------------------------ pieces */

/* emb[256] = [cos, sin](1000 t · exp(−ln(10⁴) k / 128)), in float as BFL's timestep_embedding */
static void time_embedding(float t, float *emb) {
    const int half = 128;
    float tt = 1000.0f * t, lg = (float)-log(10000.0);
    for (int k = 0; k < half; k++) {
        float arg = tt * expf(lg * (float)k / (float)half);
        emb[k] = (float)cos((double)arg), emb[half + k] = (float)sin((double)arg);
    }
}

/* out[H] = out_layer(silu(in_layer(x))) (BFL's MLPEmbedder) */
static void mlp_embed(loam_nn *nn, const flux_lin *a, const flux_lin *b, const float *x, float *tmp, float *out) {
    nn_linear(nn, x, 1, a->w, a->b, tmp);
    nn_silu(tmp, (size_t)a->w->shape[0]);
    nn_linear(nn, tmp, 1, b->w, b->b, out);
}

/* mod[n · H] = lin(silu(vec)) */
static void modulation(loam_nn *nn, const flux_lin *m, const float *vec, int H, float *tmp, float *mod) {
    memcpy(tmp, vec, sizeof(float) * (size_t)H);
    nn_silu(tmp, (size_t)H);
    nn_linear(nn, tmp, 1, m->w, m->b, mod);
}

/* y[T, f->rows] = x · [the parts side by side]ᵀ (+ their biases) */
static void fused_linear(loam_nn *nn, const flux_fused *f, const float *x, int T, float *y) {
    int at = 0;
    for (int i = 0; i < f->n; i++) {
        nn_linear_to(nn, x, T, f->part[i].w, f->part[i].b, y + at, f->rows);
        at += (int)f->part[i].w->shape[0];
    }
}

/* y[T, C] = (1 + scale) · LN(x) + shift  (LayerNorm without affine, eps 1e-6) */
static void modulate(loam_nn *nn, const float *x, int T, int C, const float *shift, const float *scale, float *y) {
    nn_layer_norm_on(nn, x, y, T, C, NULL, NULL, 1e-6f);
    for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++) y[(size_t)t * C + c] = (1.0f + scale[c]) * y[(size_t)t * C + c] + shift[c];
}

/* x[T, C] += gate · y */
static void add_gated(float *x, const float *y, int T, int C, const float *gate) {
    for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++) x[(size_t)t * C + c] += gate[c] * y[(size_t)t * C + c];
}

/* cos, sin[N, head_dim / 2] of each token's (axis0, row, column): pair m of
 * the head belongs to the axis whose slice holds it, angle = pos · θ^(−2k/d_a),
 * in double as BFL's rope(). Text rows (the first T) are at (0, 0, 0). */
static void rope_tables(const flux_dit *d, const int32_t *img_pos, int T, int L, float *cos_t, float *sin_t) {
    int half = d->head_dim / 2;
    for (int n = 0; n < T + L; n++) {
        int m = 0;
        for (int a = 0; a < 3; a++)
            for (int k = 0; k < d->axes[a] / 2; k++, m++) {
                double pos = n < T ? 0.0 : (double)img_pos[(size_t)(n - T) * 3 + a];
                double omega = 1.0 / pow(d->theta, (double)(2 * k) / (double)d->axes[a]);
                cos_t[(size_t)n * half + m] = (float)cos(pos * omega), sin_t[(size_t)n * half + m] = (float)sin(pos * omega);
            }
    }
}

/* Rows of qkv[T, 3H + extra] (q | k | v, then anything else) into q, k, v
 * at row offset `at` of the joint [N, H] arrays, q and k RMS-normed per head. */
static void split_qkv(const float *qkv, int T, int H, int width, int hd, const float *qn, const float *kn, float *q, float *k,
                      float *v, int at) {
    for (int t = 0; t < T; t++) {
        const float *r = qkv + (size_t)t * width;
        size_t o = (size_t)(at + t) * H;
        memcpy(q + o, r, sizeof(float) * (size_t)H);
        memcpy(k + o, r + H, sizeof(float) * (size_t)H);
        memcpy(v + o, r + 2 * H, sizeof(float) * (size_t)H);
    }
    nn_rms_norm(q + (size_t)at * H, q + (size_t)at * H, T * (H / hd), hd, qn, 1e-6f, 0);
    nn_rms_norm(k + (size_t)at * H, k + (size_t)at * H, T * (H / hd), hd, kn, 1e-6f, 0);
}

typedef struct {
    float *q, *k, *v, *att, *a, *b, *cos_t, *sin_t, *mod, *tmp;
} flux_work;

/* q, k, v[N, H] → RoPE → full attention → att[N, H] */
static void joint_attention(const flux_dit *d, loam_nn *nn, flux_work *w, int N) {
    nn_rope_on(nn, w->q, N, d->heads, d->head_dim, d->head_dim, 1, w->cos_t, w->sin_t);
    nn_rope_on(nn, w->k, N, d->heads, d->head_dim, d->head_dim, 1, w->cos_t, w->sin_t);
    nn_heads heads = {d->heads, d->heads, d->head_dim, 0.0f, NULL, NULL};
    nn_attention_full(nn, w->q, w->k, w->v, N, &heads, w->att);
}

/* One stream's MLP after its attention: x += g2 · mlp2(gelu(mlp0((1 + s2) LN(x) + sh2))) */
static void stream_mlp(loam_nn *nn, const flux_stream *s, float *x, int T, int H, const float *mod, flux_work *w) {
    modulate(nn, x, T, H, mod + 3 * H, mod + 4 * H, w->a);
    nn_linear(nn, w->a, T, s->mlp0.w, s->mlp0.b, w->b);
    nn_activate_on(nn, NN_ACT_GELU_TANH, w->b, (size_t)T * (size_t)s->mlp0.w->shape[0]);
    nn_linear(nn, w->b, T, s->mlp2.w, s->mlp2.b, w->a);
    add_gated(x, w->a, T, H, mod + 5 * H);
}

/* A double-stream block: txt[T, H] and img[L, H] each modulated by its own
 * weights, attended jointly (text rows first), each updated by its own proj and MLP. */
static void double_block(const flux_dit *d, loam_nn *nn, const flux_double *blk, float *txt, int T, float *img, int L,
                         const float *vec, flux_work *w) {
    int H = d->hidden;
    float *mi = w->mod, *mt = w->mod + 6 * H;
    modulation(nn, &blk->img.mod, vec, H, w->tmp, mi);
    modulation(nn, &blk->txt.mod, vec, H, w->tmp, mt);
    modulate(nn, txt, T, H, mt, mt + H, w->a);
    fused_linear(nn, &blk->txt.qkv, w->a, T, w->b);
    split_qkv(w->b, T, H, 3 * H, d->head_dim, blk->txt.q_norm, blk->txt.k_norm, w->q, w->k, w->v, 0);
    modulate(nn, img, L, H, mi, mi + H, w->a);
    fused_linear(nn, &blk->img.qkv, w->a, L, w->b);
    split_qkv(w->b, L, H, 3 * H, d->head_dim, blk->img.q_norm, blk->img.k_norm, w->q, w->k, w->v, T);
    joint_attention(d, nn, w, T + L);
    nn_linear(nn, w->att, T, blk->txt.proj.w, blk->txt.proj.b, w->a);
    add_gated(txt, w->a, T, H, mt + 2 * H);
    nn_linear(nn, w->att + (size_t)T * H, L, blk->img.proj.w, blk->img.proj.b, w->a);
    add_gated(img, w->a, L, H, mi + 2 * H);
    stream_mlp(nn, &blk->txt, txt, T, H, mt, w);
    stream_mlp(nn, &blk->img, img, L, H, mi, w);
}

/* A single-stream block over x[N, H]: one linear gives q | k | v | mlp, the
 * second takes [attention | gelu(mlp)]. */
static void single_block(const flux_dit *d, loam_nn *nn, const flux_single *blk, float *x, int N, const float *vec, flux_work *w) {
    int H = d->hidden, M = d->mlp, W1 = 3 * H + M;
    modulation(nn, &blk->mod, vec, H, w->tmp, w->mod);
    modulate(nn, x, N, H, w->mod, w->mod + H, w->a);
    fused_linear(nn, &blk->linear1, w->a, N, w->b);
    split_qkv(w->b, N, H, W1, d->head_dim, blk->q_norm, blk->k_norm, w->q, w->k, w->v, 0);
    joint_attention(d, nn, w, N);
    /* a[N, H + M] = [att | gelu(mlp)] */
    for (int n = 0; n < N; n++) {
        memcpy(w->a + (size_t)n * (H + M), w->att + (size_t)n * H, sizeof(float) * (size_t)H);
        memcpy(w->a + (size_t)n * (H + M) + H, w->b + (size_t)n * W1 + 3 * H, sizeof(float) * (size_t)M);
        nn_gelu_tanh(w->a + (size_t)n * (H + M) + H, (size_t)M);
    }
    nn_linear(nn, w->a, N, blk->linear2.w, blk->linear2.b, w->b);
    add_gated(x, w->b, N, H, w->mod + 2 * H);
}

static void work_free(flux_work *w) {
    free(w->q), free(w->k), free(w->v), free(w->att), free(w->a), free(w->b), free(w->cos_t), free(w->sin_t), free(w->mod),
        free(w->tmp);
}

static int work_alloc(const flux_dit *d, int N, flux_work *w) {
    size_t NH = (size_t)N * d->hidden, wide = (size_t)N * (size_t)(3 * d->hidden + d->mlp + d->hidden);
    memset(w, 0, sizeof *w);
    w->q = malloc(sizeof(float) * NH), w->k = malloc(sizeof(float) * NH), w->v = malloc(sizeof(float) * NH);
    w->att = malloc(sizeof(float) * NH), w->a = malloc(sizeof(float) * wide), w->b = malloc(sizeof(float) * wide);
    w->cos_t = malloc(sizeof(float) * (size_t)N * d->head_dim / 2), w->sin_t = malloc(sizeof(float) * (size_t)N * d->head_dim / 2);
    w->mod = malloc(sizeof(float) * 12 * (size_t)d->hidden), w->tmp = malloc(sizeof(float) * ((size_t)d->hidden + 256 + d->vec_in));
    int ok = w->q && w->k && w->v && w->att && w->a && w->b && w->cos_t && w->sin_t && w->mod && w->tmp;
    if (!ok) work_free(w);
    return ok;
}

/* vec[H] = time(t) (+ guidance(g)) + vector(y) */
static void conditioning(const flux_dit *d, loam_nn *nn, const float *y, float t, float guidance, flux_work *w, float *vec) {
    int H = d->hidden;
    float *emb = w->tmp, *part = w->mod, *hid = w->mod + H;
    time_embedding(t, emb);
    mlp_embed(nn, &d->time_in, &d->time_out, emb, hid, vec);
    if (d->guidance) {
        time_embedding(guidance, emb);
        mlp_embed(nn, &d->guid_in, &d->guid_out, emb, hid, part);
        nn_add(vec, part, (size_t)H);
    }
    mlp_embed(nn, &d->vec_in1, &d->vec_out, y, hid, part);
    nn_add(vec, part, (size_t)H);
}

loam_status flux_dit_forward(flux_dit *d, loam_nn *nn, const float *x, const int32_t *img_pos, int L, const float *txt, int T,
                             const float *y, float t, float guidance, float *v, float *vec_out, loam_error *err) {
    int H = d->hidden, N = T + L;
    flux_work w;
    float *seq = malloc(sizeof(float) * (size_t)N * H), *vec = malloc(sizeof(float) * (size_t)H);
    if (!seq || !vec || !work_alloc(d, N, &w)) {
        free(seq), free(vec);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory for %d tokens", N);
    }
    /* seq[N, H] = [txt_in(txt) ; img_in(x)], text first */
    float *tx = seq, *im = seq + (size_t)T * H;
    nn_linear(nn, txt, T, d->txt_in.w, d->txt_in.b, tx);
    nn_linear(nn, x, L, d->img_in.w, d->img_in.b, im);
    conditioning(d, nn, y, t, guidance, &w, vec);
    if (vec_out) memcpy(vec_out, vec, sizeof(float) * (size_t)H);
    rope_tables(d, img_pos, T, L, w.cos_t, w.sin_t);
    for (int i = 0; i < d->n_double; i++) double_block(d, nn, &d->dbl[i], tx, T, im, L, vec, &w);
    for (int i = 0; i < d->n_single; i++) single_block(d, nn, &d->sgl[i], seq, N, vec, &w);
    /* v[L, in_ch] = linear((1 + scale) LN(img) + shift): BFL's modulation is
     * (shift, scale), diffusers' (scale, shift) */
    modulation(nn, &d->final_mod, vec, H, w.tmp, w.mod);
    modulate(nn, im, L, H, w.mod + (d->diffusers ? H : 0), w.mod + (d->diffusers ? 0 : H), w.a);
    nn_linear(nn, w.a, L, d->final_lin.w, d->final_lin.b, v);
    work_free(&w);
    free(seq), free(vec);
    return nn_status(nn, err);
}

double flux_dit_ops(const flux_dit *d, int L, int T) {
    double H = d->hidden, M = d->mlp, N = (double)L + T, attn = 4.0 * N * N * H;
    double stream = 4 * H * H + 2 * H * M; /* qkv, proj, the MLP: per row */
    double dbl = 2.0 * (L + (double)T) * stream + attn, sgl = 2.0 * N * (H * (3 * H + M) + (H + M) * H) + attn;
    double io = 2.0 * L * d->in_ch * H * 2 + 2.0 * T * d->ctx_in * H;
    return d->n_double * dbl + d->n_single * sgl + io;
}
