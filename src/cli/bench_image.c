/* loam bench on a FLUX.1 folder (every stage) or a FLUX.1 transformer file (loam synth --like flux.1-schnell,
 * or a GGUF of the real one): seconds per denoising step for each image
 * size asked (default 512 and 1024), beside the operations' rate and the
 * share of the machine's peak for the product that path uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A whole FLUX.1 folder (a hub folder, or loam synth --like flux.1-schnell
 * -o DIR): the text encoders once, then for each size the second of two
 * denoising steps (the first pages the transformer in) and the decoder, on
 * fixed ids and seeded noise (the values do not change the time). */
static int bench_folder(const char *path, const int *sizes, int n_sizes, long threads) {
    loam_flux_open_params op = loam_flux_default_open_params();
    op.n_threads = (int)threads;
    loam_flux *f = NULL;
    loam_error err;
    if (loam_flux_open(path, &op, &f, &err)) return cli_error_status(&err);
    loam_flux_info in;
    loam_flux_get_info(f, &in);
    int32_t *clip = calloc((size_t)in.clip_len, 4), *t5 = calloc((size_t)in.t5_len, 4);
    float *pooled = malloc(sizeof(float) * in.clip_dim), *txt = malloc(sizeof(float) * in.t5_len * in.t5_dim);
    int rc = 0;
    double t0 = cli_now();
    if (!clip || !t5 || !pooled || !txt) rc = cli_error("bench: out of memory");
    else if (loam_flux_encode_text(f, clip, t5, in.t5_len, pooled, txt, &err)) rc = cli_error_status(&err);
    else printf("flux text encoders (CLIP-L %d + T5 %d tokens): %.2f s\n", in.clip_len, in.t5_len, cli_now() - t0);
    for (int i = 0; !rc && i < n_sizes; i++) {
        int S = sizes[i], L = (S / 16) * (S / 16);
        size_t lat = (size_t)in.latent_channels * (S / 8) * (S / 8);
        float *z = malloc(sizeof(float) * lat), *x = malloc(sizeof(float) * lat), *v = malloc(sizeof(float) * lat);
        float *img = malloc(sizeof(float) * 3 * S * S);
        double step = 0, dec = 0;
        if (!z || !x || !v || !img) rc = cli_error("bench: out of memory for %d x %d", S, S);
        if (!rc) loam_flux_noise(1, S, S, z), loam_flux_pack(z, in.latent_channels, S / 8, S / 8, x);
        for (int k = 0; !rc && k < 2; k++) {
            t0 = cli_now();
            if (loam_flux_velocity(f, x, S, S, txt, in.t5_len, pooled, 1.0f, 3.5f, v, NULL, &err)) rc = cli_error_status(&err);
            step = cli_now() - t0;
        }
        t0 = cli_now();
        if (!rc && loam_flux_decode(f, z, S, S, img, &err)) rc = cli_error_status(&err);
        dec = cli_now() - t0;
        if (!rc)
            printf("flux %4d x %-4d (%d image tokens): step %.2f s, decoder %.2f s, peak RSS %.2f GiB\n", S, S, L, step, dec,
                   loam_peak_resident_bytes() / 1073741824.0);
        fflush(stdout);
        free(z), free(x), free(v), free(img);
    }
    free(clip), free(t5), free(pooled), free(txt);
    loam_flux_free(f);
    return rc;
}

int bench_image(int argc, char **argv) {
    const char *path = NULL;
    long threads = 0, reps = 1, t5 = 256;
    int sizes[8], n_sizes = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!cli_int(a, v, 1, 4096, &threads)) return 1;
            i++;
        } else if (!strcmp(a, "-r")) {
            if (!cli_int(a, v, 1, 100, &reps)) return 1;
            i++;
        } else if (!strcmp(a, "--t5-len")) {
            if (!cli_int(a, v, 1, 4096, &t5)) return 1;
            i++;
        } else if (!strcmp(a, "--size")) {
            long s;
            if (!cli_int(a, v, 16, 4096, &s) || n_sizes == 8) return 1;
            if (s % 16) return cli_error("--size: %ld is not a multiple of 16", s);
            sizes[n_sizes++] = (int)s, i++;
        } else if (!strcmp(a, "--json")) json = 1;
        else if (a[0] == '-') return cli_error("bench: unknown option %s for a FLUX.1 transformer (-t, -r, --size, --t5-len, --json)", a);
        else path = a;
    }
    if (!n_sizes) sizes[0] = 512, sizes[1] = 1024, n_sizes = 2;
    loam_cpu_info cpu;
    loam_cpu_get_info(&cpu);
    if (path && loam_flux_probe(path) && !json) {
        int rc = bench_folder(path, sizes, n_sizes, threads);
        if (!rc) cli_print_cpu_line(&cpu);
        return rc;
    }
    if (json) printf("[");
    for (int i = 0; i < n_sizes; i++) {
        loam_flux_bench_result r;
        loam_error err;
        if (loam_flux_bench_step(path, NULL, sizes[i], sizes[i], (int)t5, (int)threads, (int)reps, &r, &err)) return cli_error_status(&err);
        /* the peak of the instructions the products run on: int8 for quantized weights, FMA for f32 activations */
        int quantized = strcmp(r.weight_type, "f32") && strcmp(r.weight_type, "f16") && strcmp(r.weight_type, "bf16");
        char label[32] = "";
        double peak = cli_peak_of(quantized ? "q8_0" : "f32", (int)threads, label, sizeof label);
        double rate = r.gop / r.step_seconds, rss = loam_peak_resident_bytes() / 1073741824.0;
        if (json) {
            printf("%s{\"test\": \"flux_step_%d\", \"threads\": %ld, \"step_s\": %.3f, \"gops\": %.1f, \"peak_gops\": %.1f, \"peak_fraction\": %.3f, "
                   "\"type\": \"%s\", \"image_tokens\": %d, \"text_tokens\": %d, \"peak_rss_gib\": %.2f, ", i ? ", " : "", sizes[i],
                   threads ? threads : (long)loam_physical_cores(), r.step_seconds, rate, peak, peak > 0 ? rate / peak : 0, r.weight_type,
                   r.image_tokens, r.text_tokens, rss);
            cli_print_cpu_json(&cpu);
            printf("}");
        } else {
            printf("flux step %4d x %-4d %-5s %2ld threads: %8.2f s/step  %7.1f GOP/s  (%.0f%% of the %s peak %.0f GOP/s)  peak RSS %.2f GiB\n",
                   sizes[i], sizes[i], r.weight_type, threads ? threads : (long)loam_physical_cores(), r.step_seconds, rate,
                   peak > 0 ? 100 * rate / peak : 0, label, peak, rss);
        }
        fflush(stdout);
    }
    if (json) printf("]\n");
    else cli_print_cpu_line(&cpu);
    return 0;
}
