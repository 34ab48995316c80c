#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_ROWS 512 /* rows of one step: decode rows first, then prompt slices */
#define MAX_STOP_IDS 16

const double srv_hist_bounds[12] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

typedef struct {
    srv_request *req;       /* NULL: free */
    int seq;
    int32_t *tokens;        /* what the sequence's KV cache holds, in order */
    int n_tokens, cap;
    int n_fed;              /* prompt tokens already in the cache */
    int32_t last;           /* the token sampled last, decoded next step */
    int has_last;
    loam_sampler *sampler;
    loam_detok_stream *detok;
    int32_t stop_ids[MAX_STOP_IDS];
    int n_stop_ids;
    double t_last;
} srv_slot;

struct srv_engine {
    char name[128];
    loam_model *model;
    loam_tokenizer *tok;
    loam_context *ctx;
    int n_ctx, n_slots, n_queue, n_vocab;
    srv_slot *slots;
    srv_request **queue;
    int n_waiting;
    int queue_for_chat[1024];
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t thread;
    int running, stopping;
    srv_stats stats;
    float *biased; /* a row of logits with a request's logit_bias */
    int32_t *b_tok, *b_pos, *b_seq;
    int8_t *b_want;
    int *b_slot;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void observe(uint64_t *buckets, double *sum, uint64_t *count, double v) {
    for (int i = 0; i < 12; i++)
        if (v <= srv_hist_bounds[i]) buckets[i]++;
    *sum += v, (*count)++;
}

srv_request *srv_request_new(void) {
    srv_request *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->refs = 1;
    r->top_logprobs = -1;
    pthread_cond_init(&r->changed, NULL);
    return r;
}

static void request_free(srv_request *r);

static int copy_array(void **dst, const void *src, size_t n, size_t size) {
    if (!src) return 1;
    *dst = malloc((n ? n : 1) * size);
    if (*dst) memcpy(*dst, src, n * size);
    return *dst != NULL;
}

srv_request *srv_request_clone(const srv_request *r) {
    srv_request *c = srv_request_new();
    if (!c) return NULL;
    c->n_prompt = r->n_prompt, c->sampling = r->sampling, c->max_tokens = r->max_tokens, c->ignore_eos = r->ignore_eos;
    c->n_bias = r->n_bias, c->top_logprobs = r->top_logprobs;
    int ok = copy_array((void **)&c->prompt, r->prompt, (size_t)r->n_prompt, sizeof *r->prompt) &&
             copy_array((void **)&c->bias_ids, r->bias_ids, (size_t)r->n_bias, sizeof *r->bias_ids) &&
             copy_array((void **)&c->bias, r->bias, (size_t)r->n_bias, sizeof *r->bias) &&
             (!r->n_stop || (c->stop = calloc((size_t)r->n_stop, sizeof *c->stop)) != NULL);
    for (int i = 0; ok && i < r->n_stop; i++) ok = (c->stop[c->n_stop++] = strdup(r->stop[i])) != NULL;
    if (!ok) {
        request_free(c);
        return NULL;
    }
    return c;
}

static void request_free(srv_request *r) {
    free(r->prompt);
    free(r->bias_ids), free(r->bias), free(r->lp);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    free(r->stop), free(r->text), free(r->held);
    pthread_cond_destroy(&r->changed);
    free(r);
}

void srv_request_release(srv_engine *e, srv_request *r) {
    if (!r) return;
    pthread_mutex_lock(&e->mu);
    int last = --r->refs == 0;
    pthread_mutex_unlock(&e->mu);
    if (last) request_free(r);
}

static int grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    char *g = realloc(*buf, c);
    if (!g) return 0;
    *buf = g, *cap = c;
    return 1;
}

static void release_text(srv_request *r, const char *s, size_t n) {
    if (!n || !grow(&r->text, &r->cap, r->len + n + 1)) return;
    memcpy(r->text + r->len, s, n);
    r->len += n;
    r->text[r->len] = 0;
}

/* New text of a slot: stop strings are matched across pieces; the tail
 * that may still start one is held back. Returns 1 when a stop string
 * ended the text. Under the lock. */
static int add_text(srv_request *r, const char *s, size_t n) {
    if (!grow(&r->held, &r->held_cap, r->held_len + n + 1)) return 0;
    memcpy(r->held + r->held_len, s, n);
    r->held_len += n;
    r->held[r->held_len] = 0;
    size_t cut = r->held_len;
    int stopped = 0;
    for (int i = 0; i < r->n_stop; i++) {
        char *at = strstr(r->held, r->stop[i]);
        if (at && (size_t)(at - r->held) < cut) cut = (size_t)(at - r->held), stopped = 1;
    }
    if (stopped) {
        release_text(r, r->held, cut);
        r->held_len = 0;
        return 1;
    }
    /* keep the longest tail that is a prefix of a stop string */
    size_t keep = 0;
    for (int i = 0; i < r->n_stop; i++) {
        size_t m = strlen(r->stop[i]);
        for (size_t k = m - 1 < r->held_len ? m - 1 : r->held_len; k > keep; k--)
            if (!memcmp(r->held + r->held_len - k, r->stop[i], k)) {
                keep = k;
                break;
            }
    }
    release_text(r, r->held, r->held_len - keep);
    memmove(r->held, r->held + r->held_len - keep, keep);
    r->held_len = keep;
    return 0;
}

static void flush_held(srv_request *r) {
    release_text(r, r->held, r->held_len);
    r->held_len = 0;
}

/* Ends the slot's request (under the lock); the sequence's cache stays for
 * a later prompt that shares its prefix. */
static void finish_slot(srv_engine *e, srv_slot *s, srv_finish why) {
    srv_request *r = s->req;
    if (why == FINISH_LENGTH || why == FINISH_STOP) flush_held(r);
    if (why == FINISH_STOP && r->held_len) r->held_len = 0;
    r->finish = why;
    r->t_done = now_s();
    pthread_cond_broadcast(&r->changed);
    loam_sampler_free(s->sampler), s->sampler = NULL;
    loam_detok_stream_free(s->detok), s->detok = NULL;
    s->req = NULL;
    e->stats.slots_busy--;
    if (--r->refs == 0) request_free(r);
}

static int common_prefix(const int32_t *a, int na, const int32_t *b, int nb) {
    int n = 0;
    while (n < na && n < nb && a[n] == b[n]) n++;
    return n;
}

/* A waiting request takes the free slot whose cache shares the longest
 * prefix with its prompt (a growing chat, a shared system prompt). */
static void admit(srv_engine *e) {
    while (e->n_waiting > 0) {
        srv_request *r = e->queue[0];
        int for_chat = e->queue_for_chat[0];
        int best = -1, best_len = -1;
        for (int i = 0; i < e->n_slots; i++) {
            if (e->slots[i].req) continue;
            int p = common_prefix(e->slots[i].tokens, e->slots[i].n_tokens, r->prompt, r->n_prompt);
            if (p > best_len) best = i, best_len = p;
        }
        if (best < 0) return;
        memmove(e->queue, e->queue + 1, (size_t)(e->n_waiting - 1) * sizeof *e->queue);
        memmove(e->queue_for_chat, e->queue_for_chat + 1, (size_t)(e->n_waiting - 1) * sizeof *e->queue_for_chat);
        e->n_waiting--;
        e->stats.queue_depth = e->n_waiting;
        if (r->cancelled) {
            r->finish = FINISH_CANCELLED;
            pthread_cond_broadcast(&r->changed);
            if (--r->refs == 0) request_free(r);
            continue;
        }
        srv_slot *s = &e->slots[best];
        int keep = best_len < r->n_prompt ? best_len : r->n_prompt - 1; /* the last prompt token gives the logits */
        loam_error err;
        if (loam_kv_seq_remove(e->ctx, s->seq, keep, -1, &err) != LOAM_OK) {
            loam_kv_seq_clear(e->ctx, s->seq);
            keep = 0;
        }
        s->n_tokens = keep;
        s->n_fed = keep;
        s->has_last = 0;
        s->req = r;
        r->cached_tokens = keep;
        e->stats.slots_busy++;
        e->stats.requests++;
        e->stats.prompt_tokens += (uint64_t)r->n_prompt;
        e->stats.cached_tokens += (uint64_t)keep;
        s->n_stop_ids = r->ignore_eos ? 0 : loam_stop_tokens(e->model, e->tok, for_chat, s->stop_ids, MAX_STOP_IDS);
        if (loam_sampler_open(&r->sampling, e->n_vocab, &s->sampler, &err) != LOAM_OK ||
            loam_detok_stream_open(e->tok, 1, &s->detok, &err) != LOAM_OK) {
            snprintf(r->error, sizeof r->error, "%s", err.message);
            finish_slot(e, s, FINISH_ERROR);
            continue;
        }
        for (int i = 0; i < r->n_prompt; i++) loam_sampler_accept(s->sampler, r->prompt[i], 1);
        /* the text continues the prompt's (a leading space is kept, as loam run prints it) */
        for (int i = r->n_prompt > 4 ? r->n_prompt - 4 : 0; i < r->n_prompt; i++) {
            const char *piece;
            size_t len;
            loam_detok_stream_push(s->detok, r->prompt[i], &piece, &len, &err);
        }
    }
}

static int slot_push_token(srv_slot *s, int32_t t) {
    if (s->n_tokens == s->cap) {
        int cap = s->cap ? s->cap * 2 : 256;
        int32_t *g = realloc(s->tokens, (size_t)cap * sizeof *g);
        if (!g) return 0;
        s->tokens = g, s->cap = cap;
    }
    s->tokens[s->n_tokens++] = t;
    return 1;
}

/* The rows of this step: each generating slot's last token, then prompt
 * slices while the batch has room. Returns the number of rows. */
static int build_batch(srv_engine *e) {
    int n = 0;
    for (int i = 0; i < e->n_slots; i++) {
        srv_slot *s = &e->slots[i];
        if (!s->req || !s->has_last) continue;
        e->b_tok[n] = s->last, e->b_pos[n] = s->n_tokens, e->b_seq[n] = s->seq, e->b_want[n] = 1, e->b_slot[n] = i;
        slot_push_token(s, s->last);
        s->has_last = 0;
        n++;
    }
    for (int i = 0; i < e->n_slots && n < BATCH_ROWS; i++) {
        srv_slot *s = &e->slots[i];
        if (!s->req || s->n_fed >= s->req->n_prompt) continue;
        while (s->n_fed < s->req->n_prompt && n < BATCH_ROWS) {
            int32_t t = s->req->prompt[s->n_fed];
            e->b_tok[n] = t, e->b_pos[n] = s->n_tokens, e->b_seq[n] = s->seq, e->b_slot[n] = i;
            e->b_want[n] = s->n_fed == s->req->n_prompt - 1;
            slot_push_token(s, t);
            s->n_fed++, n++;
        }
    }
    return n;
}

/* log-softmax of the token and the best alternatives, from the logits the
 * sampler saw (after logit_bias, before temperature). */
static void record_logprob(srv_engine *e, srv_request *r, const float *logits, int32_t t) {
    if (r->n_lp == r->cap_lp) {
        int cap = r->cap_lp ? r->cap_lp * 2 : 64;
        srv_logprob *g = realloc(r->lp, (size_t)cap * sizeof *g);
        if (!g) return;
        r->lp = g, r->cap_lp = cap;
    }
    float mx = logits[0];
    for (int i = 1; i < e->n_vocab; i++) mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0;
    for (int i = 0; i < e->n_vocab; i++) sum += exp((double)logits[i] - mx);
    double lse = mx + log(sum);
    srv_logprob *l = &r->lp[r->n_lp++];
    memset(l, 0, sizeof *l);
    l->id = t, l->logprob = (float)(logits[t] - lse);
    int k = r->top_logprobs;
    for (int i = 0; i < e->n_vocab && k > 0; i++) { /* insertion into the k best */
        int at = l->n_top;
        while (at > 0 && logits[l->top_id[at - 1]] < logits[i]) at--;
        if (at >= k) continue;
        int n = l->n_top < k ? l->n_top : k - 1;
        memmove(&l->top_id[at + 1], &l->top_id[at], (size_t)(n - at) * sizeof *l->top_id);
        l->top_id[at] = i;
        if (l->n_top < k) l->n_top++;
    }
    for (int j = 0; j < l->n_top; j++) l->top_logprob[j] = (float)(logits[l->top_id[j]] - lse);
}

/* A slot's logits: the next token, its text, its stops. Under the lock. */
static void after_logits(srv_engine *e, srv_slot *s, const float *raw) {
    srv_request *r = s->req;
    const float *logits = raw;
    if (r->n_bias) {
        memcpy(e->biased, raw, (size_t)e->n_vocab * sizeof *e->biased);
        for (int i = 0; i < r->n_bias; i++) e->biased[r->bias_ids[i]] += r->bias[i];
        logits = e->biased;
    }
    int32_t t = loam_sampler_sample(s->sampler, logits);
    if (r->top_logprobs >= 0) record_logprob(e, r, logits, t);
    double now = now_s();
    if (r->n_generated == 0) {
        r->t_first = now;
        observe(e->stats.ttft_buckets, &e->stats.ttft_sum, &e->stats.ttft_count, now - r->t_submit);
    } else {
        observe(e->stats.tpot_buckets, &e->stats.tpot_sum, &e->stats.tpot_count, now - s->t_last);
    }
    s->t_last = now;
    for (int k = 0; k < s->n_stop_ids; k++)
        if (t == s->stop_ids[k]) return finish_slot(e, s, FINISH_STOP);
    loam_sampler_accept(s->sampler, t, 0);
    r->n_generated++;
    e->stats.generated_tokens++;
    const char *piece = NULL;
    size_t len = 0;
    loam_error err;
    if (loam_detok_stream_push(s->detok, t, &piece, &len, &err) == LOAM_OK && len && add_text(r, piece, len))
        return finish_slot(e, s, FINISH_STOP);
    pthread_cond_broadcast(&r->changed);
    if (r->n_generated >= r->max_tokens || s->n_tokens + 1 >= e->n_ctx) return finish_slot(e, s, FINISH_LENGTH);
    s->last = t, s->has_last = 1;
}

static void *loop(void *arg) {
    srv_engine *e = arg;
    pthread_mutex_lock(&e->mu);
    while (!e->stopping) {
        for (int i = 0; i < e->n_slots; i++)
            if (e->slots[i].req && e->slots[i].req->cancelled) finish_slot(e, &e->slots[i], FINISH_CANCELLED);
        admit(e);
        if (e->stats.slots_busy == 0) {
            pthread_cond_wait(&e->wake, &e->mu);
            continue;
        }
        int n = build_batch(e);
        pthread_mutex_unlock(&e->mu);
        loam_batch b = {.n_tokens = n, .token = e->b_tok, .pos = e->b_pos, .seq_id = e->b_seq, .want_logits = e->b_want};
        loam_error err;
        loam_status st = n ? loam_decode(e->ctx, &b, &err) : LOAM_OK;
        pthread_mutex_lock(&e->mu);
        e->stats.decode_steps++;
        e->stats.batch_rows += (uint64_t)n;
        for (int row = 0; row < n; row++) {
            srv_slot *s = &e->slots[e->b_slot[row]];
            if (!s->req) continue;
            if (st != LOAM_OK) {
                snprintf(s->req->error, sizeof s->req->error, "%s", err.message);
                finish_slot(e, s, FINISH_ERROR);
                continue;
            }
            if (e->b_want[row]) after_logits(e, s, loam_get_logits(e->ctx, row));
        }
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

loam_status srv_engine_open(const srv_engine_config *cfg, srv_engine **out, loam_error *err) {
    *out = NULL;
    srv_engine *e = calloc(1, sizeof *e);
    if (!e) return LOAM_E_NOMEM;
    snprintf(e->name, sizeof e->name, "%s", cfg->name);
    e->n_slots = cfg->n_slots, e->n_queue = cfg->n_queue < 1024 ? cfg->n_queue : 1024;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->wake, NULL);
    loam_model_params mp = loam_model_default_params();
    if (cfg->n_threads > 0) mp.n_threads = cfg->n_threads;
    mp.bf16_dot = cfg->bf16_dot, mp.keep_layout = cfg->keep_layout;
    loam_status st = loam_model_open(cfg->path, &mp, &e->model, err);
    if (!st) st = loam_tokenizer_open(cfg->path, &e->tok, err);
    loam_context_params cp = loam_context_default_params();
    cp.n_ctx = cfg->n_ctx, cp.n_seq_max = e->n_slots, cp.kv_type = cfg->kv_type;
    if (!st) st = loam_context_open(e->model, &cp, &e->ctx, err);
    e->slots = calloc((size_t)e->n_slots, sizeof *e->slots);
    e->queue = calloc((size_t)(e->n_queue > 0 ? e->n_queue : 1), sizeof *e->queue);
    e->b_tok = malloc(BATCH_ROWS * sizeof(int32_t)), e->b_pos = malloc(BATCH_ROWS * sizeof(int32_t));
    e->b_seq = malloc(BATCH_ROWS * sizeof(int32_t)), e->b_want = malloc(BATCH_ROWS), e->b_slot = malloc(BATCH_ROWS * sizeof(int));
    if (!st && (!e->slots || !e->queue || !e->b_tok || !e->b_pos || !e->b_seq || !e->b_want || !e->b_slot)) st = LOAM_E_NOMEM;
    if (!st) {
        e->n_ctx = loam_context_n_ctx(e->ctx);
        loam_model_info info;
        loam_model_get_info(e->model, &info);
        e->n_vocab = info.n_vocab;
        if (!(e->biased = malloc((size_t)e->n_vocab * sizeof *e->biased))) st = LOAM_E_NOMEM;
        for (int i = 0; i < e->n_slots; i++) e->slots[i].seq = i;
        e->stats.n_slots = e->n_slots;
        e->stats.kv_positions_total = (uint64_t)e->n_ctx * (uint64_t)e->n_slots;
        if (pthread_create(&e->thread, NULL, loop, e) == 0) e->running = 1;
        else st = LOAM_E_NOMEM;
    }
    if (st) {
        if (err && st == LOAM_E_NOMEM && !err->message[0]) snprintf(err->message, sizeof err->message, "out of memory");
        srv_engine_free(e);
        return st;
    }
    *out = e;
    return LOAM_OK;
}

void srv_engine_stop(srv_engine *e) {
    if (!e || !e->running) return;
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    e->running = 0;
    /* every waiting HTTP thread wakes to a finished request */
    pthread_mutex_lock(&e->mu);
    for (int i = 0; e->slots && i < e->n_slots; i++)
        if (e->slots[i].req) finish_slot(e, &e->slots[i], FINISH_CANCELLED);
    for (int i = 0; i < e->n_waiting; i++) {
        srv_request *r = e->queue[i];
        r->finish = FINISH_CANCELLED;
        snprintf(r->error, sizeof r->error, "the server is stopping");
        pthread_cond_broadcast(&r->changed);
        if (--r->refs == 0) request_free(r);
    }
    e->n_waiting = 0;
    pthread_mutex_unlock(&e->mu);
}

void srv_engine_free(srv_engine *e) {
    if (!e) return;
    srv_engine_stop(e);
    for (int i = 0; e->slots && i < e->n_slots; i++) free(e->slots[i].tokens);
    free(e->slots), free(e->queue);
    free(e->b_tok), free(e->b_pos), free(e->b_seq), free(e->b_want), free(e->b_slot), free(e->biased);
    loam_context_free(e->ctx);
    loam_tokenizer_free(e->tok);
    loam_model_free(e->model);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->wake);
    free(e);
}

const char *srv_engine_name(const srv_engine *e) { return e->name; }
const loam_model *srv_engine_model(const srv_engine *e) { return e->model; }
const loam_tokenizer *srv_engine_tokenizer(const srv_engine *e) { return e->tok; }
int srv_engine_n_ctx(const srv_engine *e) { return e->n_ctx; }

int srv_engine_stop_tokens(const srv_engine *e, int for_chat, int32_t *ids, int cap) {
    return loam_stop_tokens(e->model, e->tok, for_chat, ids, cap);
}

loam_status srv_engine_submit(srv_engine *e, srv_request *r, int for_chat, loam_error *err) {
    pthread_mutex_lock(&e->mu);
    if (e->n_waiting >= e->n_queue) {
        pthread_mutex_unlock(&e->mu);
        snprintf(err->message, sizeof err->message, "the server is busy: %d requests are waiting (--queue)", e->n_queue);
        return err->code = LOAM_E_RANGE;
    }
    r->refs++;
    r->t_submit = now_s();
    e->queue_for_chat[e->n_waiting] = for_chat;
    e->queue[e->n_waiting++] = r;
    e->stats.queue_depth = e->n_waiting;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->mu);
    return LOAM_OK;
}

srv_finish srv_engine_wait(srv_engine *e, srv_request *r, size_t *seen, char **new_text, size_t *new_len) {
    return srv_engine_wait_lp(e, r, seen, new_text, new_len, NULL, NULL, NULL);
}

static srv_finish take_new(srv_engine *e, srv_request *r, int block, size_t *seen, char **new_text, size_t *new_len, int *lp_seen,
                           srv_logprob **lp, int *n_lp) {
    pthread_mutex_lock(&e->mu);
    while (block && r->len <= *seen && r->finish == FINISH_NONE) pthread_cond_wait(&r->changed, &e->mu);
    size_t n = r->len - *seen;
    *new_text = malloc(n + 1);
    if (*new_text) {
        memcpy(*new_text, r->text ? r->text + *seen : "", n);
        (*new_text)[n] = 0;
        *new_len = n;
        *seen = r->len;
    } else *new_len = 0;
    srv_finish f = r->len > *seen ? FINISH_NONE : r->finish;
    if (lp) {
        /* the entries of the tokens released so far: all once the request has ended */
        int upto = f != FINISH_NONE ? r->n_lp : r->n_lp - (r->held_len > 0);
        *n_lp = upto > *lp_seen ? upto - *lp_seen : 0;
        *lp = *n_lp ? malloc((size_t)*n_lp * sizeof **lp) : NULL;
        if (*lp) memcpy(*lp, r->lp + *lp_seen, (size_t)*n_lp * sizeof **lp), *lp_seen += *n_lp;
        else *n_lp = 0;
    }
    pthread_mutex_unlock(&e->mu);
    return f;
}

srv_finish srv_engine_wait_lp(srv_engine *e, srv_request *r, size_t *seen, char **new_text, size_t *new_len, int *lp_seen,
                              srv_logprob **lp, int *n_lp) {
    return take_new(e, r, 1, seen, new_text, new_len, lp_seen, lp, n_lp);
}

srv_finish srv_engine_poll_lp(srv_engine *e, srv_request *r, size_t *seen, char **new_text, size_t *new_len, int *lp_seen,
                              srv_logprob **lp, int *n_lp) {
    return take_new(e, r, 0, seen, new_text, new_len, lp_seen, lp, n_lp);
}

void srv_engine_cancel(srv_engine *e, srv_request *r) {
    pthread_mutex_lock(&e->mu);
    r->cancelled = 1;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->mu);
}

void srv_engine_stats(srv_engine *e, srv_stats *out) {
    pthread_mutex_lock(&e->mu);
    *out = e->stats;
    out->kv_positions_used = 0;
    for (int i = 0; i < e->n_slots; i++) out->kv_positions_used += (uint64_t)e->slots[i].n_tokens;
    pthread_mutex_unlock(&e->mu);
}
