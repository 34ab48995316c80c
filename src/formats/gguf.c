#include "formats/gguf.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/utf8.h"

#define MAX_KV (1ll << 20)
#define MAX_TENSORS (1ll << 20)
#define MAX_STRING (1ull << 30)

static const struct {
    const char *name;
    uint64_t block_elems, block_bytes;
} ggml_types[GGML_TYPE_LIMIT] = {
    [GGML_F32] = {"F32", 1, 4},        [GGML_F16] = {"F16", 1, 2},       [GGML_Q4_0] = {"Q4_0", 32, 18},
    [GGML_Q4_1] = {"Q4_1", 32, 20},    [GGML_Q5_0] = {"Q5_0", 32, 22},   [GGML_Q5_1] = {"Q5_1", 32, 24},
    [GGML_Q8_0] = {"Q8_0", 32, 34},    [GGML_Q8_1] = {"Q8_1", 32, 36},   [GGML_Q2_K] = {"Q2_K", 256, 84},
    [GGML_Q3_K] = {"Q3_K", 256, 110},  [GGML_Q4_K] = {"Q4_K", 256, 144}, [GGML_Q5_K] = {"Q5_K", 256, 176},
    [GGML_Q6_K] = {"Q6_K", 256, 210},  [GGML_Q8_K] = {"Q8_K", 256, 292}, [GGML_IQ4_NL] = {"IQ4_NL", 32, 18}, [GGML_I8] = {"I8", 1, 1},
    [GGML_I16] = {"I16", 1, 2},        [GGML_I32] = {"I32", 1, 4},       [GGML_I64] = {"I64", 1, 8},
    [GGML_F64] = {"F64", 1, 8},        [GGML_BF16] = {"BF16", 1, 2},
    /* types loam reads past (their sizes, so such files are summarized) but does not compute with */
    [16] = {"IQ2_XXS", 256, 66}, [17] = {"IQ2_XS", 256, 74}, [18] = {"IQ3_XXS", 256, 98}, [19] = {"IQ1_S", 256, 50},
    [21] = {"IQ3_S", 256, 110},  [22] = {"IQ2_S", 256, 82},  [23] = {"IQ4_XS", 256, 136}, [29] = {"IQ1_M", 256, 56},
    [34] = {"TQ1_0", 256, 54},   [35] = {"TQ2_0", 256, 66},  [39] = {"MXFP4", 32, 17},
};

int ggml_type_block(ggml_type t, uint64_t *be, uint64_t *bb) {
    if ((unsigned)t >= GGML_TYPE_LIMIT || !ggml_types[t].name) return 0;
    *be = ggml_types[t].block_elems;
    *bb = ggml_types[t].block_bytes;
    return 1;
}

const char *ggml_type_name(ggml_type t) {
    return (unsigned)t < GGML_TYPE_LIMIT && ggml_types[t].name ? ggml_types[t].name : "?";
}


const char *ggml_type_label(uint32_t t) {
    static const char *const labels[] = {
#define L(n, name) name " (ggml type " #n ")"
        L(0, "F32"), L(1, "F16"), L(2, "Q4_0"), L(3, "Q4_1"), L(4, "Q4_2"), L(5, "Q4_3"), L(6, "Q5_0"), L(7, "Q5_1"),
        L(8, "Q8_0"), L(9, "Q8_1"), L(10, "Q2_K"), L(11, "Q3_K"), L(12, "Q4_K"), L(13, "Q5_K"), L(14, "Q6_K"),
        L(15, "Q8_K"), L(16, "IQ2_XXS"), L(17, "IQ2_XS"), L(18, "IQ3_XXS"), L(19, "IQ1_S"), L(20, "IQ4_NL"),
        L(21, "IQ3_S"), L(22, "IQ2_S"), L(23, "IQ4_XS"), L(24, "I8"), L(25, "I16"), L(26, "I32"), L(27, "I64"),
        L(28, "F64"), L(29, "IQ1_M"), L(30, "BF16"), L(31, "Q4_0_4_4"), L(32, "Q4_0_4_8"), L(33, "Q4_0_8_8"),
        L(34, "TQ1_0"), L(35, "TQ2_0"), L(36, "IQ4_NL_4_4"), L(37, "IQ4_NL_4_8"), L(38, "IQ4_NL_8_8"), L(39, "MXFP4"),
#undef L
    };
    return t < sizeof labels / sizeof *labels ? labels[t] : "an unknown ggml type";
}

static const uint64_t scalar_size[GGUF_TYPE_COUNT] = {
    [GGUF_U8] = 1, [GGUF_I8] = 1, [GGUF_U16] = 2, [GGUF_I16] = 2, [GGUF_U32] = 4, [GGUF_I32] = 4,
    [GGUF_F32] = 4, [GGUF_BOOL] = 1, [GGUF_U64] = 8, [GGUF_I64] = 8, [GGUF_F64] = 8,
};

typedef struct {
    const uint8_t *p, *end, *start;
    const char *path;
    loam_error *err;
} cursor;

static int need(cursor *c, uint64_t n, const char *what) {
    if ((uint64_t)(c->end - c->p) < n) {
        loam_fail(c->err, LOAM_E_FORMAT, "%s: %s at byte %llu runs past the end of the file (truncated?)", c->path, what,
                  (unsigned long long)(c->p - c->start));
        return 0;
    }
    return 1;
}

static int read_u32(cursor *c, uint32_t *v, const char *what) {
    if (!need(c, 4, what)) return 0;
    memcpy(v, c->p, 4);
    c->p += 4;
    return 1;
}

static int read_u64(cursor *c, uint64_t *v, const char *what) {
    if (!need(c, 8, what)) return 0;
    memcpy(v, c->p, 8);
    c->p += 8;
    return 1;
}

/* A gguf string: u64 length, bytes. */
static int read_str(cursor *c, const char **s, uint64_t *len, const char *what) {
    if (!read_u64(c, len, what)) return 0;
    if (*len > MAX_STRING) {
        loam_fail(c->err, LOAM_E_FORMAT, "%s: %s has an implausible length %llu", c->path, what, (unsigned long long)*len);
        return 0;
    }
    if (!need(c, *len, what)) return 0;
    *s = (const char *)c->p;
    c->p += *len;
    return 1;
}

/* Skips one value of a type, checking it fits. */
static int skip_value(cursor *c, gguf_type t, const char *key) {
    if (t == GGUF_STRING) {
        const char *s;
        uint64_t n;
        return read_str(c, &s, &n, key);
    }
    if ((unsigned)t >= GGUF_TYPE_COUNT || t == GGUF_ARRAY || !scalar_size[t]) {
        loam_fail(c->err, LOAM_E_FORMAT, "%s: key \"%s\" has unknown value type %u", c->path, key, (unsigned)t);
        return 0;
    }
    if (!need(c, scalar_size[t], key)) return 0;
    c->p += scalar_size[t];
    return 1;
}

static int num_at(gguf_type t, const uint8_t *p, double *d, int64_t *i, int *is_int) {
    *is_int = 1;
    switch (t) {
    case GGUF_U8: *i = *p; break;
    case GGUF_I8: *i = (int8_t)*p; break;
    case GGUF_BOOL: *i = *p != 0; break;
    case GGUF_U16: { uint16_t v; memcpy(&v, p, 2); *i = v; break; }
    case GGUF_I16: { int16_t v; memcpy(&v, p, 2); *i = v; break; }
    case GGUF_U32: { uint32_t v; memcpy(&v, p, 4); *i = v; break; }
    case GGUF_I32: { int32_t v; memcpy(&v, p, 4); *i = v; break; }
    case GGUF_U64: { uint64_t v; memcpy(&v, p, 8); if (v > INT64_MAX) return 0; *i = (int64_t)v; break; }
    case GGUF_I64: memcpy(i, p, 8); break;
    case GGUF_F32: { float v; memcpy(&v, p, 4); *d = v; *is_int = 0; return 1; }
    case GGUF_F64: memcpy(d, p, 8); *is_int = 0; return 1;
    default: return 0;
    }
    *d = (double)*i;
    return 1;
}

static loam_status fail_free(gguf_file *g, loam_status st) {
    free(g->kv), free(g->tensors), free(g->strings), free(g->kv_sorted), free(g->tensor_sorted);
    g->kv = NULL, g->tensors = NULL, g->strings = NULL, g->kv_sorted = g->tensor_sorted = NULL;
    return st;
}

/* Keys and tensor names are copied NUL-terminated into one growing block;
 * entries hold offsets until the end of the parse, when the block stops
 * moving. Its size is bounded by the header's, not the file's. */
typedef struct {
    char *p;
    size_t n, cap;
} str_block;

static int copy_str(str_block *b, const char *s, uint64_t n, size_t *at) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1) cap *= 2;
        char *g = realloc(b->p, cap);
        if (!g) return 0;
        b->p = g, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->p[b->n + n] = 0;
    *at = b->n;
    b->n += n + 1;
    return 1;
}

/* One metadata entry: key, type, value (skipped after its bounds are
 * checked). gguf.md: keys are non-empty UTF-8. */
static loam_status parse_kv(cursor *c, gguf_kv *kv, str_block *strs, size_t *key_at, const char *path, loam_error *err) {
    const char *k;
    uint64_t kl;
    uint32_t t;
    if (!read_str(c, &k, &kl, "metadata key") || !read_u32(c, &t, "metadata type")) return err->code;
    if (kl == 0) return loam_fail(err, LOAM_E_FORMAT, "%s: a metadata key at byte %llu is empty", path, (unsigned long long)(c->p - c->start - 4 - 8));
    if (!loam_utf8_valid(k, kl) || memchr(k, 0, kl))
        return loam_fail(err, LOAM_E_FORMAT, "%s: the metadata key at byte %llu is not valid UTF-8 text", path,
                         (unsigned long long)(c->p - c->start - 4 - kl));
    if (!copy_str(strs, k, kl, key_at)) return loam_fail(err, LOAM_E_NOMEM, "%s: out of memory", path);
    const char *key = strs->p + *key_at;
    kv->type = (gguf_type)t;
    kv->value = c->p;
    if (t != GGUF_ARRAY) return skip_value(c, kv->type, key) ? LOAM_OK : err->code;
    uint32_t et;
    if (!read_u32(c, &et, key) || !read_u64(c, &kv->count, key)) return err->code;
    kv->elem_type = (gguf_type)et;
    kv->value = c->p;
    if (et == GGUF_ARRAY) return loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" is an array of arrays", path, key);
    if (et == GGUF_STRING) {
        if (kv->count > (uint64_t)(c->end - c->p) / 8)
            return loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" claims %llu strings, more than the file holds", path, key,
                             (unsigned long long)kv->count);
        for (uint64_t e = 0; e < kv->count; e++)
            if (!skip_value(c, GGUF_STRING, key)) return err->code;
        return LOAM_OK;
    }
    if ((unsigned)et >= GGUF_TYPE_COUNT || !scalar_size[et])
        return loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" has unknown element type %u", path, key, et);
    uint64_t bytes;
    if (__builtin_mul_overflow(kv->count, scalar_size[et], &bytes))
        return loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" claims %llu elements, more than the file holds", path, key,
                         (unsigned long long)kv->count);
    if (!need(c, bytes, key)) return err->code;
    c->p += bytes;
    return LOAM_OK;
}

/* One tensor description: name, dims, type, offset. */
static loam_status parse_tensor(cursor *c, const gguf_file *g, gguf_tensor *t, str_block *strs, size_t *name_at,
                                const char *path, loam_error *err) {
    const char *name;
    uint64_t nl;
    uint32_t nd, type;
    if (!read_str(c, &name, &nl, "tensor name") || !read_u32(c, &nd, "tensor dims")) return err->code;
    if (nl == 0 || memchr(name, 0, nl) || !loam_utf8_valid(name, nl))
        return loam_fail(err, LOAM_E_FORMAT, "%s: a tensor name at byte %llu is empty or not valid UTF-8 text", path,
                         (unsigned long long)(c->p - c->start - 4 - nl));
    if (!copy_str(strs, name, nl, name_at)) return loam_fail(err, LOAM_E_NOMEM, "%s: out of memory", path);
    const char *tn = strs->p + *name_at;
    if (nd == 0 || nd > 4) return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" has %u dimensions (1..4)", path, tn, nd);
    t->n_dims = (int)nd;
    /* the element count, and the product of the non-zero dimensions: a
     * zero must not hide dimensions whose product overflows */
    uint64_t n_elems = 1, nonzero = 1;
    for (uint32_t d = 0; d < nd; d++) {
        if (!read_u64(c, &t->ne[d], tn)) return err->code;
        if (t->ne[d] && __builtin_mul_overflow(nonzero, t->ne[d], &nonzero))
            return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\": the product of its dimensions overflows", path, tn);
        n_elems *= t->ne[d];
    }
    if (nonzero > (uint64_t)INT64_MAX)
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\": the product of its dimensions overflows", path, tn);
    for (uint32_t d = nd; d < 4; d++) t->ne[d] = 1;
    if (!read_u32(c, &type, tn) || !read_u64(c, &t->offset, tn)) return err->code;
    t->type = (ggml_type)type;
    uint64_t be, bb;
    if (!ggml_type_block(t->type, &be, &bb))
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" has %s, not a type of ggml's", path, tn, ggml_type_label(type));
    if (t->ne[0] % be)
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\": row of %llu is not a multiple of the %s block (%llu)", path, tn,
                         (unsigned long long)t->ne[0], ggml_type_name(t->type), (unsigned long long)be);
    if (__builtin_mul_overflow(n_elems / be, bb, &t->n_bytes))
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" is implausibly large", path, tn);
    if (t->offset % g->alignment)
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" offset %llu is not aligned to %llu", path, tn,
                         (unsigned long long)t->offset, (unsigned long long)g->alignment);
    return LOAM_OK;
}

static int cmp_kv(const void *a, const void *b, void *file) {
    const gguf_file *g = file;
    return strcmp(g->kv[*(const int64_t *)a].key, g->kv[*(const int64_t *)b].key);
}

static int cmp_tensor_name(const void *a, const void *b, void *file) {
    const gguf_file *g = file;
    return strcmp(g->tensors[*(const int64_t *)a].name, g->tensors[*(const int64_t *)b].name);
}

static int cmp_tensor_offset(const void *a, const void *b, void *file) {
    const gguf_file *g = file;
    uint64_t x = g->tensors[*(const int64_t *)a].offset, y = g->tensors[*(const int64_t *)b].offset;
    return (x > y) - (x < y);
}

/* Sorted indexes (lookups in O(log n)), and in O(n log n): no key or
 * tensor name twice (gguf.md), no two tensors' bytes overlapping. */
static loam_status index_entries(gguf_file *g, const char *path, loam_error *err) {
    int64_t nkv = g->n_kv, nt = g->n_tensors;
    g->kv_sorted = malloc((size_t)(nkv ? nkv : 1) * sizeof *g->kv_sorted);
    g->tensor_sorted = malloc((size_t)(nt ? nt : 1) * sizeof *g->tensor_sorted);
    int64_t *by_offset = malloc((size_t)(nt ? nt : 1) * sizeof *by_offset);
    if (!g->kv_sorted || !g->tensor_sorted || !by_offset) {
        free(by_offset);
        return loam_fail(err, LOAM_E_NOMEM, "%s: out of memory", path);
    }
    for (int64_t i = 0; i < nkv; i++) g->kv_sorted[i] = i;
    for (int64_t i = 0; i < nt; i++) g->tensor_sorted[i] = by_offset[i] = i;
    qsort_r(g->kv_sorted, (size_t)nkv, sizeof *g->kv_sorted, cmp_kv, g);
    qsort_r(g->tensor_sorted, (size_t)nt, sizeof *g->tensor_sorted, cmp_tensor_name, g);
    qsort_r(by_offset, (size_t)nt, sizeof *by_offset, cmp_tensor_offset, g);
    loam_status st = LOAM_OK;
    for (int64_t i = 1; i < nkv && !st; i++)
        if (!strcmp(g->kv[g->kv_sorted[i]].key, g->kv[g->kv_sorted[i - 1]].key))
            st = loam_fail(err, LOAM_E_FORMAT, "%s: metadata key \"%s\" appears twice", path, g->kv[g->kv_sorted[i]].key);
    for (int64_t i = 1; i < nt && !st; i++)
        if (!strcmp(g->tensors[g->tensor_sorted[i]].name, g->tensors[g->tensor_sorted[i - 1]].name))
            st = loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" appears twice", path, g->tensors[g->tensor_sorted[i]].name);
    /* by start offset: each tensor must begin after the furthest end so far */
    const gguf_tensor *furthest = NULL;
    for (int64_t i = 0; i < nt && !st; i++) {
        const gguf_tensor *t = &g->tensors[by_offset[i]];
        if (!t->n_bytes) continue;
        if (furthest && t->offset < furthest->offset + furthest->n_bytes)
            st = loam_fail(err, LOAM_E_FORMAT, "%s: tensors \"%s\" and \"%s\" overlap", path, furthest->name, t->name);
        if (!furthest || t->offset + t->n_bytes > furthest->offset + furthest->n_bytes) furthest = t;
    }
    free(by_offset);
    return st;
}

loam_status gguf_parse(gguf_file *g, const uint8_t *data, uint64_t size, const char *path, loam_error *err) {
    g->kv = NULL, g->tensors = NULL, g->strings = NULL, g->kv_sorted = g->tensor_sorted = NULL;
    g->n_kv = g->n_tensors = 0;
    /* an empty file maps to no memory at all: nothing may point into it */
    if (!data || size == 0) return loam_fail(err, LOAM_E_FORMAT, "%s: the file is empty (not a GGUF file)", path);
    if (size < 4 || memcmp(data, "GGUF", 4) != 0) return loam_fail(err, LOAM_E_FORMAT, "%s: not a GGUF file (no GGUF magic)", path);
    cursor c = {data + 4, data + size, data, path, err};
    if (!read_u32(&c, &g->version, "version")) return err->code;
    if (g->version != 2 && g->version != 3)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: GGUF version %u (supported: 2, 3)", path, g->version);
    uint64_t nt, nkv;
    if (!read_u64(&c, &nt, "tensor count") || !read_u64(&c, &nkv, "metadata count")) return err->code;
    if (nt > MAX_TENSORS || nkv > MAX_KV)
        return loam_fail(err, LOAM_E_FORMAT, "%s: implausible counts (%llu tensors, %llu metadata keys; at most %lld each)", path,
                         (unsigned long long)nt, (unsigned long long)nkv, (long long)MAX_TENSORS);
    /* every key and tensor takes at least 8 bytes: a cheap sanity bound */
    if ((nt + nkv) * 8 > size) return loam_fail(err, LOAM_E_FORMAT, "%s: counts exceed the file size (truncated?)", path);
    g->kv = calloc(nkv ? nkv : 1, sizeof *g->kv);
    g->tensors = calloc(nt ? nt : 1, sizeof *g->tensors);
    size_t *key_at = malloc((nkv + nt + 1) * sizeof *key_at); /* offsets into strs until it stops moving */
    str_block strs = {0};
    loam_status st = g->kv && g->tensors && key_at ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "%s: out of memory", path);
    g->alignment = 32;
    for (uint64_t i = 0; i < nkv && !st; i++) {
        st = parse_kv(&c, &g->kv[i], &strs, &key_at[i], path, err);
        if (!st && strcmp(strs.p + key_at[i], "general.alignment") == 0) {
            g->kv[i].key = strs.p + key_at[i];
            g->n_kv = (int64_t)i + 1;
            int64_t a;
            const gguf_kv *kv = &g->kv[i];
            int is_int;
            double d;
            if (kv->type == GGUF_ARRAY || kv->type == GGUF_STRING || !num_at(kv->type, kv->value, &d, &a, &is_int) || !is_int ||
                a <= 0 || a > (1 << 20) || (a & (a - 1)))
                st = loam_fail(err, LOAM_E_FORMAT, "%s: general.alignment must be a power of two up to 2^20", path);
            else g->alignment = (uint64_t)a;
        }
    }
    for (uint64_t i = 0; i < nt && !st; i++) st = parse_tensor(&c, g, &g->tensors[i], &strs, &key_at[nkv + i], path, err);
    if (!st) { /* the block no longer moves: offsets become pointers */
        g->strings = strs.p, strs.p = NULL;
        for (uint64_t i = 0; i < nkv; i++) g->kv[i].key = g->strings + key_at[i];
        for (uint64_t i = 0; i < nt; i++) g->tensors[i].name = g->strings + key_at[nkv + i];
        g->n_kv = (int64_t)nkv, g->n_tensors = (int64_t)nt;
    }
    free(strs.p);
    free(key_at);
    if (st) return fail_free(g, st);
    /* data starts at the next alignment boundary */
    uint64_t header = (uint64_t)(c.p - data);
    uint64_t data_start = (header + g->alignment - 1) / g->alignment * g->alignment;
    if (nt > 0 && data_start > size) return fail_free(g, loam_fail(err, LOAM_E_FORMAT, "%s: no room for tensor data (truncated?)", path));
    uint64_t data_size = data_start <= size ? size - data_start : 0;
    for (uint64_t i = 0; i < nt; i++) {
        gguf_tensor *t = &g->tensors[i];
        if (t->offset > data_size || t->n_bytes > data_size - t->offset)
            return fail_free(g, loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" (%llu bytes at %llu) runs past the end of the file (truncated?)",
                                          path, t->name, (unsigned long long)t->n_bytes, (unsigned long long)t->offset));
        t->data = data + data_start + t->offset;
    }
    if ((st = index_entries(g, path, err))) return fail_free(g, st);
    return LOAM_OK;
}

loam_status gguf_open(gguf_file *g, const char *path, loam_error *err) {
    memset(g, 0, sizeof *g);
    loam_status st = loam_mapfile_open(&g->map, path, err);
    if (st) return st;
    st = gguf_parse(g, g->map.data, g->map.size, g->map.path, err);
    if (st) loam_mapfile_close(&g->map);
    return st;
}

void gguf_release(gguf_file *g) { fail_free(g, LOAM_OK); }

void gguf_close(gguf_file *g) {
    gguf_release(g);
    loam_mapfile_close(&g->map);
    memset(g, 0, sizeof *g);
}

const gguf_kv *gguf_find(const gguf_file *g, const char *key) {
    int64_t lo = 0, hi = g->n_kv;
    while (g->kv_sorted && lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->kv[g->kv_sorted[mid]].key, key);
        if (c == 0) return &g->kv[g->kv_sorted[mid]];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name) {
    int64_t lo = 0, hi = g->n_tensors;
    while (g->tensor_sorted && lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->tensors[g->tensor_sorted[mid]].name, name);
        if (c == 0) return &g->tensors[g->tensor_sorted[mid]];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}


int gguf_get_int(const gguf_file *g, const char *key, int64_t *out) {
    const gguf_kv *kv = gguf_find(g, key);
    double d;
    int is_int;
    if (!kv || kv->type == GGUF_ARRAY || kv->type == GGUF_STRING || !num_at(kv->type, kv->value, &d, out, &is_int)) return 0;
    return is_int;
}

int gguf_get_float(const gguf_file *g, const char *key, double *out) {
    const gguf_kv *kv = gguf_find(g, key);
    int64_t i;
    int is_int;
    return kv && kv->type != GGUF_ARRAY && kv->type != GGUF_STRING && num_at(kv->type, kv->value, out, &i, &is_int);
}

int gguf_get_bool(const gguf_file *g, const char *key, int *out) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv || kv->type != GGUF_BOOL) return 0;
    *out = kv->value[0] != 0;
    return 1;
}

int gguf_get_str(const gguf_file *g, const char *key, const char **s, uint64_t *len) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv || kv->type != GGUF_STRING) return 0;
    memcpy(len, kv->value, 8);
    *s = (const char *)kv->value + 8;
    return 1;
}

int gguf_array_str(const gguf_kv *kv, uint64_t i, const char **s, uint64_t *len) {
    if (!kv || kv->type != GGUF_ARRAY || kv->elem_type != GGUF_STRING || i >= kv->count) return 0;
    const uint8_t *p = kv->value;
    uint64_t n;
    for (uint64_t k = 0;; k++) { /* lengths were validated when parsing */
        memcpy(&n, p, 8);
        if (k == i) break;
        p += 8 + n;
    }
    *s = (const char *)p + 8;
    *len = n;
    return 1;
}

int gguf_array_num(const gguf_kv *kv, uint64_t i, double *out) {
    if (!kv || kv->type != GGUF_ARRAY || kv->elem_type == GGUF_STRING || i >= kv->count) return 0;
    int64_t iv;
    int is_int;
    return num_at(kv->elem_type, kv->value + i * scalar_size[kv->elem_type], out, &iv, &is_int);
}

int gguf_array_strs(const gguf_kv *kv, const char **strs, uint64_t *lens) {
    if (!kv || kv->type != GGUF_ARRAY || kv->elem_type != GGUF_STRING) return 0;
    const uint8_t *p = kv->value;
    for (uint64_t i = 0; i < kv->count; i++) {
        memcpy(&lens[i], p, 8);
        strs[i] = (const char *)p + 8;
        p += 8 + lens[i];
    }
    return 1;
}

static const struct {
    ggml_type ggml;
    loam_type loam;
} type_pairs[] = {
    {GGML_F32, LOAM_T_F32},   {GGML_F16, LOAM_T_F16},   {GGML_BF16, LOAM_T_BF16}, {GGML_Q4_0, LOAM_T_Q4_0},
    {GGML_Q4_1, LOAM_T_Q4_1}, {GGML_Q5_0, LOAM_T_Q5_0}, {GGML_Q5_1, LOAM_T_Q5_1}, {GGML_Q8_0, LOAM_T_Q8_0},
    {GGML_Q2_K, LOAM_T_Q2_K}, {GGML_Q3_K, LOAM_T_Q3_K}, {GGML_Q4_K, LOAM_T_Q4_K}, {GGML_Q5_K, LOAM_T_Q5_K},
    {GGML_Q6_K, LOAM_T_Q6_K}, {GGML_IQ4_NL, LOAM_T_IQ4_NL}, {GGML_I32, LOAM_T_I32},
};

int gguf_loam_type(ggml_type t) {
    for (size_t i = 0; i < sizeof type_pairs / sizeof *type_pairs; i++)
        if (type_pairs[i].ggml == t) return (int)type_pairs[i].loam;
    return -1;
}

ggml_type gguf_ggml_type(loam_type t) {
    for (size_t i = 0; i < sizeof type_pairs / sizeof *type_pairs; i++)
        if (type_pairs[i].loam == t) return type_pairs[i].ggml;
    return GGML_TYPE_LIMIT;
}
