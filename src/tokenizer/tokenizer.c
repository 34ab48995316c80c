/* The tokenizer's public face: opening (which files win), encoding through
 * the pipeline, decoding, streaming. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/error.h"
#include "core/mapfile.h"
#include "tokenizer/tokenizer.h"

/* ------------------------------------------------------------ lifetime */

void tk_free_contents(loam_tokenizer *t) {
    for (int32_t i = 0; t->tokens && i < t->n_vocab; i++) free(t->tokens[i]);
    free(t->tokens);
    free(t->token_lens);
    tk_strmap_free(&t->vocab);
    tk_mergemap_free(&t->merges);
    free(t->subword_prefix);
    free(t->word_suffix);
    free(t->scores);
    for (int i = 0; i < t->n_norms; i++) {
        free(t->norms[i].pattern);
        free(t->norms[i].content);
        pcre2_code_free(t->norms[i].regex);
        free(t->norms[i].charsmap);
        free((void *)t->norms[i].trie);
    }
    free(t->norms);
    for (int i = 0; i < t->n_pres; i++) {
        pcre2_code_free(t->pres[i].regex);
        free(t->pres[i].literal);
        free(t->pres[i].replacement);
    }
    free(t->pres);
    for (int i = 0; i < t->n_decs; i++) {
        free(t->decs[i].pattern);
        free(t->decs[i].content);
    }
    free(t->decs);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    free(t->added_by_id);
    free(t->added_order);
    free(t->tpl);
    free(t->source);
    free(t->chat_template);
    free(t->bos_token);
    free(t->eos_token);
}

void loam_tokenizer_free(loam_tokenizer *t) {
    if (!t) return;
    tk_free_contents(t);
    free(t);
}

/* first byte ascending, then longer first, then in the file's order */
static int cmp_added(const void *pa, const void *pb, void *tok) {
    const loam_tokenizer *t = tok;
    int ia = *(const int *)pa, ib = *(const int *)pb;
    const tk_added *a = &t->added[ia], *b = &t->added[ib];
    unsigned char ca = (unsigned char)a->content[0], cb = (unsigned char)b->content[0];
    if (ca != cb) return ca < cb ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return (ia > ib) - (ia < ib);
}

loam_status tk_finish(loam_tokenizer *t, loam_error *err) {
    /* "<0xXX>" byte pieces (SentencePiece keeps them out of the merge vocab) */
    for (int b = 0; b < 256; b++) t->byte_tokens[b] = -1;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        const char *s = t->tokens[i];
        if (!s || t->token_lens[i] != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') continue;
        char hex[3] = {s[3], s[4], 0}, *end;
        long b = strtol(hex, &end, 16);
        int upper = (s[3] < 'a') && (s[4] < 'a');
        if (*end == 0 && b >= 0 && b < 256 && upper && t->byte_tokens[b] < 0) t->byte_tokens[b] = i;
    }
    t->added_by_id = malloc((size_t)(t->n_vocab ? t->n_vocab : 1) * sizeof *t->added_by_id);
    if (!t->added_by_id) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int32_t i = 0; i < t->n_vocab; i++) t->added_by_id[i] = -1;
    for (int i = 0; i < t->n_added; i++) {
        if (t->added[i].id < 0 || t->added[i].id >= t->n_vocab) /* each loader checks; this keeps the table safe */
            return loam_fail(err, LOAM_E_FORMAT, "%s: added token %d is outside the vocabulary of %d",
                             t->source ? t->source : "tokenizer", (int)t->added[i].id, (int)t->n_vocab);
        t->added_by_id[t->added[i].id] = i;
    }
    /* added tokens by first byte, longest first, for leftmost-longest
     * matching: one sort, O(n log n) (a hostile vocabulary may hold 100k) */
    t->added_order = malloc((size_t)(t->n_added > 0 ? t->n_added : 1) * sizeof *t->added_order);
    if (!t->added_order) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    int n_order = 0;
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len) t->added_order[n_order++] = i;
    qsort_r(t->added_order, (size_t)n_order, sizeof *t->added_order, cmp_added, t);
    for (int b = 0, at = 0; b <= 256; b++) {
        while (at < n_order && (unsigned char)t->added[t->added_order[at]].content[0] < b) at++;
        t->added_start[b] = at;
    }
    t->max_piece_len = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (t->tokens[i] && t->token_lens[i] > t->max_piece_len) t->max_piece_len = t->token_lens[i];
    return LOAM_OK;
}

int loam_tokenizer_n_vocab(const loam_tokenizer *t) { return t->n_vocab; }

const char *loam_token_str(const loam_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab || !t->tokens[id]) return NULL;
    if (len) *len = t->token_lens[id];
    return t->tokens[id];
}

int loam_token_is_special(const loam_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && t->added_by_id[id] >= 0 && t->added[t->added_by_id[id]].special;
}

int32_t loam_token_id(const loam_tokenizer *t, const char *s) {
    size_t n = strlen(s);
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && memcmp(t->added[i].content, s, n) == 0) return t->added[i].id;
    return tk_strmap_get(&t->vocab, s, n);
}

/* ------------------------------------------------------------ encoding */

static int is_word_char(uint32_t cp) {
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return cp == '_' || (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
           (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

static int is_space_byte(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* The leftmost-longest added token (of the given normalized flag) in
 * s[from, n); returns its index and the span it covers after lstrip/rstrip,
 * or -1. */
static int find_added(const loam_tokenizer *t, int normalized, const char *s, size_t from, size_t n, size_t *ms, size_t *me,
                      size_t floor) {
    for (size_t i = from; i < n; i++) {
        int best = -1;
        unsigned char c = (unsigned char)s[i];
        for (int g = t->added_start[c]; g < t->added_start[c + 1] && best < 0; g++) {
            const tk_added *a = &t->added[t->added_order[g]];
            if (a->normalized != normalized || i + a->len > n || memcmp(s + i, a->content, a->len) != 0) continue;
            if (a->single_word) {
                size_t before = i, after = i + a->len;
                if (before > 0) {
                    size_t k2 = before - 1;
                    while (k2 > 0 && ((unsigned char)s[k2] & 0xc0) == 0x80) k2--;
                    size_t e = k2;
                    if (is_word_char(tk_utf8_next(s, n, &e))) continue;
                }
                if (after < n) {
                    size_t e = after;
                    if (is_word_char(tk_utf8_next(s, n, &e))) continue;
                }
            }
            best = t->added_order[g];
        }
        if (best >= 0) {
            const tk_added *a = &t->added[best];
            size_t a0 = i, a1 = i + a->len;
            if (a->lstrip)
                while (a0 > floor && is_space_byte(s[a0 - 1])) a0--;
            if (a->rstrip)
                while (a1 < n && is_space_byte(s[a1])) a1++;
            *ms = a0;
            *me = a1;
            return best;
        }
    }
    return -1;
}

typedef struct {
    const loam_tokenizer *t;
    tk_ids *ids;
} word_ctx;

static int encode_word(void *p, const char *w, size_t n) {
    word_ctx *c = p;
    if (c->t->model == TK_MODEL_UNIGRAM) return tk_unigram_word(c->t, w, n, c->ids);
    return c->t->rank_bpe ? tk_score_bpe(c->t, w, n, c->ids) : tk_bpe_word(c->t, w, n, c->ids);
}

/* A stretch of input with no non-normalized added token in it. */
static loam_status encode_plain(const loam_tokenizer *t, const char *s, size_t n, int first, tk_ids *ids, loam_error *err) {
    tk_buf norm = {0};
    loam_status st = tk_normalize(t, s, n, &norm, err);
    if (st) return st;
    /* normalized added tokens are found in the normalized text */
    size_t at = 0;
    word_ctx ctx = {t, ids};
    while (!st && at <= norm.n) {
        size_t ms = norm.n, me = norm.n;
        int k = find_added(t, 1, norm.p, at, norm.n, &ms, &me, at);
        if (ms > at) st = tk_pretokenize(t, norm.p + at, ms - at, first && at == 0, encode_word, &ctx, err);
        if (k < 0) break;
        if (!st && !tk_ids_push(ids, t->added[k].id)) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
        at = me;
    }
    tk_buf_free(&norm);
    return st;
}

static size_t invalid_utf8_at(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return i;
        i += (size_t)k;
    }
    return (size_t)-1;
}

loam_status loam_tokenize(const loam_tokenizer *t, const char *text, size_t n, int add_special, int32_t **out, int *n_out,
                          loam_error *err) {
    *out = NULL;
    *n_out = 0;
    size_t bad = invalid_utf8_at(text, n);
    if (bad != (size_t)-1) return loam_fail(err, LOAM_E_ARG, "tokenize: input is not valid UTF-8 (byte %zu)", bad);
    if (n > (size_t)1 << 30) return loam_fail(err, LOAM_E_ARG, "tokenize: input larger than 1 GiB");
    tk_ids ids = {0};
    loam_status st = LOAM_OK;
    size_t at = 0;
    if (t->spm_mode) {
        st = tk_spm_encode(t, text, n, &ids, err);
    } else {
        while (!st && at <= n) {
            size_t ms = n, me = n;
            int k = find_added(t, 0, text, at, n, &ms, &me, at);
            if (ms > at) st = encode_plain(t, text + at, ms - at, at == 0, &ids, err);
            if (k < 0) break;
            if (!st && !tk_ids_push(&ids, t->added[k].id)) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
            at = me;
        }
    }
    if (!st && add_special && t->has_template) {
        tk_ids full = {0};
        for (int i = 0; !st && i < t->n_tpl; i++) {
            if (t->tpl[i].is_special) {
                if (!tk_ids_push(&full, t->tpl[i].id)) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
            } else {
                for (int k = 0; !st && k < ids.n; k++)
                    if (!tk_ids_push(&full, ids.ids[k])) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
            }
        }
        free(ids.ids);
        ids = full;
    }
    if (st) {
        free(ids.ids);
        return st;
    }
    if (!ids.ids) ids.ids = malloc(sizeof(int32_t)); /* a valid pointer for zero ids */
    if (!ids.ids) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    *out = ids.ids;
    *n_out = ids.n;
    return LOAM_OK;
}

/* ------------------------------------------------------------ decoding */

loam_status loam_detokenize(const loam_tokenizer *t, const int32_t *ids, int n, int skip_special, char **text, size_t *len,
                            loam_error *err) {
    *text = NULL;
    const char **toks = malloc((size_t)(n ? n : 1) * sizeof *toks);
    uint32_t *lens = malloc((size_t)(n ? n : 1) * sizeof *lens);
    if (!toks || !lens) {
        free(toks);
        free(lens);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab || !t->tokens[ids[i]]) {
            free(toks);
            free(lens);
            return loam_fail(err, LOAM_E_RANGE, "detokenize: id %d is not in the vocabulary (0..%d)", ids[i], t->n_vocab - 1);
        }
        if (skip_special && loam_token_is_special(t, ids[i])) continue;
        toks[m] = t->tokens[ids[i]];
        lens[m++] = t->token_lens[ids[i]];
    }
    tk_buf out = {0};
    loam_status st = t->spm_mode ? tk_spm_decode(t, toks, lens, m, &out) : tk_decode_tokens(t, toks, lens, m, &out);
    free(toks);
    free(lens);
    if (st) {
        tk_buf_free(&out);
        return loam_fail(err, st, "detokenize: out of memory");
    }
    if (!out.p && !tk_buf_put(&out, "", 0)) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    *text = out.p;
    if (len) *len = out.n;
    return LOAM_OK;
}

struct loam_detok_stream {
    const loam_tokenizer *t;
    int skip_special;
    tk_ids ids;
    int prefix, read; /* decoded window: ids[prefix, read) already emitted */
    char *last;
};

loam_status loam_detok_stream_open(const loam_tokenizer *t, int skip_special, loam_detok_stream **out, loam_error *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    (*out)->t = t;
    (*out)->skip_special = skip_special;
    return LOAM_OK;
}

void loam_detok_stream_free(loam_detok_stream *s) {
    if (!s) return;
    free(s->ids.ids);
    free(s->last);
    free(s);
}

/* Decodes a window twice (with and without the new ids) and emits the
 * difference once it ends in a complete character: decoders that strip a
 * leading space or join bytes see the same context both times. */
loam_status loam_detok_stream_push(loam_detok_stream *s, int32_t id, const char **text, size_t *len, loam_error *err) {
    *text = "";
    *len = 0;
    if (!tk_ids_push(&s->ids, id)) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    char *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    loam_status st = loam_detokenize(s->t, s->ids.ids + s->prefix, s->read - s->prefix, s->skip_special, &before, &nb, err);
    if (!st) st = loam_detokenize(s->t, s->ids.ids + s->prefix, s->ids.n - s->prefix, s->skip_special, &after, &na, err);
    if (!st && na > nb && !(na >= 3 && memcmp(after + na - 3, "\xef\xbf\xbd", 3) == 0) && memcmp(after, before, nb) == 0) {
        free(s->last);
        s->last = malloc(na - nb + 1);
        if (!s->last) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
        else {
            memcpy(s->last, after + nb, na - nb);
            s->last[na - nb] = 0;
            *text = s->last;
            *len = na - nb;
            s->prefix = s->read;
            s->read = s->ids.n;
        }
    }
    free(before);
    free(after);
    return st;
}

/* ------------------------------------------------------------ opening */

static int has_suffix(const char *s, size_t len, const char *suffix) {
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* The file's own name (after the last '/') is exactly `name`. */
static int base_name_is(const char *path, const char *name) {
    const char *slash = strrchr(path, '/');
    return strcmp(slash ? slash + 1 : path, name) == 0;
}

static int dir_has(const char *dir, const char *name, char **path) {
    *path = loam_path_join(dir, name);
    if (*path && loam_file_exists(*path)) return 1;
    free(*path);
    *path = NULL;
    return 0;
}

loam_status loam_tokenizer_open(const char *path, loam_tokenizer **out, loam_error *err) {
    *out = NULL;
    loam_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    char *file = NULL, *dir = NULL;
    loam_status st;
    size_t plen = strlen(path);
    if (loam_file_exists(path)) {
        file = strdup(path);
        const char *slash = strrchr(path, '/');
        dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    } else {
        dir = strdup(path);
        if (!dir_has(path, "tokenizer.json", &file) && !dir_has(path, "tokenizer.model", &file) &&
            !dir_has(path, "vocab.json", &file))
            tk_find_tiktoken(path, &file);
    }
    if (!file) {
        st = loam_fail(err, LOAM_E_IO, "%s: no tokenizer (tokenizer.json, tokenizer.model, vocab.json + merges.txt, *.tiktoken)", path);
        goto done;
    }
    t->source = strdup(file);
    plen = strlen(file);
    if (base_name_is(file, "vocab.json"))
        st = tk_load_vocab_merges(t, dir, err);
    else if (has_suffix(file, plen, ".json"))
        st = tk_load_json(t, file, err);
    else if (has_suffix(file, plen, ".model"))
        st = tk_is_tiktoken(file) ? tk_load_tiktoken(t, file, err) : tk_load_spm(t, file, err);
    else if (has_suffix(file, plen, ".tiktoken"))
        st = tk_load_tiktoken(t, file, err);
    else if (has_suffix(file, plen, ".gguf"))
        st = tk_load_gguf(t, file, err);
    else
        st = loam_fail(err, LOAM_E_UNSUPPORTED, "%s: not a tokenizer file loam knows", file);
    if (!st) st = tk_finish(t, err);
    if (!st) st = tk_load_config(t, dir, err);
done:
    free(file);
    free(dir);
    if (st) {
        loam_tokenizer_free(t);
        return st;
    }
    *out = t;
    return LOAM_OK;
}
