/* Whisper's front end against fixtures/whisper/frontend: the slaney filter
 * bank, the log-mel of jfk.wav, of the long clip's first 30 s (its own
 * max), of the 44.1 kHz stereo clip (downmix + resample), the FFT against
 * a plain DFT, and the long-form max over the whole file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loam_speech.h"
#include "speech/audio.h"
#include "speech/fft.h"
#include "speech/mel.h"
#include "test.h"

static const float *golden_f32(const golden *g, const char *name, size_t n) {
    const loam_tensor *t = golden_tensor(g, name);
    return t && t->type == LOAM_T_F32 && (size_t)loam_tensor_nelements(t) == n ? t->data : NULL;
}

static void test_fft_vs_dft(void) {
    int sizes[] = {1, 2, 3, 8, 12, 400, 49};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        int n = sizes[si];
        speech_fft f;
        loam_error err;
        CHECK_OK(speech_fft_init(&f, n, &err), &err);
        double *x = malloc(sizeof(double) * n), *re = malloc(sizeof(double) * n), *im = malloc(sizeof(double) * n);
        for (int j = 0; j < n; j++) x[j] = sin(0.37 * j * j + 1.0) + 0.25 * j;
        speech_fft_real(&f, x, re, im);
        double worst = 0;
        for (int k = 0; k < n; k++) {
            double sr = 0, si2 = 0;
            for (int j = 0; j < n; j++) sr += x[j] * cos(2 * M_PI * j * k / n), si2 -= x[j] * sin(2 * M_PI * j * k / n);
            worst = fmax(worst, fmax(fabs(sr - re[k]), fabs(si2 - im[k])));
        }
        free(x), free(re), free(im);
        speech_fft_free(&f);
        CHECK(worst < 1e-9 * n, "fft n=%d differs from the DFT by %g", n, worst);
    }
    speech_fft f;
    loam_error err;
    CHECK(speech_fft_init(&f, 67 * 2, &err) != LOAM_OK, "a prime factor over 64 is refused");
}

static void test_mel_filters(void) {
    golden g;
    CHECK(golden_open(&g, fixture("whisper/frontend")), "no frontend golden");
    const float *want = golden_f32(&g, "mel_filters", 128 * 201);
    CHECK(want, "golden mel_filters [128, 201] missing");
    float *got = malloc(sizeof(float) * 128 * 201);
    speech_mel_filters(128, got);
    double d = max_abs_diff(got, want, 128 * 201), tol = golden_tol(&g, "mel_filters");
    free(got);
    golden_close(&g);
    printf("    mel_filters max_abs %.3g (tol %.3g)\n", d, tol);
    CHECK(tol > 0 && d <= tol, "mel_filters differ by %g (tol %g)", d, tol);
}

/* the one-window log-mel of an audio file against a golden tensor */
static void check_mel(const char *audio, const char *name, double tol_override, double mean_tol) {
    golden g;
    CHECK(golden_open(&g, fixture("whisper/frontend")), "no frontend golden");
    const float *want = golden_f32(&g, name, 128 * 3000);
    CHECK(want, "golden %s [128, 3000] missing", name);
    loam_error err;
    float *pcm = NULL;
    size_t n = 0;
    CHECK_OK(loam_audio_load(fixture(audio), 0, &pcm, &n, &err), &err);
    speech_mel m;
    CHECK_OK(speech_mel_init(&m, 128, &err), &err);
    float *mel = malloc(sizeof(float) * 128 * 3000);
    size_t k = n < MEL_WINDOW_SAMPLES ? n : MEL_WINDOW_SAMPLES;
    float max = speech_mel_log10(&m, pcm, k, MEL_WINDOW_SAMPLES, 0, 3000, mel, 3000);
    speech_mel_normalize(mel, 128 * 3000, max);
    double d = max_abs_diff(mel, want, 128 * 3000), mean = 0;
    for (size_t i = 0; i < 128 * 3000; i++) mean += fabs(mel[i] - want[i]);
    mean /= 128 * 3000;
    double tol = tol_override > 0 ? tol_override : golden_tol(&g, name);
    printf("    %s: %zu samples, max_abs %.3g mean_abs %.3g (tol %.3g)\n", name, n, d, mean, tol);
    free(mel), loam_audio_free(pcm), speech_mel_free(&m), golden_close(&g);
    CHECK(tol > 0 && d <= tol, "%s differs by %g (tol %g)", name, d, tol);
    CHECK(mean_tol <= 0 || mean <= mean_tol, "%s mean_abs %g over %g", name, mean, mean_tol);
}

static void test_mel_jfk(void) { check_mel("audio/jfk.wav", "mel", 0, 0); }
static void test_mel_long_window(void) { check_mel("audio/jfk_northwind_long.wav", "mel_long", 0, 0); }
static void test_mel_stereo_44k1(void) { check_mel("audio/jfk_44k1_stereo.wav", "mel_jfk_44k1_stereo", 0.25, 0.002); }
static void test_mel_flac(void) { check_mel("audio/jfk.flac", "mel_jfk_44k1_stereo", 0.25, 0.002); }

/* transcribe()'s long form: one max over the whole file + 30 s of zeros;
 * on jfk.wav its first window equals the single-window golden, and on the
 * long clip the global max is at least the first window's own. */
static void test_mel_global_max(void) {
    golden g;
    CHECK(golden_open(&g, fixture("whisper/frontend")), "no frontend golden");
    const float *want = golden_f32(&g, "mel", 128 * 3000);
    loam_error err;
    float *pcm = NULL;
    size_t n = 0;
    CHECK_OK(loam_audio_load(fixture("audio/jfk.wav"), 0, &pcm, &n, &err), &err);
    speech_mel m;
    CHECK_OK(speech_mel_init(&m, 128, &err), &err);
    float *mel = malloc(sizeof(float) * 128 * 3000);
    size_t total = n + MEL_WINDOW_SAMPLES;
    float max = speech_mel_max(&m, pcm, n, total);
    speech_mel_log10(&m, pcm, n, total, 0, 3000, mel, 3000);
    speech_mel_normalize(mel, 128 * 3000, max);
    double d = max_abs_diff(mel, want, 128 * 3000);
    loam_audio_free(pcm);
    CHECK_OK(loam_audio_load(fixture("audio/jfk_northwind_long.wav"), 0, &pcm, &n, &err), &err);
    float whole = speech_mel_max(&m, pcm, n, n + MEL_WINDOW_SAMPLES);
    float first = speech_mel_log10(&m, pcm, MEL_WINDOW_SAMPLES, MEL_WINDOW_SAMPLES, 0, 3000, mel, 3000);
    float tail = speech_mel_log10(&m, pcm, n, n + MEL_WINDOW_SAMPLES, 3000, 3000, mel, 3000);
    free(mel), loam_audio_free(pcm), speech_mel_free(&m), golden_close(&g);
    printf("    jfk transcribe-style vs golden %.3g; long clip: global max %.4f, first window %.4f, rest %.4f\n", d,
           whole, first, tail);
    CHECK(d <= 4.5e-4, "transcribe-style first window differs from the golden by %g", d);
    CHECK(whole >= first - 1e-4f && whole >= tail && whole <= fmaxf(first, tail) + 1e-4f,
          "global max %g vs windows %g / %g", whole, first, tail);
}

/* loam_whisper_mel (the public stage) is the same computation */
void register_speech_frontend_tests(void) {
    test_add("speech: the mixed-radix FFT equals a plain DFT (n = 1, 2, 3, 8, 12, 400, 49)", test_fft_vs_dft);
    test_add("speech: slaney mel filter bank equals the golden", test_mel_filters);
    test_add("speech: log-mel of jfk.wav equals the golden", test_mel_jfk);
    test_add("speech: log-mel of the long clip's first 30 s (own max) equals mel_long", test_mel_long_window);
    test_add("speech: 44.1 kHz stereo WAV downmixed and resampled, log-mel within the README's bound", test_mel_stereo_44k1);
    test_add("speech: FLAC (44.1 kHz stereo 24-bit) decoded, log-mel within the same bound", test_mel_flac);
    test_add("speech: transcribe()'s global max over the whole file (+30 s of zeros)", test_mel_global_max);
}
