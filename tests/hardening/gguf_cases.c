/* Crafted GGUF files, from gguf.md: the container (every section boundary
 * truncated, every count and length at 0, 2^31, 2^32, 2^63, 2^64 - 1,
 * type fields out of range, tensor offsets misaligned, overlapping, past
 * the end) walked over real files of the fixtures; and the metadata's
 * meaning (required keys dropped, values of the wrong type or out of
 * range, a vocabulary that disagrees with the embedding, bad token types,
 * duplicate and malformed keys), each through info, run and tokenize. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "formats/gguf_write.h"
#include "hardening/crafted.h"

/* "abcabc": text that an added token "a\0b" would be compared with */
static const char *const gguf_cmds[] = {"info %s", "run %s --prompt-ids 1 -n 1", "tokenize %s abcabc"};

/* ------------------------------------------------------- the walker */

enum { F_BOUNDARY, F_COUNT, F_LEN, F_TYPE, F_DIM, F_NDIMS, F_TOFF };

typedef struct {
    size_t off;
    int size, kind;
    char label[80];
} field;

typedef struct {
    field *f;
    int n, cap;
} fields;

static void add_field(fields *fs, size_t off, int size, int kind, const char *fmt, const char *detail) {
    if (fs->n == fs->cap) fs->f = realloc(fs->f, (size_t)(fs->cap = fs->cap ? fs->cap * 2 : 256) * sizeof *fs->f);
    field *f = &fs->f[fs->n++];
    f->off = off, f->size = size, f->kind = kind;
    snprintf(f->label, sizeof f->label, fmt, detail);
}

static uint64_t u64_at(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t u32_at(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static const int scalar_bytes[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

/* Records the offset of every field of a valid GGUF image, written from
 * gguf.md rather than from loam's reader. Of long string arrays only the
 * first two and the last lengths are kept (the cases stay few). */
static void walk(const uint8_t *p, size_t size, fields *fs) {
    size_t at = 24;
    uint64_t nt = u64_at(p + 8), nkv = u64_at(p + 16);
    add_field(fs, 8, 8, F_COUNT, "tensor count%s", "");
    add_field(fs, 16, 8, F_COUNT, "metadata count%s", "");
    char key[64];
    uint64_t alignment = 32;
    for (uint64_t i = 0; i < nkv; i++) {
        uint64_t kl = u64_at(p + at);
        snprintf(key, sizeof key, "%.*s", (int)(kl < 60 ? kl : 60), (const char *)p + at + 8);
        add_field(fs, at, 0, F_BOUNDARY, "start of key %s", key);
        add_field(fs, at, 8, F_LEN, "length of key %s", key);
        at += 8 + kl;
        uint32_t t = u32_at(p + at);
        add_field(fs, at, 4, F_TYPE, "type of %s", key);
        at += 4;
        if (!strcmp(key, "general.alignment")) alignment = u32_at(p + at);
        if (t == GGUF_STRING) {
            add_field(fs, at, 8, F_LEN, "string length of %s", key);
            at += 8 + u64_at(p + at);
        } else if (t == GGUF_ARRAY) {
            uint32_t et = u32_at(p + at);
            add_field(fs, at, 4, F_TYPE, "element type of %s", key);
            uint64_t count = u64_at(p + at + 4);
            add_field(fs, at + 4, 8, F_COUNT, "element count of %s", key);
            at += 12;
            for (uint64_t e = 0; e < count; e++) {
                if (et == GGUF_STRING) {
                    if (e < 2 || e + 1 == count) add_field(fs, at, 8, F_LEN, "a string length in %s", key);
                    at += 8 + u64_at(p + at);
                } else {
                    at += (size_t)scalar_bytes[et];
                }
            }
        } else {
            at += (size_t)scalar_bytes[t];
        }
    }
    char name[64];
    for (uint64_t i = 0; i < nt; i++) {
        uint64_t nl = u64_at(p + at);
        snprintf(name, sizeof name, "%.*s", (int)(nl < 60 ? nl : 60), (const char *)p + at + 8);
        add_field(fs, at, 0, F_BOUNDARY, "start of tensor info %s", name);
        int sample = i < 3 || i + 1 == nt; /* every tensor's fields would be hundreds of cases */
        if (sample) add_field(fs, at, 8, F_LEN, "name length of %s", name);
        at += 8 + nl;
        uint32_t nd = u32_at(p + at);
        if (sample) add_field(fs, at, 4, F_NDIMS, "dimension count of %s", name);
        at += 4;
        for (uint32_t d = 0; d < nd; d++, at += 8)
            if (sample) add_field(fs, at, 8, F_DIM, "a dimension of %s", name);
        if (sample) add_field(fs, at, 4, F_TYPE, "type of %s", name);
        at += 4;
        if (sample) add_field(fs, at, 8, F_TOFF, "data offset of %s", name);
        at += 8;
    }
    add_field(fs, at, 0, F_BOUNDARY, "end of the tensor infos%s", "");
    size_t data = (at + alignment - 1) / alignment * alignment;
    add_field(fs, data, 0, F_BOUNDARY, "start of the data%s", "");
    add_field(fs, data + 1, 0, F_BOUNDARY, "one byte into the data%s", "");
    add_field(fs, size - 1, 0, F_BOUNDARY, "one byte short%s", "");
}

/* ------------------------------------------------------- container cases */

/* Whether field i lies in the tensor infos (after the first tensor start). */
static int is_tensor_field(const fields *fs, int i) {
    for (int k = 0; k < i; k++)
        if (fs->f[k].kind == F_BOUNDARY && !strncmp(fs->f[k].label, "start of tensor info", 20)) return 1;
    return 0;
}

static void write_case(const char *dir, int *k, const bytes *b, char *path, size_t cap) {
    snprintf(path, cap, "%s/case%04d.gguf", dir, (*k)++);
    bytes_write_file(path, b->p, b->n);
}

static void container_cases(crafted_stats *st, const char *base_path) {
    bytes base;
    if (!bytes_read_file(base_path, &base)) {
        st->n_bad++;
        snprintf(st->first_bad, sizeof st->first_bad, "cannot read %s", base_path);
        return;
    }
    fields fs = {0};
    walk(base.p, base.n, &fs);
    const char *dir = temp_dir();
    char path[600], name[200];
    int k = 0;
    const uint64_t values[] = CRAFTED_VALUES_U64;
    for (int i = 0; i < fs.n; i++) {
        const field *f = &fs.f[i];
        if (f->kind == F_BOUNDARY) { /* truncated there */
            bytes b = bytes_copy(base.p, f->off);
            write_case(dir, &k, &b, path, sizeof path);
            snprintf(name, sizeof name, "truncated at the %s", f->label);
            crafted_refused(st, name, path, gguf_cmds, 3);
            free(b.p);
            continue;
        }
        int n_vals = 5;
        uint64_t vals[6];
        if (f->kind == F_TYPE && strstr(f->label, "element type") == NULL && is_tensor_field(&fs, i))
            vals[0] = 4 /* a removed ggml type */, vals[1] = 77, vals[2] = 1u << 31, n_vals = 3;
        else if (f->kind == F_TYPE) vals[0] = 13, vals[1] = 255, vals[2] = 1u << 31, n_vals = 3; /* no GGUF value type */
        else if (f->kind == F_NDIMS) vals[0] = 0, vals[1] = 5, vals[2] = 1u << 31, vals[3] = 0xffffffffu, n_vals = 4;
        else if (f->kind == F_TOFF) vals[0] = 1, vals[1] = 16, vals[2] = 1ull << 63, vals[3] = base.n, vals[4] = ~0ull, n_vals = 5;
        else memcpy(vals, values, sizeof values);
        for (int v = 0; v < n_vals; v++) {
            bytes b = bytes_copy(base.p, base.n);
            if (f->size == 8) memcpy(b.p + f->off, &vals[v], 8);
            else {
                uint32_t v32 = (uint32_t)vals[v];
                memcpy(b.p + f->off, &v32, 4);
            }
            if (!memcmp(b.p + f->off, base.p + f->off, (size_t)f->size)) { /* the value it already has */
                free(b.p);
                continue;
            }
            write_case(dir, &k, &b, path, sizeof path);
            snprintf(name, sizeof name, "%s = %llu", f->label, (unsigned long long)vals[v]);
            /* a misaligned or odd offset of a tensor the model reads is
             * refused; 16 may still be aligned for a file with alignment 16 */
            crafted_refused(st, name, path, gguf_cmds, 3);
            free(b.p);
        }
    }
    /* the empty file, and the magic alone */
    bytes empty = {0}, magic = bytes_copy((const uint8_t *)"GGUF", 4);
    write_case(dir, &k, &empty, path, sizeof path);
    crafted_refused(st, "an empty file", path, gguf_cmds, 3);
    write_case(dir, &k, &magic, path, sizeof path);
    crafted_refused(st, "the magic alone", path, gguf_cmds, 3);
    free(magic.p);
    free(fs.f);
    free(base.p);
}

/* ------------------------------------------------------- metadata cases */

/* An edit of a valid file's metadata: `key` dropped, or its value replaced
 * by (type, raw bytes); or one key added. The tensors are copied. */
typedef struct {
    const char *key;
    int drop;
    gguf_type type;
    const void *raw;
    size_t raw_n;
    const char *add_key; /* an extra key (also for duplicates), with type/raw */
} meta_edit;

static int rewrite(const char *base_path, const meta_edit *e, const char *out, loam_error *err) {
    gguf_file g;
    if (gguf_open(&g, base_path, err) != LOAM_OK) return 0;
    gguf_writer *w = gguf_writer_new();
    for (int64_t i = 0; i < g.n_kv; i++) {
        const gguf_kv *kv = &g.kv[i];
        if (!strcmp(kv->key, "general.alignment")) continue; /* the writer writes the default */
        int hit = e->key && !strcmp(kv->key, e->key);
        if (hit && e->drop) continue;
        if (hit && !e->add_key) {
            gguf_w_raw(w, kv->key, e->type, e->raw, e->raw_n);
            continue;
        }
        /* raw value bytes: up to the next key, or to the tensor infos */
        const uint8_t *start = kv->type == GGUF_ARRAY ? kv->value - 12 : kv->value, *end;
        if (i + 1 < g.n_kv) {
            const gguf_kv *nx = &g.kv[i + 1];
            end = (nx->type == GGUF_ARRAY ? nx->value - 12 : nx->value) - 4 - 8 - strlen(nx->key);
        } else {
            end = NULL;
        }
        if (!end) { /* the last key: measure its value */
            const uint8_t *p = kv->value;
            if (kv->type == GGUF_STRING) end = p + 8 + u64_at(p);
            else if (kv->type == GGUF_ARRAY && kv->elem_type == GGUF_STRING) {
                for (uint64_t k = 0; k < kv->count; k++) p += 8 + u64_at(p);
                end = p;
            } else if (kv->type == GGUF_ARRAY) end = p + kv->count * (uint64_t)scalar_bytes[kv->elem_type];
            else end = p + scalar_bytes[kv->type];
        }
        gguf_w_raw(w, kv->key, kv->type, start, (size_t)(end - start));
    }
    if (e->add_key) gguf_w_raw(w, e->add_key, e->type, e->raw, e->raw_n);
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const gguf_tensor *t = &g.tensors[i];
        gguf_w_tensor(w, t->name, t->n_dims, t->ne, t->type);
    }
    int ok = gguf_w_begin(w, out, err) == LOAM_OK;
    for (int64_t i = 0; ok && i < g.n_tensors; i++) ok = gguf_w_data(w, (int)i, g.tensors[i].data, g.tensors[i].n_bytes, err) == LOAM_OK;
    ok = ok && gguf_w_end(w, err) == LOAM_OK;
    gguf_writer_free(w);
    gguf_close(&g);
    return ok;
}

/* raw encodings */
typedef struct {
    uint8_t b[64];
    size_t n;
} raw;

static raw r_u32(uint32_t v) { raw r = {{0}, 4}; memcpy(r.b, &v, 4); return r; }
static raw r_i32(int32_t v) { raw r = {{0}, 4}; memcpy(r.b, &v, 4); return r; }
static raw r_u64(uint64_t v) { raw r = {{0}, 8}; memcpy(r.b, &v, 8); return r; }
static raw r_f32(float v) { raw r = {{0}, 4}; memcpy(r.b, &v, 4); return r; }
static raw r_f64(double v) { raw r = {{0}, 8}; memcpy(r.b, &v, 8); return r; }
static raw r_str(const char *s) {
    raw r = {{0}, 8 + strlen(s)};
    uint64_t n = strlen(s);
    memcpy(r.b, &n, 8), memcpy(r.b + 8, s, n);
    return r;
}

typedef struct {
    const char *what, *key;
    int drop;
    gguf_type type;
    raw value;
    const char *add_key;
    int run_only; /* a file loam cannot run, but info summarizes and tokenize reads (an unknown architecture) */
} meta_case;

static void meta_cases(crafted_stats *st, const char *base_path, const char *arch) {
    char k_blocks[64], k_embd[64], k_ff[64], k_heads[64], k_kv[64], k_ctx[64], k_eps[80], k_rope[64], k_vocab[64];
    snprintf(k_blocks, sizeof k_blocks, "%s.block_count", arch);
    snprintf(k_embd, sizeof k_embd, "%s.embedding_length", arch);
    snprintf(k_ff, sizeof k_ff, "%s.feed_forward_length", arch);
    snprintf(k_heads, sizeof k_heads, "%s.attention.head_count", arch);
    snprintf(k_kv, sizeof k_kv, "%s.attention.head_count_kv", arch);
    snprintf(k_ctx, sizeof k_ctx, "%s.context_length", arch);
    snprintf(k_eps, sizeof k_eps, "%s.attention.layer_norm_rms_epsilon", arch);
    snprintf(k_rope, sizeof k_rope, "%s.rope.dimension_count", arch);
    snprintf(k_vocab, sizeof k_vocab, "%s.vocab_size", arch);
    const meta_case cases[] = {
        {"no general.architecture", "general.architecture", 1, 0, {{0}, 0}, NULL, 0},
        {"architecture as an integer", "general.architecture", 0, GGUF_U32, r_u32(7), NULL, 0},
        {"an unknown architecture", "general.architecture", 0, GGUF_STRING, r_str("llama9"), NULL, 1},
        {"no block_count", k_blocks, 1, 0, {{0}, 0}, NULL, 0},
        {"block_count 0", k_blocks, 0, GGUF_U32, r_u32(0), NULL, 0},
        {"block_count 2^32 + 1 (u64)", k_blocks, 0, GGUF_U64, r_u64((1ull << 32) + 1), NULL, 0},
        {"block_count 2^31 (u32)", k_blocks, 0, GGUF_U32, r_u32(1u << 31), NULL, 0},
        {"block_count 2^63 (u64)", k_blocks, 0, GGUF_U64, r_u64(1ull << 63), NULL, 0},
        {"block_count 2^64 - 1 (u64)", k_blocks, 0, GGUF_U64, r_u64(~0ull), NULL, 0},
        {"block_count -1 (i32)", k_blocks, 0, GGUF_I32, r_i32(-1), NULL, 0},
        {"block_count as a float", k_blocks, 0, GGUF_F32, r_f32(2.0f), NULL, 0},
        {"block_count as a string", k_blocks, 0, GGUF_STRING, r_str("2"), NULL, 0},
        {"block_count one more than the tensors", k_blocks, 0, GGUF_U32, r_u32(99), NULL, 0},
        {"no embedding_length", k_embd, 1, 0, {{0}, 0}, NULL, 0},
        {"embedding_length 2^31", k_embd, 0, GGUF_U32, r_u32(1u << 31), NULL, 0},
        {"embedding_length disagrees with the tensors", k_embd, 0, GGUF_U32, r_u32(48), NULL, 0},
        {"no feed_forward_length", k_ff, 1, 0, {{0}, 0}, NULL, 0},
        {"feed_forward_length 0", k_ff, 0, GGUF_U32, r_u32(0), NULL, 0},
        {"no head_count", k_heads, 1, 0, {{0}, 0}, NULL, 0},
        {"head_count 0", k_heads, 0, GGUF_U32, r_u32(0), NULL, 0},
        {"head_count 7 (does not divide)", k_heads, 0, GGUF_U32, r_u32(7), NULL, 0},
        {"head_count_kv 0", k_kv, 0, GGUF_U32, r_u32(0), NULL, 0},
        {"head_count_kv 3 (does not divide)", k_kv, 0, GGUF_U32, r_u32(3), NULL, 0},
        {"no context_length", k_ctx, 1, 0, {{0}, 0}, NULL, 0},
        {"context_length 0", k_ctx, 0, GGUF_U32, r_u32(0), NULL, 0},
        {"context_length 2^32 (u64)", k_ctx, 0, GGUF_U64, r_u64(1ull << 32), NULL, 0},
        {"rms epsilon as a string", k_eps, 0, GGUF_STRING, r_str("1e-5"), NULL, 0},
        {"rms epsilon NaN", k_eps, 0, GGUF_F64, r_f64(__builtin_nan("")), NULL, 0},
        {"rms epsilon negative", k_eps, 0, GGUF_F32, r_f32(-1.0f), NULL, 0},
        {"rope dimension_count past head_dim", k_rope, 0, GGUF_U32, r_u32(1000), NULL, 0},
        {"vocab_size disagrees with token_embd", NULL, 0, GGUF_U32, r_u32(100), k_vocab, 0},
        {"bos id past the vocabulary", "tokenizer.ggml.bos_token_id", 0, GGUF_U32, r_u32(1u << 20), NULL, 0},
        {"bos id 2^31", "tokenizer.ggml.bos_token_id", 0, GGUF_U32, r_u32(1u << 31), NULL, 0},
        {"bos id -1", "tokenizer.ggml.bos_token_id", 0, GGUF_I32, r_i32(-1), NULL, 0},
        {"bos id as a string", "tokenizer.ggml.bos_token_id", 0, GGUF_STRING, r_str("1"), NULL, 0},
        {"eos id past the vocabulary", "tokenizer.ggml.eos_token_id", 0, GGUF_U32, r_u32(600000), NULL, 0},
        {"unknown id past the vocabulary", NULL, 0, GGUF_U32, r_u32(1u << 30), "tokenizer.ggml.unknown_token_id", 0},
        {"padding id past the vocabulary", NULL, 0, GGUF_U32, r_u32(1u << 30), "tokenizer.ggml.padding_token_id", 0},
        {"no tokenizer.ggml.tokens", "tokenizer.ggml.tokens", 1, 0, {{0}, 0}, NULL, 0},
        {"tokenizer model unknown", "tokenizer.ggml.model", 0, GGUF_STRING, r_str("bogus"), NULL, 0},
        {"tokenizer model as an integer", "tokenizer.ggml.model", 0, GGUF_U32, r_u32(1), NULL, 0},
        {"a duplicate key", NULL, 0, GGUF_U32, r_u32(2), k_blocks, 0},
        {"an empty key", NULL, 0, GGUF_U32, r_u32(2), "", 0},
        {"a key of invalid UTF-8", NULL, 0, GGUF_U32, r_u32(2), "bad\xff\xfekey", 0},
        {"alignment 0", NULL, 0, GGUF_U32, r_u32(0), "general.alignment", 0},
        {"alignment 3", NULL, 0, GGUF_U32, r_u32(3), "general.alignment", 0},
        {"alignment 2^21", NULL, 0, GGUF_U32, r_u32(1u << 21), "general.alignment", 0},
        {"alignment as a string", NULL, 0, GGUF_STRING, r_str("32"), "general.alignment", 0},
    };
    const char *dir = temp_dir();
    char path[600];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const meta_case *c = &cases[i];
        meta_edit e = {c->key, c->drop, c->type, c->value.b, c->value.n, c->add_key};
        snprintf(path, sizeof path, "%s/meta%03zu.gguf", dir, i);
        loam_error err;
        if (!rewrite(base_path, &e, path, &err)) {
            st->n_bad++;
            snprintf(st->first_bad, sizeof st->first_bad, "cannot write the case \"%s\": %s", c->what, err.message);
            return;
        }
        if (c->run_only) {
            crafted_refused(st, c->what, path, gguf_cmds + 1, 1);
            crafted_survives(st, c->what, path, gguf_cmds, 1);
            crafted_survives(st, c->what, path, gguf_cmds + 2, 1);
        } else {
            crafted_refused(st, c->what, path, gguf_cmds, 3);
        }
    }
}

/* ------------------------------------------------------- vocabulary cases */

/* The tokens, scores and types arrays rewritten as given, with the rest of
 * the file kept: counts that disagree, types outside 1..6, a NUL inside a
 * control token. */
static void vocab_array_case(crafted_stats *st, const char *base_path, const char *what, const char *key, gguf_type elem,
                             const void *elems, uint64_t count, size_t elem_bytes, int must_refuse) {
    bytes v = {0};
    bytes_u32(&v, elem), bytes_u64(&v, count);
    if (elem == GGUF_STRING) {
        const char *const *s = elems;
        for (uint64_t i = 0; i < count; i++) bytes_u64(&v, s[i] ? strlen(s[i]) : 3), bytes_put(&v, s[i] ? s[i] : "a\0b", s[i] ? strlen(s[i]) : 3);
    } else {
        bytes_put(&v, elems, count * elem_bytes);
    }
    meta_edit e = {key, 0, GGUF_ARRAY, v.p, v.n, NULL};
    char path[600];
    snprintf(path, sizeof path, "%s/vocab.gguf", temp_dir());
    loam_error err;
    int ok = rewrite(base_path, &e, path, &err);
    free(v.p);
    if (!ok) {
        st->n_bad++;
        snprintf(st->first_bad, sizeof st->first_bad, "cannot write the case \"%s\": %s", what, err.message);
        return;
    }
    if (must_refuse) crafted_refused(st, what, path, gguf_cmds, 3);
    else crafted_survives(st, what, path, gguf_cmds, 3);
}

static void vocab_cases(crafted_stats *st, const char *base_path) {
    gguf_file g;
    loam_error err;
    if (gguf_open(&g, base_path, &err) != LOAM_OK) return;
    const gguf_kv *tk = gguf_find(&g, "tokenizer.ggml.tokens");
    uint64_t n = tk ? tk->count : 0;
    const char **strs = malloc((n + 1) * sizeof *strs);
    uint64_t *lens = malloc((n + 1) * sizeof *lens);
    char **copies = calloc(n + 1, sizeof *copies);
    gguf_array_strs(tk, strs, lens);
    for (uint64_t i = 0; i < n; i++) copies[i] = strndup(strs[i], lens[i]);
    /* the first control token (type 3), for the NUL case */
    const gguf_kv *tt = gguf_find(&g, "tokenizer.ggml.token_type");
    uint64_t control = 1;
    for (uint64_t i = 0; tt && i < n; i++) {
        double v;
        if (gguf_array_num(tt, i, &v) && v == 3) {
            control = i;
            break;
        }
    }
    gguf_close(&g);
    int32_t *types = malloc((n + 1) * sizeof *types);
    float *scores = calloc(n + 1, sizeof *scores);
    for (uint64_t i = 0; i < n; i++) types[i] = 1;
    vocab_array_case(st, base_path, "one token fewer than token_embd's rows", "tokenizer.ggml.tokens", GGUF_STRING, copies, n - 1, 0, 1);
    vocab_array_case(st, base_path, "scores for one token fewer", "tokenizer.ggml.scores", GGUF_F32, scores, n - 1, 4, 1);
    vocab_array_case(st, base_path, "scores as strings", "tokenizer.ggml.scores", GGUF_STRING, copies, n, 0, 1);
    vocab_array_case(st, base_path, "token types for one token fewer", "tokenizer.ggml.token_type", GGUF_I32, types, n - 1, 4, 1);
    const int32_t bad_types[] = {0, 7, 300, -1};
    for (int b = 0; b < 4; b++) {
        types[5] = bad_types[b];
        char what[80];
        snprintf(what, sizeof what, "token type %d", bad_types[b]);
        vocab_array_case(st, base_path, what, "tokenizer.ggml.token_type", GGUF_I32, types, n, 4, 1);
    }
    types[5] = 1;
    double *ftypes = malloc((n + 1) * sizeof *ftypes);
    for (uint64_t i = 0; i < n; i++) ftypes[i] = 1;
    ftypes[3] = 1e300;
    vocab_array_case(st, base_path, "token type 1e300 (f64)", "tokenizer.ggml.token_type", GGUF_F64, ftypes, n, 8, 1);
    /* a control token whose text holds a NUL byte: read with its length
     * (it used to be strdup'd short, then read past) */
    char *saved = copies[control];
    copies[control] = NULL; /* "a\0b" */
    vocab_array_case(st, base_path, "a control token with a NUL inside", "tokenizer.ggml.tokens", GGUF_STRING, copies, n, 0, 0);
    copies[control] = saved;
    for (uint64_t i = 0; i < n; i++) free(copies[i]);
    free(copies), free(strs), free(lens), free(types), free(scores), free(ftypes);
}

void crafted_gguf(crafted_stats *container, crafted_stats *meta) {
    container_cases(container, fixture("gguf/stories260k/model-f32.gguf"));
    container_cases(container, fixture("gguf/bloom/model-bf16.gguf"));
    meta_cases(meta, fixture("gguf/stories260k/model-f32.gguf"), "llama");
    vocab_cases(meta, fixture("gguf/stories260k/model-f32.gguf"));
    vocab_cases(meta, fixture("gguf/bloom/model-bf16.gguf"));
}
