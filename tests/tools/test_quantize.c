/* loam synth and loam quantize: published shapes, files llama.cpp's tools
 * write byte for byte, block fallbacks, quality. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/mapfile.h"
#include "formats/gguf.h"
#include "kernels/kernels.h"
#include "test.h"

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
    test_rows rows = test_rows_new(T);
    int32_t *seq = rows.seq;
    loam_batch b = {T, ids->data, rows.pos, rows.seq, NULL};
    loam_status st = rows.pos ? loam_decode(c, &b, &err) : LOAM_E_NOMEM;
    double kl = 0;
    for (int t = 0; st == LOAM_OK && t < T; t++) kl += kl_divergence((const float *)logits->data + (size_t)t * V, loam_get_logits(c, t), V) / T;
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
    test_rows_free(&rows);
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
    test_add("synth: shapes give the published parameter counts (Llama, Phi-2, BLOOM, Whisper, FLUX.1)", test_synth_shapes);
    test_add("synth: a written file loads and agrees with its estimate and summary", test_synth_file);
    test_add("quantize: f16/q8_0/q4_0/q4_1/q5_0/q5_1/q6_k/q4_k_m/q5_k_s/q5_k_m byte-identical to llama.cpp's files (HF and GGUF input)", test_quantize_identical);
    test_add("quantize: llama_q256 q8_0 keeps the HF greedy ids, KL <= 1e-3", test_quantize_q8_0_quality);
    test_add("quantize: rows that do not fit a block fall back like llama-quantize", test_quantize_fallbacks);
}
