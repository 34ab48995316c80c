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
} loam_cpu_info;

LOAM_API void loam_cpu_get_info(loam_cpu_info *out);

/* One product y[M, N] = x[M, K] W[N, K]^T through the shared linear op, on
 * random data with W of `type` (f32, f16, bf16, q8_0, q4_0, q5_0, q4_k,
 * q6_k): best of `reps` runs after an untimed one, and beside it the peak
 * of the instructions that path is built from (an FMA loop for f32
 * activations, the int8 multiply-add sequence for quantized weights),
 * measured on the same threads. */
typedef struct loam_gemm_result {
    double seconds;       /* one product, best run */
    double gops;          /* 2 M N K / seconds, in 1e9 operations per second */
    double peak_gops;     /* the peak loop, all threads */
    char peak_label[32];  /* "avx2 fma", "avx512 vpdpbusd", ... */
    char path[32];        /* "int8 activations" or "f32 activations" */
    int threads;
} loam_gemm_result;

LOAM_API loam_status loam_bench_gemm(int M, int N, int K, const char *type, int n_threads, int reps, loam_gemm_result *out,
                                     loam_error *err);

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

/* Resident memory of this process in bytes (for reports and tests). */
LOAM_API uint64_t loam_resident_bytes(void);
/* Peak resident memory of this process so far (VmHWM), in bytes. */
LOAM_API uint64_t loam_peak_resident_bytes(void);

#ifdef __cplusplus
}
#endif
#endif /* LOAM_TOOLS_H */
