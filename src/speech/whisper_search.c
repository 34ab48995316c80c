/* One window's decoding, as openai/whisper's decoding.py: the initial
 * tokens ([<|startofprev|> prompt…] <|startoftranscript|> <|lang|> <|task|>
 * [<|notimestamps|>]), <|nospeech|>'s probability at the SOT row, then up
 * to n_text_ctx / 2 sampled tokens. Candidates live in KV sequences; beam
 * search double-buffers them (beams in seqs base.., the next step's in the
 * other half) and copies a source beam's cache to its successors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "speech/search.h"

typedef struct cand {
    int32_t tok[SEARCH_MAX_TOKENS];
    int n;      /* sampled tokens so far (eot included when finished) */
    double sum; /* sum of log-probs (eot's included, as openai adds it once) */
    int done;
} cand;

typedef struct search {
    loam_whisper *w;
    const search_opts *o;
    int32_t init[SEARCH_MAX_TOKENS];
    int n_init, sot_index, sample_len;
    whisper_rules rules;
    float *lp, *w8; /* [V] scratch: log-probs, sampling weights */
} search;

float whisper_compression_ratio(const loam_whisper *w, const int32_t *ids, int n) {
    size_t len = loam_whisper_text(w, ids, n, NULL, 0);
    char *text = malloc(len + 1);
    if (!text) return 0;
    loam_whisper_text(w, ids, n, text, len + 1);
    uLongf zl = compressBound((uLong)len);
    Bytef *z = malloc(zl);
    float ratio = 0;
    if (z && compress2(z, &zl, (const Bytef *)text, (uLong)len, Z_DEFAULT_COMPRESSION) == Z_OK && zl)
        ratio = (float)len / (float)zl;
    free(z), free(text);
    return ratio;
}

int whisper_initial_tokens(const loam_whisper *w, const search_opts *o, int32_t *out, int *sot_index) {
    const whisper_special *sp = &w->sp;
    int n = 0;
    if (o->n_prompt > 0) {
        int keep = w->hp.n_text_ctx / 2 - 1, from = o->n_prompt > keep ? o->n_prompt - keep : 0;
        out[n++] = sp->sot_prev;
        for (int i = from; i < o->n_prompt; i++) out[n++] = o->prompt[i];
    }
    *sot_index = n;
    out[n++] = sp->sot;
    if (sp->n_langs > 0) out[n++] = sp->lang0 + (o->lang >= 0 ? o->lang : 0);
    if (sp->n_langs > 0 || o->task == LOAM_WHISPER_TRANSLATE)
        out[n++] = o->task == LOAM_WHISPER_TRANSLATE ? sp->translate : sp->transcribe;
    if (!o->timestamps) out[n++] = sp->no_timestamps;
    return n;
}

static void build_init(search *s) {
    int n = whisper_initial_tokens(s->w, s->o, s->init, &s->sot_index);
    s->n_init = n;
    s->sample_len = s->w->hp.n_text_ctx / 2;
    s->rules = (whisper_rules){n, s->o->timestamps, s->o->max_initial_ts};
}

/* Feeds the initial tokens to seq 0 (logits at the SOT row and the last)
 * and copies the cache to seqs 1..n_seq−1. Returns no_speech_prob. */
static loam_status prime(search *s, int n_seq, float *no_speech, float *last_logits, loam_error *err) {
    loam_whisper *w = s->w;
    int n = s->n_init, V = w->hp.n_vocab;
    int32_t pos[SEARCH_MAX_TOKENS], seq[SEARCH_MAX_TOKENS];
    uint8_t want[SEARCH_MAX_TOKENS];
    for (int i = 0; i < n; i++) pos[i] = i, seq[i] = 0, want[i] = i == s->sot_index || i == n - 1;
    for (int q = 0; q < WHISPER_MAX_SEQ; q++) loam_kv_seq_clear_all(&w->kv, q);
    loam_status st = whisper_decode_rows(w, s->init, pos, seq, n, want, err);
    if (st) return st;
    whisper_log_softmax(w->logits, V, s->lp);
    *no_speech = expf(s->lp[w->sp.no_speech]);
    memcpy(last_logits, w->logits + (size_t)(w->n_logit_rows - 1) * V, sizeof(float) * (size_t)V);
    for (int q = 1; !st && q < n_seq; q++) st = loam_kv_seq_copy_prefix(&w->kv, 0, q, n, err);
    return st;
}

static double rng_uniform(uint64_t *state) {
    /* splitmix64 */
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* argmax, or a draw from softmax(logits / T): from the log-probs lp of
 * the same logits, p_i ∝ exp(lp_i / T), the weights kept in w[V] (one
 * pass of exponentials; terms below e^−80 are dropped, and with them
 * expf's slow underflow path) */
static int32_t pick(const float *lp, int V, float temperature, uint64_t *rng, float *w) {
    int32_t best = 0;
    for (int i = 1; i < V; i++)
        if (lp[i] > lp[best]) best = i;
    if (temperature <= 0 || !rng) return best;
    float max = lp[best], inv = 1.0f / temperature;
    double sum = 0;
    for (int i = 0; i < V; i++) {
        float d = (lp[i] - max) * inv;
        w[i] = d > -80.0f ? expf(d) : 0.0f;
        sum += w[i];
    }
    double u = rng_uniform(rng) * sum, acc = 0;
    for (int i = 0; i < V; i++) {
        acc += w[i];
        if (acc >= u && w[i] > 0) return i;
    }
    return best;
}

/* The rules on logits[V] for candidate c, then its log-softmax into s->lp. */
static void filter(search *s, const cand *c, float *logits) {
    int32_t seq[SEARCH_MAX_TOKENS * 2];
    memcpy(seq, s->init, sizeof(int32_t) * (size_t)s->n_init);
    memcpy(seq + s->n_init, c->tok, sizeof(int32_t) * (size_t)c->n);
    whisper_apply_rules(s->w, &s->rules, seq, s->n_init + c->n, logits);
    whisper_log_softmax(logits, s->w->hp.n_vocab, s->lp);
}

static int at_limit(const search *s, const cand *c) {
    return c->n >= s->sample_len || s->n_init + c->n >= s->w->hp.n_text_ctx;
}

/* Greedy (N = 1) or best-of-N sampling: N independent candidates. */
static loam_status sample_n(search *s, cand *cands, int N, const float *first, loam_error *err) {
    loam_whisper *w = s->w;
    int V = w->hp.n_vocab;
    float *logits = malloc(sizeof(float) * (size_t)V * (size_t)N);
    if (!logits) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int k = 0; k < N; k++) memcpy(logits + (size_t)k * V, first, sizeof(float) * (size_t)V);
    loam_status st = LOAM_OK;
    for (;;) {
        int32_t tok[WHISPER_MAX_SEQ], pos[WHISPER_MAX_SEQ], seq[WHISPER_MAX_SEQ], who[WHISPER_MAX_SEQ];
        int T = 0;
        for (int k = 0; k < N; k++) {
            cand *c = &cands[k];
            if (c->done) continue;
            float *lk = logits + (size_t)k * V;
            filter(s, c, lk);
            int32_t t = pick(s->lp, V, s->o->temperature, s->o->rng, s->w8);
            c->sum += s->lp[t];
            c->tok[c->n++] = t;
            if (t == w->sp.eot || at_limit(s, c)) {
                c->done = 1;
                continue;
            }
            tok[T] = t, pos[T] = s->n_init + c->n - 1, seq[T] = k, who[T++] = k;
        }
        if (T == 0) break;
        if ((st = whisper_decode_rows(w, tok, pos, seq, T, NULL, err))) break;
        for (int i = 0; i < T; i++)
            memcpy(logits + (size_t)who[i] * V, w->logits + (size_t)i * V, sizeof(float) * (size_t)V);
    }
    free(logits);
    return st;
}

typedef struct beam_cand {
    double score;
    int src, order;
    int32_t token;
} beam_cand;

static int by_score(const void *a, const void *b) {
    const beam_cand *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->order - y->order; /* openai's stable sort keeps the insertion order */
}

/* The beam_size + 1 best tokens of lp[V]. */
static int topk(const float *lp, int V, int k, int32_t *out) {
    int n = 0;
    for (int i = 0; i < V; i++) {
        if (lp[i] == -INFINITY) continue;
        int j = n < k ? n++ : k;
        if (j == k && lp[i] <= lp[out[k - 1]]) continue;
        if (j == k) j = k - 1;
        while (j > 0 && lp[out[j - 1]] < lp[i]) out[j] = out[j - 1], j--;
        out[j] = i;
    }
    return n;
}

/* Beam search with openai's bookkeeping: each step the B + 1 best tokens
 * of every beam, the B best unfinished continuations kept, finished ones
 * collected (in score order) until round(B · patience) are. */
static loam_status beam_search(search *s, cand *fin, int *n_fin, const float *first, loam_error *err) {
    loam_whisper *w = s->w;
    int V = w->hp.n_vocab, B = s->o->beam_size;
    int max_cand = (int)lround((double)B * s->o->patience);
    if (max_cand < 1) max_cand = 1;
    if (max_cand > WHISPER_MAX_SEQ) max_cand = WHISPER_MAX_SEQ;
    cand *beams = calloc((size_t)B, sizeof *beams), *next = calloc((size_t)B, sizeof *next);
    float *logits = malloc(sizeof(float) * (size_t)V * (size_t)B);
    beam_cand *all = malloc(sizeof *all * (size_t)B * (size_t)(B + 1));
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(B + 1));
    loam_status st = beams && next && logits && all && ids ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    int n_beams = 1, base = 0;
    if (!st) memcpy(logits, first, sizeof(float) * (size_t)V);
    while (!st) {
        int n_all = 0;
        for (int j = 0; j < n_beams; j++) {
            filter(s, &beams[j], logits + (size_t)j * V);
            int k = topk(s->lp, V, B + 1, ids);
            for (int i = 0; i < k; i++) all[n_all] = (beam_cand){beams[j].sum + s->lp[ids[i]], j, n_all, ids[i]}, n_all++;
        }
        qsort(all, (size_t)n_all, sizeof *all, by_score);
        int saved = 0, src_of[WHISPER_MAX_SEQ];
        for (int i = 0; i < n_all && saved < B; i++) {
            const cand *from = &beams[all[i].src];
            cand c = *from;
            c.tok[c.n++] = all[i].token;
            c.sum = all[i].score;
            if (all[i].token == w->sp.eot) {
                c.done = 1;
                if (*n_fin < max_cand) fin[(*n_fin)++] = c;
            } else {
                src_of[saved] = all[i].src;
                next[saved++] = c;
            }
        }
        if (*n_fin >= max_cand || saved == 0 || at_limit(s, &next[0])) {
            cand *tmp = beams;
            beams = next, next = tmp, n_beams = saved;
            break;
        }
        /* the successors' caches: each a copy of its source beam's */
        int other = base == 0 ? B : 0, len = s->n_init + next[0].n - 1;
        int32_t tok[WHISPER_MAX_SEQ], pos[WHISPER_MAX_SEQ], seq[WHISPER_MAX_SEQ];
        for (int i = 0; !st && i < saved; i++) {
            st = loam_kv_seq_copy_prefix(&w->kv, base + src_of[i], other + i, len, err);
            tok[i] = next[i].tok[next[i].n - 1], pos[i] = len, seq[i] = other + i;
        }
        if (!st) st = whisper_decode_rows(w, tok, pos, seq, saved, NULL, err);
        if (st) break;
        memcpy(logits, w->logits, sizeof(float) * (size_t)V * (size_t)saved);
        cand *tmp = beams;
        beams = next, next = tmp, n_beams = saved, base = other;
    }
    /* too few finished: the live beams, best first, as if they ended here */
    for (int round = 0; !st && *n_fin < B && round < n_beams; round++) {
        int best = -1;
        for (int j = 0; j < n_beams; j++)
            if (!beams[j].done && (best < 0 || beams[j].sum > beams[best].sum)) best = j;
        if (best < 0) break;
        beams[best].done = 1;
        fin[(*n_fin)++] = beams[best];
    }
    free(beams), free(next), free(logits), free(all), free(ids);
    return st;
}

static int text_len(const loam_whisper *w, const cand *c) { return c->n > 0 && c->tok[c->n - 1] == w->sp.eot ? c->n - 1 : c->n; }

/* openai's MaximumLikelihoodRanker: sum / length, or / ((5 + length) / 6)^penalty */
static double rank_score(const search *s, const cand *c) {
    int len = text_len(s->w, c);
    double penalty = s->o->length_penalty < 0 ? len : pow((5.0 + len) / 6.0, s->o->length_penalty);
    return c->sum / (penalty > 0 ? penalty : 1.0);
}

loam_status whisper_search(loam_whisper *w, const search_opts *o, search_result *res, loam_error *err) {
    search s = {.w = w, .o = o};
    *res = (search_result){0};
    build_init(&s);
    int V = w->hp.n_vocab;
    int beam = o->temperature > 0 ? 0 : o->beam_size > 1 ? o->beam_size : 0;
    int N = o->temperature > 0 ? o->best_of : 1;
    if (beam > WHISPER_MAX_SEQ / 2) beam = WHISPER_MAX_SEQ / 2;
    if (N < 1) N = 1;
    if (N > WHISPER_MAX_SEQ) N = WHISPER_MAX_SEQ;
    s.lp = malloc(sizeof(float) * (size_t)V), s.w8 = malloc(sizeof(float) * (size_t)V);
    float *first = malloc(sizeof(float) * (size_t)V);
    cand *cands = calloc(WHISPER_MAX_SEQ, sizeof *cands);
    loam_status st = s.lp && s.w8 && first && cands ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    int n_c = 0;
    if (!st) st = prime(&s, beam ? 1 : N, &res->no_speech_prob, first, err);
    if (!st && beam) {
        struct search_opts ob = *o;
        ob.beam_size = beam;
        s.o = &ob;
        st = beam_search(&s, cands, &n_c, first, err);
        s.o = o;
    } else if (!st) {
        st = sample_n(&s, cands, N, first, err);
        n_c = N;
    }
    if (!st && n_c > 0) {
        int best = 0;
        for (int i = 1; i < n_c; i++)
            if (rank_score(&s, &cands[i]) > rank_score(&s, &cands[best])) best = i;
        const cand *c = &cands[best];
        res->n_tokens = text_len(w, c);
        memcpy(res->tokens, c->tok, sizeof(int32_t) * (size_t)res->n_tokens);
        res->sum_logprob = (float)c->sum;
        res->avg_logprob = (float)(c->sum / (res->n_tokens + 1));
        res->compression_ratio = whisper_compression_ratio(w, res->tokens, res->n_tokens);
        res->temperature = o->temperature;
    }
    free(s.lp), free(s.w8), free(first), free(cands);
    return st;
}
