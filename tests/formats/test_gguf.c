/* The GGUF container: valid files read, broken ones refused cleanly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/mapfile.h"
#include "formats/gguf.h"
#include "kernels/kernels.h"
#include "test.h"

/* ---- malformed files */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u32(bytes *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(bytes *b, uint64_t v) { put(b, &v, 8); }
static void put_str(bytes *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

/* A valid small GGUF: two keys, one F32 tensor [4] at offset 0. */
static bytes valid_gguf(void) {
    bytes b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, 1); /* tensors */
    put_u64(&b, 2); /* keys */
    put_str(&b, "general.architecture");
    put_u32(&b, GGUF_STRING);
    put_str(&b, "llama");
    put_str(&b, "general.alignment");
    put_u32(&b, GGUF_U32);
    put_u32(&b, 32);
    put_str(&b, "t");
    put_u32(&b, 1);
    put_u64(&b, 4);
    put_u32(&b, GGML_F32);
    put_u64(&b, 0);
    while (b.n % 32) put(&b, "", 1);
    float data[4] = {1, 2, 3, 4};
    put(&b, data, sizeof data);
    return b;
}

static int parse_fails(bytes b, const char *needle, char *msg, size_t len) {
    gguf_file g;
    loam_error err = {0};
    loam_status st = gguf_parse(&g, b.p, b.n, "test.gguf", &err);
    snprintf(msg, len, "%s", st == LOAM_OK ? "accepted" : err.message);
    if (st == LOAM_OK) {
        gguf_release(&g);
        return 0;
    }
    return strstr(err.message, needle) != NULL;
}

static void test_gguf_valid_and_malformed(void) {
    char msg[1100];
    bytes b = valid_gguf();
    gguf_file g;
    loam_error err;
    CHECK_OK(gguf_parse(&g, b.p, b.n, "ok.gguf", &err), &err);
    const gguf_tensor *t = gguf_find_tensor(&g, "t");
    int ok = t && t->ne[0] == 4 && ((const float *)t->data)[3] == 4.0f && g.alignment == 32;
    gguf_release(&g);
    CHECK(ok, "valid file not read back");

    bytes c = b;
    c.n = b.n - 8; /* truncated data */
    CHECK(parse_fails(c, "runs past the end", msg, sizeof msg), "truncated: %s", msg);
    c.n = 30; /* truncated in the metadata */
    CHECK(parse_fails(c, "past the end", msg, sizeof msg), "truncated header: %s", msg);
    unsigned char save[8];
    memcpy(save, b.p + 8, 8);
    uint64_t huge = 1ull << 40;
    memcpy(b.p + 8, &huge, 8); /* tensor count */
    CHECK(parse_fails(b, "implausible counts", msg, sizeof msg), "huge count: %s", msg);
    memcpy(b.p + 8, save, 8);
    b.p[0] = 'X';
    CHECK(parse_fails(b, "not a GGUF file", msg, sizeof msg), "magic: %s", msg);
    b.p[0] = 'G';
    uint32_t v9 = 9;
    memcpy(b.p + 4, &v9, 4);
    CHECK(parse_fails(b, "GGUF version 9", msg, sizeof msg), "version: %s", msg);
    uint32_t v3 = 3;
    memcpy(b.p + 4, &v3, 4);
    free(b.p);

    /* a string length past the end */
    bytes s = {0};
    put(&s, "GGUF", 4), put_u32(&s, 3), put_u64(&s, 0), put_u64(&s, 1);
    put_u64(&s, 1000000), put(&s, "abc", 3);
    CHECK(parse_fails(s, "past the end", msg, sizeof msg), "string length: %s", msg);
    free(s.p);
    /* unknown tensor type, bad alignment, too many dims, array of arrays */
    const struct {
        uint32_t type, dims;
        uint64_t offset, alignment;
        const char *needle;
    } cases[] = {
        {77, 1, 0, 32, "an unknown ggml type, not a type of ggml's"},
        {31, 1, 0, 32, "Q4_0_4_4 (ggml type 31), not a type of ggml's"}, /* removed from ggml */
        {GGML_F32, 1, 4, 32, "not aligned"},
        {GGML_F32, 5, 0, 32, "5 dimensions"},
        {GGML_F32, 1, 0, 24, "power of two"},
        {GGML_Q4_0, 1, 0, 32, "not a multiple"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bytes x = {0};
        put(&x, "GGUF", 4), put_u32(&x, 3), put_u64(&x, 1), put_u64(&x, 1);
        put_str(&x, "general.alignment"), put_u32(&x, GGUF_U64), put_u64(&x, cases[i].alignment);
        put_str(&x, "w"), put_u32(&x, cases[i].dims);
        for (uint32_t d = 0; d < cases[i].dims; d++) put_u64(&x, 4);
        put_u32(&x, cases[i].type), put_u64(&x, cases[i].offset);
        for (int k = 0; k < 256; k++) put(&x, "", 1);
        CHECK(parse_fails(x, cases[i].needle, msg, sizeof msg), "case %zu: %s", i, msg);
        free(x.p);
    }
    bytes a = {0};
    put(&a, "GGUF", 4), put_u32(&a, 3), put_u64(&a, 0), put_u64(&a, 1);
    put_str(&a, "nested"), put_u32(&a, GGUF_ARRAY), put_u32(&a, GGUF_ARRAY), put_u64(&a, 1);
    CHECK(parse_fails(a, "array of arrays", msg, sizeof msg), "nested: %s", msg);
    free(a.p);
    bytes h = {0}; /* an array claiming more strings than the file holds */
    put(&h, "GGUF", 4), put_u32(&h, 3), put_u64(&h, 0), put_u64(&h, 1);
    put_str(&h, "tokenizer.ggml.tokens"), put_u32(&h, GGUF_ARRAY), put_u32(&h, GGUF_STRING), put_u64(&h, 1ull << 50);
    CHECK(parse_fails(h, "more than the file holds", msg, sizeof msg), "huge array: %s", msg);
    free(h.p);
}

/* A truncated real model through the whole loader and the CLI. */
static void test_truncated_gguf_model(void) {
    char path[700], cmd[1600], *out = NULL;
    snprintf(path, sizeof path, "%s/model.gguf", temp_dir());
    CHECK(copy_file(fixture("gguf/llama31/model-bf16.gguf"), path), "copy failed");
    CHECK(truncate(path, 600000) == 0, "truncate failed");
    snprintf(cmd, sizeof cmd, "%s run %s --prompt-ids 1,2 -n 2 2>&1", LOAM_BIN, path);
    int rc = run_capture(cmd, &out);
    int ok = rc == 1 && out && strstr(out, "model.gguf") && strstr(out, "past the end");
    CHECK(ok, "exit %d: %s", rc, out ? out : "");
    free(out);
}

void register_gguf_tests(void) {
    test_add("gguf: valid and malformed files (truncated, counts, magic, types, alignment)", test_gguf_valid_and_malformed);
    test_add("gguf: a truncated model file is refused by loam run", test_truncated_gguf_model);
}
