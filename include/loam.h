/*
 * loam.h — the public interface of libloam.
 *
 * loam runs open-weight models on the user's own machine, straight from the
 * folders the publishers put on the Hugging Face hub. This header is the only
 * one the `loam` command-line program includes.
 *
 * Shape of the API (as whisper.h / ggml.h): opaque handles, *_open / *_free,
 * a params struct with *_default_params(), and every fallible call returns a
 * loam_status and fills an optional loam_error with a readable message.
 */
#ifndef LOAM_H
#define LOAM_H

#include <stddef.h>
#include <stdint.h>

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
} loam_status;

typedef struct loam_error {
    loam_status code;
    char message[1024];
} loam_error;

/* Short name of a status code, e.g. "format error". */
const char *loam_status_name(loam_status status);

/* ----------------------------------------------------------------- threads */

/* Number of physical cores (not hyper-threads); the default thread count. */
int loam_physical_cores(void);

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
} loam_model_params;

loam_model_params loam_model_default_params(void);

/* Opens a model folder as published on the hub (config.json,
 * model.safetensors or shards + index). Weights are memory-mapped, never
 * copied: they stay in their stored dtype. */
loam_status loam_model_open(const char *path, const loam_model_params *params,
                            loam_model **out, loam_error *err);
void loam_model_free(loam_model *model);

typedef struct loam_model_info {
    char architecture[64]; /* e.g. "LlamaForCausalLM" */
    char model_type[32];   /* e.g. "llama" */
    char dtype[16];        /* storage dtype of the weight matrices, e.g. "bf16" */
    char simd[16];         /* kernel level in use */
    int bf16_dot;          /* the bf16-activation path is on (params.bf16_dot and the CPU has it) */
    int64_t n_params;      /* as transformers' num_parameters(): tied weights once */
    uint64_t weight_bytes; /* bytes of the weights used by the model */
    int n_layers, n_embd, n_heads, n_kv_heads, head_dim, n_ff, n_vocab;
    int n_ctx_train; /* max_position_embeddings (or the family's equivalent) */
    int n_threads;
    int bos_id;      /* -1 when none */
    int n_eos;
    int eos_ids[8];
} loam_model_info;

void loam_model_get_info(const loam_model *model, loam_model_info *info);

/* Bytes of f32 KV cache needed for n_ctx positions in each of n_seq sequences. */
uint64_t loam_model_kv_bytes(const loam_model *model, int n_ctx, int n_seq);

/* The context a loam_context gets when its params say n_ctx = 0: the
 * model's training context, at most 4096 positions. */
int loam_model_default_n_ctx(const loam_model *model);

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
int loam_kv_type_parse(const char *name, loam_kv_type *out);

loam_context_params loam_context_default_params(void);
loam_status loam_context_open(loam_model *model, const loam_context_params *params,
                              loam_context **out, loam_error *err);
void loam_context_free(loam_context *ctx);

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

loam_status loam_decode(loam_context *ctx, const loam_batch *batch, loam_error *err);

/* Logits of row i of the last batch (NULL if that row did not ask). */
const float *loam_get_logits(const loam_context *ctx, int i);
/* Hidden state `layer` (0 = embeddings, n_layers = after the final norm) of
 * row i of the last batch; needs capture_hidden. */
const float *loam_get_hidden(const loam_context *ctx, int layer, int i);
/* The KV cache. Each sequence caches positions 0 .. len-1. A batch row at
 * position p of a sequence is accepted when p <= len (p < len overwrites
 * from p: afterwards the sequence ends at the batch's last position); a
 * position past len would leave a gap and is refused with LOAM_E_RANGE. */

/* Forget everything cached for a sequence. */
void loam_kv_seq_clear(loam_context *ctx, int seq_id);
/* Positions cached for a sequence (-1 for a sequence outside the context). */
int loam_kv_seq_len(const loam_context *ctx, int seq_id);
/* Positions per sequence, and sequences, of the context. */
int loam_context_n_ctx(const loam_context *ctx);
int loam_context_n_seq_max(const loam_context *ctx);
/* Drops positions p0 .. p1-1 of a sequence (p1 < 0: to the end). Later
 * positions move down by p1 - p0; for RoPE models their keys are rotated
 * back (as llama.cpp's context shift: close to, not bit-identical with,
 * recomputing them). */
loam_status loam_kv_seq_remove(loam_context *ctx, int seq_id, int p0, int p1, loam_error *err);
/* Sequence dst's cache becomes the first n positions of src's (n < 0: all
 * of it): a shared prompt prefix computed once. */
loam_status loam_kv_seq_copy(loam_context *ctx, int src_seq, int dst_seq, int n, loam_error *err);

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
loam_sampling_params loam_sampling_default_params(void);
/* The model's own defaults from generation_config.json, as transformers'
 * GenerationConfig reads them (do_sample false => greedy). */
loam_sampling_params loam_model_sampling_params(const loam_model *model);

typedef struct loam_sampler loam_sampler;

loam_status loam_sampler_open(const loam_sampling_params *params, int n_vocab,
                              loam_sampler **out, loam_error *err);
void loam_sampler_free(loam_sampler *s);
/* Tell the sampler about a token in the sequence so far. Prompt tokens count
 * for the repetition penalty; generated ones also for presence/frequency. */
void loam_sampler_accept(loam_sampler *s, int32_t token, int is_prompt);
/* Draw the next token from the logits (not modified). */
int32_t loam_sampler_sample(loam_sampler *s, const float *logits);
/* The distribution sample() draws from, after every filter (for tests). */
void loam_sampler_probs(loam_sampler *s, const float *logits, float *probs);

/* -------------------------------------------------------------- tokenizer */

typedef struct loam_tokenizer loam_tokenizer;

/* Opens a tokenizer as published: a model folder or a tokenizer file
 * (tokenizer.json wins; else tokenizer.model, vocab.json + merges.txt,
 * *.tiktoken; or a GGUF file's embedded vocab). */
loam_status loam_tokenizer_open(const char *path, loam_tokenizer **out, loam_error *err);
void loam_tokenizer_free(loam_tokenizer *tok);
int loam_tokenizer_n_vocab(const loam_tokenizer *tok);

/* Text (UTF-8; invalid UTF-8 is refused with LOAM_E_ARG) to ids. The ids
 * are malloc'ed; free() them. add_special applies the post-processor
 * (BOS/EOS), as transformers' add_special_tokens. */
loam_status loam_tokenize(const loam_tokenizer *tok, const char *text, size_t len, int add_special,
                          int32_t **ids, int *n_ids, loam_error *err);
/* Ids to text (malloc'ed, NUL-terminated; free() it). Special tokens are
 * kept unless skip_special. */
loam_status loam_detokenize(const loam_tokenizer *tok, const int32_t *ids, int n_ids, int skip_special,
                            char **text, size_t *len, loam_error *err);
/* The raw token string (NULL for an unknown id). */
const char *loam_token_str(const loam_tokenizer *tok, int32_t id, size_t *len);
int loam_token_is_special(const loam_tokenizer *tok, int32_t id);
/* id of an exact token string (model vocab or added token), -1 if none */
int32_t loam_token_id(const loam_tokenizer *tok, const char *str);

/* Streaming decode: push ids one at a time; each push yields the text that
 * is now complete (never half a UTF-8 character). */
typedef struct loam_detok_stream loam_detok_stream;
loam_status loam_detok_stream_open(const loam_tokenizer *tok, int skip_special, loam_detok_stream **out,
                                   loam_error *err);
/* *text (valid until the next call) may be empty. */
loam_status loam_detok_stream_push(loam_detok_stream *s, int32_t id, const char **text, size_t *len,
                                   loam_error *err);
void loam_detok_stream_free(loam_detok_stream *s);

/* ----------------------------------------------------------- chat templates */

/* The chat template from tokenizer_config.json, or NULL. */
const char *loam_tokenizer_chat_template(const loam_tokenizer *tok);

/* Renders a chat template (the tokenizer's own, or `template_override`)
 * for an OpenAI-style messages array given as JSON text. tools_json (a JSON
 * array) and extra_vars_json (a JSON object of other template variables,
 * e.g. date_string) may be NULL. bos_token and eos_token are set from the
 * tokenizer. *out is malloc'ed. A template error (raise_exception, an
 * unsupported construct) is LOAM_E_FORMAT with the message. */
loam_status loam_chat_apply_template(const loam_tokenizer *tok, const char *template_override,
                                     const char *messages_json, const char *tools_json,
                                     const char *extra_vars_json, int add_generation_prompt, char **out,
                                     loam_error *err);

/* The tokens that end generation: the model's EOS ids (generation_config
 * or GGUF metadata; the tokenizer's eos_token where the model names none);
 * with for_chat also the end-of-turn specials the vocabulary has
 * (<|eot_id|>, <end_of_turn>, <|im_end|>, ...). model or tok may be NULL. Returns how many were written
 * (at most cap). */
int loam_stop_tokens(const loam_model *model, const loam_tokenizer *tok, int for_chat, int32_t *ids, int cap);

/* ------------------------------------------------------------ quantization */

/* Progress of a long operation: `done` of `total` steps, the current item. */
typedef void (*loam_progress_fn)(void *user, int done, int total, const char *item);

/* Writes a GGUF that llama.cpp can load, from a GGUF file (any family: its
 * metadata is kept) or a Hugging Face folder (the Llama family), with the
 * tensor types llama-quantize chooses for `type`: "f16", "bf16", "q8_0",
 * "q4_0", "q4_1", "q5_0", "q5_1", "q6_k", "q4_k_m", "q5_k_s" or "q5_k_m". Rows that do not fit
 * a block fall back as llama-quantize does. */
loam_status loam_quantize(const char *in_path, const char *out_path, const char *type, loam_progress_fn progress,
                          void *user, loam_error *err);

/* Writes a GGUF with random weights and the real shapes of a published
 * model (`like`: e.g. "llama-3.1-8b", "phi-2", "gemma-7b", "falcon-40b",
 * "mpt-7b", "bloom-560m", "whisper-large-v3", "flux.1-dev"), with a
 * placeholder vocabulary of its size. */
loam_status loam_synth(const char *like, const char *type, const char *out_path, loam_progress_fn progress, void *user,
                       loam_error *err);
/* What that file would hold, without writing it: parameters (every tensor
 * element, tied weights once) and bytes of tensor data. */
loam_status loam_synth_estimate(const char *like, const char *type, int64_t *n_params, uint64_t *weight_bytes, loam_error *err);

/* What any GGUF file holds, whether or not loam can run its architecture
 * (Whisper and FLUX files, say): read from the header only. */
typedef struct loam_file_summary {
    char architecture[32]; /* general.architecture */
    char name[96];         /* general.name, or "" */
    int64_t n_tensors;
    int64_t n_params;      /* elements of all tensors */
    uint64_t data_bytes;   /* bytes of all tensor data */
    char dtype[16];        /* general.file_type as llama.cpp names it ("q4_k_m"), else the
                              tensor type holding the most bytes */
} loam_file_summary;

loam_status loam_file_summarize(const char *path, loam_file_summary *out, loam_error *err);

/* -------------------------------------------------------------- file out */

typedef enum loam_dtype {
    LOAM_DTYPE_F32 = 0,
    LOAM_DTYPE_F16,
    LOAM_DTYPE_BF16,
    LOAM_DTYPE_I32,
    LOAM_DTYPE_I64,
} loam_dtype;

typedef struct loam_named_tensor {
    const char *name;
    loam_dtype dtype;
    int n_dims;
    int64_t shape[4];
    const void *data;
} loam_named_tensor;

/* Writes tensors to a .safetensors file (used by `--dump`). */
loam_status loam_write_safetensors(const char *path, const loam_named_tensor *tensors,
                                   int n_tensors, loam_error *err);

/* Sustained read bandwidth of main memory with n_threads threads, in bytes
 * per second, measured by streaming over a buffer much larger than the
 * caches (best of a few passes). 0 on failure. */
double loam_measure_read_bandwidth(int n_threads);

/* Bytes per second of streaming the weights one decode step reads (those
 * of loam_model_decode_bytes) with n_threads threads, best of two passes:
 * the memory-bandwidth bound of decode on this machine, for this file, at
 * this moment (a shared machine's bandwidth moves). 0 on failure. */
double loam_model_read_bandwidth(const loam_model *model, int n_threads);

/* Bytes of weights one decode step reads (every matrix once, but only one
 * row of the embedding table). */
uint64_t loam_model_decode_bytes(const loam_model *model);

/* Resident memory of this process in bytes (for reports and tests). */
uint64_t loam_resident_bytes(void);
/* Peak resident memory of this process so far (VmHWM), in bytes. */
uint64_t loam_peak_resident_bytes(void);

#ifdef __cplusplus
}
#endif
#endif /* LOAM_H */
