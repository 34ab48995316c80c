/* The model, context and sampling flags that run, chat and serve share:
 * one parser, one help text, so the commands never drift apart. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

const char cli_gen_flags_help[] =
    "  -n N                    tokens to generate (default: until EOS or the context is full)\n"
    "  --temp T                temperature >= 0; 0 = greedy     (defaults for these come from\n"
    "  --top-k K               keep the K most likely             the model's generation_config.json)\n"
    "  --top-p P               keep the smallest set with probability >= P, 0 < P <= 1\n"
    "  --min-p P               drop tokens below P x the top probability, 0 <= P <= 1\n"
    "  --repeat-penalty R      HF repetition penalty over prompt and output (1 = off, > 0)\n"
    "  --presence-penalty A    OpenAI presence penalty over the output (0 = off, -2..2)\n"
    "  --frequency-penalty A   OpenAI frequency penalty over the output (0 = off, -2..2)\n"
    "  --seed S                random seed, an integer 0..2^64-1 (default: from the clock; printed on stderr)\n"
    "  --ignore-eos            do not stop at the end-of-sequence token\n"
    "  -t, --threads N         threads (default: physical cores)\n"
    "  -c, --ctx-size N        context positions (default: the model's, at most 4096)\n"
    "  --kv-type T             KV cache storage: f32 (default, exact), f16, q8_0\n"
    "  --bf16-dot              BF16 weights: bf16-rounded activations and AVX512-BF16 dot products\n"
    "                          (faster prefill, not exact; ignored where the CPU lacks AVX512-BF16)\n"
    "  --keep-layout           weights as stored and mapped: no repacking or copying at load\n";

void cli_gen_flags_init(cli_gen_flags *f) {
    memset(f, 0, sizeof *f);
    f->n_predict = -1;
    f->sampling = loam_sampling_default_params();
}

int cli_u64(const char *opt, const char *value, uint64_t *out) {
    if (!value) return cli_error("%s needs a value", opt), 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    /* strtoull takes "-1" as 2^64 - 1: only digits are an integer here */
    if (errno || *end || end == value || value[0] < '0' || value[0] > '9')
        return cli_error("%s: \"%s\" is not an integer in [0, 18446744073709551615]", opt, value), 0;
    *out = (uint64_t)v;
    return 1;
}

/* A float option within [lo, hi] (open at lo when lo_open). */
static int float_in(const char *opt, const char *value, double lo, int lo_open, double hi, float *out) {
    double d;
    if (!cli_float(opt, value, &d)) return 0;
    if (!isfinite(d) || d < lo || (lo_open && d == lo) || d > hi)
        return cli_error("%s: %s is outside %s%g, %g]", opt, value, lo_open ? "(" : "[", lo, hi), 0;
    *out = (float)d;
    return 1;
}

int cli_gen_flag(int argc, char **argv, int *i, cli_gen_flags *f) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    loam_sampling_params *s = &f->sampling;
    long n;
    int ok;
    if (!strcmp(a, "--ignore-eos")) return f->ignore_eos = 1, 1;
    if (!strcmp(a, "--bf16-dot")) return f->bf16_dot = 1, 1;
    if (!strcmp(a, "--keep-layout")) return f->keep_layout = 1, 1;
    if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) ok = cli_int(a, v, -1, 1 << 30, &f->n_predict);
    else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) ok = cli_int(a, v, 1, 1024, &f->n_threads);
    else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) ok = cli_int(a, v, 1, 1 << 24, &f->n_ctx);
    else if (!strcmp(a, "--kv-type")) ok = (v && loam_kv_type_parse(v, &f->kv_type)) || (cli_error("--kv-type needs f32, f16 or q8_0"), 0);
    else if (!strcmp(a, "--temp")) ok = float_in(a, v, 0, 0, 1e6, &s->temperature) && (f->set |= CLI_SET_TEMP);
    else if (!strcmp(a, "--top-k")) ok = cli_int(a, v, 0, 1 << 30, &n) && (s->top_k = (int)n, f->set |= CLI_SET_TOP_K);
    else if (!strcmp(a, "--top-p")) ok = float_in(a, v, 0, 1, 1, &s->top_p) && (f->set |= CLI_SET_TOP_P);
    else if (!strcmp(a, "--min-p")) ok = float_in(a, v, 0, 0, 1, &s->min_p) && (f->set |= CLI_SET_MIN_P);
    else if (!strcmp(a, "--repeat-penalty")) ok = float_in(a, v, 0, 1, 1e6, &s->repetition_penalty) && (f->set |= CLI_SET_REP);
    else if (!strcmp(a, "--presence-penalty")) ok = float_in(a, v, -2, 0, 2, &s->presence_penalty) && (f->set |= CLI_SET_PRES);
    else if (!strcmp(a, "--frequency-penalty")) ok = float_in(a, v, -2, 0, 2, &s->frequency_penalty) && (f->set |= CLI_SET_FREQ);
    else if (!strcmp(a, "--seed")) ok = cli_u64(a, v, &s->seed) && (f->set |= CLI_SET_SEED);
    else return 0;
    if (!ok) return -1;
    (*i)++;
    return 1;
}

loam_model_params cli_model_params(const cli_gen_flags *f) {
    loam_model_params p = loam_model_default_params();
    p.n_threads = (int)f->n_threads;
    p.bf16_dot = f->bf16_dot;
    p.keep_layout = f->keep_layout;
    return p;
}

loam_context_params cli_context_params(const cli_gen_flags *f) {
    loam_context_params p = loam_context_default_params();
    p.n_ctx = (int)f->n_ctx;
    p.kv_type = f->kv_type;
    return p;
}

loam_sampling_params cli_sampling(const cli_gen_flags *f, const loam_model *model) {
    loam_sampling_params p = loam_model_sampling_params(model);
    const loam_sampling_params *s = &f->sampling;
    if (f->set & CLI_SET_TEMP) p.temperature = s->temperature;
    if (f->set & CLI_SET_TOP_K) p.top_k = s->top_k;
    if (f->set & CLI_SET_TOP_P) p.top_p = s->top_p;
    if (f->set & CLI_SET_MIN_P) p.min_p = s->min_p;
    if (f->set & CLI_SET_REP) p.repetition_penalty = s->repetition_penalty;
    if (f->set & CLI_SET_PRES) p.presence_penalty = s->presence_penalty;
    if (f->set & CLI_SET_FREQ) p.frequency_penalty = s->frequency_penalty;
    p.seed = f->set & CLI_SET_SEED ? s->seed : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    return p;
}
