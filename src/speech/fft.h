/* A complex FFT of any length that factors into small primes (Whisper's
 * n_fft is 400 = 2⁴·5²), in double precision. The log-mel front end is a
 * ten-thousandth of a window's work, so a plain mixed-radix transform is
 * fast enough, and owning it keeps the library free of a planner's
 * process-wide state (FFTW's planner is not thread-safe). */
#ifndef LOAM_SPEECH_FFT_H
#define LOAM_SPEECH_FFT_H
#include "loam.h"

typedef struct speech_fft {
    int n;
    int factors[32];
    int n_factors;
    double *tw_re, *tw_im; /* exp(−2πi j / n), j < n */
} speech_fft;

/* n ≥ 1 whose prime factors are all ≤ 64. */
loam_status speech_fft_init(speech_fft *f, int n, loam_error *err);
void speech_fft_free(speech_fft *f);
/* X[k] = Σ_j x[j] e^{−2πi jk/n} for k < n: x real (n values), out_re/out_im n values each. */
void speech_fft_real(speech_fft *f, const double *x, double *out_re, double *out_im);

#endif
