/* Text models against the Hugging Face goldens in fixtures/llm: prefill
 * logits and hidden states within each golden's tolerance, greedy ids
 * identical, step logits (the KV-cache path) within tolerance, batching. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/mapfile.h"
#include "kernels/kernels.h"
#include "loam_tools.h"
#include "test.h"

typedef struct {
    loam_model *model;
    loam_context *ctx;
    loam_model_info info;
    golden g;
    loam_error err;
} llm_case;

/* `model` NULL: the model is the case folder itself. */
static int open_case_at(llm_case *c, const char *name, const char *model, loam_simd simd, int n_seq) {
    memset(c, 0, sizeof *c);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", fixture(name));
    if (!golden_open(&c->g, dir)) return 0;
    if (model) snprintf(dir, sizeof dir, "%s", model);
    loam_model_params mp = loam_model_default_params();
    mp.simd = simd;
    mp.n_threads = 2;
    if (loam_model_open(dir, &mp, &c->model, &c->err) != LOAM_OK) {
        printf("    %s\n", c->err.message);
        return 0;
    }
    loam_model_get_info(c->model, &c->info);
    loam_context_params cp = loam_context_default_params();
    cp.capture_hidden = 1;
    cp.n_seq_max = n_seq;
    if (loam_context_open(c->model, &cp, &c->ctx, &c->err) != LOAM_OK) {
        printf("    %s\n", c->err.message);
        return 0;
    }
    return 1;
}

static int open_case(llm_case *c, const char *name, loam_simd simd, int n_seq) { return open_case_at(c, name, NULL, simd, n_seq); }

static void close_case(llm_case *c) {
    loam_context_free(c->ctx);
    loam_model_free(c->model);
    golden_close(&c->g);
}

static int argmax(const float *v, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

/* Prefill, hidden states, then the greedy steps through the KV cache, for
 * the case's own folder or another file of the same model (a GGUF). */
void check_llm_case(const char *name, const char *model, loam_simd simd) {
    llm_case c;
    int opened = open_case_at(&c, name, model, simd, 1);
    if (!opened) {
        close_case(&c);
        CHECK(0, "cannot open case %s", name);
    }
    const loam_tensor *ids = golden_tensor(&c.g, "prompt_ids"), *logits = golden_tensor(&c.g, "logits");
    const loam_tensor *hidden = golden_tensor(&c.g, "hidden_states"), *greedy = golden_tensor(&c.g, "greedy_ids");
    const loam_tensor *steps = golden_tensor(&c.g, "logits_step");
    int T = (int)ids->shape[0], V = c.info.n_vocab, H = c.info.n_embd, L = c.info.n_layers;
    int32_t *pos = malloc(T * sizeof *pos), *seq = calloc(T, sizeof *seq);
    for (int i = 0; i < T; i++) pos[i] = i;
    loam_batch b = {T, ids->data, pos, seq, NULL};
    loam_status st = loam_decode(c.ctx, &b, &c.err);
    double worst = 0, worst_h = 0, worst_s = 0;
    int ids_equal = 1, first_bad = -1;
    if (st == LOAM_OK) {
        for (int t = 0; t < T; t++) {
            double d = max_abs_diff(loam_get_logits(c.ctx, t), (const float *)logits->data + (size_t)t * V, V);
            if (d > worst) worst = d;
        }
        if (hidden) {
            for (int l = 0; l <= L; l++)
                for (int t = 0; t < T; t++) {
                    double d = max_abs_diff(loam_get_hidden(c.ctx, l, t),
                                            (const float *)hidden->data + ((size_t)l * T + t) * H, H);
                    if (d > worst_h) worst_h = d;
                }
        }
        int n_steps = (int)greedy->shape[0];
        const float *cur = loam_get_logits(c.ctx, T - 1);
        for (int k = 0; k < n_steps && st == LOAM_OK; k++) {
            if (steps) {
                double d = max_abs_diff(cur, (const float *)steps->data + (size_t)k * V, V);
                if (d > worst_s) worst_s = d;
            }
            int32_t tok = argmax(cur, V);
            if (tok != ((const int32_t *)greedy->data)[k] && ids_equal) ids_equal = 0, first_bad = k;
            int32_t p = T + k, s0 = 0;
            loam_batch one = {1, &tok, &p, &s0, NULL};
            if (k + 1 < n_steps) st = loam_decode(c.ctx, &one, &c.err);
            cur = loam_get_logits(c.ctx, 0);
        }
    }
    double tol = golden_tol(&c.g, "logits"), tol_h = golden_tol(&c.g, "hidden_states");
    double tol_s = golden_tol(&c.g, steps ? "logits_step" : "logits");
    if (tol < 0) tol = tol_s = golden_tol(&c.g, "seq_logits"); /* stories260k */
    free(pos);
    free(seq);
    close_case(&c);
    CHECK(st == LOAM_OK, "decode failed: %s", c.err.message);
    CHECK(tol > 0, "no logits tolerance in golden.json");
    CHECK(worst <= tol, "%s: prefill logits differ by %.3g (tolerance %.3g)", name, worst, tol);
    CHECK(!hidden || worst_h <= tol_h, "%s: hidden states differ by %.3g (tolerance %.3g)", name, worst_h, tol_h);
    CHECK(ids_equal, "%s: greedy ids differ from step %d", name, first_bad);
    CHECK(worst_s <= tol_s, "%s: step logits differ by %.3g (tolerance %.3g)", name, worst_s, tol_s);
}

static void check_case(const char *name, loam_simd simd) {
    if (simd != LOAM_SIMD_AUTO) REQUIRE_SIMD(simd);
    check_llm_case(name, NULL, simd);
}

static void test_llama31(void) { check_case("llm/llama31", LOAM_SIMD_AUTO); }
static void test_llama32_tied(void) { check_case("llm/llama32_tied", LOAM_SIMD_AUTO); }
static void test_llama31_scalar(void) { check_case("llm/llama31", LOAM_SIMD_SCALAR); }
static void test_llama31_avx2(void) { check_case("llm/llama31", LOAM_SIMD_AVX2); }
static void test_llama32_avx512(void) { check_case("llm/llama32_tied", LOAM_SIMD_AVX512); }

/* The left-padded batch: padding slots are simply not fed; each row's real
 * tokens sit at positions 0.. of its own sequence, all rows in one pass. */
static void test_llama31_batch(void) {
    llm_case c;
    if (!open_case(&c, "llm/llama31", LOAM_SIMD_AUTO, 2)) {
        close_case(&c);
        CHECK(0, "cannot open llama31");
    }
    const loam_tensor *in = golden_tensor(&c.g, "batch_input_ids"), *mask = golden_tensor(&c.g, "batch_attention_mask");
    const loam_tensor *want_logits = golden_tensor(&c.g, "batch_logits"), *want_ids = golden_tensor(&c.g, "batch_greedy_ids");
    const loam_tensor *want_steps = golden_tensor(&c.g, "batch_logits_step");
    int R = (int)in->shape[0], W = (int)in->shape[1], V = c.info.n_vocab, S = (int)want_ids->shape[1];
    const int32_t *ids = in->data, *m = mask->data;
    int32_t *tok = malloc((size_t)R * W * sizeof *tok), *pos = malloc((size_t)R * W * sizeof *pos);
    int32_t *seq = malloc((size_t)R * W * sizeof *seq), *src = malloc((size_t)R * W * sizeof *src), *len = calloc((size_t)R, sizeof *len);
    int32_t *last = malloc((size_t)R * sizeof *last), *cur = malloc((size_t)R * sizeof *cur);
    int32_t *stok = malloc((size_t)R * sizeof *stok), *spos = malloc((size_t)R * sizeof *spos), *sseq = malloc((size_t)R * sizeof *sseq);
    if (!tok || !pos || !seq || !src || !len || !last || !cur || !stok || !spos || !sseq) {
        free(tok), free(pos), free(seq), free(src), free(len), free(last), free(cur), free(stok), free(spos), free(sseq);
        close_case(&c);
        CHECK(0, "out of memory");
    }
    int n = 0;
    loam_context_free(c.ctx); /* a sequence per row of the golden batch */
    c.ctx = NULL;
    loam_context_params cp = loam_context_default_params();
    cp.n_seq_max = R;
    loam_status open_st = loam_context_open(c.model, &cp, &c.ctx, &c.err);
    for (int r = 0; r < R && !open_st; r++)
        for (int i = 0; i < W; i++)
            if (m[r * W + i]) tok[n] = ids[r * W + i], pos[n] = len[r]++, seq[n] = r, src[n] = r * W + i, n++;
    loam_batch b = {n, tok, pos, seq, NULL};
    loam_status st = open_st ? open_st : loam_decode(c.ctx, &b, &c.err);
    double worst = 0, worst_s = 0;
    int ids_ok = 1;
    if (st == LOAM_OK) {
        for (int i = 0; i < n; i++) {
            double d = max_abs_diff(loam_get_logits(c.ctx, i), (const float *)want_logits->data + (size_t)src[i] * V, V);
            if (d > worst) worst = d;
            last[seq[i]] = i;
        }
        for (int r = 0; r < R; r++) cur[r] = argmax(loam_get_logits(c.ctx, last[r]), V);
        float *row_logits = malloc((size_t)R * V * sizeof(float));
        for (int r = 0; r < R; r++) memcpy(row_logits + (size_t)r * V, loam_get_logits(c.ctx, last[r]), V * sizeof(float));
        for (int k = 0; k < S && st == LOAM_OK; k++) {
            for (int r = 0; r < R; r++) {
                double d = max_abs_diff(row_logits + (size_t)r * V, (const float *)want_steps->data + ((size_t)r * S + k) * V, V);
                if (d > worst_s) worst_s = d;
                cur[r] = argmax(row_logits + (size_t)r * V, V);
                if (cur[r] != ((const int32_t *)want_ids->data)[r * S + k]) ids_ok = 0;
                stok[r] = cur[r], spos[r] = len[r]++, sseq[r] = r;
            }
            loam_batch step = {R, stok, spos, sseq, NULL}; /* both sequences in one pass */
            st = loam_decode(c.ctx, &step, &c.err);
            for (int r = 0; r < R && st == LOAM_OK; r++)
                memcpy(row_logits + (size_t)r * V, loam_get_logits(c.ctx, r), V * sizeof(float));
        }
        free(row_logits);
    }
    double tol = golden_tol(&c.g, "batch_logits"), tol_s = golden_tol(&c.g, "batch_logits_step");
    free(tok), free(pos), free(seq), free(src), free(len), free(last), free(cur), free(stok), free(spos), free(sseq);
    close_case(&c);
    CHECK(st == LOAM_OK, "batch decode failed: %s", c.err.message);
    CHECK(worst <= tol, "batch logits differ by %.3g (tolerance %.3g)", worst, tol);
    CHECK(ids_ok, "batched greedy ids differ");
    CHECK(worst_s <= tol_s, "batch step logits differ by %.3g (tolerance %.3g)", worst_s, tol_s);
}

/* The real trained model: 200 greedy ids, and the teacher-forced logits of
 * all 204 positions. */
static void test_stories260k(void) {
    llm_case c;
    if (!open_case(&c, "llm/stories260k", LOAM_SIMD_AUTO, 1)) {
        close_case(&c);
        CHECK(0, "cannot open stories260k");
    }
    const loam_tensor *prompt = golden_tensor(&c.g, "prompt_ids"), *greedy = golden_tensor(&c.g, "greedy_ids");
    const loam_tensor *seq_ids = golden_tensor(&c.g, "seq_ids"), *seq_logits = golden_tensor(&c.g, "seq_logits");
    int V = c.info.n_vocab, T = (int)prompt->shape[0], N = (int)greedy->shape[0];
    int S = (int)seq_ids->shape[0];
    test_rows rows = test_rows_new(T + N > S ? T + N : S);
    int32_t *pos = rows.pos, *seq = rows.seq;
    if (!pos) {
        close_case(&c);
        CHECK(0, "out of memory");
    }
    loam_batch b = {T, prompt->data, pos, seq, NULL};
    loam_status st = loam_decode(c.ctx, &b, &c.err);
    int first_bad = -1;
    const float *cur = st == LOAM_OK ? loam_get_logits(c.ctx, T - 1) : NULL;
    for (int k = 0; k < N && st == LOAM_OK; k++) {
        int32_t tok = argmax(cur, V), p = T + k;
        if (tok != ((const int32_t *)greedy->data)[k] && first_bad < 0) first_bad = k;
        loam_batch one = {1, &tok, &p, seq, NULL};
        if (k + 1 < N) st = loam_decode(c.ctx, &one, &c.err), cur = loam_get_logits(c.ctx, 0);
    }
    /* teacher-forced: the whole sequence in one prefill */
    double worst = 0;
    loam_kv_seq_clear(c.ctx, 0);
    loam_batch all = {S, seq_ids->data, pos, seq, NULL};
    if (st == LOAM_OK) st = loam_decode(c.ctx, &all, &c.err);
    for (int t = 0; t < S && st == LOAM_OK; t++) {
        double d = max_abs_diff(loam_get_logits(c.ctx, t), (const float *)seq_logits->data + (size_t)t * V, V);
        if (d > worst) worst = d;
    }
    double tol = golden_tol(&c.g, "seq_logits");
    test_rows_free(&rows);
    close_case(&c);
    CHECK(st == LOAM_OK, "decode failed: %s", c.err.message);
    CHECK(first_bad < 0, "greedy ids differ from step %d", first_bad);
    CHECK(worst <= tol, "teacher-forced logits differ by %.3g (tolerance %.3g)", worst, tol);
}

/* Batching changes nothing: three sequences of different lengths in one
 * pass equal each run alone. */
static void test_batch_equals_single(void) {
    llm_case c;
    if (!open_case(&c, "llm/llama32_tied", LOAM_SIMD_AUTO, 3)) {
        close_case(&c);
        CHECK(0, "cannot open llama32_tied");
    }
    int V = c.info.n_vocab, lens[3] = {7, 1, 12}, n = 0;
    int32_t tok[32], pos[32], seq[32];
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < lens[s]; i++) tok[n] = (s * 37 + i * 11) % V, pos[n] = i, seq[n] = s, n++;
    loam_batch b = {n, tok, pos, seq, NULL};
    float *together = malloc((size_t)n * V * sizeof(float));
    loam_status st = loam_decode(c.ctx, &b, &c.err);
    for (int i = 0; i < n && st == LOAM_OK; i++) memcpy(together + (size_t)i * V, loam_get_logits(c.ctx, i), V * sizeof(float));
    double worst = 0;
    for (int s = 0, at = 0; s < 3 && st == LOAM_OK; at += lens[s], s++) {
        loam_kv_seq_clear(c.ctx, 0);
        int32_t zero[32] = {0};
        loam_batch one = {lens[s], tok + at, pos + at, zero, NULL};
        st = loam_decode(c.ctx, &one, &c.err);
        for (int i = 0; i < lens[s] && st == LOAM_OK; i++) {
            double d = max_abs_diff(loam_get_logits(c.ctx, i), together + (size_t)(at + i) * V, V);
            if (d > worst) worst = d;
        }
    }
    free(together);
    close_case(&c);
    CHECK(st == LOAM_OK, "decode failed: %s", c.err.message);
    CHECK(worst < 1e-4, "batched and single logits differ by %.3g", worst);
}

static void test_decode_rejects_bad_rows(void) {
    llm_case c;
    if (!open_case(&c, "llm/stories260k", LOAM_SIMD_AUTO, 1)) {
        close_case(&c);
        CHECK(0, "cannot open stories260k");
    }
    int32_t tok = 100000, pos = 0, seq = 0, good = 1, far = 1 << 20, bad_seq = 3;
    loam_batch b1 = {1, &tok, &pos, &seq, NULL}, b2 = {1, &good, &far, &seq, NULL}, b3 = {1, &good, &pos, &bad_seq, NULL};
    loam_status s1 = loam_decode(c.ctx, &b1, &c.err), s2 = loam_decode(c.ctx, &b2, &c.err),
                s3 = loam_decode(c.ctx, &b3, &c.err);
    close_case(&c);
    CHECK(s1 == LOAM_E_RANGE && s2 == LOAM_E_RANGE && s3 == LOAM_E_RANGE, "bad token/pos/seq accepted (%d %d %d)", s1, s2, s3);
}

static void test_bloom(void) { check_case("llm/bloom", LOAM_SIMD_AUTO); }
static void test_mpt(void) { check_case("llm/mpt", LOAM_SIMD_AUTO); }
static void test_falcon7b(void) { check_case("llm/falcon7b", LOAM_SIMD_AUTO); }
static void test_falcon40b(void) { check_case("llm/falcon40b", LOAM_SIMD_AUTO); }
static void test_phi2(void) { check_case("llm/phi2", LOAM_SIMD_AUTO); }
static void test_gemma7b(void) { check_case("llm/gemma7b", LOAM_SIMD_AUTO); }
static void test_gemma2b(void) { check_case("llm/gemma2b", LOAM_SIMD_AUTO); }
static void test_llama_q256(void) { check_case("llm/llama_q256", LOAM_SIMD_AUTO); }
static void test_phi2_scalar(void) { check_case("llm/phi2", LOAM_SIMD_SCALAR); }
static void test_bloom_avx2(void) { check_case("llm/bloom", LOAM_SIMD_AVX2); }

/* The f16 and q8_0 KV caches: same greedy ids as f32 on llama31 (160-token
 * prompt, then 24 steps), KL of the step distributions reported. */
/* loam_model_prefill_ops against the count from the publisher's config.json:
 * per row the layer matrices (q, k, v, o and the MLP's 3 matrices for
 * Llama, 2 for Phi-2), the head once, attention over the causal triangle. */
static double config_number(const cJSON *c, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(c, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void test_prefill_ops(void) {
    static const struct {
        const char *name;
        int mlp_matrices;
    } cases[] = {{"llm/stories260k", 3}, {"llm/phi2", 2}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char path[1024], *text = NULL;
        snprintf(path, sizeof path, "%s/config.json", fixture(cases[k].name));
        CHECK(loam_read_file(path, 1 << 20, &text, NULL, NULL) == LOAM_OK, "cannot read %s", path);
        cJSON *c = cJSON_Parse(text);
        free(text);
        CHECK(c, "%s: not JSON", path);
        double d = config_number(c, "hidden_size"), ff = config_number(c, "intermediate_size"), L = config_number(c, "num_hidden_layers");
        double H = config_number(c, "num_attention_heads"), KV = config_number(c, "num_key_value_heads"), V = config_number(c, "vocab_size");
        double hd = config_number(c, "head_dim") > 0 ? config_number(c, "head_dim") : d / H;
        cJSON_Delete(c);
        loam_model *m = NULL;
        loam_error err;
        loam_model_params mp = loam_model_default_params();
        CHECK_OK(loam_model_open(fixture(cases[k].name), &mp, &m, &err), &err);
        for (int n = 1; n <= 33; n += 16) {
            double per_row = L * (2 * d * H * hd + 2 * d * KV * hd + cases[k].mlp_matrices * d * ff);
            double want = 2 * (per_row * n + V * d + L * H * hd * 2 * (n * (n + 1) / 2.0));
            double got = (double)loam_model_prefill_ops(m, n);
            CHECK(got == want, "%s, %d tokens: %.0f operations, the config says %.0f", cases[k].name, n, got, want);
        }
        CHECK(loam_model_prefill_ops(m, 0) == 0, "no tokens, no operations");
        loam_model_free(m);
    }
}

static void test_kv_types(void) {
    loam_kv_type types[] = {LOAM_KV_F16, LOAM_KV_Q8_0};
    const char *names[] = {"f16", "q8_0"}, *cases[] = {"llm/llama31", "llm/llama_q256"}; /* q8_0 needs head_dim % 32 */
    char report[400] = "";
    size_t at = 0;
    for (int k = 0; k < 2; k++) {
        llm_case c;
        if (!open_case(&c, cases[k], LOAM_SIMD_AUTO, 1)) {
            close_case(&c);
            CHECK(0, "cannot open %s", cases[k]);
        }
        loam_context_free(c.ctx);
        loam_context_params cp = loam_context_default_params();
        cp.kv_type = types[k];
        c.ctx = NULL;
        loam_status st = loam_context_open(c.model, &cp, &c.ctx, &c.err);
        const loam_tensor *ids = golden_tensor(&c.g, "prompt_ids"), *greedy = golden_tensor(&c.g, "greedy_ids"), *steps = golden_tensor(&c.g, "logits_step");
        int T = (int)ids->shape[0], V = c.info.n_vocab, N = (int)greedy->shape[0];
        test_rows rows = test_rows_new(T);
        int32_t *pos = rows.pos, *seq = rows.seq;
        if (st == LOAM_OK && !pos) st = LOAM_E_NOMEM;
        loam_batch b = {T, ids->data, pos, seq, NULL};
        if (st == LOAM_OK) st = loam_decode(c.ctx, &b, &c.err);
        const float *cur = st == LOAM_OK ? loam_get_logits(c.ctx, T - 1) : NULL;
        int same = st == LOAM_OK;
        double kl = 0;
        for (int s = 0; same && s < N; s++) {
            kl += kl_divergence((const float *)steps->data + (size_t)s * V, cur, V) / N;
            same = argmax(cur, V) == ((const int32_t *)greedy->data)[s];
            int32_t tok = ((const int32_t *)greedy->data)[s], p = T + s;
            loam_batch one = {1, &tok, &p, seq, NULL};
            if (s + 1 < N) same = same && loam_decode(c.ctx, &one, &c.err) == LOAM_OK, cur = loam_get_logits(c.ctx, 0);
        }
        at += (size_t)snprintf(report + at, sizeof report - at, "%s%s KV (%s): KL vs f32 golden %.2g", k ? ", " : "", names[k], cases[k], kl);
        test_rows_free(&rows);
        close_case(&c);
        CHECK(st == LOAM_OK, "%s KV: %s", names[k], c.err.message);
        CHECK(same, "%s KV cache changed the greedy ids", names[k]);
        CHECK(kl < (k == 0 ? 1e-5 : 1e-3), "%s KV: KL %.3g too large", names[k], kl);
    }
    printf("    %s\n", report);
}

static double mean_kl(const float *ref, const float *ours, int T, int V) {
    double kl = 0;
    for (int t = 0; t < T; t++) kl += kl_divergence(ref + (size_t)t * V, ours + (size_t)t * V, V) / T;
    return kl;
}

/* --bf16-dot (BF16 weights, bf16-rounded activations, AVX512-BF16): the
 * prefill's mean KL against the HF float32 logits, next to the exact
 * path's, on BF16 fixtures; the flag is on exactly when the CPU has it. */
static void test_bf16_dot(void) {
    const char *cases[] = {"llm/llama31", "llm/llama_q256", "llm/gemma2b"};
    char report[600] = "";
    size_t at = 0;
    for (int k = 0; k < 3; k++) {
        golden g;
        CHECK(golden_open(&g, fixture(cases[k])), "cannot open %s", cases[k]);
        const loam_tensor *ids = golden_tensor(&g, "prompt_ids"), *want = golden_tensor(&g, "logits");
        int T = (int)ids->shape[0];
        double kl[2] = {0, 0};
        int on = 0, V = 0;
        loam_error err = {0};
        loam_status st = LOAM_OK;
        for (int mode = 0; mode < 2 && st == LOAM_OK; mode++) {
            loam_model_params mp = loam_model_default_params();
            mp.n_threads = 2, mp.bf16_dot = mode;
            loam_model *m = NULL;
            loam_context *c = NULL;
            loam_context_params cp = loam_context_default_params();
            st = loam_model_open(fixture(cases[k]), &mp, &m, &err);
            if (st == LOAM_OK) st = loam_context_open(m, &cp, &c, &err);
            test_rows rows = test_rows_new(T);
            if (st == LOAM_OK && !rows.pos) st = LOAM_E_NOMEM;
            loam_batch b = {T, ids->data, rows.pos, rows.seq, NULL};
            if (st == LOAM_OK) st = loam_decode(c, &b, &err);
            if (st == LOAM_OK) {
                loam_model_info in;
                loam_model_get_info(m, &in);
                V = in.n_vocab;
                if (mode) on = in.bf16_dot;
                float *ours = malloc((size_t)T * V * sizeof(float));
                for (int t = 0; ours && t < T; t++) memcpy(ours + (size_t)t * V, loam_get_logits(c, t), (size_t)V * sizeof(float));
                kl[mode] = ours ? mean_kl(want->data, ours, T, V) : INFINITY;
                free(ours);
            }
            test_rows_free(&rows);
            loam_context_free(c);
            loam_model_free(m);
        }
        golden_close(&g);
        CHECK(st == LOAM_OK, "%s: %s", cases[k], err.message);
        const loam_kernels *kernels = NULL; /* the level the runtime picks (LOAM_SIMD may lower it) */
        loam_error kerr;
        int can = loam_kernels_choose(LOAM_SIMD_AUTO, &kernels, &kerr) == LOAM_OK && loam_bf16dot_for(kernels->level);
        CHECK(on == can, "%s: bf16_dot is %s but the kernels in use (%s) %s AVX512-BF16", cases[k], on ? "on" : "off",
              kernels ? kernels->name : "?", can ? "have" : "lack");
        at += (size_t)snprintf(report + at, sizeof report - at, "%s%s (T=%d): KL exact %.2g, bf16-dot %.2g", k ? "; " : "", cases[k], T,
                               kl[0], kl[1]);
        CHECK(kl[0] < 1e-6, "%s: the exact path's KL %.3g", cases[k], kl[0]);
        CHECK(kl[1] < 5e-3, "%s: bf16-dot KL %.3g too large", cases[k], kl[1]);
    }
    printf("    %s%s\n", report, loam_cpu_has_avx512bf16() ? "" : " (no AVX512-BF16: both exact)");
}

/* Prefill logits and hidden states of `ids` (sequence 0, positions 0..)
 * with a context of the given slice size; returns 0 on failure. */
static int prefill_with_ubatch(loam_model *m, const int32_t *ids, const int32_t *pos, int T, int n_ubatch, float *logits,
                               float *hidden, loam_error *err) {
    loam_context_params cp = loam_context_default_params();
    cp.capture_hidden = 1, cp.n_ubatch = n_ubatch;
    loam_context *c = NULL;
    test_rows rows = test_rows_new(T);
    loam_batch b = {T, ids, pos, rows.seq, NULL};
    int ok = rows.seq && loam_context_open(m, &cp, &c, err) == LOAM_OK && loam_decode(c, &b, err) == LOAM_OK;
    test_rows_free(&rows);
    if (!ok) return loam_context_free(c), 0;
    loam_model_info in;
    loam_model_get_info(m, &in);
    for (int t = 0; t < T; t++) {
        memcpy(logits + (size_t)t * in.n_vocab, loam_get_logits(c, t), (size_t)in.n_vocab * sizeof(float));
        for (int l = 0; l <= in.n_layers; l++)
            memcpy(hidden + ((size_t)l * T + t) * in.n_embd, loam_get_hidden(c, l, t), (size_t)in.n_embd * sizeof(float));
    }
    loam_context_free(c);
    return 1;
}

/* A batch longer than n_ubatch runs in slices (each reads the cache the
 * previous one wrote): llama31's 160-token prompt in slices of 7 and 128
 * gives the golden's logits and hidden states; a batch whose positions go
 * backwards within a sequence is not sliced (it would lose causality) and
 * equals the same rows in order. */
static void test_ubatch_slices(void) {
    llm_case c;
    if (!open_case(&c, "llm/llama31", LOAM_SIMD_AUTO, 1)) {
        close_case(&c);
        CHECK(0, "cannot open llama31");
    }
    const loam_tensor *ids = golden_tensor(&c.g, "prompt_ids"), *want = golden_tensor(&c.g, "logits"), *hid = golden_tensor(&c.g, "hidden_states");
    int T = (int)ids->shape[0], V = c.info.n_vocab, H = c.info.n_embd, L = c.info.n_layers;
    double tol = golden_tol(&c.g, "logits"), tol_h = golden_tol(&c.g, "hidden_states");
    float *logits = malloc((size_t)T * V * sizeof(float)), *hidden = malloc((size_t)(L + 1) * T * H * sizeof(float));
    test_rows rows = test_rows_new(T);
    const int32_t *pos = rows.pos;
    int sizes[] = {7, 128}, ok = logits && hidden && pos;
    for (int k = 0; ok && k < 2; k++) {
        ok = prefill_with_ubatch(c.model, ids->data, pos, T, sizes[k], logits, hidden, &c.err);
        CHECK(ok, "n_ubatch %d: %s", sizes[k], c.err.message);
        double d = max_abs_diff(logits, want->data, (size_t)T * V), dh = max_abs_diff(hidden, hid->data, (size_t)(L + 1) * T * H);
        CHECK(d <= tol && dh <= tol_h, "n_ubatch %d: logits differ by %.3g (tol %.3g), hidden by %.3g (tol %.3g)", sizes[k], d, tol, dh, tol_h);
    }
    /* rows (pos 1, pos 0) of one sequence in slices of one row */
    int32_t two_ids[2] = {((const int32_t *)ids->data)[1], ((const int32_t *)ids->data)[0]}, back[2] = {1, 0};
    float *rev_l = malloc(2 * (size_t)V * sizeof(float)), *rev_h = malloc((size_t)(L + 1) * 2 * H * sizeof(float));
    ok = ok && rev_l && rev_h && prefill_with_ubatch(c.model, two_ids, back, 2, 1, rev_l, rev_h, &c.err) &&
         prefill_with_ubatch(c.model, ids->data, pos, 2, 2, logits, hidden, &c.err);
    CHECK(ok, "two-row batches: %s", c.err.message);
    CHECK(max_abs_diff(rev_l, logits + V, V) <= 1e-5 && max_abs_diff(rev_l + V, logits, V) <= 1e-5,
          "rows given in reverse order changed the logits");
    free(rev_l), free(rev_h), free(logits), free(hidden);
    test_rows_free(&rows);
    close_case(&c);
}

void register_text_families_tests(void) {
    test_add("decode: a batch in slices of n_ubatch rows equals the golden (and keeps causality)", test_ubatch_slices);
    test_add("model: a prompt's operations (bench's prefill GOP/s) equal the count from config.json (Llama, Phi-2)", test_prefill_ops);
    test_add("decode: --bf16-dot (rounded activations) KL vs the HF float32 logits", test_bf16_dot);
    test_add("decode: f16 and q8_0 KV caches keep the greedy ids (KL reported)", test_kv_types);
    test_add("llm/bloom prefill, hidden, greedy, steps", test_bloom);
    test_add("llm/mpt prefill, hidden, greedy, steps", test_mpt);
    test_add("llm/falcon7b prefill, hidden, greedy, steps", test_falcon7b);
    test_add("llm/falcon40b prefill, hidden, greedy, steps", test_falcon40b);
    test_add("llm/phi2 prefill, hidden, greedy, steps", test_phi2);
    test_add("llm/gemma7b prefill, hidden, greedy, steps", test_gemma7b);
    test_add("llm/gemma2b prefill, hidden, greedy, steps", test_gemma2b);
    test_add("llm/llama_q256 prefill, hidden, greedy, steps", test_llama_q256);
    test_add("llm/phi2 with scalar kernels (f16 weights)", test_phi2_scalar);
    test_add("llm/bloom with avx2 kernels", test_bloom_avx2);
    test_add("llm/llama31 prefill, hidden, greedy, steps", test_llama31);
    test_add("llm/llama31 batch with left padding", test_llama31_batch);
    test_add("llm/llama32_tied prefill, hidden, greedy, steps", test_llama32_tied);
    test_add("llm/llama31 with scalar kernels", test_llama31_scalar);
    test_add("llm/llama31 with avx2 kernels", test_llama31_avx2);
    test_add("llm/llama32_tied with avx512 kernels", test_llama32_avx512);
    test_add("llm/stories260k 200 greedy ids and teacher-forced logits", test_stories260k);
    test_add("decode: a batch of three sequences equals each alone", test_batch_equals_single);
    test_add("decode: out-of-range token, position, sequence rejected", test_decode_rejects_bad_rows);
}
