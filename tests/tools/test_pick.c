/* loam pick: memory from published shapes against files and formulas, the
 * fit decision on both sides of the boundary, the JSON rows, the filters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* `loam pick ARGS --json` parsed; NULL on failure (output printed). */
static cJSON *pick_json(const char *args) {
    char cmd[2048], *out = NULL;
    const char *cache = temp_dir();
    snprintf(cmd, sizeof cmd, "XDG_CACHE_HOME=%s %s pick %s --json 2>&1", cache, LOAM_BIN, args);
    int rc = run_capture(cmd, &out);
    cJSON *j = rc == 0 && out ? cJSON_Parse(out) : NULL;
    if (!j) printf("    loam pick %s: exit %d: %.400s\n", args, rc, out ? out : "");
    free(out);
    return j;
}

/* The row of model/variant/quant. */
static const cJSON *row_of(const cJSON *rows, const char *model, const char *variant, const char *quant) {
    const cJSON *r;
    cJSON_ArrayForEach(r, rows) {
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(r, "model")), *v = cJSON_GetStringValue(cJSON_GetObjectItem(r, "variant"));
        const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(r, "quant"));
        if (m && v && q && !strcmp(m, model) && (!variant || !strcmp(v, variant)) && !strcmp(q, quant)) return r;
    }
    return NULL;
}

static double num(const cJSON *r, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(r, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void test_json_rows(void) {
    cJSON *rows = pick_json("--all --no-measure");
    CHECK(rows && cJSON_IsArray(rows), "no JSON array");
    static const char *keys[] = {"model", "variant", "quant", "weights_bytes", "kv_bytes_per_token", "total_bytes", "tokens_per_s", "fits",
                                 "licence", "pull", "why"};
    int n = cJSON_GetArraySize(rows), speech = 0, image = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, rows) {
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            if (!cJSON_GetObjectItem(r, keys[k])) {
                char *s = cJSON_PrintUnformatted(r);
                printf("    row without %s: %.300s\n", keys[k], s);
                free(s);
                cJSON_Delete(rows);
                CHECK(0, "a row lacks a key");
            }
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(r, "model"));
        speech += !strncmp(m, "whisper-", 8), image += !strncmp(m, "flux.1-", 7);
    }
    /* every catalogue entry at each of its quantizations: 32 text entries x 5, 7 Whisper x 3, 2 FLUX x 4 */
    int ok = n == 32 * 5 + 7 * 3 + 2 * 4 && speech == 21 && image == 8;
    ok = ok && row_of(rows, "llama-3.1-8b", "instruct", "q4_k_m") && row_of(rows, "falcon-40b", "base", "q8_0") &&
         row_of(rows, "whisper-large-v3", NULL, "f16") && row_of(rows, "flux.1-schnell", NULL, "q8_0");
    /* FLUX.1 runs its stages one at a time: the largest (the transformer)
     * counts, not the sum of the components. Measured: 13.5 GB peak RSS
     * for the Q8_0 pipeline at 1024² (README) */
    double flux_total = num(row_of(rows, "flux.1-schnell", NULL, "q8_0"), "total_bytes");
    printf("    flux.1-schnell q8_0: %.2f GB planned (13.5 GB measured)\n", flux_total / 1e9);
    CHECK(flux_total > 13.5e9 * 0.95 && flux_total < 13.5e9 * 1.15, "flux.1-schnell q8_0 plans %.2f GB", flux_total / 1e9);
    cJSON_Delete(rows);
    CHECK(ok, "%d rows, %d Whisper, %d FLUX", n, speech, image);
}

/* Published GGUF file sizes (bytes as the hub lists them; the files hold a
 * few MB of metadata beside the tensors): within 5%. */
static void test_weights_match_published_files(void) {
    cJSON *rows = pick_json("--all --no-measure");
    CHECK(rows, "no rows");
    static const struct {
        const char *model, *quant;
        double bytes;
        const char *source;
    } files[] = {
        {"llama-3.1-8b", "q4_k_m", 4.92e9, "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF Q4_K_M"},
        {"llama-3.1-8b", "q8_0", 8.54e9, "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF Q8_0"},
        {"llama-3.2-1b", "q4_k_m", 0.808e9, "bartowski/Llama-3.2-1B-Instruct-GGUF Q4_K_M"},
        {"llama-3.2-1b", "q8_0", 1.32e9, "bartowski/Llama-3.2-1B-Instruct-GGUF Q8_0"},
        {"phi-2", "q4_k_m", 1.79e9, "TheBloke/phi-2-GGUF phi-2.Q4_K_M.gguf"},
        {"phi-2", "q8_0", 2.96e9, "TheBloke/phi-2-GGUF phi-2.Q8_0.gguf"},
    };
    char bad[1024] = "";
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        const cJSON *r = row_of(rows, files[i].model, NULL, files[i].quant);
        double w = r ? num(r, "weights_bytes") : -1, rel = fabs(w - files[i].bytes) / files[i].bytes;
        if (!(rel < 0.05)) snprintf(bad + strlen(bad), sizeof bad - strlen(bad), "%s: %.4g vs %.4g; ", files[i].source, w, files[i].bytes);
    }
    cJSON_Delete(rows);
    CHECK(!bad[0], "%s", bad);
}

/* Parameters counted from the real config.json (Falcon-40B, fixtures) and
 * from the publishers' configs of the others, at f16: 2 bytes each. */
static void test_weights_match_configs(void) {
    cJSON *cfg = NULL;
    char *text = NULL;
    loam_error err;
    CHECK_OK(loam_read_file(fixture("configs/tiiuae_falcon-40b/config.json"), 1 << 20, &text, NULL, &err), &err);
    cfg = cJSON_Parse(text);
    free(text);
    CHECK(cfg, "config.json does not parse");
    double H = num(cfg, "hidden_size"), L = num(cfg, "n_layer"), nh = num(cfg, "n_head"), kv = num(cfg, "n_head_kv"), V = num(cfg, "vocab_size");
    cJSON_Delete(cfg);
    double hd = H / nh;
    /* two layer norms (ln_attn, ln_mlp) per layer, fused QKV, dense, 4H MLP; tied head (word_embeddings) */
    double falcon = V * H + L * (H * (nh + 2 * kv) * hd + H * H + 2 * H * 4 * H + 4 * H) + 2 * H;
    /* Llama-3.1-8B, Gemma-7B (GeGLU, 256 heads dims), Phi-2 (biases, partial rotary), Llama-3.2-1B (tied) */
    double llama8 = 128256.0 * 4096 * 2 + 32 * (4096.0 * 4096 * 2 + 4096.0 * 1024 * 2 + 3 * 4096.0 * 14336 + 2 * 4096) + 4096;
    double gemma7 = 256000.0 * 3072 + 28 * (3072.0 * 4096 * 4 + 3 * 3072.0 * 24576 + 2 * 3072) + 3072; /* q,k,v,o 16x256 */
    double phi2 = 51200.0 * 2560 * 2 + 51200 + 32 * (4 * (2560.0 * 2560 + 2560) + 2 * 2560.0 * 10240 + 10240 + 2560 + 2 * 2560) + 2 * 2560;
    double llama1 = 128256.0 * 2048 + 16 * (2048.0 * 2048 * 2 + 2048.0 * 512 * 2 + 3 * 2048.0 * 8192 + 2 * 2048) + 2048;
    cJSON *rows = pick_json("--all --no-measure --quant f16");
    CHECK(rows, "no rows");
    /* GGUF files of llama3-scaled models also carry rope_freqs (head_dim / 2 factors) */
    llama8 += 64, llama1 += 32;
    const struct { const char *model; double params; } want[] = {
        {"falcon-40b", falcon}, {"llama-3.1-8b", llama8}, {"gemma-7b", gemma7}, {"phi-2", phi2}, {"llama-3.2-1b", llama1}};
    char bad[1024] = "";
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const cJSON *r = row_of(rows, want[i].model, NULL, "f16");
        double p = r ? num(r, "n_params") : -1, w = r ? num(r, "weights_bytes") : -1;
        /* params exact to the formula; f16 bytes within 5% of 2 per parameter (norms stay f32) */
        if (p != want[i].params || !(fabs(w - 2 * p) / (2 * p) < 0.05))
            snprintf(bad + strlen(bad), sizeof bad - strlen(bad), "%s: %.0f params (config: %.0f), %.4g bytes; ", want[i].model, p,
                     want[i].params, w);
    }
    cJSON_Delete(rows);
    CHECK(!bad[0], "%s", bad);
}

/* The same arithmetic as the runtime: a synth file's tensor bytes and
 * `loam info`'s memory at the same context. */
static void test_same_arithmetic_as_info(void) {
    char path[600], cmd[2048], *out = NULL;
    snprintf(path, sizeof path, "%s/1b-q4_0.gguf", temp_dir());
    snprintf(cmd, sizeof cmd, "%s synth --like llama-3.2-1b --type q4_0 -o %s >/dev/null 2>&1 && %s info %s --json", LOAM_BIN, path, LOAM_BIN, path);
    int rc = run_capture(cmd, &out);
    cJSON *info = rc == 0 && out ? cJSON_Parse(out) : NULL;
    free(out);
    /* the placeholder vocabulary carries SentencePiece's byte tokens: text encodes by byte fallback */
    char *ids = NULL;
    snprintf(cmd, sizeof cmd, "printf 'hi\\n' | %s tokenize %s - 2>&1", LOAM_BIN, path);
    run_capture(cmd, &ids);
    remove(path);
    /* <s>, the dummy prefix U+2581 as bytes e2 96 81, 'h', 'i', a newline: byte b is token 3 + b */
    int bytes_ok = ids && strstr(ids, "1 229 153 132 107 108 13");
    CHECK(bytes_ok, "tokenize of the synth file: %s", ids ? ids : "");
    free(ids);
    CHECK(info, "synth + info failed (%d)", rc);
    cJSON *rows = pick_json("--all --no-measure --quant q4_0 --context 4096");
    const cJSON *r = rows ? row_of(rows, "llama-3.2-1b", "instruct", "q4_0") : NULL;
    int ok = r && num(r, "weights_bytes") == num(info, "weight_bytes") && num(r, "total_bytes") == num(info, "memory_bytes") &&
             num(r, "kv_bytes_per_token") == num(info, "kv_bytes_per_token") && num(info, "default_context") == 4096;
    double a = r ? num(r, "total_bytes") : -1, b = num(info, "memory_bytes");
    cJSON_Delete(rows), cJSON_Delete(info);
    CHECK(ok, "pick total %.0f, info memory %.0f", a, b);
}

/* KV bytes a position: 2 x layers x kv heads x head_dim x bytes of the type. */
static void test_kv_formula(void) {
    static const struct { const char *model; double layers, kv, hd; } m[] = {
        {"llama-3.1-8b", 32, 8, 128}, {"falcon-40b", 60, 8, 64}, {"gemma-7b", 28, 16, 256}, {"phi-2", 32, 32, 80}, {"falcon-7b", 32, 1, 64}};
    static const struct { const char *flag; double bytes; } kv[] = {{"f32", 4}, {"f16", 2}, {"q8_0", 34.0 / 32}};
    char bad[1024] = "", args[128];
    for (size_t t = 0; t < 3; t++) {
        snprintf(args, sizeof args, "--all --no-measure --quant q8_0 --context 32k --kv-type %s", kv[t].flag);
        cJSON *rows = pick_json(args);
        CHECK(rows, "no rows");
        for (size_t i = 0; i < sizeof m / sizeof *m; i++) {
            const cJSON *r = row_of(rows, m[i].model, NULL, "q8_0");
            double want = 2 * m[i].layers * m[i].kv * m[i].hd * kv[t].bytes, got = r ? num(r, "kv_bytes_per_token") : -1;
            int64_t ctx = r ? (int64_t)num(r, "context") : -1;
            double total = r ? num(r, "weights_bytes") + got * (double)ctx + num(r, "scratch_bytes") + num(r, "overhead_bytes") : -1;
            if (got != want || !r || num(r, "kv_bytes") != got * (double)ctx || num(r, "total_bytes") != total)
                snprintf(bad + strlen(bad), sizeof bad - strlen(bad), "%s %s: %.0f a position (want %.0f), context %lld; ", m[i].model,
                         kv[t].flag, got, want, (long long)ctx);
        }
        /* the context asked for, capped at the model's own (Falcon: 2048) */
        const cJSON *l = row_of(rows, "llama-3.1-8b", "instruct", "q8_0"), *f = row_of(rows, "falcon-40b", "base", "q8_0");
        if (!l || num(l, "context") != 32768 || !f || num(f, "context") != 2048) strcat(bad, "contexts not 32768 / 2048; ");
        cJSON_Delete(rows);
    }
    CHECK(!bad[0], "%s", bad);
}

/* fits: total_bytes <= RAM - max(1 GiB, RAM / 10), on both sides. */
static void test_fits_boundary(void) {
    cJSON *rows = pick_json("--no-measure --quant q4_0 --all");
    const cJSON *r = rows ? row_of(rows, "llama-3.2-1b", "instruct", "q4_0") : NULL;
    double total = r ? num(r, "total_bytes") : -1;
    cJSON_Delete(rows);
    CHECK(total > 0, "no row");
    /* below 10 GiB the reserve is 1 GiB */
    double ram_fit = total + 1073741824.0, ram_no = ram_fit - 1;
    /* above it, a tenth: the smallest RAM with R - R/10 >= total */
    double big_total = -1, big_fit = -1;
    char args[256];
    int results[4] = {-1, -1, -1, -1};
    const double rams[2] = {ram_fit, ram_no};
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "--no-measure --quant q4_0 --all --ram %.0f", rams[i]);
        cJSON *rr = pick_json(args);
        const cJSON *x = rr ? row_of(rr, "llama-3.2-1b", "instruct", "q4_0") : NULL;
        results[i] = x ? cJSON_IsTrue(cJSON_GetObjectItem(x, "fits")) : -1;
        if (x && num(x, "reserve_bytes") != 1073741824.0) results[i] = -2;
        cJSON_Delete(rr);
    }
    rows = pick_json("--no-measure --quant q8_0 --all");
    r = rows ? row_of(rows, "llama-3.1-70b", "instruct", "q8_0") : NULL;
    big_total = r ? num(r, "total_bytes") : -1;
    cJSON_Delete(rows);
    CHECK(big_total > 20e9, "no 70B row");
    big_fit = ceil(big_total * 10 / 9) + 20; /* R - floor(R/10) >= total */
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "--no-measure --quant q8_0 --all --ram %.0f", i ? big_total + big_total / 10 - 1e6 : big_fit);
        cJSON *rr = pick_json(args);
        const cJSON *x = rr ? row_of(rr, "llama-3.1-70b", "instruct", "q8_0") : NULL;
        results[2 + i] = x ? cJSON_IsTrue(cJSON_GetObjectItem(x, "fits")) : -1;
        cJSON_Delete(rr);
    }
    CHECK(results[0] == 1 && results[1] == 0, "1B at RAM = total + 1 GiB: fits %d; one byte less: fits %d", results[0], results[1]);
    CHECK(results[2] == 1 && results[3] == 0, "70B with a 10%% reserve: fits %d at %.0f, %d below", results[2], big_fit, results[3]);
}

static void test_filters(void) {
    cJSON *rows = pick_json("--task chat --lang zh --commercial --no-measure");
    CHECK(rows && cJSON_GetArraySize(rows) > 0, "no rows for chat in Chinese, commercial");
    const cJSON *r;
    int ok = 1;
    cJSON_ArrayForEach(r, rows) {
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(r, "model"));
        ok &= !strncmp(m, "bloom", 5) && cJSON_IsTrue(cJSON_GetObjectItem(r, "commercial")) && cJSON_IsTrue(cJSON_GetObjectItem(r, "fits"));
    }
    cJSON_Delete(rows);
    CHECK(ok, "a row that is not a commercial, fitting, Chinese chat model");
    rows = pick_json("--task chat --no-measure --ram 4G");
    int non_commercial = 0, big = 0;
    cJSON_ArrayForEach(r, rows) {
        non_commercial += !cJSON_IsTrue(cJSON_GetObjectItem(r, "commercial"));
        big += num(r, "total_bytes") > 4.0 * 1073741824 - 1073741824;
    }
    int n = cJSON_GetArraySize(rows);
    cJSON_Delete(rows);
    CHECK(n > 0 && big == 0, "--ram 4G: %d rows, %d too big", n, big);
    (void)non_commercial;
}

/* Speeds come from rates measured here; --explain shows the arithmetic;
 * --measure refuses what cannot fit. */
static void test_measured_speed_and_explain(void) {
    cJSON *rows = pick_json("--explain llama-3.2-1b --quant q4_0");
    const cJSON *r = rows ? row_of(rows, "llama-3.2-1b", "instruct", "q4_0") : NULL;
    double tps = r ? num(r, "tokens_per_s") : -1, pre = r ? num(r, "prefill_tokens_per_s") : -1;
    cJSON_Delete(rows);
    CHECK(tps > 0.5 && tps < 10000 && pre > tps, "tokens/s %.2f, prefill %.2f", tps, pre);
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "XDG_CACHE_HOME=%s %s pick --explain llama-3.1-8b --quant q4_k_m --no-measure 2>&1", temp_dir(), LOAM_BIN);
    run_capture(cmd, &out);
    int ok = out && strstr(out, "q4_k") && strstr(out, "q6_k") && strstr(out, "2 (K, V) x 32 layers x 4096 bytes (8 kv heads x 128 dims, f32)");
    CHECK(ok, "explain: %s", out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd, "%s pick --measure llama-3.1-405b --quant f16 2>&1", LOAM_BIN);
    int rc = run_capture(cmd, &out);
    ok = rc != 0 && out && (strstr(out, "free") != NULL);
    CHECK(ok, "--measure of 405B f16: exit %d, %s", rc, out ? out : "");
    free(out);
}

void register_pick_tests(void) {
    test_add("pick: --all --json rows for every catalogue entry and quantization, speech and image included", test_json_rows);
    test_add("pick: weights within 5% of published GGUF file sizes", test_weights_match_published_files);
    test_add("pick: parameters equal the configs' (Falcon-40B's real config.json), f16 bytes within 5%", test_weights_match_configs);
    test_add("pick: the same memory as loam info of the synth file (whose vocabulary encodes by byte fallback)", test_same_arithmetic_as_info);
    test_add("pick: KV cache bytes equal 2 x layers x kv heads x head_dim x type bytes, times the context", test_kv_formula);
    test_add("pick: fits on both sides of the RAM boundary (reserve max(1 GiB, 10%))", test_fits_boundary);
    test_add("pick: task, language, licence and RAM filters", test_filters);
    test_add("pick: measured speeds, --explain arithmetic, --measure refuses what cannot fit", test_measured_speed_and_explain);
}
