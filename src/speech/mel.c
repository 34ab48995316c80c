/* The log-mel front end; definitions in mel.h. Values are computed in
 * double and stored as float (the references compute in float32; the gap
 * is ~2e-5 in normalised units, well inside the fixtures' tolerance). */
#include "speech/mel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above. */
static double hz_to_mel(double hz) {
    const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    return hz < min_log_hz ? hz / f_sp : min_log_mel + log(hz / min_log_hz) / logstep;
}

static double mel_to_hz(double mel) {
    const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    return mel < min_log_mel ? mel * f_sp : min_log_hz * exp(logstep * (mel - min_log_mel));
}

void speech_mel_filters(int n_mels, float *out) {
    double fmax = MEL_SAMPLE_RATE / 2.0, mel_max = hz_to_mel(fmax);
    double *edges = malloc(sizeof(double) * (size_t)(n_mels + 2));
    if (!edges) return;
    for (int i = 0; i < n_mels + 2; i++) edges[i] = mel_to_hz(mel_max * i / (n_mels + 1));
    for (int i = 0; i < n_mels; i++) {
        double lower_w = edges[i + 1] - edges[i], upper_w = edges[i + 2] - edges[i + 1];
        double enorm = 2.0 / (edges[i + 2] - edges[i]);
        for (int k = 0; k < MEL_N_FREQ; k++) {
            double f = fmax * k / (MEL_N_FREQ - 1);
            double lower = (f - edges[i]) / lower_w, upper = (edges[i + 2] - f) / upper_w;
            double w = lower < upper ? lower : upper;
            out[(size_t)i * MEL_N_FREQ + k] = (float)(w > 0 ? w * enorm : 0.0);
        }
    }
    free(edges);
}

loam_status speech_mel_init(speech_mel *m, int n_mels, loam_error *err) {
    *m = (speech_mel){0};
    if (n_mels < 1 || n_mels > 512) return loam_fail(err, LOAM_E_FORMAT, "mel: %d mel bins (1..512)", n_mels);
    m->n_mels = n_mels;
    m->filters = malloc(sizeof(float) * (size_t)n_mels * MEL_N_FREQ);
    m->lo = malloc(sizeof(int) * (size_t)n_mels);
    m->hi = malloc(sizeof(int) * (size_t)n_mels);
    if (!m->filters || !m->lo || !m->hi) {
        speech_mel_free(m);
        return loam_fail(err, LOAM_E_NOMEM, "mel: out of memory");
    }
    speech_mel_filters(n_mels, m->filters);
    for (int i = 0; i < n_mels; i++) {
        const float *row = m->filters + (size_t)i * MEL_N_FREQ;
        int lo = 0, hi = MEL_N_FREQ;
        while (lo < hi && row[lo] == 0) lo++;
        while (hi > lo && row[hi - 1] == 0) hi--;
        m->lo[i] = lo, m->hi[i] = hi;
    }
    for (int j = 0; j < MEL_N_FFT; j++) m->window[j] = 0.5 - 0.5 * cos(2.0 * M_PI * j / MEL_N_FFT); /* periodic */
    loam_status st = speech_fft_init(&m->fft, MEL_N_FFT, err);
    if (st) speech_mel_free(m);
    return st;
}

void speech_mel_free(speech_mel *m) {
    free(m->filters);
    free(m->lo);
    free(m->hi);
    speech_fft_free(&m->fft);
    *m = (speech_mel){0};
}

int64_t speech_mel_n_frames(size_t n_total) { return (int64_t)(n_total / MEL_HOP); }

/* Sample i of the centred signal: the signal is reflected at both ends of
 * its n_total samples (numpy's "reflect": x[−i] = x[i]), zero past n. */
static double sample_at(const float *s, size_t n, size_t n_total, int64_t i) {
    int64_t N = (int64_t)n_total;
    if (N <= 1) return (N == 1 && n >= 1) ? s[0] : 0.0;
    int64_t period = 2 * (N - 1);
    i %= period;
    if (i < 0) i += period;
    if (i >= N) i = period - i;
    return (size_t)i < n ? s[i] : 0.0;
}

float speech_mel_log10(const speech_mel *m, const float *samples, size_t n, size_t n_total, int64_t f0, int n_frames,
                       float *out, int stride) {
    double frame[MEL_N_FFT], re[MEL_N_FFT], im[MEL_N_FFT], power[MEL_N_FREQ];
    int64_t total = speech_mel_n_frames(n_total);
    float best = -10.0f;
    for (int f = 0; f < n_frames; f++) {
        int64_t idx = f0 + f;
        if (idx >= total) {
            for (int i = 0; i < m->n_mels; i++) out[(size_t)i * stride + f] = -10.0f;
            continue;
        }
        int64_t start = idx * MEL_HOP - MEL_N_FFT / 2;
        for (int j = 0; j < MEL_N_FFT; j++) frame[j] = sample_at(samples, n, n_total, start + j) * m->window[j];
        speech_fft_real((speech_fft *)&m->fft, frame, re, im);
        for (int k = 0; k < MEL_N_FREQ; k++) power[k] = re[k] * re[k] + im[k] * im[k];
        for (int i = 0; i < m->n_mels; i++) {
            const float *w = m->filters + (size_t)i * MEL_N_FREQ;
            double e = 0;
            for (int k = m->lo[i]; k < m->hi[i]; k++) e += (double)w[k] * power[k];
            float v = (float)log10(e > 1e-10 ? e : 1e-10);
            out[(size_t)i * stride + f] = v;
            if (v > best) best = v;
        }
    }
    return best;
}

float speech_mel_max(const speech_mel *m, const float *samples, size_t n, size_t n_total) {
    enum { CHUNK = 500 };
    float *buf = malloc(sizeof(float) * (size_t)m->n_mels * CHUNK), best = -10.0f;
    if (!buf) return best;
    /* frames wholly in the zero tail add nothing: stop after the last one
     * that can see a sample */
    int64_t total = speech_mel_n_frames(n_total), last = (int64_t)(n + MEL_N_FFT) / MEL_HOP + 1;
    if (last > total) last = total;
    for (int64_t f0 = 0; f0 < last; f0 += CHUNK) {
        int k = last - f0 < CHUNK ? (int)(last - f0) : CHUNK;
        float v = speech_mel_log10(m, samples, n, n_total, f0, k, buf, CHUNK);
        if (v > best) best = v;
    }
    free(buf);
    return best;
}

void speech_mel_normalize(float *x, size_t count, float max) {
    float floor = max - 8.0f;
    for (size_t i = 0; i < count; i++) x[i] = ((x[i] > floor ? x[i] : floor) + 4.0f) / 4.0f;
}
