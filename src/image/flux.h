/* FLUX.1 inside the library: the MMDiT (flux_dit.c), the autoencoder's
 * decoder (flux_vae.c) and the pipeline around them (flux_pipeline.c,
 * the public calls of loam_image.h). */
#ifndef LOAM_IMAGE_FLUX_H
#define LOAM_IMAGE_FLUX_H
#include "encoders/bind.h"
#include "loam_image.h"
#include "nn/nn.h"

enum { FLUX_MAX_DOUBLE = 256, FLUX_MAX_SINGLE = 512 };

typedef struct {
    const loam_tensor *w;
    float *b; /* NULL: no bias */
} flux_lin;

/* One product whose output is several stored matrices side by side: BFL's
 * fused q|k|v (one part), or diffusers' to_q, to_k, to_v (, proj_mlp). */
typedef struct {
    flux_lin part[4];
    int n, rows; /* parts, and their output columns together */
} flux_fused;

typedef struct {
    flux_lin mod, proj, mlp0, mlp2;
    flux_fused qkv;
    float *q_norm, *k_norm;
} flux_stream;

typedef struct {
    flux_stream img, txt;
} flux_double;

typedef struct {
    flux_lin mod, linear2;
    flux_fused linear1; /* q | k | v | mlp */
    float *q_norm, *k_norm;
} flux_single;

/* The transformer: hyperparameters from transformer/config.json, weights
 * from the BFL single file (or a GGUF of it), or from diffusers' folder. */
typedef struct {
    enc_bind b;
    int in_ch, hidden, heads, head_dim, mlp, vec_in, ctx_in, n_double, n_single, guidance;
    int axes[3];
    double theta;
    int diffusers; /* diffusers' FluxTransformer2DModel names (its final modulation is (scale, shift)) */
    flux_lin img_in, txt_in, time_in, time_out, vec_in1, vec_out, guid_in, guid_out, final_mod, final_lin;
    flux_double *dbl;
    flux_single *sgl;
} flux_dit;

/* config NULL: the hyperparameters from a GGUF's flux.* metadata. */
loam_status flux_dit_open(flux_dit *d, const char *weights, const char *config, loam_error *err);
/* Operations (multiply-adds × 2) of one forward over L image and T text tokens. */
double flux_dit_ops(const flux_dit *d, int L, int T);
void flux_dit_close(flux_dit *d);
/* v[L, in_ch] = the velocity at time t of the packed latent x[L, in_ch]
 * (image tokens at img_pos[L][3]) given txt[T, ctx_in] (at position 0) and
 * the pooled text y[vec_in]; guidance used when the model embeds it.
 * vec_out[hidden] (or NULL) receives the modulation vector. */
loam_status flux_dit_forward(flux_dit *d, loam_nn *nn, const float *x, const int32_t *img_pos, int L, const float *txt, int T,
                             const float *y, float t, float guidance, float *v, float *vec_out, loam_error *err);

/* The autoencoder's decoder with BFL's names, sizes from vae/config.json. */
typedef struct {
    enc_bind b;
    int ch, z_ch, n_levels, n_res, groups;
    int sample_size; /* pixels (vae/config.json's sample_size): the tile size of diffusers' enable_tiling() */
    int mult[8];
    float scale, shift;
} flux_vae;

loam_status flux_vae_open(flux_vae *a, const char *weights, const char *config, loam_error *err);
void flux_vae_close(flux_vae *a);
/* z[z_ch, H/8, W/8] = scale · (mean − shift): the encoder's moments' mean
 * (the mode of its distribution, so one image gives one latent) of
 * image[3, H, W] in [−1, 1]. */
loam_status flux_vae_encode(flux_vae *a, loam_nn *nn, const float *image, int H, int W, float *z, loam_error *err);
/* image[3, 8h, 8w] = decoder(z / scale + shift) for z[z_ch, h, w] */
loam_status flux_vae_decode(flux_vae *a, loam_nn *nn, const float *z, int h, int w, float *image, loam_error *err);

/* flux_vae_tiles.c: bytes the whole-image decoder allocates for z[., h, w] */
size_t flux_vae_decode_bytes(const flux_vae *a, int h, int w);
/* The latent tile (a multiple of 4) for tile_px: 0 = whole image (tile_px
 * 0, or the image fits in one tile); tile_px < 0 = auto, tiles of
 * sample_size only when the whole image's buffers would exceed half of the
 * machine's memory. */
int flux_vae_tile_for(const flux_vae *a, int h, int w, int tile_px);
/* The same image as flux_vae_decode, in tile × tile latent tiles blended as
 * diffusers' tiled_decode blends them (tile a multiple of 4). */
loam_status flux_vae_decode_tiled(flux_vae *a, loam_nn *nn, const float *z, int h, int w, int tile, float *image, loam_error *err);

#endif
