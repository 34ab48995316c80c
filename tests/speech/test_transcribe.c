/* loam transcribe end to end on tiny-v3 and untrusted audio: the --dump
 * tensors against the goldens (mel with transcribe()'s global max, encoder
 * output, the prompt's logits, language logits, the first window's greedy
 * ids with timestamps), the output files' formats, stdin, and malformed
 * or hostile audio files refused with a clear error or bounded work. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "loam_speech.h"
#include "speech/whisper.h"
#include "test.h"

static const float *f32(const loam_st_file *st, const char *name, size_t n) {
    const loam_tensor *t = loam_st_find(st, name);
    return t && t->type == LOAM_T_F32 && (size_t)loam_tensor_nelements(t) == n ? t->data : NULL;
}

static void test_dump_matches_goldens(void) {
    const char *dir = whisper_hub_copy();
    CHECK(dir, "copy");
    char cmd[4096], dump[1100], *out = NULL;
    snprintf(dump, sizeof dump, "%s/jfk-dump.safetensors", temp_dir());
    /* greedy with timestamps and no fallback: the window's first ids are the golden's */
    snprintf(cmd, sizeof cmd, "%s transcribe %s %s -l en --beam-size 1 --temperature-inc 0 -t 2 --dump %s 2>&1", LOAM_BIN, dir,
             fixture("audio/jfk.wav"), dump);
    int rc = run_capture(cmd, &out);
    CHECK(rc == 0, "transcribe exit %d:\n%s", rc, out);
    free(out);
    golden g, fe;
    CHECK(golden_open(&g, fixture("whisper/tiny-v3")) && golden_open(&fe, fixture("whisper/frontend")), "goldens");
    loam_st_file st;
    loam_error err;
    CHECK_OK(loam_st_open(&st, dump, &err), &err);
    double d_mel = max_abs_diff(f32(&st, "mel", 128 * 3000), golden_tensor(&fe, "mel")->data, 128 * 3000);
    double d_enc = max_abs_diff(f32(&st, "encoder_out", 1500 * 64), golden_tensor(&g, "encoder_out")->data, 1500 * 64);
    const float *logits = f32(&st, "decoder_logits", 3 * 51866);
    CHECK(logits, "decoder_logits [3, 51866] (prompt sot, en, transcribe)");
    double d_log = max_abs_diff(logits, golden_tensor(&g, "decoder_logits")->data, 3 * 51866);
    const loam_tensor *ids = loam_st_find(&st, "ids");
    const cJSON *want = cJSON_GetObjectItem(g.json, "greedy_ids_ts");
    int n_want = cJSON_GetArraySize(want), same = ids && ids->type == LOAM_T_I32 && loam_tensor_nelements(ids) >= n_want;
    for (int i = 0; same && i < n_want; i++) same = ((const int32_t *)ids->data)[i] == cJSON_GetArrayItem(want, i)->valueint;
    printf("    dump: mel %.3g, encoder_out %.3g, decoder_logits %.3g; ids %lld, first %d %s the golden\n", d_mel, d_enc,
           d_log, ids ? (long long)loam_tensor_nelements(ids) : 0LL, n_want, same ? "equal" : "differ from");
    CHECK(d_mel <= golden_tol(&fe, "mel") && d_enc <= golden_tol(&g, "encoder_out") && d_log <= golden_tol(&g, "decoder_logits"),
          "tensors differ");
    CHECK(same, "the first window's ids differ from greedy_ids_ts");
    CHECK(!loam_st_find(&st, "lang_logits"), "lang_logits dumped though the language was given");
    loam_st_close(&st);
    /* auto: lang_logits */
    snprintf(cmd, sizeof cmd, "%s transcribe %s - --beam-size 1 --temperature-inc 0 --dump %s < %s 2>&1", LOAM_BIN, dir, dump,
             fixture("audio/jfk.wav"));
    rc = run_capture(cmd, &out);
    CHECK(rc == 0 && strstr(out, "language: ta (detected"), "stdin + auto exit %d:\n%s", rc, out);
    free(out);
    CHECK_OK(loam_st_open(&st, dump, &err), &err);
    const float *ll = f32(&st, "lang_logits", 51866);
    double d_lang = ll ? max_abs_diff(ll, golden_tensor(&g, "lang_logits")->data, 51866) : 1e9;
    loam_st_close(&st);
    double tol_lang = golden_tol(&g, "lang_logits");
    golden_close(&g), golden_close(&fe);
    printf("    stdin, language detected: lang_logits %.3g (tol %.3g)\n", d_lang, tol_lang);
    CHECK(tol_lang > 0 && d_lang <= tol_lang, "lang_logits differ by %g", d_lang);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* --word-timestamps: every segment's words spell its text, each inside the
 * segment and in time order */
static void check_words(const char *path) {
    cJSON *j = cJSON_Parse(slurp(path));
    const cJSON *segs = cJSON_GetObjectItem(j, "segments");
    int n_words = 0, ok = cJSON_GetArraySize(segs) > 0;
    double last = 0;
    char why[512] = "";
    for (int i = 0; ok && i < cJSON_GetArraySize(segs); i++) {
        const cJSON *s = cJSON_GetArrayItem(segs, i), *ws = cJSON_GetObjectItem(s, "words");
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(s, "text"));
        double st = cJSON_GetNumberValue(cJSON_GetObjectItem(s, "start")), en = cJSON_GetNumberValue(cJSON_GetObjectItem(s, "end"));
        static char joined[1 << 16];
        joined[0] = 0;
        for (int k = 0; ok && k < cJSON_GetArraySize(ws); k++) {
            const cJSON *wd = cJSON_GetArrayItem(ws, k);
            double a = cJSON_GetNumberValue(cJSON_GetObjectItem(wd, "start")), b = cJSON_GetNumberValue(cJSON_GetObjectItem(wd, "end"));
            double p = cJSON_GetNumberValue(cJSON_GetObjectItem(wd, "probability"));
            strncat(joined, cJSON_GetStringValue(cJSON_GetObjectItem(wd, "word")), sizeof joined - strlen(joined) - 1);
            ok = a <= b + 1e-9 && a >= last - 1e-9 && a >= st - 0.011 && b <= en + 0.011 && p >= 0 && p <= 1;
            if (!ok) snprintf(why, sizeof why, "segment %d word %d: %.2f-%.2f in %.2f-%.2f after %.2f, p %.3f", i, k, a, b, st, en, last, p);
            last = a, n_words++;
        }
        if (ok && text && text[0] && strcmp(joined, text)) ok = 0, snprintf(why, sizeof why, "segment %d: words \"%.80s\" vs text \"%.80s\"", i, joined, text);
    }
    cJSON_Delete(j);
    printf("    %d words with times\n", n_words);
    CHECK(ok && n_words > 0, "word timestamps: %s", why);
}

static void test_output_files(void) {
    const char *dir = whisper_hub_copy();
    CHECK(dir, "copy");
    char cmd[4096], out_dir[1100], path[1200], *out = NULL;
    snprintf(out_dir, sizeof out_dir, "%s/outputs", temp_dir());
    mkdir(out_dir, 0700);
    snprintf(cmd, sizeof cmd, "%s transcribe %s %s -l en --beam-size 1 --temperature-inc 0 --word-timestamps --output all --output-dir %s -q",
             LOAM_BIN, dir, fixture("audio/jfk.wav"), out_dir);
    int rc = run_capture(cmd, &out);
    CHECK(rc == 0, "exit %d", rc);
    CHECK(out && strlen(out) > 0, "no text on stdout");
    free(out);
    snprintf(path, sizeof path, "%s/jfk.srt", out_dir);
    const char *srt = slurp(path);
    CHECK(srt && !strncmp(srt, "1\n00:00:", 8) && strstr(srt, " --> 00:00:"), "srt:\n%s", srt ? srt : "(none)");
    snprintf(path, sizeof path, "%s/jfk.vtt", out_dir);
    const char *vtt = slurp(path);
    CHECK(vtt && !strncmp(vtt, "WEBVTT\n\n00:", 11), "vtt:\n%s", vtt ? vtt : "(none)");
    snprintf(path, sizeof path, "%s/jfk.tsv", out_dir);
    const char *tsv = slurp(path);
    CHECK(tsv && !strncmp(tsv, "start\tend\ttext\n", 15), "tsv");
    snprintf(path, sizeof path, "%s/jfk.json", out_dir);
    cJSON *j = cJSON_Parse(slurp(path));
    const cJSON *segs = cJSON_GetObjectItem(j, "segments"), *s0 = cJSON_GetArrayItem(segs, 0);
    int ok = cJSON_IsString(cJSON_GetObjectItem(j, "text")) && cJSON_GetArraySize(segs) > 0 &&
             cJSON_IsString(cJSON_GetObjectItem(j, "language"));
    const char *keys[] = {"id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob", "compression_ratio",
                          "no_speech_prob"};
    for (size_t i = 0; ok && i < sizeof keys / sizeof keys[0]; i++) ok = cJSON_GetObjectItem(s0, keys[i]) != NULL;
    CHECK(ok, "json segments lack openai's fields");
    /* greedy: the first token is the golden's <|0.08|> (50365 + 4); the
     * segment starts there when the window has a timestamp pair, else at 0 */
    double start = cJSON_GetObjectItem(s0, "start")->valuedouble;
    int first = cJSON_GetArrayItem(cJSON_GetObjectItem(s0, "tokens"), 0)->valueint;
    cJSON_Delete(j);
    CHECK(first == 50365 + 4 && (fabs(start - 0.08) < 1e-9 || start == 0), "first segment: token %d, start %g", first, start);
    snprintf(path, sizeof path, "%s/jfk.txt", out_dir);
    CHECK(slurp(path) && strlen(slurp(path)) > 0, "txt");
    snprintf(path, sizeof path, "%s/jfk.json", out_dir);
    check_words(path);
}

/* ------------------------------------------------------------ bad input */

static void put_u32(unsigned char *p, uint32_t v) { p[0] = v, p[1] = v >> 8, p[2] = v >> 16, p[3] = v >> 24; }
static void put_u16(unsigned char *p, uint16_t v) { p[0] = v, p[1] = v >> 8; }

/* A RIFF/WAVE PCM header claiming data_bytes, followed by have_bytes of zeros. */
static const char *wav(const char *name, int channels, uint32_t rate, uint32_t data_bytes, size_t have_bytes) {
    static char path[1100];
    snprintf(path, sizeof path, "%s/%s", temp_dir(), name);
    unsigned char h[44];
    memcpy(h, "RIFF", 4), put_u32(h + 4, 36 + data_bytes), memcpy(h + 8, "WAVEfmt ", 8), put_u32(h + 16, 16);
    put_u16(h + 20, 1), put_u16(h + 22, (uint16_t)channels), put_u32(h + 24, rate), put_u32(h + 28, rate * 2 * (uint32_t)channels);
    put_u16(h + 32, (uint16_t)(2 * channels)), put_u16(h + 34, 16), memcpy(h + 36, "data", 4), put_u32(h + 40, data_bytes);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    fwrite(h, 1, sizeof h, f);
    for (size_t i = 0; i < have_bytes; i++) fputc(0, f);
    fclose(f);
    return path;
}

static void expect_refused_limit(const char *path, const char *what, const char *needle, double limit) {
    loam_error err = {0};
    float *pcm = NULL;
    size_t n = 0;
    loam_status st = loam_audio_load(path, limit, &pcm, &n, &err);
    loam_audio_free(pcm);
    printf("    %s: %s\n", what, st ? err.message : "accepted");
    CHECK(st != LOAM_OK, "%s was accepted (%zu samples)", what, n);
    CHECK(strstr(err.message, path) || strstr(err.message, "stdin"), "%s: the error does not name the file: %s", what,
          err.message);
    CHECK(!needle || strstr(err.message, needle), "%s: expected \"%s\" in: %s", what, needle, err.message);
}

static void expect_refused(const char *path, const char *what, const char *needle) {
    expect_refused_limit(path, what, needle, 0);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_bad_audio(void) {
    char path[1100];
    snprintf(path, sizeof path, "%s/empty.wav", temp_dir());
    CHECK(write_text(path, ""), "write");
    expect_refused(path, "empty file", "empty");
    snprintf(path, sizeof path, "%s/notaudio.wav", temp_dir());
    CHECK(write_text(path, "{\"this\": \"is json, not audio\"}\n"), "write");
    expect_refused(path, "non-audio file", "not an audio file");
    expect_refused(wav("zero_channels.wav", 0, 16000, 3200, 3200), "0-channel header", NULL);
    expect_refused(wav("absurd_rate.wav", 1, 4000000000u, 3200, 3200), "absurd sample rate", NULL);
    expect_refused(wav("no_data.wav", 1, 16000, 0, 0), "header without samples", "no audio");
    /* truncated: the header claims 2 s, the file holds 0.1 s — decoded as what is there */
    loam_error err = {0};
    float *pcm = NULL;
    size_t n = 0;
    CHECK_OK(loam_audio_load(wav("truncated.wav", 1, 16000, 64000, 3200), 0, &pcm, &n, &err), &err);
    loam_audio_free(pcm);
    CHECK(n == 1600, "truncated WAV: %zu samples, the file holds 1600", n);
    /* 10 hours of silence claimed by a 44-byte header: bounded work, nothing allocated for it */
    double t0 = now();
    loam_status st = loam_audio_load(wav("ten_hours.wav", 2, 48000, 0xFFFFFF00u, 4800), 0, &pcm, &n, &err);
    double secs = now() - t0;
    loam_audio_free(pcm);
    printf("    10-hour header over 4800 bytes: %s, %zu samples, %.3f s\n", st ? err.message : "ok", n, secs);
    CHECK(st == LOAM_OK && n < 1000, "10-hour header: %zu samples", n);
    /* a real long input over --max-duration: refused while reading */
    expect_refused_limit(wav("long.wav", 1, 16000, 16000 * 2 * 8, 16000 * 2 * 8), "8 s over a 5 s limit", "longer than", 5);
}

/* the CLI names the file and exits 1, never crashes, on each bad input */
static void test_cli_bad_audio(void) {
    const char *dir = whisper_hub_copy();
    CHECK(dir, "copy");
    char path[1100], cmd[4096], *out = NULL;
    snprintf(path, sizeof path, "%s/garbage.mp3", temp_dir());
    CHECK(write_text(path, "ID3\x03garbage that is not an mp3 frame at all..............................."), "write");
    snprintf(cmd, sizeof cmd, "%s transcribe %s %s 2>&1", LOAM_BIN, dir, path);
    int rc = run_capture(cmd, &out);
    CHECK(rc == 1 && out && strstr(out, "garbage.mp3"), "exit %d:\n%s", rc, out);
    free(out);
}

/* openai's dtw on a cost with a known cheapest path */
static void test_dtw(void) {
    /* 3 × 5: zeros on the path (0,0) (0,1) (1,2) (2,3) (2,4), ones elsewhere */
    double c[15];
    for (int i = 0; i < 15; i++) c[i] = 1;
    c[0] = c[1] = c[5 + 2] = c[10 + 3] = c[10 + 4] = 0;
    int rows[8], cols[8];
    int n = whisper_dtw(c, 3, 5, rows, cols);
    int want_r[] = {0, 0, 1, 2, 2}, want_c[] = {0, 1, 2, 3, 4};
    CHECK(n == 5, "path of %d steps", n);
    for (int i = 0; i < 5; i++) CHECK(rows[i] == want_r[i] && cols[i] == want_c[i], "step %d: (%d, %d)", i, rows[i], cols[i]);
}

void register_speech_cli_tests(void) {
    test_add("transcribe --dump: mel, encoder_out, prompt logits, first window's ids equal the goldens; stdin + auto language", test_dump_matches_goldens);
    test_add("transcribe --output all --word-timestamps: txt, srt, vtt, tsv, json in openai's formats; words spell each segment, in order, inside it", test_output_files);
    test_add("audio: empty, non-audio, 0 channels, absurd rate, no data, truncated, 10-hour header, over the limit", test_bad_audio);
    test_add("transcribe: a bad audio file is a clear error naming it", test_cli_bad_audio);
    test_add("speech: dynamic time warping finds the cheapest monotonic path", test_dtw);
}
