#include "formats/gguf_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define ALIGNMENT 32

typedef struct {
    char *name;
    int n_dims;
    uint64_t ne[4];
    ggml_type type;
    uint64_t offset, n_bytes;
} w_tensor;

struct gguf_writer {
    unsigned char *meta; /* encoded key/value pairs */
    size_t meta_n, meta_cap;
    uint64_t n_kv;
    w_tensor *tensors;
    int n_tensors, cap_tensors;
    FILE *f;
    char *path;
    int next; /* next tensor whose data is due */
    uint64_t data_at;
    int failed;
};

gguf_writer *gguf_writer_new(void) { return calloc(1, sizeof(gguf_writer)); }

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    for (int i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->tensors);
    free(w->meta);
    free(w->path);
    free(w);
}

static void put(gguf_writer *w, const void *p, size_t n) {
    if (w->meta_n + n > w->meta_cap) {
        size_t cap = w->meta_cap ? w->meta_cap : 4096;
        while (cap < w->meta_n + n) cap *= 2;
        unsigned char *g = realloc(w->meta, cap);
        if (!g) {
            w->failed = 1;
            return;
        }
        w->meta = g;
        w->meta_cap = cap;
    }
    memcpy(w->meta + w->meta_n, p, n);
    w->meta_n += n;
}

static void put_u32(gguf_writer *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(gguf_writer *w, uint64_t v) { put(w, &v, 8); }
static void put_string(gguf_writer *w, const char *s, size_t n) {
    put_u64(w, n);
    put(w, s, n);
}

static void key(gguf_writer *w, const char *k, gguf_type t) {
    put_string(w, k, strlen(k));
    put_u32(w, t);
    w->n_kv++;
}

void gguf_w_raw(gguf_writer *w, const char *k, gguf_type t, const void *value, size_t n) {
    key(w, k, t);
    put(w, value, n);
}
void gguf_w_str(gguf_writer *w, const char *k, const char *v) {
    key(w, k, GGUF_STRING);
    put_string(w, v, strlen(v));
}
void gguf_w_u32(gguf_writer *w, const char *k, uint32_t v) {
    key(w, k, GGUF_U32);
    put_u32(w, v);
}
void gguf_w_f32(gguf_writer *w, const char *k, float v) {
    key(w, k, GGUF_F32);
    put(w, &v, 4);
}
void gguf_w_arr_str(gguf_writer *w, const char *k, const char *const *v, uint64_t n) {
    key(w, k, GGUF_ARRAY);
    put_u32(w, GGUF_STRING);
    put_u64(w, n);
    for (uint64_t i = 0; i < n; i++) put_string(w, v[i], strlen(v[i]));
}
void gguf_w_arr_f32(gguf_writer *w, const char *k, const float *v, uint64_t n) {
    key(w, k, GGUF_ARRAY);
    put_u32(w, GGUF_F32);
    put_u64(w, n);
    put(w, v, n * 4);
}
void gguf_w_arr_i32(gguf_writer *w, const char *k, const int32_t *v, uint64_t n) {
    key(w, k, GGUF_ARRAY);
    put_u32(w, GGUF_I32);
    put_u64(w, n);
    put(w, v, n * 4);
}

int gguf_w_tensor(gguf_writer *w, const char *name, int n_dims, const uint64_t *ne, ggml_type type) {
    if (w->n_tensors == w->cap_tensors) {
        int cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        w_tensor *g = realloc(w->tensors, (size_t)cap * sizeof *g);
        if (!g) {
            w->failed = 1;
            return -1;
        }
        w->tensors = g;
        w->cap_tensors = cap;
    }
    w_tensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->n_dims = n_dims;
    uint64_t n = 1, be, bb;
    for (int d = 0; d < n_dims; d++) t->ne[d] = ne[d], n *= ne[d];
    t->type = type;
    ggml_type_block(type, &be, &bb);
    t->n_bytes = n / be * bb;
    uint64_t at = 0;
    if (w->n_tensors > 0) {
        const w_tensor *p = &w->tensors[w->n_tensors - 1];
        at = (p->offset + p->n_bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }
    t->offset = at;
    if (!t->name) w->failed = 1;
    return w->n_tensors++;
}

static int pad_to(FILE *f, uint64_t at, uint64_t *now) {
    static const char zeros[ALIGNMENT] = {0};
    uint64_t target = (at + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    if (target > at && fwrite(zeros, 1, (size_t)(target - at), f) != target - at) return 0;
    *now = target;
    return 1;
}

loam_status gguf_w_begin(gguf_writer *w, const char *path, loam_error *err) {
    if (w->failed) return loam_fail(err, LOAM_E_NOMEM, "%s: out of memory", path);
    w->f = fopen(path, "wb");
    if (!w->f) return loam_fail(err, LOAM_E_IO, "%s: cannot create: %s", path, strerror(errno));
    w->path = strdup(path);
    uint32_t version = 3;
    uint64_t nt = (uint64_t)w->n_tensors;
    int ok = fwrite("GGUF", 1, 4, w->f) == 4 && fwrite(&version, 4, 1, w->f) == 1 && fwrite(&nt, 8, 1, w->f) == 1 &&
             fwrite(&w->n_kv, 8, 1, w->f) == 1 && fwrite(w->meta, 1, w->meta_n, w->f) == w->meta_n;
    uint64_t at = 24 + w->meta_n;
    for (int i = 0; ok && i < w->n_tensors; i++) {
        const w_tensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name);
        uint32_t nd = (uint32_t)t->n_dims, type = t->type;
        ok = fwrite(&len, 8, 1, w->f) == 1 && fwrite(t->name, 1, len, w->f) == len && fwrite(&nd, 4, 1, w->f) == 1 &&
             fwrite(t->ne, 8, nd, w->f) == nd && fwrite(&type, 4, 1, w->f) == 1 && fwrite(&t->offset, 8, 1, w->f) == 1;
        at += 8 + len + 4 + 8ull * nd + 4 + 8;
    }
    ok = ok && pad_to(w->f, at, &at);
    w->data_at = 0;
    return ok ? LOAM_OK : loam_fail(err, LOAM_E_IO, "%s: write failed", path);
}

loam_status gguf_w_data(gguf_writer *w, int index, const void *data, size_t n, loam_error *err) {
    if (index != w->next || index >= w->n_tensors || n != w->tensors[index].n_bytes)
        return loam_fail(err, LOAM_E_ARG, "%s: tensor data out of order or of the wrong size", w->path);
    const w_tensor *t = &w->tensors[index];
    uint64_t now = w->data_at;
    static const char zeros[ALIGNMENT] = {0};
    int ok = now <= t->offset && (t->offset == now || fwrite(zeros, 1, (size_t)(t->offset - now), w->f) == t->offset - now) &&
             (n == 0 || fwrite(data, 1, n, w->f) == n);
    w->data_at = t->offset + n;
    w->next++;
    return ok ? LOAM_OK : loam_fail(err, LOAM_E_IO, "%s: write failed", w->path);
}

loam_status gguf_w_end(gguf_writer *w, loam_error *err) {
    int ok = w->next == w->n_tensors;
    if (fclose(w->f) != 0) ok = 0;
    w->f = NULL;
    return ok ? LOAM_OK : loam_fail(err, LOAM_E_IO, "%s: incomplete or failed write", w->path);
}
