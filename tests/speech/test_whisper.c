/* Whisper against fixtures/whisper/tiny-v3 (a random large-v3-shaped model,
 * transformers goldens): encoder output, prefix logits, language logits
 * and probabilities within tolerance; greedy ids with and without
 * timestamps exact; the same from whisper.cpp's f16 and q8_0 files; the
 * long clip through several windows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loam_speech.h"
#include "speech/search.h"
#include "speech/whisper.h"
#include "test.h"

static const float *golden_f32(const golden *g, const char *name, size_t n) {
    const loam_tensor *t = golden_tensor(g, name);
    return t && t->type == LOAM_T_F32 && (size_t)loam_tensor_nelements(t) == n ? t->data : NULL;
}

/* ids from golden.safetensors (I32) or, failing that, golden.json */
static int golden_ids(const golden *g, const char *name, const int32_t **ids) {
    static int32_t from_json[4][512];
    static int slot;
    const loam_tensor *t = golden_tensor(g, name);
    if (t && t->type == LOAM_T_I32) {
        *ids = t->data;
        return (int)loam_tensor_nelements(t);
    }
    const cJSON *a = cJSON_GetObjectItem(g->json, name);
    int n = cJSON_GetArraySize(a);
    if (!cJSON_IsArray(a) || n > 512) return -1;
    int32_t *out = from_json[slot++ % 4];
    for (int i = 0; i < n; i++) out[i] = (int32_t)cJSON_GetArrayItem(a, i)->valuedouble;
    *ids = out;
    return n;
}

typedef struct wcase {
    golden g, fe;
    loam_whisper *w;
    int V;
} wcase;

static int open_case(wcase *c, const char *model, loam_error *err) {
    memset(c, 0, sizeof *c);
    if (!golden_open(&c->g, fixture("whisper/tiny-v3")) || !golden_open(&c->fe, fixture("whisper/frontend"))) return 0;
    loam_whisper_params p = loam_whisper_default_params();
    if (loam_whisper_open(model, &p, &c->w, err)) return 0;
    loam_whisper_info info;
    loam_whisper_get_info(c->w, &info);
    c->V = info.n_vocab;
    return golden_f32(&c->fe, "mel", 128 * 3000) != NULL;
}

static void close_case(wcase *c) {
    loam_whisper_free(c->w);
    golden_close(&c->g);
    golden_close(&c->fe);
}

/* A plain greedy loop over raw logits from `prefix` (no rules), n steps. */
static int greedy_plain(loam_whisper *w, const int32_t *prefix, int n_prefix, int steps, int32_t *out, loam_error *err) {
    if (loam_whisper_decode(w, prefix, n_prefix, 0, err)) return 0;
    const float *l = loam_whisper_logits(w, n_prefix - 1);
    loam_whisper_info info;
    loam_whisper_get_info(w, &info);
    for (int s = 0; s < steps; s++) {
        int32_t best = 0;
        for (int i = 1; i < info.n_vocab; i++)
            if (l[i] > l[best]) best = i;
        out[s] = best;
        if (loam_whisper_decode(w, &best, 1, n_prefix + s, err)) return 0;
        l = loam_whisper_logits(w, 0);
    }
    return 1;
}

/* The golden's timestamp run: prompt [sot, en, transcribe], begin-suppress,
 * suppress_tokens, timestamp rules, stop at EOS, up to 32 tokens. */
static int greedy_rules(loam_whisper *w, const int32_t *prompt, int n_prompt, int steps, int32_t *out, loam_error *err) {
    loam_whisper_info info;
    loam_whisper_get_info(w, &info);
    int32_t seq[64];
    memcpy(seq, prompt, sizeof(int32_t) * (size_t)n_prompt);
    whisper_rules r = {n_prompt, 1, w->max_initial_ts};
    float *l = malloc(sizeof(float) * (size_t)info.n_vocab);
    int n = 0;
    if (loam_whisper_decode(w, prompt, n_prompt, 0, err)) return -1;
    memcpy(l, loam_whisper_logits(w, n_prompt - 1), sizeof(float) * (size_t)info.n_vocab);
    while (n < steps) {
        whisper_apply_rules(w, &r, seq, n_prompt + n, l);
        int32_t best = 0;
        for (int i = 1; i < info.n_vocab; i++)
            if (l[i] > l[best]) best = i;
        out[n] = seq[n_prompt + n] = best;
        n++;
        if (best == w->sp.eot) break;
        if (loam_whisper_decode(w, &best, 1, n_prompt + n - 1, err)) return -1;
        memcpy(l, loam_whisper_logits(w, 0), sizeof(float) * (size_t)info.n_vocab);
    }
    free(l);
    return n;
}

/* enc_bound, logit_bound > 0: absolute bounds in place of the golden's tolerances */
static void check_model(const char *model, double enc_bound, double logit_bound) {
    wcase c;
    loam_error err = {0};
    CHECK(model && open_case(&c, model, &err), "open %s: %s", model ? model : "(copy failed)", err.message);
    const float *mel = golden_f32(&c.fe, "mel", 128 * 3000);
    CHECK_OK(loam_whisper_encode(c.w, mel, &err), &err);
    const float *enc = golden_f32(&c.g, "encoder_out", 1500 * 64);
    CHECK(enc, "golden encoder_out missing");
    double d_enc = max_abs_diff(loam_whisper_encoder_out(c.w), enc, 1500 * 64), t_enc = golden_tol(&c.g, "encoder_out");
    /* the prefix logits */
    const int32_t *prefix;
    int n_prefix = golden_ids(&c.g, "prefix_ids", &prefix);
    CHECK(n_prefix == 4, "prefix_ids");
    CHECK_OK(loam_whisper_decode(c.w, prefix, n_prefix, 0, &err), &err);
    const float *want = golden_f32(&c.g, "decoder_logits", (size_t)4 * c.V);
    double d_log = 0;
    for (int i = 0; i < 4; i++) d_log = fmax(d_log, max_abs_diff(loam_whisper_logits(c.w, i), want + (size_t)i * c.V, c.V));
    double t_log = golden_tol(&c.g, "decoder_logits");
    /* language */
    float probs[100], *lang_logits = malloc(sizeof(float) * c.V);
    int lang = -1;
    CHECK_OK(loam_whisper_detect_language(c.w, probs, &lang, lang_logits, &err), &err);
    double d_lang = max_abs_diff(lang_logits, golden_f32(&c.g, "lang_logits", c.V), c.V);
    double d_probs = max_abs_diff(probs, golden_f32(&c.g, "lang_probs", 100), 100);
    free(lang_logits);
    const cJSON *det = cJSON_GetObjectItem(c.g.json, "detected_language");
    printf("    %s: encoder_out %.3g (tol %.3g), decoder_logits %.3g, lang_logits %.3g (tol %.3g), lang_probs %.3g; "
           "language %s p=%.6f\n",
           model, d_enc, t_enc, d_log, d_lang, t_log, d_probs, loam_whisper_lang_code(c.w, lang), probs[lang]);
    CHECK(cJSON_IsString(det) && !strcmp(det->valuestring, loam_whisper_lang_code(c.w, lang)), "detected %s",
          loam_whisper_lang_code(c.w, lang));
    double b_enc = enc_bound > 0 ? enc_bound : t_enc, b_log = logit_bound > 0 ? logit_bound : t_log;
    double b_lang = logit_bound > 0 ? logit_bound : golden_tol(&c.g, "lang_logits");
    CHECK(t_enc > 0 && t_log > 0 && d_enc <= b_enc, "encoder_out differs by %g (bound %g)", d_enc, b_enc);
    CHECK(d_log <= b_log && d_lang <= b_lang, "logits differ by %g / %g (bound %g)", d_log, d_lang, b_log);
    CHECK(d_probs <= golden_tol(&c.g, "lang_probs"), "lang_probs differ by %g", d_probs);
    /* greedy, raw logits */
    const int32_t *gold;
    int n_gold = golden_ids(&c.g, "greedy_ids", &gold);
    int32_t got[64];
    CHECK(n_gold == 32 && greedy_plain(c.w, prefix, n_prefix, 32, got, &err), "greedy: %s", err.message);
    for (int i = 0; i < 32; i++) CHECK(got[i] == gold[i], "greedy id %d: %d, golden %d", i, got[i], gold[i]);
    /* greedy with the timestamp rules */
    const int32_t *pts, *gts;
    int n_pts = golden_ids(&c.g, "prefix_ids_ts", &pts), n_gts = golden_ids(&c.g, "greedy_ids_ts", &gts);
    CHECK(n_pts == 3 && n_gts > 0, "timestamp goldens");
    int n = greedy_rules(c.w, pts, n_pts, 32, got, &err);
    CHECK(n == n_gts, "timestamp run gave %d ids, golden %d (%s)", n, n_gts, err.message);
    for (int i = 0; i < n; i++) CHECK(got[i] == gts[i], "timestamp id %d: %d, golden %d", i, got[i], gts[i]);
    close_case(&c);
}

static void test_hub_folder(void) { check_model(whisper_hub_copy(), 0, 0); }
static void test_ggml_f16(void) { check_model(fixture("whisper/tiny-v3/ggml-model.bin"), 0, 0); }
/* q8_0 weights with int8 activations (the README states the bound): the
 * ids must hold; encoder_out within 0.15 and logits within 1.0 (measured
 * 0.067 and 0.57 on logits of magnitude ~30) */
static void test_ggml_q8_0(void) { check_model(fixture("whisper/tiny-v3/ggml-model-q8_0.bin"), 0.15, 1.0); }

/* The long clip (45.9 s) through loam_whisper_full: greedy with timestamps
 * and no fallback, so the windows follow the timestamps; a random model
 * writes nonsense, but it must walk the file window by window to its end,
 * with segments in order inside the audio. */
typedef struct seen {
    int n;
    double last_done;
    int ordered;
} seen;

static int on_segment(const loam_whisper_segment *s, double done, void *user) {
    seen *v = user;
    v->ordered &= done >= v->last_done && s->end >= s->start;
    v->last_done = done;
    v->n++;
    return 0;
}

static void test_long_form(void) {
    const char *dir = whisper_hub_copy();
    loam_error err = {0};
    loam_whisper *w = NULL;
    CHECK(dir, "copy");
    CHECK_OK(loam_whisper_open(dir, NULL, &w, &err), &err);
    float *pcm = NULL;
    size_t n = 0;
    CHECK_OK(loam_audio_load(fixture("audio/jfk_northwind_long.wav"), 0, &pcm, &n, &err), &err);
    loam_whisper_full_params p = loam_whisper_full_default_params();
    p.language = "en";
    p.beam_size = 1;
    p.temperature_inc = 0;
    p.no_speech_threshold = 0; /* a random model's no-speech probability means nothing */
    seen v = {0, 0, 1};
    p.on_segment = on_segment, p.user = &v;
    loam_whisper_result r;
    loam_status st = loam_whisper_full(w, &p, pcm, n, &r, &err);
    loam_audio_free(pcm);
    CHECK(st == LOAM_OK, "full: %s", err.message);
    int64_t windows = 0, last_seek = -1;
    for (int i = 0; i < r.n_segments; i++)
        if (r.segments[i].seek != last_seek) windows++, last_seek = r.segments[i].seek;
    printf("    %d segments over %lld windows, %.1f s of audio; last segment ends at %.2f s\n", r.n_segments,
           (long long)windows, r.duration, r.n_segments ? r.segments[r.n_segments - 1].end : 0.0);
    CHECK(windows >= 2, "the 45.9 s clip took %lld window(s)", (long long)windows);
    CHECK(v.ordered && v.n == r.n_segments && v.last_done == 1.0, "callback: %d segments, done %.3f", v.n, v.last_done);
    for (int i = 1; i < r.n_segments; i++)
        CHECK(r.segments[i].start >= r.segments[i - 1].start - 1e-9, "segment %d starts before %d", i, i - 1);
    loam_whisper_result_free(&r);
    loam_whisper_free(w);
}

/* whisper.cpp files cut short or with a bad header: a clear error naming
 * the file, never a crash (the copies live in a temporary folder). */
static void test_bad_ggml_files(void) {
    FILE *f = fopen(fixture("whisper/tiny-v3/ggml-model.bin"), "rb");
    CHECK(f, "no ggml-model.bin");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size);
    CHECK(buf && fread(buf, 1, (size_t)size, f) == (size_t)size, "read");
    fclose(f);
    struct { const char *what; long len; int at; int32_t value; } cases[] = {
        {"4 bytes", 4, -1, 0},           {"the header only", 48, -1, 0},     {"cut in the vocabulary", 20000, -1, 0},
        {"cut in a tensor", size / 2, -1, 0}, {"one byte short", size - 1, -1, 0}, {"bad magic", size, 0, 0x12345678},
        {"n_vocab 10^9", size, 4, 1000000000}, {"n_audio_state -5", size, 12, -5}, {"n_mels 100000", size, 40, 100000},
    };
    char path[1100];
    snprintf(path, sizeof path, "%s/bad.bin", temp_dir());
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char *copy = malloc((size_t)size);
        memcpy(copy, buf, (size_t)size);
        if (cases[i].at >= 0) memcpy(copy + cases[i].at, &cases[i].value, 4);
        FILE *o = fopen(path, "wb");
        fwrite(copy, 1, (size_t)cases[i].len, o);
        fclose(o);
        free(copy);
        loam_whisper *w = NULL;
        loam_error err = {0};
        loam_status st = loam_whisper_open(path, NULL, &w, &err);
        loam_whisper_free(w);
        printf("    %s: %s\n", cases[i].what, st ? err.message : "opened");
        if (st == LOAM_OK || !strstr(err.message, "bad.bin")) free(buf);
        CHECK(st != LOAM_OK, "%s was accepted", cases[i].what);
        CHECK(strstr(err.message, "bad.bin"), "%s: the error does not name the file: %s", cases[i].what, err.message);
    }
    free(buf);
}

void register_speech_tests(void) {
    test_add("whisper: whisper.cpp files cut short or with a bad header are refused naming the file", test_bad_ggml_files);
    test_add("whisper tiny-v3 (hub folder): encoder, prefix and language logits, greedy ids, timestamp ids", test_hub_folder);
    test_add("whisper tiny-v3 from whisper.cpp's ggml-model.bin (f16): the same tensors and ids", test_ggml_f16);
    test_add("whisper tiny-v3 from ggml-model-q8_0.bin: the same ids, encoder within 0.15, logits within 1.0", test_ggml_q8_0);
    test_add("whisper: the long clip through several 30 s windows (loam_whisper_full)", test_long_form);
}
