/* loam synth --like flux.1-schnell|dev -o FOLDER: the whole pipeline at
 * its real shapes with random weights, laid out as the hub's folder: the
 * transformer (a GGUF of the asked type, as loam synth writes it), CLIP-L
 * and T5-XXL (BF16 safetensors with their configs), the autoencoder (F32
 * ae.safetensors, encoder and decoder) and the configs BFL's single files
 * need. No tokenizer (run it with --inputs, or put the real ones beside).
 * Every weight tensor of a component points into one random buffer: the
 * files are written, never held, whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loam_tools.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/mapfile.h"

typedef struct {
    loam_named_tensor *t;
    char (*names)[112];
    int n, cap;
    loam_dtype dtype;
    const void *random, *ones, *zeros; /* shared data of the component's dtype */
} st_list;

static int put(st_list *l, const char *name, int n_dims, int64_t a, int64_t b, int64_t c, int64_t d, int fill) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        loam_named_tensor *t = realloc(l->t, sizeof *t * (size_t)cap);
        if (t) l->t = t;
        char (*n)[112] = t ? realloc(l->names, sizeof *n * (size_t)cap) : NULL;
        if (!n) return 0;
        l->names = n, l->cap = cap;
    }
    snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
    loam_named_tensor *t = &l->t[l->n];
    *t = (loam_named_tensor){NULL, l->dtype, n_dims, {a, b, c, d}, fill == 1 ? l->ones : fill == 0 ? l->zeros : l->random};
    l->n++;
    return 1;
}

#define W2(name, rows, cols) put(l, name, 2, rows, cols, 0, 0, 2)
#define V1(name, n, fill) put(l, name, 1, n, 0, 0, 0, fill)

static int lin(st_list *l, const char *pre, int64_t out, int64_t in, int bias) {
    char n[112];
    snprintf(n, sizeof n, "%s.weight", pre);
    int ok = W2(n, out, in);
    snprintf(n, sizeof n, "%s.bias", pre);
    return ok && (!bias || V1(n, out, 0));
}

static int norm(st_list *l, const char *pre, int64_t n_ch, int bias) {
    char n[112];
    snprintf(n, sizeof n, "%s.weight", pre);
    int ok = V1(n, n_ch, 1);
    snprintf(n, sizeof n, "%s.bias", pre);
    return ok && (!bias || V1(n, n_ch, 0));
}

/* CLIP-L's text model (transformers' CLIPTextModel names) */
static int clip_l(st_list *l) {
    char p[112];
    int ok = W2("text_model.embeddings.token_embedding.weight", 49408, 768) && W2("text_model.embeddings.position_embedding.weight", 77, 768);
    for (int i = 0; ok && i < 12; i++) {
        const char *parts[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj"};
        for (int k = 0; ok && k < 4; k++) snprintf(p, sizeof p, "text_model.encoder.layers.%d.%s", i, parts[k]), ok = lin(l, p, 768, 768, 1);
        snprintf(p, sizeof p, "text_model.encoder.layers.%d.mlp.fc1", i), ok = ok && lin(l, p, 3072, 768, 1);
        snprintf(p, sizeof p, "text_model.encoder.layers.%d.mlp.fc2", i), ok = ok && lin(l, p, 768, 3072, 1);
        snprintf(p, sizeof p, "text_model.encoder.layers.%d.layer_norm1", i), ok = ok && norm(l, p, 768, 1);
        snprintf(p, sizeof p, "text_model.encoder.layers.%d.layer_norm2", i), ok = ok && norm(l, p, 768, 1);
    }
    return ok && norm(l, "text_model.final_layer_norm", 768, 1);
}

/* T5 v1.1 XXL's encoder (T5EncoderModel names) */
static int t5_xxl(st_list *l) {
    char p[112];
    int ok = W2("shared.weight", 32128, 4096) && W2("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", 32, 64);
    for (int i = 0; ok && i < 24; i++) {
        const char *qkvo[] = {"q", "k", "v", "o"};
        for (int k = 0; ok && k < 4; k++) snprintf(p, sizeof p, "encoder.block.%d.layer.0.SelfAttention.%s", i, qkvo[k]), ok = lin(l, p, 4096, 4096, 0);
        snprintf(p, sizeof p, "encoder.block.%d.layer.1.DenseReluDense.wi_0", i), ok = ok && lin(l, p, 10240, 4096, 0);
        snprintf(p, sizeof p, "encoder.block.%d.layer.1.DenseReluDense.wi_1", i), ok = ok && lin(l, p, 10240, 4096, 0);
        snprintf(p, sizeof p, "encoder.block.%d.layer.1.DenseReluDense.wo", i), ok = ok && lin(l, p, 4096, 10240, 0);
        snprintf(p, sizeof p, "encoder.block.%d.layer.0.layer_norm", i), ok = ok && norm(l, p, 4096, 0);
        snprintf(p, sizeof p, "encoder.block.%d.layer.1.layer_norm", i), ok = ok && norm(l, p, 4096, 0);
    }
    return ok && norm(l, "encoder.final_layer_norm", 4096, 0);
}

static int conv(st_list *l, const char *pre, int64_t out, int64_t in, int64_t k) {
    char n[112];
    snprintf(n, sizeof n, "%s.weight", pre);
    int ok = put(l, n, 4, out, in, k, k, 2);
    snprintf(n, sizeof n, "%s.bias", pre);
    return ok && V1(n, out, 0);
}

static int resnet(st_list *l, const char *pre, int64_t in, int64_t out) {
    char p[112];
    int ok = 1;
    snprintf(p, sizeof p, "%s.norm1", pre), ok = ok && norm(l, p, in, 1);
    snprintf(p, sizeof p, "%s.conv1", pre), ok = ok && conv(l, p, out, in, 3);
    snprintf(p, sizeof p, "%s.norm2", pre), ok = ok && norm(l, p, out, 1);
    snprintf(p, sizeof p, "%s.conv2", pre), ok = ok && conv(l, p, out, out, 3);
    if (in != out) snprintf(p, sizeof p, "%s.nin_shortcut", pre), ok = ok && conv(l, p, out, in, 1);
    return ok;
}

static int mid(st_list *l, const char *side, int64_t C) {
    char p[112];
    int ok = 1;
    snprintf(p, sizeof p, "%s.mid.block_1", side), ok = ok && resnet(l, p, C, C);
    snprintf(p, sizeof p, "%s.mid.block_2", side), ok = ok && resnet(l, p, C, C);
    snprintf(p, sizeof p, "%s.mid.attn_1.norm", side), ok = ok && norm(l, p, C, 1);
    const char *qkv[] = {"q", "k", "v", "proj_out"};
    for (int i = 0; ok && i < 4; i++) snprintf(p, sizeof p, "%s.mid.attn_1.%s", side, qkv[i]), ok = conv(l, p, C, C, 1);
    return ok;
}

/* BFL's AutoEncoder: ch 128, ch_mult 1, 2, 4, 4, two ResNet blocks, z 16 */
static int autoencoder(st_list *l) {
    const int64_t ch = 128, mult[4] = {1, 2, 4, 4}, z = 16;
    char p[112];
    int ok = conv(l, "encoder.conv_in", ch, 3, 3);
    int64_t in = ch;
    for (int lvl = 0; ok && lvl < 4; lvl++) {
        for (int b = 0; ok && b < 2; b++) snprintf(p, sizeof p, "encoder.down.%d.block.%d", lvl, b), ok = resnet(l, p, in, ch * mult[lvl]), in = ch * mult[lvl];
        if (lvl < 3) snprintf(p, sizeof p, "encoder.down.%d.downsample.conv", lvl), ok = ok && conv(l, p, in, in, 3);
    }
    ok = ok && mid(l, "encoder", in) && norm(l, "encoder.norm_out", in, 1) && conv(l, "encoder.conv_out", 2 * z, in, 3);
    in = ch * mult[3];
    ok = ok && conv(l, "decoder.conv_in", in, z, 3) && mid(l, "decoder", in);
    for (int lvl = 3; ok && lvl >= 0; lvl--) {
        for (int b = 0; ok && b < 3; b++) snprintf(p, sizeof p, "decoder.up.%d.block.%d", lvl, b), ok = resnet(l, p, in, ch * mult[lvl]), in = ch * mult[lvl];
        if (lvl > 0) snprintf(p, sizeof p, "decoder.up.%d.upsample.conv", lvl), ok = ok && conv(l, p, in, in, 3);
    }
    return ok && norm(l, "decoder.norm_out", in, 1) && conv(l, "decoder.conv_out", 3, in, 3);
}

/* One component: its tensors over shared buffers (random, ones, zeros) the
 * size of the largest tensor. The layout runs twice: for the size, then
 * over the buffers. */
static loam_status write_component(const char *path, loam_dtype dtype, int (*layout)(st_list *), loam_error *err) {
    st_list sizes = {.dtype = dtype};
    int ok = layout(&sizes);
    int64_t most = 1;
    for (int i = 0; ok && i < sizes.n; i++) {
        int64_t n = 1;
        for (int d = 0; d < sizes.t[i].n_dims; d++) n *= sizes.t[i].shape[d];
        most = n > most ? n : most;
    }
    free(sizes.t), free(sizes.names);
    size_t es = dtype == LOAM_DTYPE_F32 ? 4 : 2;
    uint8_t *rnd = ok ? malloc((size_t)most * es) : NULL, *ones = ok ? malloc((size_t)most * es) : NULL, *zeros = ok ? calloc((size_t)most, es) : NULL;
    loam_status st = rnd && ones && zeros ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory for %s", path);
    uint64_t s = 0x5eedf1u;
    for (int64_t i = 0; !st && i < most; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float v = ((float)(s >> 40) / 16777216.0f - 0.5f) * 0.07f, o = 1.0f; /* uniform, the spread of N(0, 0.02) */
        if (es == 4) memcpy(rnd + 4 * i, &v, 4), memcpy(ones + 4 * i, &o, 4);
        else {
            uint16_t h = loam_f32_to_bf16(v), ho = loam_f32_to_bf16(o);
            memcpy(rnd + 2 * i, &h, 2), memcpy(ones + 2 * i, &ho, 2);
        }
    }
    st_list l = {.dtype = dtype, .random = rnd, .ones = ones, .zeros = zeros};
    if (!st && !layout(&l)) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; !st && i < l.n; i++) l.t[i].name = l.names[i];
    if (!st) st = loam_write_safetensors(path, l.t, l.n, err);
    free(rnd), free(ones), free(zeros), free(l.t), free(l.names);
    return st;
}

static loam_status write_text_file(const char *dir, const char *name, const char *text, loam_error *err) {
    char *path = loam_path_join(dir, name);
    FILE *f = path ? fopen(path, "w") : NULL;
    int ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    loam_status st = ok ? LOAM_OK : loam_fail(err, LOAM_E_IO, "%s: cannot write", path ? path : name);
    free(path);
    return st;
}

loam_status loam_synth_flux_folder(const char *like, const char *type, const char *dir, loam_progress_fn progress, void *user,
                                   loam_error *err) {
    int dev = !strcmp(like, "flux.1-dev");
    if (!dev && strcmp(like, "flux.1-schnell")) return loam_fail(err, LOAM_E_ARG, "synth: a folder is written for flux.1-schnell or flux.1-dev only");
    const char *subs[] = {"", "transformer", "vae", "text_encoder", "text_encoder_2", "scheduler"};
    for (int i = 0; i < 6; i++) {
        char *p = loam_path_join(dir, subs[i]);
        int ok = p && (mkdir(p, 0755) == 0 || loam_file_exists(p));
        free(p);
        if (!ok) return loam_fail(err, LOAM_E_IO, "%s: cannot make the folder %s", dir, subs[i]);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/flux1-%s.gguf", dir, dev ? "dev" : "schnell");
    loam_status st = loam_synth(like, type, path, progress, user, err);
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"_class_name\": \"FluxTransformer2DModel\", \"attention_head_dim\": 128, \"axes_dims_rope\": [16, 56, 56], "
             "\"guidance_embeds\": %s, \"in_channels\": 64, \"joint_attention_dim\": 4096, \"num_attention_heads\": 24, "
             "\"num_layers\": 19, \"num_single_layers\": 38, \"patch_size\": 1, \"pooled_projection_dim\": 768}\n", dev ? "true" : "false");
    if (!st) st = write_text_file(dir, "transformer/config.json", cfg, err);
    if (!st) st = write_text_file(dir, "vae/config.json",
                                  "{\"_class_name\": \"AutoencoderKL\", \"block_out_channels\": [128, 256, 512, 512], \"latent_channels\": 16, "
                                  "\"layers_per_block\": 2, \"norm_num_groups\": 32, \"scaling_factor\": 0.3611, \"shift_factor\": 0.1159}\n", err);
    snprintf(cfg, sizeof cfg,
             "{\"_class_name\": \"FlowMatchEulerDiscreteScheduler\", \"base_image_seq_len\": 256, \"base_shift\": 0.5, \"max_image_seq_len\": 4096, "
             "\"max_shift\": 1.15, \"shift\": %s, \"use_dynamic_shifting\": %s}\n", dev ? "3.0" : "1.0", dev ? "true" : "false");
    if (!st) st = write_text_file(dir, "scheduler/scheduler_config.json", cfg, err);
    if (!st) st = write_text_file(dir, "model_index.json", "{\"_class_name\": \"FluxPipeline\"}\n", err);
    if (!st) st = write_text_file(dir, "text_encoder/config.json",
                                  "{\"architectures\": [\"CLIPTextModel\"], \"model_type\": \"clip_text_model\", \"hidden_size\": 768, "
                                  "\"intermediate_size\": 3072, \"num_hidden_layers\": 12, \"num_attention_heads\": 12, \"max_position_embeddings\": 77, "
                                  "\"vocab_size\": 49408, \"hidden_act\": \"quick_gelu\", \"layer_norm_eps\": 1e-05, \"eos_token_id\": 2}\n", err);
    if (!st) st = write_text_file(dir, "text_encoder_2/config.json",
                                  "{\"architectures\": [\"T5EncoderModel\"], \"model_type\": \"t5\", \"d_model\": 4096, \"d_ff\": 10240, \"d_kv\": 64, "
                                  "\"num_layers\": 24, \"num_heads\": 64, \"vocab_size\": 32128, \"relative_attention_num_buckets\": 32, "
                                  "\"relative_attention_max_distance\": 128, \"feed_forward_proj\": \"gated-gelu\", \"layer_norm_epsilon\": 1e-06}\n", err);
    if (progress && !st) progress(user, 0, 3, "text_encoder/model.safetensors");
    if (!st) snprintf(path, sizeof path, "%s/text_encoder/model.safetensors", dir), st = write_component(path, LOAM_DTYPE_BF16, clip_l, err);
    if (progress && !st) progress(user, 1, 3, "text_encoder_2/model.safetensors");
    if (!st) snprintf(path, sizeof path, "%s/text_encoder_2/model.safetensors", dir), st = write_component(path, LOAM_DTYPE_BF16, t5_xxl, err);
    if (progress && !st) progress(user, 2, 3, "ae.safetensors");
    if (!st) snprintf(path, sizeof path, "%s/ae.safetensors", dir), st = write_component(path, LOAM_DTYPE_F32, autoencoder, err);
    if (progress && !st) progress(user, 3, 3, "");
    return st;
}
