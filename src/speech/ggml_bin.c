/* whisper.cpp's model files (ggml-*.bin, magic "ggml"): a header of eleven
 * int32 hyperparameters, the mel filter bank, the byte vocabulary, then
 * tensors until the end (n_dims, name length, ggml type, ne[] innermost
 * first, the name, the data, with no alignment). Every count and size is
 * checked against the bytes left before it is used; the tensor data is
 * copied into one 64-byte-aligned arena (the file has none), so the kernels
 * see aligned rows. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mapfile.h"
#include "core/sys.h"
#include "formats/gguf.h"
#include "speech/whisper.h"

#define BIN_MAGIC 0x67676d6cu
#define BIN_MAX_TENSORS 4096

typedef struct bin_file {
    loam_tensor *tensors;
    char **names;
    int n;
    uint8_t *arena;
    /* the vocabulary, until whisper_bin_vocab takes it */
    char **vocab;
    uint32_t *vocab_len;
    int n_vocab;
} bin_file;

typedef struct reader {
    const uint8_t *p;
    uint64_t left, size;
    const char *path;
    loam_error *err;
} reader;

static loam_status truncated(reader *r, const char *what) {
    return loam_fail(r->err, LOAM_E_FORMAT, "%s: truncated at byte %llu (reading %s)", r->path,
                     (unsigned long long)(r->size - r->left), what);
}

static loam_status take(reader *r, void *dst, uint64_t n, const char *what) {
    if (n > r->left) return truncated(r, what);
    if (dst) memcpy(dst, r->p, (size_t)n);
    r->p += n, r->left -= n;
    return LOAM_OK;
}

static loam_status read_i32(reader *r, int32_t *v, const char *what) { return take(r, v, 4, what); }

static loam_status read_header(loam_whisper *w, reader *r) {
    uint32_t magic = 0;
    loam_status st = take(r, &magic, 4, "the magic");
    if (st) return st;
    if (magic != BIN_MAGIC) return loam_fail(r->err, LOAM_E_FORMAT, "%s: not a whisper.cpp model file (bad magic)", r->path);
    int32_t h[11];
    if ((st = take(r, h, sizeof h, "the hyperparameters"))) return st;
    whisper_hparams *hp = &w->hp;
    hp->n_vocab = h[0], hp->n_audio_ctx = h[1], hp->d_model = h[2], hp->n_enc_heads = h[3], hp->n_enc_layers = h[4];
    hp->n_text_ctx = h[5], hp->n_dec_heads = h[7], hp->n_dec_layers = h[8], hp->n_mels = h[9];
    if (h[6] != h[2]) return loam_fail(r->err, LOAM_E_FORMAT, "%s: n_text_state %d differs from n_audio_state %d", r->path, h[6], h[2]);
    if (h[2] < 1 || h[2] > 8192) return loam_fail(r->err, LOAM_E_FORMAT, "%s: n_audio_state %d", r->path, h[2]);
    hp->n_enc_ff = hp->n_dec_ff = 4 * hp->d_model;
    /* the mel filters: loam computes its own (the same slaney bank) */
    int32_t n_mel = 0, n_fft = 0;
    if ((st = read_i32(r, &n_mel, "the mel filters")) || (st = read_i32(r, &n_fft, "the mel filters"))) return st;
    if (n_mel < 0 || n_fft < 0 || (uint64_t)n_mel * (uint64_t)n_fft * 4 > r->left) return truncated(r, "the mel filters");
    return take(r, NULL, (uint64_t)n_mel * (uint64_t)n_fft * 4, "the mel filters");
}

static loam_status read_vocab(bin_file *b, reader *r) {
    int32_t n = 0;
    loam_status st = read_i32(r, &n, "the vocabulary size");
    if (st) return st;
    if (n < 0 || (uint64_t)n * 4 > r->left) return truncated(r, "the vocabulary");
    b->vocab = calloc((size_t)n + 1, sizeof *b->vocab);
    b->vocab_len = calloc((size_t)n + 1, sizeof *b->vocab_len);
    if (!b->vocab || !b->vocab_len) return loam_fail(r->err, LOAM_E_NOMEM, "out of memory");
    for (int32_t i = 0; i < n; i++) {
        uint32_t len = 0;
        if ((st = take(r, &len, 4, "a vocabulary entry"))) return st;
        if (len > r->left || len > 1024) return truncated(r, "a vocabulary entry");
        if (!(b->vocab[i] = malloc(len + 1))) return loam_fail(r->err, LOAM_E_NOMEM, "out of memory");
        take(r, b->vocab[i], len, "a vocabulary entry");
        b->vocab[i][len] = 0;
        b->vocab_len[i] = len;
        b->n_vocab = i + 1;
    }
    return LOAM_OK;
}

/* One tensor's header; its data's offset in the file and size. */
static loam_status read_tensor(bin_file *b, reader *r, uint64_t *offset, uint64_t *bytes) {
    int32_t n_dims = 0, name_len = 0, ttype = 0;
    loam_status st;
    if ((st = read_i32(r, &n_dims, "a tensor header")) || (st = read_i32(r, &name_len, "a tensor header")) ||
        (st = read_i32(r, &ttype, "a tensor header")))
        return st;
    if (n_dims < 1 || n_dims > 4 || name_len < 1 || name_len > 255)
        return loam_fail(r->err, LOAM_E_FORMAT, "%s: tensor %d: %d dims, name of %d bytes", r->path, b->n, n_dims, name_len);
    int32_t ne[4] = {1, 1, 1, 1};
    if ((st = take(r, ne, 4 * (uint64_t)n_dims, "a tensor shape"))) return st;
    char *name = calloc(1, (size_t)name_len + 1);
    if (!name) return loam_fail(r->err, LOAM_E_NOMEM, "out of memory");
    b->names[b->n] = name;
    if ((st = take(r, name, (uint64_t)name_len, "a tensor name"))) return st;
    int lt = gguf_loam_type((ggml_type)ttype);
    uint64_t be = 0, bb = 0;
    if (lt < 0 || !ggml_type_block((ggml_type)ttype, &be, &bb))
        return loam_fail(r->err, LOAM_E_UNSUPPORTED, "%s: tensor \"%s\" has ggml type %d, which loam cannot read", r->path,
                         name, ttype);
    uint64_t count = 1;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] < 1 || ne[d] > 1 << 24) return loam_fail(r->err, LOAM_E_FORMAT, "%s: tensor \"%s\": dimension %d", r->path, name, ne[d]);
        count *= (uint64_t)ne[d];
        if (count > (1ull << 36)) return loam_fail(r->err, LOAM_E_FORMAT, "%s: tensor \"%s\" is too large", r->path, name);
    }
    if (ne[0] % (int64_t)be) return loam_fail(r->err, LOAM_E_FORMAT, "%s: tensor \"%s\": rows are not whole blocks", r->path, name);
    *bytes = count / be * bb;
    *offset = r->size - r->left;
    if ((st = take(r, NULL, *bytes, "tensor data"))) return st;
    loam_tensor *t = &b->tensors[b->n];
    *t = (loam_tensor){.name = name, .type = (loam_type)lt, .n_dims = n_dims, .n_bytes = *bytes};
    for (int d = 0; d < n_dims; d++) t->shape[d] = ne[n_dims - 1 - d];
    /* whisper.cpp writes conv biases as [n, 1]: seen as the vector they are */
    b->n++;
    return LOAM_OK;
}

static uint64_t align64(uint64_t x) { return (x + 63) & ~(uint64_t)63; }

loam_status whisper_load_bin(loam_whisper *w, const char *path, loam_error *err) {
    loam_mapfile map = {0};
    loam_status st = loam_mapfile_open(&map, path, err);
    if (st) return st;
    st = whisper_parse_bin(w, map.data, map.size, 1, path, err);
    loam_mapfile_close(&map);
    return st;
}

loam_status whisper_parse_bin(loam_whisper *w, const uint8_t *data, uint64_t size, int mapped, const char *path,
                              loam_error *err) {
    loam_status st = LOAM_OK;
    bin_file *b = calloc(1, sizeof *b);
    uint64_t *off = calloc(BIN_MAX_TENSORS, sizeof *off), *len = calloc(BIN_MAX_TENSORS, sizeof *len);
    if (b) {
        b->tensors = calloc(BIN_MAX_TENSORS, sizeof *b->tensors);
        b->names = calloc(BIN_MAX_TENSORS, sizeof *b->names);
    }
    w->bin = b;
    if (!b || !off || !len || !b->tensors || !b->names) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    reader r = {data, size, size, path, err};
    if (!st) st = read_header(w, &r);
    if (!st) st = read_vocab(b, &r);
    while (!st && r.left > 0) {
        if (b->n == BIN_MAX_TENSORS) st = loam_fail(err, LOAM_E_FORMAT, "%s: more than %d tensors", path, BIN_MAX_TENSORS);
        else st = read_tensor(b, &r, &off[b->n], &len[b->n]);
    }
    uint64_t total = 0;
    for (int i = 0; !st && i < b->n; i++) total += align64(len[i]);
    if (!st && total > size + 64ull * (uint64_t)b->n) st = loam_fail(err, LOAM_E_FORMAT, "%s: tensor sizes exceed the file", path);
    if (!st && !(b->arena = loam_alloc_huge(total ? total : 64))) st = loam_fail(err, LOAM_E_NOMEM, "%s: out of memory", path);
    uint64_t at = 0;
    for (int i = 0; !st && i < b->n; i++) {
        memcpy(b->arena + at, data + off[i], (size_t)len[i]);
        /* the mapping's pages are never read again: given back as they are
         * copied, the file is not resident twice (peak = one copy) */
        if (mapped) loam_release_pages(data + off[i], len[i]);
        b->tensors[i].data = b->arena + at;
        b->tensors[i].file = w->path ? w->path : path;
        at += align64(len[i]);
    }
    free(off), free(len);
    return st;
}

const loam_tensor *whisper_bin_find(const void *bin, const char *name) {
    const bin_file *b = bin;
    for (int i = 0; i < b->n; i++)
        if (!strcmp(b->tensors[i].name, name)) return &b->tensors[i];
    return NULL;
}

/* The byte tokens from the file; the special tokens are named as
 * whisper.cpp names them (text output leaves them out). */
loam_status whisper_bin_vocab(loam_whisper *w, loam_error *err) {
    bin_file *b = w->bin;
    if (b->n_vocab > w->hp.n_vocab)
        return loam_fail(err, LOAM_E_FORMAT, "%s: %d vocabulary entries for %d tokens", w->path, b->n_vocab, w->hp.n_vocab);
    w->vocab = b->vocab, w->vocab_len = b->vocab_len, w->n_vocab_bytes = b->n_vocab;
    b->vocab = NULL, b->vocab_len = NULL, b->n_vocab = 0;
    return LOAM_OK;
}

void whisper_bin_free(void *bin) {
    bin_file *b = bin;
    if (!b) return;
    for (int i = 0; b->names && i < BIN_MAX_TENSORS; i++) free(b->names[i]);
    for (int i = 0; b->vocab && i < b->n_vocab; i++) free(b->vocab[i]);
    free(b->vocab), free(b->vocab_len);
    free(b->names), free(b->tensors);
    free(b->arena);
    free(b);
}
