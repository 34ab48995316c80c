/* Opening a model folder: config.json -> spec (through the family),
 * safetensors -> tensors bound to roles with their shapes checked against
 * the spec, generation_config.json -> sampling defaults. */
#include "loam_tools.h"
#include "text/context.h"
#include "text/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/sys.h"
#include "formats/json.h"
#include "tokenizer/tokenizer.h"

loam_model_params loam_model_default_params(void) {
    loam_model_params p = {.n_threads = 0, .simd = LOAM_SIMD_AUTO, .quant_exact = 0};
    return p;
}

static const loam_family *find_family(const cJSON *config, const char *path, loam_error *err) {
    const cJSON *archs = loam_json_get(config, "architectures");
    const cJSON *type = loam_json_get(config, "model_type");
    const char *arch = NULL;
    /* null is absence, [] says nothing (model_type decides); any other shape is a broken file */
    const cJSON *item;
    int archs_ok = !archs || cJSON_IsArray(archs);
    cJSON_ArrayForEach(item, archs) archs_ok = archs_ok && cJSON_IsString(item);
    if (!archs_ok) {
        loam_fail(err, LOAM_E_FORMAT, "%s: \"architectures\" must be a list of class names", path);
        return NULL;
    }
    if (type && !cJSON_IsString(type)) {
        loam_fail(err, LOAM_E_FORMAT, "%s: \"model_type\" must be a string", path);
        return NULL;
    }
    if (cJSON_GetArraySize(archs) > 0) arch = cJSON_GetArrayItem(archs, 0)->valuestring;
    const char *model_type = type ? type->valuestring : NULL;
    for (int i = 0; loam_families[i]; i++) {
        const loam_family *f = loam_families[i];
        for (int a = 0; arch && a < 4 && f->architectures[a]; a++)
            if (strcmp(arch, f->architectures[a]) == 0) return f;
        if (!arch && model_type && strcmp(model_type, f->model_type) == 0) return f;
    }
    char supported[512] = "";
    size_t at = 0;
    for (int i = 0; loam_families[i] && at < sizeof supported; i++)
        at += (size_t)snprintf(supported + at, sizeof supported - at, "%s%s (%s)", i ? ", " : "",
                               loam_families[i]->architectures[0], loam_families[i]->model_type);
    if (!arch && !model_type)
        loam_fail(err, LOAM_E_FORMAT, "%s: neither \"architectures\" nor \"model_type\" is given; supported: %s",
                  path, supported);
    else
        loam_fail(err, LOAM_E_UNSUPPORTED, "%s: architecture \"%s\" (model_type \"%s\") is not supported; supported: %s",
                  path, arch ? arch : "?", model_type ? model_type : "?", supported);
    return NULL;
}

/* Special token ids name rows of the vocabulary (bos -1 = none). */
loam_status loam_spec_check_token_ids(const loam_spec *s, const char *path, loam_error *err) {
    if (s->bos_id < -1 || s->bos_id >= s->n_vocab)
        return loam_fail(err, LOAM_E_FORMAT, "%s: bos_token_id %d is outside the vocabulary of %d tokens", path, s->bos_id, s->n_vocab);
    for (int i = 0; i < s->n_eos; i++)
        if (s->eos_ids[i] < 0 || s->eos_ids[i] >= s->n_vocab)
            return loam_fail(err, LOAM_E_FORMAT, "%s: eos_token_id %d is outside the vocabulary of %d tokens", path, s->eos_ids[i],
                             s->n_vocab);
    return LOAM_OK;
}

loam_status loam_spec_validate(const loam_spec *s, const char *path, loam_error *err) {
    if (s->n_layers <= 0 || s->n_embd <= 0 || s->n_heads <= 0 || s->n_kv_heads <= 0 || s->head_dim <= 0 ||
        s->n_ff <= 0 || s->n_vocab <= 0)
        return loam_fail(err, LOAM_E_FORMAT, "%s: sizes must be positive (layers %d, hidden %d, heads %d, kv heads %d, head_dim %d, ffn %d, vocab %d)",
                         path, s->n_layers, s->n_embd, s->n_heads, s->n_kv_heads, s->head_dim, s->n_ff, s->n_vocab);
    /* Bounds keep every product below in range for int and size_t. */
    if (s->n_layers > 4096 || s->n_embd > 1 << 17 || s->n_heads > 1024 || s->head_dim > 4096 ||
        s->n_ff > 1 << 20 || s->n_vocab > 1 << 22 || (int64_t)s->n_heads * s->head_dim > 1 << 17)
        return loam_fail(err, LOAM_E_FORMAT, "%s: sizes are implausibly large", path);
    if (s->n_heads % s->n_kv_heads != 0)
        return loam_fail(err, LOAM_E_FORMAT, "%s: %d attention heads are not a multiple of %d key/value heads",
                         path, s->n_heads, s->n_kv_heads);
    if (s->pos == LOAM_POS_ROPE && (s->rope_dim <= 0 || s->rope_dim > s->head_dim || s->rope_dim % 2))
        return loam_fail(err, LOAM_E_FORMAT, "%s: rotary dims %d do not fit head_dim %d", path, s->rope_dim,
                         s->head_dim);
    if (s->pos == LOAM_POS_ROPE && !(s->rope_theta > 0))
        return loam_fail(err, LOAM_E_FORMAT, "%s: rope_theta must be positive", path);
    if (s->pos == LOAM_POS_ALIBI && !(s->alibi_bias_max > 0))
        return loam_fail(err, LOAM_E_FORMAT, "%s: alibi_bias_max must be positive", path);
    if (s->attn_scale < 0 || s->clip_qkv < 0)
        return loam_fail(err, LOAM_E_FORMAT, "%s: softmax scale and clip_qkv must not be negative", path);
    if (!(s->norm_eps >= 0))
        return loam_fail(err, LOAM_E_FORMAT, "%s: the norm epsilon must not be negative", path);
    if (s->n_ctx_train <= 0)
        return loam_fail(err, LOAM_E_FORMAT, "%s: the trained context length (max_position_embeddings) must be positive, not %d", path,
                         s->n_ctx_train);
    return loam_spec_check_token_ids(s, path, err);
}

/* ------------------------------------------------------------ binding */

/* The shape a role must have under the spec; n_dims 0 = role unused. */
static int global_shape(const loam_spec *s, int role, int64_t shape[2]) {
    int layer_norm = s->norm == LOAM_NORM_LAYER;
    switch (role) {
    case LOAM_G_TOK_EMB: shape[0] = s->n_vocab, shape[1] = s->n_embd; return 2;
    case LOAM_G_EMB_NORM_W: shape[0] = s->n_embd; return s->emb_norm;
    case LOAM_G_EMB_NORM_B: shape[0] = s->n_embd; return s->emb_norm && layer_norm && s->norm_bias;
    case LOAM_G_OUT_NORM_W: shape[0] = s->n_embd; return 1;
    case LOAM_G_OUT_NORM_B: shape[0] = s->n_embd; return layer_norm && s->norm_bias;
    case LOAM_G_LM_HEAD: shape[0] = s->n_vocab, shape[1] = s->n_embd; return s->tied_lm_head ? 0 : 2;
    case LOAM_G_LM_HEAD_B: shape[0] = s->n_vocab; return s->lm_head_bias;
    case LOAM_G_ROPE_FREQS: shape[0] = s->rope_dim / 2; return s->rope_freq_tensor;
    }
    return 0;
}

static int layer_shape(const loam_spec *s, int role, int64_t shape[2]) {
    int64_t q = (int64_t)s->n_heads * s->head_dim, kv = (int64_t)s->n_kv_heads * s->head_dim;
    int layer_norm = s->norm == LOAM_NORM_LAYER, sep = s->qkv == LOAM_QKV_SEPARATE;
    int ffn_norm = !s->parallel_block || s->parallel_two_norms;
    switch (role) {
    case LOAM_L_ATTN_NORM_W: shape[0] = s->n_embd; return 1;
    case LOAM_L_ATTN_NORM_B: shape[0] = s->n_embd; return layer_norm && s->norm_bias;
    case LOAM_L_FFN_NORM_W: shape[0] = s->n_embd; return ffn_norm;
    case LOAM_L_FFN_NORM_B: shape[0] = s->n_embd; return ffn_norm && layer_norm && s->norm_bias;
    case LOAM_L_WQ: shape[0] = q, shape[1] = s->n_embd; return sep ? 2 : 0;
    case LOAM_L_WK: shape[0] = kv, shape[1] = s->n_embd; return sep ? 2 : 0;
    case LOAM_L_WV: shape[0] = kv, shape[1] = s->n_embd; return sep ? 2 : 0;
    case LOAM_L_BQ: shape[0] = q; return sep && s->qkv_bias;
    case LOAM_L_BK: shape[0] = kv; return sep && s->qkv_bias;
    case LOAM_L_BV: shape[0] = kv; return sep && s->qkv_bias;
    case LOAM_L_WQKV: shape[0] = q + 2 * kv, shape[1] = s->n_embd; return sep ? 0 : 2;
    case LOAM_L_BQKV: shape[0] = q + 2 * kv; return !sep && s->qkv_bias;
    case LOAM_L_WO: shape[0] = s->n_embd, shape[1] = q; return 2;
    case LOAM_L_BO: shape[0] = s->n_embd; return s->out_bias;
    case LOAM_L_W_GATE: shape[0] = s->n_ff, shape[1] = s->n_embd; return s->mlp_gated ? 2 : 0;
    case LOAM_L_W_UP: shape[0] = s->n_ff, shape[1] = s->n_embd; return 2;
    case LOAM_L_W_DOWN: shape[0] = s->n_embd, shape[1] = s->n_ff; return 2;
    case LOAM_L_B_UP: shape[0] = s->n_ff; return s->mlp_bias;
    case LOAM_L_B_DOWN: shape[0] = s->n_embd; return s->mlp_bias;
    }
    return 0;
}

/* Looks a tensor up under each of the family's prefixes and checks its
 * dtype and shape. */
static loam_status bind_one(loam_model *m, const char *name, int n_dims, const int64_t *shape,
                            const loam_tensor **out, loam_error *err) {
    const loam_tensor *t = NULL;
    char full[512];
    for (int p = 0; p < 3 && !t; p++) {
        const char *prefix = m->family->name_prefixes[p];
        if (!prefix) break;
        snprintf(full, sizeof full, "%s%s", prefix, name);
        t = loam_weights_find(&m->store, full);
    }
    if (!t) return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" is missing", m->path, name);
    if (!loam_kernels_supports(t->type))
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: tensor \"%s\" has type %s, which loam cannot compute with",
                         t->file, t->name, t->stored_type ? t->stored_type : loam_type_name(t->type));
    int ok = t->n_dims == n_dims;
    for (int d = 0; ok && d < n_dims; d++) ok = t->shape[d] == shape[d];
    if (!ok) {
        char have[96], want[96];
        loam_tensor w = {.n_dims = n_dims};
        for (int d = 0; d < n_dims; d++) w.shape[d] = shape[d];
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" has shape %s but %s implies %s", t->file,
                         t->name, loam_shape_str(t, have, sizeof have), m->family == &loam_family_gguf ? "its metadata" : "config.json",
                         loam_shape_str(&w, want, sizeof want));
    }
    *out = t;
    return LOAM_OK;
}

static void count_tensor(loam_model *m, const loam_tensor *t, const loam_tensor **seen, int *n_seen) {
    for (int i = 0; i < *n_seen; i++)
        if (seen[i] == t) return;
    seen[(*n_seen)++] = t;
    m->n_params += loam_tensor_nelements(t);
    m->weight_bytes += t->n_bytes;
}

/* f32 copy of a 1-D tensor (norm weight or bias). */
static loam_status vec_copy(const loam_tensor *t, float **out, loam_error *err) {
    *out = NULL;
    if (!t || t->n_dims != 1) return LOAM_OK;
    *out = malloc((size_t)t->shape[0] * sizeof **out);
    if (!*out) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    loam_row_to_f32(t->data, t->type, 0, (int)t->shape[0], *out);
    return LOAM_OK;
}

static loam_status bind_weights(loam_model *m, loam_error *err) {
    const loam_spec *s = &m->spec;
    m->layer = calloc((size_t)s->n_layers, sizeof *m->layer);
    const loam_tensor **seen = calloc((size_t)(LOAM_G_COUNT + s->n_layers * LOAM_L_COUNT), sizeof *seen);
    int n_seen = 0;
    if (!m->layer || !seen) {
        free(seen);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    loam_status st = LOAM_OK;
    int64_t shape[2];
    for (int r = 0; r < LOAM_G_COUNT && !st; r++) {
        int nd = global_shape(s, r, shape);
        if (!nd) continue;
        if (!m->family->global_names[r]) {
            st = loam_fail(err, LOAM_E_UNSUPPORTED, "%s: this configuration needs a tensor the %s family has no name for",
                           m->path, m->family->model_type);
            break;
        }
        st = bind_one(m, m->family->global_names[r], nd, shape, &m->global[r], err);
        if (!st) count_tensor(m, m->global[r], seen, &n_seen);
    }
    if (!st && s->tied_lm_head) m->global[LOAM_G_LM_HEAD] = m->global[LOAM_G_TOK_EMB];
    for (int l = 0; l < s->n_layers && !st; l++) {
        for (int r = 0; r < LOAM_L_COUNT && !st; r++) {
            int nd = layer_shape(s, r, shape);
            if (!nd) continue;
            const char *pattern = m->family->layer_name_for ? m->family->layer_name_for(s, r) : NULL;
            if (!pattern) pattern = m->family->layer_names[r];
            if (!pattern) {
                st = loam_fail(err, LOAM_E_UNSUPPORTED, "%s: this configuration needs a tensor the %s family has no name for",
                               m->path, m->family->model_type);
                break;
            }
            char name[256];
            snprintf(name, sizeof name, pattern, l);
            st = bind_one(m, name, nd, shape, &m->layer[l][r], err);
            if (!st) count_tensor(m, m->layer[l][r], seen, &n_seen);
        }
    }
    free(seen);
    if (!st && !(m->layer_vec = calloc((size_t)s->n_layers, sizeof *m->layer_vec)))
        st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int r = 0; r < LOAM_G_COUNT && !st; r++)
        if (r != LOAM_G_LM_HEAD && r != LOAM_G_TOK_EMB) st = vec_copy(m->global[r], &m->global_vec[r], err);
    for (int l = 0; l < s->n_layers && !st; l++)
        for (int r = 0; r < LOAM_L_COUNT && !st; r++) st = vec_copy(m->layer[l][r], &m->layer_vec[l][r], err);
    if (!st) {
        const loam_tensor *main = m->layer[0][LOAM_L_W_UP];
        m->weight_type = main ? main->type : m->global[LOAM_G_TOK_EMB]->type;
    }
    return st;
}

/* --------------------------------------------------------- positions */

/* Rotary frequencies, as transformers computes them (llama3 scaling:
 * low frequencies divided by `factor`, high kept, the band between
 * interpolated). */
static loam_status init_rope(loam_model *m, loam_error *err) {
    const loam_spec *s = &m->spec;
    int half = s->rope_dim / 2;
    m->rope_inv_freq = malloc((size_t)half * sizeof *m->rope_inv_freq);
    if (!m->rope_inv_freq) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; i < half; i++) {
        /* transformers computes this in float32 */
        float exponent = (float)(2 * i) / (float)s->rope_dim;
        float inv = 1.0f / powf((float)s->rope_theta, exponent);
        if (s->rope_scaling == LOAM_ROPE_SCALING_LLAMA3) {
            double low_wavelen = s->rope_original_ctx / s->rope_low_freq_factor;
            double high_wavelen = s->rope_original_ctx / s->rope_high_freq_factor;
            double wavelen = 2.0 * M_PI / inv;
            if (wavelen > low_wavelen) {
                inv = (float)(inv / s->rope_factor);
            } else if (wavelen >= high_wavelen) {
                double smooth = (s->rope_original_ctx / wavelen - s->rope_low_freq_factor) /
                                (s->rope_high_freq_factor - s->rope_low_freq_factor);
                inv = (float)((1.0 - smooth) * inv / s->rope_factor + smooth * inv);
            }
        }
        if (s->rope_freq_tensor) inv /= m->global_vec[LOAM_G_ROPE_FREQS][i]; /* llama.cpp's stored factors */
        m->rope_inv_freq[i] = inv;
    }
    return LOAM_OK;
}

/* ALiBi slopes for any head count: the power-of-two sequence for the
 * nearest power below, then every other slope of the next power (as BLOOM
 * and MPT compute them). */
static loam_status init_alibi(loam_model *m, loam_error *err) {
    int n = m->spec.n_heads;
    m->alibi_slopes = malloc((size_t)n * sizeof *m->alibi_slopes);
    if (!m->alibi_slopes) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (m->spec.alibi_mpt_slopes) {
        /* MPT: slopes of the next power of two P, 2^(-max*(i+1)/P); when
         * n < P, the odd-indexed ones first, then the even-indexed */
        int p2 = 1;
        while (p2 < n) p2 *= 2;
        for (int i = 0; i < n; i++) {
            int j = p2 == n ? i : (i < p2 / 2 ? 2 * i + 1 : 2 * (i - p2 / 2));
            m->alibi_slopes[i] = (float)(1.0 / pow(2.0, (j + 1) * (m->spec.alibi_bias_max / p2)));
        }
        return LOAM_OK;
    }
    int pow2 = 1;
    while (pow2 * 2 <= n) pow2 *= 2;
    double max_bias = m->spec.alibi_bias_max;
    double base = pow(2.0, -max_bias / pow2);
    for (int i = 0; i < pow2; i++) m->alibi_slopes[i] = (float)pow(base, i + 1);
    double extra = pow(2.0, -max_bias / (2 * pow2));
    for (int i = 0; i < n - pow2; i++) m->alibi_slopes[pow2 + i] = (float)pow(extra, 2 * i + 1);
    return LOAM_OK;
}

/* ------------------------------------------------ generation defaults */

loam_sampling_params loam_sampling_default_params(void) {
    loam_sampling_params p = {
        .temperature = 0.0f,
        .top_k = 0,
        .top_p = 1.0f,
        .min_p = 0.0f,
        .repetition_penalty = 1.0f,
        .presence_penalty = 0.0f,
        .frequency_penalty = 0.0f,
        .seed = 0,
    };
    return p;
}

/* The ranges transformers' logits processors require, checked whether or
 * not do_sample uses them: a file that says temperature -1 is broken. */
static loam_status check_sampling_ranges(double temperature, double top_p, double min_p, double rep, int64_t top_k, const char *path,
                                         loam_error *err) {
    const char *bad = temperature < 0                ? "temperature must not be negative"
                      : top_p < 0 || top_p > 1       ? "top_p must lie in [0, 1]"
                      : min_p < 0 || min_p > 1       ? "min_p must lie in [0, 1]"
                      : !(rep > 0)                   ? "repetition_penalty must be positive"
                      : top_k < 0                    ? "top_k must not be negative"
                                                     : NULL;
    return bad ? loam_fail(err, LOAM_E_FORMAT, "%s: %s", path, bad) : LOAM_OK;
}

/* generation_config.json as transformers' GenerationConfig reads it:
 * do_sample false means greedy whatever else is set; top_k defaults to 50. */
static loam_status read_generation_config(loam_model *m, loam_error *err) {
    m->sampling = loam_sampling_default_params();
    char *path = loam_path_join(m->path, "generation_config.json");
    if (!path) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (!loam_file_exists(path)) {
        free(path);
        return LOAM_OK;
    }
    cJSON *g = NULL;
    loam_status st = loam_json_load(path, &g, err);
    if (st) {
        free(path);
        return st;
    }
    int do_sample;
    double temperature, top_p, min_p, rep;
    int64_t top_k;
    int32_t eos[8];
    int n_eos = 0;
    if (!(st = loam_json_bool(g, "do_sample", 0, 0, &do_sample, path, err)) &&
        !(st = loam_json_float(g, "temperature", 0, 1.0, &temperature, path, err)) &&
        !(st = loam_json_float(g, "top_p", 0, 1.0, &top_p, path, err)) &&
        !(st = loam_json_float(g, "min_p", 0, 0.0, &min_p, path, err)) &&
        !(st = loam_json_float(g, "repetition_penalty", 0, 1.0, &rep, path, err)) &&
        !(st = loam_json_int(g, "top_k", 0, 50, &top_k, path, err)) &&
        !(st = loam_json_int_list(g, "eos_token_id", eos, 8, &n_eos, path, err))) {
        st = check_sampling_ranges(temperature, top_p, min_p, rep, top_k, path, err);
    }
    if (!st) {
        if (do_sample) {
            m->sampling.temperature = (float)temperature;
            m->sampling.top_k = (int)top_k;
            m->sampling.top_p = (float)top_p;
            m->sampling.min_p = (float)min_p;
        }
        m->sampling.repetition_penalty = (float)rep;
        if (n_eos > 0) { /* generation_config.json's list wins over config.json's */
            memcpy(m->spec.eos_ids, eos, sizeof eos);
            m->spec.n_eos = n_eos;
            st = loam_spec_check_token_ids(&m->spec, path, err);
        }
    }
    cJSON_Delete(g);
    free(path);
    return st;
}

loam_sampling_params loam_model_sampling_params(const loam_model *model) { return model->sampling; }

/* ---------------------------------------------------------------- open */

/* The roles whose matrices only the linear op reads. */
static const int linear_roles[] = {LOAM_L_WQ, LOAM_L_WK, LOAM_L_WV, LOAM_L_WQKV, LOAM_L_WO, LOAM_L_W_GATE, LOAM_L_W_UP, LOAM_L_W_DOWN};
enum { N_LINEAR_ROLES = (int)(sizeof linear_roles / sizeof *linear_roles) };

/* The weight matrices, repacked or copied for the kernels (nn_packed_size)
 * on a pool of the model's threads: every layer's linear roles and the
 * head. A head tied to the embedding gets a copy of its own: every decode
 * row reads all of it, while lookups read a row per token from the mapping
 * (its pages given back, read again as needed). */
static loam_status pack_weights(loam_model *m, loam_error *err) {
    const loam_tensor ***slots = malloc((size_t)(m->spec.n_layers * N_LINEAR_ROLES + 1) * sizeof *slots);
    loam_pool *pool = loam_pool_new(m->n_threads);
    loam_status st = slots && pool ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    int n = 0;
    for (int l = 0; !st && l < m->spec.n_layers; l++)
        for (int r = 0; r < N_LINEAR_ROLES; r++) slots[n++] = &m->layer[l][linear_roles[r]];
    if (!st) slots[n++] = &m->global[LOAM_G_LM_HEAD];
    if (!st) st = nn_pack_linears(m->kernels, pool, slots, n, 1, m->path, &m->packed, &m->packed_arena, &m->n_packed, err);
    free(slots);
    loam_pool_free(pool);
    return st;
}

loam_status loam_model_open(const char *path, const loam_model_params *params, loam_model **out,
                            loam_error *err) {
    *out = NULL;
    loam_model_params defaults = loam_model_default_params();
    if (!params) params = &defaults;
    loam_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    char *config_path = NULL;
    cJSON *config = NULL;
    loam_status st;
    size_t plen = strlen(path);
    if (plen > 5 && strcmp(path + plen - 5, ".gguf") == 0 && loam_file_exists(path)) {
        /* a GGUF file: spec from its metadata, weights from its tensors */
        m->family = &loam_family_gguf;
        /* the whole file is checked, its vocabulary too, whether or not this
         * caller will tokenize: a model is refused for a broken file once */
        if ((st = loam_weights_open_gguf(&m->store, path, err)) || (st = loam_gguf_spec(&m->store, path, &m->spec, err)) ||
            (st = loam_spec_validate(&m->spec, path, err)) || (st = bind_weights(m, err)) ||
            (st = tk_check_gguf_vocab(m->store.gguf, path, err)))
            goto fail;
        if (m->spec.pos == LOAM_POS_ROPE ? (st = init_rope(m, err)) : (st = init_alibi(m, err))) goto fail;
        m->sampling = loam_sampling_default_params();
        goto kernels;
    }
    config_path = loam_path_join(path, "config.json");
    st = config_path ? loam_json_load(config_path, &config, err) : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (st) goto fail;
    if (!cJSON_IsObject(config)) {
        st = loam_fail(err, LOAM_E_FORMAT, "%s: not a JSON object", config_path);
        goto fail;
    }
    m->family = find_family(config, config_path, err);
    if (!m->family) {
        st = err ? err->code : LOAM_E_UNSUPPORTED;
        goto fail;
    }
    const cJSON *archs = loam_json_get(config, "architectures");
    const char *arch = cJSON_IsArray(archs) && cJSON_IsString(cJSON_GetArrayItem(archs, 0))
                           ? cJSON_GetArrayItem(archs, 0)->valuestring
                           : m->family->architectures[0];
    snprintf(m->spec.architecture, sizeof m->spec.architecture, "%s", arch);
    snprintf(m->spec.model_type, sizeof m->spec.model_type, "%s", m->family->model_type);
    if ((st = m->family->read_config(config, config_path, &m->spec, err))) goto fail;
    if ((st = loam_spec_validate(&m->spec, config_path, err))) goto fail;
    if ((st = loam_weights_open_dir(&m->store, path, err))) goto fail;
    if ((st = bind_weights(m, err))) goto fail;
    if (m->spec.pos == LOAM_POS_ROPE ? (st = init_rope(m, err)) : (st = init_alibi(m, err))) goto fail;
    if ((st = read_generation_config(m, err))) goto fail;

kernels:;
    if ((st = loam_kernels_choose(params->simd, &m->kernels, err))) goto fail;
    m->n_threads = params->n_threads > 0 ? params->n_threads : loam_physical_cores();
    m->quant_exact = params->quant_exact;
    m->bf16dot = params->bf16_dot ? loam_bf16dot_for(m->kernels->level) : NULL;
    if (!params->keep_layout && !m->quant_exact && (st = pack_weights(m, err))) goto fail;
    cJSON_Delete(config);
    free(config_path);
    *out = m;
    return LOAM_OK;
fail:
    cJSON_Delete(config);
    free(config_path);
    loam_model_free(m);
    return st;
}

void loam_model_free(loam_model *m) {
    if (!m) return;
    free(m->packed_arena);
    free(m->packed);
    loam_weights_close(&m->store);
    for (int r = 0; r < LOAM_G_COUNT; r++) free(m->global_vec[r]);
    for (int l = 0; m->layer_vec && l < m->spec.n_layers; l++)
        for (int r = 0; r < LOAM_L_COUNT; r++) free(m->layer_vec[l][r]);
    free(m->layer_vec);
    free(m->layer);
    free(m->rope_inv_freq);
    free(m->alibi_slopes);
    free(m->path);
    free(m);
}

void loam_model_get_info(const loam_model *m, loam_model_info *info) {
    memset(info, 0, sizeof *info);
    const loam_spec *s = &m->spec;
    snprintf(info->architecture, sizeof info->architecture, "%s", s->architecture);
    snprintf(info->model_type, sizeof info->model_type, "%s", s->model_type);
    snprintf(info->dtype, sizeof info->dtype, "%s", loam_type_short(m->weight_type));
    snprintf(info->simd, sizeof info->simd, "%s", m->kernels->name);
    info->bf16_dot = m->bf16dot != NULL;
    info->n_repacked = m->n_packed;
    info->n_params = m->n_params;
    info->weight_bytes = m->weight_bytes;
    info->n_layers = s->n_layers;
    info->n_embd = s->n_embd;
    info->n_heads = s->n_heads;
    info->n_kv_heads = s->n_kv_heads;
    info->head_dim = s->head_dim;
    info->n_ff = s->n_ff;
    info->n_vocab = s->n_vocab;
    info->n_ctx_train = s->n_ctx_train;
    info->n_threads = m->n_threads;
    info->bos_id = s->bos_id;
    info->n_eos = s->n_eos;
    memcpy(info->eos_ids, s->eos_ids, sizeof info->eos_ids);
}

uint64_t loam_model_kv_bytes(const loam_model *m, int n_ctx, int n_seq) {
    const loam_spec *s = &m->spec;
    return loam_kv_cache_bytes(LOAM_KV_F32, s->n_layers, (size_t)s->n_kv_heads * (size_t)s->head_dim, (int64_t)n_ctx * n_seq);
}

loam_status loam_model_memory(const loam_model *m, int n_ctx, loam_kv_type kv_type, loam_memory_plan *out, loam_error *err) {
    if (n_ctx < 1 || n_ctx > (1 << 24)) return loam_fail(err, LOAM_E_ARG, "memory: context %d out of range", n_ctx);
    loam_text_memory(&m->spec, m->weight_bytes, n_ctx, kv_type, out);
    return LOAM_OK;
}

/* Adds t's bytes to the list unless t is absent or already there (tied). */
static void add_region(loam_read_region *r, int *n, int cap, const loam_tensor *t) {
    if (!t || !t->n_bytes || *n >= cap) return;
    for (int i = 0; i < *n; i++)
        if (r[i].data == t->data) return;
    r[(*n)++] = (loam_read_region){t->data, t->n_bytes};
}

double loam_model_read_bandwidth(const loam_model *m, int n_threads) {
    int cap = LOAM_G_COUNT + m->spec.n_layers * LOAM_L_COUNT, n = 0;
    loam_read_region *r = malloc((size_t)cap * sizeof *r);
    if (!r) return 0;
    for (int g = 0; g < LOAM_G_COUNT; g++)
        if (g != LOAM_G_TOK_EMB) add_region(r, &n, cap, m->global[g]); /* a tied head is LM_HEAD (or its repacked copy) */
    for (int l = 0; l < m->spec.n_layers; l++)
        for (int k = 0; k < LOAM_L_COUNT; k++) add_region(r, &n, cap, m->layer[l][k]);
    double bw = loam_measure_read_regions(r, n, n_threads, 2);
    free(r);
    return bw;
}

uint64_t loam_model_prefill_ops(const loam_model *m, int n_tokens) {
    if (n_tokens <= 0) return 0;
    const loam_spec *s = &m->spec;
    uint64_t per_row = 0, n = (uint64_t)n_tokens;
    for (int l = 0; l < s->n_layers; l++)
        for (int k = 0; k < LOAM_L_COUNT; k++) {
            const loam_tensor *t = m->layer[l][k];
            if (t && t->n_dims == 2) per_row += (uint64_t)t->shape[0] * (uint64_t)t->shape[1];
        }
    const loam_tensor *head = m->global[LOAM_G_LM_HEAD];
    uint64_t head_macs = head ? (uint64_t)head->shape[0] * (uint64_t)head->shape[1] : 0;
    /* causal attention: row i scores i + 1 keys and mixes as many values */
    uint64_t attn_macs = (uint64_t)s->n_layers * (uint64_t)s->n_heads * (uint64_t)s->head_dim * 2 * (n * (n + 1) / 2);
    return 2 * (per_row * n + head_macs + attn_macs);
}

uint64_t loam_model_decode_bytes(const loam_model *m) {
    const loam_tensor *emb = m->global[LOAM_G_TOK_EMB];
    uint64_t bytes = m->weight_bytes;
    /* a tied head reads the whole embedding table; otherwise only one row */
    if (emb && !m->spec.tied_lm_head) bytes -= emb->n_bytes - loam_row_bytes(emb->type, emb->shape[1]);
    return bytes;
}
