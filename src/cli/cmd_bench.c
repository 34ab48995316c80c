/* loam bench: prefill and decode speed on a model folder. Token ids are
 * arbitrary: speed does not depend on them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

static const char bench_usage[] =
    "usage: loam bench MODEL [-p N] [-n N] [-d N] [-t N[,N...]] [-r N] [-ub N] [--kv-type T] [--bf16-dot] [--keep-layout] [--json]\n"
    "       loam bench --tokenizer PATH [--text FILE]   encode speed (MB/s, one thread)\n"
    "       loam bench WHISPER_MODEL [-t N[,N...]] [-n N] [-r N] [--keep-layout] [--json]   encoder seconds per\n"
    "              30 s window, decoder ms per token beside the bandwidth bound, and per token of a 5-row\n"
    "              (beam) step and a 256-token prompt (a hub folder, GGUF or whisper.cpp .bin)\n"
    "       loam bench FLUX_TRANSFORMER.gguf [-t N] [--size S ...] [--t5-len N] [-r N] [--json]   seconds per\n"
    "              denoising step at S x S (default 512 and 1024), GOP/s beside the product's peak, peak RSS\n"
    "       loam bench FLUX_FOLDER [-t N] [--size S ...]   every stage of a FLUX.1 folder: the text encoders,\n"
    "              a denoising step and the decoder at each size, peak RSS\n"
    "       loam bench --gemm M,N,K [--type T] [-t N] [-r N] [--keep-layout] [--json]   the matrix product\n"
    "              alone: GOP/s beside the peak of its instructions measured on the same threads (T: f32,\n"
    "              f16, bf16, bf16-dot (bf16 activations, AVX512-BF16), q8_0, q4_0 (default), q5_0, q4_k, q6_k); W\n"
    "              repacked as at load unless --keep-layout. Where a VNNI tile runs it (M >= 32), also its issue\n"
    "              bound (tile bound, JSON bound_gops, bound_share): the peak loop with the type's float\n"
    "              multiply-adds per block interleaved, the most the tile can do on this CPU\n"
    "  -p N   prompt tokens for the prefill test (default 512; 0 skips it)\n"
    "  -n N   tokens for the decode test, generated from an empty cache as llama-bench does (default 128;\n"
    "         0 skips it)\n"
    "  -t N   threads, or a list like 1,2 (default: physical cores)\n"
    "  --json rows as a JSON array: test, threads, tps, tps_sd, bw_fraction (decode at depth 0: bytes\n"
    "         read per second as a share of the machine's read bandwidth, bound_gbs, measured on\n"
    "         anonymous huge-page memory with the same threads), file_read_gbs (streaming the model's\n"
    "         mapped weights), ttft_ms, gops, peak_gops, peak_fraction, peak (prefill: its GOP/s and the\n"
    "         peak of its products' instructions on the same threads), and the machine: cpu, cpu_family,\n"
    "         cpu_model, simd,\n"
    "         l1d_kb, l2_kb, l3_kb, prefetch (whether the decode kernels prefetch in software)\n"
    "  -r N   repetitions (default 3)\n"
    "  --kv-type f32|f16|q8_0   KV cache storage\n"
    "  -d N   decode after N prompt tokens already in the cache (llama-bench's depth; default 0)\n"
    "  -ub N  rows computed per slice of the prompt (default: 64..512 rows, as scratch memory\n"
    "         within 3% of the weights allows)\n"
    "  --bf16-dot             BF16 weights: bf16 activations and AVX512-BF16 dot products (not exact)\n"
    "  --keep-layout          weights as stored: no repacking at load (to measure what repacking gives)\n";

static void stats(const double *v, int n, double *mean, double *sd) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

typedef struct {
    char test[48];
    int threads;
    double tps, sd, bw_fraction, ttft_ms, bound_gbs, file_gbs;
    double gops, peak_gops; /* prefill: its rate and the peak of the instructions its products run on (0: none) */
    char peak_label[32];
} bench_row;

/* The machine's read bandwidth, measured in a child process: its 512 MiB
 * buffer then never counts in this process's peak resident memory, which
 * bench reports for the model. */
double cli_bound_in_child(int threads) {
    int fd[2];
    if (pipe(fd) != 0) return 0;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        double v = loam_measure_read_bandwidth(threads);
        _exit(write(fd[1], &v, sizeof v) == (ssize_t)sizeof v ? 0 : 1);
    }
    close(fd[1]);
    double v = 0;
    if (pid < 0 || read(fd[0], &v, sizeof v) != (ssize_t)sizeof v) v = 0;
    close(fd[0]);
    if (pid > 0) waitpid(pid, NULL, 0);
    return v;
}

/* The machine of every row, so figures from different CPUs are never
 * compared by accident. */
void cli_print_cpu_json(const loam_cpu_info *c) {
    printf("\"cpu\": \"");
    for (const char *p = c->name; *p; p++)
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if ((unsigned char)*p >= 0x20) putchar(*p);
    printf("\", \"cpu_family\": %d, \"cpu_model\": %d, \"simd\": \"%s\", \"l1d_kb\": %lld, \"l2_kb\": %lld, \"l3_kb\": %lld, "
           "\"prefetch\": %s",
           c->family, c->model, c->simd, (long long)(c->l1d_bytes >> 10), (long long)(c->l2_bytes >> 10), (long long)(c->l3_bytes >> 10),
           c->prefetch ? "true" : "false");
}

void cli_print_cpu_line(const loam_cpu_info *c) {
    fprintf(stderr, "cpu: %s (%s family %d model %d), %d logical CPUs, kernels %s, L1d %lld KiB, L2 %lld KiB, L3 %lld KiB per core, "
                    "decode prefetch %s\n",
            c->name, c->vendor, c->family, c->model, c->logical_cpus, c->simd, (long long)(c->l1d_bytes >> 10),
            (long long)(c->l2_bytes >> 10), (long long)(c->l3_bytes >> 10), c->prefetch ? "on" : "off");
}

/* prefill of n_prompt tokens, then n_gen decode steps after `depth` cached
 * positions, `reps` times */
static int bench_one(const char *path, const loam_model_params *base, int threads, long n_ubatch, long n_prompt, long n_gen, long depth, long reps, loam_kv_type kv_type, bench_row *pp,
                     bench_row *tg, double *bandwidth, double *file_bandwidth, loam_model_info *info_out) {
    loam_error err;
    loam_model_params mp = *base;
    mp.n_threads = threads;
    loam_model *model = NULL;
    if (loam_model_open(path, &mp, &model, &err) != LOAM_OK) return cli_error_status(&err);
    loam_model_info in;
    loam_model_get_info(model, &in);
    *info_out = in;
    loam_context_params cp = loam_context_default_params();
    cp.n_ctx = (int)(n_prompt > depth + n_gen ? n_prompt : depth + n_gen);
    cp.kv_type = kv_type;
    cp.n_ubatch = (int)n_ubatch;
    loam_context *ctx = NULL;
    if (loam_context_open(model, &cp, &ctx, &err) != LOAM_OK) {
        loam_model_free(model);
        return cli_error_status(&err);
    }
    /* token ids for both tests; at least one so a decode-only run has ids */
    long n_ids = n_prompt > depth ? n_prompt : depth > 0 ? depth : 1;
    int32_t *tok = malloc((size_t)n_ids * sizeof *tok), *pos = malloc((size_t)n_ids * sizeof *pos);
    int32_t *seq = calloc((size_t)n_ids, sizeof *seq);
    int8_t *want = calloc((size_t)n_ids, 1);
    double *ppv = calloc((size_t)reps, sizeof *ppv), *tgv = calloc((size_t)reps, sizeof *tgv), ttft = 1e30;
    double *fracv = calloc((size_t)reps, sizeof *fracv), bw_sum = 0, file_bw_sum = 0;
    int rc = 0;
    if (!tok || !pos || !seq || !want || !ppv || !tgv || !fracv) rc = cli_error("out of memory");
    for (long i = 0; !rc && i < n_ids; i++) tok[i] = (int32_t)((i * 7919) % in.n_vocab), pos[i] = (int32_t)i;
    if (!rc) want[n_ids - 1] = 1;
    /* one untimed run first, as llama-bench warms up (the whole prompt when
     * there is one, else a token): it reads every weight, so the first timed
     * repetition does not page the file in, and touches the prompt's
     * scratch, so it does not take the first page faults either */
    if (!rc) {
        loam_batch b = n_prompt > 0 ? (loam_batch){(int)n_prompt, tok, pos, seq, want} : (loam_batch){1, tok, pos, seq, NULL};
        if (loam_decode(ctx, &b, &err) != LOAM_OK) rc = cli_error_status(&err);
    }
    for (long r = 0; !rc && r < reps; r++) {
        if (n_prompt > 0) {
            loam_kv_seq_clear(ctx, 0);
            loam_batch b = {(int)n_prompt, tok, pos, seq, want};
            double t0 = cli_now();
            if (loam_decode(ctx, &b, &err) != LOAM_OK) { rc = cli_error_status(&err); break; }
            double dt = cli_now() - t0;
            ppv[r] = n_prompt / dt;
            if (dt < ttft) ttft = dt;
        }
        if (n_gen == 0) continue;
        /* the bound of this repetition, measured just before it (a shared
         * machine's bandwidth moves from minute to minute): the machine's
         * read bandwidth; the mapped file's read speed is reported beside it */
        double bw = cli_bound_in_child(threads), file_bw = loam_model_read_bandwidth(model, threads);
        bw_sum += bw, file_bw_sum += file_bw;
        /* decode from an empty cache, as llama-bench's tg test does, so the
         * two tools' figures compare */
        loam_kv_seq_clear(ctx, 0);
        if (depth > 0) { /* the cached context, not timed */
            loam_batch b = {(int)depth, tok, pos, seq, NULL};
            if (loam_decode(ctx, &b, &err) != LOAM_OK) { rc = cli_error_status(&err); break; }
        }
        double t0 = cli_now();
        for (long g = 0; g < n_gen; g++) {
            int32_t t = tok[g % n_ids], p = (int32_t)(depth + g);
            loam_batch one = {1, &t, &p, seq, NULL};
            if (loam_decode(ctx, &one, &err) != LOAM_OK) { rc = cli_error_status(&err); break; }
        }
        tgv[r] = n_gen / (cli_now() - t0);
        /* weights only: at a depth the KV cache reads add to them */
        fracv[r] = bw > 0 && depth == 0 ? (double)loam_model_decode_bytes(model) * tgv[r] / bw : -1;
    }
    if (!rc) {
        snprintf(pp->test, sizeof pp->test, "pp%ld", n_prompt);
        if (depth > 0) snprintf(tg->test, sizeof tg->test, "tg%ld @ d%ld", n_gen, depth);
        else snprintf(tg->test, sizeof tg->test, "tg%ld", n_gen);
        pp->threads = n_prompt > 0 ? threads : 0; /* 0: test skipped */
        tg->threads = n_gen > 0 ? threads : 0;
        stats(ppv, (int)reps, &pp->tps, &pp->sd);
        stats(tgv, (int)reps, &tg->tps, &tg->sd);
        pp->ttft_ms = ttft * 1e3;
        pp->bw_fraction = -1;
        pp->gops = n_prompt > 0 ? (double)loam_model_prefill_ops(model, (int)n_prompt) * pp->tps / (double)n_prompt / 1e9 : 0;
        tg->gops = 0;
        double frac_sd;
        stats(fracv, (int)reps, &tg->bw_fraction, &frac_sd);
        if (tg->bw_fraction < 0) tg->bw_fraction = -1;
        *bandwidth = n_gen > 0 ? bw_sum / (double)reps : 0;
        *file_bandwidth = n_gen > 0 ? file_bw_sum / (double)reps : 0;
        tg->ttft_ms = -1;
    }
    free(tok), free(pos), free(seq), free(want), free(ppv), free(tgv), free(fracv);
    loam_context_free(ctx);
    loam_model_free(model);
    return rc;
}

/* The peak of the instructions a product runs on (a bench --gemm type:
 * "q8_0" for int8 dot products, "f32" for FMA, "bf16-dot" for vdpbf16ps),
 * on the same threads, as `bench --gemm` measures it; 0 when it cannot
 * run. Its product has fewer rows than the VNNI tile takes, so no bound
 * loop runs beside the peak. */
double cli_peak_of(const char *type, int threads, char *label, size_t label_size) {
    loam_gemm_result g;
    loam_error err;
    if (loam_bench_gemm(16, 256, 256, type, threads, 1, 0, &g, &err) != LOAM_OK) return 0;
    if (label) snprintf(label, label_size, "%s", g.peak_label);
    return g.peak_gops;
}

/* A prefill's peak by kind (PEAK_INT8: quantized weights, PEAK_F32: f32
 * activations, PEAK_BF16: --bf16-dot). */
enum { PEAK_INT8, PEAK_F32, PEAK_BF16, N_PEAKS };
static double peak_of(int threads, int kind, char *label, size_t label_size) {
    static const char *types[N_PEAKS] = {"q8_0", "f32", "bf16-dot"};
    return cli_peak_of(types[kind], threads, label, label_size);
}

/* The best of the peak measured before the run (`before`, by kind) and the
 * one after it: a shared machine's speed moves from minute to minute, and
 * a peak read in a slow minute would overstate the share. */
static int peak_kind(const loam_model_info *in) {
    int quantized = strcmp(in->dtype, "f32") && strcmp(in->dtype, "f16") && strcmp(in->dtype, "bf16");
    return quantized ? PEAK_INT8 : in->bf16_dot ? PEAK_BF16 : PEAK_F32;
}

static void prefill_peak(const loam_model_info *in, int threads, const double before[N_PEAKS], bench_row *pp) {
    pp->peak_gops = 0;
    pp->peak_label[0] = 0;
    if (pp->gops <= 0) return;
    int kind = peak_kind(in);
    double after = peak_of(threads, kind, pp->peak_label, sizeof pp->peak_label);
    pp->peak_gops = after > before[kind] ? after : before[kind];
}

static int bench_model(int argc, char **argv) {
    const char *path = NULL;
    long n_prompt = 512, n_gen = 128, reps = 3, n_ubatch = 0, depth = 0;
    int threads[16], n_threads = 0, json = 0;
    loam_model_params mp = loam_model_default_params();
    loam_kv_type kv_type = LOAM_KV_F32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) return fputs(bench_usage, stdout), 0;
        if (strcmp(a, "-p") == 0) { if (!cli_int(a, v, 0, 1 << 20, &n_prompt)) return 1; i++; }
        else if (strcmp(a, "-n") == 0) { if (!cli_int(a, v, 0, 1 << 20, &n_gen)) return 1; i++; }
        else if (strcmp(a, "-d") == 0) { if (!cli_int(a, v, 0, 1 << 20, &depth)) return 1; i++; }
        else if (strcmp(a, "-ub") == 0) { if (!cli_int(a, v, 1, 1 << 16, &n_ubatch)) return 1; i++; }
        else if (strcmp(a, "-r") == 0) { if (!cli_int(a, v, 1, 1000, &reps)) return 1; i++; }
        else if (strcmp(a, "--json") == 0) json = 1;
        else if (strcmp(a, "--bf16-dot") == 0) mp.bf16_dot = 1;
        else if (strcmp(a, "--keep-layout") == 0) mp.keep_layout = 1;
        else if (strcmp(a, "--kv-type") == 0) {
            if (!v || !loam_kv_type_parse(v, &kv_type)) return cli_error("--kv-type needs f32, f16 or q8_0");
            i++;
        }
        else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) {
            if (!v) return cli_error("%s needs a list like 1,2", a);
            int32_t *list = NULL;
            int n = cli_int_list(v, &list);
            if (n <= 0 || n > 16) return free(list), cli_error("%s: expected up to 16 thread counts like 1,2", a);
            for (int k = 0; k < n; k++) {
                if (list[k] < 1 || list[k] > 1024) return free(list), cli_error("%s: bad thread count %d", a, list[k]);
                threads[n_threads++] = list[k];
            }
            free(list);
            i++;
        } else if (a[0] == '-') return cli_error("bench: unknown option \"%s\"", a);
        else path = a;
    }
    if (!path) return cli_error("bench: no model given");
    char resolved[4096];
    if (cli_resolve_model(path, 0, resolved, sizeof resolved)) return 1;
    path = resolved;
    if (n_prompt == 0 && n_gen == 0) return cli_error("bench: -p 0 and -n 0 leave nothing to measure");
    if (!n_threads) threads[n_threads++] = loam_physical_cores();
    bench_row rows[32];
    int n_rows = 0;
    loam_model_info in = {0};
    for (int k = 0; k < n_threads; k++) {
        bench_row pp, tg;
        double bw = 0, file_bw = 0, before[N_PEAKS] = {0, 0, 0};
        /* the model's kind once a run has told it, every kind it may be before */
        for (int kind = 0; n_prompt > 0 && kind < N_PEAKS; kind++)
            if (in.dtype[0] ? kind == peak_kind(&in) : kind != PEAK_BF16 || mp.bf16_dot) before[kind] = peak_of(threads[k], kind, NULL, 0);
        if (bench_one(path, &mp, threads[k], n_ubatch, n_prompt, n_gen, depth, reps, kv_type, &pp, &tg, &bw, &file_bw, &in)) return 1;
        if (!json && bw > 0)
            fprintf(stderr, "read bandwidth, %d thread%s: %.1f GB/s (memory, the bound), %.1f GB/s (the mapped weights); means of the measures before each decode run\n",
                    threads[k], threads[k] > 1 ? "s" : "", bw / 1e9, file_bw / 1e9);
        pp.bound_gbs = tg.bound_gbs = bw / 1e9;
        prefill_peak(&in, threads[k], before, &pp);
        pp.file_gbs = tg.file_gbs = file_bw / 1e9;
        if (pp.threads) rows[n_rows++] = pp;
        if (tg.threads) rows[n_rows++] = tg;
    }
    char type[40];
    snprintf(type, sizeof type, "%s%s", in.dtype, in.bf16_dot ? "+bf16-dot" : "");
    loam_cpu_info cpu;
    loam_cpu_get_info(&cpu);
    if (json) {
        printf("[");
        for (int r = 0; r < n_rows; r++) {
            printf("%s{\"test\": \"%s\", \"threads\": %d, \"tps\": %.3f, \"tps_sd\": %.3f, \"bw_fraction\": ", r ? ", " : "",
                   rows[r].test, rows[r].threads, rows[r].tps, rows[r].sd);
            if (rows[r].bw_fraction >= 0) printf("%.4f", rows[r].bw_fraction);
            else printf("null");
            if (rows[r].ttft_ms >= 0) printf(", \"ttft_ms\": %.1f", rows[r].ttft_ms);
            if (rows[r].bound_gbs > 0) printf(", \"bound_gbs\": %.2f, \"file_read_gbs\": %.2f", rows[r].bound_gbs, rows[r].file_gbs);
            if (rows[r].gops > 0) printf(", \"gops\": %.1f", rows[r].gops);
            if (rows[r].peak_gops > 0)
                printf(", \"peak_gops\": %.1f, \"peak_fraction\": %.4f, \"peak\": \"%s\"", rows[r].peak_gops, rows[r].gops / rows[r].peak_gops,
                       rows[r].peak_label);
            printf(", \"model\": \"%s\", \"size_bytes\": %llu, \"params\": %lld, \"type\": \"%s\", ", in.architecture,
                   (unsigned long long)in.weight_bytes, (long long)in.n_params, type);
            cli_print_cpu_json(&cpu);
            printf("}");
        }
        printf("]\n");
        return 0;
    }
    cli_print_cpu_line(&cpu);
    if (mp.bf16_dot && !in.bf16_dot) fprintf(stderr, "--bf16-dot: this CPU has no AVX512-BF16; the exact path ran\n");
    /* weights mapped or repacked (same bytes): peak RSS ~ weights + KV cache + scratch */
    fprintf(stderr, "peak resident memory: %.2f GiB (weights %.2f GiB)\n", loam_peak_resident_bytes() / 1073741824.0,
            in.weight_bytes / 1073741824.0);
    printf("| model | size | params | type | threads | test | t/s | of bound | time to first token |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int r = 0; r < n_rows; r++) {
        char bwf[96] = "", tt[32] = "";
        if (rows[r].bw_fraction >= 0) snprintf(bwf, sizeof bwf, "%.0f%% of read bandwidth", rows[r].bw_fraction * 100);
        else if (rows[r].peak_gops > 0)
            snprintf(bwf, sizeof bwf, "%.0f GOP/s, %.0f%% of %s %.0f", rows[r].gops, 100 * rows[r].gops / rows[r].peak_gops, rows[r].peak_label,
                     rows[r].peak_gops);
        if (rows[r].ttft_ms >= 0) snprintf(tt, sizeof tt, "%.0f ms", rows[r].ttft_ms);
        printf("| %s | %.2f GiB | %.2f B | %s | %d | %s | %.2f ± %.2f | %s | %s |\n", in.architecture, in.weight_bytes / 1073741824.0,
               in.n_params / 1e9, type, rows[r].threads, rows[r].test, rows[r].tps, rows[r].sd, bwf, tt);
    }
    return 0;
}

/* English prose for the tokenizer benchmark when no file is given. */
static const char sample_text[] =
    "The engine reads the model from the folder its publisher put on the hub, maps the weights without copying "
    "them, and runs the same computation as the reference, so that a person can use an open model on a machine "
    "they own. It was a bright cold day in April, and the clocks were striking thirteen; the tokenizer splits "
    "words, numbers like 1984 and 3.14159, punctuation (commas, quotes: \"like this\"), and contractions "
    "such as don't, we'll and it's into pieces it has seen before. ";

static int bench_tokenizer(const char *path, const char *text_path) {
    loam_error err;
    loam_tokenizer *tok = NULL;
    if (cli_check_gguf(path)) return 1;
    if (loam_tokenizer_open(path, &tok, &err) != LOAM_OK) return cli_error_status(&err);
    size_t len = 0;
    char *text = NULL;
    if (text_path) {
        if (!(text = cli_read_file(text_path))) return loam_tokenizer_free(tok), cli_error("bench: cannot read %s", text_path);
        len = strlen(text);
    } else {
        size_t unit = sizeof sample_text - 1, target = 8u << 20;
        text = malloc(target + unit + 1);
        if (!text) return loam_tokenizer_free(tok), cli_error("out of memory");
        while (len < target) memcpy(text + len, sample_text, unit), len += unit;
        text[len] = 0;
    }
    double best = 1e30;
    int n_ids = 0;
    for (int r = 0; r < 3; r++) {
        int32_t *ids = NULL;
        double t0 = cli_now();
        if (loam_tokenize(tok, text, len, 0, &ids, &n_ids, &err) != LOAM_OK) {
            free(text);
            loam_tokenizer_free(tok);
            return cli_error_status(&err);
        }
        double dt = cli_now() - t0;
        if (dt < best) best = dt;
        free(ids);
    }
    printf("| tokenizer | bytes | ids | encode MB/s (best of 3, 1 thread) |\n|---|---|---|---|\n");
    printf("| %s | %zu | %d | %.1f |\n", path, len, n_ids, len / 1e6 / best);
    free(text);
    loam_tokenizer_free(tok);
    return 0;
}

static int bench_gemm(int argc, char **argv) {
    const char *dims = NULL, *type = "q4_0";
    long reps = 5;
    int json = 0, keep_layout = 0, threads = loam_physical_cores();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--gemm") && v) dims = v, i++;
        else if (!strcmp(a, "--type") && v) type = v, i++;
        else if (!strcmp(a, "-r")) { if (!cli_int(a, v, 1, 1000, &reps)) return 1; i++; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            long t;
            if (!cli_int(a, v, 1, 1024, &t)) return 1;
            threads = (int)t, i++;
        } else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--keep-layout")) keep_layout = 1;
        else return cli_error("bench --gemm: unknown option \"%s\"", a);
    }
    int32_t *mnk = NULL;
    if (!dims || cli_int_list(dims, &mnk) != 3) return free(mnk), cli_error("bench --gemm needs M,N,K (e.g. 512,2048,2048)");
    loam_gemm_result r;
    loam_error err;
    loam_status st = loam_bench_gemm(mnk[0], mnk[1], mnk[2], type, threads, (int)reps, keep_layout, &r, &err);
    int M = mnk[0], N = mnk[1], K = mnk[2];
    free(mnk);
    if (st) return cli_error_status(&err);
    loam_cpu_info cpu;
    loam_cpu_get_info(&cpu);
    if (json) {
        printf("[{\"test\": \"gemm %d,%d,%d\", \"type\": \"%s\", \"threads\": %d, \"gops\": %.2f, \"peak_gops\": %.2f, \"peak_share\": %.4f, "
               "\"peak\": \"%s\", \"path\": \"%s\", \"ms\": %.3f, ", M, N, K, type, r.threads, r.gops, r.peak_gops,
               r.peak_gops > 0 ? r.gops / r.peak_gops : 0, r.peak_label, r.path, r.seconds * 1e3);
        if (r.bound_gops > 0) printf("\"bound_gops\": %.2f, \"bound_share\": %.4f, ", r.bound_gops, r.gops / r.bound_gops);
        cli_print_cpu_json(&cpu);
        printf("}]\n");
        return 0;
    }
    cli_print_cpu_line(&cpu);
    printf("| product M,N,K | type | path | threads | ms | GOP/s | peak GOP/s (%s) | share of peak | tile bound GOP/s | share of bound |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n",
           r.peak_label);
    char bound[64] = "- | -";
    if (r.bound_gops > 0) snprintf(bound, sizeof bound, "%.1f (%.0f%% of peak) | %.0f%%", r.bound_gops, 100 * r.bound_gops / r.peak_gops, 100 * r.gops / r.bound_gops);
    printf("| %d,%d,%d | %s | %s | %d | %.3f | %.1f | %.1f | %.0f%% | %s |\n", M, N, K, type, r.path, r.threads, r.seconds * 1e3, r.gops, r.peak_gops,
           r.peak_gops > 0 ? 100 * r.gops / r.peak_gops : 0, bound);
    return 0;
}

int cmd_bench(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--gemm") == 0) return bench_gemm(argc, argv);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--tokenizer") == 0) {
            if (i + 1 >= argc) return cli_error("--tokenizer needs a path");
            const char *text = NULL;
            for (int k = 1; k + 1 < argc; k++)
                if (strcmp(argv[k], "--text") == 0) text = argv[k + 1];
            return bench_tokenizer(argv[i + 1], text);
        }
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-' && loam_whisper_probe(argv[i])) return bench_speech(argc, argv);
    for (int i = 1; i < argc; i++) /* a FLUX.1 folder: every stage */
        if (argv[i][0] != '-' && loam_flux_probe(argv[i])) return bench_image(argc, argv);
    for (int i = 1; i < argc; i++) { /* a FLUX.1 transformer: seconds per denoising step */
        loam_file_summary fs;
        loam_error err;
        size_t n = strlen(argv[i]);
        if (argv[i][0] != '-' && n > 5 && !strcmp(argv[i] + n - 5, ".gguf") && !loam_file_summarize(argv[i], &fs, &err) &&
            !strcmp(fs.architecture, "flux"))
            return bench_image(argc, argv);
    }
    return bench_model(argc, argv);
}
