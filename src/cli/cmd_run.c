/* loam run: prefill a prompt in one batch, then generate token by token
 * with the KV cache. stdout carries only the output; speed goes to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"

/* Fills err for an unreadable file. */
static void read_error(loam_error *err, const char *path) {
    err->code = LOAM_E_IO;
    snprintf(err->message, sizeof err->message, "cannot read %s", path);
}

static const char run_usage[] =
    "usage: loam run MODEL_DIR [PROMPT] [options]\n"
    "\n"
    "  --prompt-ids 1,2,3      the prompt as token ids; prints the generated ids, space-separated\n"
    "  PROMPT                  the prompt as text; prints the prompt and the generated text\n"
    "  -n N                    tokens to generate (default: until EOS or the context is full)\n"
    "  --temp T                temperature; 0 = greedy          (defaults for these come from\n"
    "  --top-k K               keep the K most likely             the model's generation_config.json)\n"
    "  --top-p P               keep the smallest set with probability >= P\n"
    "  --min-p P               drop tokens below P x the top probability\n"
    "  --repeat-penalty R      HF repetition penalty over prompt and output (1 = off)\n"
    "  --presence-penalty A    OpenAI presence penalty over the output (0 = off)\n"
    "  --frequency-penalty A   OpenAI frequency penalty over the output (0 = off)\n"
    "  --seed S                random seed (default: from the clock; printed on stderr)\n"
    "  --ignore-eos            do not stop at the end-of-sequence token\n"
    "  -t, --threads N         threads (default: physical cores)\n"
    "  -c, --ctx-size N        context positions (default: the model's, at most 4096)\n"
    "  --kv-type T             KV cache storage: f32 (default, exact), f16, q8_0\n"
    "  --bf16-dot              BF16 weights: bf16-rounded activations and AVX512-BF16 dot products\n"
    "                          (faster prefill, not exact; ignored where the CPU lacks AVX512-BF16)\n"
    "  --dump FILE             write logits, hidden states, step logits and ids to a .safetensors file\n"
    "  --no-echo               with a text prompt, print only the continuation\n"
    "  --chat                  wrap the text prompt as a user message in the model's chat template\n"
    "  --chat-template FILE    the Jinja chat template to use (implies --chat)\n";

typedef struct {
    const char *model_dir, *prompt_text, *dump_path, *template_path;
    int chat;
    int32_t *prompt;
    int n_prompt;
    long n_predict, n_threads, n_ctx;
    loam_kv_type kv_type;
    int bf16_dot;
    int ignore_eos, no_echo;
    loam_sampling_params sampling;
    /* which sampling flags were given (the rest come from the model) */
    int set_temp, set_top_k, set_top_p, set_min_p, set_rep, set_pres, set_freq, set_seed;
} run_options;

static int parse_run_args(int argc, char **argv, run_options *o) {
    memset(o, 0, sizeof *o);
    o->n_predict = -1;
    o->sampling = loam_sampling_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        long n;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(run_usage, stdout);
            exit(0);
        } else if (strcmp(a, "--prompt-ids") == 0) {
            if (!val || (o->n_prompt = cli_int_list(val, &o->prompt)) < 0)
                return cli_error("--prompt-ids needs a comma-separated list of integers");
            i++;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--n-predict") == 0) {
            if (!cli_int(a, val, -1, 1 << 30, &o->n_predict)) return 1;
            i++;
        } else if (strcmp(a, "--temp") == 0) {
            if (!cli_float(a, val, &d)) return 1;
            o->sampling.temperature = (float)d, o->set_temp = 1, i++;
        } else if (strcmp(a, "--top-k") == 0) {
            if (!cli_int(a, val, 0, 1 << 30, &n)) return 1;
            o->sampling.top_k = (int)n, o->set_top_k = 1, i++;
        } else if (strcmp(a, "--top-p") == 0) {
            if (!cli_float(a, val, &d)) return 1;
            o->sampling.top_p = (float)d, o->set_top_p = 1, i++;
        } else if (strcmp(a, "--min-p") == 0) {
            if (!cli_float(a, val, &d)) return 1;
            o->sampling.min_p = (float)d, o->set_min_p = 1, i++;
        } else if (strcmp(a, "--repeat-penalty") == 0) {
            if (!cli_float(a, val, &d)) return 1;
            o->sampling.repetition_penalty = (float)d, o->set_rep = 1, i++;
        } else if (strcmp(a, "--presence-penalty") == 0) {
            if (!cli_float(a, val, &d)) return 1;
            o->sampling.presence_penalty = (float)d, o->set_pres = 1, i++;
        } else if (strcmp(a, "--frequency-penalty") == 0) {
            if (!cli_float(a, val, &d)) return 1;
            o->sampling.frequency_penalty = (float)d, o->set_freq = 1, i++;
        } else if (strcmp(a, "--seed") == 0) {
            if (!cli_float(a, val, &d) || d < 0) return cli_error("--seed needs a non-negative integer");
            o->sampling.seed = (uint64_t)d, o->set_seed = 1, i++;
        } else if (strcmp(a, "--ignore-eos") == 0) {
            o->ignore_eos = 1;
        } else if (strcmp(a, "--chat") == 0) {
            o->chat = 1;
        } else if (strcmp(a, "--chat-template") == 0) {
            if (!val) return cli_error("--chat-template needs a file");
            o->template_path = val, o->chat = 1, i++;
        } else if (strcmp(a, "--no-echo") == 0) {
            o->no_echo = 1;
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) {
            if (!cli_int(a, val, 1, 1024, &o->n_threads)) return 1;
            i++;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--ctx-size") == 0) {
            if (!cli_int(a, val, 1, 1 << 24, &o->n_ctx)) return 1;
            i++;
        } else if (strcmp(a, "--kv-type") == 0) {
            if (!val || !loam_kv_type_parse(val, &o->kv_type)) return cli_error("--kv-type needs f32, f16 or q8_0");
            i++;
        } else if (strcmp(a, "--bf16-dot") == 0) {
            o->bf16_dot = 1;
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
    return 0;
}

/* Sampling = the model's defaults, overridden flag by flag. */
static loam_sampling_params effective_sampling(const loam_model *model, const run_options *o) {
    loam_sampling_params p = loam_model_sampling_params(model);
    if (o->set_temp) p.temperature = o->sampling.temperature;
    if (o->set_top_k) p.top_k = o->sampling.top_k;
    if (o->set_top_p) p.top_p = o->sampling.top_p;
    if (o->set_min_p) p.min_p = o->sampling.min_p;
    if (o->set_rep) p.repetition_penalty = o->sampling.repetition_penalty;
    if (o->set_pres) p.presence_penalty = o->sampling.presence_penalty;
    if (o->set_freq) p.frequency_penalty = o->sampling.frequency_penalty;
    p.seed = o->set_seed ? o->sampling.seed : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    return p;
}

typedef struct {
    float *prompt_logits, *hidden, *step_logits;
    int32_t *ids;
    int n_steps;
} dump_data;

static int write_dump(const char *path, const loam_model_info *info, int n_prompt, const dump_data *d) {
    loam_named_tensor t[4] = {
        {"logits", LOAM_DTYPE_F32, 2, {n_prompt, info->n_vocab}, d->prompt_logits},
        {"hidden_states", LOAM_DTYPE_F32, 3, {info->n_layers + 1, n_prompt, info->n_embd}, d->hidden},
        {"logits_step", LOAM_DTYPE_F32, 2, {d->n_steps, info->n_vocab}, d->step_logits},
        {"greedy_ids", LOAM_DTYPE_I32, 1, {d->n_steps}, d->ids},
    };
    loam_error err;
    if (loam_write_safetensors(path, t, 4, &err) != LOAM_OK) return cli_error_status(&err);
    return 0;
}

static int is_eos(const loam_model_info *info, int32_t tok) {
    for (int i = 0; i < info->n_eos; i++)
        if (info->eos_ids[i] == tok) return 1;
    return 0;
}

int cmd_run(int argc, char **argv) {
    run_options o;
    if (parse_run_args(argc, argv, &o)) return 1;
    if (o.prompt_text && o.n_prompt > 0) return cli_error("run: give the prompt as text or as --prompt-ids, not both");

    loam_error err = {0};
    loam_model_params mp = loam_model_default_params();
    mp.n_threads = (int)o.n_threads;
    mp.bf16_dot = o.bf16_dot;
    loam_model *model = NULL;
    if (loam_model_open(o.model_dir, &mp, &model, &err) != LOAM_OK) {
        free(o.prompt);
        return cli_error_status(&err);
    }
    loam_model_info info;
    loam_model_get_info(model, &info);
    /* text mode: the model folder's tokenizer, prompt encoded as transformers
     * does (add_special_tokens), output streamed as text */
    loam_tokenizer *tok = NULL;
    loam_detok_stream *stream = NULL;
    if (o.chat && !o.prompt_text) {
        loam_model_free(model);
        free(o.prompt);
        return cli_error("run: --chat needs a text prompt");
    }
    char *chat_prompt = NULL;
    if (o.prompt_text) {
        if (loam_tokenizer_open(o.model_dir, &tok, &err) == LOAM_OK && o.chat) {
            /* the prompt as one user message, rendered by the template; the
             * template writes BOS itself, so no special tokens are added */
            char *tpl = o.template_path ? cli_read_file(o.template_path) : NULL;
            cJSON *msgs = cJSON_CreateArray(), *m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "role", "user");
            cJSON_AddStringToObject(m, "content", o.prompt_text);
            cJSON_AddItemToArray(msgs, m);
            char *json = cJSON_PrintUnformatted(msgs);
            if (o.template_path && !tpl) read_error(&err, o.template_path);
            else if (loam_chat_apply_template(tok, tpl, json, NULL, NULL, 1, &chat_prompt, &err) == LOAM_OK) o.prompt_text = chat_prompt;
            free(json);
            free(tpl);
            cJSON_Delete(msgs);
        }
        if (err.code != LOAM_OK ||
            loam_tokenize(tok, o.prompt_text, strlen(o.prompt_text), !o.chat, &o.prompt, &o.n_prompt, &err) != LOAM_OK ||
            loam_detok_stream_open(tok, 1, &stream, &err) != LOAM_OK) {
            loam_detok_stream_free(stream);
            loam_tokenizer_free(tok);
            loam_model_free(model);
            free(o.prompt);
            free(chat_prompt);
            return cli_error_status(&err);
        }
    }
    if (o.n_prompt == 0) { /* no prompt: start from BOS, as llama2.c does */
        if (info.bos_id < 0) {
            loam_detok_stream_free(stream);
            loam_tokenizer_free(tok);
            loam_model_free(model);
            return cli_error("run: the model has no BOS token; give a prompt with --prompt-ids");
        }
        o.prompt = malloc(sizeof *o.prompt);
        o.prompt[0] = info.bos_id;
        o.n_prompt = 1;
    }

    int rc = 1;
    loam_context *ctx = NULL;
    loam_sampler *sampler = NULL;
    dump_data dump = {0};
    int32_t *rows_tok = NULL, *rows_pos = NULL, *rows_seq = NULL;
    int8_t *rows_want = NULL;
    loam_context_params cp = loam_context_default_params();
    cp.n_ctx = (int)o.n_ctx;
    cp.capture_hidden = o.dump_path != NULL;
    cp.kv_type = o.kv_type;
    if (loam_context_open(model, &cp, &ctx, &err) != LOAM_OK) goto done;
    int n_ctx = cp.n_ctx > 0 ? cp.n_ctx : (info.n_ctx_train > 0 && info.n_ctx_train < 4096 ? info.n_ctx_train : 4096);
    if (o.n_prompt >= n_ctx) {
        cli_error("run: the prompt (%d tokens) does not fit the context (%d)", o.n_prompt, n_ctx);
        goto cleanup;
    }
    long n_predict = o.n_predict < 0 || o.n_predict > n_ctx - o.n_prompt ? n_ctx - o.n_prompt : o.n_predict;

    loam_sampling_params sp = effective_sampling(model, &o);
    if (loam_sampler_open(&sp, info.n_vocab, &sampler, &err) != LOAM_OK) goto done;
    if (!o.set_seed && sp.temperature > 0) fprintf(stderr, "seed: %llu\n", (unsigned long long)sp.seed);
    for (int i = 0; i < o.n_prompt; i++) loam_sampler_accept(sampler, o.prompt[i], 1);

    /* prefill: the whole prompt in one batch */
    rows_tok = malloc((size_t)o.n_prompt * sizeof *rows_tok);
    rows_pos = malloc((size_t)o.n_prompt * sizeof *rows_pos);
    rows_seq = calloc((size_t)o.n_prompt, sizeof *rows_seq);
    rows_want = calloc((size_t)o.n_prompt, 1);
    if (o.dump_path) {
        dump.prompt_logits = malloc((size_t)o.n_prompt * info.n_vocab * sizeof(float));
        dump.hidden = malloc((size_t)(info.n_layers + 1) * o.n_prompt * info.n_embd * sizeof(float));
        dump.step_logits = malloc((size_t)(n_predict > 0 ? n_predict : 1) * info.n_vocab * sizeof(float));
    }
    dump.ids = malloc((size_t)(n_predict > 0 ? n_predict : 1) * sizeof(int32_t));
    if (!rows_tok || !rows_pos || !rows_seq || !rows_want || !dump.ids ||
        (o.dump_path && (!dump.prompt_logits || !dump.hidden || !dump.step_logits))) {
        cli_error("out of memory");
        goto cleanup;
    }
    for (int i = 0; i < o.n_prompt; i++) {
        rows_tok[i] = o.prompt[i];
        rows_pos[i] = i;
        rows_want[i] = o.dump_path || i == o.n_prompt - 1;
    }
    loam_batch batch = {o.n_prompt, rows_tok, rows_pos, rows_seq, rows_want};
    double t0 = cli_now();
    if (loam_decode(ctx, &batch, &err) != LOAM_OK) goto done;
    double t_prompt = cli_now() - t0;
    if (o.dump_path) {
        for (int i = 0; i < o.n_prompt; i++) {
            memcpy(dump.prompt_logits + (size_t)i * info.n_vocab, loam_get_logits(ctx, i), (size_t)info.n_vocab * sizeof(float));
            for (int l = 0; l <= info.n_layers; l++)
                memcpy(dump.hidden + ((size_t)l * o.n_prompt + i) * info.n_embd, loam_get_hidden(ctx, l, i),
                       (size_t)info.n_embd * sizeof(float));
        }
    }

    /* the prompt goes through the stream too, so decoders that depend on
     * position (a leading space dropped) treat the output as a continuation */
    for (int i = 0; stream && i < o.n_prompt; i++) {
        const char *piece;
        size_t len;
        if (loam_detok_stream_push(stream, o.prompt[i], &piece, &len, &err) != LOAM_OK) goto done;
        if (!o.no_echo) fwrite(piece, 1, len, stdout);
    }
    fflush(stdout);

    /* generation: one token per step through the KV cache */
    const float *logits = loam_get_logits(ctx, o.n_prompt - 1);
    double t1 = cli_now();
    int pos = o.n_prompt;
    for (long step = 0; step < n_predict; step++) {
        if (o.dump_path)
            memcpy(dump.step_logits + (size_t)step * info.n_vocab, logits, (size_t)info.n_vocab * sizeof(float));
        int32_t tok = loam_sampler_sample(sampler, logits);
        loam_sampler_accept(sampler, tok, 0);
        dump.ids[dump.n_steps++] = tok;
        if (stream) {
            const char *piece;
            size_t len;
            if (loam_detok_stream_push(stream, tok, &piece, &len, &err) != LOAM_OK) goto done;
            fwrite(piece, 1, len, stdout);
        } else {
            printf(step ? " %d" : "%d", tok);
        }
        fflush(stdout);
        if ((!o.ignore_eos && is_eos(&info, tok)) || step + 1 == n_predict) break;
        loam_batch one = {1, &tok, &pos, rows_seq, NULL};
        if (loam_decode(ctx, &one, &err) != LOAM_OK) goto done;
        logits = loam_get_logits(ctx, 0);
        pos++;
    }
    printf("\n");
    double t_gen = cli_now() - t1;
    fprintf(stderr, "prompt: %d tokens, %.1f tokens/s | generated: %d tokens, %.1f tokens/s\n", o.n_prompt,
            o.n_prompt / (t_prompt > 0 ? t_prompt : 1e-9), dump.n_steps,
            dump.n_steps > 1 ? (dump.n_steps - 1) / (t_gen > 0 ? t_gen : 1e-9) : 0.0);
    rc = o.dump_path ? write_dump(o.dump_path, &info, o.n_prompt, &dump) : 0;
    goto cleanup;
done:
    rc = cli_error_status(&err);
cleanup:
    free(rows_tok);
    free(rows_pos);
    free(rows_seq);
    free(rows_want);
    free(dump.prompt_logits);
    free(dump.hidden);
    free(dump.step_logits);
    free(dump.ids);
    free(o.prompt);
    loam_sampler_free(sampler);
    loam_context_free(ctx);
    loam_detok_stream_free(stream);
    loam_tokenizer_free(tok);
    loam_model_free(model);
    free(chat_prompt);
    return rc;
}
