/* Whisper inside loam: the model (hyperparameters, special tokens, bound
 * weights), its runtime state, and the parts of the decoding that the
 * convenience call and the stage functions share.
 *
 * Shapes: D = d_model, S = n_audio_ctx (1500 encoder positions), V =
 * n_vocab, F = the FFN width, T the rows of a decoder batch. */
#ifndef LOAM_SPEECH_WHISPER_H
#define LOAM_SPEECH_WHISPER_H
#include <stdint.h>

#include "core/tensor.h"
#include "formats/weights.h"
#include "loam_speech.h"
#include "nn/nn.h"
#include "speech/mel.h"

#define WHISPER_MAX_SUPPRESS 512
#define WHISPER_MAX_LANGS 100

typedef struct whisper_hparams {
    int n_mels, n_audio_ctx, d_model, n_enc_layers, n_enc_heads, n_enc_ff;
    int n_text_ctx, n_dec_layers, n_dec_heads, n_dec_ff, n_vocab;
    float eps;
} whisper_hparams;

/* Special token ids, laid out from n_vocab as every Whisper vocabulary is:
 * the English-only models have no language tokens; the multilingual ones
 * 99 (up to large-v2) or 100 (large-v3). */
typedef struct whisper_special {
    int32_t eot, sot, translate, transcribe, sot_lm, sot_prev, no_speech, no_timestamps, ts_begin;
    int32_t lang0;
    int n_langs;
} whisper_special;

typedef struct whisper_attn_w {
    const loam_tensor *q, *k, *v, *o; /* [D, D] */
    float *bq, *bv, *bo;               /* [D]; K has no bias */
    float *ln_w, *ln_b;                /* the norm before it */
} whisper_attn_w;

typedef struct whisper_layer {
    whisper_attn_w self, cross; /* cross only in the decoder */
    const loam_tensor *fc1, *fc2; /* [F, D], [D, F] */
    float *b1, *b2, *ln_w, *ln_b;
} whisper_layer;

struct loam_whisper {
    char *path;
    const char *source;
    whisper_hparams hp;
    whisper_special sp;
    /* weights: a hub folder / GGUF store, or a whisper.cpp file copied into an arena */
    loam_weight_store store;
    void *bin;
    const loam_tensor *conv1, *conv2, *tok_emb; /* [D, n_mels, 3], [D, D, 3], [V, D] */
    const loam_tensor *head;                    /* the logits' matrix: tok_emb, or its repacked copy */
    loam_tensor *packed;                        /* matrices repacked at load for the kernels */
    void *packed_arena;                         /* their data, one allocation */
    int n_packed;
    float *conv1_b, *conv2_b, *enc_pos, *dec_pos; /* [D], [D], [S, D], [n_text_ctx, D] */
    float *enc_ln_w, *enc_ln_b, *dec_ln_w, *dec_ln_b;
    whisper_layer *enc, *dec;
    /* decoding data: generation_config.json, or the defaults of the published models */
    int32_t suppress[WHISPER_MAX_SUPPRESS];
    int n_suppress;
    int32_t begin_suppress[16];
    int n_begin_suppress;
    int max_initial_ts;
    /* alignment heads (layer, head): generation_config's, else every head of the last half of the decoder */
    int32_t (*align_heads)[2];
    int n_align;
    float *align_scores; /* while set: a decode writes those heads' raw cross-attention scores [n_align][T][S] here */
    /* text: a tokenizer (hub folder) or the file's own byte vocabulary */
    loam_tokenizer *tok;
    char **vocab;
    uint32_t *vocab_len;
    int n_vocab_bytes;
    /* runtime */
    speech_mel mel;
    const loam_kernels *kernels;
    loam_nn nn;
    int n_threads;
    float *enc_out;              /* [S, D] */
    float *enc_scratch;          /* the encoder's activations, kept between windows (no page faults each window) */
    float *cross_k, *cross_v;    /* [n_dec_layers] × per head Kᵀ, V in panels (nn_cross_keys) */
    size_t cross_k_layer, cross_v_layer; /* floats of one layer's */
    loam_kv_cache kv;            /* decoder self-attention, up to WHISPER_MAX_SEQ sequences */
    int n_rows_cap;              /* decoder scratch rows */
    float *x, *h, *q, *k, *v, *att, *o, *ff; /* [T, D] (ff [T, F]) */
    float *logits;               /* [n_logit_rows, V] */
    int n_logit_rows, logits_cap;
    int32_t *pos, *seq;
};

#define WHISPER_MAX_SEQ 16 /* beams (double-buffered) or best-of candidates */

/* whisper_load.c */
loam_status whisper_load_bin(loam_whisper *w, const char *path, loam_error *err);
/* The same over bytes in memory (the fuzz target's way in; mapped: the
 * bytes are a file mapping whose pages may be given back as they are
 * copied); w->bin is set even on failure, for whisper_bin_free. */
loam_status whisper_parse_bin(loam_whisper *w, const uint8_t *data, uint64_t size, int mapped, const char *path,
                              loam_error *err);
void whisper_bin_free(void *bin);
const loam_tensor *whisper_bin_find(const void *bin, const char *name);
loam_status whisper_bin_vocab(loam_whisper *w, loam_error *err);
void whisper_layout_special(whisper_special *sp, int n_vocab);
const char *whisper_lang_code(int i);

/* whisper_graph.c */
loam_status whisper_runtime_init(loam_whisper *w, loam_error *err);
void whisper_runtime_free(loam_whisper *w);
/* enc_out and the cross K/V from mel[n_mels, 3000] */
loam_status whisper_encode(loam_whisper *w, const float *mel, loam_error *err);
/* T rows (token, pos, seq) through the decoder; logits for the rows with
 * want[t] (all when want is NULL), packed in order. */
loam_status whisper_decode_rows(loam_whisper *w, const int32_t *tokens, const int32_t *pos, const int32_t *seq, int T,
                                const uint8_t *want, loam_error *err);

/* whisper_align.c: word timestamps for one window's new segments */
struct search_opts;
loam_status whisper_add_word_timestamps(loam_whisper *w, int lang, loam_whisper_task task, loam_whisper_segment *segs, int n_segs,
                                        int num_frames, double *last_speech, loam_error *err);
void whisper_words_free(loam_whisper_segment *s);
/* Dynamic time warping over cost[N, M] (openai's dtw_cpu): the path's
 * (row, column) pairs from (0, 0) to (N−1, M−1); returns their count (≤ N + M). */
int whisper_dtw(const double *cost, int N, int M, int *rows, int *cols);

/* whisper_rules.c: openai/whisper's logit filters */
typedef struct whisper_rules {
    int sample_begin;   /* index of the first sampled token in the sequence */
    int timestamps;     /* apply the timestamp rules */
    int max_initial_ts; /* −1: none */
} whisper_rules;
/* logits[V] for the next token after seq[0..len) (len ≥ sample_begin). */
void whisper_apply_rules(const loam_whisper *w, const whisper_rules *r, const int32_t *seq, int len, float *logits);
/* log_softmax into out[V]. */
void whisper_log_softmax(const float *logits, int V, float *out);

#endif
