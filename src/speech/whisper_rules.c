/* openai/whisper's logit filters (decoding.py), applied in its order:
 * SuppressBlank and SuppressTokens, then ApplyTimestampRules. transformers'
 * processors (SuppressTokensAtBegin, SuppressTokens, WhisperTimeStamp)
 * are the same rules. */
#include <math.h>

#include "speech/whisper.h"

/* float exponentials summed in double: one pass of expf per call (it runs
 * for every candidate at every step, over the whole vocabulary) */
void whisper_log_softmax(const float *logits, int V, float *out) {
    float max = -INFINITY;
    double sum = 0;
    for (int i = 0; i < V; i++)
        if (logits[i] > max) max = logits[i];
    for (int i = 0; i < V; i++) {
        float d = logits[i] - max;
        if (d > -80.0f) sum += expf(d); /* below e^−80 nothing counts (and expf's underflow path is slow) */
    }
    float lse = max + (float)log(sum);
    for (int i = 0; i < V; i++) out[i] = logits[i] - lse;
}

static void mask_range(float *logits, int from, int to) {
    for (int i = from; i < to; i++) logits[i] = -INFINITY;
}

/* Timestamps come in pairs (a segment's end and the next one's start),
 * never decrease, and a segment has a nonzero length; the first token is
 * a timestamp no later than max_initial_ts; when the timestamps together
 * are likelier than any single text token, a timestamp it is. */
static void timestamp_rules(const loam_whisper *w, const whisper_rules *r, const int32_t *seq, int len, float *logits) {
    const whisper_special *sp = &w->sp;
    int V = w->hp.n_vocab, tb = sp->ts_begin;
    const int32_t *sampled = seq + r->sample_begin;
    int n = len - r->sample_begin;
    logits[sp->no_timestamps] = -INFINITY;
    int last_ts = n >= 1 && sampled[n - 1] >= tb;
    int penultimate_ts = n < 2 || sampled[n - 2] >= tb;
    if (last_ts) {
        if (penultimate_ts) mask_range(logits, tb, V); /* a pair is complete: text next */
        else mask_range(logits, 0, sp->eot);           /* the pair's second timestamp (or the end) */
    }
    int32_t latest = -1;
    for (int i = 0; i < n; i++)
        if (sampled[i] >= tb) latest = sampled[i];
    if (latest >= 0) {
        int32_t limit = last_ts && !penultimate_ts ? latest : latest + 1;
        mask_range(logits, tb, limit);
    }
    if (n == 0) {
        mask_range(logits, 0, tb);
        if (r->max_initial_ts >= 0 && tb + r->max_initial_ts + 1 < V) mask_range(logits, tb + r->max_initial_ts + 1, V);
    }
    /* logsumexp of the timestamp log-probs against the best text log-prob
     * (the log-softmax's normaliser cancels) */
    double max_text = -INFINITY, max_ts = -INFINITY, sum = 0;
    for (int i = 0; i < tb; i++)
        if (logits[i] > max_text) max_text = logits[i];
    for (int i = tb; i < V; i++)
        if (logits[i] > max_ts) max_ts = logits[i];
    if (max_ts == -INFINITY) return;
    for (int i = tb; i < V; i++) sum += exp((double)logits[i] - max_ts);
    if (max_ts + log(sum) > max_text) mask_range(logits, 0, tb);
}

void whisper_apply_rules(const loam_whisper *w, const whisper_rules *r, const int32_t *seq, int len, float *logits) {
    if (len == r->sample_begin)
        for (int i = 0; i < w->n_begin_suppress; i++) logits[w->begin_suppress[i]] = -INFINITY;
    for (int i = 0; i < w->n_suppress; i++) logits[w->suppress[i]] = -INFINITY;
    if (r->timestamps) timestamp_rules(w, r, seq, len, logits);
}
