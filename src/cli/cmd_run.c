/* loam run: prefill a prompt in one batch, then generate token by token
 * with the KV cache. stdout carries only the output; speed goes to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const char run_usage_head[] =
    "usage: loam run MODEL_DIR [PROMPT] [options]\n"
    "\n"
    "  --prompt-ids 1,2,3      the prompt as token ids; prints the generated ids, space-separated\n"
    "  PROMPT                  the prompt as text; prints the prompt and the generated text\n"
    "  --no-echo               with a text prompt, print only the continuation\n"
    "  --chat                  wrap the text prompt as a user message in the model's chat template\n"
    "  --chat-template FILE    the Jinja chat template to use (implies --chat)\n"
    "  --dump FILE             write logits, hidden states, step logits and ids to a .safetensors file\n";

typedef struct {
    char model_buf[4096]; /* the resolved model path */
    const char *model_dir, *prompt_text, *dump_path, *template_path;
    int chat, no_echo;
    int32_t *prompt;
    int n_prompt;
    cli_gen_flags gen;
} run_options;

static int parse_run_args(int argc, char **argv, run_options *o) {
    memset(o, 0, sizeof *o);
    cli_gen_flags_init(&o->gen);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int shared = cli_gen_flag(argc, argv, &i, &o->gen);
        if (shared < 0) return CLI_PARSE_ERROR;
        if (shared) continue;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(run_usage_head, stdout);
            fputs(cli_gen_flags_help, stdout);
            return CLI_PARSE_HELP;
        } else if (strcmp(a, "--prompt-ids") == 0) {
            if (!val || (o->n_prompt = cli_int_list(val, &o->prompt)) < 0)
                return cli_error("--prompt-ids needs a comma-separated list of integers");
            i++;
        } else if (strcmp(a, "--chat") == 0) {
            o->chat = 1;
        } else if (strcmp(a, "--chat-template") == 0) {
            if (!val) return cli_error("--chat-template needs a file");
            o->template_path = val, o->chat = 1, i++;
        } else if (strcmp(a, "--no-echo") == 0) {
            o->no_echo = 1;
        } else if (strcmp(a, "--dump") == 0) {
            if (!val) return cli_error("--dump needs a file name");
            o->dump_path = val, i++;
        } else if (a[0] == '-' && a[1]) {
            return cli_error("run: unknown option \"%s\" (see loam run --help)", a);
        } else if (!o->model_dir) {
            o->model_dir = a;
        } else if (!o->prompt_text) {
            o->prompt_text = a;
        } else {
            return cli_error("run: unexpected argument \"%s\"", a);
        }
    }
    if (!o->model_dir) return cli_error("run: no model folder given (see loam run --help)");
    if (cli_resolve_model(o->model_dir, 1, o->model_buf, sizeof o->model_buf)) return CLI_PARSE_ERROR;
    o->model_dir = o->model_buf;
    if (o->prompt_text && o->n_prompt > 0) return cli_error("run: give the prompt as text or as --prompt-ids, not both");
    if (o->chat && !o->prompt_text) return cli_error("run: --chat needs a text prompt");
    return CLI_PARSE_OK;
}

/* The text prompt as one user message rendered by the chat template
 * (*out malloc'ed). The template writes BOS itself. */
static loam_status render_chat_prompt(const loam_tokenizer *tok, const run_options *o, char **out, loam_error *err) {
    char *tpl = NULL;
    if (o->template_path && !(tpl = cli_read_file(o->template_path))) {
        err->code = LOAM_E_IO;
        snprintf(err->message, sizeof err->message, "cannot read %s", o->template_path);
        return LOAM_E_IO;
    }
    cJSON *msgs = cJSON_CreateArray(), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", o->prompt_text);
    cJSON_AddItemToArray(msgs, m);
    char *json = cJSON_PrintUnformatted(msgs);
    loam_status st = json ? loam_chat_apply_template(tok, tpl, json, NULL, NULL, 1, out, err) : LOAM_E_NOMEM;
    if (!json) snprintf(err->message, sizeof err->message, "out of memory"), err->code = st;
    free(json);
    free(tpl);
    cJSON_Delete(msgs);
    return st;
}

/* What a run needs beside the options. */
typedef struct {
    loam_model *model;
    loam_model_info info;
    loam_tokenizer *tok;       /* text prompts only */
    loam_detok_stream *stream; /* text prompts only */
    loam_context *ctx;
    loam_sampler *sampler;
    int32_t stop[16];
    int n_stop;
    /* --dump */
    float *prompt_logits, *hidden, *step_logits;
    int32_t *ids;
    int n_steps;
} run_state;

/* The prompt ids: encoded from the text as transformers does
 * (add_special_tokens, or the chat template's own), or BOS alone. */
static int prepare_prompt(run_state *r, run_options *o, loam_error *err) {
    if (o->prompt_text) {
        char *chat_prompt = NULL;
        const char *text = o->prompt_text;
        loam_status st = loam_tokenizer_open(o->model_dir, &r->tok, err);
        if (!st && o->chat && !(st = render_chat_prompt(r->tok, o, &chat_prompt, err))) text = chat_prompt;
        if (!st) st = loam_tokenize(r->tok, text, strlen(text), !o->chat, &o->prompt, &o->n_prompt, err);
        if (!st) st = loam_detok_stream_open(r->tok, 1, &r->stream, err);
        free(chat_prompt);
        if (st) return cli_error_status(err);
    }
    if (o->n_prompt == 0) { /* no prompt: start from BOS, as llama2.c does */
        if (r->info.bos_id < 0) return cli_error("run: the model has no BOS token; give a prompt with --prompt-ids");
        free(o->prompt);
        if (!(o->prompt = malloc(sizeof *o->prompt))) return cli_error("out of memory");
        o->prompt[0] = r->info.bos_id;
        o->n_prompt = 1;
    }
    return 0;
}

static int is_stop(const run_state *r, int32_t tok) {
    for (int i = 0; i < r->n_stop; i++)
        if (r->stop[i] == tok) return 1;
    return 0;
}

/* Prefill: the whole prompt in one batch (logits of every row only for
 * --dump). Prints the prompt through the stream unless --no-echo, so
 * decoders that depend on position treat the output as a continuation. */
static int prefill(run_state *r, const run_options *o, double *seconds, loam_error *err) {
    int n = o->n_prompt, V = r->info.n_vocab;
    int32_t *pos = malloc((size_t)n * sizeof *pos), *seq = calloc((size_t)n, sizeof *seq);
    int8_t *want = calloc((size_t)n, 1);
    int rc = !pos || !seq || !want ? cli_error("out of memory") : 0;
    for (int i = 0; !rc && i < n; i++) pos[i] = i, want[i] = o->dump_path || i == n - 1;
    loam_batch batch = {n, o->prompt, pos, seq, want};
    double t0 = cli_now();
    if (!rc && loam_decode(r->ctx, &batch, err) != LOAM_OK) rc = cli_error_status(err);
    *seconds = cli_now() - t0;
    for (int i = 0; !rc && o->dump_path && i < n; i++) {
        memcpy(r->prompt_logits + (size_t)i * V, loam_get_logits(r->ctx, i), (size_t)V * sizeof(float));
        for (int l = 0; l <= r->info.n_layers; l++)
            memcpy(r->hidden + ((size_t)l * n + i) * r->info.n_embd, loam_get_hidden(r->ctx, l, i),
                   (size_t)r->info.n_embd * sizeof(float));
    }
    for (int i = 0; !rc && r->stream && i < n; i++) {
        const char *piece;
        size_t len;
        if (loam_detok_stream_push(r->stream, o->prompt[i], &piece, &len, err) != LOAM_OK) rc = cli_error_status(err);
        else if (!o->no_echo) fwrite(piece, 1, len, stdout);
    }
    fflush(stdout);
    free(pos), free(seq), free(want);
    return rc;
}

/* Generation: one token per step through the KV cache, printed as it
 * comes (text, or ids). */
static int generate(run_state *r, const run_options *o, long n_predict, loam_error *err) {
    const float *logits = loam_get_logits(r->ctx, o->n_prompt - 1);
    int32_t pos = o->n_prompt, seq = 0;
    for (long step = 0; step < n_predict; step++) {
        if (o->dump_path) memcpy(r->step_logits + (size_t)step * r->info.n_vocab, logits, (size_t)r->info.n_vocab * sizeof(float));
        int32_t tok = loam_sampler_sample(r->sampler, logits);
        loam_sampler_accept(r->sampler, tok, 0);
        r->ids[r->n_steps++] = tok;
        if (r->stream) {
            const char *piece;
            size_t len;
            if (loam_detok_stream_push(r->stream, tok, &piece, &len, err) != LOAM_OK) return cli_error_status(err);
            fwrite(piece, 1, len, stdout);
        } else {
            printf(step ? " %d" : "%d", tok);
        }
        fflush(stdout);
        if ((!o->gen.ignore_eos && is_stop(r, tok)) || step + 1 == n_predict) break;
        loam_batch one = {1, &tok, &pos, &seq, NULL};
        if (loam_decode(r->ctx, &one, err) != LOAM_OK) return cli_error_status(err);
        logits = loam_get_logits(r->ctx, 0);
        pos++;
    }
    printf("\n");
    return 0;
}

static int write_dump(const char *path, const run_state *r, int n_prompt) {
    const loam_model_info *in = &r->info;
    loam_named_tensor t[4] = {
        {"logits", LOAM_DTYPE_F32, 2, {n_prompt, in->n_vocab}, r->prompt_logits},
        {"hidden_states", LOAM_DTYPE_F32, 3, {in->n_layers + 1, n_prompt, in->n_embd}, r->hidden},
        {"logits_step", LOAM_DTYPE_F32, 2, {r->n_steps, in->n_vocab}, r->step_logits},
        {"greedy_ids", LOAM_DTYPE_I32, 1, {r->n_steps}, r->ids},
    };
    loam_error err;
    if (loam_write_safetensors(path, t, 4, &err) != LOAM_OK) return cli_error_status(&err);
    return 0;
}

/* Model, prompt, context, sampler and the output buffers of a run. */
static int open_run(run_state *r, run_options *o, long *n_predict, loam_error *err) {
    loam_model_params mp = cli_model_params(&o->gen);
    if (loam_model_open(o->model_dir, &mp, &r->model, err) != LOAM_OK) return cli_error_status(err);
    loam_model_get_info(r->model, &r->info);
    if (prepare_prompt(r, o, err)) return 1;
    r->n_stop = loam_stop_tokens(r->model, r->tok, o->chat, r->stop, 16);
    loam_context_params cp = cli_context_params(&o->gen);
    cp.capture_hidden = o->dump_path != NULL;
    if (loam_context_open(r->model, &cp, &r->ctx, err) != LOAM_OK) return cli_error_status(err);
    int n_ctx = loam_context_n_ctx(r->ctx);
    if (o->n_prompt >= n_ctx) return cli_error("run: the prompt (%d tokens) does not fit the context (%d)", o->n_prompt, n_ctx);
    long room = n_ctx - o->n_prompt;
    *n_predict = o->gen.n_predict < 0 || o->gen.n_predict > room ? room : o->gen.n_predict;
    loam_sampling_params sp = cli_sampling(&o->gen, r->model);
    if (loam_sampler_open(&sp, r->info.n_vocab, &r->sampler, err) != LOAM_OK) return cli_error_status(err);
    if (!(o->gen.set & CLI_SET_SEED) && sp.temperature > 0) fprintf(stderr, "seed: %llu\n", (unsigned long long)sp.seed);
    for (int i = 0; i < o->n_prompt; i++) loam_sampler_accept(r->sampler, o->prompt[i], 1);
    size_t steps = (size_t)(*n_predict > 0 ? *n_predict : 1), V = (size_t)r->info.n_vocab;
    if (!(r->ids = malloc(steps * sizeof *r->ids))) return cli_error("out of memory");
    if (o->dump_path) {
        r->prompt_logits = malloc((size_t)o->n_prompt * V * sizeof(float));
        r->hidden = malloc((size_t)(r->info.n_layers + 1) * o->n_prompt * r->info.n_embd * sizeof(float));
        r->step_logits = malloc(steps * V * sizeof(float));
        if (!r->prompt_logits || !r->hidden || !r->step_logits) return cli_error("out of memory for --dump");
    }
    return 0;
}

static void close_run(run_state *r, run_options *o) {
    free(r->prompt_logits), free(r->hidden), free(r->step_logits), free(r->ids);
    free(o->prompt);
    loam_sampler_free(r->sampler);
    loam_context_free(r->ctx);
    loam_detok_stream_free(r->stream);
    loam_tokenizer_free(r->tok);
    loam_model_free(r->model);
}

int cmd_run(int argc, char **argv) {
    run_options o;
    int parsed = parse_run_args(argc, argv, &o);
    if (parsed) {
        free(o.prompt);
        return parsed == CLI_PARSE_HELP ? 0 : 1;
    }
    run_state r;
    memset(&r, 0, sizeof r);
    loam_error err = {0};
    long n_predict = 0;
    double t_prompt = 0;
    int rc = open_run(&r, &o, &n_predict, &err);
    if (!rc) rc = prefill(&r, &o, &t_prompt, &err);
    double t1 = cli_now();
    if (!rc) rc = generate(&r, &o, n_predict, &err);
    double t_gen = cli_now() - t1;
    if (!rc)
        fprintf(stderr, "prompt: %d tokens, %.1f tokens/s | generated: %d tokens, %.1f tokens/s\n", o.n_prompt,
                o.n_prompt / (t_prompt > 0 ? t_prompt : 1e-9), r.n_steps,
                r.n_steps > 1 ? (r.n_steps - 1) / (t_gen > 0 ? t_gen : 1e-9) : 0.0);
    if (!rc && o.dump_path) rc = write_dump(o.dump_path, &r, o.n_prompt);
    close_run(&r, &o);
    return rc;
}
