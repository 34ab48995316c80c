/* GGUF: every family's converted file matches the Hugging Face golden of
 * its source case; quantized files dequantize bit-exactly and compute in
 * float on the dequantized weights; broken files are refused cleanly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mapfile.h"
#include "formats/gguf.h"
#include "kernels/kernels.h"
#include "test.h"

#define GGUF_CASE(FN, CASE, FILE)                                                       \
    static void FN(void) {                                                             \
        char model[1024];                                                              \
        snprintf(model, sizeof model, "%s", fixture("gguf/" CASE "/" FILE));            \
        check_llm_case("llm/" CASE, model, LOAM_SIMD_AUTO);                             \
    }
GGUF_CASE(test_gguf_llama31, "llama31", "model-bf16.gguf")
GGUF_CASE(test_gguf_llama32_tied, "llama32_tied", "model-bf16.gguf")
GGUF_CASE(test_gguf_bloom, "bloom", "model-bf16.gguf")
GGUF_CASE(test_gguf_mpt, "mpt", "model-bf16.gguf")
GGUF_CASE(test_gguf_falcon7b, "falcon7b", "model-bf16.gguf")
GGUF_CASE(test_gguf_falcon40b, "falcon40b", "model-bf16.gguf")
GGUF_CASE(test_gguf_phi2, "phi2", "model-f16.gguf")
GGUF_CASE(test_gguf_gemma7b, "gemma7b", "model-bf16.gguf")
GGUF_CASE(test_gguf_gemma2b, "gemma2b", "model-bf16.gguf")
GGUF_CASE(test_gguf_stories260k, "stories260k", "model-f32.gguf")

/* ---- llama_q256: every quantized type */

static const char *q_types[] = {"f16", "Q8_0", "Q4_0", "Q4_K_M", "Q6_K", "Q5_K_M", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_M", "Q5_K_S", "IQ4_NL"};

/* Our dequantization of each dequant.* tensor equals gguf-py's, bit for bit. */
static void test_dequant_bit_exact(void) {
    cJSON *meta = NULL;
    char path[1200];
    snprintf(path, sizeof path, "%s", fixture("gguf/llama_q256/golden.json"));
    char *text = NULL;
    loam_error err;
    CHECK_OK(loam_read_file(path, 1 << 24, &text, NULL, &err), &err);
    meta = cJSON_Parse(text);
    free(text);
    int checked = 0;
    for (size_t f = 0; f < sizeof q_types / sizeof *q_types; f++) {
        const cJSON *file = cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "files"), q_types[f]);
        char gpath[1200];
        snprintf(gpath, sizeof gpath, "%s/%s", fixture("gguf/llama_q256"), cJSON_GetObjectItem(file, "file")->valuestring);
        gguf_file g;
        if (gguf_open(&g, gpath, &err) != LOAM_OK) {
            cJSON_Delete(meta);
            CHECK(0, "%s", err.message);
        }
        const cJSON *dt;
        cJSON_ArrayForEach(dt, cJSON_GetObjectItem(file, "dequant_tensors")) {
            const char *golden_name = cJSON_GetObjectItem(file, "golden")->valuestring;
            const cJSON *stored = cJSON_GetObjectItem(dt, "stored_in");
            if (cJSON_IsString(stored)) golden_name = stored->valuestring;
            char spath[1200], tname[300];
            snprintf(spath, sizeof spath, "%s/%s", fixture("gguf/llama_q256"), golden_name);
            snprintf(tname, sizeof tname, "dequant.%s", dt->string);
            loam_st_file st;
            const loam_tensor *want = NULL;
            const gguf_tensor *t = gguf_find_tensor(&g, dt->string);
            int ok = loam_st_open(&st, spath, &err) == LOAM_OK && (want = loam_st_find(&st, tname)) && t;
            int64_t rows = t ? (int64_t)t->ne[1] : 0, cols = t ? (int64_t)t->ne[0] : 0;
            ok = ok && want->shape[0] == rows && want->shape[1] == cols;
            float *row = malloc((size_t)(cols ? cols : 1) * sizeof(float));
            int type = -1;
            /* the ggml type as loam's */
            switch (t ? t->type : 0) {
            case GGML_F16: type = LOAM_T_F16; break;
            case GGML_Q8_0: type = LOAM_T_Q8_0; break;
            case GGML_Q4_0: type = LOAM_T_Q4_0; break;
            case GGML_Q4_1: type = LOAM_T_Q4_1; break;
            case GGML_Q5_0: type = LOAM_T_Q5_0; break;
            case GGML_Q5_1: type = LOAM_T_Q5_1; break;
            case GGML_Q2_K: type = LOAM_T_Q2_K; break;
            case GGML_Q3_K: type = LOAM_T_Q3_K; break;
            case GGML_Q4_K: type = LOAM_T_Q4_K; break;
            case GGML_Q5_K: type = LOAM_T_Q5_K; break;
            case GGML_Q6_K: type = LOAM_T_Q6_K; break;
            case GGML_IQ4_NL: type = LOAM_T_IQ4_NL; break;
            default: ok = 0;
            }
            int64_t bad_row = -1;
            for (int64_t r = 0; ok && r < rows; r++) {
                loam_row_to_f32(t->data, (loam_type)type, r, (int)cols, row);
                if (memcmp(row, (const float *)want->data + r * cols, (size_t)cols * sizeof(float)) != 0) bad_row = r, ok = 0;
            }
            free(row);
            if (want) loam_st_close(&st);
            if (!ok) {
                gguf_close(&g);
                cJSON_Delete(meta);
                CHECK(0, "%s %s: dequantization differs (row %lld) or tensor missing", q_types[f], dt->string, (long long)bad_row);
            }
            checked++;
        }
        gguf_close(&g);
    }
    cJSON_Delete(meta);
    CHECK(checked >= 30, "only %d dequantized tensors checked", checked);
}

static double kl_row(const float *p_logits, const float *q_logits, int n) {
    double mp = -INFINITY, mq = -INFINITY, sp = 0, sq = 0, kl = 0;
    for (int i = 0; i < n; i++) mp = fmax(mp, p_logits[i]), mq = fmax(mq, q_logits[i]);
    for (int i = 0; i < n; i++) sp += exp(p_logits[i] - mp), sq += exp(q_logits[i] - mq);
    for (int i = 0; i < n; i++) {
        double lp = p_logits[i] - mp - log(sp), lq = q_logits[i] - mq - log(sq);
        kl += exp(lp) * (lp - lq);
    }
    return kl;
}

/* Each quantized file: the exact path (float math on the dequantized
 * weights) matches dequant_f32_logits; the fast path (int8 activations) has
 * a KL against the HF float32 logits at most 1.1x llama.cpp's. */
static void run_quantized_logits(int exact) {
    char *text = NULL;
    loam_error err;
    CHECK_OK(loam_read_file(fixture("gguf/llama_q256/golden.json"), 1 << 24, &text, NULL, &err), &err);
    cJSON *meta = cJSON_Parse(text);
    free(text);
    golden hf;
    if (!golden_open(&hf, fixture("llm/llama_q256"))) {
        cJSON_Delete(meta);
        CHECK(0, "no HF golden");
    }
    const loam_tensor *ids = golden_tensor(&hf, "prompt_ids"), *hf_logits = golden_tensor(&hf, "logits");
    int T = (int)ids->shape[0], V = (int)hf_logits->shape[1];
    double tol = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "tolerance"), "dequant_f32_logits"), "max_abs")->valuedouble;
    char report[3000] = "";
    size_t at = 0;
    const char *failure = NULL;
    char why[400] = "";
    for (size_t f = 0; f < sizeof q_types / sizeof *q_types && !failure; f++) {
        const cJSON *file = cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "files"), q_types[f]);
        char mpath[1200], gpath[1200];
        snprintf(mpath, sizeof mpath, "%s/%s", fixture("gguf/llama_q256"), cJSON_GetObjectItem(file, "file")->valuestring);
        snprintf(gpath, sizeof gpath, "%s/%s", fixture("gguf/llama_q256"), cJSON_GetObjectItem(file, "golden")->valuestring);
        loam_model *m = NULL;
        loam_context *c = NULL;
        loam_st_file g;
        loam_model_params mp = loam_model_default_params();
        mp.n_threads = 2;
        mp.quant_exact = exact;
        if (loam_model_open(mpath, &mp, &m, &err) != LOAM_OK || loam_context_open(m, NULL, &c, &err) != LOAM_OK ||
            loam_st_open(&g, gpath, &err) != LOAM_OK) {
            failure = q_types[f];
            snprintf(why, sizeof why, "%.380s", err.message);
            loam_context_free(c);
            loam_model_free(m);
            break;
        }
        int32_t pos[64], seq[64] = {0};
        for (int i = 0; i < T; i++) pos[i] = i;
        loam_batch b = {T, ids->data, pos, seq, NULL};
        loam_status st = loam_decode(c, &b, &err);
        const loam_tensor *dq = loam_st_find(&g, "dequant_f32_logits");
        double worst = 0, kl = 0;
        int top1 = 0;
        for (int t = 0; st == LOAM_OK && t < T; t++) {
            const float *ours = loam_get_logits(c, t), *ref = (const float *)hf_logits->data + (size_t)t * V;
            double d = max_abs_diff(ours, (const float *)dq->data + (size_t)t * V, V);
            if (d > worst) worst = d;
            kl += kl_row(ref, ours, V) / T;
            int a = 0, b = 0;
            for (int v = 1; v < V; v++) a = ours[v] > ours[a] ? v : a, b = ref[v] > ref[b] ? v : b;
            top1 += a == b;
        }
        double llama_kl = cJSON_GetObjectItem(cJSON_GetObjectItem(file, "vs_hf_float32"), "kld_mean")->valuedouble;
        at += (size_t)snprintf(report + at, sizeof report - at, "%s%s KL %.2g (llama.cpp %.2g) top-1 %.3f", f ? ", " : "", q_types[f], kl,
                               llama_kl, (double)top1 / T);
        if (st != LOAM_OK || (exact && worst > tol)) {
            failure = q_types[f];
            snprintf(why, sizeof why, "logits differ from dequant_f32_logits by %.3g (tolerance %.3g)", worst, tol);
        } else if (!exact && kl > 1.1 * llama_kl + 1e-7) {
            failure = q_types[f];
            snprintf(why, sizeof why, "KL %.3g above 1.1 x llama.cpp's %.3g", kl, llama_kl);
        }
        loam_st_close(&g);
        loam_context_free(c);
        loam_model_free(m);
    }
    printf("    %s: %s\n", exact ? "exact" : "int8", report);
    golden_close(&hf);
    cJSON_Delete(meta);
    CHECK(!failure, "%s: %s", failure ? failure : "", why);
}

static void test_quantized_logits(void) { run_quantized_logits(1); }
static void test_quantized_kl_fast(void) { run_quantized_logits(0); }

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
        free(g.kv), free(g.tensors), free(g.strings);
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
    free(g.kv), free(g.tensors), free(g.strings);
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
        {77, 1, 0, 32, "unknown type 77"},
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

/* loam synth's shapes against the parameter counts of the published
 * models (transformers' num_parameters(), tied weights once; the FLUX
 * count is the transformer's). Llama files also hold llama.cpp's
 * rope_freqs (head_dim / 2 factors), which the estimate counts as well. */
static void test_synth_shapes(void) {
    static const struct {
        const char *like;
        int64_t published, extra;
    } cases[] = {
        {"llama-3.2-1b", 1235814400, 32},     {"llama-3.1-8b", 8030261248, 64}, {"phi-2", 2779683840, 0},
        {"bloom-560m", 559214592, 0},         {"whisper-large-v3", 1543490560, 0}, {"flux.1-dev", 11901408320, 0},
        {"flux.1-schnell", 11891178560, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t n = 0;
        uint64_t bytes = 0;
        loam_error err;
        CHECK(loam_synth_estimate(cases[i].like, "f16", &n, &bytes, &err) == LOAM_OK, "%s: %s", cases[i].like, err.message);
        CHECK(n == cases[i].published + cases[i].extra, "%s: %lld parameters, published %lld", cases[i].like, (long long)n,
              (long long)cases[i].published);
    }
    int64_t n;
    uint64_t b;
    loam_error err;
    CHECK(loam_synth_estimate("llama-9", "f16", &n, &b, &err) == LOAM_E_ARG && strstr(err.message, "llama-3.1-8b"), "unknown names list the known ones");
    CHECK(loam_synth_estimate("phi-2", "q3_x", &n, &b, &err) == LOAM_E_ARG, "unknown type refused");
}

/* A synthesized file: its header agrees with the estimate, it loads as a
 * model of the published size, and the file summary (which `loam info`
 * shows for architectures loam cannot run) reads the same. */
static void test_synth_file(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/bloom-560m-q4_0.gguf", temp_dir());
    loam_error err;
    int64_t n = 0;
    uint64_t bytes = 0;
    CHECK(loam_synth_estimate("bloom-560m", "q4_0", &n, &bytes, &err) == LOAM_OK, "%s", err.message);
    CHECK(loam_synth("bigscience/bloom-560m", "q4_0", path, NULL, NULL, &err) == LOAM_OK, "%s", err.message);
    loam_file_summary s;
    CHECK(loam_file_summarize(path, &s, &err) == LOAM_OK, "%s", err.message);
    CHECK(!strcmp(s.architecture, "bloom") && !strcmp(s.dtype, "q4_0"), "summary says %s / %s", s.architecture, s.dtype);
    CHECK(s.n_params == n && s.data_bytes == bytes, "file %lld params / %llu bytes, estimate %lld / %llu", (long long)s.n_params,
          (unsigned long long)s.data_bytes, (long long)n, (unsigned long long)bytes);
    loam_model_params mp = loam_model_default_params();
    mp.n_threads = 1;
    loam_model *m = NULL;
    CHECK(loam_model_open(path, &mp, &m, &err) == LOAM_OK, "%s", err.message);
    loam_model_info in;
    loam_model_get_info(m, &in);
    loam_model_free(m);
    remove(path);
    CHECK(in.n_params == 559214592 && in.n_vocab == 250880 && in.n_layers == 24, "loaded %lld params, vocab %d, %d layers",
          (long long)in.n_params, in.n_vocab, in.n_layers);
    CHECK(loam_file_summarize(fixture("gguf/llama_q256/model-Q4_0.gguf"), &s, &err) == LOAM_OK && !strcmp(s.architecture, "llama"),
          "summary of a llama.cpp file: %s", err.message);
}

void register_gguf_tests(void) {
    test_add("synth: shapes give the published parameter counts (Llama, Phi-2, BLOOM, Whisper, FLUX.1)", test_synth_shapes);
    test_add("synth: a written file loads and agrees with its estimate and summary", test_synth_file);
    test_add("gguf/llama31 matches the HF golden", test_gguf_llama31);
    test_add("gguf/llama32_tied matches the HF golden", test_gguf_llama32_tied);
    test_add("gguf/bloom matches the HF golden", test_gguf_bloom);
    test_add("gguf/mpt matches the HF golden", test_gguf_mpt);
    test_add("gguf/falcon7b matches the HF golden", test_gguf_falcon7b);
    test_add("gguf/falcon40b matches the HF golden", test_gguf_falcon40b);
    test_add("gguf/phi2 matches the HF golden", test_gguf_phi2);
    test_add("gguf/gemma7b matches the HF golden", test_gguf_gemma7b);
    test_add("gguf/gemma2b matches the HF golden", test_gguf_gemma2b);
    test_add("gguf/stories260k (real tokenizer.model vocab) matches the HF golden", test_gguf_stories260k);
    test_add("gguf/llama_q256: dequantization bit-exact for every block type", test_dequant_bit_exact);
    test_add("gguf/llama_q256: exact path = float logits on dequantized weights", test_quantized_logits);
    test_add("gguf/llama_q256: int8 kernels' KL <= 1.1 x llama.cpp's, every type", test_quantized_kl_fast);
    test_add("gguf: valid and malformed files (truncated, counts, magic, types, alignment)", test_gguf_valid_and_malformed);
    test_add("gguf: a truncated model file is refused by loam run", test_truncated_gguf_model);
}

/* ---- loam quantize */

static int files_equal(const char *a, const char *b) {
    char *x = NULL, *y = NULL;
    uint64_t nx = 0, ny = 0;
    int eq = loam_read_file(a, 1 << 28, &x, &nx, NULL) == LOAM_OK && loam_read_file(b, 1 << 28, &y, &ny, NULL) == LOAM_OK &&
             nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return eq;
}

/* From the HF folder and from the F16 GGUF, every type gives exactly the
 * file llama.cpp's converter and llama-quantize wrote (metadata, tensor
 * names, types, order and data). */
static void test_quantize_identical(void) {
    const char *types[][2] = {{"f16", "f16"},   {"q8_0", "Q8_0"},     {"q4_0", "Q4_0"},     {"q5_0", "Q5_0"},
                              {"q5_1", "Q5_1"}, {"q6_k", "Q6_K"},     {"q4_k_m", "Q4_K_M"}, {"q5_k_m", "Q5_K_M"},
                              {"q4_1", "Q4_1"}, {"q5_k_s", "Q5_K_S"}};
    const char *dir = temp_dir();
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        char out[700], want[1200], from_gguf[700];
        snprintf(out, sizeof out, "%s/hf-%s.gguf", dir, types[i][0]);
        snprintf(from_gguf, sizeof from_gguf, "%s/gguf-%s.gguf", dir, types[i][0]);
        snprintf(want, sizeof want, "%s/model-%s.gguf", fixture("gguf/llama_q256"), types[i][1]);
        loam_error err;
        CHECK_OK(loam_quantize(fixture("llm/llama_q256"), out, types[i][0], NULL, NULL, &err), &err);
        CHECK(files_equal(out, want), "HF -> %s differs from llama.cpp's %s", types[i][0], want);
        CHECK_OK(loam_quantize(fixture("gguf/llama_q256/model-f16.gguf"), from_gguf, types[i][0], NULL, NULL, &err), &err);
        if (i > 0) CHECK(files_equal(from_gguf, want), "F16 GGUF -> %s differs from llama-quantize's %s", types[i][0], want);
    }
}

/* llm/llama_q256 quantized to q8_0 and run: greedy ids equal to the HF
 * golden, mean KL against the HF logits below 1e-3. */
static void test_quantize_q8_0_quality(void) {
    char out[700];
    snprintf(out, sizeof out, "%s/q8.gguf", temp_dir());
    loam_error err;
    CHECK_OK(loam_quantize(fixture("llm/llama_q256"), out, "q8_0", NULL, NULL, &err), &err);
    golden hf;
    CHECK(golden_open(&hf, fixture("llm/llama_q256")), "no golden");
    loam_model *m = NULL;
    loam_context *c = NULL;
    if (loam_model_open(out, NULL, &m, &err) != LOAM_OK || loam_context_open(m, NULL, &c, &err) != LOAM_OK) {
        golden_close(&hf);
        loam_model_free(m);
        CHECK(0, "%s", err.message);
    }
    const loam_tensor *ids = golden_tensor(&hf, "prompt_ids"), *logits = golden_tensor(&hf, "logits"), *greedy = golden_tensor(&hf, "greedy_ids");
    int T = (int)ids->shape[0], V = (int)logits->shape[1], N = (int)greedy->shape[0];
    int32_t pos[128], seq[128] = {0};
    for (int i = 0; i < 128; i++) pos[i] = i;
    loam_batch b = {T, ids->data, pos, seq, NULL};
    loam_status st = loam_decode(c, &b, &err);
    double kl = 0;
    for (int t = 0; st == LOAM_OK && t < T; t++) kl += kl_row((const float *)logits->data + (size_t)t * V, loam_get_logits(c, t), V) / T;
    int same = st == LOAM_OK;
    const float *cur = loam_get_logits(c, T - 1);
    for (int k = 0; same && k < N; k++) {
        int best = 0;
        for (int v = 1; v < V; v++)
            if (cur[v] > cur[best]) best = v;
        same = best == ((const int32_t *)greedy->data)[k];
        int32_t tok = best, p = T + k;
        loam_batch one = {1, &tok, &p, seq, NULL};
        if (same && k + 1 < N) same = loam_decode(c, &one, &err) == LOAM_OK, cur = loam_get_logits(c, 0);
    }
    loam_context_free(c);
    loam_model_free(m);
    golden_close(&hf);
    printf("    q8_0 mean KL vs HF float32: %.2g\n", kl);
    CHECK(same, "q8_0 greedy ids differ from the HF golden");
    CHECK(kl <= 1e-3, "q8_0 mean KL %.3g > 1e-3", kl);
}

/* Rows that do not fit a block fall back as llama-quantize does: stories260k
 * (rows of 64 and 172) as q4_k_m gets Q5_0 (64 % 256) and F16 (172 % 32);
 * the file loads with its tokenizer.model vocabulary and tells a story. */
static void test_quantize_fallbacks(void) {
    char out[700], cmd[1600], *text = NULL;
    snprintf(out, sizeof out, "%s/s.gguf", temp_dir());
    loam_error err;
    CHECK_OK(loam_quantize(fixture("llm/stories260k"), out, "q4_k_m", NULL, NULL, &err), &err);
    gguf_file g;
    CHECK_OK(gguf_open(&g, out, &err), &err);
    const gguf_tensor *q = gguf_find_tensor(&g, "blk.0.attn_q.weight"), *down = gguf_find_tensor(&g, "blk.0.ffn_down.weight");
    const gguf_tensor *emb = gguf_find_tensor(&g, "token_embd.weight");
    int ok = q && q->type == GGML_Q5_0 && down && down->type == GGML_F16 && emb && emb->type == GGML_Q8_0;
    gguf_close(&g);
    CHECK(ok, "fallback types: attn_q %d (want Q5_0), ffn_down %d (want F16), token_embd %d (want Q8_0)", q ? (int)q->type : -1,
          down ? (int)down->type : -1, emb ? (int)emb->type : -1);
    snprintf(cmd, sizeof cmd, "%s run %s 'Once upon a time' -n 12 --temp 0 2>/dev/null", LOAM_BIN, out);
    int rc = run_capture(cmd, &text);
    ok = rc == 0 && text && strncmp(text, "Once upon a time", 16) == 0 && strlen(text) > 30;
    CHECK(ok, "the quantized stories260k printed (exit %d): %s", rc, text ? text : "");
    free(text);
    CHECK(loam_quantize(fixture("llm/stories260k"), out, "q3_xyz", NULL, NULL, &err) == LOAM_E_ARG && strstr(err.message, "unknown type"),
          "bad type accepted: %s", err.message);
}

void register_quantize_tests(void) {
    test_add("quantize: f16/q8_0/q4_0/q4_1/q5_0/q5_1/q6_k/q4_k_m/q5_k_s/q5_k_m byte-identical to llama.cpp's files (HF and GGUF input)", test_quantize_identical);
    test_add("quantize: llama_q256 q8_0 keeps the HF greedy ids, KL <= 1e-3", test_quantize_q8_0_quality);
    test_add("quantize: rows that do not fit a block fall back like llama-quantize", test_quantize_fallbacks);
}
