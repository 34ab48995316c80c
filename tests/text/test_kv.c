/* The library's KV cache through the public API: what a sequence holds,
 * which positions a batch may use, and that clearing, truncating and
 * copying a prefix give logits bit-identical to a fresh context's. */
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "test.h"
#include "text/context.h"

typedef struct {
    loam_model *model;
    loam_context *ctx;
    int n_vocab;
    loam_error err;
} kv_case;

static int open_kv_case(kv_case *c, const char *name, int n_seq) {
    memset(c, 0, sizeof *c);
    loam_model_params mp = loam_model_default_params();
    mp.n_threads = 2;
    loam_context_params cp = loam_context_default_params();
    cp.n_seq_max = n_seq;
    cp.n_ctx = 64;
    if (loam_model_open(fixture(name), &mp, &c->model, &c->err) || loam_context_open(c->model, &cp, &c->ctx, &c->err)) return 0;
    loam_model_info in;
    loam_model_get_info(c->model, &in);
    c->n_vocab = in.n_vocab;
    return 1;
}

static void close_kv_case(kv_case *c) {
    loam_context_free(c->ctx);
    loam_model_free(c->model);
}

/* Feeds ids[0..n) of sequence `seq` at positions from..from+n-1 in one
 * batch; copies the logits of every row into out[n][V] (if out). */
static loam_status feed(kv_case *c, int seq, const int32_t *ids, int n, int from, float *out) {
    int32_t pos[64], sq[64];
    for (int i = 0; i < n; i++) pos[i] = from + i, sq[i] = seq;
    loam_batch b = {n, ids, pos, sq, NULL};
    loam_status st = loam_decode(c->ctx, &b, &c->err);
    for (int i = 0; !st && out && i < n; i++) memcpy(out + (size_t)i * c->n_vocab, loam_get_logits(c->ctx, i), (size_t)c->n_vocab * 4);
    return st;
}

static const int32_t prompt[12] = {1, 403, 407, 261, 378, 275, 471, 263, 289, 318, 356, 269};
static const int32_t other[12] = {1, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310};

/* The case: prefill 10 tokens, clear, decode at position 9 ->
 * LOAM_E_RANGE (it used to read the stale cache). */
static void test_clear_forgets(void) {
    kv_case c;
    int ok = open_kv_case(&c, "llm/stories260k", 1);
    CHECK(ok, "open: %s", c.err.message);
    CHECK(loam_context_n_ctx(c.ctx) == 64 && loam_context_n_seq_max(c.ctx) == 1, "context size queries");
    CHECK(feed(&c, 0, prompt, 10, 0, NULL) == LOAM_OK, "prefill: %s", c.err.message);
    CHECK(loam_kv_seq_len(c.ctx, 0) == 10, "10 cached positions, not %d", loam_kv_seq_len(c.ctx, 0));
    CHECK(feed(&c, 0, prompt + 11, 1, 11, NULL) == LOAM_E_RANGE, "position 11 after 10 must be refused");
    loam_kv_seq_clear(c.ctx, 0);
    CHECK(loam_kv_seq_len(c.ctx, 0) == 0, "a cleared sequence has no positions");
    loam_status st = feed(&c, 0, prompt + 9, 1, 9, NULL);
    CHECK(st == LOAM_E_RANGE, "decode at 9 after a clear gave %d, not LOAM_E_RANGE", (int)st);
    CHECK(loam_kv_seq_len(c.ctx, 1) == -1 && loam_kv_seq_len(c.ctx, -1) == -1, "sequences outside the context");
    close_kv_case(&c);
}

/* A re-prefill from 0 after a clear, an overwrite from the middle, and a
 * truncation then re-decode all equal a fresh context bit for bit. */
static void test_reuse_is_bit_identical(void) {
    kv_case fresh, used;
    int ok = open_kv_case(&fresh, "llm/llama31", 1) && open_kv_case(&used, "llm/llama31", 1);
    CHECK(ok, "open: %s %s", fresh.err.message, used.err.message);
    int V = fresh.n_vocab;
    float *want = malloc((size_t)12 * V * 4), *got = malloc((size_t)12 * V * 4);
    CHECK(feed(&fresh, 0, prompt, 12, 0, want) == LOAM_OK, "fresh: %s", fresh.err.message);
    /* 1. other tokens, clear, the prompt */
    CHECK(feed(&used, 0, other, 12, 0, NULL) == LOAM_OK, "%s", used.err.message);
    loam_kv_seq_clear(used.ctx, 0);
    CHECK(feed(&used, 0, prompt, 12, 0, got) == LOAM_OK, "%s", used.err.message);
    int same_clear = memcmp(got, want, (size_t)12 * V * 4) == 0;
    /* 2. a fresh context built in two batches, 0..5 and 6..11 */
    kv_case two;
    float *want2 = malloc((size_t)6 * V * 4);
    ok = open_kv_case(&two, "llm/llama31", 1) && feed(&two, 0, prompt, 6, 0, NULL) == LOAM_OK &&
         feed(&two, 0, prompt + 6, 6, 6, want2) == LOAM_OK;
    /* against: other tokens from 6, then overwrite from 6 with the prompt */
    loam_kv_seq_clear(used.ctx, 0);
    ok = ok && feed(&used, 0, prompt, 6, 0, NULL) == LOAM_OK && feed(&used, 0, other, 10, 6, NULL) == LOAM_OK &&
         loam_kv_seq_len(used.ctx, 0) == 16 && feed(&used, 0, prompt + 6, 6, 6, got) == LOAM_OK &&
         loam_kv_seq_len(used.ctx, 0) == 12;
    int same_overwrite = ok && memcmp(got, want2, (size_t)6 * V * 4) == 0;
    /* 3. other tokens from 6, drop them, then the prompt's rest */
    loam_kv_seq_clear(used.ctx, 0);
    ok = ok && feed(&used, 0, prompt, 6, 0, NULL) == LOAM_OK && feed(&used, 0, other, 10, 6, NULL) == LOAM_OK &&
         loam_kv_seq_remove(used.ctx, 0, 6, -1, &used.err) == LOAM_OK && loam_kv_seq_len(used.ctx, 0) == 6 &&
         feed(&used, 0, prompt + 6, 6, 6, got) == LOAM_OK;
    int same_truncate = ok && memcmp(got, want2, (size_t)6 * V * 4) == 0;
    free(want), free(got), free(want2);
    close_kv_case(&fresh), close_kv_case(&used), close_kv_case(&two);
    CHECK(same_clear, "re-prefill after a clear differs from a fresh context");
    CHECK(ok, "overwrite / truncate steps failed: %s", used.err.message);
    CHECK(same_overwrite, "overwriting from position 6 differs from a fresh context");
    CHECK(same_truncate, "truncating to 6 then decoding differs from a fresh context");
}

/* Prompt caching: sequence 1 gets sequence 0's first 6 positions (0 went on
 * with other tokens), then decodes the rest: bit-identical to a fresh
 * context that prefilled the same 6 then the rest. */
static void test_copied_prefix_is_bit_identical(void) {
    kv_case fresh, shared;
    int ok = open_kv_case(&fresh, "llm/llama31", 1) && open_kv_case(&shared, "llm/llama31", 3);
    CHECK(ok, "open: %s %s", fresh.err.message, shared.err.message);
    int V = fresh.n_vocab;
    float *want = malloc((size_t)6 * V * 4), *got = malloc((size_t)6 * V * 4);
    ok = feed(&fresh, 0, prompt, 6, 0, NULL) == LOAM_OK && feed(&fresh, 0, prompt + 6, 6, 6, want) == LOAM_OK &&
         feed(&shared, 0, prompt, 6, 0, NULL) == LOAM_OK && feed(&shared, 0, other, 5, 6, NULL) == LOAM_OK &&
         loam_kv_seq_copy(shared.ctx, 0, 1, 6, &shared.err) == LOAM_OK && loam_kv_seq_len(shared.ctx, 1) == 6 &&
         feed(&shared, 1, prompt + 6, 6, 6, got) == LOAM_OK;
    int same = ok && memcmp(got, want, (size_t)6 * V * 4) == 0;
    loam_status too_long = loam_kv_seq_copy(shared.ctx, 0, 2, 12, &shared.err);
    int all = loam_kv_seq_copy(shared.ctx, 0, 2, -1, &shared.err) == LOAM_OK && loam_kv_seq_len(shared.ctx, 2) == 11;
    free(want), free(got);
    close_kv_case(&fresh), close_kv_case(&shared);
    CHECK(ok, "steps failed: %s", shared.err.message);
    CHECK(same, "decoding after a copied prefix differs from a fresh context");
    CHECK(too_long == LOAM_E_RANGE, "copying more positions than the source has must be refused");
    CHECK(all, "copying a whole sequence (n = -1)");
}

/* Dropping a middle range moves the later rows down: byte-for-byte for an
 * ALiBi model (its keys carry no position), rotated back for a RoPE model
 * (the moved key equals the unrotated key rotated at its new position). */
static void test_remove_middle(void) {
    kv_case alibi, rope;
    int ok = open_kv_case(&alibi, "llm/bloom", 1) && open_kv_case(&rope, "llm/llama31", 1);
    CHECK(ok, "open: %s %s", alibi.err.message, rope.err.message);
    CHECK(feed(&alibi, 0, prompt, 10, 0, NULL) == LOAM_OK && feed(&rope, 0, prompt, 10, 0, NULL) == LOAM_OK, "prefill");
    const loam_kv_cache *ka = &alibi.ctx->kv, *kr = &rope.ctx->kv;
    size_t rb = ka->row_bytes;
    uint8_t *before = malloc(rb);
    memcpy(before, loam_kv_k_row(ka, 0, 1, 7), rb);
    CHECK(loam_kv_seq_remove(alibi.ctx, 0, 2, 5, &alibi.err) == LOAM_OK && loam_kv_seq_len(alibi.ctx, 0) == 7, "alibi remove");
    int moved = memcmp(before, loam_kv_k_row(ka, 0, 1, 4), rb) == 0;
    free(before);
    /* RoPE: old position 7 of layer 0 becomes position 4 */
    const loam_spec *s = &rope.model->spec;
    size_t dim = kr->dim;
    float *k7 = malloc(dim * 4), *k4 = malloc(dim * 4), cs[2048], sn[2048];
    loam_kv_load(kr, loam_kv_k_row(kr, 0, 0, 7), k7);
    int32_t back = -7, at = 4;
    nn_rope_angles(&back, 1, rope.model->rope_inv_freq, s->rope_dim / 2, cs, sn);
    nn_rope(k7, 1, s->n_kv_heads, s->head_dim, s->rope_dim, s->rope_interleaved, cs, sn); /* unrotated */
    nn_rope_angles(&at, 1, rope.model->rope_inv_freq, s->rope_dim / 2, cs, sn);
    nn_rope(k7, 1, s->n_kv_heads, s->head_dim, s->rope_dim, s->rope_interleaved, cs, sn); /* at 4 */
    CHECK(loam_kv_seq_remove(rope.ctx, 0, 2, 5, &rope.err) == LOAM_OK && loam_kv_seq_len(rope.ctx, 0) == 7, "rope remove");
    loam_kv_load(kr, loam_kv_k_row(kr, 0, 0, 4), k4);
    double d = max_abs_diff(k4, k7, dim);
    int decodes = feed(&rope, 0, prompt + 10, 1, 7, NULL) == LOAM_OK;
    free(k7), free(k4);
    close_kv_case(&alibi), close_kv_case(&rope);
    CHECK(moved, "an ALiBi model's moved key row changed");
    CHECK(d <= 1e-4, "the re-rotated key differs from the key rotated at its new position by %g", d);
    CHECK(decodes, "decoding at the shortened length");
}

/* Opens a copy of llama31 whose config says max_position_embeddings = n. */
static loam_status open_with_train_ctx(int n, loam_model **m, loam_error *err) {
    const char *dir = temp_dir();
    char path[1024], cmd[2048];
    if (!copy_dir(fixture("llm/llama31"), dir)) return LOAM_E_IO;
    snprintf(path, sizeof path, "%s/config.json", dir);
    snprintf(cmd, sizeof cmd, "sed -i 's/\"max_position_embeddings\": 1024/\"max_position_embeddings\": %d/' %s", n, path);
    if (run_capture(cmd, NULL) != 0) return LOAM_E_IO;
    return loam_model_open(dir, NULL, m, err);
}

/* The default context lives in the library: the model's training context,
 * at most 4096 (Llama 3.1's 131072 would reserve a 16 GB cache at 8B). */
static void test_default_context(void) {
    static const int train[] = {1024, 131072};
    static const int want[] = {1024, 4096};
    for (int i = 0; i < 2; i++) {
        loam_model *m = NULL;
        loam_error err;
        CHECK(open_with_train_ctx(train[i], &m, &err) == LOAM_OK, "%s", err.message);
        loam_model_info in;
        loam_model_get_info(m, &in);
        loam_context *c = NULL;
        int ok = loam_context_open(m, NULL, &c, &err) == LOAM_OK;
        int n = ok ? loam_context_n_ctx(c) : -1, def = loam_model_default_n_ctx(m);
        loam_context_free(c);
        loam_model_free(m);
        CHECK(ok, "%s", err.message);
        CHECK(in.n_ctx_train == train[i], "the copy's training context is %d", in.n_ctx_train);
        CHECK(def == want[i] && n == want[i], "trained on %d: default context %d, context opened with %d, expected %d",
              train[i], def, n, want[i]);
    }
}

void register_kv_tests(void) {
    test_add("kv: prefill 10, clear, decode at 9 is LOAM_E_RANGE; a gap is refused; lengths queried", test_clear_forgets);
    test_add("kv: re-prefill after clear, overwrite, truncate: bit-identical to a fresh context", test_reuse_is_bit_identical);
    test_add("kv: a copied prefix gives bit-identical logits (prompt caching)", test_copied_prefix_is_bit_identical);
    test_add("kv: dropping a middle range moves rows (ALiBi as is, RoPE rotated back)", test_remove_middle);
    test_add("kv: the default context policy is the library's", test_default_context);
}
