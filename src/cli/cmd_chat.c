/* loam chat: an interactive conversation. Each turn the whole history goes
 * through the model's chat template; the part of the prompt already in the
 * KV cache is kept, only the new tokens are computed. The reply streams as
 * text; Ctrl-C stops a reply without leaving the chat. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const char chat_usage_head[] =
    "usage: loam chat MODEL_DIR [options]\n"
    "  --system TEXT           a system message first\n"
    "  --chat-template FILE    use this Jinja template instead of the model's\n";
static const char chat_usage_tail[] =
    "Type a message and press Enter; /reset forgets the conversation, /exit (or end of input) quits.\n";

/* Set by SIGINT: the only state a signal handler may touch. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

typedef struct {
    char model_buf[4096]; /* the resolved model path */
    const char *model_dir, *system, *template_path;
    cli_gen_flags gen;
} chat_options;

static int parse_chat_args(int argc, char **argv, chat_options *o) {
    memset(o, 0, sizeof *o);
    cli_gen_flags_init(&o->gen);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int shared = cli_gen_flag(argc, argv, &i, &o->gen);
        if (shared < 0) return CLI_PARSE_ERROR;
        if (shared) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(chat_usage_head, stdout);
            fputs(cli_gen_flags_help, stdout);
            fputs(chat_usage_tail, stdout);
            return CLI_PARSE_HELP;
        }
        if (!strcmp(a, "--system") && v) o->system = v, i++;
        else if (!strcmp(a, "--chat-template") && v) o->template_path = v, i++;
        else if (a[0] == '-') return cli_error("chat: unknown or incomplete option \"%s\"", a);
        else if (!o->model_dir) o->model_dir = a;
        else return cli_error("chat: unexpected argument \"%s\"", a);
    }
    if (!o->model_dir) return cli_error("chat: no model folder given");
    if (cli_resolve_model(o->model_dir, 1, o->model_buf, sizeof o->model_buf)) return CLI_PARSE_ERROR;
    o->model_dir = o->model_buf;
    return CLI_PARSE_OK;
}

typedef struct {
    loam_model *model;
    loam_model_info info;
    loam_tokenizer *tok;
    loam_context *ctx;
    loam_sampling_params sp;
    char *template_text;
    int n_ctx;
    int32_t *cached; /* ids whose K/V are in the cache, positions 0.. */
    int n_cached;
    int32_t stop[16];
    int n_stop;
    int ignore_eos;
} chat_state;

static int is_stop(const chat_state *c, int32_t tok) {
    for (int i = 0; !c->ignore_eos && i < c->n_stop; i++)
        if (c->stop[i] == tok) return 1;
    return 0;
}

/* Feeds ids[from..n) at their positions; logits of the last one. */
static int feed(chat_state *c, const int32_t *ids, int from, int n, loam_error *err) {
    int count = n - from;
    int32_t *pos = malloc((size_t)count * sizeof *pos), *seq = calloc((size_t)count, sizeof *seq);
    int8_t *want = calloc((size_t)count, 1);
    if (!pos || !seq || !want) {
        free(pos), free(seq), free(want);
        return cli_error("out of memory");
    }
    for (int i = 0; i < count; i++) pos[i] = from + i;
    want[count - 1] = 1;
    loam_batch b = {count, ids + from, pos, seq, want};
    loam_status st = loam_decode(c->ctx, &b, err);
    free(pos), free(seq), free(want);
    return st == LOAM_OK ? 0 : cli_error_status(err);
}

/* One assistant reply to the prompt ids; the reply text is returned. */
static char *reply(chat_state *c, const int32_t *ids, int n, long n_predict, loam_error *err) {
    /* keep the cached prefix, compute the rest (at least one token for logits) */
    int keep = 0;
    while (keep < n && keep < c->n_cached && c->cached[keep] == ids[keep]) keep++;
    if (keep == n) keep = n - 1;
    if (n >= c->n_ctx) {
        cli_error("chat: the conversation (%d tokens) no longer fits the context (%d); /reset to start over", n, c->n_ctx);
        return NULL;
    }
    if (feed(c, ids, keep, n, err)) return NULL;
    int32_t *grown = realloc(c->cached, (size_t)c->n_ctx * sizeof *grown);
    if (!grown) return NULL;
    c->cached = grown;
    memcpy(c->cached, ids, (size_t)n * sizeof *ids);
    c->n_cached = n;

    loam_sampler *s = NULL;
    loam_detok_stream *stream = NULL;
    if (loam_sampler_open(&c->sp, c->info.n_vocab, &s, err) != LOAM_OK || loam_detok_stream_open(c->tok, 1, &stream, err) != LOAM_OK) {
        loam_sampler_free(s);
        cli_error_status(err);
        return NULL;
    }
    for (int i = 0; i < n; i++) loam_sampler_accept(s, ids[i], 1);
    size_t cap = 256, len = 0;
    char *text = malloc(cap);
    if (!text) {
        loam_detok_stream_free(stream);
        loam_sampler_free(s);
        cli_error("out of memory");
        return NULL;
    }
    text[0] = 0;
    const float *logits = loam_get_logits(c->ctx, n - 1 - keep);
    interrupted = 0;
    for (long step = 0; (n_predict < 0 || step < n_predict) && c->n_cached < c->n_ctx && !interrupted; step++) {
        int32_t t = loam_sampler_sample(s, logits);
        if (is_stop(c, t)) break;
        loam_sampler_accept(s, t, 0);
        const char *piece;
        size_t pl;
        if (loam_detok_stream_push(stream, t, &piece, &pl, err) != LOAM_OK) break;
        fwrite(piece, 1, pl, stdout);
        fflush(stdout);
        if (len + pl + 1 > cap) {
            while (len + pl + 1 > cap) cap *= 2;
            char *grown_text = realloc(text, cap);
            if (!grown_text) {
                cli_error("out of memory");
                break;
            }
            text = grown_text;
        }
        memcpy(text + len, piece, pl);
        len += pl;
        text[len] = 0;
        int32_t p = c->n_cached, zero = 0;
        loam_batch one = {1, &t, &p, &zero, NULL};
        if (loam_decode(c->ctx, &one, err) != LOAM_OK) break;
        c->cached[c->n_cached++] = t;
        logits = loam_get_logits(c->ctx, 0);
    }
    if (interrupted) fputs(" [stopped]", stderr);
    interrupted = 0;
    putchar('\n');
    fflush(stdout);
    loam_detok_stream_free(stream);
    loam_sampler_free(s);
    return text;
}

static int open_chat(chat_state *c, const chat_options *o, loam_error *err) {
    memset(c, 0, sizeof *c);
    loam_model_params mp = cli_model_params(&o->gen);
    if (loam_model_open(o->model_dir, &mp, &c->model, err) != LOAM_OK) return cli_error_status(err);
    loam_model_get_info(c->model, &c->info);
    if (loam_tokenizer_open(o->model_dir, &c->tok, err) != LOAM_OK) return cli_error_status(err);
    if (o->template_path && !(c->template_text = cli_read_file(o->template_path)))
        return cli_error("chat: cannot read %s", o->template_path);
    if (!c->template_text && !loam_tokenizer_chat_template(c->tok))
        return cli_error("chat: %s has no chat template; give one with --chat-template FILE", o->model_dir);
    loam_context_params cp = cli_context_params(&o->gen);
    if (loam_context_open(c->model, &cp, &c->ctx, err) != LOAM_OK) return cli_error_status(err);
    c->n_ctx = loam_context_n_ctx(c->ctx);
    c->sp = cli_sampling(&o->gen, c->model);
    /* EOS and the model's end-of-turn token (e.g. <|eot_id|>) */
    c->n_stop = loam_stop_tokens(c->model, c->tok, 1, c->stop, 16);
    c->ignore_eos = o->gen.ignore_eos;
    return 0;
}

static void close_chat(chat_state *c) {
    free(c->cached);
    free(c->template_text);
    loam_context_free(c->ctx);
    loam_tokenizer_free(c->tok);
    loam_model_free(c->model);
}

static void add_message(cJSON *history, const char *role, const char *content) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddStringToObject(m, "content", content);
    cJSON_AddItemToArray(history, m);
}

int cmd_chat(int argc, char **argv) {
    chat_options o;
    int parsed = parse_chat_args(argc, argv, &o);
    if (parsed) return parsed == CLI_PARSE_HELP ? 0 : 1;
    chat_state c;
    loam_error err = {0};
    if (open_chat(&c, &o, &err)) {
        close_chat(&c);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint; /* no SA_RESTART: a blocked read returns */
    sigaction(SIGINT, &sa, NULL);
    cJSON *history = cJSON_CreateArray();
    if (o.system) add_message(history, "system", o.system);
    char line[65536];
    int rc = 0;
    for (;;) {
        fputs("> ", stderr);
        fflush(stderr);
        if (!fgets(line, sizeof line, stdin)) {
            if (errno == EINTR && interrupted) fputc('\n', stderr);
            break;
        }
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) break;
        if (!strcmp(line, "/reset")) {
            cJSON_Delete(history);
            history = cJSON_CreateArray();
            if (o.system) add_message(history, "system", o.system);
            continue;
        }
        add_message(history, "user", line);
        char *messages = cJSON_PrintUnformatted(history), *prompt = NULL;
        int32_t *ids = NULL;
        int n = 0;
        if (loam_chat_apply_template(c.tok, c.template_text, messages, NULL, NULL, 1, &prompt, &err) != LOAM_OK ||
            loam_tokenize(c.tok, prompt, strlen(prompt), 0, &ids, &n, &err) != LOAM_OK) {
            rc = cli_error_status(&err);
            free(messages), free(prompt), free(ids);
            break;
        }
        char *answer = n > 0 ? reply(&c, ids, n, o.gen.n_predict, &err) : NULL;
        free(messages), free(prompt), free(ids);
        if (!answer) {
            /* a failed turn is dropped from the history */
            cJSON_DeleteItemFromArray(history, cJSON_GetArraySize(history) - 1);
            continue;
        }
        add_message(history, "assistant", answer);
        free(answer);
    }
    cJSON_Delete(history);
    close_chat(&c);
    return rc;
}
