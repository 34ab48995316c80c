/*
 * loam_tools.h — libloam's tools: what `loam quantize`, `synth`, `info`,
 * `bench` and `--dump` are built on, beside the runtime API of loam.h.
 *
 *     loam_error err;
 *     int64_t n_params; uint64_t bytes;
 *     if (loam_synth_estimate("llama-3.1-8b", "q4_k_m", &n_params, &bytes, &err) == LOAM_OK)
 *         printf("%.2f GB at Q4_K_M\n", bytes / 1e9);          // before downloading anything
 *     loam_quantize("model-f16.gguf", "model-q4_k_m.gguf", "q4_k_m", NULL, NULL, &err);
 */
#ifndef LOAM_TOOLS_H
#define LOAM_TOOLS_H

#include "loam.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ quantization */

/* Progress of a long operation: `done` of `total` steps, the current item. */
typedef void (*loam_progress_fn)(void *user, int done, int total, const char *item);

/* Writes a GGUF that llama.cpp can load, from a GGUF file (any family: its
 * metadata is kept) or a Hugging Face folder (the Llama family), with the
 * tensor types llama-quantize chooses for `type`: "f16", "bf16", "q8_0",
 * "q4_0", "q4_1", "q5_0", "q5_1", "q6_k", "q4_k_m", "q5_k_s" or "q5_k_m". Rows that do not fit
 * a block fall back as llama-quantize does. */
LOAM_API loam_status loam_quantize(const char *in_path, const char *out_path, const char *type, loam_progress_fn progress,
                          void *user, loam_error *err);

/* Writes a GGUF with random weights and the real shapes of a published
 * model (`like`: e.g. "llama-3.1-8b", "phi-2", "gemma-7b", "falcon-40b",
 * "mpt-7b", "bloom-560m", "whisper-large-v3", "flux.1-dev"), with a
 * placeholder vocabulary of its size. */
LOAM_API loam_status loam_synth(const char *like, const char *type, const char *out_path, loam_progress_fn progress, void *user,
                       loam_error *err);
/* What that file would hold, without writing it: parameters (every tensor
 * element, tied weights once) and bytes of tensor data. */
/* FLUX.1 (like "flux.1-schnell" or "flux.1-dev") as a whole hub-like folder
 * at the real shapes: the transformer as a GGUF of `type`, CLIP-L and T5-XXL
 * (BF16 safetensors), ae.safetensors (F32) and the configs. */
LOAM_API loam_status loam_synth_flux_folder(const char *like, const char *type, const char *dir, loam_progress_fn progress, void *user,
                                            loam_error *err);
LOAM_API loam_status loam_synth_estimate(const char *like, const char *type, int64_t *n_params, uint64_t *weight_bytes, loam_error *err);

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
    int runnable;          /* an architecture loam runs: what loam_model_open says of the
                              file stands (a summary is no substitute for its errors) */
} loam_file_summary;

LOAM_API loam_status loam_file_summarize(const char *path, loam_file_summary *out, loam_error *err);

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
LOAM_API loam_status loam_write_safetensors(const char *path, const loam_named_tensor *tensors,
                                   int n_tensors, loam_error *err);

/* Reads one tensor of a .safetensors file into *out (F32/F16/BF16/I32/I64,
 * up to 4 dimensions; out->data is malloc'ed, free() it; out->name NULL). */
LOAM_API loam_status loam_read_safetensors(const char *path, const char *name, loam_named_tensor *out, loam_error *err);

/* The machine a measurement ran on, for benchmark rows: numbers from
 * different CPUs must never be compared by accident. */
typedef struct loam_cpu_info {
    char name[64];      /* CPUID brand string, e.g. "AMD EPYC 7B13 64-Core Processor" */
    char vendor[16];    /* "GenuineIntel", "AuthenticAMD", ... */
    int family, model;  /* CPUID display family and model */
    int64_t l1d_bytes;  /* data cache sizes of one core (L3: of the cache the core sees) */
    int64_t l2_bytes;
    int64_t l3_bytes;
    int logical_cpus;   /* online */
    char simd[24];      /* the kernel level that runs (the best, or LOAM_SIMD's): "avx512-vnni", "avx2", "scalar" */
    int prefetch;       /* 1: the decode kernels prefetch the weights in software (by the core, or LOAM_PREFETCH) */
} loam_cpu_info;

LOAM_API void loam_cpu_get_info(loam_cpu_info *out);

/* One product y[M, N] = x[M, K] W[N, K]^T through the shared linear op, on
 * random data with W of `type` (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0,
 * q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl): best of `reps` runs after an untimed one, and beside it the peak
 * of the instructions that path is built from (an FMA loop for f32
 * activations, the int8 multiply-add sequence for quantized weights),
 * measured on the same threads. W is repacked first where the runtime would
 * repack it at load (kernels/strips.h), unless keep_layout. */
typedef struct loam_gemm_result {
    double seconds;       /* one product, best run */
    double gops;          /* 2 M N K / seconds, in 1e9 operations per second */
    double peak_gops;     /* the peak loop, all threads */
    /* int8 products whose tile ends each block with float multiply-adds
     * (AVX512-VNNI, AVX-VNNI; M >= 32): the peak loop with the type's share
     * of them interleaved, counting the int8 operations only — the most the
     * tile can do where both take the same ports; 0 for other paths */
    double bound_gops;
    char peak_label[32];  /* "avx2 fma", "avx512 vpdpbusd", ... */
    char path[48];        /* "int8 activations", "int8 activations, repacked", "f32 activations" */
    int threads;
} loam_gemm_result;

LOAM_API loam_status loam_bench_gemm(int M, int N, int K, const char *type, int n_threads, int reps, int keep_layout,
                                     loam_gemm_result *out, loam_error *err);

/* Sustained read bandwidth of main memory with n_threads threads, in bytes
 * per second, measured by streaming over an anonymous buffer much larger
 * than the caches, on 2 MiB pages where the kernel gives them (best of a
 * few passes): the machine's bound for decode. 0 on failure. */
LOAM_API double loam_measure_read_bandwidth(int n_threads);

/* Bytes per second of streaming the weights one decode step reads (those
 * of loam_model_decode_bytes) with n_threads threads, best of two passes:
 * the memory-bandwidth bound of decode on this machine, for this file, at
 * this moment (a shared machine's bandwidth moves). 0 on failure. */
LOAM_API double loam_model_read_bandwidth(const loam_model *model, int n_threads);

/* Bytes of weights one decode step reads (every matrix once, but only one
 * row of the embedding table). */
LOAM_API uint64_t loam_model_decode_bytes(const loam_model *model);

/* Operations (a multiply-add counts 2) of a prompt of n_tokens in one
 * batch: every layer matrix for every row, the head for the last row only
 * (the logits a prompt needs), attention's scores and mix over the causal
 * triangle. What `loam bench` divides by a prefill's time for its GOP/s. */
LOAM_API uint64_t loam_model_prefill_ops(const loam_model *model, int n_tokens);

/* The memory a model needs: its weights (mapped), the KV cache of n_ctx
 * positions of one sequence in kv_type, the scratch of a forward pass (a
 * prompt slice, a row of logits, attention scores) and the runtime's own
 * (program, threads, tokenizer tables). `loam info` and `loam pick` print
 * these; pick computes the same from a published shape. */
typedef struct loam_memory_plan {
    uint64_t weights, kv_cache, scratch, overhead, total;
    uint64_t kv_per_token; /* bytes of K and V one position adds */
} loam_memory_plan;

LOAM_API loam_status loam_model_memory(const loam_model *model, int n_ctx, loam_kv_type kv_type, loam_memory_plan *out,
                                       loam_error *err);

/* ------------------------------------------------------------- the chooser */

/* The machine a choice is made for. */
typedef struct loam_machine_info {
    uint64_t ram_bytes, free_ram_bytes; /* MemTotal, MemAvailable */
    uint64_t free_disk_bytes;           /* where models are stored */
    int cores;                          /* physical */
    char cpu[64], simd[24];
    char gpu[96];                       /* "" when none is found; loam itself runs on the CPU */
    uint64_t gpu_bytes;                 /* its memory when the driver says (0: unknown) */
} loam_machine_info;

/* disk_path: the folder whose file system holds the models (NULL: the store's). */
LOAM_API void loam_machine_get_info(const char *disk_path, loam_machine_info *out);

/* Speeds measured on this machine for the estimate: per weight type the
 * bytes per second a one-row product streams from memory (decode) and the
 * GOP/s of a prompt-sized product (prefill), through the shared linear op. */
typedef struct loam_pick_rates {
    double decode_bytes_per_s[32];  /* indexed by loam's tensor type; 0 = not measured */
    double prefill_gops[32];
    int threads;
    char cpu[64];
    int64_t measured_at;            /* seconds since the epoch */
} loam_pick_rates;

typedef struct loam_pick_params {
    const char *task;     /* chat, code, multilingual, long-context, reasoning, tools, speech-to-text,
                             translation, text-to-image; NULL: text models for chat */
    const char *lang;     /* an ISO 639-1 code the model must support; NULL: any */
    const char *variant;  /* base, instruct, chat, ...; NULL: any */
    const char *model;    /* only this model (its synth name, hub id or short name); NULL: all */
    int64_t context;      /* positions to plan for; 0: 4096 (at most the model's own) */
    uint64_t ram_bytes;   /* the memory to fit in; 0: this machine's RAM */
    int commercial;       /* only licences that allow commercial use */
    int all;              /* every catalogue entry and quantization, fitting or not, every task */
    int measure;          /* 1: speeds from rates measured now (or cached, see rates_cache) */
    int n_threads;        /* 0: physical cores */
    loam_kv_type kv_type;
    const char *rates_cache; /* file keeping measured rates (NULL: ~/.cache/loam/pick-rates.json); "" = none */
    int remeasure;        /* ignore the cached rates */
    const char *quant;    /* only this quantization; NULL: each model's best that fits */
} loam_pick_params;

LOAM_API loam_pick_params loam_pick_default_params(void);

typedef struct loam_pick_row {
    char model[32];       /* the `loam synth --like` name: "llama-3.1-8b", "whisper-large-v3", "flux.1-schnell" */
    char variant[16];     /* base, instruct, chat, storywriter, turbo, schnell, dev */
    char quant[12];       /* "q4_0", "q4_k_m", "q5_k_m", "q8_0", "f16" */
    char hub[96], gguf[96];
    char pull[128];       /* what `loam pull` takes for this row */
    char tasks[128];      /* comma-separated */
    char licence[48];
    int commercial, gated;
    char benchmark[48];   /* e.g. "MMLU 69.4 (5-shot)"; "" when none is cited */
    double score;         /* the ranking's quality figure (MMLU where published), 0 = none */
    int64_t n_params, context, max_context;
    uint64_t weights_bytes, kv_bytes_per_token, kv_bytes, scratch_bytes, overhead_bytes, total_bytes;
    uint64_t ram_bytes, reserve_bytes; /* fits: total_bytes <= ram_bytes - reserve_bytes */
    int fits;
    double tokens_per_s;        /* text: decode at the start of a conversation; 0 = not measured */
    double prefill_tokens_per_s;
    double realtime_factor;     /* Whisper: seconds of audio per second (x real time) */
    double seconds_per_image;   /* FLUX.1: one 1024x1024 image at the variant's default steps */
    char why[200];
    char explain[2048];   /* the arithmetic, line by line */
} loam_pick_row;

/* Ranks the catalogue's models for the query: rows that fit first, by
 * published quality, then speed. Free the rows with loam_pick_rows_free. */
LOAM_API loam_status loam_pick(const loam_pick_params *params, loam_pick_row **rows, int *n_rows, loam_pick_rates *rates_used,
                               loam_error *err);
LOAM_API void loam_pick_rows_free(loam_pick_row *rows);
/* The reserve kept free beside a model: max(1 GiB, 10% of the RAM). */
LOAM_API uint64_t loam_pick_reserve(uint64_t ram_bytes);

/* Resident memory of this process in bytes (for reports and tests). */
LOAM_API uint64_t loam_resident_bytes(void);
/* Peak resident memory of this process so far (VmHWM), in bytes. */
LOAM_API uint64_t loam_peak_resident_bytes(void);

#ifdef __cplusplus
}
#endif
#endif /* LOAM_TOOLS_H */
