/* Samplers, tested statistically: on fixed logits, thousands of seeded
 * draws against the distribution that the filter definitions give, worked
 * out here independently of the sampler's code (chi-square), plus the
 * exact filtered distribution. A wrong filter fails. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampling/sampler.h"
#include "test.h"

#define V 10
static const float base_logits[V] = {3.0f, 2.5f, 2.2f, 2.0f, 1.0f, 0.5f, 0.0f, -1.0f, -2.0f, -3.0f};

/* softmax over tokens with keep[i] */
static void masked_softmax(const double *l, const int *keep, double *p) {
    double max = -INFINITY, sum = 0;
    for (int i = 0; i < V; i++)
        if (keep[i] && l[i] > max) max = l[i];
    for (int i = 0; i < V; i++) sum += p[i] = keep[i] ? exp(l[i] - max) : 0;
    for (int i = 0; i < V; i++) p[i] /= sum;
}

/* The expected distribution, straight from the definitions. base_logits is
 * sorted descending, so "more probable" = lower index. */
static void expected(const loam_sampling_params *sp, const int *seen, const int *gen_count, double *p) {
    double l[V];
    int keep[V];
    for (int i = 0; i < V; i++) {
        l[i] = base_logits[i];
        if (seen[i]) l[i] = l[i] < 0 ? l[i] * sp->repetition_penalty : l[i] / sp->repetition_penalty;
        if (gen_count[i]) l[i] -= gen_count[i] * sp->frequency_penalty + sp->presence_penalty;
        l[i] /= sp->temperature;
        keep[i] = 1;
    }
    if (sp->top_k > 0) { /* the k largest (penalties may reorder, so rank) */
        for (int i = 0; i < V; i++) {
            int above = 0;
            for (int j = 0; j < V; j++) above += l[j] > l[i];
            keep[i] = above < sp->top_k;
        }
    }
    if (sp->top_p < 1) { /* keep a token while the mass strictly above it is < top_p */
        masked_softmax(l, keep, p);
        int k2[V];
        for (int i = 0; i < V; i++) {
            double above = 0;
            for (int j = 0; j < V; j++)
                if (keep[j] && (l[j] > l[i] || (l[j] == l[i] && j < i))) above += p[j];
            k2[i] = keep[i] && above < sp->top_p;
        }
        memcpy(keep, k2, sizeof k2);
    }
    if (sp->min_p > 0) {
        masked_softmax(l, keep, p);
        double top = 0;
        for (int i = 0; i < V; i++) top = p[i] > top ? p[i] : top;
        for (int i = 0; i < V; i++) keep[i] = keep[i] && p[i] >= sp->min_p * top;
    }
    masked_softmax(l, keep, p);
}

/* chi-square critical value for p = 1e-4 (Wilson-Hilferty) */
static double chi2_critical(int df) {
    double z = 3.719, a = 2.0 / (9.0 * df);
    return df * pow(1 - a + z * sqrt(a), 3);
}

static void check_distribution(const char *what, loam_sampling_params sp, const int *seen_ids, int n_seen,
                               const int *gen_ids, int n_gen) {
    int seen[V] = {0}, gen[V] = {0};
    loam_sampler *s = NULL;
    loam_error err;
    CHECK_OK(loam_sampler_open(&sp, V, &s, &err), &err);
    for (int i = 0; i < n_seen; i++) loam_sampler_accept(s, seen_ids[i], 1), seen[seen_ids[i]] = 1;
    for (int i = 0; i < n_gen; i++) loam_sampler_accept(s, gen_ids[i], 0), seen[gen_ids[i]] = 1, gen[gen_ids[i]]++;
    double want[V];
    float got_probs[V];
    expected(&sp, seen, gen, want);
    loam_sampler_probs(s, base_logits, got_probs);
    for (int i = 0; i < V; i++)
        if (fabs(got_probs[i] - want[i]) > 1e-5) {
            loam_sampler_free(s);
            CHECK(0, "%s: probability of token %d is %g, expected %g", what, i, got_probs[i], want[i]);
        }
    enum { DRAWS = 20000 };
    int counts[V] = {0};
    for (int d = 0; d < DRAWS; d++) {
        int t = loam_sampler_sample(s, base_logits);
        if (t < 0 || t >= V || want[t] == 0) {
            loam_sampler_free(s);
            CHECK(0, "%s: drew token %d, which the filters remove", what, t);
        }
        counts[t]++;
    }
    loam_sampler_free(s);
    double chi2 = 0;
    int support = 0;
    for (int i = 0; i < V; i++) {
        if (want[i] == 0) continue;
        support++;
        double e = want[i] * DRAWS;
        chi2 += (counts[i] - e) * (counts[i] - e) / e;
    }
    if (support > 1)
        CHECK(chi2 < chi2_critical(support - 1), "%s: chi-square %.1f over %d tokens (critical %.1f)", what, chi2, support,
              chi2_critical(support - 1));
}

static loam_sampling_params params(float temp, int top_k, float top_p, float min_p) {
    loam_sampling_params p = loam_sampling_default_params();
    p.temperature = temp, p.top_k = top_k, p.top_p = top_p, p.min_p = min_p, p.seed = 42;
    return p;
}

static void test_temperature(void) {
    check_distribution("temperature 1", params(1.0f, 0, 1, 0), NULL, 0, NULL, 0);
    check_distribution("temperature 0.5", params(0.5f, 0, 1, 0), NULL, 0, NULL, 0);
    check_distribution("temperature 2", params(2.0f, 0, 1, 0), NULL, 0, NULL, 0);
}

static void test_top_k(void) {
    check_distribution("top-k 3", params(1.0f, 3, 1, 0), NULL, 0, NULL, 0);
    check_distribution("top-k 1", params(1.0f, 1, 1, 0), NULL, 0, NULL, 0);
}

static void test_top_p(void) {
    check_distribution("top-p 0.8", params(1.0f, 0, 0.8f, 0), NULL, 0, NULL, 0);
    check_distribution("top-p 0.5", params(1.0f, 0, 0.5f, 0), NULL, 0, NULL, 0);
    check_distribution("top-p 0.95 temp 1.5", params(1.5f, 0, 0.95f, 0), NULL, 0, NULL, 0);
}

static void test_min_p(void) {
    check_distribution("min-p 0.1", params(1.0f, 0, 1, 0.1f), NULL, 0, NULL, 0);
    check_distribution("min-p 0.3", params(1.0f, 0, 1, 0.3f), NULL, 0, NULL, 0);
}

static void test_combined_in_hf_order(void) {
    check_distribution("temp 0.7 top-k 6 top-p 0.9 min-p 0.05", params(0.7f, 6, 0.9f, 0.05f), NULL, 0, NULL, 0);
    check_distribution("temp 1.3 top-k 8 top-p 0.7 min-p 0.2", params(1.3f, 8, 0.7f, 0.2f), NULL, 0, NULL, 0);
}

static void test_penalties(void) {
    loam_sampling_params p = params(1.0f, 0, 1, 0);
    p.repetition_penalty = 1.5f;
    int prompt[] = {0, 8};
    check_distribution("repetition penalty 1.5", p, prompt, 2, NULL, 0);
    p = params(1.0f, 0, 1, 0);
    p.presence_penalty = 0.5f, p.frequency_penalty = 0.3f;
    int gen[] = {1, 1, 3};
    check_distribution("presence 0.5 frequency 0.3", p, prompt, 2, gen, 3);
    p.repetition_penalty = 1.3f, p.top_k = 4;
    check_distribution("all penalties and top-k", p, prompt, 2, gen, 3);
}

static void test_greedy_and_seed(void) {
    loam_sampling_params g = params(0.0f, 0, 1, 0);
    g.repetition_penalty = 10.0f;
    loam_sampler *s;
    loam_error err;
    CHECK_OK(loam_sampler_open(&g, V, &s, &err), &err);
    int first = loam_sampler_sample(s, base_logits);
    loam_sampler_accept(s, 0, 1);
    int second = loam_sampler_sample(s, base_logits); /* token 0 penalised below token 1 */
    loam_sampler_free(s);
    CHECK(first == 0 && second == 1, "greedy gave %d then %d", first, second);

    loam_sampling_params p = params(1.0f, 0, 1, 0);
    int a[200], b[200], c[200], differ = 0;
    loam_sampler *s1, *s2, *s3;
    p.seed = 7;
    loam_sampler_open(&p, V, &s1, &err);
    loam_sampler_open(&p, V, &s2, &err);
    p.seed = 8;
    loam_sampler_open(&p, V, &s3, &err);
    for (int i = 0; i < 200; i++) {
        a[i] = loam_sampler_sample(s1, base_logits);
        b[i] = loam_sampler_sample(s2, base_logits);
        c[i] = loam_sampler_sample(s3, base_logits);
        differ |= a[i] != c[i];
    }
    loam_sampler_free(s1), loam_sampler_free(s2), loam_sampler_free(s3);
    CHECK(memcmp(a, b, sizeof a) == 0, "same seed, different draws");
    CHECK(differ, "different seeds, same 200 draws");
}

static void test_rejects_bad_params(void) {
    loam_sampler *s = NULL;
    loam_error err;
    loam_sampling_params p = params(1.0f, 0, 0.0f, 0);
    CHECK(loam_sampler_open(&p, V, &s, &err) == LOAM_E_ARG, "top_p 0 accepted");
    p = params(1.0f, 0, 1, 2.0f);
    CHECK(loam_sampler_open(&p, V, &s, &err) == LOAM_E_ARG, "min_p 2 accepted");
}

/* Greedy against a plain loop: the first index of the largest value, NaNs
 * skipped, for sizes around the 8-wide unrolling and a large vocabulary. */
static void test_greedy_argmax(void) {
    static const int sizes[] = {1, 7, 8, 9, 17, 128256};
    uint64_t r = 99;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int n = sizes[si];
        float *l = malloc((size_t)n * sizeof *l);
        for (int round = 0; round < 4; round++) {
            for (int i = 0; i < n; i++) {
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                l[i] = (float)((r >> 44) % 64) - 32.0f; /* few values: many ties */
            }
            if (round == 1 && n > 2) l[n - 1] = NAN, l[n / 2] = NAN;
            if (round == 2) l[n - 1] = 1000.0f; /* the largest in the tail */
            int want = 0;
            for (int i = 1; i < n; i++)
                if (l[i] > l[want]) want = i;
            loam_sampling_params sp = loam_sampling_default_params();
            sp.temperature = 0;
            loam_sampler *s = NULL;
            loam_error err;
            int got = loam_sampler_open(&sp, n, &s, &err) == LOAM_OK ? loam_sampler_sample(s, l) : -1;
            loam_sampler_free(s);
            if (got != want) free(l);
            CHECK(got == want, "n=%d round %d: greedy picked %d, the first largest is %d", n, round, got, want);
        }
        free(l);
    }
}

void register_sampler_tests(void) {
    test_add("sampler: temperature (chi-square)", test_temperature);
    test_add("sampler: top-k (chi-square)", test_top_k);
    test_add("sampler: top-p as HF defines it (chi-square)", test_top_p);
    test_add("sampler: min-p (chi-square)", test_min_p);
    test_add("sampler: filters combined in HF order (chi-square)", test_combined_in_hf_order);
    test_add("sampler: repetition, presence, frequency penalties (chi-square)", test_penalties);
    test_add("sampler: greedy after penalties; seeds reproduce", test_greedy_and_seed);
    test_add("sampler: bad parameters rejected", test_rejects_bad_params);
    test_add("sampler: greedy is the first index of the largest logit (ties, NaNs, tails, a 128k vocabulary)", test_greedy_argmax);
}
