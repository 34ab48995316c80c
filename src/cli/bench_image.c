/* loam bench on a FLUX.1 transformer file (loam synth --like flux.1-schnell,
 * or a GGUF of the real one): seconds per denoising step for each image
 * size asked (default 512 and 1024), beside the operations' rate and the
 * share of the machine's peak for the product that path uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
    if (json) printf("[");
    for (int i = 0; i < n_sizes; i++) {
        loam_flux_bench_result r;
        loam_error err;
        if (loam_flux_bench_step(path, NULL, sizes[i], sizes[i], (int)t5, (int)threads, (int)reps, &r, &err)) return cli_error_status(&err);
        /* the peak of the instructions the products run on: int8 for quantized weights, FMA for f32 activations */
        int quantized = strcmp(r.weight_type, "f32") && strcmp(r.weight_type, "f16") && strcmp(r.weight_type, "bf16");
        loam_gemm_result g;
        double peak = loam_bench_gemm(64, 256, 256, quantized ? "q8_0" : "f32", (int)threads, 1, &g, &err) ? 0 : g.peak_gops;
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
                   peak > 0 ? 100 * rate / peak : 0, g.peak_label, peak, rss);
        }
        fflush(stdout);
    }
    if (json) printf("]\n");
    else cli_print_cpu_line(&cpu);
    return 0;
}
