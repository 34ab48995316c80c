/* The tokenizer stored in a GGUF file's metadata (tokenizer.ggml.*), built
 * to behave like the Hugging Face tokenizer it was converted from:
 * "llama" vocabularies are SentencePiece (pieces, scores, types); "gpt2"
 * ones are byte-level BPE whose pre-tokenizer is named by
 * tokenizer.ggml.pre, as llama.cpp's converter records it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"

#define GPT2_REGEX "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define LLAMA3_REGEX \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

enum { TYPE_NORMAL = 1, TYPE_UNKNOWN = 2, TYPE_CONTROL = 3, TYPE_USER = 4, TYPE_UNUSED = 5, TYPE_BYTE = 6 };

static loam_status push_pre(loam_tokenizer *t, tk_pretokenizer p, loam_error *err) {
    tk_pretokenizer *g = realloc(t->pres, (size_t)(t->n_pres + 1) * sizeof *g);
    if (!g) {
        pcre2_code_free(p.regex);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    t->pres = g;
    t->pres[t->n_pres++] = p;
    return LOAM_OK;
}

/* The pre-tokenizer of each "tokenizer.ggml.pre" loam knows. */
static loam_status gpt2_pretokenizer(loam_tokenizer *t, const char *pre, const char *path, loam_error *err) {
    loam_status st = LOAM_OK;
    if (!strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3")) {
        tk_pretokenizer split = {.type = TK_PRE_SPLIT, .behavior = TK_SPLIT_ISOLATED};
        if (!(split.regex = tk_compile_regex(LLAMA3_REGEX, path, err))) return LOAM_E_FORMAT;
        t->ignore_merges = 1;
        if ((st = push_pre(t, split, err))) return st;
        return push_pre(t, (tk_pretokenizer){.type = TK_PRE_BYTELEVEL}, err);
    }
    if (!strcmp(pre, "falcon")) {
        tk_pretokenizer bl = {.type = TK_PRE_BYTELEVEL}, three = {.type = TK_PRE_SPLIT, .behavior = TK_SPLIT_ISOLATED};
        if (!(bl.regex = tk_compile_regex(GPT2_REGEX, path, err)) || !(three.regex = tk_compile_regex("[0-9][0-9][0-9]", path, err))) {
            pcre2_code_free(bl.regex);
            return LOAM_E_FORMAT;
        }
        if ((st = push_pre(t, (tk_pretokenizer){.type = TK_PRE_PUNCTUATION, .behavior = TK_SPLIT_CONTIGUOUS}, err)) ||
            (st = push_pre(t, bl, err)) || (st = push_pre(t, (tk_pretokenizer){.type = TK_PRE_DIGITS}, err)))
            return st;
        return push_pre(t, three, err);
    }
    if (!strcmp(pre, "gpt-2") || !strcmp(pre, "default") || !strcmp(pre, "mpt") || !strcmp(pre, "gpt2") ||
        !strcmp(pre, "phi-2") || !strcmp(pre, "olmo") || !strcmp(pre, "bloom")) {
        if (!strcmp(pre, "mpt")) { /* MPT's tokenizer (GPT-NeoX) normalizes to NFC first */
            t->norms = malloc(sizeof *t->norms);
            if (!t->norms) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
            t->norms[0] = (tk_normalizer){.type = TK_NORM_NFC};
            t->n_norms = 1;
        }
        tk_pretokenizer bl = {.type = TK_PRE_BYTELEVEL};
        if (!(bl.regex = tk_compile_regex(GPT2_REGEX, path, err))) return LOAM_E_FORMAT;
        return push_pre(t, bl, err);
    }
    return loam_fail(err, LOAM_E_UNSUPPORTED,
                     "%s: tokenizer.ggml.pre \"%s\" is not supported (llama-bpe, falcon, gpt-2, mpt, default)", path, pre);
}


static int bool_or(const gguf_file *g, const char *key, int dflt) {
    int v;
    return gguf_get_bool(g, key, &v) ? v : dflt;
}

/* A special token id (absent: -1). Present, it must be an integer naming a
 * token of the vocabulary: an id past it would otherwise be ignored. */
static loam_status special_id(const gguf_file *g, const char *key, uint64_t n, int64_t *out, const char *path, loam_error *err) {
    *out = -1;
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv) return LOAM_OK;
    int64_t v;
    if (!gguf_get_int(g, key, &v)) return loam_fail(err, LOAM_E_FORMAT, "%s: %s is not an integer", path, key);
    if (v < 0 || (uint64_t)v >= n)
        return loam_fail(err, LOAM_E_FORMAT, "%s: %s is %lld but the vocabulary has %llu tokens (ids 0..%llu)", path, key,
                         (long long)v, (unsigned long long)n, (unsigned long long)n - 1);
    *out = v;
    return LOAM_OK;
}

static int integer_type(gguf_type t) { return t <= GGUF_I32 || t == GGUF_U64 || t == GGUF_I64; }

/* tokenizer.ggml.token_type: integers, each one of GGUF's token types. */
static loam_status read_token_types(const gguf_kv *kv, uint64_t n, int8_t *types, const char *path, loam_error *err) {
    for (uint64_t i = 0; i < n; i++) types[i] = TYPE_NORMAL;
    if (!kv) return LOAM_OK;
    if (kv->type != GGUF_ARRAY || kv->count != n || !integer_type(kv->elem_type))
        return loam_fail(err, LOAM_E_FORMAT, "%s: tokenizer.ggml.token_type must be an array of %llu integers", path, (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        double v = 0;
        gguf_array_num(kv, i, &v);
        if (!(v >= TYPE_NORMAL && v <= TYPE_BYTE))
            return loam_fail(err, LOAM_E_FORMAT, "%s: tokenizer.ggml.token_type of token %llu is %.17g (the token types are 1..6)", path,
                             (unsigned long long)i, v);
        types[i] = (int8_t)v;
    }
    return LOAM_OK;
}

static loam_status load(loam_tokenizer *t, const gguf_file *g, const char *path, loam_error *err) {
    const char *model, *pre = "default";
    uint64_t model_len, pre_len = 7;
    if (!gguf_get_str(g, "tokenizer.ggml.model", &model, &model_len))
        return loam_fail(err, LOAM_E_FORMAT, "%s: no tokenizer in the metadata (tokenizer.ggml.model)", path);
    char model_name[32] = "", pre_name[64] = "default";
    snprintf(model_name, sizeof model_name, "%.*s", (int)(model_len < 31 ? model_len : 31), model);
    if (gguf_get_str(g, "tokenizer.ggml.pre", &pre, &pre_len))
        snprintf(pre_name, sizeof pre_name, "%.*s", (int)(pre_len < 63 ? pre_len : 63), pre);
    int spm = !strcmp(model_name, "llama"), bpe = !strcmp(model_name, "gpt2");
    if (!spm && !bpe)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: tokenizer.ggml.model \"%s\" is not supported (llama, gpt2)", path, model_name);
    const gguf_kv *tokens = gguf_find(g, "tokenizer.ggml.tokens");
    const gguf_kv *types_kv = gguf_find(g, "tokenizer.ggml.token_type"), *scores = gguf_find(g, "tokenizer.ggml.scores");
    if (!tokens || tokens->type != GGUF_ARRAY || tokens->elem_type != GGUF_STRING || tokens->count == 0 || tokens->count > (1u << 22))
        return loam_fail(err, LOAM_E_FORMAT, "%s: tokenizer.ggml.tokens must be a non-empty array of strings", path);
    uint64_t n = tokens->count;
    if (scores && (scores->type != GGUF_ARRAY || scores->count != n || (scores->elem_type != GGUF_F32 && scores->elem_type != GGUF_F64)))
        return loam_fail(err, LOAM_E_FORMAT, "%s: tokenizer.ggml.scores must be an array of %llu floats", path, (unsigned long long)n);
    t->n_vocab = (int32_t)n;
    t->tokens = calloc(n + 1, sizeof *t->tokens);
    t->token_lens = calloc(n + 1, sizeof *t->token_lens);
    t->scores = calloc(n + 1, sizeof *t->scores);
    int8_t *types = calloc(n + 1, 1);
    const char **strs = malloc(n * sizeof *strs);
    uint64_t *lens = malloc(n * sizeof *lens);
    loam_status st = LOAM_OK;
    if (!t->tokens || !t->token_lens || !t->scores || !types || !strs || !lens) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (!st) st = read_token_types(types_kv, n, types, path, err);
    int64_t bos = -1, eos = -1, unk = -1, pad = -1, sep = -1;
    if (!st) st = special_id(g, "tokenizer.ggml.bos_token_id", n, &bos, path, err);
    if (!st) st = special_id(g, "tokenizer.ggml.eos_token_id", n, &eos, path, err);
    if (!st) st = special_id(g, "tokenizer.ggml.unknown_token_id", n, &unk, path, err);
    if (!st) st = special_id(g, "tokenizer.ggml.padding_token_id", n, &pad, path, err);
    if (!st) st = special_id(g, "tokenizer.ggml.seperator_token_id", n, &sep, path, err);
    (void)pad, (void)sep; /* checked, not used */
    if (!st) gguf_array_strs(tokens, strs, lens);
    for (uint64_t i = 0; !st && i < n; i++) {
        if (!(t->tokens[i] = malloc(lens[i] + 1))) {
            st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
            break;
        }
        memcpy(t->tokens[i], strs[i], lens[i]);
        t->tokens[i][lens[i]] = 0;
        t->token_lens[i] = (uint32_t)lens[i];
        double sc = 0;
        if (scores) gguf_array_num(scores, i, &sc);
        t->scores[i] = (float)sc;
    }
    if (!st && spm) {
        int byte_fallback = 0;
        for (uint64_t i = 0; i < n; i++) byte_fallback |= types[i] == TYPE_BYTE;
        tk_spm_options o = {.byte_fallback = byte_fallback, .add_dummy_prefix = bool_or(g, "tokenizer.ggml.add_space_prefix", 1),
                            .remove_extra_ws = 0, .unk_id = unk >= 0 ? unk : 0, .bos_id = bos, .eos_id = eos,
                            .add_bos = bool_or(g, "tokenizer.ggml.add_bos_token", 1), .add_eos = bool_or(g, "tokenizer.ggml.add_eos_token", 0)};
        st = tk_spm_build(t, types, &o, path, err);
    } else if (!st) {
        t->model = TK_MODEL_BPE;
        t->unk_id = -1;
        if (!tk_strmap_init(&t->vocab, (uint32_t)n, (const char *const *)t->tokens, t->token_lens)) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
        for (uint64_t i = 0; !st && i < n; i++) tk_strmap_add(&t->vocab, (int32_t)i);
        /* merges, as tokenizer.json's "a b" list */
        const gguf_kv *merges = gguf_find(g, "tokenizer.ggml.merges");
        if (!st && (!merges || merges->type != GGUF_ARRAY || merges->elem_type != GGUF_STRING))
            st = loam_fail(err, LOAM_E_FORMAT, "%s: a gpt2 tokenizer needs tokenizer.ggml.merges", path);
        cJSON *list = st ? NULL : cJSON_CreateArray();
        if (!st && merges->count) {
            const char **ms = malloc(merges->count * sizeof *ms);
            uint64_t *ml = malloc(merges->count * sizeof *ml);
            if (!ms || !ml || !list) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
            else gguf_array_strs(merges, ms, ml);
            for (uint64_t i = 0; !st && i < merges->count; i++) {
                char *m = malloc(ml[i] + 1);
                if (!m) {
                    st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
                    break;
                }
                memcpy(m, ms[i], ml[i]);
                m[ml[i]] = 0;
                cJSON_AddItemToArray(list, cJSON_CreateString(m));
                free(m);
            }
            free(ms);
            free(ml);
        }
        if (!st) st = tk_read_merges(t, list, path, err);
        cJSON_Delete(list);
        if (!st) st = gpt2_pretokenizer(t, pre_name, path, err);
        /* control and user-defined tokens are matched in text as added tokens */
        if (!st && !(t->added = calloc(n, sizeof *t->added))) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
        for (uint64_t i = 0; !st && i < n; i++) {
            if (types[i] != TYPE_CONTROL && types[i] != TYPE_USER) continue;
            tk_added *a = &t->added[t->n_added];
            if (!(a->content = tk_memdup(t->tokens[i], t->token_lens[i]))) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
            a->id = (int32_t)i, a->len = t->token_lens[i], a->special = types[i] == TYPE_CONTROL;
            t->n_added++;
        }
        if (!st) {
            tk_decoder d = {.type = TK_DEC_BYTELEVEL};
            if (!(t->decs = malloc(sizeof *t->decs))) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
            else t->decs[0] = d, t->n_decs = 1;
        }
        int add_bos = bool_or(g, "tokenizer.ggml.add_bos_token", 0), add_eos = bool_or(g, "tokenizer.ggml.add_eos_token", 0);
        if (!st && !(t->tpl = malloc(3 * sizeof *t->tpl))) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
        if (!st) {
            t->has_template = 1;
            if (add_bos && bos >= 0 && bos < (int64_t)n) t->tpl[t->n_tpl++] = (tk_template_item){1, (int32_t)bos};
            t->tpl[t->n_tpl++] = (tk_template_item){0, 0};
            if (add_eos && eos >= 0 && eos < (int64_t)n) t->tpl[t->n_tpl++] = (tk_template_item){1, (int32_t)eos};
        }
    }
    /* names for chat templates */
    if (!st && bos >= 0 && bos < (int64_t)n) t->bos_token = strdup(t->tokens[bos]);
    if (!st && eos >= 0 && eos < (int64_t)n) t->eos_token = strdup(t->tokens[eos]);
    const char *tpl;
    uint64_t tl;
    if (!st && gguf_get_str(g, "tokenizer.chat_template", &tpl, &tl) && (t->chat_template = malloc(tl + 1)))
        memcpy(t->chat_template, tpl, tl), t->chat_template[tl] = 0;
    free(types);
    free(strs);
    free(lens);
    return st;
}

loam_status tk_load_gguf(loam_tokenizer *t, const char *path, loam_error *err) {
    gguf_file g;
    loam_status st = gguf_open(&g, path, err);
    if (st) return st;
    st = load(t, &g, path, err);
    gguf_close(&g);
    return st;
}

loam_status tk_check_gguf_vocab(const gguf_file *g, const char *path, loam_error *err) {
    loam_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    loam_status st = load(t, g, path, err);
    if (!st) st = tk_finish(t, err);
    loam_tokenizer_free(t);
    return st;
}
