/* SentencePiece's own tokenizer.model (a protobuf ModelProto), used when a
 * family publishes no tokenizer.json. Encoding follows SentencePiece, not
 * the Hugging Face conversion: its normalizer (charsmap, dummy prefix,
 * optional whitespace clean-up, spaces to U+2581), then BPE by piece score
 * (highest first, leftmost on ties) or Unigram, byte fallback, and BOS
 * added as LlamaTokenizer does. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mapfile.h"
#include "tokenizer/tokenizer.h"

#define SPACE_MARK "\xe2\x96\x81"

enum { PIECE_NORMAL = 1, PIECE_UNKNOWN = 2, PIECE_CONTROL = 3, PIECE_USER = 4, PIECE_UNUSED = 5, PIECE_BYTE = 6 };

/* ---- protobuf wire format, bounds-checked */
typedef struct {
    const uint8_t *p, *end;
} pb;

static int pb_varint(pb *b, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end) return 0;
        uint8_t c = *b->p++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return 1;
    }
    return 0;
}

/* Next field: number, wire type, and for length-delimited the payload. */
static int pb_field(pb *b, uint32_t *field, int *wire, uint64_t *val, pb *sub) {
    uint64_t key;
    if (!pb_varint(b, &key)) return 0;
    *field = (uint32_t)(key >> 3);
    *wire = (int)(key & 7);
    switch (*wire) {
    case 0: return pb_varint(b, val);
    case 1:
        if (b->end - b->p < 8) return 0;
        memcpy(val, b->p, 8), b->p += 8;
        return 1;
    case 5:
        if (b->end - b->p < 4) return 0;
        *val = 0;
        memcpy(val, b->p, 4), b->p += 4;
        return 1;
    case 2: {
        uint64_t len;
        if (!pb_varint(b, &len) || len > (uint64_t)(b->end - b->p)) return 0;
        sub->p = b->p;
        sub->end = b->p + len;
        b->p += len;
        return 1;
    }
    }
    return 0;
}

typedef struct {
    int model_type; /* 1 unigram, 2 bpe */
    int byte_fallback;
    int64_t unk_id, bos_id, eos_id;
    int add_dummy_prefix, remove_extra_ws, escape_ws;
    const uint8_t *charsmap;
    size_t charsmap_len;
} spm_spec;

static loam_status parse_model(loam_tokenizer *t, const uint8_t *data, size_t n, const char *path, spm_spec *spec,
                               int8_t **types_out, loam_error *err) {
    memset(spec, 0, sizeof *spec);
    spec->model_type = 1, spec->unk_id = 0, spec->bos_id = 1, spec->eos_id = 2;
    spec->add_dummy_prefix = 1, spec->remove_extra_ws = 1, spec->escape_ws = 1;
    /* an empty file maps to no memory: nothing may point into it */
    if (!data || n == 0) return loam_fail(err, LOAM_E_FORMAT, "%s: the file is empty (no pieces)", path);
    /* first pass: count pieces */
    pb b = {data, data + n}, sub;
    uint32_t field;
    int wire;
    uint64_t val;
    int count = 0;
    while (b.p < b.end) {
        if (!pb_field(&b, &field, &wire, &val, &sub)) return loam_fail(err, LOAM_E_FORMAT, "%s: malformed protobuf", path);
        /* ModelProto's pieces, trainer_spec and normalizer_spec are messages:
         * another wire type there is a broken file (protobuf refuses it) */
        if (field >= 1 && field <= 3 && wire != 2)
            return loam_fail(err, LOAM_E_FORMAT, "%s: ModelProto field %u has wire type %d, not a message", path, field, wire);
        if (field == 1) count++;
    }
    if (count == 0 || count > (1 << 22)) return loam_fail(err, LOAM_E_FORMAT, "%s: no pieces in the model", path);
    t->n_vocab = count;
    t->tokens = calloc((size_t)count + 1, sizeof *t->tokens);
    t->token_lens = calloc((size_t)count + 1, sizeof *t->token_lens);
    t->scores = calloc((size_t)count + 1, sizeof *t->scores);
    int8_t *types = calloc((size_t)count + 1, 1);
    *types_out = types;
    if (!t->tokens || !t->token_lens || !t->scores || !types) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    b = (pb){data, data + n};
    int id = 0;
    while (b.p < b.end) {
        pb_field(&b, &field, &wire, &val, &sub);
        if (field == 1 && wire == 2) { /* SentencePiece { piece = 1; score = 2; type = 3 } */
            pb f = sub, s2;
            const uint8_t *piece = NULL;
            size_t plen = 0;
            float score = 0;
            int type = PIECE_NORMAL;
            while (f.p < f.end) {
                if (!pb_field(&f, &field, &wire, &val, &s2)) return loam_fail(err, LOAM_E_FORMAT, "%s: malformed piece %d", path, id);
                static const int want_wire[4] = {-1, 2, 5, 0}; /* piece: bytes, score: float, type: enum */
                if (field >= 1 && field <= 3 && wire != want_wire[field])
                    return loam_fail(err, LOAM_E_FORMAT, "%s: piece %d: field %u has wire type %d", path, id, field, wire);
                if (field == 3 && (val < PIECE_NORMAL || val > PIECE_BYTE))
                    return loam_fail(err, LOAM_E_FORMAT, "%s: piece %d has type %llu (SentencePiece's piece types are 1..6)", path, id,
                                     (unsigned long long)val);
                if (field == 1 && wire == 2) piece = s2.p, plen = (size_t)(s2.end - s2.p);
                else if (field == 2 && wire == 5) {
                    uint32_t bits = (uint32_t)val;
                    memcpy(&score, &bits, 4);
                } else if (field == 3 && wire == 0) type = (int)val;
            }
            if (!piece) return loam_fail(err, LOAM_E_FORMAT, "%s: piece %d has no text", path, id);
            t->tokens[id] = malloc(plen + 1);
            if (!t->tokens[id]) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
            memcpy(t->tokens[id], piece, plen);
            t->tokens[id][plen] = 0;
            t->token_lens[id] = (uint32_t)plen;
            t->scores[id] = score;
            types[id] = (int8_t)type;
            id++;
        } else if (field == 2 && wire == 2) { /* TrainerSpec */
            pb f = sub, s2;
            while (f.p < f.end) {
                if (!pb_field(&f, &field, &wire, &val, &s2)) return loam_fail(err, LOAM_E_FORMAT, "%s: malformed trainer spec", path);
                if (wire != 0) continue;
                /* ids are int32 on the wire (-1: none), written as 64-bit varints */
                int64_t iv = (int64_t)val;
                if ((field == 40 || field == 41 || field == 42) && (iv < -1 || iv >= count))
                    return loam_fail(err, LOAM_E_FORMAT, "%s: trainer_spec field %u is %lld, not a piece id (0..%d) or -1", path, field,
                                     (long long)iv, count - 1);
                if (field == 3 && val > 4)
                    return loam_fail(err, LOAM_E_FORMAT, "%s: trainer_spec model_type is %llu (1..4)", path, (unsigned long long)val);
                if (field == 3) spec->model_type = (int)val;
                else if (field == 35) spec->byte_fallback = val != 0;
                else if (field == 40) spec->unk_id = iv;
                else if (field == 41) spec->bos_id = iv;
                else if (field == 42) spec->eos_id = iv;
            }
        } else if (field == 3 && wire == 2) { /* NormalizerSpec */
            pb f = sub, s2;
            while (f.p < f.end) {
                if (!pb_field(&f, &field, &wire, &val, &s2)) return loam_fail(err, LOAM_E_FORMAT, "%s: malformed normalizer spec", path);
                if (field == 2 && wire == 2) spec->charsmap = s2.p, spec->charsmap_len = (size_t)(s2.end - s2.p);
                else if (field == 3 && wire == 0) spec->add_dummy_prefix = (int)val;
                else if (field == 4 && wire == 0) spec->remove_extra_ws = (int)val;
                else if (field == 5 && wire == 0) spec->escape_ws = (int)val;
            }
        }
    }
    if (spec->model_type != 1 && spec->model_type != 2)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: SentencePiece model type %d is not supported (unigram, bpe)", path, spec->model_type);
    return LOAM_OK;
}

/* Everything after the pieces are read: the merge vocab (normal and
 * user-defined pieces), control/unknown pieces as special tokens, the
 * charsmap normalizer, BOS added as LlamaTokenizer does. Shared by
 * tokenizer.model and GGUF's "llama" vocabularies. */
loam_status tk_spm_build(loam_tokenizer *t, const int8_t *types, const tk_spm_options *o, const char *path, loam_error *err) {
    loam_status st = LOAM_OK;
    t->spm_mode = 1;
    t->model = o->unigram ? TK_MODEL_UNIGRAM : TK_MODEL_BPE;
    t->byte_fallback = o->byte_fallback;
    t->spm_add_dummy_prefix = o->add_dummy_prefix;
    t->spm_remove_extra_ws = o->remove_extra_ws;
    t->unk_id = o->unk_id >= 0 && o->unk_id < t->n_vocab ? (int32_t)o->unk_id : -1;
    t->min_score = 0;
    for (int i = 0; i < t->n_vocab; i++)
        if (types[i] == PIECE_NORMAL && t->scores[i] < t->min_score) t->min_score = t->scores[i];
    if (o->charsmap_len) { /* the model's own normalizer rules */
        tk_normalizer nm = {.type = TK_NORM_PRECOMPILED};
        nm.charsmap = malloc(o->charsmap_len);
        if (!nm.charsmap) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
        memcpy(nm.charsmap, o->charsmap, o->charsmap_len);
        nm.charsmap_len = o->charsmap_len;
        st = tk_charsmap_parse(&nm, path, err);
        if (!st && !(t->norms = malloc(sizeof *t->norms))) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
        if (st) {
            free(nm.charsmap);
            free((void *)nm.trie);
            return st;
        }
        t->norms[0] = nm, t->n_norms = 1;
    }
    if (!tk_strmap_init(&t->vocab, (uint32_t)t->n_vocab, (const char *const *)t->tokens, t->token_lens))
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; i < t->n_vocab; i++)
        if (t->tokens[i] && (types[i] == PIECE_NORMAL || types[i] == PIECE_USER)) tk_strmap_add(&t->vocab, i);
    t->added = calloc((size_t)t->n_vocab, sizeof *t->added);
    if (!t->added) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; i < t->n_vocab; i++) {
        if ((types[i] != PIECE_CONTROL && types[i] != PIECE_UNKNOWN) || !t->tokens[i]) continue;
        tk_added *a = &t->added[t->n_added++];
        a->id = i;
        a->content = tk_memdup(t->tokens[i], t->token_lens[i]);
        a->len = t->token_lens[i];
        a->special = 1;
        if (!a->content) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    int with_bos = o->add_bos && o->bos_id >= 0 && o->bos_id < t->n_vocab;
    int with_eos = o->add_eos && o->eos_id >= 0 && o->eos_id < t->n_vocab;
    t->has_template = 1;
    t->tpl = malloc(3 * sizeof *t->tpl);
    if (!t->tpl) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (with_bos) t->tpl[t->n_tpl++] = (tk_template_item){1, (int32_t)o->bos_id};
    t->tpl[t->n_tpl++] = (tk_template_item){0, 0};
    if (with_eos) t->tpl[t->n_tpl++] = (tk_template_item){1, (int32_t)o->eos_id};
    return LOAM_OK;
}

loam_status tk_load_spm(loam_tokenizer *t, const char *path, loam_error *err) {
    loam_mapfile m;
    loam_status st = loam_mapfile_open(&m, path, err);
    if (st) return st;
    spm_spec spec = {0};
    int8_t *types = NULL;
    st = parse_model(t, m.data, m.size, path, &spec, &types, err);
    if (!st) {
        tk_spm_options o = {.unigram = spec.model_type == 1, .byte_fallback = spec.byte_fallback,
                            .add_dummy_prefix = spec.add_dummy_prefix, .remove_extra_ws = spec.remove_extra_ws,
                            .unk_id = spec.unk_id, .bos_id = spec.bos_id, .eos_id = spec.eos_id, .add_bos = 1,
                            .charsmap = spec.charsmap, .charsmap_len = spec.charsmap_len};
        st = tk_spm_build(t, types, &o, path, err);
    }
    free(types);
    loam_mapfile_close(&m);
    return st;
}

/* SentencePiece's normalizer: charsmap rules, then (optionally) leading,
 * trailing and repeated spaces dropped, a dummy-prefix space, and every
 * space written as U+2581. Empty (or all-space) input stays empty. */
static int spm_normalize(const loam_tokenizer *t, const char *s, size_t n, tk_buf *out, loam_error *err) {
    tk_buf norm = {0};
    if (tk_normalize(t, s, n, &norm, err) != LOAM_OK) return 0;
    const char *p = norm.p ? norm.p : "";
    size_t len = norm.n, a = 0;
    if (t->spm_remove_extra_ws)
        while (a < len && p[a] == ' ') a++;
    int ok = tk_buf_put(out, "", 0);
    if (a < len) {
        if (t->spm_add_dummy_prefix) ok = ok && tk_buf_put(out, SPACE_MARK, 3);
        int prev_space = t->spm_remove_extra_ws;
        for (size_t i = a; ok && i < len; i++) {
            if (p[i] == ' ') {
                if (prev_space && t->spm_remove_extra_ws) continue;
                prev_space = 1;
                ok = tk_buf_put(out, SPACE_MARK, 3);
            } else {
                prev_space = 0;
                ok = tk_buf_putc(out, p[i]);
            }
        }
        if (ok && t->spm_remove_extra_ws)
            while (out->n >= 3 && memcmp(out->p + out->n - 3, SPACE_MARK, 3) == 0 && out->n > 3) out->n -= 3;
    }
    tk_buf_free(&norm);
    return ok;
}

typedef struct {
    size_t start, len;
    int prev, next, alive;
} sym;

typedef struct {
    float score;
    int pos;
    uint32_t len; /* merged length, to detect stale entries */
} cand;

static int cand_before(const cand *a, const cand *b) { return a->score != b->score ? a->score > b->score : a->pos < b->pos; }

static int heap_push(cand **h, int *n, int *cap, cand c) {
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        cand *g = realloc(*h, (size_t)nc * sizeof *g);
        if (!g) return 0;
        *h = g, *cap = nc;
    }
    int i = (*n)++;
    (*h)[i] = c;
    while (i > 0 && cand_before(&(*h)[i], &(*h)[(i - 1) / 2])) {
        cand tmp = (*h)[i];
        (*h)[i] = (*h)[(i - 1) / 2];
        (*h)[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
    return 1;
}

static cand heap_pop(cand *h, int *n) {
    cand top = h[0];
    h[0] = h[--*n];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && cand_before(&h[l], &h[m])) m = l;
        if (r < *n && cand_before(&h[r], &h[m])) m = r;
        if (m == i) break;
        cand tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
    return top;
}

static int try_pair(const loam_tokenizer *t, const char *s, sym *y, int pos, cand **h, int *n, int *cap) {
    if (pos < 0 || y[pos].next < 0) return 1;
    size_t len = y[pos].len + y[y[pos].next].len;
    int32_t id = tk_strmap_get(&t->vocab, s + y[pos].start, len);
    return id < 0 || heap_push(h, n, cap, (cand){t->scores[id], pos, (uint32_t)len});
}

/* BPE by score over the characters of the text: the adjacent pair whose
 * concatenation is the best-scored piece merges first (SentencePiece), or
 * the lowest-ranked (tiktoken, scores = -rank). */
int tk_score_bpe(const loam_tokenizer *t, const char *s, size_t n, tk_ids *ids) {
    sym *y = malloc((n + 1) * sizeof *y);
    if (!y) return 0;
    int count = 0;
    for (size_t i = 0; i < n;) {
        size_t k = i;
        tk_utf8_next(s, n, &k);
        y[count] = (sym){i, k - i, count - 1, -1, 1};
        if (count > 0) y[count - 1].next = count;
        count++;
        i = k;
    }
    cand *h = NULL;
    int hn = 0, hcap = 0, ok = 1;
    for (int i = 0; ok && i < count; i++) ok = try_pair(t, s, y, i, &h, &hn, &hcap);
    while (ok && hn > 0) {
        cand c = heap_pop(h, &hn);
        sym *l = &y[c.pos];
        if (!l->alive || l->next < 0 || l->len + y[l->next].len != c.len) continue;
        sym *r = &y[l->next];
        l->len += r->len;
        r->alive = 0;
        l->next = r->next;
        if (r->next >= 0) y[r->next].prev = c.pos;
        ok = try_pair(t, s, y, l->prev, &h, &hn, &hcap) && try_pair(t, s, y, c.pos, &h, &hn, &hcap);
    }
    for (int i = count ? 0 : -1; ok && i >= 0; i = y[i].next) {
        int32_t id = tk_strmap_get(&t->vocab, s + y[i].start, y[i].len);
        if (id >= 0) {
            ok = tk_ids_push(ids, id);
        } else if (t->byte_fallback) {
            for (size_t k = 0; ok && k < y[i].len; k++) {
                int32_t b = t->byte_tokens[(unsigned char)s[y[i].start + k]];
                ok = tk_ids_push(ids, b >= 0 ? b : t->unk_id);
            }
        } else {
            ok = tk_ids_push(ids, t->unk_id);
        }
    }
    free(h);
    free(y);
    return ok;
}

loam_status tk_spm_encode(const loam_tokenizer *t, const char *s, size_t n, tk_ids *ids, loam_error *err) {
    tk_buf norm = {0};
    if (!spm_normalize(t, s, n, &norm, err)) {
        tk_buf_free(&norm);
        return err && err->code ? err->code : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    int ok = t->model == TK_MODEL_BPE ? tk_score_bpe(t, norm.p, norm.n, ids) : tk_unigram_word(t, norm.p, norm.n, ids);
    tk_buf_free(&norm);
    return ok ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory");
}

/* Control pieces are written as their text; the rest: U+2581 to space,
 * byte pieces to bytes, and the dummy-prefix space of the first piece
 * dropped. */
loam_status tk_spm_decode(const loam_tokenizer *t, const char **toks, const uint32_t *lens, int n, tk_buf *out) {
    tk_buf bytes = {0};
    int ok = tk_buf_put(&bytes, "", 0), first = 1;
    for (int i = 0; ok && i < n; i++) {
        const char *s = toks[i];
        size_t len = lens[i];
        int32_t id = loam_token_id(t, s);
        if (id >= 0 && loam_token_is_special(t, id)) {
            ok = id == t->unk_id ? tk_buf_put(&bytes, " \xe2\x81\x87 ", 5) : tk_buf_put(&bytes, s, len);
            continue;
        }
        if (len == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>') {
            ok = tk_buf_putc(&bytes, (char)strtol(s + 3, NULL, 16));
            first = 0;
            continue;
        }
        for (size_t k = 0; ok && k < len;) {
            if (k + 3 <= len && memcmp(s + k, SPACE_MARK, 3) == 0) {
                if (!(first && k == 0 && t->spm_add_dummy_prefix)) ok = tk_buf_putc(&bytes, ' ');
                k += 3;
            } else {
                ok = tk_buf_putc(&bytes, s[k]), k++;
            }
        }
        first = 0;
    }
    /* invalid UTF-8 from byte pieces becomes U+FFFD through the ByteFallback rule */
    const char *one[1] = {bytes.p};
    uint32_t one_len[1] = {(uint32_t)bytes.n};
    loam_tokenizer plain = {0};
    tk_decoder fuse = {.type = TK_DEC_FUSE};
    plain.decs = &fuse;
    plain.n_decs = 1;
    loam_status st = ok ? tk_decode_tokens(&plain, one, one_len, 1, out) : LOAM_E_NOMEM;
    tk_buf_free(&bytes);
    return st;
}
