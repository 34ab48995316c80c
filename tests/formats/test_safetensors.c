/* safetensors: reading (zero-copy, sharded), malformed headers, writing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mapfile.h"
#include "test.h"


/* Writes an 8-byte length, the header text and `data_len` bytes of data. */
static const char *write_st(const char *header, size_t data_len) {
    static char path[600];
    snprintf(path, sizeof path, "%s/x.safetensors", temp_dir());
    FILE *f = fopen(path, "wb");
    uint64_t n = strlen(header);
    for (int i = 0; i < 8; i++) fputc((int)((n >> (8 * i)) & 0xff), f);
    fputs(header, f);
    for (size_t i = 0; i < data_len; i++) fputc((int)i & 0xff, f);
    fclose(f);
    return path;
}

/* Expects the file to be refused with a message containing `needle`. */
static int refused(const char *header, size_t data_len, const char *needle, char *msg, size_t len) {
    loam_st_file f;
    loam_error err = {0};
    const char *path = write_st(header, data_len);
    loam_status st = loam_st_open(&f, path, &err);
    snprintf(msg, len, "%s", err.message);
    if (st == LOAM_OK) {
        loam_st_close(&f);
        snprintf(msg, len, "accepted");
        return 0;
    }
    return strstr(err.message, needle) != NULL && strstr(err.message, path) != NULL;
}

static void test_reads_fixture_shards(void) {
    loam_st_file f;
    loam_error err;
    CHECK_OK(loam_st_open(&f, fixture("llm/llama31/model-00001-of-00002.safetensors"), &err), &err);
    const loam_tensor *t = loam_st_find(&f, "model.embed_tokens.weight");
    int ok = t && t->type == LOAM_T_BF16 && t->n_dims == 2 && t->shape[0] == 512 && t->shape[1] == 128 &&
             t->n_bytes == 512 * 128 * 2;
    loam_st_close(&f);
    CHECK(ok, "embed_tokens not read as BF16 [512, 128]");
}

static void test_valid_small_file(void) {
    loam_st_file f;
    loam_error err;
    const char *path = write_st("{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                                "\"b\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[16,24]},"
                                "\"e\":{\"dtype\":\"BF16\",\"shape\":[0,4],\"data_offsets\":[24,24]}}", 24);
    CHECK_OK(loam_st_open(&f, path, &err), &err);
    const loam_tensor *a = loam_st_find(&f, "a"), *b = loam_st_find(&f, "b"), *e = loam_st_find(&f, "e");
    int ok = a && b && e && a->n_bytes == 16 && b->n_dims == 0 && b->n_bytes == 8 && e->n_bytes == 0 && f.n_tensors == 3;
    loam_st_close(&f);
    CHECK(ok, "tensors not read as written");
}

static void test_bad_headers(void) {
    char msg[1100];
    struct {
        const char *header;
        size_t data;
        const char *needle;
    } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "past the end"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16, "needs 12 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 16, "backwards"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]", 16, "not valid JSON"},
        {"[1,2,3]", 0, "not a JSON object"},
        {"{\"a\":{\"dtype\":\"Q9\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, "unknown dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", 16, "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4.5],\"data_offsets\":[0,16]}}", 16, "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,16]}}", 16, "overflow"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}", 16, "[begin, end]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 32, "twice"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,1e300]}}", 16, "data_offsets"},
        {"{\"a\":{\"shape\":[4],\"data_offsets\":[0,16]}}", 16, "needs \"dtype\""},
        {"{\"__metadata__\":[1],\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, "__metadata__"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK(refused(cases[i].header, cases[i].data, cases[i].needle, msg, sizeof msg),
              "case %zu: expected an error with \"%s\" and the path, got: %s", i, cases[i].needle, msg);
}

static void test_header_length_past_file(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/short.safetensors", temp_dir());
    FILE *f = fopen(path, "wb");
    unsigned char len[8] = {0x00, 0x10, 0, 0, 0, 0, 0, 0}; /* 4096-byte header in a 20-byte file */
    fwrite(len, 1, 8, f);
    fputs("{\"a\":1}xxxxx", f);
    fclose(f);
    loam_st_file st;
    loam_error err = {0};
    CHECK(loam_st_open(&st, path, &err) == LOAM_E_FORMAT && strstr(err.message, "past the end"), "got: %s", err.message);
    snprintf(path, sizeof path, "%s/tiny.safetensors", temp_dir());
    f = fopen(path, "wb");
    fputs("abc", f);
    fclose(f);
    CHECK(loam_st_open(&st, path, &err) == LOAM_E_FORMAT && strstr(err.message, "too short"), "got: %s", err.message);
    unsigned char huge[8] = {0, 0, 0, 0, 0, 0, 0, 0x80};
    snprintf(path, sizeof path, "%s/huge.safetensors", temp_dir());
    f = fopen(path, "wb");
    fwrite(huge, 1, 8, f);
    fclose(f);
    CHECK(loam_st_open(&st, path, &err) == LOAM_E_FORMAT && strstr(err.message, "implausible"), "got: %s", err.message);
}

static void test_writer_round_trip(void) {
    float a[6] = {1, 2, 3, 4, 5, 6};
    int32_t b[3] = {7, 8, 9};
    loam_named_tensor t[2] = {{"a", LOAM_DTYPE_F32, 2, {2, 3}, a}, {"b", LOAM_DTYPE_I32, 1, {3}, b}};
    char path[700];
    snprintf(path, sizeof path, "%s/w.safetensors", temp_dir());
    loam_error err;
    CHECK_OK(loam_write_safetensors(path, t, 2, &err), &err);
    loam_st_file f;
    CHECK_OK(loam_st_open(&f, path, &err), &err);
    const loam_tensor *ra = loam_st_find(&f, "a"), *rb = loam_st_find(&f, "b");
    int ok = ra && rb && ra->shape[1] == 3 && memcmp(ra->data, a, sizeof a) == 0 && memcmp(rb->data, b, sizeof b) == 0;
    loam_st_close(&f);
    CHECK(ok, "written tensors not read back");
}

void register_safetensors_tests(void) {
    test_add("safetensors: reads a fixture shard (bf16, zero-copy)", test_reads_fixture_shards);
    test_add("safetensors: metadata, scalars and empty tensors", test_valid_small_file);
    test_add("safetensors: malformed headers give clear errors", test_bad_headers);
    test_add("safetensors: header length past the file / too short / huge", test_header_length_past_file);
    test_add("safetensors: writer round trip", test_writer_round_trip);
}
