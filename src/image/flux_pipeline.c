/* FLUX.1's pipeline (BFL's sampling.py and cli.py): the files of a hub
 * folder, tokenizing, the text encoders, noise, schedule, the Euler loop
 * and decoding, each stage loading its weights when it runs and releasing
 * them after. The public calls of loam_image.h. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/mapfile.h"
#include "encoders/encoders.h"
#include "formats/json.h"
#include "image/flux.h"

struct loam_flux {
    char *dir, *dit_path, *dit_config, *ae_path, *vae_config, *clip_dir, *t5_dir;
    loam_nn nn;
    int n_threads;
    flux_dit dit; /* loaded by the first velocity, kept for the next steps */
    int dit_open;
    int guidance_embed, clip_len, clip_dim, t5_dim, latent_ch;
    int dynamic_shift;
    int vae_tile; /* loam_flux_open_params.vae_tile */
    double base_shift, max_shift, base_len, max_len;
};

loam_flux_open_params loam_flux_default_open_params(void) { return (loam_flux_open_params){0, LOAM_SIMD_AUTO, NULL, NULL, -1}; }

static char *join(const char *dir, const char *name) { return loam_path_join(dir, name); }

/* The BFL transformer file: flux1-*.safetensors in the folder (else a
 * flux1-*.gguf of it); the first by name when there are several. */
static char *find_transformer(const char *dir) {
    DIR *d = opendir(dir);
    char best[2][256] = {"", ""};
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        int st = n > 12 && !strcmp(e->d_name + n - 12, ".safetensors"), gg = n > 5 && !strcmp(e->d_name + n - 5, ".gguf");
        if (strncmp(e->d_name, "flux1-", 6) || !(st || gg) || n >= sizeof best[0]) continue;
        char *b = best[st ? 0 : 1];
        if (!b[0] || strcmp(e->d_name, b) < 0) snprintf(b, sizeof best[0], "%s", e->d_name);
    }
    if (d) closedir(d);
    return best[0][0] ? join(dir, best[0]) : best[1][0] ? join(dir, best[1]) : NULL;
}

int loam_flux_probe(const char *path) {
    char *t = find_transformer(path), *index = join(path, "model_index.json");
    int yes = t != NULL;
    if (!yes && index && loam_file_exists(index)) {
        cJSON *j = NULL;
        loam_error err;
        const char *cls = NULL;
        yes = !loam_json_load(index, &j, &err) && !loam_json_string(j, "_class_name", 0, "", &cls, index, &err) && !strcmp(cls, "FluxPipeline");
        cJSON_Delete(j);
    }
    free(t), free(index);
    return yes;
}

static loam_status read_scheduler(loam_flux *f, loam_error *err) {
    f->dynamic_shift = f->guidance_embed; /* BFL shifts every model but schnell */
    f->base_shift = 0.5, f->max_shift = 1.15, f->base_len = 256, f->max_len = 4096;
    char *path = join(f->dir, "scheduler/scheduler_config.json");
    if (!path || !loam_file_exists(path)) return free(path), LOAM_OK;
    cJSON *j = NULL;
    int64_t bl = 0, ml = 0;
    loam_status st = loam_json_load(path, &j, err);
    if (!st) st = loam_json_bool(j, "use_dynamic_shifting", 0, f->dynamic_shift, &f->dynamic_shift, path, err);
    if (!st) st = loam_json_float(j, "base_shift", 0, 0.5, &f->base_shift, path, err);
    if (!st) st = loam_json_float(j, "max_shift", 0, 1.15, &f->max_shift, path, err);
    if (!st) st = loam_json_int(j, "base_image_seq_len", 0, 256, &bl, path, err);
    if (!st) st = loam_json_int(j, "max_image_seq_len", 0, 4096, &ml, path, err);
    if (!st && bl >= ml) st = loam_fail(err, LOAM_E_FORMAT, "%s: base_image_seq_len must be below max_image_seq_len", path);
    f->base_len = (double)bl, f->max_len = (double)ml;
    cJSON_Delete(j);
    free(path);
    return st;
}

/* What the stages need to know before any weights are loaded. */
static loam_status probe_components(loam_flux *f, loam_error *err) {
    loam_status st = flux_dit_open(&f->dit, f->dit_path, f->dit_config, err);
    if (st) return st;
    f->guidance_embed = f->dit.guidance, f->t5_dim = f->dit.ctx_in, f->clip_dim = f->dit.vec_in, f->latent_ch = f->dit.in_ch / 4;
    flux_dit_close(&f->dit);
    f->clip_len = 77;
    return read_scheduler(f, err);
}

loam_status loam_flux_open(const char *dir, const loam_flux_open_params *params, loam_flux **out, loam_error *err) {
    *out = NULL;
    loam_flux_open_params defaults = loam_flux_default_open_params();
    if (!params) params = &defaults;
    loam_flux *f = calloc(1, sizeof *f);
    if (!f || !(f->dir = strdup(dir))) return free(f), loam_fail(err, LOAM_E_NOMEM, "out of memory");
    f->dit_path = params->transformer ? strdup(params->transformer) : find_transformer(dir);
    f->dit_config = join(dir, "transformer/config.json"), f->ae_path = join(dir, "ae.safetensors");
    f->vae_config = join(dir, "vae/config.json"), f->clip_dir = join(dir, "text_encoder");
    f->t5_dir = params->t5 ? strdup(params->t5) : join(dir, "text_encoder_2");
    loam_status st = LOAM_OK;
    if (!f->dit_path) { /* else diffusers' copy of the transformer, in transformer/ */
        char *one = join(dir, "transformer/diffusion_pytorch_model.safetensors"), *index = join(dir, "transformer/diffusion_pytorch_model.safetensors.index.json");
        if ((one && loam_file_exists(one)) || (index && loam_file_exists(index))) f->dit_path = join(dir, "transformer");
        free(one), free(index);
        if (!f->dit_path) st = loam_fail(err, LOAM_E_IO, "%s: no flux1-*.safetensors and no transformer/diffusion_pytorch_model.safetensors (the FLUX.1 transformer)", dir);
    }
    /* a transformer file given by the caller must exist; the folder's were found */
    const char *need[] = {f->dit_config, f->ae_path, f->vae_config, params->transformer};
    for (int i = 0; !st && i < (params->transformer ? 4 : 3); i++)
        if (!need[i] || !loam_file_exists(need[i])) st = loam_fail(err, LOAM_E_IO, "%s: missing", need[i] ? need[i] : dir);
    const loam_kernels *kern = NULL;
    f->n_threads = params->n_threads > 0 ? params->n_threads : loam_physical_cores();
    f->vae_tile = params->vae_tile;
    if (!st) st = loam_kernels_choose(params->simd, &kern, err);
    if (!st) st = nn_init(&f->nn, kern, f->n_threads, NULL, 0, err);
    if (!st) st = probe_components(f, err);
    if (st) {
        loam_flux_free(f);
        return st;
    }
    *out = f;
    return LOAM_OK;
}

void loam_flux_free(loam_flux *f) {
    if (!f) return;
    if (f->dit_open) flux_dit_close(&f->dit);
    nn_free(&f->nn);
    free(f->dir), free(f->dit_path), free(f->dit_config), free(f->ae_path), free(f->vae_config), free(f->clip_dir), free(f->t5_dir);
    free(f);
}

void loam_flux_get_info(const loam_flux *f, loam_flux_info *info) {
    info->guidance_embed = f->guidance_embed;
    info->default_steps = f->guidance_embed ? 28 : 4;
    info->t5_len = f->guidance_embed ? 512 : 256;
    info->clip_len = f->clip_len, info->clip_dim = f->clip_dim, info->t5_dim = f->t5_dim, info->latent_channels = f->latent_ch;
}

loam_flux_params loam_flux_default_params(const loam_flux *f) {
    loam_flux_params p = {1024, 1024, f && f->guidance_embed ? 28 : 4, 3.5f, 0, NULL, NULL, NULL, 0.6f};
    return p;
}

/* ------------------------------------------------------------ text */

/* ids of text: with the post-processor's specials, cut to len keeping the
 * last (EOS), padded with pad (-1: with the last id). */
static loam_status tokenize_one(const char *dir, const char *prompt, int len, int32_t pad, int32_t *out, int *truncated,
                                loam_error *err) {
    loam_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    int n = 0;
    loam_status st = loam_tokenizer_open(dir, &tok, err);
    if (!st) st = loam_tokenize(tok, prompt, strlen(prompt), 1, &ids, &n, err);
    if (!st && n < 1) st = loam_fail(err, LOAM_E_FORMAT, "%s: the tokenizer added no end token", dir);
    if (!st) {
        int32_t last = ids[n - 1];
        if (n > len) *truncated = 1, ids[len - 1] = last, n = len;
        for (int i = 0; i < len; i++) out[i] = i < n ? ids[i] : pad >= 0 ? pad : last;
    }
    free(ids);
    loam_tokenizer_free(tok);
    return st;
}

loam_status loam_flux_tokenize(loam_flux *f, const char *prompt, int32_t *clip_ids, int32_t *t5_ids, int t5_len, int *truncated,
                               loam_error *err) {
    char *clip = join(f->dir, "tokenizer"), *t5 = join(f->dir, "tokenizer_2");
    int cut = 0;
    loam_status st = !clip || !t5 ? loam_fail(err, LOAM_E_NOMEM, "out of memory") : LOAM_OK;
    /* CLIP-L pads with <|endoftext|>, its EOS; T5 with <pad> = 0 */
    if (!st) st = tokenize_one(clip, prompt, f->clip_len, -1, clip_ids, &cut, err);
    if (!st) st = tokenize_one(t5, prompt, t5_len, 0, t5_ids, &cut, err);
    if (truncated) *truncated = cut;
    free(clip), free(t5);
    return st;
}

loam_status loam_flux_encode_text(loam_flux *f, const int32_t *clip_ids, const int32_t *t5_ids, int t5_len, float *pooled,
                                  float *txt, loam_error *err) {
    enc_clip *c = NULL;
    enc_t5 *t = NULL;
    loam_status st = enc_clip_open(f->clip_dir, &c, err);
    if (!st && enc_clip_dim(c) != f->clip_dim)
        st = loam_fail(err, LOAM_E_FORMAT, "%s: CLIP width %d, the transformer takes %d", f->clip_dir, enc_clip_dim(c), f->clip_dim);
    if (!st) st = enc_clip_encode(c, &f->nn, clip_ids, f->clip_len, NULL, pooled, err);
    enc_clip_free(c); /* released before T5 maps its (larger) weights */
    if (!st) st = enc_t5_open(f->t5_dir, &t, err);
    if (!st && enc_t5_dim(t) != f->t5_dim)
        st = loam_fail(err, LOAM_E_FORMAT, "%s: T5 width %d, the transformer takes %d", f->t5_dir, enc_t5_dim(t), f->t5_dim);
    if (!st) st = enc_t5_encode(t, &f->nn, t5_ids, t5_len, txt, err);
    enc_t5_free(t);
    return st;
}

/* ------------------------------------------------------------ latents */

void loam_flux_schedule(const loam_flux *f, int steps, int width, int height, float *timesteps) {
    double L = (double)((height + 15) / 16) * (double)((width + 15) / 16);
    double m = (f->max_shift - f->base_shift) / (f->max_len - f->base_len), mu = f->base_shift + m * (L - f->base_len);
    for (int i = 0; i <= steps; i++) {
        double t = 1.0 - (double)i / steps;
        if (f->dynamic_shift) t = t <= 0 ? 0.0 : exp(mu) / (exp(mu) + (1.0 / t - 1.0));
        timesteps[i] = (float)t;
    }
}

/* splitmix64: a seed spread over 64 bits, then Box–Muller in double */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void loam_flux_noise(uint64_t seed, int width, int height, float *noise) {
    size_t n = (size_t)16 * (size_t)(2 * ((height + 15) / 16)) * (size_t)(2 * ((width + 15) / 16));
    uint64_t s = seed;
    for (size_t i = 0; i < n; i += 2) {
        double u1 = ((double)(next_u64(&s) >> 11) + 1.0) / 9007199254740993.0, u2 = (double)(next_u64(&s) >> 11) / 9007199254740992.0;
        double r = sqrt(-2.0 * log(u1));
        noise[i] = (float)(r * cos(2.0 * M_PI * u2));
        if (i + 1 < n) noise[i + 1] = (float)(r * sin(2.0 * M_PI * u2));
    }
}

void loam_flux_pack(const float *u, int c, int h, int w, float *p) {
    int pw = w / 2;
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                p[((size_t)(y / 2) * pw + x / 2) * 4 * c + ch * 4 + (y % 2) * 2 + x % 2] = u[((size_t)ch * h + y) * w + x];
}

void loam_flux_unpack(const float *p, int c, int h, int w, float *u) {
    int pw = w / 2;
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                u[((size_t)ch * h + y) * w + x] = p[((size_t)(y / 2) * pw + x / 2) * 4 * c + ch * 4 + (y % 2) * 2 + x % 2];
}

static loam_status check_size(int width, int height, loam_error *err) {
    if (width < 16 || height < 16 || width % 16 || height % 16 || (int64_t)width * height > (int64_t)8192 * 8192)
        return loam_fail(err, LOAM_E_ARG, "image size %d x %d: width and height must be multiples of 16, from 16 to 8192", width, height);
    return LOAM_OK;
}

loam_status loam_flux_velocity(loam_flux *f, const float *x, int width, int height, const float *txt, int t5_len,
                               const float *pooled, float t, float guidance, float *v, float *vec, loam_error *err) {
    loam_status st = check_size(width, height, err);
    if (st) return st;
    if (t5_len < 1 || t5_len > 65536) return loam_fail(err, LOAM_E_ARG, "%d text tokens: 1 to 65536", t5_len);
    if (!f->dit_open) {
        if ((st = flux_dit_open(&f->dit, f->dit_path, f->dit_config, err))) return st;
        f->dit_open = 1;
    }
    int ph = height / 16, pw = width / 16, L = ph * pw;
    int32_t *ids = malloc(sizeof(int32_t) * 3 * (size_t)L);
    if (!ids) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; i < ph; i++) /* image token (i, j) at (0, i, j) */
        for (int j = 0; j < pw; j++) ids[3 * (i * pw + j)] = 0, ids[3 * (i * pw + j) + 1] = i, ids[3 * (i * pw + j) + 2] = j;
    st = flux_dit_forward(&f->dit, &f->nn, x, ids, L, txt, t5_len, pooled, t, guidance, v, vec, err);
    free(ids);
    return st;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

loam_status loam_flux_denoise(loam_flux *f, float *x, int width, int height, const float *txt, int t5_len, const float *pooled,
                              const float *timesteps, int steps, const loam_flux_params *p, loam_error *err) {
    size_t n = (size_t)(height / 16) * (size_t)(width / 16) * 64;
    float *v = malloc(sizeof(float) * (n ? n : 1));
    if (!v) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    loam_status st = LOAM_OK;
    for (int i = 0; !st && i < steps; i++) {
        double t0 = now_s();
        st = loam_flux_velocity(f, x, width, height, txt, t5_len, pooled, timesteps[i], p ? p->guidance : 3.5f, v, NULL, err);
        float dt = timesteps[i + 1] - timesteps[i];
        for (size_t k = 0; !st && k < n; k++) x[k] += dt * v[k];
        if (!st && p && p->on_step && p->on_step(i + 1, steps, now_s() - t0, p->user))
            st = loam_fail(err, LOAM_E_CANCELLED, "stopped after step %d of %d", i + 1, steps);
    }
    free(v);
    if (f->dit_open) flux_dit_close(&f->dit), f->dit_open = 0; /* the transformer's memory goes before the decoder's */
    return st;
}

/* The autoencoder for one stage: loaded, checked against the transformer's
 * latent channels, run one way, released. */
static loam_status with_vae(loam_flux *f, int width, int height, int decode, const float *in, float *out, loam_error *err) {
    loam_status st = check_size(width, height, err);
    flux_vae a;
    if (!st) st = flux_vae_open(&a, f->ae_path, f->vae_config, err);
    if (st) return st;
    if (a.z_ch != f->latent_ch)
        st = loam_fail(err, LOAM_E_FORMAT, "%s: %d latent channels, the transformer makes %d", f->vae_config, a.z_ch, f->latent_ch);
    int tile = decode && !st ? flux_vae_tile_for(&a, height / 8, width / 8, f->vae_tile) : 0;
    if (!st && decode && tile) st = flux_vae_decode_tiled(&a, &f->nn, in, height / 8, width / 8, tile, out, err);
    if (!st && decode && !tile) st = flux_vae_decode(&a, &f->nn, in, height / 8, width / 8, out, err);
    if (!st && !decode) st = flux_vae_encode(&a, &f->nn, in, height, width, out, err);
    flux_vae_close(&a);
    return st;
}

loam_status loam_flux_decode(loam_flux *f, const float *latent, int width, int height, float *image, loam_error *err) {
    return with_vae(f, width, height, 1, latent, image, err);
}

loam_status loam_flux_encode_image(loam_flux *f, const float *image, int width, int height, float *latent, loam_error *err) {
    return with_vae(f, width, height, 0, image, latent, err);
}

loam_status loam_flux_start_from_image(loam_flux *f, const loam_flux_params *p, int steps, const float *ts, float *x, int *first,
                                       loam_error *err) {
    int W = p->width, H = p->height;
    size_t px = (size_t)W * H, lat = (size_t)16 * (H / 8) * (W / 8);
    if (!(p->strength > 0 && p->strength <= 1)) return loam_fail(err, LOAM_E_ARG, "strength %g: it must be in (0, 1]", p->strength);
    *first = (int)((1.0f - p->strength) * (float)steps);
    if (*first >= steps) *first = steps - 1;
    float *img = malloc(sizeof(float) * 3 * px), *z = malloc(sizeof(float) * lat), *zp = malloc(sizeof(float) * lat);
    loam_status st = img && z && zp ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (size_t i = 0; !st && i < px; i++)
        for (int c = 0; c < 3; c++) img[(size_t)c * px + i] = (float)p->init_rgb[i * 3 + c] / 127.5f - 1.0f;
    if (!st) st = loam_flux_encode_image(f, img, W, H, z, err);
    if (!st) {
        loam_flux_pack(z, 16, H / 8, W / 8, zp);
        float t = ts[*first];
        for (size_t i = 0; i < lat; i++) x[i] = t * x[i] + (1.0f - t) * zp[i];
    }
    free(img), free(z), free(zp);
    return st;
}

void loam_flux_to_rgb8(const float *image, int width, int height, uint8_t *rgb) {
    size_t px = (size_t)width * height;
    for (size_t p = 0; p < px; p++)
        for (int c = 0; c < 3; c++) {
            float x = image[(size_t)c * px + p];
            x = x < -1.0f ? -1.0f : x > 1.0f ? 1.0f : x;
            rgb[p * 3 + c] = (uint8_t)(127.5f * (x + 1.0f));
        }
}

loam_status loam_flux_generate(loam_flux *f, const char *prompt, const loam_flux_params *p, uint8_t *rgb, loam_error *err) {
    loam_flux_info info;
    loam_flux_get_info(f, &info);
    int W = p->width, H = p->height, steps = p->steps > 0 ? p->steps : info.default_steps, T = info.t5_len;
    loam_status st = check_size(W, H, err);
    if (st) return st;
    if (steps > 1000) return loam_fail(err, LOAM_E_ARG, "%d steps: at most 1000", steps);
    size_t lat = (size_t)16 * (H / 8) * (W / 8);
    int32_t clip_ids[77], *t5_ids = malloc(sizeof(int32_t) * (size_t)T);
    float *pooled = malloc(sizeof(float) * (size_t)info.clip_dim), *txt = malloc(sizeof(float) * (size_t)T * info.t5_dim);
    float *noise = malloc(sizeof(float) * lat), *x = malloc(sizeof(float) * lat), *ts = malloc(sizeof(float) * (size_t)(steps + 1));
    float *image = malloc(sizeof(float) * 3 * (size_t)W * H);
    if (!t5_ids || !pooled || !txt || !noise || !x || !ts || !image) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (!st) st = loam_flux_tokenize(f, prompt, clip_ids, t5_ids, T, NULL, err);
    if (!st) st = loam_flux_encode_text(f, clip_ids, t5_ids, T, pooled, txt, err);
    if (!st) {
        loam_flux_noise(p->seed, W, H, noise);
        loam_flux_pack(noise, 16, H / 8, W / 8, x);
        loam_flux_schedule(f, steps, W, H, ts);
        int first = 0;
        if (p->init_rgb) st = loam_flux_start_from_image(f, p, steps, ts, x, &first, err);
        if (!st) st = loam_flux_denoise(f, x, W, H, txt, T, pooled, ts + first, steps - first, p, err);
    }
    if (!st) {
        loam_flux_unpack(x, 16, H / 8, W / 8, noise);
        st = loam_flux_decode(f, noise, W, H, image, err);
    }
    if (!st) loam_flux_to_rgb8(image, W, H, rgb);
    free(t5_ids), free(pooled), free(txt), free(noise), free(x), free(ts), free(image);
    return st;
}
