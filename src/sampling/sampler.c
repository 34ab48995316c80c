/* Token sampling, in the order transformers applies its processors:
 * repetition penalty (HF), presence/frequency penalties (OpenAI), then
 * temperature, top-k, top-p, min-p, then a draw from a seeded generator.
 * Temperature <= 0 is greedy (argmax after the penalties). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "loam.h"
#include "sampling/sampler.h"

/* Sorted as (value, index) pairs: qsort takes no context argument. */
typedef struct {
    float value;
    int32_t index;
} scored;

struct loam_sampler {
    loam_sampling_params p;
    int n_vocab;
    uint64_t rng[4];         /* xoshiro256** state */
    uint8_t *seen;           /* token occurred in prompt or output (repetition penalty) */
    int32_t *generated;      /* times each token was generated (presence/frequency) */
    float *work;             /* filtered logits */
    scored *cand;            /* candidates, for sorting */
    float *probs;            /* scratch distribution */
};

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(uint64_t s[4]) {
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* uniform in [0, 1) with 53 random bits */
static double next_unit(uint64_t s[4]) { return (double)(next_u64(s) >> 11) * 0x1.0p-53; }

loam_status loam_sampler_open(const loam_sampling_params *params, int n_vocab, loam_sampler **out,
                              loam_error *err) {
    *out = NULL;
    if (n_vocab <= 0) return loam_fail(err, LOAM_E_ARG, "sampler: vocabulary size must be positive");
    const loam_sampling_params *p = params;
    if (!(p->top_p > 0) || p->min_p < 0 || p->min_p > 1 || !(p->repetition_penalty > 0) || !isfinite(p->temperature))
        return loam_fail(err, LOAM_E_ARG,
                         "sampler: top_p must be in (0, 1], min_p in [0, 1], repetition penalty positive");
    loam_sampler *s = calloc(1, sizeof *s);
    if (!s) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->seen = calloc((size_t)n_vocab, 1);
    s->generated = calloc((size_t)n_vocab, sizeof *s->generated);
    s->work = malloc((size_t)n_vocab * sizeof *s->work);
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->probs = malloc((size_t)n_vocab * sizeof *s->probs);
    if (!s->seen || !s->generated || !s->work || !s->cand || !s->probs) {
        loam_sampler_free(s);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    uint64_t seed = p->seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&seed);
    *out = s;
    return LOAM_OK;
}

void loam_sampler_free(loam_sampler *s) {
    if (!s) return;
    free(s->seen);
    free(s->generated);
    free(s->work);
    free(s->cand);
    free(s->probs);
    free(s);
}

void loam_sampler_accept(loam_sampler *s, int32_t token, int is_prompt) {
    if (token < 0 || token >= s->n_vocab) return;
    s->seen[token] = 1;
    if (!is_prompt) s->generated[token]++;
}

static void apply_penalties(const loam_sampler *s, float *l) {
    const loam_sampling_params *p = &s->p;
    for (int i = 0; i < s->n_vocab; i++) {
        if (p->repetition_penalty != 1.0f && s->seen[i])
            l[i] = l[i] < 0 ? l[i] * p->repetition_penalty : l[i] / p->repetition_penalty;
        int count = s->generated[i];
        if (count > 0) l[i] -= (float)count * p->frequency_penalty + p->presence_penalty;
    }
}

/* The first index of the largest value (NaNs never win, unless l[0] is one:
 * then 0). Eight running maxima, then a search for the first index holding
 * it: a single chain of compares against l[best] waited on each load (a
 * 128k vocabulary took ~250 us, on the server's one engine thread). */
static int argmax(const float *l, int n) {
    float m[8];
    for (int k = 0; k < 8; k++) m[k] = l[0];
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) m[k] = l[i + k] > m[k] ? l[i + k] : m[k];
    for (; i < n; i++) m[0] = l[i] > m[0] ? l[i] : m[0];
    float best = m[0];
    for (int k = 1; k < 8; k++) best = m[k] > best ? m[k] : best;
    for (i = 0; i < n; i++)
        if (l[i] == best) return i;
    return 0;
}


static int ascending(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    return x->index > y->index ? -1 : x->index < y->index; /* stable-ish: lower index ranks higher */
}

/* Softmax over the finite entries of l into probs (0 elsewhere). */
static void softmax(const float *l, float *probs, int n) {
    float max = -INFINITY;
    for (int i = 0; i < n; i++)
        if (l[i] > max) max = l[i];
    double sum = 0;
    for (int i = 0; i < n; i++) {
        probs[i] = isinf(l[i]) && l[i] < 0 ? 0.0f : expf(l[i] - max);
        sum += probs[i];
    }
    for (int i = 0; i < n; i++) probs[i] = (float)(probs[i] / sum);
}

/* Applies temperature, top-k, top-p and min-p to s->work, masking removed
 * tokens with -inf. */
static void apply_filters(loam_sampler *s) {
    const loam_sampling_params *p = &s->p;
    float *l = s->work;
    int n = s->n_vocab;
    for (int i = 0; i < n; i++) l[i] /= p->temperature;

    /* candidates, sorted ascending by logit (needed by top-k and top-p) */
    scored *c = s->cand;
    float *probs = s->probs;
    for (int i = 0; i < n; i++) c[i] = (scored){l[i], i};
    qsort(c, (size_t)n, sizeof *c, ascending);

    if (p->top_k > 0 && p->top_k < n) {
        /* HF keeps every token whose logit is >= the k-th largest */
        float kth = c[n - p->top_k].value;
        for (int i = 0; i < n; i++)
            if (l[i] < kth) l[i] = -INFINITY;
    }
    if (p->top_p < 1.0f) {
        /* HF: in ascending order, drop tokens while the cumulative
         * probability stays <= 1 - top_p; the most likely always stays */
        softmax(l, probs, n);
        double cum = 0;
        for (int i = 0; i < n - 1; i++) {
            cum += probs[c[i].index];
            if (cum <= 1.0 - p->top_p) l[c[i].index] = -INFINITY;
        }
    }
    if (p->min_p > 0.0f) {
        softmax(l, probs, n);
        float top = 0;
        for (int i = 0; i < n; i++)
            if (probs[i] > top) top = probs[i];
        for (int i = 0; i < n; i++)
            if (probs[i] < p->min_p * top) l[i] = -INFINITY;
    }
}

void loam_sampler_probs(loam_sampler *s, const float *logits, float *probs) {
    memcpy(s->work, logits, (size_t)s->n_vocab * sizeof *s->work);
    apply_penalties(s, s->work);
    if (s->p.temperature <= 0) {
        int best = argmax(s->work, s->n_vocab);
        memset(probs, 0, (size_t)s->n_vocab * sizeof *probs);
        probs[best] = 1.0f;
        return;
    }
    apply_filters(s);
    softmax(s->work, probs, s->n_vocab);
}

/* Whether the penalties leave every logit as it is. */
static int penalties_neutral(const loam_sampling_params *p) {
    return p->repetition_penalty == 1.0f && p->frequency_penalty == 0.0f && p->presence_penalty == 0.0f;
}

int32_t loam_sampler_sample(loam_sampler *s, const float *logits) {
    int n = s->n_vocab;
    /* greedy without penalties: one pass over the logits (a server samples
     * a 128k vocabulary per client per step, on one thread) */
    if (s->p.temperature <= 0 && penalties_neutral(&s->p)) return argmax(logits, n);
    memcpy(s->work, logits, (size_t)n * sizeof *s->work);
    apply_penalties(s, s->work);
    if (s->p.temperature <= 0) return argmax(s->work, n);
    apply_filters(s);
    float max = -INFINITY;
    for (int i = 0; i < n; i++)
        if (s->work[i] > max) max = s->work[i];
    double sum = 0;
    for (int i = 0; i < n; i++) sum += s->work[i] == -INFINITY ? 0.0 : exp((double)s->work[i] - max);
    double r = next_unit(s->rng) * sum, acc = 0;
    int last = argmax(s->work, n);
    for (int i = 0; i < n; i++) {
        if (s->work[i] == -INFINITY) continue;
        acc += exp((double)s->work[i] - max);
        last = i;
        if (r < acc) return i;
    }
    return last;
}
