/* loam bench on a Whisper model: the encoder's seconds for one 30 s window
 * (a random log-mel: speed does not depend on it) and the decoder's ms per
 * token after the usual 4-token prompt, per thread count, beside the decode
 * bound (bytes read per token over the machine's read bandwidth) and the
 * encoder's FLOP rate; then the decoder's ms per token when it takes 5 rows
 * at once (a beam step) and a 256-token prompt, as whisper-bench times its
 * "batchd" and "prompt" runs, so the two are compared row by row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct speech_row {
    int threads;
    double enc_s, enc_gflops, dec_ms, bound_ms, bw_gbs;
    double batch_ms, prompt_ms; /* per token of a 5-token and a PROMPT_TOKENS-token decode (whisper-bench's batchd, prompt) */
} speech_row;

enum { BATCH_TOKENS = 5, PROMPT_TOKENS = 256 };

/* The best of `reps` decodes of n tokens at position 0, in ms per token:
 * a beam step's rows (5) or a window's prompt of previous text. */
static int time_rows(loam_whisper *w, int n, int reps, double *ms_per_token, loam_error *err) {
    int32_t tokens[PROMPT_TOKENS];
    for (int i = 0; i < n; i++) tokens[i] = 220 + i;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = cli_now();
        if (loam_whisper_decode(w, tokens, n, 0, err)) return 1;
        double dt = cli_now() - t0;
        if (dt < best) best = dt;
    }
    *ms_per_token = best * 1e3 / n;
    return 0;
}

/* One window's encoder FLOPs: the conv stem, four D×D projections and the
 * FFN per position and layer, and attention's two S×S products. */
static double encoder_flops(const loam_whisper_info *in) {
    double S = in->n_audio_ctx, D = in->d_model, N = 2.0 * S, M = in->n_mels, F = 4 * D;
    double stem = 2 * N * D * M * 3 + 2 * S * D * D * 3;
    double layer = 2 * S * (4 * D * D + 2 * D * F) + 2 * 2 * S * S * D;
    return stem + in->n_encoder_layers * layer;
}

static int run_one(const char *path, int threads, int n_gen, int reps, int keep_layout, speech_row *row) {
    loam_error err = {0};
    loam_whisper_params p = loam_whisper_default_params();
    p.n_threads = threads;
    p.keep_layout = keep_layout;
    loam_whisper *w = NULL;
    if (loam_whisper_open(path, &p, &w, &err)) return cli_error_status(&err);
    loam_whisper_info in;
    loam_whisper_get_info(w, &in);
    size_t n = (size_t)in.n_mels * LOAM_WHISPER_WINDOW_FRAMES;
    float *mel = malloc(sizeof(float) * n);
    if (!mel) return loam_whisper_free(w), cli_error("out of memory");
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, mel[i] = (float)((x >> 40) / 16777216.0 * 3 - 1.5);
    row->threads = threads;
    row->enc_s = 1e30;
    int rc = 0;
    for (int r = 0; r < reps && !rc; r++) {
        double t0 = cli_now();
        if (loam_whisper_encode(w, mel, &err)) rc = cli_error_status(&err);
        double dt = cli_now() - t0;
        if (dt < row->enc_s) row->enc_s = dt;
    }
    row->enc_gflops = encoder_flops(&in) / row->enc_s / 1e9;
    /* decode: the usual prompt (SOT, language, task, no timestamps), then n_gen single-token steps */
    loam_whisper_full_params fp = loam_whisper_full_default_params();
    fp.timestamps = 0;
    int32_t prompt[8];
    int n_prompt = loam_whisper_initial_tokens(w, &fp, 0, prompt, 8, &err);
    if (n_prompt < 1 || n_prompt > 8) rc = cli_error_status(&err);
    double best = 1e30;
    for (int r = 0; r < reps && !rc; r++) {
        if (loam_whisper_decode(w, prompt, n_prompt, 0, &err)) rc = cli_error_status(&err);
        double t0 = cli_now();
        for (int i = 0; i < n_gen && !rc; i++) {
            int32_t tok = 220 + i;
            if (loam_whisper_decode(w, &tok, 1, n_prompt + i, &err)) rc = cli_error_status(&err);
        }
        double dt = (cli_now() - t0) / n_gen;
        if (dt < best) best = dt;
    }
    row->dec_ms = best * 1e3;
    loam_whisper_info info;
    loam_whisper_get_info(w, &info);
    if (!rc && time_rows(w, BATCH_TOKENS, reps, &row->batch_ms, &err)) rc = cli_error_status(&err);
    if (!rc && info.n_text_ctx >= PROMPT_TOKENS && time_rows(w, PROMPT_TOKENS, reps, &row->prompt_ms, &err)) rc = cli_error_status(&err);
    row->bw_gbs = cli_bound_in_child(threads) / 1e9; /* bytes/s */
    row->bound_ms = row->bw_gbs > 0 ? (double)loam_whisper_decode_bytes(w) / (row->bw_gbs * 1e9) * 1e3 : 0;
    free(mel);
    loam_whisper_free(w);
    return rc;
}

int bench_speech(int argc, char **argv) {
    const char *path = NULL;
    int threads[16], n_threads = 0, json = 0, keep_layout = 0;
    long n_gen = 32, reps = 2, v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-t") && val) {
            char buf[128];
            snprintf(buf, sizeof buf, "%s", val);
            for (char *t = strtok(buf, ","); t && n_threads < 16; t = strtok(NULL, ","))
                if (!cli_int("-t", t, 1, 1024, &v)) return 1;
                else threads[n_threads++] = (int)v;
            i++;
        } else if (!strcmp(a, "-n") && val) {
            if (!cli_int(a, val, 1, 200, &n_gen)) return 1;
            i++;
        } else if (!strcmp(a, "-r") && val) {
            if (!cli_int(a, val, 1, 100, &reps)) return 1;
            i++;
        } else if (!strcmp(a, "--keep-layout")) {
            keep_layout = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (a[0] == '-') {
            return cli_error("bench (Whisper): options -t N[,N...], -n N (decode steps), -r N, --json; not \"%s\"", a);
        } else {
            path = a;
        }
    }
    if (!n_threads) threads[n_threads++] = loam_physical_cores();
    loam_cpu_info cpu;
    loam_cpu_get_info(&cpu);
    if (!json) cli_print_cpu_line(&cpu);
    if (json) printf("[");
    for (int k = 0; k < n_threads; k++) {
        speech_row r = {0};
        if (run_one(path, threads[k], (int)n_gen, (int)reps, keep_layout, &r)) return 1;
        if (json) {
            printf("%s\n{\"test\": \"whisper encoder 30 s\", \"threads\": %d, \"seconds\": %.4f, \"gflops\": %.1f, ", k ? "," : "",
                   r.threads, r.enc_s, r.enc_gflops);
            cli_print_cpu_json(&cpu);
            printf("},\n{\"test\": \"whisper decode\", \"threads\": %d, \"ms_per_token\": %.3f, \"bound_ms\": %.3f, "
                   "\"bw_fraction\": %.3f, \"bound_gbs\": %.2f, ",
                   r.threads, r.dec_ms, r.bound_ms, r.dec_ms > 0 ? r.bound_ms / r.dec_ms : 0, r.bw_gbs);
            cli_print_cpu_json(&cpu);
            printf("},\n{\"test\": \"whisper decode batch %d\", \"threads\": %d, \"ms_per_token\": %.3f, ", BATCH_TOKENS,
                   r.threads, r.batch_ms);
            cli_print_cpu_json(&cpu);
            if (r.prompt_ms > 0) {
                printf("},\n{\"test\": \"whisper decode prompt %d\", \"threads\": %d, \"ms_per_token\": %.3f, ",
                       PROMPT_TOKENS, r.threads, r.prompt_ms);
                cli_print_cpu_json(&cpu);
            }
            printf("}");
        } else {
            printf("threads %d: encoder %.3f s per 30 s window (%.1f GFLOP/s); decoder %.2f ms per token "
                   "(bound %.2f ms at %.1f GB/s: %.0f%% of it)\n",
                   r.threads, r.enc_s, r.enc_gflops, r.dec_ms, r.bound_ms, r.bw_gbs,
                   r.dec_ms > 0 ? 100 * r.bound_ms / r.dec_ms : 0);
            printf("threads %d: decoder rows at once: %d tokens %.2f ms per token", r.threads, BATCH_TOKENS, r.batch_ms);
            if (r.prompt_ms > 0) printf(", a %d-token prompt %.2f ms per token", PROMPT_TOKENS, r.prompt_ms);
            printf("\n");
        }
    }
    if (json) printf("\n]\n");
    return 0;
}
