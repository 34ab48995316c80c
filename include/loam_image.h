/* loam's image generation: FLUX.1 [schnell] and [dev], from the folder the
 * hub publishes (flux1-*.safetensors, ae.safetensors, text_encoder/,
 * text_encoder_2/, tokenizer/, tokenizer_2/, transformer/config.json,
 * vae/config.json, scheduler/). The shape of whisper.h: an opaque handle,
 * stage functions, one convenience call.
 *
 *   loam_flux *f;  loam_flux_open(dir, NULL, &f, &err);
 *   loam_flux_params p = loam_flux_default_params(f);  p.seed = 42;
 *   uint8_t *rgb = malloc(3 * p.width * p.height);
 *   loam_flux_generate(f, "a red apple", &p, rgb, &err);
 *
 * Sizes: an image of H × W pixels (multiples of 16) is a latent of
 * [16, H/8, W/8], packed 2 × 2 into L = (H/16)(W/16) tokens of 64 values. */
#ifndef LOAM_IMAGE_H
#define LOAM_IMAGE_H
#include <stdint.h>

#include "loam.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loam_flux loam_flux;

typedef struct loam_flux_open_params {
    int n_threads;           /* 0 = physical cores */
    loam_simd simd;          /* kernel level; AUTO picks from CPUID */
    const char *transformer; /* another file for the transformer (a GGUF of it, e.g. from loam quantize); NULL = the folder's */
    const char *t5;          /* another T5 encoder: a GGUF with llama.cpp's t5encoder names (loam quantize of
                                text_encoder_2/, or such a file from elsewhere); NULL = text_encoder_2/ */
    int vae_tile;            /* decoding in tiles of this many pixels, a quarter overlapping and blended as diffusers'
                                enable_tiling() does (close to, not equal to, the whole-image decode); 0 = never;
                                -1 (default) = only when the whole image would need over half the machine's memory,
                                then in tiles of vae/config.json's sample_size */
} loam_flux_open_params;

LOAM_API loam_flux_open_params loam_flux_default_open_params(void);
/* Reads the configs and checks the files are there; each stage maps its
 * weights when it runs and releases them after (the text encoders are done
 * before the transformer needs the memory). */
LOAM_API loam_status loam_flux_open(const char *dir, const loam_flux_open_params *params, loam_flux **out, loam_error *err);
LOAM_API void loam_flux_free(loam_flux *f);

typedef struct loam_flux_info {
    int guidance_embed; /* 1: [dev] (guidance embedding, shifted schedule) */
    int default_steps;  /* 4 for [schnell], 28 for [dev] */
    int t5_len;         /* T5 tokens: 256 for [schnell], 512 for [dev] */
    int clip_len;       /* 77 */
    int clip_dim, t5_dim, latent_channels;
} loam_flux_info;
LOAM_API void loam_flux_get_info(const loam_flux *f, loam_flux_info *info);

/* A step callback: return nonzero to stop (the call then fails with LOAM_E_CANCELLED). */
typedef int (*loam_flux_step_cb)(int step, int n_steps, double seconds, void *user);

typedef struct loam_flux_params {
    int width, height; /* pixels, multiples of 16 (others are refused here; the CLI rounds down) */
    int steps;         /* 0 = the variant's default */
    float guidance;    /* [dev] only; default 3.5 */
    uint64_t seed;
    loam_flux_step_cb on_step;
    void *user;
    const uint8_t *init_rgb; /* image-to-image: the start image [height, width, 3], or NULL */
    float strength;          /* how much of it is redrawn, (0, 1]: the first (1 − strength) of the steps are skipped */
} loam_flux_params;
LOAM_API loam_flux_params loam_flux_default_params(const loam_flux *f);

/* ------------------------------------------------------------ stages */

/* The prompt through tokenizer/ and tokenizer_2/: clip_ids[clip_len] (BOS,
 * text, EOS, padded with EOS) and t5_ids[t5_len] (text, </s>, padded with
 * <pad>), truncated as the reference truncates (*truncated set then). */
LOAM_API loam_status loam_flux_tokenize(loam_flux *f, const char *prompt, int32_t *clip_ids, int32_t *t5_ids, int t5_len,
                                        int *truncated, loam_error *err);
/* pooled[clip_dim] (CLIP's pooled output, FLUX's y) and txt[t5_len, t5_dim]
 * (T5's last hidden state); each encoder is loaded, run and released. */
LOAM_API loam_status loam_flux_encode_text(loam_flux *f, const int32_t *clip_ids, const int32_t *t5_ids, int t5_len,
                                           float *pooled, float *txt, loam_error *err);
/* timesteps[steps + 1] from 1 to 0, shifted for [dev] by the image size. */
LOAM_API void loam_flux_schedule(const loam_flux *f, int steps, int width, int height, float *timesteps);
/* noise[16, H/8, W/8] ~ N(0, 1) from loam's own generator (same seed, same noise, on every machine). */
LOAM_API void loam_flux_noise(uint64_t seed, int width, int height, float *noise);
/* unpacked[c, h, w] <-> packed[(h/2)(w/2), 4c] ("c (h 2) (w 2) -> (h w) (c 2 2)") */
LOAM_API void loam_flux_pack(const float *unpacked, int c, int h, int w, float *packed);
LOAM_API void loam_flux_unpack(const float *packed, int c, int h, int w, float *unpacked);
/* v[L, 64] = the transformer's velocity for the packed latent x[L, 64] at
 * time t; vec[hidden] (or NULL) the modulation vector. */
LOAM_API loam_status loam_flux_velocity(loam_flux *f, const float *x, int width, int height, const float *txt, int t5_len,
                                        const float *pooled, float t, float guidance, float *v, float *vec, loam_error *err);
/* x[L, 64] (in place) through every Euler step x += (t[i+1] − t[i]) v(x, t[i]). */
LOAM_API loam_status loam_flux_denoise(loam_flux *f, float *x, int width, int height, const float *txt, int t5_len,
                                       const float *pooled, const float *timesteps, int steps, const loam_flux_params *p,
                                       loam_error *err);
/* latent[16, H/8, W/8] = the autoencoder's encoder of image[3, H, W] in
 * [−1, 1] (its distribution's mean, scaled and shifted as BFL's encode). */
LOAM_API loam_status loam_flux_encode_image(loam_flux *f, const float *image, int width, int height, float *latent, loam_error *err);
/* Image-to-image, as BFL's: the first int((1 − strength) · steps) steps are
 * skipped (*first, so denoise from timesteps + *first), and the packed
 * noise x[L, 64] becomes t · x + (1 − t) · the packed latent of
 * p->init_rgb at the first kept step's t. */
LOAM_API loam_status loam_flux_start_from_image(loam_flux *f, const loam_flux_params *p, int steps, const float *timesteps, float *x,
                                                int *first, loam_error *err);
/* image[3, H, W] (about −1 … 1) = the decoder of latent[16, H/8, W/8]. */
LOAM_API loam_status loam_flux_decode(loam_flux *f, const float *latent, int width, int height, float *image,
                                      loam_error *err);
/* rgb[H, W, 3] = 8 bits as BFL writes them: clamp to [−1, 1], (x + 1) · 127.5, truncated. */
LOAM_API void loam_flux_to_rgb8(const float *image, int width, int height, uint8_t *rgb);

/* rgb[H, W, 3] as an 8-bit RGB PNG in memory (*out malloc'ed; free() it),
 * with n_kv UTF-8 text chunks kv[2i] = kv[2i + 1] (at most 32). */
LOAM_API loam_status loam_png_encode(const uint8_t *rgb, int width, int height, const char *const *kv, int n_kv, uint8_t **out,
                                     size_t *len, loam_error *err);
/* A PNG in memory to rgb[H, W, 3] (any PNG: palette, grey, alpha and 16-bit
 * are converted; at most 8192 × 8192); *rgb malloc'ed, free() it. */
LOAM_API loam_status loam_png_decode(const uint8_t *data, size_t len, uint8_t **rgb, int *width, int *height, loam_error *err);
/* Whether path looks like a FLUX.1 folder (a flux1-*.safetensors file or a
 * FluxPipeline model_index.json), without loading it. */
LOAM_API int loam_flux_probe(const char *path);

/* The transformer's speed at a real shape (loam bench): one denoising step
 * on random inputs for a width × height image and t5_len text tokens, best
 * of reps. transformer: a FLUX.1 transformer file (a GGUF with flux.*
 * metadata, as loam synth writes, when config is NULL; else with
 * transformer/config.json). */
typedef struct loam_flux_bench_result {
    double step_seconds;   /* one step, best run */
    double gop;            /* its operations (2 × multiply-adds), 1e9 */
    double open_seconds;   /* mapping the file and binding its tensors */
    uint64_t weight_bytes; /* of the mapped file */
    char weight_type[16];  /* of the block matrices, e.g. "q8_0" */
    int image_tokens, text_tokens;
} loam_flux_bench_result;
LOAM_API loam_status loam_flux_bench_step(const char *transformer, const char *config, int width, int height, int t5_len, int n_threads,
                                          int reps, loam_flux_bench_result *out, loam_error *err);

/* ------------------------------------------------------- the whole way */

/* prompt -> rgb[H, W, 3]: tokenize, encode, noise, denoise, decode. */
LOAM_API loam_status loam_flux_generate(loam_flux *f, const char *prompt, const loam_flux_params *p, uint8_t *rgb,
                                        loam_error *err);

#ifdef __cplusplus
}
#endif
#endif
