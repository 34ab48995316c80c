/* loam quantize: GGUF in, or a Hugging Face Llama folder in; GGUF out, with
 * the per-tensor types of llama-quantize and data quantized by ggml's
 * reference algorithms (see kernels/quantize.c). An HF folder goes the way
 * llama.cpp's tools take it: converted as convert_hf_to_gguf.py writes it
 * (metadata order, q/k rows permuted to interleaved rotary pairs, llama3
 * scaling as rope_freqs, weights rounded to f16), then quantized. */
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loam_tools.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/mapfile.h"
#include "formats/gguf_write.h"
#include "formats/json.h"
#include "formats/weights.h"
#include "encoders/encoders.h"
#include "image/flux.h"
#include "kernels/kernels.h"
#include "kernels/quants.h"
#include "tokenizer/tokenizer.h"
#include "text/model.h"
#include "tools/quant_policy.h"

/* ---- sources: a tensor as f32 rows, whatever it is stored as */

typedef struct {
    char name[96];
    char hf_name[128]; /* HF input: the name in the checkpoint (the converter's order) */
    int n_dims;
    uint64_t ne[4];       /* GGUF order */
    loam_type src_type;   /* type of the source data */
    const void *data;
    ggml_type keep_ggml;  /* for tensors written unchanged */
    int permute_heads;    /* HF q/k: permute rows to interleaved rotary order, heads */
    int round_f16;        /* HF weights pass through f16 as the converter writes them */
    float *owned;         /* computed data (rope_freqs) */
    int keep_f32;         /* written as F32 whatever the target (T5's relative-position bias) */
} source;

static int row_is_finite(const float *row, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if (!(fabsf(row[i]) <= FLT_MAX)) return 0;
    return 1;
}

static void source_row(const source *s, int64_t r, float *out) {
    int64_t k = (int64_t)s->ne[0];
    int64_t src_r = r;
    if (s->permute_heads) { /* new row 2i + j of a head was old row j * d/2 + i */
        int64_t d = (int64_t)s->ne[1] / s->permute_heads, h = r / d, w = r % d;
        src_r = h * d + (w % 2) * (d / 2) + w / 2;
    }
    if (s->owned) memcpy(out, s->owned + src_r * k, (size_t)k * sizeof(float));
    else loam_row_to_f32(s->data, s->src_type, src_r, (int)k, out);
    if (s->round_f16)
        for (int64_t i = 0; i < k; i++) out[i] = loam_f16_to_f32(loam_f32_to_f16(out[i]));
}

/* ---- HF Llama folder -> converter's metadata and tensors */

static int cmp_tensor_order(const void *a, const void *b) {
    const source *x = a, *y = b;
    int lx = loam_gguf_layer_of(x->name), ly = loam_gguf_layer_of(y->name);
    if ((lx < 0) != (ly < 0)) return lx < 0 ? -1 : 1; /* non-block tensors first */
    if (lx != ly) return lx < ly ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* convert_hf_to_gguf: its extra tensors (rope_freqs) first, then the
 * checkpoint's tensors in name order */
static int cmp_converter_order(const void *a, const void *b) {
    const source *x = a, *y = b;
    if (!x->hf_name[0] || !y->hf_name[0]) return x->hf_name[0] ? 1 : y->hf_name[0] ? -1 : 0;
    return strcmp(x->hf_name, y->hf_name);
}

static void title_name(const char *dir, char *out, size_t len) {
    const char *base = strrchr(dir, '/');
    base = base && base[1] ? base + 1 : dir;
    snprintf(out, len, "%s", base);
    size_t n = strlen(out);
    while (n && out[n - 1] == '/') out[--n] = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || out[i - 1] == '_' || out[i - 1] == '-' || out[i - 1] == ' ') out[i] = (char)toupper((unsigned char)out[i]);
}

static void size_label(int64_t n, char *out, size_t len) {
    double scaled = (double)n;
    const char *suffix = "K";
    if (n > 1e12) scaled *= 1e-12, suffix = "T";
    else if (n > 1e9) scaled *= 1e-9, suffix = "B";
    else if (n > 1e6) scaled *= 1e-6, suffix = "M";
    else scaled *= 1e-3;
    char r[32];
    snprintf(r, sizeof r, "%.0f", round(scaled));
    const char *digits = r;
    while (*digits == '0') digits++;
    int fix = 2 - (int)strlen(digits);
    snprintf(out, len, "%.*f%s", fix > 0 ? fix : 0, scaled, suffix);
}

/* convert_hf_to_gguf's llama3 rope factors, in float32 as it computes them */
static float *llama3_factors(const loam_spec *s) {
    int half = s->rope_dim / 2;
    float *f = malloc((size_t)half * sizeof *f);
    if (!f) return NULL;
    float low = (float)(s->rope_original_ctx / s->rope_low_freq_factor), high = (float)(s->rope_original_ctx / s->rope_high_freq_factor);
    for (int i = 0; i < half; i++) {
        float freq = 1.0f / powf((float)s->rope_theta, (float)(2 * i) / (float)s->rope_dim);
        float wavelen = (float)(2 * M_PI) / freq;
        if (wavelen < high) f[i] = 1.0f;
        else if (wavelen > low) f[i] = (float)s->rope_factor;
        else {
            float smooth = ((float)s->rope_original_ctx / wavelen - (float)s->rope_low_freq_factor) /
                           (float)(s->rope_high_freq_factor - s->rope_low_freq_factor);
            f[i] = 1.0f / ((1.0f - smooth) / (float)s->rope_factor + smooth);
        }
    }
    return f;
}

typedef struct {
    source *src;
    int n;
} source_list;

static source *add_source(source_list *l) {
    source *g = realloc(l->src, (size_t)(l->n + 1) * sizeof *g);
    if (!g) return NULL;
    l->src = g;
    memset(&g[l->n], 0, sizeof *g);
    return &g[l->n++];
}

static loam_status hf_sources(const loam_model *m, int quantized, source_list *out, float **rope, loam_error *err) {
    const loam_spec *s = &m->spec;
    static const struct {
        int role;
        const char *gguf;
    } layer_map[] = {{LOAM_L_ATTN_NORM_W, "attn_norm.weight"}, {LOAM_L_FFN_NORM_W, "ffn_norm.weight"}, {LOAM_L_WQ, "attn_q.weight"},
                     {LOAM_L_WK, "attn_k.weight"},         {LOAM_L_WV, "attn_v.weight"},         {LOAM_L_WO, "attn_output.weight"},
                     {LOAM_L_W_GATE, "ffn_gate.weight"},   {LOAM_L_W_UP, "ffn_up.weight"},      {LOAM_L_W_DOWN, "ffn_down.weight"}};
    const struct {
        int role;
        const char *gguf;
    } global_map[] = {{LOAM_G_TOK_EMB, "token_embd.weight"}, {LOAM_G_OUT_NORM_W, "output_norm.weight"}, {LOAM_G_LM_HEAD, "output.weight"}};
    for (size_t i = 0; i < sizeof global_map / sizeof *global_map; i++) {
        const loam_tensor *t = m->global[global_map[i].role];
        if (!t || (global_map[i].role == LOAM_G_LM_HEAD && s->tied_lm_head)) continue;
        source *x = add_source(out);
        if (!x) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
        snprintf(x->name, sizeof x->name, "%s", global_map[i].gguf);
        snprintf(x->hf_name, sizeof x->hf_name, "%s", t->name);
        x->n_dims = t->n_dims;
        for (int d = 0; d < t->n_dims; d++) x->ne[d] = (uint64_t)t->shape[t->n_dims - 1 - d];
        x->src_type = t->type, x->data = t->data, x->round_f16 = t->n_dims == 2;
    }
    for (int l = 0; l < s->n_layers; l++)
        for (size_t i = 0; i < sizeof layer_map / sizeof *layer_map; i++) {
            const loam_tensor *t = m->layer[l][layer_map[i].role];
            source *x = add_source(out);
            if (!x) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
            snprintf(x->name, sizeof x->name, "blk.%d.%s", l, layer_map[i].gguf);
            snprintf(x->hf_name, sizeof x->hf_name, "%s", t->name);
            x->n_dims = t->n_dims;
            for (int d = 0; d < t->n_dims; d++) x->ne[d] = (uint64_t)t->shape[t->n_dims - 1 - d];
            x->src_type = t->type, x->data = t->data, x->round_f16 = t->n_dims == 2;
            if (layer_map[i].role == LOAM_L_WQ) x->permute_heads = s->n_heads;
            if (layer_map[i].role == LOAM_L_WK) x->permute_heads = s->n_kv_heads;
        }
    if (s->rope_scaling == LOAM_ROPE_SCALING_LLAMA3) {
        source *x = add_source(out);
        if (!x || !(*rope = llama3_factors(s))) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
        snprintf(x->name, sizeof x->name, "rope_freqs.weight");
        x->n_dims = 1, x->ne[0] = (uint64_t)(s->rope_dim / 2), x->owned = *rope, x->src_type = LOAM_T_F32;
    }
    /* the converter's order; llama-quantize then sorts by layer and name */
    qsort(out->src, (size_t)out->n, sizeof *out->src, quantized ? cmp_tensor_order : cmp_converter_order);
    return LOAM_OK;
}

/* the vocabulary: tokenizer.model's pieces, or (no tokenizer at all) the
 * placeholder vocabulary that names the special ids of config.json */
static loam_status hf_vocab(gguf_writer *w, const char *dir, const loam_model *m, loam_error *err) {
    const loam_spec *s = &m->spec;
    char *model_path = loam_path_join(dir, "tokenizer.model"), *json_path = loam_path_join(dir, "tokenizer.json");
    int has_model = model_path && loam_file_exists(model_path), has_json = json_path && loam_file_exists(json_path);
    loam_status st = LOAM_OK;
    int n = s->n_vocab;
    char **tokens = calloc((size_t)n, sizeof *tokens);
    float *scores = calloc((size_t)n, sizeof *scores);
    int32_t *types = calloc((size_t)n, sizeof *types);
    loam_tokenizer *tok = NULL;
    if (!tokens || !scores || !types) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    else if (has_model) {
        if (!(tok = calloc(1, sizeof *tok))) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
        else if (!(st = tk_load_spm(tok, model_path, err)) && tok->n_vocab != n)
            st = loam_fail(err, LOAM_E_FORMAT, "%s: %d pieces but vocab_size %d", model_path, tok->n_vocab, n);
        for (int i = 0; !st && i < n; i++) {
            tokens[i] = strdup(tok->tokens[i]);
            scores[i] = tok->scores[i];
            int is_byte = tok->token_lens[i] == 6 && !strncmp(tok->tokens[i], "<0x", 3);
            int is_special = 0;
            for (int k = 0; k < tok->n_added; k++) is_special |= tok->added[k].id == i;
            types[i] = i == tok->unk_id ? 2 : is_special ? 3 : is_byte ? 6 : 1;
        }
    } else if (has_json) {
        st = loam_fail(err, LOAM_E_UNSUPPORTED,
                       "%s: converting a tokenizer.json vocabulary to GGUF is not supported yet (convert with llama.cpp, then loam quantize the GGUF)",
                       dir);
    } else {
        for (int i = 0; i < n; i++) {
            char name[32];
            int special = i == s->bos_id || (s->n_eos && i == s->eos_ids[0]);
            snprintf(name, sizeof name, i == s->bos_id ? "<s>" : special ? "</s>" : "t%d", i);
            tokens[i] = strdup(name);
            scores[i] = special ? 0.0f : -(float)i;
            types[i] = special ? 3 : 1;
        }
    }
    for (int i = 0; !st && i < n; i++)
        if (!tokens[i]) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (!st) {
        gguf_w_str(w, "tokenizer.ggml.model", "llama");
        gguf_w_str(w, "tokenizer.ggml.pre", "default");
        gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tokens, (uint64_t)n);
        gguf_w_arr_f32(w, "tokenizer.ggml.scores", scores, (uint64_t)n);
        gguf_w_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)n);
        if (s->bos_id >= 0) gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)s->bos_id);
        if (s->n_eos) gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)s->eos_ids[0]);
    }
    for (int i = 0; tokens && i < n; i++) free(tokens[i]);
    free(tokens), free(scores), free(types), free(model_path), free(json_path);
    loam_tokenizer_free(tok);
    return st;
}

static loam_status hf_metadata(gguf_writer *w, const char *dir, const loam_model *m, const loam_quant_target *tt, loam_error *err) {
    const loam_spec *s = &m->spec;
    char name[128], label[32];
    gguf_w_str(w, "general.architecture", "llama");
    gguf_w_str(w, "general.type", "model");
    loam_sampling_params sp = loam_model_sampling_params(m);
    if (sp.temperature > 0) { /* written only when generation_config.json samples */
        if (sp.top_k > 0 && sp.top_k != 50) gguf_w_u32(w, "general.sampling.top_k", (uint32_t)sp.top_k);
        if (sp.top_p < 1) gguf_w_f32(w, "general.sampling.top_p", sp.top_p);
        gguf_w_f32(w, "general.sampling.temp", sp.temperature);
    }
    title_name(dir, name, sizeof name);
    gguf_w_str(w, "general.name", name);
    size_label(m->n_params, label, sizeof label);
    gguf_w_str(w, "general.size_label", label);
    gguf_w_u32(w, "llama.block_count", (uint32_t)s->n_layers);
    gguf_w_u32(w, "llama.context_length", (uint32_t)s->n_ctx_train);
    gguf_w_u32(w, "llama.embedding_length", (uint32_t)s->n_embd);
    gguf_w_u32(w, "llama.feed_forward_length", (uint32_t)s->n_ff);
    gguf_w_u32(w, "llama.attention.head_count", (uint32_t)s->n_heads);
    gguf_w_u32(w, "llama.attention.head_count_kv", (uint32_t)s->n_kv_heads);
    gguf_w_f32(w, "llama.rope.freq_base", (float)s->rope_theta);
    gguf_w_f32(w, "llama.attention.layer_norm_rms_epsilon", s->norm_eps);
    gguf_w_u32(w, "llama.attention.key_length", (uint32_t)s->head_dim);
    gguf_w_u32(w, "llama.attention.value_length", (uint32_t)s->head_dim);
    /* the converter writes f16/bf16 as its file type here; llama-quantize
     * moves the type keys to the end */
    int quantized = loam_type_is_quantized(tt->base);
    if (!quantized) gguf_w_u32(w, "general.file_type", (uint32_t)tt->ftype);
    gguf_w_u32(w, "llama.vocab_size", (uint32_t)s->n_vocab);
    gguf_w_u32(w, "llama.rope.dimension_count", (uint32_t)s->rope_dim);
    if (!quantized) gguf_w_u32(w, "general.quantization_version", 2);
    loam_status st = hf_vocab(w, dir, m, err);
    if (!st && quantized) {
        gguf_w_u32(w, "general.quantization_version", 2);
        gguf_w_u32(w, "general.file_type", (uint32_t)tt->ftype);
    }
    return st;
}

/* ---- GGUF in: metadata copied, the two type keys moved to the end */

static loam_status gguf_sources(const gguf_file *g, gguf_writer *w, const loam_quant_target *tt, source_list *out, loam_error *err) {
    for (int64_t i = 0; i < g->n_kv; i++) {
        const gguf_kv *kv = &g->kv[i];
        if (!strcmp(kv->key, "general.file_type") || !strcmp(kv->key, "general.quantization_version")) continue;
        /* the raw value runs from kv->value (arrays: from their header) to the next key */
        const uint8_t *start = kv->type == GGUF_ARRAY ? kv->value - 12 : kv->value;
        const uint8_t *end;
        if (i + 1 < g->n_kv) {
            uint64_t klen = strlen(g->kv[i + 1].key);
            const uint8_t *next = g->kv[i + 1].type == GGUF_ARRAY ? g->kv[i + 1].value - 12 : g->kv[i + 1].value;
            end = next - 4 - klen - 8;
        } else {
            /* the last key's value ends where the tensor infos begin: walk it */
            uint64_t n = 0, sz = 0;
            if (kv->type == GGUF_STRING) memcpy(&n, kv->value, 8), sz = 8 + n;
            else if (kv->type == GGUF_ARRAY && kv->elem_type == GGUF_STRING) {
                const uint8_t *p = kv->value;
                for (uint64_t e = 0; e < kv->count; e++) memcpy(&n, p, 8), p += 8 + n;
                sz = (uint64_t)(p - kv->value);
            } else {
                static const int sizes[GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
                sz = kv->type == GGUF_ARRAY ? kv->count * (uint64_t)sizes[kv->elem_type] : (uint64_t)sizes[kv->type];
            }
            end = kv->value + sz;
        }
        gguf_w_raw(w, kv->key, kv->type, start, (size_t)(end - start));
    }
    gguf_w_u32(w, "general.quantization_version", 2);
    gguf_w_u32(w, "general.file_type", (uint32_t)tt->ftype);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        source *x = add_source(out);
        if (!x) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
        snprintf(x->name, sizeof x->name, "%s", t->name);
        x->n_dims = t->n_dims;
        memcpy(x->ne, t->ne, sizeof x->ne);
        x->data = t->data;
        x->keep_ggml = t->type;
        int lt = gguf_loam_type(t->type);
        x->src_type = lt < 0 || lt == LOAM_T_I32 ? LOAM_T_COUNT : (loam_type)lt; /* others: copied unchanged only */
    }
    qsort(out->src, (size_t)out->n, sizeof *out->src, cmp_tensor_order); /* as llama-quantize orders them */
    return LOAM_OK;
}

/* ---- FLUX.1's transformer as BFL publishes it (flux1-*.safetensors): every
 * tensor under its own name, as the GGUF files people share it in carry them */

/* flux.* metadata (as loam synth writes it) from transformer/config.json
 * beside the file, read by the transformer's own loader, when the folder
 * has it: the GGUF then stands alone. */
static void flux_metadata(const char *in_path, gguf_writer *w) {
    const char *slash = strrchr(in_path, '/');
    char dir[4096], *cfg;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - in_path) : 1, slash ? in_path : ".");
    if (!(cfg = loam_path_join(dir, "transformer/config.json"))) return;
    flux_dit d;
    loam_error e;
    if (loam_file_exists(cfg) && flux_dit_open(&d, in_path, cfg, &e) == LOAM_OK) {
        int32_t axes[3] = {d.axes[0], d.axes[1], d.axes[2]};
        gguf_w_u32(w, "flux.hidden_size", (uint32_t)d.hidden);
        gguf_w_u32(w, "flux.num_heads", (uint32_t)d.heads);
        gguf_w_u32(w, "flux.depth", (uint32_t)d.n_double);
        gguf_w_u32(w, "flux.depth_single_blocks", (uint32_t)d.n_single);
        gguf_w_u32(w, "flux.in_channels", (uint32_t)d.in_ch);
        gguf_w_u32(w, "flux.context_in_dim", (uint32_t)d.ctx_in);
        gguf_w_u32(w, "flux.vec_in_dim", (uint32_t)d.vec_in);
        gguf_w_f32(w, "flux.mlp_ratio", (float)d.mlp / (float)d.hidden);
        gguf_w_arr_i32(w, "flux.axes_dim", axes, 3);
        gguf_w_f32(w, "flux.theta", (float)d.theta);
        gguf_w_u32(w, "flux.guidance_embed", (uint32_t)d.guidance);
        flux_dit_close(&d);
    }
    free(cfg);
}

static loam_status flux_sources(const loam_weight_store *ws, const char *in_path, gguf_writer *w, const loam_quant_target *tt,
                                source_list *out, loam_error *err) {
    const loam_st_file *f = &ws->files[0];
    if (!loam_st_find(f, "double_blocks.0.img_attn.qkv.weight") && !loam_st_find(f, "single_blocks.0.linear1.weight"))
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: not a FLUX.1 transformer (BFL names); safetensors input is for flux1-*.safetensors", in_path);
    char name[128];
    title_name(in_path, name, sizeof name);
    char *dot = strstr(name, ".safetensors");
    if (dot) *dot = 0;
    gguf_w_str(w, "general.architecture", "flux");
    gguf_w_str(w, "general.name", name);
    flux_metadata(in_path, w);
    gguf_w_u32(w, "general.quantization_version", 2);
    gguf_w_u32(w, "general.file_type", (uint32_t)tt->ftype);
    for (int i = 0; i < f->n_tensors; i++) {
        const loam_tensor *t = &f->tensors[i];
        if (t->type != LOAM_T_F32 && t->type != LOAM_T_F16 && t->type != LOAM_T_BF16)
            return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: tensor \"%s\" is %s; F32, F16 or BF16 are read", in_path, t->name, loam_type_name(t->type));
        if (strlen(t->name) >= sizeof out->src->name || t->n_dims < 1 || t->n_dims > 4)
            return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\": name too long or shape out of range", in_path, t->name);
        source *x = add_source(out);
        if (!x) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
        snprintf(x->name, sizeof x->name, "%s", t->name);
        x->n_dims = t->n_dims;
        for (int d = 0; d < t->n_dims; d++) x->ne[d] = (uint64_t)t->shape[t->n_dims - 1 - d];
        x->src_type = t->type, x->data = t->data;
    }
    return LOAM_OK;
}

/* ---- T5's encoder (text_encoder_2/ of FLUX.1): llama.cpp's t5encoder names
 * and metadata, as the GGUF copies people share; the relative-position
 * bias stays F32 (loam reads it as floats) */

static loam_status t5_sources(const char *dir, const loam_weight_store *ws, gguf_writer *w, const loam_quant_target *tt, source_list *out,
                              loam_error *err) {
    enc_t5 *t5 = NULL;
    loam_status st = enc_t5_open(dir, &t5, err); /* the hyperparameters as the encoder reads and checks them */
    if (st) return st;
    enc_t5_config c;
    enc_t5_get_config(t5, &c);
    enc_t5_free(t5);
    int64_t D = c.d_model, F = c.d_ff, kv = c.d_kv, L = c.n_layers, H = c.n_heads, nb = c.n_buckets;
    double eps = c.eps;
    gguf_w_str(w, "general.architecture", "t5encoder");
    gguf_w_str(w, "general.name", "T5 encoder");
    gguf_w_u32(w, "t5encoder.context_length", 512);
    gguf_w_u32(w, "t5encoder.embedding_length", (uint32_t)D);
    gguf_w_u32(w, "t5encoder.feed_forward_length", (uint32_t)F);
    gguf_w_u32(w, "t5encoder.block_count", (uint32_t)L);
    gguf_w_u32(w, "t5encoder.attention.head_count", (uint32_t)H);
    gguf_w_u32(w, "t5encoder.attention.key_length", (uint32_t)kv);
    gguf_w_u32(w, "t5encoder.attention.value_length", (uint32_t)kv);
    gguf_w_f32(w, "t5encoder.attention.layer_norm_epsilon", (float)eps);
    gguf_w_u32(w, "t5encoder.attention.relative_buckets_count", (uint32_t)nb);
    gguf_w_u32(w, "general.quantization_version", 2);
    gguf_w_u32(w, "general.file_type", (uint32_t)tt->ftype);
    for (int fi = 0; fi < ws->n_files; fi++)
        for (int i = 0; i < ws->files[fi].n_tensors; i++) {
            const loam_tensor *t = &ws->files[fi].tensors[i];
            char name[128];
            const char *g = enc_t5_gguf_name(t->name, name, sizeof name);
            if (!strncmp(g, "decoder.", 8) || !strcmp(g, "lm_head.weight") || !strcmp(t->name, "encoder.embed_tokens.weight")) continue;
            if ((t->type != LOAM_T_F32 && t->type != LOAM_T_F16 && t->type != LOAM_T_BF16) || t->n_dims < 1 || t->n_dims > 2 ||
                strlen(g) >= sizeof out->src->name)
                return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: tensor \"%s\" (%s) cannot be converted", dir, t->name, loam_type_name(t->type));
            source *x = add_source(out);
            if (!x) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
            snprintf(x->name, sizeof x->name, "%s", g);
            x->n_dims = t->n_dims;
            for (int d = 0; d < t->n_dims; d++) x->ne[d] = (uint64_t)t->shape[t->n_dims - 1 - d];
            x->src_type = t->type, x->data = t->data;
            x->keep_f32 = strstr(g, "attn_rel_b") != NULL;
        }
    qsort(out->src, (size_t)out->n, sizeof *out->src, cmp_tensor_order);
    return LOAM_OK;
}

/* A folder whose config.json says model_type t5. */
static int is_t5_folder(const char *dir) {
    char *cfg = loam_path_join(dir, "config.json");
    cJSON *j = NULL;
    loam_error e;
    const char *mt = NULL;
    int yes = cfg && loam_file_exists(cfg) && !loam_json_load(cfg, &j, &e) && !loam_json_string(j, "model_type", 0, "", &mt, cfg, &e) &&
              !strcmp(mt, "t5");
    cJSON_Delete(j);
    free(cfg);
    return yes;
}

loam_status loam_quantize(const char *in_path, const char *out_path, const char *type, loam_progress_fn progress, void *user,
                          loam_error *err) {
    const loam_quant_target *tt = loam_quant_target_find(type, 0);
    if (!tt) return loam_fail(err, LOAM_E_ARG, "quantize: unknown type \"%s\" (f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q6_k, q4_k_m, q5_k_s, q5_k_m)", type);
    size_t plen = strlen(in_path);
    int from_gguf = plen > 5 && !strcmp(in_path + plen - 5, ".gguf");
    int from_flux = plen > 12 && !strcmp(in_path + plen - 12, ".safetensors");
    loam_weight_store ws = {0};
    gguf_writer *w = gguf_writer_new();
    source_list list = {0};
    gguf_file g = {0};
    loam_model *m = NULL;
    float *rope = NULL, *row = NULL;
    void *qrow = NULL;
    char arch[32] = "llama";
    loam_status st = w ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (!st && from_gguf) {
        st = gguf_open(&g, in_path, err);
        const char *a;
        uint64_t al;
        if (!st && gguf_get_str(&g, "general.architecture", &a, &al) && al < sizeof arch) snprintf(arch, sizeof arch, "%.*s", (int)al, a);
        if (!st) st = gguf_sources(&g, w, tt, &list, err);
    } else if (!st && is_t5_folder(in_path)) {
        snprintf(arch, sizeof arch, "t5encoder");
        st = loam_weights_open_dir(&ws, in_path, err);
        if (!st) st = t5_sources(in_path, &ws, w, tt, &list, err);
    } else if (!st && from_flux) {
        snprintf(arch, sizeof arch, "flux");
        st = loam_weights_open_file(&ws, in_path, err);
        if (!st) st = flux_sources(&ws, in_path, w, tt, &list, err);
    } else if (!st) {
        loam_model_params mp = loam_model_default_params();
        mp.n_threads = 1;
        mp.keep_layout = 1; /* its weights are read as stored */
        st = loam_model_open(in_path, &mp, &m, err);
        if (!st && strcmp(m->spec.model_type, "llama") != 0)
            st = loam_fail(err, LOAM_E_UNSUPPORTED,
                           "%s: converting a %s folder is not supported yet (Llama only); convert with llama.cpp and quantize the GGUF",
                           in_path, m->spec.model_type);
        if (!st) st = hf_metadata(w, in_path, m, tt, err);
        if (!st) st = hf_sources(m, loam_type_is_quantized(tt->base), &list, &rope, err);
    }
    /* choose the types and lay out the file */
    int n_layers = 0, has_output = 0;
    loam_type *chosen = st ? NULL : calloc((size_t)(list.n ? list.n : 1), sizeof *chosen);
    if (!st && !chosen) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; !st && i < list.n; i++) {
        if (loam_gguf_layer_of(list.src[i].name) + 1 > n_layers) n_layers = loam_gguf_layer_of(list.src[i].name) + 1;
        has_output |= !strcmp(list.src[i].name, "output.weight");
    }
    uint64_t max_row = 1;
    for (int i = 0; !st && i < list.n; i++) {
        source *x = &list.src[i];
        loam_type t = x->keep_f32 ? LOAM_T_F32 : loam_quant_tensor_type(tt, x->name, x->n_dims, (int64_t)x->ne[0], n_layers, has_output, arch);
        if (t == LOAM_T_COUNT) t = from_gguf ? x->src_type : LOAM_T_F32; /* unchanged; the converter writes 1-D tensors as F32 */
        if (t == LOAM_T_COUNT && from_gguf) st = loam_fail(err, LOAM_E_UNSUPPORTED, "%s: tensor \"%s\" has a type loam cannot copy", in_path, x->name);
        chosen[i] = t;
        ggml_type gt = (from_gguf && t == x->src_type) ? x->keep_ggml : gguf_ggml_type(t);
        if (t == LOAM_T_F32) gt = GGML_F32;
        gguf_w_tensor(w, x->name, x->n_dims, x->ne, gt);
        if (x->ne[0] > max_row) max_row = x->ne[0];
    }
    if (!st) st = gguf_w_begin(w, out_path, err);
    row = st ? NULL : malloc(max_row * sizeof(float));
    qrow = st ? NULL : malloc(max_row * 4 + 64);
    if (!st && (!row || !qrow)) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; !st && i < list.n; i++) {
        source *x = &list.src[i];
        if (progress) progress(user, i, list.n, x->name);
        uint64_t rows = 1;
        for (int d = 1; d < x->n_dims; d++) rows *= x->ne[d];
        size_t row_bytes = loam_row_bytes(chosen[i], (int64_t)x->ne[0]), total = (size_t)rows * row_bytes;
        uint8_t *buf = malloc(total ? total : 1);
        if (!buf) {
            st = loam_fail(err, LOAM_E_NOMEM, "out of memory for tensor %s", x->name);
            break;
        }
        if (from_gguf && chosen[i] == x->src_type && !x->permute_heads) {
            memcpy(buf, x->data, total); /* same type: bytes unchanged, as llama-quantize copies */
        } else {
            for (uint64_t r = 0; r < rows; r++) {
                source_row(x, (int64_t)r, row);
                if (!row_is_finite(row, x->ne[0])) { /* llama-quantize refuses these too: no integer can hold them */
                    st = loam_fail(err, LOAM_E_FORMAT, "%s: tensor %s has a NaN or infinite value in row %llu", in_path, x->name, (unsigned long long)r);
                    break;
                }
                if (!loam_quantize_row(chosen[i], row, (int64_t)x->ne[0], buf + r * row_bytes)) {
                    st = loam_fail(err, LOAM_E_UNSUPPORTED, "quantize: cannot write %s as %s", x->name, loam_type_name(chosen[i]));
                    break;
                }
            }
        }
        if (!st) st = gguf_w_data(w, i, buf, total, err);
        free(buf);
    }
    if (!st) st = gguf_w_end(w, err);
    if (!st && progress) progress(user, list.n, list.n, "");
    free(chosen), free(row), free(qrow), free(rope), free(list.src);
    gguf_writer_free(w);
    if (from_gguf && g.kv) gguf_close(&g);
    loam_weights_close(&ws);
    loam_model_free(m);
    return st;
}
