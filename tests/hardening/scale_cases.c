/* Files whose size, not their damage, is the attack: a reader must stay
 * O(n log n) in what it reads. 100,000 control tokens of varied lengths
 * (their sort was O(n^2): ~30 s), 50,000 tensors (the overlap check was
 * O(n^2): ~10 s), and a tensor whose zero dimension hid an overflowing
 * product. Each under 2 s, through info, run and tokenize. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf_write.h"
#include "hardening/crafted.h"

static const char *const cmds[] = {"info %s", "run %s --prompt-ids 1 -n 1", "tokenize %s <c17><c42>x"};

/* A valid tiny Llama (hidden 8, one layer, one head) with a gpt2 vocabulary
 * of n tokens, all but the first 256 control tokens "<c0>", "<c1>", ... */
static int write_big_vocab(const char *path, int n) {
    gguf_writer *w = gguf_writer_new();
    gguf_w_str(w, "general.architecture", "llama");
    gguf_w_u32(w, "llama.block_count", 1);
    gguf_w_u32(w, "llama.embedding_length", 8);
    gguf_w_u32(w, "llama.feed_forward_length", 8);
    gguf_w_u32(w, "llama.attention.head_count", 1);
    gguf_w_u32(w, "llama.context_length", 64);
    gguf_w_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_w_str(w, "tokenizer.ggml.pre", "default");
    char **toks = malloc((size_t)n * sizeof *toks);
    int32_t *types = malloc((size_t)n * sizeof *types);
    char buf[32];
    for (int i = 0; i < n; i++) {
        if (i < 256) { /* the byte-level alphabet's first 256 symbols stand for the bytes */
            snprintf(buf, sizeof buf, "%c", i < 94 ? '!' + i : 'a');
            if (i >= 94) snprintf(buf, sizeof buf, "b%d", i);
        } else {
            snprintf(buf, sizeof buf, "<c%d>", i - 256);
        }
        toks[i] = strdup(buf);
        types[i] = i < 256 ? 1 : 3;
    }
    gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, (uint64_t)n);
    gguf_w_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)n);
    gguf_w_arr_str(w, "tokenizer.ggml.merges", NULL, 0);
    const char *names[] = {"token_embd.weight", "output_norm.weight", "blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight",
                           "blk.0.attn_v.weight", "blk.0.attn_output.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight",
                           "blk.0.ffn_up.weight", "blk.0.ffn_down.weight"};
    for (int t = 0; t < 11; t++) {
        uint64_t ne[2] = {8, t == 0 ? (uint64_t)n : 8};
        int vec = t == 1 || t == 2 || t == 7;
        gguf_w_tensor(w, names[t], vec ? 1 : 2, ne, GGML_F32);
    }
    loam_error err;
    int ok = gguf_w_begin(w, path, &err) == LOAM_OK;
    float *data = calloc((size_t)n * 8, sizeof *data);
    for (int i = 0; i < n * 8; i++) data[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
    for (int t = 0; ok && t < 11; t++) {
        int vec = t == 1 || t == 2 || t == 7;
        size_t count = t == 0 ? (size_t)n * 8 : vec ? 8 : 64;
        ok = gguf_w_data(w, t, data, count * 4, &err) == LOAM_OK;
    }
    ok = ok && gguf_w_end(w, &err) == LOAM_OK;
    gguf_writer_free(w);
    for (int i = 0; i < n; i++) free(toks[i]);
    free(toks), free(types), free(data);
    return ok;
}

/* n one-element tensors after an architecture and nothing else. */
static int write_many_tensors(const char *path, int n) {
    gguf_writer *w = gguf_writer_new();
    gguf_w_str(w, "general.architecture", "llama");
    char name[32];
    uint64_t ne[1] = {1};
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "t.%d.weight", (i * 7919) % n); /* not in order */
        gguf_w_tensor(w, name, 1, ne, GGML_F32);
    }
    loam_error err;
    int ok = gguf_w_begin(w, path, &err) == LOAM_OK;
    float v = 1;
    for (int i = 0; ok && i < n; i++) ok = gguf_w_data(w, i, &v, 4, &err) == LOAM_OK;
    ok = ok && gguf_w_end(w, &err) == LOAM_OK;
    gguf_writer_free(w);
    return ok;
}

/* A tensor [0, 2^40, 2^40]: no bytes, but its element count is not a
 * number (in a Whisper file, which info summarizes). */
static bytes zero_dim_overflow(void) {
    bytes b = {0};
    bytes_put(&b, "GGUF", 4), bytes_u32(&b, 3), bytes_u64(&b, 1), bytes_u64(&b, 1);
    bytes_str(&b, "general.architecture"), bytes_u32(&b, 8), bytes_str(&b, "whisper");
    bytes_str(&b, "enc.weight"), bytes_u32(&b, 3), bytes_u64(&b, 0), bytes_u64(&b, 1ull << 40), bytes_u64(&b, 1ull << 40);
    bytes_u32(&b, 0), bytes_u64(&b, 0);
    while (b.n % 32) bytes_put(&b, "", 1);
    return b;
}

void crafted_scale(crafted_stats *st) {
    const char *dir = temp_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/vocab100k.gguf", dir);
    if (write_big_vocab(path, 100000)) crafted_accepted(st, "100,000 control tokens of varied lengths", path, cmds, 3);
    else st->n_bad++, snprintf(st->first_bad, sizeof st->first_bad, "cannot write %s", path);
    snprintf(path, sizeof path, "%s/tensors50k.gguf", dir);
    if (write_many_tensors(path, 50000)) crafted_refused(st, "50,000 tensors (and no model)", path, cmds, 3);
    else st->n_bad++, snprintf(st->first_bad, sizeof st->first_bad, "cannot write %s", path);
    bytes b = zero_dim_overflow();
    snprintf(path, sizeof path, "%s/zerodim.gguf", dir);
    bytes_write_file(path, b.p, b.n);
    free(b.p);
    crafted_refused(st, "a tensor [0, 2^40, 2^40]", path, cmds, 1);
}
