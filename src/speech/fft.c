/* Mixed-radix decimation in time: a length-n DFT is p DFTs of length n/p
 * over the p interleaved subsequences, combined with twiddles. Recursion
 * depth is the number of prime factors. */
#include "speech/fft.h"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"

loam_status speech_fft_init(speech_fft *f, int n, loam_error *err) {
    *f = (speech_fft){0};
    if (n < 1) return loam_fail(err, LOAM_E_ARG, "fft: length %d", n);
    int rest = n;
    for (int p = 2; rest > 1; p++) {
        if (p > 64) return loam_fail(err, LOAM_E_ARG, "fft: length %d has a prime factor over 64", n);
        while (rest % p == 0 && f->n_factors < 32) {
            f->factors[f->n_factors++] = p;
            rest /= p;
        }
    }
    f->n = n;
    f->tw_re = malloc(sizeof(double) * (size_t)n);
    f->tw_im = malloc(sizeof(double) * (size_t)n);
    if (!f->tw_re || !f->tw_im) {
        speech_fft_free(f);
        return loam_fail(err, LOAM_E_NOMEM, "fft: out of memory");
    }
    for (int j = 0; j < n; j++) {
        double a = -2.0 * M_PI * (double)j / (double)n;
        f->tw_re[j] = cos(a);
        f->tw_im[j] = sin(a);
    }
    return LOAM_OK;
}

void speech_fft_free(speech_fft *f) {
    free(f->tw_re);
    free(f->tw_im);
    *f = (speech_fft){0};
}

/* out[0..m) = DFT of the real x[0], x[stride], … (m values), factors fac. */
static void fft_rec(const speech_fft *f, const double *x, int stride, double *re, double *im, int m, const int *fac) {
    int p = fac[0], q = m / p, N = f->n;
    if (q == 1) {
        for (int i = 0; i < p; i++) re[i] = x[(size_t)i * stride], im[i] = 0;
    } else {
        for (int s = 0; s < p; s++) fft_rec(f, x + (size_t)s * stride, stride * p, re + s * q, im + s * q, q, fac + 1);
    }
    if (p == 1) return;
    /* X[k + r q] = Σ_s W_m^{s(k + r q)} Y_s[k], Y_s = sub-DFT s */
    double yr[64], yi[64];
    int step_m = N / m, step_p = N / p;
    for (int k = 0; k < q; k++) {
        for (int s = 0; s < p; s++) {
            int t = (s * k * step_m) % N;
            double a = re[s * q + k], b = im[s * q + k];
            yr[s] = a * f->tw_re[t] - b * f->tw_im[t];
            yi[s] = a * f->tw_im[t] + b * f->tw_re[t];
        }
        for (int r = 0; r < p; r++) {
            double sr = 0, si = 0;
            for (int s = 0; s < p; s++) {
                int t = ((s * r) % p) * step_p;
                sr += yr[s] * f->tw_re[t] - yi[s] * f->tw_im[t];
                si += yr[s] * f->tw_im[t] + yi[s] * f->tw_re[t];
            }
            re[r * q + k] = sr;
            im[r * q + k] = si;
        }
    }
}

void speech_fft_real(speech_fft *f, const double *x, double *out_re, double *out_im) {
    if (f->n == 1) {
        out_re[0] = x[0], out_im[0] = 0;
        return;
    }
    fft_rec(f, x, 1, out_re, out_im, f->n, f->factors);
}
