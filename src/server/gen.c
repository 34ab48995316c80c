/* A submitted generation as the client sees it: OpenAI's JSON or
 * server-sent events, ollama's JSON or newline-delimited JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "toolcall.h"

/* What one choice of a stream has sent so far. */
typedef struct {
    size_t seen;        /* of the request's text */
    int lp_seen;        /* logprob entries sent */
    size_t lp_offset;   /* completions' text_offset */
    int started, ended;
    int called;         /* ended with tool calls */
    char *all;          /* with tools: the whole text so far (the engine's own copy grows under its lock), */
    size_t all_len, sent; /* of which `sent` bytes went out as content */
} choice_state;

struct srv_stream {
    srv_server *server;
    srv_job job;
    choice_state c[SRV_MAX_CHOICES];
    cJSON *tools;       /* the job's tools, copied: the stream outlives the request body */
    char *out;          /* formatted bytes not yet read */
    size_t len, at, cap;
    int ended;
};

/* A token's text as clients see it: the decoded piece (SentencePiece's
 * word-start marker as a space). malloc'ed. */
static char *token_text(const loam_tokenizer *tok, int32_t id) {
    char *text = NULL;
    size_t len = 0, raw_len = 0;
    loam_error err;
    if (loam_detokenize(tok, &id, 1, 0, &text, &len, &err) != LOAM_OK) return strdup("");
    const char *raw = loam_token_str(tok, id, &raw_len);
    /* a lone SentencePiece piece loses its leading space when decoded alone */
    if (raw && raw_len >= 3 && !memcmp(raw, "\xe2\x96\x81", 3) && (len == 0 || text[0] != ' ')) {
        char *g = malloc(len + 2);
        if (g) g[0] = ' ', memcpy(g + 1, text, len + 1), free(text), text = g;
    }
    return text;
}

static cJSON *bytes_json(const char *s) {
    cJSON *a = cJSON_CreateArray();
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) cJSON_AddItemToArray(a, cJSON_CreateNumber(*c));
    return a;
}

/* OpenAI's logprobs object for n entries: chat {"content": [...]}, or
 * completions' {"tokens", "token_logprobs", "top_logprobs", "text_offset"}. */
static cJSON *logprobs_json(const srv_job *j, const srv_logprob *lp, int n, size_t *offset) {
    const loam_tokenizer *tok = srv_engine_tokenizer(j->engine);
    cJSON *o = cJSON_CreateObject();
    if (j->format == FORMAT_OPENAI_CHAT) {
        cJSON *content = cJSON_AddArrayToObject(o, "content");
        for (int i = 0; i < n; i++) {
            cJSON *e = cJSON_CreateObject(), *top = cJSON_CreateArray();
            char *t = token_text(tok, lp[i].id);
            cJSON_AddStringToObject(e, "token", t);
            cJSON_AddNumberToObject(e, "logprob", lp[i].logprob);
            cJSON_AddItemToObject(e, "bytes", bytes_json(t));
            free(t);
            for (int k = 0; k < lp[i].n_top; k++) {
                cJSON *a = cJSON_CreateObject();
                char *tt = token_text(tok, lp[i].top_id[k]);
                cJSON_AddStringToObject(a, "token", tt);
                cJSON_AddNumberToObject(a, "logprob", lp[i].top_logprob[k]);
                cJSON_AddItemToObject(a, "bytes", bytes_json(tt));
                free(tt);
                cJSON_AddItemToArray(top, a);
            }
            cJSON_AddItemToObject(e, "top_logprobs", top);
            cJSON_AddItemToArray(content, e);
        }
        cJSON_AddNullToObject(o, "refusal");
        return o;
    }
    cJSON *tokens = cJSON_AddArrayToObject(o, "tokens"), *lps = cJSON_AddArrayToObject(o, "token_logprobs");
    cJSON *tops = cJSON_AddArrayToObject(o, "top_logprobs"), *offs = cJSON_AddArrayToObject(o, "text_offset");
    for (int i = 0; i < n; i++) {
        char *t = token_text(tok, lp[i].id);
        cJSON_AddItemToArray(tokens, cJSON_CreateString(t));
        cJSON_AddItemToArray(lps, cJSON_CreateNumber(lp[i].logprob));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)*offset));
        *offset += strlen(t);
        free(t);
        cJSON *top = cJSON_CreateObject();
        for (int k = 0; k < lp[i].n_top; k++) {
            char *tt = token_text(tok, lp[i].top_id[k]);
            if (!cJSON_GetObjectItemCaseSensitive(top, tt)) cJSON_AddNumberToObject(top, tt, lp[i].top_logprob[k]);
            free(tt);
        }
        cJSON_AddItemToArray(tops, top);
    }
    return o;
}

static const char *finish_name(srv_finish f) { return f == FINISH_LENGTH ? "length" : "stop"; }

/* "tool_calls" when a choice that stopped by itself called tools (OpenAI; ollama says "stop"). */
static const char *finish_reason(const srv_job *j, srv_finish f, int called) {
    return called && f == FINISH_STOP && j->format == FORMAT_OPENAI_CHAT ? "tool_calls" : finish_name(f);
}

static void rfc3339_now(char *buf, size_t n) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t w = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + w, n - w, ".%09ldZ", ts.tv_nsec);
}

/* The prompt counts once; every choice's tokens count. */
static cJSON *usage_json(const srv_job *j) {
    const srv_request *r = j->choice[0];
    int generated = 0;
    for (int i = 0; i < j->n_choices; i++) generated += j->choice[i]->n_generated;
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", r->n_prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", generated);
    cJSON_AddNumberToObject(u, "total_tokens", r->n_prompt + generated);
    cJSON *d = cJSON_AddObjectToObject(u, "prompt_tokens_details");
    cJSON_AddNumberToObject(d, "cached_tokens", r->cached_tokens);
    return u;
}

/* ollama's closing counters, durations in nanoseconds */
static void ollama_counts(cJSON *o, const srv_request *r) {
    double prompt_s = r->t_first > r->t_submit ? r->t_first - r->t_submit : 0, gen_s = r->t_done > r->t_first ? r->t_done - r->t_first : 0;
    cJSON_AddNumberToObject(o, "total_duration", floor((r->t_done - r->t_submit) * 1e9));
    cJSON_AddNumberToObject(o, "load_duration", 0);
    cJSON_AddNumberToObject(o, "prompt_eval_count", r->n_prompt);
    cJSON_AddNumberToObject(o, "prompt_eval_duration", floor(prompt_s * 1e9));
    cJSON_AddNumberToObject(o, "eval_count", r->n_generated);
    cJSON_AddNumberToObject(o, "eval_duration", floor(gen_s * 1e9));
}

static cJSON *head(const srv_job *j, const char *object) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "object", object);
    cJSON_AddNumberToObject(o, "created", (double)j->created);
    cJSON_AddStringToObject(o, "model", j->model);
    return o;
}

static cJSON *ollama_head(const srv_job *j) {
    char when[64];
    rfc3339_now(when, sizeof when);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", j->model);
    cJSON_AddStringToObject(o, "created_at", when);
    return o;
}

/* The assistant's text in ollama's shape: {"message": {...}} for chat, {"response"} for generate. */
static void ollama_text(cJSON *o, const srv_job *j, const char *text) {
    if (j->format == FORMAT_OLLAMA_CHAT) {
        cJSON *m = cJSON_AddObjectToObject(o, "message");
        cJSON_AddStringToObject(m, "role", "assistant");
        cJSON_AddStringToObject(m, "content", text);
    } else {
        cJSON_AddStringToObject(o, "response", text);
    }
}

/* One chunk of the stream for new text of choice `index` (final: its closing one). */
static cJSON *chunk(const srv_job *j, int index, const char *text, int first, srv_finish fin, int called, cJSON *logprobs) {
    int final = fin != FINISH_NONE;
    if (j->format == FORMAT_OPENAI_CHAT || j->format == FORMAT_OPENAI_COMPLETION) {
        int chat = j->format == FORMAT_OPENAI_CHAT;
        cJSON *o = head(j, chat ? "chat.completion.chunk" : "text_completion"), *choices = cJSON_AddArrayToObject(o, "choices");
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "index", index);
        if (chat) {
            cJSON *d = cJSON_AddObjectToObject(c, "delta");
            if (first) cJSON_AddStringToObject(d, "role", "assistant");
            if (!final || first) cJSON_AddStringToObject(d, "content", text);
        } else {
            cJSON_AddStringToObject(c, "text", text);
        }
        if (logprobs) cJSON_AddItemToObject(c, "logprobs", logprobs);
        else cJSON_AddNullToObject(c, "logprobs");
        if (final) cJSON_AddStringToObject(c, "finish_reason", finish_reason(j, fin, called));
        else cJSON_AddNullToObject(c, "finish_reason");
        cJSON_AddItemToArray(choices, c);
        return o;
    }
    cJSON *o = ollama_head(j);
    ollama_text(o, j, text);
    cJSON_AddBoolToObject(o, "done", final);
    if (final) {
        cJSON_AddStringToObject(o, "done_reason", finish_reason(j, fin, called));
        ollama_counts(o, j->choice[0]);
    }
    return o;
}

/* A chunk carrying choice `index`'s tool calls (chat routes). */
static cJSON *tool_chunk(const srv_job *j, int index, int first, const srv_tool_reply *calls) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s_%d", j->id[0] ? j->id : "call", index);
    if (j->format == FORMAT_OPENAI_CHAT) {
        cJSON *o = head(j, "chat.completion.chunk"), *choices = cJSON_AddArrayToObject(o, "choices");
        cJSON *c = cJSON_CreateObject(), *d;
        cJSON_AddNumberToObject(c, "index", index);
        d = cJSON_AddObjectToObject(c, "delta");
        if (first) cJSON_AddStringToObject(d, "role", "assistant");
        cJSON_AddItemToObject(d, "tool_calls", srv_tool_calls_json(calls, prefix, 1, 1));
        cJSON_AddNullToObject(c, "logprobs");
        cJSON_AddNullToObject(c, "finish_reason");
        cJSON_AddItemToArray(choices, c);
        return o;
    }
    cJSON *o = ollama_head(j), *m = cJSON_AddObjectToObject(o, "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "content", "");
    cJSON_AddItemToObject(m, "tool_calls", srv_tool_calls_json(calls, prefix, 0, 0));
    cJSON_AddBoolToObject(o, "done", 0);
    return o;
}

static void put(srv_stream *st, const char *s, size_t n) {
    if (st->len + n > st->cap) {
        size_t cap = st->cap ? st->cap : 1024;
        while (cap < st->len + n) cap *= 2;
        char *g = realloc(st->out, cap);
        if (!g) return;
        st->out = g, st->cap = cap;
    }
    memcpy(st->out + st->len, s, n);
    st->len += n;
}

/* SSE: "data: {json}\n\n"; NDJSON: "{json}\n". */
static void put_json(srv_stream *st, cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return;
    int sse = st->job.format == FORMAT_OPENAI_CHAT || st->job.format == FORMAT_OPENAI_COMPLETION;
    if (sse) put(st, "data: ", 6);
    put(st, s, strlen(s));
    put(st, sse ? "\n\n" : "\n", sse ? 2 : 1);
    free(s);
}

srv_stream *srv_stream_new(srv_server *s, const srv_job *job) {
    srv_stream *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->server = s;
    st->job = *job;
    st->tools = cJSON_IsArray(job->tools) && cJSON_GetArraySize(job->tools) > 0 ? cJSON_Duplicate(job->tools, 1) : NULL;
    st->job.tools = st->tools;
    return st;
}

static int is_sse(const srv_job *j) { return j->format == FORMAT_OPENAI_CHAT || j->format == FORMAT_OPENAI_COMPLETION; }

/* Choice i has ended: its closing chunk, or an error object. */
static void end_choice(srv_stream *st, int i, srv_finish fin) {
    const srv_job *j = &st->job;
    const srv_request *r = j->choice[i];
    if (fin == FINISH_ERROR || fin == FINISH_CANCELLED) {
        cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "message", r->error[0] ? r->error : "the generation was stopped");
        cJSON_AddStringToObject(e, "type", "server_error");
        put_json(st, o);
    } else {
        put_json(st, chunk(j, i, "", !st->c[i].started, fin, st->c[i].called, NULL));
    }
    st->c[i].ended = 1;
}

/* Every choice has ended: the usage chunk when asked, then [DONE]. */
static void end_stream(srv_stream *st) {
    const srv_job *j = &st->job;
    if (is_sse(j) && j->include_usage) {
        cJSON *o = head(j, j->format == FORMAT_OPENAI_CHAT ? "chat.completion.chunk" : "text_completion");
        cJSON_AddArrayToObject(o, "choices");
        cJSON_AddItemToObject(o, "usage", usage_json(j));
        put_json(st, o);
    }
    if (is_sse(j)) put(st, "data: [DONE]\n\n", 14);
    st->ended = 1;
}

/* A content chunk of choice i: n bytes of text and n_lp logprob entries (either may be none). */
static void send_piece(srv_stream *st, int i, const char *text, size_t n, const srv_logprob *lp, int n_lp) {
    choice_state *c = &st->c[i];
    if (!n && !n_lp) return;
    cJSON *l = lp && is_sse(&st->job) ? logprobs_json(&st->job, lp, n_lp, &c->lp_offset) : NULL;
    char *piece = strndup(text, n);
    put_json(st, chunk(&st->job, i, piece ? piece : "", !c->started, FINISH_NONE, 0, l));
    free(piece);
    c->started = 1;
}

/* Formats what choice i has new (waiting for it when `block`). */
static void pull_choice(srv_stream *st, int i, int block) {
    choice_state *c = &st->c[i];
    srv_request *r = st->job.choice[i];
    char *text = NULL;
    size_t n = 0;
    srv_logprob *lp = NULL;
    int n_lp = 0, want_lp = r->top_logprobs >= 0;
    srv_finish fin = (block ? srv_engine_wait_lp : srv_engine_poll_lp)(st->job.engine, r, &c->seen, &text, &n,
                                                                       want_lp ? &c->lp_seen : NULL, want_lp ? &lp : NULL, &n_lp);
    const char *send = text;
    size_t n_send = n;
    if (st->tools) {
        /* text that may be a tool call waits for the end of the reply */
        char *g = realloc(c->all, c->all_len + n + 1);
        if (g) memcpy(g + c->all_len, text, n), c->all_len += n, g[c->all_len] = 0, c->all = g;
        size_t upto = c->all ? srv_tool_sendable(c->all, c->all_len, c->sent) : 0;
        srv_tool_reply calls = {0};
        int called = (fin == FINISH_STOP || fin == FINISH_LENGTH) && srv_parse_tool_calls(c->all, st->tools, &calls);
        if (fin != FINISH_NONE && !called) upto = c->all_len; /* no call after all: the rest is text */
        send = c->all ? c->all + c->sent : "";
        n_send = upto > c->sent ? upto - c->sent : 0;
        c->sent += n_send;
        if (called) {
            /* the text before the first call, then the calls (text after them is not sent) */
            send_piece(st, i, send, n_send, want_lp ? lp : NULL, n_lp);
            n_send = n_lp = 0;
            put_json(st, tool_chunk(&st->job, i, !c->started, &calls));
            srv_tool_reply_free(&calls);
            c->started = c->called = 1;
        }
    }
    send_piece(st, i, send, n_send, want_lp ? lp : NULL, n_lp);
    free(text), free(lp);
    if (fin != FINISH_NONE) end_choice(st, i, fin);
}

size_t srv_stream_read(srv_stream *st, char *buf, size_t max) {
    while (st->at == st->len) {
        if (st->ended) return 0;
        st->at = st->len = 0;
        /* wait on the first choice still running, then take what the others
         * have: they run in the same batch, so they advance together */
        int waited = 0;
        for (int i = 0; i < st->job.n_choices; i++) {
            if (st->c[i].ended) continue;
            pull_choice(st, i, !waited);
            waited = 1;
        }
        if (!waited) end_stream(st);
    }
    size_t n = st->len - st->at < max ? st->len - st->at : max;
    memcpy(buf, st->out + st->at, n);
    st->at += n;
    return n;
}

void srv_stream_cancel(srv_stream *st) {
    for (int i = 0; i < st->job.n_choices; i++) srv_engine_cancel(st->job.engine, st->job.choice[i]);
}

void srv_stream_free(srv_stream *st) {
    if (!st) return;
    for (int i = 0; i < st->job.n_choices; i++) {
        srv_engine_cancel(st->job.engine, st->job.choice[i]); /* a no-op once it has ended */
        srv_request_release(st->job.engine, st->job.choice[i]);
        free(st->c[i].all);
    }
    cJSON_Delete(st->tools);
    free(st->out);
    free(st);
}

/* Waits for choice i to end; its whole text (malloc'ed) and how it ended. */
static srv_finish wait_choice(srv_job *j, int i, char **all) {
    size_t seen = 0, n_all = 0, n;
    char *text = NULL;
    srv_finish fin;
    *all = calloc(1, 1);
    do {
        fin = srv_engine_wait(j->engine, j->choice[i], &seen, &text, &n);
        char *g = *all ? realloc(*all, n_all + n + 1) : NULL;
        if (g) memcpy(g + n_all, text, n), n_all += n, g[n_all] = 0, *all = g;
        free(text);
    } while (fin == FINISH_NONE);
    return fin;
}

/* OpenAI's choices[i] of a whole reply. */
static cJSON *openai_choice(srv_job *j, int i, const char *text, srv_finish fin) {
    const srv_request *r = j->choice[i];
    cJSON *c = cJSON_CreateObject();
    srv_tool_reply calls;
    int called = 0;
    cJSON_AddNumberToObject(c, "index", i);
    if (j->format == FORMAT_OPENAI_CHAT) {
        cJSON *m = cJSON_AddObjectToObject(c, "message");
        cJSON_AddStringToObject(m, "role", "assistant");
        called = fin != FINISH_ERROR && srv_parse_tool_calls(text, j->tools, &calls);
        if (called) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "%s_%d", j->id, i);
            if (calls.content) cJSON_AddStringToObject(m, "content", calls.content);
            else cJSON_AddNullToObject(m, "content");
            cJSON_AddItemToObject(m, "tool_calls", srv_tool_calls_json(&calls, prefix, 1, 0));
            srv_tool_reply_free(&calls);
        } else {
            cJSON_AddStringToObject(m, "content", text);
        }
    } else {
        cJSON_AddStringToObject(c, "text", text);
    }
    if (r->top_logprobs >= 0) {
        size_t offset = 0;
        cJSON_AddItemToObject(c, "logprobs", logprobs_json(j, r->lp, r->n_lp, &offset));
    } else {
        cJSON_AddNullToObject(c, "logprobs");
    }
    cJSON_AddStringToObject(c, "finish_reason", finish_reason(j, fin, called));
    return c;
}

void srv_job_finish(srv_server *s, srv_job *j, srv_reply *out) {
    if (j->stream) {
        out->status = 200;
        out->content_type = is_sse(j) ? "text/event-stream" : "application/x-ndjson";
        out->stream = srv_stream_new(s, j);
        if (!out->stream) {
            for (int i = 0; i < j->n_choices; i++) srv_engine_cancel(j->engine, j->choice[i]), srv_request_release(j->engine, j->choice[i]);
            srv_error(out, 500, NULL, NULL, "out of memory");
        }
        return;
    }
    cJSON *o = NULL, *choices = NULL;
    for (int i = 0; i < j->n_choices; i++) {
        char *all = NULL;
        srv_finish fin = wait_choice(j, i, &all);
        const srv_request *r = j->choice[i];
        if (fin == FINISH_ERROR || fin == FINISH_CANCELLED) {
            cJSON_Delete(o), o = NULL;
            srv_error(out, 500, NULL, NULL, "generation failed: %s", r->error[0] ? r->error : "stopped");
            free(all);
            break;
        }
        if (is_sse(j)) {
            if (!o) o = head(j, j->format == FORMAT_OPENAI_CHAT ? "chat.completion" : "text_completion"), choices = cJSON_AddArrayToObject(o, "choices");
            cJSON_AddItemToArray(choices, openai_choice(j, i, all ? all : "", fin));
        } else {
            o = ollama_head(j);
            srv_tool_reply calls;
            if (j->format == FORMAT_OLLAMA_CHAT && srv_parse_tool_calls(all, j->tools, &calls)) {
                cJSON *m = cJSON_AddObjectToObject(o, "message");
                cJSON_AddStringToObject(m, "role", "assistant");
                cJSON_AddStringToObject(m, "content", calls.content ? calls.content : "");
                cJSON_AddItemToObject(m, "tool_calls", srv_tool_calls_json(&calls, j->id, 0, 0));
                srv_tool_reply_free(&calls);
            } else {
                ollama_text(o, j, all ? all : "");
            }
            cJSON_AddBoolToObject(o, "done", 1);
            cJSON_AddStringToObject(o, "done_reason", finish_name(fin));
            ollama_counts(o, r);
        }
        free(all);
    }
    if (o && is_sse(j)) cJSON_AddItemToObject(o, "usage", usage_json(j));
    if (o) srv_json(out, 200, o);
    for (int i = 0; i < j->n_choices; i++) {
        srv_engine_cancel(j->engine, j->choice[i]); /* after an error, the others stop too */
        srv_request_release(j->engine, j->choice[i]);
    }
}
