#include "formats/gguf.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

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

static loam_status fail_free(gguf_file *g, loam_status st) {
    free(g->kv);
    free(g->tensors);
    free(g->strings);
    g->kv = NULL, g->tensors = NULL, g->strings = NULL;
    return st;
}

loam_status gguf_parse(gguf_file *g, const uint8_t *data, uint64_t size, const char *path, loam_error *err) {
    g->kv = NULL, g->tensors = NULL, g->strings = NULL;
    cursor c = {data, data + size, data, path, err};
    if (size < 4 || memcmp(data, "GGUF", 4) != 0) return loam_fail(err, LOAM_E_FORMAT, "%s: not a GGUF file (no GGUF magic)", path);
    c.p += 4;
    if (!read_u32(&c, &g->version, "version")) return err->code;
    if (g->version != 2 && g->version != 3)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: GGUF version %u (supported: 2, 3)", path, g->version);
    uint64_t nt, nkv;
    if (!read_u64(&c, &nt, "tensor count") || !read_u64(&c, &nkv, "metadata count")) return err->code;
    if (nt > MAX_TENSORS || nkv > MAX_KV)
        return loam_fail(err, LOAM_E_FORMAT, "%s: implausible counts (%llu tensors, %llu metadata keys)", path,
                         (unsigned long long)nt, (unsigned long long)nkv);
    /* every key and tensor takes at least 8 bytes: a cheap sanity bound */
    if ((nt + nkv) * 8 > size) return loam_fail(err, LOAM_E_FORMAT, "%s: counts exceed the file size (truncated?)", path);
    g->n_kv = (int64_t)nkv, g->n_tensors = (int64_t)nt;
    g->kv = calloc(nkv ? nkv : 1, sizeof *g->kv);
    g->tensors = calloc(nt ? nt : 1, sizeof *g->tensors);
    /* keys and names are copied NUL-terminated into one block */
    g->strings = malloc(size + 1);
    if (!g->kv || !g->tensors || !g->strings) return fail_free(g, loam_fail(err, LOAM_E_NOMEM, "%s: out of memory", path));
    char *str_at = g->strings;
    g->alignment = 32;
    for (uint64_t i = 0; i < nkv; i++) {
        gguf_kv *kv = &g->kv[i];
        const char *k;
        uint64_t kl;
        uint32_t t;
        if (!read_str(&c, &k, &kl, "metadata key") || !read_u32(&c, &t, "metadata type")) return fail_free(g, err->code);
        memcpy(str_at, k, kl);
        str_at[kl] = 0;
        kv->key = str_at;
        str_at += kl + 1;
        kv->type = (gguf_type)t;
        kv->value = c.p;
        if (t == GGUF_ARRAY) {
            uint32_t et;
            if (!read_u32(&c, &et, kv->key) || !read_u64(&c, &kv->count, kv->key)) return fail_free(g, err->code);
            kv->elem_type = (gguf_type)et;
            kv->value = c.p;
            if (et == GGUF_ARRAY)
                return fail_free(g, loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" is an array of arrays", path, kv->key));
            if (et == GGUF_STRING) {
                if (kv->count > (uint64_t)(c.end - c.p) / 8)
                    return fail_free(g, loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" claims %llu strings, more than the file holds",
                                                  path, kv->key, (unsigned long long)kv->count));
                for (uint64_t e = 0; e < kv->count; e++)
                    if (!skip_value(&c, GGUF_STRING, kv->key)) return fail_free(g, err->code);
            } else {
                if ((unsigned)et >= GGUF_TYPE_COUNT || !scalar_size[et])
                    return fail_free(g, loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" has unknown element type %u", path, kv->key, et));
                uint64_t bytes;
                if (__builtin_mul_overflow(kv->count, scalar_size[et], &bytes) || !need(&c, bytes, kv->key))
                    return fail_free(g, err && err->code ? err->code
                                                         : loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" array too large", path, kv->key));
                c.p += bytes;
            }
        } else if (!skip_value(&c, kv->type, kv->key)) {
            return fail_free(g, err->code);
        }
        if (strcmp(kv->key, "general.alignment") == 0) {
            int64_t a;
            if (!gguf_get_int(g, "general.alignment", &a) || a <= 0 || a > (1 << 20) || (a & (a - 1)))
                return fail_free(g, loam_fail(err, LOAM_E_FORMAT, "%s: general.alignment must be a power of two", path));
            g->alignment = (uint64_t)a;
        }
    }
    for (uint64_t i = 0; i < nt; i++) {
        gguf_tensor *t = &g->tensors[i];
        const char *name;
        uint64_t nl;
        uint32_t nd, type;
        if (!read_str(&c, &name, &nl, "tensor name") || !read_u32(&c, &nd, "tensor dims")) return fail_free(g, err->code);
        memcpy(str_at, name, nl);
        str_at[nl] = 0;
        t->name = str_at;
        str_at += nl + 1;
        if (nd == 0 || nd > 4)
            return fail_free(g, loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" has %u dimensions (1..4)", path, t->name, nd));
        t->n_dims = (int)nd;
        uint64_t n_elems = 1;
        for (uint32_t d = 0; d < nd; d++) {
            if (!read_u64(&c, &t->ne[d], t->name)) return fail_free(g, err->code);
            if (t->ne[d] > (1ull << 40) || __builtin_mul_overflow(n_elems, t->ne[d], &n_elems))
                return fail_free(g, loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" is implausibly large", path, t->name));
        }
        for (uint32_t d = nd; d < 4; d++) t->ne[d] = 1;
        if (!read_u32(&c, &type, t->name) || !read_u64(&c, &t->offset, t->name)) return fail_free(g, err->code);
        t->type = (ggml_type)type;
        uint64_t be, bb;
        if (!ggml_type_block(t->type, &be, &bb))
            return fail_free(g, loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" has unknown type %u", path, t->name, type));
        if (t->ne[0] % be)
            return fail_free(g, loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\": row of %llu is not a multiple of the %s block (%llu)",
                                          path, t->name, (unsigned long long)t->ne[0], ggml_type_name(t->type), (unsigned long long)be));
        if (__builtin_mul_overflow(n_elems / be, bb, &t->n_bytes))
            return fail_free(g, loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" is implausibly large", path, t->name));
        if (t->offset % g->alignment)
            return fail_free(g, loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" offset %llu is not aligned to %llu", path, t->name,
                                          (unsigned long long)t->offset, (unsigned long long)g->alignment));
    }
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
        for (uint64_t k = 0; k < i; k++) {
            if (strcmp(g->tensors[k].name, t->name) == 0)
                return fail_free(g, loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" appears twice", path, t->name));
            const gguf_tensor *o = &g->tensors[k];
            if (t->n_bytes && o->n_bytes && t->offset < o->offset + o->n_bytes && o->offset < t->offset + t->n_bytes)
                return fail_free(g, loam_fail(err, LOAM_E_FORMAT, "%s: tensors \"%s\" and \"%s\" overlap", path, o->name, t->name));
        }
    }
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

void gguf_close(gguf_file *g) {
    free(g->kv);
    free(g->tensors);
    free(g->strings);
    loam_mapfile_close(&g->map);
    memset(g, 0, sizeof *g);
}

const gguf_kv *gguf_find(const gguf_file *g, const char *key) {
    for (int64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return &g->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name) {
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
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
