/* GET /metrics: Prometheus text exposition of each model's engine. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

typedef struct {
    char *s;
    size_t len, cap;
} text_buf;

static void add(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text_buf *b, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 8192;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *g = realloc(b->s, cap);
        if (!g) return;
        b->s = g, b->cap = cap;
    }
}

static void histogram(text_buf *b, const char *name, const char *help, const char *model, const uint64_t *buckets, double sum,
                      uint64_t count, int first) {
    if (first) add(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (int i = 0; i < 12; i++) add(b, "%s_bucket{model=\"%s\",le=\"%g\"} %llu\n", name, model, srv_hist_bounds[i], (unsigned long long)buckets[i]);
    add(b, "%s_bucket{model=\"%s\",le=\"+Inf\"} %llu\n", name, model, (unsigned long long)count);
    add(b, "%s_sum{model=\"%s\"} %.6f\n%s_count{model=\"%s\"} %llu\n", name, model, sum, name, model, (unsigned long long)count);
}

void srv_metrics(srv_server *s, srv_reply *out) {
    text_buf b = {0};
    static const struct {
        const char *name, *type, *help;
    } m[] = {
        {"loam_requests_total", "counter", "generation requests that took a slot"},
        {"loam_prompt_tokens_total", "counter", "prompt tokens of those requests"},
        {"loam_cached_prompt_tokens_total", "counter", "prompt tokens reused from a cached prefix"},
        {"loam_generated_tokens_total", "counter", "tokens generated"},
        {"loam_decode_steps_total", "counter", "batched forward passes (one per step for all slots)"},
        {"loam_batch_rows_total", "counter", "rows computed in those passes"},
        {"loam_queue_depth", "gauge", "requests waiting for a slot"},
        {"loam_slots_busy", "gauge", "slots generating"},
        {"loam_slots", "gauge", "slots (--parallel)"},
        {"loam_kv_cache_usage_ratio", "gauge", "share of the KV cache's positions holding tokens"},
    };
    srv_stats st[SRV_MAX_MODELS];
    for (int e = 0; e < s->n_engines; e++) srv_engine_stats(s->engines[e], &st[e]);
    for (size_t k = 0; k < sizeof m / sizeof *m; k++) {
        add(&b, "# HELP %s %s\n# TYPE %s %s\n", m[k].name, m[k].help, m[k].name, m[k].type);
        for (int e = 0; e < s->n_engines; e++) {
            const srv_stats *x = &st[e];
            double v[] = {(double)x->requests, (double)x->prompt_tokens, (double)x->cached_tokens, (double)x->generated_tokens,
                          (double)x->decode_steps, (double)x->batch_rows, x->queue_depth, x->slots_busy, x->n_slots,
                          x->kv_positions_total ? (double)x->kv_positions_used / (double)x->kv_positions_total : 0};
            add(&b, "%s{model=\"%s\"} %.10g\n", m[k].name, srv_engine_name(s->engines[e]), v[k]);
        }
    }
    for (int e = 0; e < s->n_engines; e++)
        histogram(&b, "loam_time_to_first_token_seconds", "from submission to the first generated token", srv_engine_name(s->engines[e]),
                  st[e].ttft_buckets, st[e].ttft_sum, st[e].ttft_count, e == 0);
    for (int e = 0; e < s->n_engines; e++)
        histogram(&b, "loam_time_per_output_token_seconds", "between consecutive generated tokens", srv_engine_name(s->engines[e]),
                  st[e].tpot_buckets, st[e].tpot_sum, st[e].tpot_count, e == 0);
    pthread_mutex_lock(&s->mu);
    add(&b, "# HELP loam_http_requests_total HTTP requests answered, by route and status\n# TYPE loam_http_requests_total counter\n");
    for (int i = 0; i < s->n_routes; i++)
        add(&b, "loam_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n", s->routes[i].route, s->routes[i].status,
            (unsigned long long)s->routes[i].count);
    add(&b, "# HELP loam_http_request_seconds_total time from a complete request to its answer (a stream: its start), by route and status\n"
            "# TYPE loam_http_request_seconds_total counter\n");
    for (int i = 0; i < s->n_routes; i++)
        add(&b, "loam_http_request_seconds_total{route=\"%s\",code=\"%d\"} %.6f\n", s->routes[i].route, s->routes[i].status,
            s->routes[i].seconds);
    add(&b, "# HELP loam_http_errors_total HTTP answers with a 4xx or 5xx status\n# TYPE loam_http_errors_total counter\nloam_http_errors_total %llu\n",
        (unsigned long long)s->http_errors);
    pthread_mutex_unlock(&s->mu);
    out->status = 200;
    out->content_type = "text/plain; version=0.0.4";
    out->body = b.s ? b.s : strdup("");
    out->len = b.s ? b.len : 0;
}
