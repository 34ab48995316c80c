/* GGUF models: every family's converted file matches the Hugging Face golden
 * of its source case; quantized files dequantize bit-exactly and compute in
 * float on the dequantized weights, and the int8 path keeps llama.cpp's KL. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
        test_rows rows = test_rows_new(T);
        loam_batch b = {T, ids->data, rows.pos, rows.seq, NULL};
        loam_status st = rows.pos ? loam_decode(c, &b, &err) : LOAM_E_NOMEM;
        test_rows_free(&rows);
        const loam_tensor *dq = loam_st_find(&g, "dequant_f32_logits");
        double worst = 0, kl = 0;
        int top1 = 0;
        for (int t = 0; st == LOAM_OK && t < T; t++) {
            const float *ours = loam_get_logits(c, t), *ref = (const float *)hf_logits->data + (size_t)t * V;
            double d = max_abs_diff(ours, (const float *)dq->data + (size_t)t * V, V);
            if (d > worst) worst = d;
            kl += kl_divergence(ref, ours, V) / T;
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

/* On AVX512-VNNI, Q4_0, Q8_0, Q4_K and Q6_K matrices are repacked at load: a
 * file's logits equal those of its stored layout (the same integer sums;
 * only the float order differs). */
static void check_repacked_logits(const char *file) {
    golden hf;
    CHECK(golden_open(&hf, fixture("llm/llama_q256")), "no HF golden");
    const loam_tensor *ids = golden_tensor(&hf, "prompt_ids");
    int T = (int)ids->shape[0];
    float *logits[2] = {NULL, NULL};
    int V = 0, repacked[2] = {0, 0};
    loam_error err = {0};
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", fixture("gguf/llama_q256"), file);
    for (int keep = 0; keep < 2; keep++) {
        loam_model *m = NULL;
        loam_context *c = NULL;
        loam_model_params mp = loam_model_default_params();
        mp.n_threads = 2;
        mp.keep_layout = keep;
        test_rows rows = test_rows_new(T);
        loam_batch b = {T, ids->data, rows.pos, rows.seq, NULL};
        if (loam_model_open(path, &mp, &m, &err) == LOAM_OK && loam_context_open(m, NULL, &c, &err) == LOAM_OK &&
            loam_decode(c, &b, &err) == LOAM_OK) {
            loam_model_info in;
            loam_model_get_info(m, &in);
            V = in.n_vocab, repacked[keep] = in.n_repacked;
            logits[keep] = malloc((size_t)T * V * sizeof(float));
            for (int t = 0; logits[keep] && t < T; t++) memcpy(logits[keep] + (size_t)t * V, loam_get_logits(c, t), (size_t)V * sizeof(float));
        }
        test_rows_free(&rows);
        loam_context_free(c);
        loam_model_free(m);
    }
    golden_close(&hf);
    double worst = 0, scale = 0;
    for (size_t i = 0; logits[0] && logits[1] && i < (size_t)T * V; i++)
        worst = fmax(worst, fabs(logits[0][i] - logits[1][i])), scale = fmax(scale, fabs(logits[1][i]));
    int ran = logits[0] && logits[1];
    free(logits[0]), free(logits[1]);
    CHECK(ran, "%s: %s", file, err.message);
    CHECK(repacked[0] > 0 && repacked[1] == 0, "%s: repacked %d matrices by default, %d with keep_layout", file, repacked[0], repacked[1]);
    CHECK(worst <= 1e-4 * scale, "%s: repacked logits differ by %g (largest %g)", file, worst, scale);
}

static void test_repacked_logits(void) {
    const loam_kernels *kernels = NULL; /* as the runtime picks them: every level but scalar repacks */
    loam_error kerr;
    if (loam_kernels_choose(LOAM_SIMD_AUTO, &kernels, &kerr) != LOAM_OK || !kernels->strip_matmul) {
        test_not_run("scalar kernels: nothing is repacked");
        return;
    }
    static const char *files[] = {"model-Q4_0.gguf", "model-Q8_0.gguf", "model-Q4_K_M.gguf"};
    for (size_t i = 0; i < sizeof files / sizeof *files && !test_failed(); i++) check_repacked_logits(files[i]);
}

static void test_quantized_logits(void) { run_quantized_logits(1); }
static void test_quantized_kl_fast(void) { run_quantized_logits(0); }

void register_gguf_model_tests(void) {
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
    test_add("gguf/llama_q256 Q4_0, Q8_0, Q4_K_M: weights repacked at load give the stored layout's logits", test_repacked_logits);
}
