/* loam bench: prefill and decode speed on a model folder. Token ids are
 * arbitrary: speed does not depend on them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char bench_usage[] =
    "usage: loam bench MODEL_DIR [-p N] [-n N] [-t N] [-r N]\n"
    "       loam bench --tokenizer PATH [--text FILE]   encode speed (MB/s, one thread)\n"
    "  -p N   prompt tokens for the prefill test (default 512, capped by the context)\n"
    "  -n N   tokens for the decode test (default 128)\n"
    "  -t N   threads (default: physical cores)\n"
    "  -r N   repetitions (default 3)\n";

static void stats(const double *v, int n, double *mean, double *sd) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
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

int cmd_bench(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--tokenizer") == 0) {
            if (i + 1 >= argc) return cli_error("--tokenizer needs a path");
            const char *text = NULL;
            for (int k = 1; k + 1 < argc; k++)
                if (strcmp(argv[k], "--text") == 0) text = argv[k + 1];
            return bench_tokenizer(argv[i + 1], text);
        }
    const char *dir = NULL;
    long n_prompt = 512, n_gen = 128, threads = 0, reps = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) return fputs(bench_usage, stdout), 0;
        if (strcmp(a, "-p") == 0) { if (!cli_int(a, v, 1, 1 << 20, &n_prompt)) return 1; i++; }
        else if (strcmp(a, "-n") == 0) { if (!cli_int(a, v, 1, 1 << 20, &n_gen)) return 1; i++; }
        else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) { if (!cli_int(a, v, 1, 1024, &threads)) return 1; i++; }
        else if (strcmp(a, "-r") == 0) { if (!cli_int(a, v, 1, 1000, &reps)) return 1; i++; }
        else if (a[0] == '-') return cli_error("bench: unknown option \"%s\"", a);
        else dir = a;
    }
    if (!dir) return cli_error("bench: no model folder given");
    loam_error err;
    loam_model_params mp = loam_model_default_params();
    mp.n_threads = (int)threads;
    loam_model *model = NULL;
    if (loam_model_open(dir, &mp, &model, &err) != LOAM_OK) return cli_error_status(&err);
    loam_model_info in;
    loam_model_get_info(model, &in);
    loam_context_params cp = loam_context_default_params();
    cp.n_ctx = (int)(n_prompt + n_gen);
    if (in.n_ctx_train > 0 && cp.n_ctx > in.n_ctx_train) {
        cp.n_ctx = in.n_ctx_train;
        if (n_prompt >= cp.n_ctx) n_prompt = cp.n_ctx / 2;
        if (n_prompt + n_gen > cp.n_ctx) n_gen = cp.n_ctx - n_prompt;
    }
    loam_context *ctx = NULL;
    if (loam_context_open(model, &cp, &ctx, &err) != LOAM_OK) {
        loam_model_free(model);
        return cli_error_status(&err);
    }
    int32_t *tok = malloc((size_t)n_prompt * sizeof *tok), *pos = malloc((size_t)n_prompt * sizeof *pos);
    int32_t *seq = calloc((size_t)n_prompt, sizeof *seq);
    int8_t *want = calloc((size_t)n_prompt, 1);
    double *pp = calloc((size_t)reps, sizeof *pp), *tg = calloc((size_t)reps, sizeof *tg);
    int rc = 0;
    if (!tok || !pos || !seq || !want || !pp || !tg) {
        rc = cli_error("out of memory");
        goto done;
    }
    for (long i = 0; i < n_prompt; i++) tok[i] = (int32_t)((i * 7919) % in.n_vocab), pos[i] = (int32_t)i;
    want[n_prompt - 1] = 1;
    for (long r = 0; r < reps; r++) {
        loam_kv_seq_clear(ctx, 0);
        loam_batch b = {(int)n_prompt, tok, pos, seq, want};
        double t0 = cli_now();
        if (loam_decode(ctx, &b, &err) != LOAM_OK) { rc = cli_error_status(&err); goto done; }
        pp[r] = n_prompt / (cli_now() - t0);
        t0 = cli_now();
        for (long g = 0; g < n_gen; g++) {
            int32_t t = tok[g % n_prompt], p = (int32_t)(n_prompt + g);
            loam_batch one = {1, &t, &p, seq, NULL};
            if (loam_decode(ctx, &one, &err) != LOAM_OK) { rc = cli_error_status(&err); goto done; }
        }
        tg[r] = n_gen / (cli_now() - t0);
    }
    double m, sd;
    printf("| model | size | params | dtype | threads | test | t/s |\n|---|---|---|---|---|---|---|\n");
    stats(pp, (int)reps, &m, &sd);
    printf("| %s | %.2f MiB | %.2f M | %s | %d | pp%ld | %.2f ± %.2f |\n", in.architecture,
           in.weight_bytes / 1048576.0, in.n_params / 1e6, in.dtype, in.n_threads, n_prompt, m, sd);
    stats(tg, (int)reps, &m, &sd);
    printf("| %s | %.2f MiB | %.2f M | %s | %d | tg%ld | %.2f ± %.2f |\n", in.architecture,
           in.weight_bytes / 1048576.0, in.n_params / 1e6, in.dtype, in.n_threads, n_gen, m, sd);
done:
    free(tok); free(pos); free(seq); free(want); free(pp); free(tg);
    loam_context_free(ctx);
    loam_model_free(model);
    return rc;
}
