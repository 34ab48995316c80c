/* Whisper's log-mel spectrogram (openai/whisper audio.py, transformers'
 * WhisperFeatureExtractor): 16 kHz mono, STFT n_fft 400 / hop 160 with a
 * periodic Hann window, centred with reflect padding, power, the slaney
 * mel filter bank, log10, clamp to max − 8, (x + 4) / 4.
 *
 * A signal here is samples[0..n) followed by zeros up to n_total (the
 * padding to 30 s, or the 30 s of zeros transcribe() appends); the STFT's
 * reflect padding is taken at both ends of that n_total-sample signal,
 * so one frame can be computed anywhere without materialising it. */
#ifndef LOAM_SPEECH_MEL_H
#define LOAM_SPEECH_MEL_H
#include <stddef.h>
#include <stdint.h>

#include "loam.h"
#include "speech/fft.h"

#define MEL_N_FFT 400
#define MEL_HOP 160
#define MEL_N_FREQ (MEL_N_FFT / 2 + 1)
#define MEL_SAMPLE_RATE 16000
#define MEL_WINDOW_SAMPLES 480000 /* 30 s */
#define MEL_WINDOW_FRAMES 3000

typedef struct speech_mel {
    int n_mels;
    float *filters; /* [n_mels, 201] */
    int *lo, *hi;   /* each filter's nonzero frequency range [lo, hi) */
    double window[MEL_N_FFT];
    speech_fft fft;
} speech_mel;

loam_status speech_mel_init(speech_mel *m, int n_mels, loam_error *err);
void speech_mel_free(speech_mel *m);

/* The slaney filter bank (librosa.filters.mel(sr=16000, n_fft=400,
 * n_mels, htk=False, norm="slaney")), into out[n_mels, 201]. */
void speech_mel_filters(int n_mels, float *out);

/* Frames of the signal (samples, n, n_total) = n_total / 160 frames (the
 * STFT's last frame dropped). */
int64_t speech_mel_n_frames(size_t n_total);

/* out[n_mels, n_frames] (row stride `stride` ≥ n_frames) = log10(max(mel,
 * 1e-10)) of frames f0 .. f0 + n_frames − 1; frames past the signal's last
 * are log10(1e-10) = −10. Returns the largest value written. */
float speech_mel_log10(const speech_mel *m, const float *samples, size_t n, size_t n_total, int64_t f0, int n_frames,
                       float *out, int stride);

/* The largest log10 value over every frame of the signal, computed in
 * chunks (memory does not grow with the length). */
float speech_mel_max(const speech_mel *m, const float *samples, size_t n, size_t n_total);

/* x = (max(x, max − 8) + 4) / 4 over count values. */
void speech_mel_normalize(float *x, size_t count, float max);

#endif
