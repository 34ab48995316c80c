/*
 * loam.h — the runtime interface of libloam (tools are in loam_tools.h).
 *
 *     loam_error err;  loam_model *m;  loam_context *c;  loam_tokenizer *tok;  loam_sampler *s;
 *     loam_sampling_params greedy = loam_sampling_default_params();
 *     if (loam_model_open(dir, NULL, &m, &err) || loam_context_open(m, NULL, &c, &err) ||
 *         loam_tokenizer_open(dir, &tok, &err) || loam_sampler_open(&greedy, n_vocab, &s, &err))
 *         return fprintf(stderr, "%s\n", err.message), 1;        // the message names the file at fault
 *     int32_t *ids, n, seq0[64] = {0}, pos[64];
 *     loam_tokenize(tok, "Once upon a time", 16, 1, &ids, &n, &err);   // + BOS, as transformers
 *     for (int i = 0; i < n; i++) pos[i] = i;
 *     loam_batch prompt = {n, ids, pos, seq0, NULL};                    // the prompt in one batch
 *     loam_decode(c, &prompt, &err);
 *     const float *logits = loam_get_logits(c, n - 1);
 *     for (int32_t p = n; p < 64; p++) {                              // then a token at a time
 *         int32_t next = loam_sampler_sample(s, logits);              // print loam_token_str(tok, next, ..)
 *         loam_batch one = {1, &next, &p, seq0, NULL};
 *         loam_decode(c, &one, &err), logits = loam_get_logits(c, 0);
 *     }
 *
 * (examples/generate.c is this, complete, with its error checks.) Shape of the API, as whisper.h:
 * opaque handles, *_open / *_free, params structs with *_default_params(),
 * and every fallible call returns a loam_status and fills an optional
 * loam_error with a readable message naming the file, tensor or key at
 * fault. The library never exits the process and keeps no global state.
 */
#ifndef LOAM_H
#define LOAM_H

#include <stddef.h>
#include <stdint.h>

/* What the shared library exports (it is built with hidden visibility). */
#if defined(_WIN32) && defined(LOAM_BUILDING)
#define LOAM_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define LOAM_API __attribute__((visibility("default")))
#else
#define LOAM_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define LOAM_VERSION "0.1.0"

/* ------------------------------------------------------------------ errors */

typedef enum loam_status {
    LOAM_OK = 0,
    LOAM_E_IO,          /* a file could not be opened, read or mapped */
    LOAM_E_FORMAT,      /* a file is malformed (bad header, offsets, JSON, ...) */
    LOAM_E_UNSUPPORTED, /* well-formed, but asks for something loam does not do */
    LOAM_E_NOMEM,       /* out of memory */
    LOAM_E_ARG,         /* bad argument from the caller */
    LOAM_E_RANGE,       /* a value is out of range (context full, bad token id) */
    LOAM_E_CANCELLED,   /* a callback asked to stop */
} loam_status;

typedef struct loam_error {
    loam_status code;
    char message[1024];
} loam_error;

/* Short name of a status code, e.g. "format error". */
LOAM_API const char *loam_status_name(loam_status status);

/* ----------------------------------------------------------------- threads */

/* Number of physical cores (not hyper-threads); the default thread count. */
LOAM_API int loam_physical_cores(void);

/* ------------------------------------------------------------------ models */

typedef struct loam_model loam_model;

typedef enum loam_simd {
    LOAM_SIMD_AUTO = 0, /* best the CPU supports (LOAM_SIMD env var may lower it) */
    LOAM_SIMD_SCALAR,
    LOAM_SIMD_AVX2,
    LOAM_SIMD_AVX512,
} loam_simd;

typedef struct loam_model_params {
    int n_threads;   /* 0 = physical cores */
    loam_simd simd;  /* kernel level; AUTO picks from CPUID */
    int quant_exact; /* quantized weights: dequantize and compute in f32 (slow, exact)
                        instead of int8 activations with integer dot products (default) */
    int bf16_dot;    /* BF16 weights: round the activations to bf16 and use AVX512-BF16 dot
                        products (faster prefill, not exact: see the README for its KL). Ignored,
                        and loam_model_info.bf16_dot stays 0, when the CPU lacks AVX512-BF16 */
    int keep_layout; /* weights as stored and mapped: no repacking or copying at load (by default
                        Q4_0, Q8_0, Q4_K and Q6_K matrices are repacked for the AVX512-VNNI kernels
                        and F16/BF16/F32 ones copied into huge pages: faster products, the same
                        bytes, held in memory instead of mapped) */
} loam_model_params;

LOAM_API loam_model_params loam_model_default_params(void);

/* Opens a model folder as published on the hub (config.json,
 * model.safetensors or shards + index) or a GGUF file. Weights are
 * memory-mapped and stay in their stored dtype; the matrices the kernels
 * read faster in another layout of the same size (or from huge pages) are
 * repacked or copied once, here, and their mapped pages given back (see
 * keep_layout). */
LOAM_API loam_status loam_model_open(const char *path, const loam_model_params *params,
                            loam_model **out, loam_error *err);
LOAM_API void loam_model_free(loam_model *model);

typedef struct loam_model_info {
    char architecture[64]; /* e.g. "LlamaForCausalLM" */
    char model_type[32];   /* e.g. "llama" */
    char dtype[16];        /* storage dtype of the weight matrices, e.g. "bf16" */
    char simd[16];         /* kernel level in use */
    int bf16_dot;          /* the bf16-activation path is on (params.bf16_dot and the CPU has it) */
    int n_repacked;        /* weight matrices repacked at load for the kernels (0: all as stored) */
    int64_t n_params;      /* as transformers' num_parameters(): tied weights once */
    uint64_t weight_bytes; /* bytes of the weights used by the model */
    int n_layers, n_embd, n_heads, n_kv_heads, head_dim, n_ff, n_vocab;
    int n_ctx_train; /* max_position_embeddings (or the family's equivalent) */
    int n_threads;
    int bos_id;      /* -1 when none */
    int n_eos;
    int eos_ids[8];
} loam_model_info;

LOAM_API void loam_model_get_info(const loam_model *model, loam_model_info *info);

/* Bytes of f32 KV cache needed for n_ctx positions in each of n_seq sequences. */
LOAM_API uint64_t loam_model_kv_bytes(const loam_model *model, int n_ctx, int n_seq);

/* The context a loam_context gets when its params say n_ctx = 0: the
 * model's training context, at most 4096 positions. */
LOAM_API int loam_model_default_n_ctx(const loam_model *model);

/* --------------------------------------------------------------- contexts */

/* A context holds the KV cache of up to n_seq_max sequences and the scratch
 * memory of one forward pass. Several contexts may share one model. */
typedef struct loam_context loam_context;

typedef enum loam_kv_type {
    LOAM_KV_F32 = 0, /* exact (the goldens' setting) */
    LOAM_KV_F16,     /* half the memory */
    LOAM_KV_Q8_0,    /* about a quarter; needs head_dim a multiple of 32 */
} loam_kv_type;

typedef struct loam_context_params {
    int n_ctx;          /* positions per sequence; 0 = the model's training context, capped at 4096 */
    int n_seq_max;      /* sequences that can be in the cache at once */
    int capture_hidden; /* keep every layer's hidden states of the last decode (for --dump) */
    loam_kv_type kv_type;
    int n_ubatch;       /* a longer batch is computed in slices of this many rows, so scratch
                           memory stays small; 0 = the largest of 64..512 whose scratch is at
                           most 3% of the weights. Results do not depend on it */
} loam_context_params;

/* "f32", "f16", "q8_0" -> type; 0 if unknown. */
LOAM_API int loam_kv_type_parse(const char *name, loam_kv_type *out);

LOAM_API loam_context_params loam_context_default_params(void);
LOAM_API loam_status loam_context_open(loam_model *model, const loam_context_params *params,
                              loam_context **out, loam_error *err);
LOAM_API void loam_context_free(loam_context *ctx);

/* One forward pass over a set of tokens. The tokens may belong to different
 * sequences and positions: a prompt prefill, one decode step of several
 * sequences, or a mix. Each token attends to the cached positions <= pos of
 * its own sequence; its K/V are written at (seq_id, pos). The matrix products
 * take all rows together. */
typedef struct loam_batch {
    int n_tokens;
    const int32_t *token;
    const int32_t *pos;
    const int32_t *seq_id;
    const int8_t *want_logits; /* NULL = logits for every row */
} loam_batch;

LOAM_API loam_status loam_decode(loam_context *ctx, const loam_batch *batch, loam_error *err);

/* Logits of row i of the last batch (NULL if that row did not ask). */
LOAM_API const float *loam_get_logits(const loam_context *ctx, int i);
/* Hidden state `layer` (0 = embeddings, n_layers = after the final norm) of
 * row i of the last batch; needs capture_hidden. */
LOAM_API const float *loam_get_hidden(const loam_context *ctx, int layer, int i);
/* The KV cache. Each sequence caches positions 0 .. len-1. A batch row at
 * position p of a sequence is accepted when p <= len (p < len overwrites
 * from p: afterwards the sequence ends at the batch's last position); a
 * position past len would leave a gap and is refused with LOAM_E_RANGE. */

/* Forget everything cached for a sequence. */
LOAM_API void loam_kv_seq_clear(loam_context *ctx, int seq_id);
/* Positions cached for a sequence (-1 for a sequence outside the context). */
LOAM_API int loam_kv_seq_len(const loam_context *ctx, int seq_id);
/* Positions per sequence, and sequences, of the context. */
LOAM_API int loam_context_n_ctx(const loam_context *ctx);
LOAM_API int loam_context_n_seq_max(const loam_context *ctx);
/* Drops positions p0 .. p1-1 of a sequence (p1 < 0: to the end). Later
 * positions move down by p1 - p0; for RoPE models their keys are rotated
 * back (as llama.cpp's context shift: close to, not bit-identical with,
 * recomputing them). */
LOAM_API loam_status loam_kv_seq_remove(loam_context *ctx, int seq_id, int p0, int p1, loam_error *err);
/* Sequence dst's cache becomes the first n positions of src's (n < 0: all
 * of it): a shared prompt prefix computed once. */
LOAM_API loam_status loam_kv_seq_copy(loam_context *ctx, int src_seq, int dst_seq, int n, loam_error *err);

/* --------------------------------------------------------------- sampling */

typedef struct loam_sampling_params {
    float temperature;        /* <= 0: greedy */
    int top_k;                /* <= 0: off */
    float top_p;              /* >= 1: off */
    float min_p;              /* <= 0: off */
    float repetition_penalty; /* 1: off (HF: divides positive, multiplies negative logits) */
    float presence_penalty;   /* 0: off (OpenAI) */
    float frequency_penalty;  /* 0: off (OpenAI) */
    uint64_t seed;
} loam_sampling_params;

/* Greedy, all filters off. */
LOAM_API loam_sampling_params loam_sampling_default_params(void);
/* The model's own defaults from generation_config.json, as transformers'
 * GenerationConfig reads them (do_sample false => greedy). */
LOAM_API loam_sampling_params loam_model_sampling_params(const loam_model *model);

typedef struct loam_sampler loam_sampler;

LOAM_API loam_status loam_sampler_open(const loam_sampling_params *params, int n_vocab,
                              loam_sampler **out, loam_error *err);
LOAM_API void loam_sampler_free(loam_sampler *s);
/* Tell the sampler about a token in the sequence so far. Prompt tokens count
 * for the repetition penalty; generated ones also for presence/frequency. */
LOAM_API void loam_sampler_accept(loam_sampler *s, int32_t token, int is_prompt);
/* Draw the next token from the logits (not modified). */
LOAM_API int32_t loam_sampler_sample(loam_sampler *s, const float *logits);

/* -------------------------------------------------------------- tokenizer */

typedef struct loam_tokenizer loam_tokenizer;

/* Opens a tokenizer as published: a model folder or a tokenizer file
 * (tokenizer.json wins; else tokenizer.model, vocab.json + merges.txt,
 * *.tiktoken; or a GGUF file's embedded vocab). */
LOAM_API loam_status loam_tokenizer_open(const char *path, loam_tokenizer **out, loam_error *err);
LOAM_API void loam_tokenizer_free(loam_tokenizer *tok);
LOAM_API int loam_tokenizer_n_vocab(const loam_tokenizer *tok);

/* Text (UTF-8; invalid UTF-8 is refused with LOAM_E_ARG) to ids. The ids
 * are malloc'ed; free() them. add_special applies the post-processor
 * (BOS/EOS), as transformers' add_special_tokens. */
LOAM_API loam_status loam_tokenize(const loam_tokenizer *tok, const char *text, size_t len, int add_special,
                          int32_t **ids, int *n_ids, loam_error *err);
/* Ids to text (malloc'ed, NUL-terminated; free() it). Special tokens are
 * kept unless skip_special. */
LOAM_API loam_status loam_detokenize(const loam_tokenizer *tok, const int32_t *ids, int n_ids, int skip_special,
                            char **text, size_t *len, loam_error *err);
/* The raw token string (NULL for an unknown id). */
LOAM_API const char *loam_token_str(const loam_tokenizer *tok, int32_t id, size_t *len);
LOAM_API int loam_token_is_special(const loam_tokenizer *tok, int32_t id);
/* id of an exact token string (model vocab or added token), -1 if none */
LOAM_API int32_t loam_token_id(const loam_tokenizer *tok, const char *str);

/* Streaming decode: push ids one at a time; each push yields the text that
 * is now complete (never half a UTF-8 character). */
typedef struct loam_detok_stream loam_detok_stream;
LOAM_API loam_status loam_detok_stream_open(const loam_tokenizer *tok, int skip_special, loam_detok_stream **out,
                                   loam_error *err);
/* *text (valid until the next call) may be empty. */
LOAM_API loam_status loam_detok_stream_push(loam_detok_stream *s, int32_t id, const char **text, size_t *len,
                                   loam_error *err);
LOAM_API void loam_detok_stream_free(loam_detok_stream *s);

/* ----------------------------------------------------------- chat templates */

/* The chat template from tokenizer_config.json, or NULL. */
LOAM_API const char *loam_tokenizer_chat_template(const loam_tokenizer *tok);

/* Renders a chat template (the tokenizer's own, or `template_override`)
 * for an OpenAI-style messages array given as JSON text. tools_json (a JSON
 * array) and extra_vars_json (a JSON object of other template variables,
 * e.g. date_string) may be NULL. bos_token and eos_token are set from the
 * tokenizer. *out is malloc'ed. A template error (raise_exception, an
 * unsupported construct) is LOAM_E_FORMAT with the message. */
LOAM_API loam_status loam_chat_apply_template(const loam_tokenizer *tok, const char *template_override,
                                     const char *messages_json, const char *tools_json,
                                     const char *extra_vars_json, int add_generation_prompt, char **out,
                                     loam_error *err);

/* The tokens that end generation: the model's EOS ids (generation_config
 * or GGUF metadata; the tokenizer's eos_token where the model names none);
 * with for_chat also the end-of-turn specials the vocabulary has
 * (<|eot_id|>, <end_of_turn>, <|im_end|>, ...). model or tok may be NULL. Returns how many were written
 * (at most cap). */
LOAM_API int loam_stop_tokens(const loam_model *model, const loam_tokenizer *tok, int for_chat, int32_t *ids, int cap);

#ifdef __cplusplus
}
#endif
#endif /* LOAM_H */
