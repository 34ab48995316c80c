/* tokenizer.json (Hugging Face tokenizers' serialisation) into a
 * loam_tokenizer. Every component type we do not implement is an error
 * naming it, never a silent difference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/json.h"
#include "tokenizer/tokenizer.h"

#define MAX_VOCAB (1 << 22)

static char *dupn(const char *s, size_t n) {
    char *c = malloc(n + 1);
    if (c) memcpy(c, s, n), c[n] = 0;
    return c;
}

/* A string value, or dflt (names: an unknown one is refused by the caller). */
static const char *str_or(const cJSON *o, const char *key, const char *dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

/* A string that ends up in or is matched against the text (patterns,
 * replacements): it must be valid UTF-8, which cJSON does not check. NULL
 * when it is not; dflt when absent. */
static const char *text_or(const cJSON *o, const char *key, const char *dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v)) return dflt;
    return loam_utf8_valid(v->valuestring, strlen(v->valuestring)) ? v->valuestring : NULL;
}

static int bool_or(const cJSON *o, const char *key, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* ---- field types: a key present with the wrong type is an error, never
 * a silent default (byte_fallback "yes" must not read as false) */

enum { J_STR = 1, J_BOOL = 2, J_INT = 4, J_NUM = 8, J_NULL = 16, J_ARR = 32, J_OBJ = 64 };

typedef struct {
    const char *key;
    int types;
} jfield;

static int has_type(const cJSON *v, int types) {
    return ((types & J_STR) && cJSON_IsString(v)) || ((types & J_BOOL) && cJSON_IsBool(v)) ||
           ((types & J_INT) && loam_json_is_int_in(v, -2147483648.0, 2147483647.0)) || ((types & J_NUM) && cJSON_IsNumber(v)) ||
           ((types & J_NULL) && cJSON_IsNull(v)) || ((types & J_ARR) && cJSON_IsArray(v)) || ((types & J_OBJ) && cJSON_IsObject(v));
}

static const char *type_words(int types) {
    switch (types & ~J_NULL) {
    case J_STR: return "a string";
    case J_BOOL: return "true or false";
    case J_INT: return "an integer";
    case J_NUM: return "a number";
    case J_ARR: return "an array";
    case J_OBJ: return "an object";
    default: return "an array or an object";
    }
}

static loam_status check_fields(const cJSON *o, const char *what, const jfield *f, const char *path, loam_error *err) {
    if (!cJSON_IsObject(o)) return loam_fail(err, LOAM_E_FORMAT, "%s: %s must be an object", path, what);
    for (; f->key; f++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f->key);
        if (v && !has_type(v, f->types))
            return loam_fail(err, LOAM_E_FORMAT, "%s: %s's \"%s\" must be %s%s", path, what, f->key, type_words(f->types),
                             f->types & J_NULL ? " or null" : "");
    }
    return LOAM_OK;
}

/* the fields each kind of stage may have, with their types */
static const jfield model_fields[] = {{"type", J_STR},      {"vocab", J_OBJ | J_ARR},    {"merges", J_ARR},
                                      {"byte_fallback", J_BOOL}, {"fuse_unk", J_BOOL},  {"ignore_merges", J_BOOL},
                                      {"unk_token", J_STR | J_NULL}, {"unk_id", J_INT | J_NULL},
                                      {"continuing_subword_prefix", J_STR | J_NULL}, {"end_of_word_suffix", J_STR | J_NULL},
                                      {"dropout", J_NUM | J_NULL}, {NULL, 0}};
static const jfield added_fields[] = {{"id", J_INT},         {"content", J_STR},      {"special", J_BOOL}, {"lstrip", J_BOOL},
                                      {"rstrip", J_BOOL},    {"single_word", J_BOOL}, {"normalized", J_BOOL}, {NULL, 0}};
static const jfield normalizer_fields[] = {{"type", J_STR},          {"normalizers", J_ARR}, {"prepend", J_STR},
                                           {"pattern", J_OBJ},       {"content", J_STR},     {"left", J_BOOL},
                                           {"right", J_BOOL},        {"precompiled_charsmap", J_STR | J_NULL},
                                           {"lowercase", J_BOOL},    {"clean_text", J_BOOL}, {"strip_accents", J_BOOL | J_NULL},
                                           {NULL, 0}};
static const jfield pretokenizer_fields[] = {{"type", J_STR},           {"pretokenizers", J_ARR}, {"pattern", J_OBJ},
                                             {"behavior", J_STR},       {"invert", J_BOOL},       {"add_prefix_space", J_BOOL},
                                             {"trim_offsets", J_BOOL},  {"use_regex", J_BOOL},    {"replacement", J_STR},
                                             {"prepend_scheme", J_STR}, {"split", J_BOOL},        {"individual_digits", J_BOOL},
                                             {NULL, 0}};
static const jfield decoder_fields[] = {{"type", J_STR},         {"decoders", J_ARR},    {"pattern", J_OBJ},
                                        {"content", J_STR},      {"start", J_INT},       {"stop", J_INT},
                                        {"replacement", J_STR},  {"prepend_scheme", J_STR}, {"split", J_BOOL},
                                        {"add_prefix_space", J_BOOL}, {"trim_offsets", J_BOOL}, {"use_regex", J_BOOL},
                                        {"suffix", J_STR},       {"prefix", J_STR},      {"cleanup", J_BOOL}, {NULL, 0}};
static const jfield post_fields[] = {{"type", J_STR},     {"processors", J_ARR}, {"single", J_ARR},       {"pair", J_ARR},
                                     {"special_tokens", J_OBJ}, {"cls", J_ARR},  {"sep", J_ARR},          {"trim_offsets", J_BOOL},
                                     {"add_prefix_space", J_BOOL}, {"use_regex", J_BOOL}, {NULL, 0}};

pcre2_code *tk_compile_regex(const char *pattern, const char *path, loam_error *err) {
    int code;
    PCRE2_SIZE at;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &code, &at, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        loam_fail(err, LOAM_E_FORMAT, "%s: regex \"%s\" does not compile at %zu: %s", path, pattern, (size_t)at, (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT is unavailable */
    return re;
}

/* "pattern": {"String": s} or {"Regex": r} */
static loam_status read_pattern(const cJSON *o, const char *path, char **literal, pcre2_code **regex, loam_error *err) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pattern");
    const char *s = text_or(p, "String", NULL), *r = str_or(p, "Regex", NULL);
    if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "String")) && !s)
        return loam_fail(err, LOAM_E_FORMAT, "%s: a pattern is not valid UTF-8", path);
    if (s) return (*literal = strdup(s)) ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (r) return (*regex = tk_compile_regex(r, path, err)) ? LOAM_OK : LOAM_E_FORMAT;
    return loam_fail(err, LOAM_E_FORMAT, "%s: a pattern needs \"String\" or \"Regex\"", path);
}

/* ---- normalizers */

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

uint8_t *tk_base64(const char *s, size_t *out_len) {
    size_t n = strlen(s);
    uint8_t *o = malloc(n / 4 * 3 + 4);
    if (!o) return NULL;
    size_t len = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=' || s[i] == '\n' || s[i] == '\r') continue;
        int v = b64val(s[i]);
        if (v < 0) {
            free(o);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[len++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = len;
    return o;
}

static loam_status add_normalizer(loam_tokenizer *t, const cJSON *o, const char *path, int depth, loam_error *err) {
    if (!o || cJSON_IsNull(o)) return LOAM_OK;
    loam_status bad = check_fields(o, "a normalizer", normalizer_fields, path, err);
    if (bad) return bad;
    if (depth > 16) return loam_fail(err, LOAM_E_FORMAT, "%s: normalizers nested too deeply", path);
    const char *type = str_or(o, "type", "");
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *v;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "normalizers")) {
            loam_status st = add_normalizer(t, v, path, depth + 1, err);
            if (st) return st;
        }
        return LOAM_OK;
    }
    tk_normalizer nm = {0};
    if (strcmp(type, "NFC") == 0) nm.type = TK_NORM_NFC;
    else if (strcmp(type, "NFD") == 0) nm.type = TK_NORM_NFD;
    else if (strcmp(type, "NFKC") == 0) nm.type = TK_NORM_NFKC;
    else if (strcmp(type, "NFKD") == 0) nm.type = TK_NORM_NFKD;
    else if (strcmp(type, "Lowercase") == 0) nm.type = TK_NORM_LOWERCASE;
    else if (strcmp(type, "Strip") == 0) {
        nm.type = TK_NORM_STRIP;
        nm.strip_left = bool_or(o, "strip_left", 1);
        nm.strip_right = bool_or(o, "strip_right", 1);
    } else if (strcmp(type, "Replace") == 0) {
        nm.type = TK_NORM_REPLACE;
        loam_status st = read_pattern(o, path, &nm.pattern, &nm.regex, err);
        if (st) return st;
        const char *content = text_or(o, "content", "");
        if (!content) {
            pcre2_code_free(nm.regex);
            free(nm.pattern);
            return loam_fail(err, LOAM_E_FORMAT, "%s: Replace content is not valid UTF-8", path);
        }
        if (!(nm.content = strdup(content))) {
            pcre2_code_free(nm.regex);
            free(nm.pattern);
            return loam_fail(err, LOAM_E_NOMEM, "out of memory");
        }
    } else if (strcmp(type, "Prepend") == 0) {
        nm.type = TK_NORM_PREPEND;
        const char *prepend = text_or(o, "prepend", "");
        if (!prepend) return loam_fail(err, LOAM_E_FORMAT, "%s: Prepend content is not valid UTF-8", path);
        if (!(nm.content = strdup(prepend))) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    } else if (strcmp(type, "Precompiled") == 0) {
        nm.type = TK_NORM_PRECOMPILED;
        const char *b64 = str_or(o, "precompiled_charsmap", NULL);
        if (!b64) return loam_fail(err, LOAM_E_FORMAT, "%s: Precompiled normalizer without precompiled_charsmap", path);
        if (!(nm.charsmap = tk_base64(b64, &nm.charsmap_len)))
            return loam_fail(err, LOAM_E_FORMAT, "%s: precompiled_charsmap is not base64", path);
        loam_status st = tk_charsmap_parse(&nm, path, err);
        if (st) {
            free(nm.charsmap);
            return st;
        }
    } else {
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: normalizer type \"%s\" is not supported", path, type);
    }
    tk_normalizer *grown = realloc(t->norms, (size_t)(t->n_norms + 1) * sizeof *grown);
    if (!grown) {
        pcre2_code_free(nm.regex);
        free(nm.pattern), free(nm.content), free(nm.charsmap), free((void *)nm.trie);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    t->norms = grown;
    t->norms[t->n_norms++] = nm;
    return LOAM_OK;
}

loam_status tk_charsmap_parse(tk_normalizer *nm, const char *path, loam_error *err) {
    if (nm->charsmap_len < 4) return loam_fail(err, LOAM_E_FORMAT, "%s: precompiled_charsmap too short", path);
    uint32_t trie_bytes = (uint32_t)nm->charsmap[0] | (uint32_t)nm->charsmap[1] << 8 | (uint32_t)nm->charsmap[2] << 16 |
                          (uint32_t)nm->charsmap[3] << 24;
    if (trie_bytes % 4 || (uint64_t)trie_bytes + 4 > nm->charsmap_len)
        return loam_fail(err, LOAM_E_FORMAT, "%s: precompiled_charsmap trie size %u does not fit", path, trie_bytes);
    /* the trie is little-endian u32s; copy so the units are aligned */
    uint32_t *units = malloc(trie_bytes ? trie_bytes : 4);
    if (!units) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < trie_bytes / 4; i++) {
        const uint8_t *p = nm->charsmap + 4 + 4 * i;
        units[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
    nm->trie = units;
    nm->trie_units = trie_bytes / 4;
    nm->normalized = (const char *)nm->charsmap + 4 + trie_bytes;
    nm->normalized_len = nm->charsmap_len - 4 - trie_bytes;
    return LOAM_OK;
}

/* ---- pre-tokenizers */

#define GPT2_PATTERN "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

static int behavior_of(const char *s, tk_split_behavior *b) {
    static const struct {
        const char *name;
        tk_split_behavior b;
    } names[] = {{"Isolated", TK_SPLIT_ISOLATED},       {"Removed", TK_SPLIT_REMOVED},
                 {"MergedWithPrevious", TK_SPLIT_MERGED_PREV}, {"MergedWithNext", TK_SPLIT_MERGED_NEXT},
                 {"Contiguous", TK_SPLIT_CONTIGUOUS}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(s, names[i].name) == 0) return *b = names[i].b, 1;
    return 0;
}

static int prepend_scheme_of(const cJSON *o) {
    const char *s = str_or(o, "prepend_scheme", NULL);
    if (!s) return bool_or(o, "add_prefix_space", 1) ? 2 : 0;
    return strcmp(s, "never") == 0 ? 0 : strcmp(s, "first") == 0 ? 1 : 2;
}

static loam_status add_pretokenizer(loam_tokenizer *t, const cJSON *o, const char *path, int depth, loam_error *err) {
    if (o && !cJSON_IsNull(o)) {
        loam_status bad = check_fields(o, "a pre-tokenizer", pretokenizer_fields, path, err);
        if (bad) return bad;
    }
    if (!o || cJSON_IsNull(o)) return LOAM_OK;
    if (depth > 16) return loam_fail(err, LOAM_E_FORMAT, "%s: pre-tokenizers nested too deeply", path);
    const char *type = str_or(o, "type", "");
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *v;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "pretokenizers")) {
            loam_status st = add_pretokenizer(t, v, path, depth + 1, err);
            if (st) return st;
        }
        return LOAM_OK;
    }
    tk_pretokenizer p = {0};
    loam_status st = LOAM_OK;
    if (strcmp(type, "Split") == 0) {
        p.type = TK_PRE_SPLIT;
        st = read_pattern(o, path, &p.literal, &p.regex, err);
        if (!st && !behavior_of(str_or(o, "behavior", "Isolated"), &p.behavior))
            st = loam_fail(err, LOAM_E_FORMAT, "%s: unknown split behavior \"%s\"", path, str_or(o, "behavior", ""));
        p.invert = bool_or(o, "invert", 0);
    } else if (strcmp(type, "ByteLevel") == 0) {
        p.type = TK_PRE_BYTELEVEL;
        p.add_prefix_space = bool_or(o, "add_prefix_space", 1);
        if (bool_or(o, "use_regex", 1) && !(p.regex = tk_compile_regex(GPT2_PATTERN, path, err))) st = LOAM_E_FORMAT;
    } else if (strcmp(type, "Metaspace") == 0) {
        p.type = TK_PRE_METASPACE;
        p.prepend_scheme = prepend_scheme_of(o);
        p.split = bool_or(o, "split", 1);
        const char *rep = text_or(o, "replacement", "\xe2\x96\x81");
        if (!rep) st = loam_fail(err, LOAM_E_FORMAT, "%s: Metaspace replacement is not valid UTF-8", path);
        else if (!(p.replacement = strdup(rep))) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    } else if (strcmp(type, "Punctuation") == 0) {
        p.type = TK_PRE_PUNCTUATION;
        if (!behavior_of(str_or(o, "behavior", "Isolated"), &p.behavior))
            st = loam_fail(err, LOAM_E_FORMAT, "%s: unknown punctuation behavior", path);
    } else if (strcmp(type, "Digits") == 0) {
        p.type = TK_PRE_DIGITS;
        p.individual_digits = bool_or(o, "individual_digits", 0);
    } else if (strcmp(type, "Whitespace") == 0) {
        p.type = TK_PRE_WHITESPACE;
        if (!(p.regex = tk_compile_regex("\\w+|[^\\w\\s]+", path, err))) st = LOAM_E_FORMAT;
    } else if (strcmp(type, "WhitespaceSplit") == 0) {
        p.type = TK_PRE_WHITESPACE_SPLIT;
        if (!(p.regex = tk_compile_regex("\\s+", path, err))) st = LOAM_E_FORMAT;
    } else {
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: pre-tokenizer type \"%s\" is not supported", path, type);
    }
    tk_pretokenizer *grown = st ? NULL : realloc(t->pres, (size_t)(t->n_pres + 1) * sizeof *grown);
    if (!grown) { /* free what this step compiled before failing */
        pcre2_code_free(p.regex);
        free(p.literal);
        free(p.replacement);
        return st ? st : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    t->pres = grown;
    t->pres[t->n_pres++] = p;
    return LOAM_OK;
}

/* ---- decoders */

static loam_status add_decoder(loam_tokenizer *t, const cJSON *o, const char *path, int depth, loam_error *err) {
    if (o && !cJSON_IsNull(o)) {
        loam_status bad = check_fields(o, "a decoder", decoder_fields, path, err);
        if (bad) return bad;
    }
    if (!o || cJSON_IsNull(o)) return LOAM_OK;
    if (depth > 16) return loam_fail(err, LOAM_E_FORMAT, "%s: decoders nested too deeply", path);
    const char *type = str_or(o, "type", "");
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *v;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "decoders")) {
            loam_status st = add_decoder(t, v, path, depth + 1, err);
            if (st) return st;
        }
        return LOAM_OK;
    }
    tk_decoder d = {0};
    const char *content = NULL, *pattern = NULL;
    if (strcmp(type, "ByteLevel") == 0) d.type = TK_DEC_BYTELEVEL;
    else if (strcmp(type, "ByteFallback") == 0) d.type = TK_DEC_BYTEFALLBACK;
    else if (strcmp(type, "Fuse") == 0) d.type = TK_DEC_FUSE;
    else if (strcmp(type, "Replace") == 0) {
        d.type = TK_DEC_REPLACE;
        pattern = str_or(cJSON_GetObjectItemCaseSensitive(o, "pattern"), "String", NULL);
        content = str_or(o, "content", "");
        if (!pattern) return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: Replace decoder needs a string pattern", path);
    } else if (strcmp(type, "Strip") == 0) {
        d.type = TK_DEC_STRIP;
        content = str_or(o, "content", " ");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "start"), *b = cJSON_GetObjectItemCaseSensitive(o, "stop");
        d.start = cJSON_IsNumber(a) ? (int)a->valuedouble : 0;
        d.stop = cJSON_IsNumber(b) ? (int)b->valuedouble : 0;
    } else if (strcmp(type, "Metaspace") == 0) {
        d.type = TK_DEC_METASPACE;
        content = str_or(o, "replacement", "\xe2\x96\x81");
        d.prepend_scheme = prepend_scheme_of(o);
    } else if (strcmp(type, "BPEDecoder") == 0) {
        d.type = TK_DEC_BPE_SUFFIX;
        content = str_or(o, "suffix", "</w>");
    } else {
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: decoder type \"%s\" is not supported", path, type);
    }
    tk_decoder *grown = NULL;
    if ((content && !(d.content = strdup(content))) || (pattern && !(d.pattern = strdup(pattern))) ||
        !(grown = realloc(t->decs, (size_t)(t->n_decs + 1) * sizeof *grown))) {
        free(d.content), free(d.pattern);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    t->decs = grown;
    t->decs[t->n_decs++] = d;
    return LOAM_OK;
}

/* ---- post-processor: the single-sequence template */

static loam_status tpl_push(loam_tokenizer *t, int special, int32_t id, loam_error *err) {
    tk_template_item *g = realloc(t->tpl, (size_t)(t->n_tpl + 1) * sizeof *g);
    if (!g) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    t->tpl = g;
    t->tpl[t->n_tpl++] = (tk_template_item){special, id};
    return LOAM_OK;
}

static loam_status read_post(loam_tokenizer *t, const cJSON *o, const char *path, int depth, loam_error *err) {
    if (!o || cJSON_IsNull(o)) return LOAM_OK;
    loam_status bad = check_fields(o, "the post-processor", post_fields, path, err);
    if (bad) return bad;
    if (depth > 8) return loam_fail(err, LOAM_E_FORMAT, "%s: post-processors nested too deeply", path);
    const char *type = str_or(o, "type", "");
    loam_status st = LOAM_OK;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *v;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "processors")) if ((st = read_post(t, v, path, depth + 1, err))) return st;
    } else if (strcmp(type, "ByteLevel") == 0) {
        /* offsets only */
    } else if (strcmp(type, "TemplateProcessing") == 0) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(o, "single"), *specials = cJSON_GetObjectItemCaseSensitive(o, "special_tokens");
        const cJSON *item;
        t->has_template = 1;
        t->n_tpl = 0;
        cJSON_ArrayForEach(item, single) {
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(item, "SpecialToken");
            if (sp) {
                const char *name = str_or(sp, "id", "");
                const cJSON *ids = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(specials, name), "ids");
                if (!cJSON_IsArray(ids))
                    return loam_fail(err, LOAM_E_FORMAT, "%s: template special token \"%s\" has no ids", path, name);
                const cJSON *id;
                cJSON_ArrayForEach(id, ids) {
                    if (!loam_json_is_int_in(id, 0, MAX_VOCAB)) return loam_fail(err, LOAM_E_FORMAT, "%s: bad id for \"%s\"", path, name);
                    if ((st = tpl_push(t, 1, (int32_t)id->valuedouble, err))) return st;
                }
            } else if (cJSON_GetObjectItemCaseSensitive(item, "Sequence")) {
                if (strcmp(str_or(cJSON_GetObjectItemCaseSensitive(item, "Sequence"), "id", "A"), "A") == 0 &&
                    (st = tpl_push(t, 0, 0, err)))
                    return st;
            } else {
                return loam_fail(err, LOAM_E_FORMAT, "%s: template item is neither SpecialToken nor Sequence", path);
            }
        }
    } else if (strcmp(type, "RobertaProcessing") == 0 || strcmp(type, "BertProcessing") == 0) {
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(o, "cls"), *sep = cJSON_GetObjectItemCaseSensitive(o, "sep");
        const cJSON *c1 = cJSON_GetArrayItem(cls, 1), *s1 = cJSON_GetArrayItem(sep, 1);
        if (!loam_json_is_int_in(c1, 0, MAX_VOCAB) || !loam_json_is_int_in(s1, 0, MAX_VOCAB))
            return loam_fail(err, LOAM_E_FORMAT, "%s: %s needs cls and sep", path, type);
        t->has_template = 1;
        t->n_tpl = 0;
        if ((st = tpl_push(t, 1, (int32_t)c1->valuedouble, err)) || (st = tpl_push(t, 0, 0, err)) ||
            (st = tpl_push(t, 1, (int32_t)s1->valuedouble, err)))
            return st;
    } else {
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: post-processor type \"%s\" is not supported", path, type);
    }
    return st;
}

/* ---- model */

static loam_status set_token(loam_tokenizer *t, int64_t id, const char *s, size_t n, const char *path, loam_error *err) {
    if (id < 0 || id >= t->n_vocab) return loam_fail(err, LOAM_E_FORMAT, "%s: token id %lld out of range", path, (long long)id);
    if (t->tokens[id]) /* two strings for one id: decoding it would be a guess */
        return loam_fail(err, LOAM_E_FORMAT, "%s: tokens \"%.40s\" and \"%.*s\" both have id %lld", path, t->tokens[id], (int)(n < 40 ? n : 40), s,
                         (long long)id);
    if (!(t->tokens[id] = dupn(s, n))) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    t->token_lens[id] = (uint32_t)n;
    return LOAM_OK;
}

loam_status tk_read_merges(loam_tokenizer *t, const cJSON *merges, const char *path, loam_error *err) {
    int n = cJSON_GetArraySize(merges);
    if (!tk_mergemap_init(&t->merges, (uint32_t)n)) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    size_t plen = t->subword_prefix ? strlen(t->subword_prefix) : 0;
    int rank = 0;
    const cJSON *m;
    tk_buf joined = {0};
    loam_status st = LOAM_OK;
    cJSON_ArrayForEach(m, merges) {
        const char *a, *b;
        size_t la, lb;
        if (cJSON_IsString(m)) { /* "a b" */
            const char *sp = strchr(m->valuestring, ' ');
            if (!sp) {
                st = loam_fail(err, LOAM_E_FORMAT, "%s: merge %d \"%s\" is not two tokens", path, rank, m->valuestring);
                break;
            }
            a = m->valuestring, la = (size_t)(sp - a), b = sp + 1, lb = strlen(b);
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(cJSON_GetArrayItem(m, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
            a = cJSON_GetArrayItem(m, 0)->valuestring, la = strlen(a);
            b = cJSON_GetArrayItem(m, 1)->valuestring, lb = strlen(b);
        } else {
            st = loam_fail(err, LOAM_E_FORMAT, "%s: merge %d is not a pair of strings", path, rank);
            break;
        }
        int32_t ia = tk_strmap_get(&t->vocab, a, la), ib = tk_strmap_get(&t->vocab, b, lb);
        joined.n = 0;
        size_t skip = plen && lb >= plen && memcmp(b, t->subword_prefix, plen) == 0 ? plen : 0;
        if (!tk_buf_put(&joined, a, la) || !tk_buf_put(&joined, b + skip, lb - skip)) {
            st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
            break;
        }
        int32_t im = tk_strmap_get(&t->vocab, joined.p, joined.n);
        if (ia < 0 || ib < 0 || im < 0) {
            st = loam_fail(err, LOAM_E_FORMAT, "%s: merge %d (\"%.*s\" + \"%.*s\") names a token missing from the vocab", path,
                           rank, (int)la, a, (int)lb, b);
            break;
        }
        tk_mergemap_add(&t->merges, ia, ib, rank, im);
        rank++;
    }
    tk_buf_free(&joined);
    return st;
}

static loam_status read_model(loam_tokenizer *t, const cJSON *model, const cJSON *added, const char *path, loam_error *err) {
    loam_status bad = check_fields(model, "the model", model_fields, path, err);
    if (bad) return bad;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const char *type = str_or(model, "type", NULL);
    if (!type) type = cJSON_IsArray(vocab) ? "Unigram" : cJSON_GetObjectItemCaseSensitive(model, "merges") ? "BPE" : "?";
    if (strcmp(type, "BPE") != 0 && strcmp(type, "Unigram") != 0)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: model type \"%s\" is not supported (BPE, Unigram)", path, type);
    int unigram = strcmp(type, "Unigram") == 0;
    t->model = unigram ? TK_MODEL_UNIGRAM : TK_MODEL_BPE;
    if (unigram ? !cJSON_IsArray(vocab) : !cJSON_IsObject(vocab))
        return loam_fail(err, LOAM_E_FORMAT, "%s: model.vocab must be %s", path, unigram ? "an array" : "an object");

    /* the id space covers the model vocab and the added tokens */
    int64_t max_id = unigram ? cJSON_GetArraySize(vocab) - 1 : -1;
    const cJSON *v;
    if (!unigram)
        cJSON_ArrayForEach(v, vocab) {
            if (!loam_json_is_int_in(v, 0, MAX_VOCAB - 1))
                return loam_fail(err, LOAM_E_FORMAT, "%s: vocab entry \"%s\" has no valid id", path, v->string);
            if (v->valuedouble > max_id) max_id = (int64_t)v->valuedouble;
        }
    cJSON_ArrayForEach(v, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(v, "id"), *content = cJSON_GetObjectItemCaseSensitive(v, "content");
        if ((bad = check_fields(v, "an added token", added_fields, path, err))) return bad;
        if (!loam_json_is_int_in(id, 0, MAX_VOCAB - 1) || !cJSON_IsString(content) || !content->valuestring[0])
            return loam_fail(err, LOAM_E_FORMAT, "%s: an added token has no valid id or its content is empty", path);
        if (id->valuedouble > max_id) max_id = (int64_t)id->valuedouble;
    }
    if (max_id >= MAX_VOCAB) return loam_fail(err, LOAM_E_FORMAT, "%s: vocabulary too large", path);
    t->n_vocab = (int32_t)(max_id + 1);
    t->tokens = calloc((size_t)t->n_vocab + 1, sizeof *t->tokens);
    t->token_lens = calloc((size_t)t->n_vocab + 1, sizeof *t->token_lens);
    if (unigram) t->scores = calloc((size_t)t->n_vocab + 1, sizeof *t->scores);
    if (!t->tokens || !t->token_lens || (unigram && !t->scores)) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    loam_status st;
    if (unigram) {
        int id = 0;
        t->min_score = 0;
        cJSON_ArrayForEach(v, vocab) {
            const cJSON *piece = cJSON_GetArrayItem(v, 0), *score = cJSON_GetArrayItem(v, 1);
            if (!cJSON_IsString(piece) || !cJSON_IsNumber(score))
                return loam_fail(err, LOAM_E_FORMAT, "%s: unigram vocab entry %d is not [piece, score]", path, id);
            if ((st = set_token(t, id, piece->valuestring, strlen(piece->valuestring), path, err))) return st;
            t->scores[id] = (float)score->valuedouble;
            if (id == 0 || t->scores[id] < t->min_score) t->min_score = t->scores[id];
            id++;
        }
        const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_id");
        t->unk_id = loam_json_is_int_in(unk, 0, (double)t->n_vocab - 1) ? (int32_t)unk->valuedouble : -1;
        if (t->unk_id < 0) return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: a Unigram model needs unk_id", path);
        t->byte_fallback = bool_or(model, "byte_fallback", 0);
    } else {
        cJSON_ArrayForEach(v, vocab) if ((st = set_token(t, (int64_t)v->valuedouble, v->string, strlen(v->string), path, err))) return st;
        t->byte_fallback = bool_or(model, "byte_fallback", 0);
        t->fuse_unk = bool_or(model, "fuse_unk", 0);
        t->ignore_merges = bool_or(model, "ignore_merges", 0);
        const char *p = str_or(model, "continuing_subword_prefix", NULL), *s = str_or(model, "end_of_word_suffix", NULL);
        if ((p && *p && !(t->subword_prefix = strdup(p))) || (s && *s && !(t->word_suffix = strdup(s))))
            return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    /* the model's string -> id map */
    if (!tk_strmap_init(&t->vocab, (uint32_t)t->n_vocab, (const char *const *)t->tokens, t->token_lens))
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (t->tokens[i]) tk_strmap_add(&t->vocab, i);
    if (!unigram) {
        const char *unk = str_or(model, "unk_token", NULL);
        t->unk_id = unk ? tk_strmap_get(&t->vocab, unk, strlen(unk)) : -1;
        if (unk && t->unk_id < 0) return loam_fail(err, LOAM_E_FORMAT, "%s: unk_token \"%s\" is not in the vocab", path, unk);
        const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
        if (merges && !cJSON_IsArray(merges)) return loam_fail(err, LOAM_E_FORMAT, "%s: model.merges must be an array", path);
        if ((st = tk_read_merges(t, merges, path, err))) return st;
    }
    return LOAM_OK;
}

static loam_status read_added(loam_tokenizer *t, const cJSON *added, const char *path, loam_error *err) {
    int n = cJSON_GetArraySize(added);
    t->added = calloc((size_t)(n ? n : 1), sizeof *t->added);
    if (!t->added) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    const cJSON *v;
    cJSON_ArrayForEach(v, added) {
        tk_added *a = &t->added[t->n_added];
        const char *content = cJSON_GetObjectItemCaseSensitive(v, "content")->valuestring;
        if (!loam_utf8_valid(content, strlen(content)))
            return loam_fail(err, LOAM_E_FORMAT, "%s: added token %d is not valid UTF-8", path, t->n_added);
        a->id = (int32_t)cJSON_GetObjectItemCaseSensitive(v, "id")->valuedouble;
        a->len = (uint32_t)strlen(content);
        if (!(a->content = strdup(content))) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
        t->n_added++;
        a->special = bool_or(v, "special", 0);
        a->lstrip = bool_or(v, "lstrip", 0);
        a->rstrip = bool_or(v, "rstrip", 0);
        a->single_word = bool_or(v, "single_word", 0);
        a->normalized = bool_or(v, "normalized", !a->special);
        /* an added token already in the model's vocabulary keeps its id
         * there; one that names another id is an inconsistent file */
        int32_t in_vocab = tk_strmap_get(&t->vocab, content, a->len);
        if (in_vocab >= 0 && in_vocab != a->id)
            return loam_fail(err, LOAM_E_FORMAT, "%s: added token \"%.40s\" has id %d but the vocabulary gives it %d", path, content, (int)a->id,
                             (int)in_vocab);
        /* added tokens also name their ids for decoding */
        if (!t->tokens[a->id]) {
            loam_status st = set_token(t, a->id, content, a->len, path, err);
            if (st) return st;
        } else if (in_vocab < 0 && (t->token_lens[a->id] != a->len || memcmp(t->tokens[a->id], content, a->len))) {
            return loam_fail(err, LOAM_E_FORMAT, "%s: added token \"%.40s\" has id %d, which is the vocabulary's \"%.40s\"", path, content,
                             (int)a->id, t->tokens[a->id]);
        }
    }
    return LOAM_OK;
}

loam_status tk_load_json(loam_tokenizer *t, const char *path, loam_error *err) {
    cJSON *root = NULL;
    loam_status st = loam_json_load(path, &root, err);
    if (st) return st;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsObject(model)) st = loam_fail(err, LOAM_E_FORMAT, "%s: no \"model\" object", path);
    else if (added && !cJSON_IsArray(added)) st = loam_fail(err, LOAM_E_FORMAT, "%s: \"added_tokens\" must be an array", path);
    if (!st) st = read_model(t, model, added, path, err);
    if (!st) st = read_added(t, added, path, err);
    if (!st) st = add_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), path, 0, err);
    if (!st) st = add_pretokenizer(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), path, 0, err);
    if (!st) st = read_post(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), path, 0, err);
    if (!st) st = add_decoder(t, cJSON_GetObjectItemCaseSensitive(root, "decoder"), path, 0, err);
    cJSON_Delete(root);
    return st;
}
