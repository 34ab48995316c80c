/* Opening a Whisper model: hyperparameters from config.json (hub folder),
 * GGUF metadata or a whisper.cpp header; weights bound by name through one
 * of two naming tables (transformers' names, used by hub folders and
 * loam's GGUF; openai's names, used by whisper.cpp files); decoding data
 * from generation_config.json or the published models' defaults. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mapfile.h"
#include "formats/json.h"
#include "speech/whisper.h"

/* openai/whisper's LANGUAGES, in token order (<|en|> is sot + 1). */
static const char *const LANG_CODES[WHISPER_MAX_LANGS] = {
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it", "id",
    "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur", "hr", "bg",
    "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br",
    "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw", "gl", "mr", "pa", "si", "km", "sn", "yo", "so",
    "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo", "ht", "ps", "tk", "nn", "mt",
    "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue"};

const char *whisper_lang_code(int i) { return i >= 0 && i < WHISPER_MAX_LANGS ? LANG_CODES[i] : NULL; }

/* The layout every Whisper vocabulary has: 50257 (multilingual) or 50256
 * (English) byte-level tokens, then <|endoftext|>, <|startoftranscript|>,
 * the language tokens, translate, transcribe, startoflm, startofprev,
 * nospeech, notimestamps, and the 1501 timestamps <|0.00|> … <|30.00|>. */
void whisper_layout_special(whisper_special *sp, int n_vocab) {
    int multilingual = n_vocab >= 51865;
    sp->n_langs = multilingual ? n_vocab - 51766 : 0; /* 99 (51865) or 100 (51866) */
    if (sp->n_langs > WHISPER_MAX_LANGS) sp->n_langs = WHISPER_MAX_LANGS;
    sp->eot = multilingual ? 50257 : 50256;
    sp->sot = sp->eot + 1;
    sp->lang0 = sp->sot + 1;
    sp->translate = multilingual ? sp->lang0 + sp->n_langs : 50357;
    sp->transcribe = sp->translate + 1;
    sp->sot_lm = sp->translate + 2;
    sp->sot_prev = sp->translate + 3;
    sp->no_speech = sp->translate + 4;
    sp->no_timestamps = sp->translate + 5;
    sp->ts_begin = sp->translate + 6;
}

typedef struct whisper_names {
    const char *conv1, *conv2, *enc_pos, *dec_pos, *tok, *enc_ln, *dec_ln, *enc_layer, *dec_layer;
    const char *self, *cross, *q, *k, *v, *o, *self_ln, *cross_ln, *fc1, *fc2, *ffn_ln;
} whisper_names;

static const whisper_names HF_NAMES = {
    "model.encoder.conv1", "model.encoder.conv2", "model.encoder.embed_positions.weight",
    "model.decoder.embed_positions.weight", "model.decoder.embed_tokens.weight", "model.encoder.layer_norm",
    "model.decoder.layer_norm", "model.encoder.layers.%d.", "model.decoder.layers.%d.", "self_attn", "encoder_attn",
    "q_proj", "k_proj", "v_proj", "out_proj", "self_attn_layer_norm", "encoder_attn_layer_norm", "fc1", "fc2",
    "final_layer_norm"};

static const whisper_names OPENAI_NAMES = {
    "encoder.conv1", "encoder.conv2", "encoder.positional_embedding", "decoder.positional_embedding",
    "decoder.token_embedding.weight", "encoder.ln_post", "decoder.ln", "encoder.blocks.%d.", "decoder.blocks.%d.",
    "attn", "cross_attn", "query", "key", "value", "out", "attn_ln", "cross_attn_ln", "mlp.0", "mlp.2", "mlp_ln"};

static const loam_tensor *find(const loam_whisper *w, const char *name) {
    if (w->bin) return whisper_bin_find(w->bin, name);
    const loam_tensor *t = loam_weights_find(&w->store, name);
    if (!t && !strncmp(name, "model.", 6)) t = loam_weights_find(&w->store, name + 6);
    return t;
}

static loam_status missing(const loam_whisper *w, const char *name, loam_error *err) {
    return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" is missing", w->path, name);
}

/* A weight matrix [rows, cols] (n_dims 3: a conv kernel [rows, cols, 3]). */
static loam_status matrix(const loam_whisper *w, const char *name, int n_dims, int64_t rows, int64_t cols,
                          const loam_tensor **out, loam_error *err) {
    const loam_tensor *t = find(w, name);
    if (!t) return missing(w, name, err);
    int ok = t->n_dims == n_dims && t->shape[0] == rows && t->shape[1] == cols && (n_dims < 3 || t->shape[2] == 3);
    if (!ok) {
        char have[96];
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" has shape %s, the model's hyperparameters imply [%lld, %lld%s]",
                         t->file, name, loam_shape_str(t, have, sizeof have), (long long)rows, (long long)cols,
                         n_dims == 3 ? ", 3" : "");
    }
    if (!loam_kernels_supports(t->type) || (n_dims == 3 && loam_type_is_quantized(t->type)))
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: tensor \"%s\" has type %s, which loam cannot compute with here",
                         t->file, name, t->stored_type ? t->stored_type : loam_type_name(t->type));
    *out = t;
    return LOAM_OK;
}

/* An f32 copy of a tensor of exactly n values in a plain float type. */
static loam_status vec(const loam_whisper *w, const char *name, int64_t n, float **out, loam_error *err) {
    const loam_tensor *t = find(w, name);
    if (!t) return missing(w, name, err);
    if (loam_tensor_nelements(t) != n || loam_type_is_quantized(t->type) ||
        (t->type != LOAM_T_F32 && t->type != LOAM_T_F16 && t->type != LOAM_T_BF16))
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" should be %lld float values", t->file, name,
                         (long long)n);
    *out = malloc(sizeof(float) * (size_t)n);
    if (!*out) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    loam_row_to_f32(t->data, t->type, 0, (int)n, *out);
    return LOAM_OK;
}

static loam_status bind_attn(loam_whisper *w, const char *pre, const char *which, const char *ln,
                             const whisper_names *nm, whisper_attn_w *a, loam_error *err) {
    int64_t D = w->hp.d_model;
    char n[256];
    loam_status st;
#define NAME(part, suffix) (snprintf(n, sizeof n, "%s%s.%s.%s", pre, which, part, suffix), n)
    if ((st = matrix(w, NAME(nm->q, "weight"), 2, D, D, &a->q, err)) || (st = vec(w, NAME(nm->q, "bias"), D, &a->bq, err)) ||
        (st = matrix(w, NAME(nm->k, "weight"), 2, D, D, &a->k, err)) ||
        (st = matrix(w, NAME(nm->v, "weight"), 2, D, D, &a->v, err)) || (st = vec(w, NAME(nm->v, "bias"), D, &a->bv, err)) ||
        (st = matrix(w, NAME(nm->o, "weight"), 2, D, D, &a->o, err)) || (st = vec(w, NAME(nm->o, "bias"), D, &a->bo, err)))
        return st;
#undef NAME
    snprintf(n, sizeof n, "%s%s.weight", pre, ln);
    if ((st = vec(w, n, D, &a->ln_w, err))) return st;
    snprintf(n, sizeof n, "%s%s.bias", pre, ln);
    return vec(w, n, D, &a->ln_b, err);
}

static loam_status bind_layer(loam_whisper *w, const whisper_names *nm, int dec, int i, whisper_layer *L,
                              loam_error *err) {
    int64_t D = w->hp.d_model, F = dec ? w->hp.n_dec_ff : w->hp.n_enc_ff;
    char pre[96], n[256];
    snprintf(pre, sizeof pre, dec ? nm->dec_layer : nm->enc_layer, i);
    loam_status st = bind_attn(w, pre, nm->self, nm->self_ln, nm, &L->self, err);
    if (!st && dec) st = bind_attn(w, pre, nm->cross, nm->cross_ln, nm, &L->cross, err);
#define NAME(part, suffix) (snprintf(n, sizeof n, "%s%s.%s", pre, part, suffix), n)
    if (!st) st = matrix(w, NAME(nm->fc1, "weight"), 2, F, D, &L->fc1, err);
    if (!st) st = vec(w, NAME(nm->fc1, "bias"), F, &L->b1, err);
    if (!st) st = matrix(w, NAME(nm->fc2, "weight"), 2, D, F, &L->fc2, err);
    if (!st) st = vec(w, NAME(nm->fc2, "bias"), D, &L->b2, err);
    if (!st) st = vec(w, NAME(nm->ffn_ln, "weight"), D, &L->ln_w, err);
    if (!st) st = vec(w, NAME(nm->ffn_ln, "bias"), D, &L->ln_b, err);
#undef NAME
    return st;
}

static loam_status bind_weights(loam_whisper *w, const whisper_names *nm, loam_error *err) {
    const whisper_hparams *hp = &w->hp;
    int64_t D = hp->d_model;
    char n[256];
    loam_status st;
    w->enc = calloc((size_t)hp->n_enc_layers, sizeof *w->enc);
    w->dec = calloc((size_t)hp->n_dec_layers, sizeof *w->dec);
    if (!w->enc || !w->dec) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
#define NAME(base, suffix) (snprintf(n, sizeof n, "%s.%s", base, suffix), n)
    if ((st = matrix(w, NAME(nm->conv1, "weight"), 3, D, hp->n_mels, &w->conv1, err)) ||
        (st = vec(w, NAME(nm->conv1, "bias"), D, &w->conv1_b, err)) ||
        (st = matrix(w, NAME(nm->conv2, "weight"), 3, D, D, &w->conv2, err)) ||
        (st = vec(w, NAME(nm->conv2, "bias"), D, &w->conv2_b, err)) ||
        (st = vec(w, nm->enc_pos, (int64_t)hp->n_audio_ctx * D, &w->enc_pos, err)) ||
        (st = vec(w, nm->dec_pos, (int64_t)hp->n_text_ctx * D, &w->dec_pos, err)) ||
        (st = matrix(w, nm->tok, 2, hp->n_vocab, D, &w->tok_emb, err)) ||
        (st = vec(w, NAME(nm->enc_ln, "weight"), D, &w->enc_ln_w, err)) ||
        (st = vec(w, NAME(nm->enc_ln, "bias"), D, &w->enc_ln_b, err)) ||
        (st = vec(w, NAME(nm->dec_ln, "weight"), D, &w->dec_ln_w, err)) ||
        (st = vec(w, NAME(nm->dec_ln, "bias"), D, &w->dec_ln_b, err)))
        return st;
#undef NAME
    for (int i = 0; i < hp->n_enc_layers; i++)
        if ((st = bind_layer(w, nm, 0, i, &w->enc[i], err))) return st;
    for (int i = 0; i < hp->n_dec_layers; i++)
        if ((st = bind_layer(w, nm, 1, i, &w->dec[i], err))) return st;
    return LOAM_OK;
}

/* Sizes every later allocation depends on: checked before any is made. */
static loam_status check_hparams(const loam_whisper *w, const char *file, loam_error *err) {
    const whisper_hparams *h = &w->hp;
    struct { const char *name; int v, lo, hi; } k[] = {
        {"num_mel_bins", h->n_mels, 1, 512},           {"max_source_positions", h->n_audio_ctx, 1500, 1500},
        {"d_model", h->d_model, 1, 8192},              {"encoder_layers", h->n_enc_layers, 1, 256},
        {"decoder_layers", h->n_dec_layers, 1, 256},   {"encoder_attention_heads", h->n_enc_heads, 1, 256},
        {"decoder_attention_heads", h->n_dec_heads, 1, 256}, {"encoder_ffn_dim", h->n_enc_ff, 1, 65536},
        {"decoder_ffn_dim", h->n_dec_ff, 1, 65536},    {"max_target_positions", h->n_text_ctx, 8, 4096},
        {"vocab_size", h->n_vocab, 51864, 51866},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (k[i].v < k[i].lo || k[i].v > k[i].hi)
            return loam_fail(err, LOAM_E_FORMAT, "%s: %s is %d (a Whisper model has %d..%d)", file, k[i].name, k[i].v,
                             k[i].lo, k[i].hi);
    if (h->d_model % h->n_enc_heads || h->d_model % h->n_dec_heads)
        return loam_fail(err, LOAM_E_FORMAT, "%s: d_model %d is not a multiple of the head count", file, h->d_model);
    return LOAM_OK;
}

static loam_status read_config(loam_whisper *w, const char *dir, loam_error *err) {
    char *path = loam_path_join(dir, "config.json");
    cJSON *c = NULL;
    loam_status st = path ? loam_json_load(path, &c, err) : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    const char *type = NULL;
    if (!st && !cJSON_IsObject(c)) st = loam_fail(err, LOAM_E_FORMAT, "%s: not a JSON object", path);
    if (!st) st = loam_json_string(c, "model_type", 1, NULL, &type, path, err);
    if (!st && strcmp(type, "whisper"))
        st = loam_fail(err, LOAM_E_UNSUPPORTED, "%s: model_type \"%s\" is not whisper", path, type);
    struct { const char *key; int *dst; } keys[] = {
        {"num_mel_bins", &w->hp.n_mels}, {"max_source_positions", &w->hp.n_audio_ctx}, {"d_model", &w->hp.d_model},
        {"encoder_layers", &w->hp.n_enc_layers}, {"encoder_attention_heads", &w->hp.n_enc_heads},
        {"encoder_ffn_dim", &w->hp.n_enc_ff}, {"max_target_positions", &w->hp.n_text_ctx},
        {"decoder_layers", &w->hp.n_dec_layers}, {"decoder_attention_heads", &w->hp.n_dec_heads},
        {"decoder_ffn_dim", &w->hp.n_dec_ff}, {"vocab_size", &w->hp.n_vocab},
    };
    for (size_t i = 0; !st && i < sizeof keys / sizeof keys[0]; i++) {
        int64_t v = 0;
        st = loam_json_int(c, keys[i].key, 1, 0, &v, path, err);
        *keys[i].dst = (int)v;
    }
    const char *act = NULL;
    if (!st) st = loam_json_string(c, "activation_function", 0, "gelu", &act, path, err);
    if (!st && strcmp(act, "gelu"))
        st = loam_fail(err, LOAM_E_UNSUPPORTED, "%s: activation_function \"%s\" (loam's Whisper uses gelu)", path, act);
    int scale = 0;
    if (!st) st = loam_json_bool(c, "scale_embedding", 0, 0, &scale, path, err);
    if (!st && scale) st = loam_fail(err, LOAM_E_UNSUPPORTED, "%s: scale_embedding is not supported", path);
    if (!st) st = check_hparams(w, path, err);
    cJSON_Delete(c);
    free(path);
    return st;
}

/* generation_config's alignment_heads: [[layer, head], ...] */
static loam_status read_alignment_heads(loam_whisper *w, const cJSON *c, const char *path, loam_error *err) {
    const cJSON *a = cJSON_GetObjectItem(c, "alignment_heads");
    if (!a || cJSON_IsNull(a)) return LOAM_OK;
    int n = cJSON_GetArraySize(a);
    if (!cJSON_IsArray(a) || n > w->hp.n_dec_layers * w->hp.n_dec_heads)
        return loam_fail(err, LOAM_E_FORMAT, "%s: alignment_heads is not a list of at most layers x heads pairs", path);
    free(w->align_heads);
    w->align_heads = calloc((size_t)(n ? n : 1), sizeof *w->align_heads);
    if (!w->align_heads) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const cJSON *p = cJSON_GetArrayItem(a, i);
        const cJSON *l = cJSON_GetArrayItem(p, 0), *h = cJSON_GetArrayItem(p, 1);
        if (cJSON_GetArraySize(p) != 2 || !loam_json_is_int_in(l, 0, w->hp.n_dec_layers - 1) ||
            !loam_json_is_int_in(h, 0, w->hp.n_dec_heads - 1))
            return loam_fail(err, LOAM_E_FORMAT, "%s: alignment_heads[%d] is not a [layer, head] of this model", path, i);
        w->align_heads[i][0] = (int32_t)l->valuedouble, w->align_heads[i][1] = (int32_t)h->valuedouble;
    }
    w->n_align = n;
    return LOAM_OK;
}

/* openai/whisper's default without a list: every head of the last half of the decoder. */
static loam_status default_alignment_heads(loam_whisper *w, loam_error *err) {
    if (w->n_align > 0) return LOAM_OK;
    int from = w->hp.n_dec_layers / 2, H = w->hp.n_dec_heads, n = (w->hp.n_dec_layers - from) * H;
    free(w->align_heads);
    if (!(w->align_heads = calloc((size_t)n, sizeof *w->align_heads))) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) w->align_heads[i][0] = from + i / H, w->align_heads[i][1] = i % H;
    w->n_align = n;
    return LOAM_OK;
}

/* suppress_tokens, begin_suppress_tokens, max_initial_timestamp_index, alignment_heads. */
static loam_status read_generation_config(loam_whisper *w, const char *dir, loam_error *err) {
    char *path = loam_path_join(dir, "generation_config.json");
    if (!path) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    loam_status st = LOAM_OK;
    if (loam_file_exists(path)) {
        cJSON *c = NULL;
        int64_t mit = 50;
        st = loam_json_load(path, &c, err);
        if (!st && !cJSON_IsObject(c)) st = loam_fail(err, LOAM_E_FORMAT, "%s: not a JSON object", path);
        if (!st) st = loam_json_int_list(c, "suppress_tokens", w->suppress, WHISPER_MAX_SUPPRESS, &w->n_suppress, path, err);
        if (!st)
            st = loam_json_int_list(c, "begin_suppress_tokens", w->begin_suppress, 16, &w->n_begin_suppress, path, err);
        if (!st) st = loam_json_int(c, "max_initial_timestamp_index", 0, 50, &mit, path, err);
        w->max_initial_ts = (int)mit;
        if (!st) st = read_alignment_heads(w, c, path, err);
        for (int i = 0; !st && i < w->n_suppress + w->n_begin_suppress; i++) {
            int32_t id = i < w->n_suppress ? w->suppress[i] : w->begin_suppress[i - w->n_suppress];
            if (id < 0 || id >= w->hp.n_vocab)
                st = loam_fail(err, LOAM_E_FORMAT, "%s: suppressed token %d is outside the vocabulary", path, id);
        }
        cJSON_Delete(c);
    }
    free(path);
    return st;
}

/* Without a generation_config.json (GGUF, whisper.cpp files): what
 * openai/whisper always suppresses — the task and context tokens and
 * <|nospeech|> — and " " / <|endoftext|> at the first step. (Its
 * "non-speech symbols" list needs the BPE merges, which those files lack;
 * whisper.cpp does not apply it by default either.) */
static void default_suppress(loam_whisper *w) {
    const whisper_special *sp = &w->sp;
    int32_t ids[] = {sp->translate, sp->transcribe, sp->sot, sp->sot_prev, sp->sot_lm, sp->no_speech};
    w->n_suppress = 0;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) w->suppress[w->n_suppress++] = ids[i];
    w->begin_suppress[0] = 220, w->begin_suppress[1] = sp->eot;
    w->n_begin_suppress = 2;
    w->max_initial_ts = 50;
}

static loam_status read_gguf(loam_whisper *w, const char *path, loam_error *err) {
    loam_status st = loam_weights_open_gguf(&w->store, path, err);
    if (st) return st;
    const gguf_file *g = w->store.gguf;
    const char *arch = NULL;
    uint64_t al = 0;
    if (!gguf_get_str(g, "general.architecture", &arch, &al) || al != 7 || memcmp(arch, "whisper", 7))
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: general.architecture is not whisper", path);
    struct { const char *key; int *dst; } keys[] = {
        {"whisper.audio.mel_bins", &w->hp.n_mels}, {"whisper.audio.context_length", &w->hp.n_audio_ctx},
        {"whisper.embedding_length", &w->hp.d_model}, {"whisper.encoder.block_count", &w->hp.n_enc_layers},
        {"whisper.attention.head_count", &w->hp.n_enc_heads}, {"whisper.feed_forward_length", &w->hp.n_enc_ff},
        {"whisper.context_length", &w->hp.n_text_ctx}, {"whisper.decoder.block_count", &w->hp.n_dec_layers},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int64_t v = 0;
        if (!gguf_get_int(g, keys[i].key, &v) || v < 0 || v > 1 << 20)
            return loam_fail(err, LOAM_E_FORMAT, "%s: metadata %s is missing or out of range", path, keys[i].key);
        *keys[i].dst = (int)v;
    }
    w->hp.n_dec_heads = w->hp.n_enc_heads, w->hp.n_dec_ff = w->hp.n_enc_ff;
    const loam_tensor *emb = find(w, HF_NAMES.tok);
    if (!emb || emb->n_dims != 2 || emb->shape[0] > 1 << 20) return missing(w, HF_NAMES.tok, err);
    w->hp.n_vocab = (int)emb->shape[0];
    return check_hparams(w, path, err);
}

static loam_status open_tokenizer(loam_whisper *w, const char *dir, loam_error *err) {
    char *path = loam_path_join(dir, "tokenizer.json");
    loam_status st = LOAM_OK;
    if (path && loam_file_exists(path)) st = loam_tokenizer_open(dir, &w->tok, err);
    free(path);
    return st;
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
}

loam_whisper_params loam_whisper_default_params(void) { return (loam_whisper_params){0, LOAM_SIMD_AUTO, 0, 0}; }

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static loam_status open_source(loam_whisper *w, const char *path, loam_error *err) {
    char *dir = dir_of(path);
    if (!dir) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    loam_status st;
    if (ends_with(path, ".gguf") && loam_file_exists(path)) {
        w->source = "gguf";
        st = read_gguf(w, path, err);
        whisper_layout_special(&w->sp, w->hp.n_vocab);
        default_suppress(w);
        if (!st) st = bind_weights(w, &HF_NAMES, err);
        if (!st) st = open_tokenizer(w, dir, err);
    } else if (loam_file_exists(path)) {
        w->source = "whisper.cpp";
        st = whisper_load_bin(w, path, err);
        if (!st) st = check_hparams(w, path, err);
        whisper_layout_special(&w->sp, w->hp.n_vocab);
        default_suppress(w);
        /* a .bin kept in a hub folder uses that folder's generation_config */
        if (!st) st = read_generation_config(w, dir, err);
        if (!st) st = bind_weights(w, &OPENAI_NAMES, err);
        if (!st) st = whisper_bin_vocab(w, err);
    } else {
        w->source = "hub folder";
        st = read_config(w, path, err);
        whisper_layout_special(&w->sp, w->hp.n_vocab);
        default_suppress(w);
        if (!st) st = read_generation_config(w, path, err);
        if (!st) st = loam_weights_open_dir(&w->store, path, err);
        if (!st) st = bind_weights(w, &HF_NAMES, err);
        if (!st) st = open_tokenizer(w, path, err);
    }
    free(dir);
    return st;
}

/* The matrices only the linear op reads, repacked or copied for the kernels
 * (nn_packed_size) on the runtime's pool: every layer's projections (the
 * decoder's cross-attention too), and the head where its stored pages can
 * be given back (a mapped file: lookups read its rows again as needed; a
 * whisper.cpp file's copy cannot be). The stored ones are given back (a
 * mapping's pages, or the whisper.cpp copy's: never read again). */
static loam_status pack_weights(loam_whisper *w, loam_error *err) {
    const loam_tensor ***slots = malloc((size_t)(10 * (w->hp.n_enc_layers + w->hp.n_dec_layers) + 1) * sizeof *slots);
    if (!slots) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        whisper_layer *L = pass ? w->dec : w->enc;
        for (int l = 0; l < (pass ? w->hp.n_dec_layers : w->hp.n_enc_layers); l++) {
            const loam_tensor **t[] = {&L[l].self.q, &L[l].self.k, &L[l].self.v, &L[l].self.o, &L[l].fc1, &L[l].fc2,
                                       &L[l].cross.q, &L[l].cross.k, &L[l].cross.v, &L[l].cross.o};
            for (size_t i = 0; i < sizeof t / sizeof *t; i++) slots[n++] = t[i];
        }
    }
    if (!w->bin) slots[n++] = &w->head;
    loam_status st = nn_pack_linears(w->kernels, w->nn.pool, slots, n, 1, w->path, &w->packed, &w->packed_arena, &w->n_packed, err);
    free(slots);
    return st;
}

loam_status loam_whisper_open(const char *path, const loam_whisper_params *params, loam_whisper **out,
                              loam_error *err) {
    *out = NULL;
    loam_whisper_params defaults = loam_whisper_default_params();
    if (!params) params = &defaults;
    loam_whisper *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    w->n_threads = params->n_threads > 0 ? params->n_threads : loam_physical_cores();
    loam_status st = open_source(w, path, err);
    if (!st) st = default_alignment_heads(w, err);
    if (!st) st = loam_kernels_choose(params->simd, &w->kernels, err);
    if (!st) st = nn_init(&w->nn, w->kernels, w->n_threads, NULL, params->quant_exact, err);
    if (!st) w->head = w->tok_emb;
    if (!st && !params->keep_layout && !params->quant_exact) st = pack_weights(w, err);
    if (!st) st = speech_mel_init(&w->mel, w->hp.n_mels, err);
    if (!st) st = whisper_runtime_init(w, err);
    if (st) {
        loam_whisper_free(w);
        return st;
    }
    *out = w;
    return LOAM_OK;
}

static void free_attn(whisper_attn_w *a) {
    free(a->bq), free(a->bv), free(a->bo), free(a->ln_w), free(a->ln_b);
}

static void free_layers(whisper_layer *L, int n) {
    for (int i = 0; L && i < n; i++) {
        free_attn(&L[i].self), free_attn(&L[i].cross);
        free(L[i].b1), free(L[i].b2), free(L[i].ln_w), free(L[i].ln_b);
    }
    free(L);
}

void loam_whisper_free(loam_whisper *w) {
    if (!w) return;
    whisper_runtime_free(w);
    speech_mel_free(&w->mel);
    nn_free(&w->nn);
    free_layers(w->enc, w->hp.n_enc_layers);
    free_layers(w->dec, w->hp.n_dec_layers);
    free(w->conv1_b), free(w->conv2_b), free(w->enc_pos), free(w->dec_pos);
    free(w->enc_ln_w), free(w->enc_ln_b), free(w->dec_ln_w), free(w->dec_ln_b);
    for (int i = 0; w->vocab && i < w->n_vocab_bytes; i++) free(w->vocab[i]);
    free(w->vocab), free(w->vocab_len);
    loam_tokenizer_free(w->tok);
    free(w->align_heads);
    whisper_bin_free(w->bin);
    loam_weights_close(&w->store);
    free(w->packed_arena), free(w->packed);
    free(w->path);
    free(w);
}

void loam_whisper_get_info(const loam_whisper *w, loam_whisper_info *info) {
    const whisper_hparams *h = &w->hp;
    *info = (loam_whisper_info){h->n_mels, h->n_audio_ctx, h->n_text_ctx, h->d_model, h->n_enc_layers,
                                h->n_dec_layers, h->n_enc_heads, h->n_vocab, w->sp.n_langs,
                                w->tok != NULL || w->vocab != NULL, w->source,
                                loam_type_short(w->enc[0].fc1->type)};
}

const char *loam_whisper_lang_code(const loam_whisper *w, int i) { return i < w->sp.n_langs ? whisper_lang_code(i) : NULL; }

int loam_whisper_lang_index(const loam_whisper *w, const char *code) {
    for (int i = 0; i < w->sp.n_langs; i++)
        if (!strcmp(LANG_CODES[i], code)) return i;
    return -1;
}

int loam_whisper_probe(const char *path) {
    if (ends_with(path, ".gguf") && loam_file_exists(path)) {
        gguf_file g;
        loam_error err;
        if (gguf_open(&g, path, &err)) return 0;
        const char *arch = NULL;
        uint64_t al = 0;
        int yes = gguf_get_str(&g, "general.architecture", &arch, &al) && al == 7 && !memcmp(arch, "whisper", 7);
        gguf_close(&g);
        return yes;
    }
    if (loam_file_exists(path)) {
        FILE *f = fopen(path, "rb");
        uint32_t magic = 0;
        int yes = f && fread(&magic, 4, 1, f) == 1 && magic == 0x67676d6cu;
        if (f) fclose(f);
        return yes;
    }
    char *cfg = loam_path_join(path, "config.json");
    cJSON *c = NULL;
    loam_error err;
    int yes = cfg && loam_file_exists(cfg) && loam_json_load(cfg, &c, &err) == LOAM_OK &&
              cJSON_IsString(cJSON_GetObjectItem(c, "model_type")) &&
              !strcmp(cJSON_GetObjectItem(c, "model_type")->valuestring, "whisper");
    cJSON_Delete(c);
    free(cfg);
    return yes;
}

uint64_t loam_whisper_decode_bytes(const loam_whisper *w) {
    const whisper_hparams *h = &w->hp;
    uint64_t bytes = w->tok_emb->n_bytes; /* the head: every row of the embedding */
    for (int l = 0; l < h->n_dec_layers; l++) {
        const whisper_layer *L = &w->dec[l];
        const loam_tensor *t[] = {L->self.q, L->self.k, L->self.v, L->self.o, L->cross.q, L->cross.o, L->fc1, L->fc2};
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) bytes += t[i]->n_bytes;
    }
    /* cross-attention reads K and V of every encoder position, f32 */
    bytes += (uint64_t)h->n_dec_layers * 2 * (uint64_t)h->n_audio_ctx * (uint64_t)h->d_model * sizeof(float);
    return bytes;
}
