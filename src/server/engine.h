/* The serving engine of one model: a context with one KV sequence per
 * slot, a bounded queue of waiting requests, and one thread that runs the
 * decode loop (continuous batching): each step, waiting requests take free
 * slots, every active slot adds its next rows (prompt slices or its last
 * token) to one batch, one loam_decode computes them all, and each slot
 * samples, checks its stops and hands its new text to its request. The
 * loop never touches a socket; HTTP threads wait on the request. */
#ifndef LOAM_SERVER_ENGINE_H
#define LOAM_SERVER_ENGINE_H
#include <pthread.h>
#include <stdint.h>

#include "loam.h"

typedef enum { FINISH_NONE = 0, FINISH_STOP, FINISH_LENGTH, FINISH_ERROR, FINISH_CANCELLED } srv_finish;

#define SRV_MAX_TOP_LOGPROBS 20

typedef struct {
    int32_t id;
    float logprob;
    int n_top;
    int32_t top_id[SRV_MAX_TOP_LOGPROBS];
    float top_logprob[SRV_MAX_TOP_LOGPROBS];
} srv_logprob;

typedef struct srv_request {
    /* what to do (set before submit, read-only after) */
    int32_t *prompt;
    int n_prompt;
    loam_sampling_params sampling;
    int max_tokens;            /* generated tokens at most */
    char **stop;               /* stop strings: the text ends before the first one found */
    int n_stop;
    int ignore_eos;
    int32_t *bias_ids;         /* logit_bias: added to these tokens' logits before sampling */
    float *bias;
    int n_bias;
    int top_logprobs;          /* -1: no logprobs; else the alternatives kept per token (0..20) */
    /* what happened (under the engine's lock) */
    char *text;                /* released text: never a partial stop string or UTF-8 character */
    size_t len, cap;
    int n_generated, cached_tokens;
    srv_finish finish;
    char error[1024];
    int cancelled;             /* the client went away: the engine drops it at its next step */
    double t_submit, t_first, t_done;
    int refs;                  /* the HTTP side and the engine; freed at 0 */
    pthread_cond_t changed;    /* signalled when text grows or the request ends */
    /* logprobs of each generated token (when asked): its id and log-probability,
     * then top_logprobs (id, logprob) pairs */
    srv_logprob *lp;
    int n_lp, cap_lp;
    /* the engine's own */
    char *held;                /* text held back while it may start a stop string */
    size_t held_len, held_cap;
} srv_request;

typedef struct srv_engine srv_engine;

typedef struct {
    const char *name, *path;
    int n_slots, n_queue, n_ctx, n_threads;
    int bf16_dot, keep_layout;
    loam_kv_type kv_type;
} srv_engine_config;

typedef struct {
    uint64_t requests, prompt_tokens, generated_tokens, cached_tokens, decode_steps, batch_rows;
    int queue_depth, slots_busy, n_slots;
    uint64_t kv_positions_used, kv_positions_total;
    /* Prometheus histograms: time to first token and per-token latency, seconds */
    uint64_t ttft_buckets[12], tpot_buckets[12];
    double ttft_sum, tpot_sum;
    uint64_t ttft_count, tpot_count;
} srv_stats;

extern const double srv_hist_bounds[12];

loam_status srv_engine_open(const srv_engine_config *cfg, srv_engine **out, loam_error *err);
/* Ends the decode loop and every request (their waiters wake). */
void srv_engine_stop(srv_engine *e);
void srv_engine_free(srv_engine *e);

const char *srv_engine_name(const srv_engine *e);
const loam_model *srv_engine_model(const srv_engine *e);
const loam_tokenizer *srv_engine_tokenizer(const srv_engine *e);
int srv_engine_n_ctx(const srv_engine *e);
/* The model's stop tokens for chat (EOS and end-of-turn) or for plain text. */
int srv_engine_stop_tokens(const srv_engine *e, int for_chat, int32_t *ids, int cap);

/* A new request owning prompt (malloc'ed ids) and stop (each string and
 * the array malloc'ed), refs = 1 (the caller's). */
srv_request *srv_request_new(void);
/* A new request (refs = 1) asking what r asks: its prompt, sampling,
 * limits, stops, biases and logprobs copied; none of r's results. */
srv_request *srv_request_clone(const srv_request *r);
/* Drops one reference (the caller's or the engine's); frees at zero. */
void srv_request_release(srv_engine *e, srv_request *r);

/* Queues r (the engine takes a reference). LOAM_E_RANGE when the queue is
 * full (HTTP 429/503). for_chat picks the stop tokens. */
loam_status srv_engine_submit(srv_engine *e, srv_request *r, int for_chat, loam_error *err);
/* Waits until r has text beyond *seen or has finished; copies the new text
 * (malloc'ed, maybe empty) and returns the finish state at that moment.
 * lp_seen/lp/n_lp (may be NULL): the logprob entries past *lp_seen, malloc'ed. */
srv_finish srv_engine_wait(srv_engine *e, srv_request *r, size_t *seen, char **new_text, size_t *new_len);
srv_finish srv_engine_wait_lp(srv_engine *e, srv_request *r, size_t *seen, char **new_text, size_t *new_len, int *lp_seen,
                              srv_logprob **lp, int *n_lp);
/* As srv_engine_wait_lp, without waiting: nothing new gives an empty text. */
srv_finish srv_engine_poll_lp(srv_engine *e, srv_request *r, size_t *seen, char **new_text, size_t *new_len, int *lp_seen,
                              srv_logprob **lp, int *n_lp);
/* The client is gone: the slot is freed at the next step. */
void srv_engine_cancel(srv_engine *e, srv_request *r);
void srv_engine_stats(srv_engine *e, srv_stats *out);

#endif
