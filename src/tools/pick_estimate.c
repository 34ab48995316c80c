/* One catalogue entry at one quantization: the memory it needs and the
 * speed it will have, from its published shape (the synth presets), the
 * runtime's own memory arithmetic and the rates measured on this machine.
 * Text models use exactly what the runtime allocates (loam_text_memory);
 * Whisper and FLUX.1 use the arithmetic of their reference pipelines (not
 * yet the runtime's own allocation), said so in the row. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "image/flux.h"
#include "nn/kv_cache.h"
#include "text/context.h"
#include "tools/pick.h"
#include "tools/presets.h"
#include "tools/synth.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

int pick_types_of(const char *model, const char *quant, int *types, int max) {
    loam_synth_sizes z;
    if (loam_synth_breakdown(model, quant, &z, NULL) != LOAM_OK) return 0;
    int n = 0;
    for (int t = 0; t < LOAM_T_COUNT && n < max; t++)
        if (z.decode_bytes_by_type[t] > z.bytes / 50) types[n++] = t; /* 2% or more of what a token reads */
    /* FLUX.1's other stages: the text encoders in bf16, the decoder in f32 */
    const loam_preset *pr = loam_preset_find(model);
    if (pr && !strcmp(pr->arch, "flux"))
        for (int t = LOAM_T_F32; t <= LOAM_T_BF16 && n < max; t += LOAM_T_BF16 - LOAM_T_F32) types[n++] = t;
    return n;
}

/* The fastest measured streaming rate: for the types too small to measure
 * (norms) and the KV cache. */
static double stream_rate(const loam_pick_rates *r) {
    double best = 0;
    for (int t = 0; t < 32; t++)
        if (r->decode_bytes_per_s[t] > best) best = r->decode_bytes_per_s[t];
    return best;
}

static double rate_of(const double *rates, int t, double fallback) { return t < 32 && rates[t] > 0 ? rates[t] : fallback; }

/* Seconds to stream the bytes of each type once (one decode step). */
static double stream_seconds(const uint64_t *bytes_by_type, const uint64_t *minus, const loam_pick_rates *r) {
    double s = 0, fallback = stream_rate(r);
    for (int t = 0; t < LOAM_T_COUNT; t++) {
        uint64_t m = minus ? minus[t] : 0, b = bytes_by_type[t] > m ? bytes_by_type[t] - m : 0;
        if (b) s += (double)b / rate_of(r->decode_bytes_per_s, t, fallback);
    }
    return s;
}

/* Seconds of 2 flops per weight per position, type by type. */
static double product_seconds(const int64_t *params_by_type, const int64_t *minus, double positions, const loam_pick_rates *r) {
    double s = 0, fallback = 0;
    for (int t = 0; t < 32; t++)
        if (r->prefill_gops[t] > fallback) fallback = r->prefill_gops[t];
    for (int t = 0; t < LOAM_T_COUNT; t++) {
        int64_t p = params_by_type[t] - (minus ? minus[t] : 0);
        if (p > 0) s += 2.0 * (double)p * positions / (rate_of(r->prefill_gops, t, fallback) * 1e9);
    }
    return s;
}

/* Appends to the row's explanation. */
static void say(loam_pick_row *row, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(loam_pick_row *row, const char *fmt, ...) {
    size_t len = strlen(row->explain);
    if (len + 1 >= sizeof row->explain) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(row->explain + len, sizeof row->explain - len, fmt, ap);
    va_end(ap);
}

/* "weights: 4.58 GiB = q4_k 3.71 + q6_k 0.82 + f32 0.00 GiB" */
static void say_weights(loam_pick_row *row, const loam_synth_sizes *z) {
    say(row, "weights (per tensor, llama-quantize's types): %.3f GiB =", (double)z->bytes / GIB);
    int first = 1;
    for (int t = 0; t < LOAM_T_COUNT; t++)
        if (z->bytes_by_type[t]) say(row, "%s %s %.3f", first ? "" : " +", loam_type_short((loam_type)t), (double)z->bytes_by_type[t] / GIB), first = 0;
    say(row, " GiB\n");
}

static void say_rates(loam_pick_row *row, const loam_synth_sizes *z, const loam_pick_rates *r) {
    say(row, "measured rates (%s, %d threads):", r->cpu, r->threads);
    for (int t = 0; t < LOAM_T_COUNT && t < 32; t++)
        if (z->decode_bytes_by_type[t] && r->decode_bytes_per_s[t] > 0)
            say(row, " %s %.1f GB/s one-row, %.0f GOP/s prompt;", loam_type_short((loam_type)t), r->decode_bytes_per_s[t] / 1e9,
                r->prefill_gops[t]);
    say(row, "\n");
}

static void text_estimate(const loam_preset *pr, const loam_synth_sizes *z, const loam_pick_params *p, const loam_pick_rates *r,
                          loam_pick_row *row) {
    loam_spec s;
    memset(&s, 0, sizeof s);
    s.n_layers = pr->n_layers, s.n_embd = pr->n_embd, s.n_heads = pr->n_heads, s.n_kv_heads = pr->n_kv_heads;
    s.head_dim = pr->head_dim, s.n_ff = pr->n_ff, s.n_vocab = pr->n_vocab;
    loam_memory_plan plan;
    loam_text_memory(&s, z->bytes, (int)row->context, p->kv_type, &plan);
    row->weights_bytes = plan.weights, row->kv_bytes_per_token = plan.kv_per_token, row->kv_bytes = plan.kv_cache;
    row->scratch_bytes = plan.scratch, row->overhead_bytes = plan.overhead;
    say_weights(row, z);
    size_t kv_row = loam_kv_row_bytes(p->kv_type, (size_t)pr->n_kv_heads * (size_t)pr->head_dim);
    say(row, "KV cache: 2 (K, V) x %d layers x %zu bytes (%d kv heads x %d dims, %s) = %llu bytes a position; x %lld positions = %.3f GiB\n",
        pr->n_layers, kv_row, pr->n_kv_heads, pr->head_dim, p->kv_type == LOAM_KV_F16 ? "f16" : p->kv_type == LOAM_KV_Q8_0 ? "q8_0" : "f32",
        (unsigned long long)plan.kv_per_token, (long long)row->context, (double)plan.kv_cache / GIB);
    say(row, "scratch (a prompt slice, a row of logits, attention scores): %.3f GiB; runtime and tokenizer: %.3f GiB\n",
        (double)plan.scratch / GIB, (double)plan.overhead / GIB);
    if (!r) return;
    say_rates(row, z, r);
    /* decode at the start of a conversation: every weight once, and the KV
     * cache of a 512-token exchange */
    int64_t at = row->context < 512 ? row->context : 512;
    double t_tok = stream_seconds(z->decode_bytes_by_type, NULL, r) + (double)plan.kv_per_token * (double)at / stream_rate(r);
    row->tokens_per_s = t_tok > 0 ? 1.0 / t_tok : 0;
    double t_prompt = product_seconds(z->matmul_params_by_type, NULL, 1, r);
    row->prefill_tokens_per_s = t_prompt > 0 ? 1.0 / t_prompt : 0;
    double read = 0;
    for (int t = 0; t < LOAM_T_COUNT; t++) read += (double)z->decode_bytes_by_type[t];
    say(row, "decode: %.3f GiB read a token (every matrix once, one embedding row) + the KV cache of %lld positions -> %.1f tokens/s\n",
        read / GIB, (long long)at, row->tokens_per_s);
    double mm = 0;
    for (int t = 0; t < LOAM_T_COUNT; t++) mm += (double)z->matmul_params_by_type[t];
    say(row, "prefill: 2 flops x %.3g weights a prompt token, at the measured GOP/s of each type -> %.1f tokens/s\n", mm,
        row->prefill_tokens_per_s);
}

/* Whisper as openai/whisper runs a 30 s window: the encoder over 1,500
 * positions once, then about 100 tokens (English speech, ~3.3 tokens a
 * second) from the decoder, each reading its weights and the window's
 * cross-attention K/V. Memory: weights, the encoder's activations and one
 * head's attention scores, the decoder's self-attention cache for 448
 * positions of 5 beams, the cross-attention K/V, the mel window. */
static void whisper_estimate(const loam_preset *pr, const loam_synth_sizes *z, const loam_pick_rates *r, loam_pick_row *row) {
    uint64_t d = (uint64_t)pr->n_embd, T = (uint64_t)pr->n_audio_ctx, dec_layers = (uint64_t)pr->n_layers_dec;
    uint64_t self_kv = loam_kv_cache_bytes(LOAM_KV_F32, pr->n_layers_dec, d, 448 * 5);
    uint64_t cross_kv = loam_kv_cache_bytes(LOAM_KV_F32, pr->n_layers_dec, d, (int64_t)T);
    row->weights_bytes = z->bytes;
    say_weights(row, z);
    row->kv_bytes_per_token = loam_kv_cache_bytes(LOAM_KV_F32, pr->n_layers_dec, d, 1);
    row->kv_bytes = self_kv + cross_kv;
    row->scratch_bytes = T * (8 * d + (uint64_t)pr->n_ff) * 4 + T * T * 4 + 3000ull * (uint64_t)pr->n_mels * 4 * 2 +
                         (uint64_t)pr->n_vocab * 4 * 5;
    row->overhead_bytes = (32ull << 20) + (uint64_t)pr->n_vocab * 160;
    if (!r) return;
    double peak = 0;
    for (int t = 0; t < 32; t++)
        if (r->prefill_gops[t] > peak) peak = r->prefill_gops[t];
    double enc = product_seconds(z->encoder_matmul_params_by_type, NULL, (double)T, r) +
                 4.0 * (double)T * (double)T * (double)d * pr->n_layers / (peak * 1e9);
    double tok = stream_seconds(z->decode_bytes_by_type, z->encoder_decode_bytes_by_type, r) + (double)cross_kv / stream_rate(r);
    (void)dec_layers;
    double window = enc + 100.0 * tok;
    row->realtime_factor = window > 0 ? 30.0 / window : 0;
    say(row, "a 30 s window: encoder %.2f s (1,500 positions) + 100 tokens x %.1f ms -> %.1fx real time \n", enc, tok * 1e3, row->realtime_factor);
}

/* BFL's autoencoder as published (AutoEncoderParams of FLUX.1: ch 128,
 * ch_mult 1 2 4 4, 2 ResNet blocks a level, 16 latent channels). */
static flux_vae flux_published_vae(void) {
    flux_vae a = {.ch = 128, .z_ch = 16, .n_levels = 4, .n_res = 2, .groups = 32, .sample_size = 1024, .mult = {1, 2, 4, 4}};
    return a;
}

/* Operations (2 × multiply-adds) of the decoder for an S × S image: its
 * convolutions as products, and the mid block's attention over every latent pixel. */
static double vae_decoder_ops(const flux_vae *a, double S) {
    double s = S / (1 << (a->n_levels - 1)), ops = 0;
    int top = a->ch * a->mult[a->n_levels - 1];
#define CONV(px, ci, co, k) (ops += 2.0 * (px) * (double)(ci) * (double)(co) * (k) * (k))
    CONV(s * s, a->z_ch, top, 3);
    CONV(s * s, top, top, 3 * 2), CONV(s * s, top, top, 1 * 2); /* 2 mid ResNets: 4 convs 3x3 (9 × 4 = 36 = 3² × 2 × 2) */
    ops += 4 * 2.0 * s * s * top * top + 2 * 2.0 * s * s * s * s * top; /* q, k, v, proj_out; QKᵀ and PV */
    int c_in = top;
    for (int lvl = a->n_levels - 1; lvl >= 0; lvl--) {
        int c = a->ch * a->mult[lvl];
        double side = s * (1 << (a->n_levels - 1 - lvl));
        for (int b = 0; b <= a->n_res; b++, c_in = c) {
            CONV(side * side, c_in, c, 3), CONV(side * side, c, c, 3);
            if (c_in != c) CONV(side * side, c_in, c, 1);
        }
        if (lvl) CONV(4 * side * side, c, c, 3);
    }
    CONV(S * S, a->ch, 3, 3);
#undef CONV
    return ops;
}

/* FLUX.1 at 1024x1024 as loam runs it: the stages one after the other,
 * each loaded, run and released (text encoders, then the transformer for
 * every step over 4,096 image tokens and the T5 prompt — 256 tokens for
 * schnell, 512 for dev —, then the decoder), so memory is the largest stage's. */
static void flux_estimate(const cJSON *entry, const loam_preset *pr, const loam_synth_sizes *z, const char *quant,
                          const loam_pick_rates *r, loam_pick_row *row) {
    const cJSON *c, *comps = cJSON_GetObjectItemCaseSensitive(entry, "components"), *st = cJSON_GetObjectItemCaseSensitive(entry, "steps");
    double comp_params = 0, t5_params = 0, vae_params = 0;
    cJSON_ArrayForEach(c, comps) {
        const cJSON *np = cJSON_GetObjectItemCaseSensitive(c, "params"), *nm = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (!cJSON_IsNumber(np)) continue;
        comp_params += np->valuedouble;
        if (cJSON_IsString(nm) && strstr(nm->valuestring, "T5")) t5_params = np->valuedouble;
        if (cJSON_IsString(nm) && strstr(nm->valuestring, "autoencoder")) vae_params = np->valuedouble;
    }
    /* the encoders as people run them: bf16, or T5 in q8_0 (loam quantize, --t5) beside a quantized transformer */
    int quantized = strcmp(quant, "f16") != 0;
    double enc_bytes = (comp_params - t5_params - vae_params) * 2 + t5_params * (quantized ? 34.0 / 32 : 2);
    double txt = pr->guidance ? 512 : 256, L = 4096 + txt, H = pr->n_embd;
    flux_vae vae = flux_published_vae();
    double vae_bytes = vae_params * 4 + (double)flux_vae_decode_bytes(&vae, 128, 128);
    double dit_scratch = L * (9 * H + 4 * pr->n_ff) * 4 + L * L * 4;
    double dit_bytes = (double)z->bytes + dit_scratch;
    /* the largest stage: its weights as weights, the rest as scratch */
    double peak = dit_bytes > enc_bytes ? dit_bytes : enc_bytes;
    peak = peak > vae_bytes ? peak : vae_bytes;
    row->weights_bytes = peak == dit_bytes ? z->bytes : (uint64_t)(peak == enc_bytes ? enc_bytes : vae_params * 4);
    row->scratch_bytes = (uint64_t)peak - row->weights_bytes;
    say_weights(row, z);
    say(row, "stages one at a time, the largest counts: text encoders %.3f GiB, transformer %.3f GiB + %.3f GiB scratch, "
        "decoder %.3f GiB (weights and the whole 1024x1024 image's maps)\n", enc_bytes / GIB, z->bytes / GIB, dit_scratch / GIB,
        vae_bytes / GIB);
    row->overhead_bytes = (32ull << 20) + 32128ull * 160 + 49408ull * 160; /* T5 and CLIP vocabularies */
    if (!r) return;
    double steps = cJSON_IsNumber(st) ? st->valuedouble : 4;
    double best = 0;
    for (int t = 0; t < 32; t++)
        if (r->prefill_gops[t] > best) best = r->prefill_gops[t];
    double attn = 4.0 * L * L * H * (pr->n_double + pr->n_single) / (best * 1e9);
    double step = product_seconds(z->matmul_params_by_type, NULL, L, r) + attn;
    /* the encoders and the decoder at the rates of their weights' products (bf16, f32) */
    double enc = 2.0 * t5_params * txt / (rate_of(r->prefill_gops, quantized ? LOAM_T_Q8_0 : LOAM_T_BF16, best) * 1e9);
    double dec = vae_decoder_ops(&vae, 1024) / (rate_of(r->prefill_gops, LOAM_T_F32, best) * 1e9);
    row->seconds_per_image = steps * step + enc + dec;
    say(row, "1024x1024: %.0f steps x %.1f s (%.0f tokens through %d double and %d single blocks) + T5 %.1f s + decoder %.1f s "
        "(%.0f GOP in f32; its im2col costs more than this counts) -> %.0f s an image\n", steps, step, L, pr->n_double, pr->n_single, enc, dec,
        vae_decoder_ops(&vae, 1024) / 1e9, row->seconds_per_image);
}

loam_status pick_estimate(const cJSON *entry, const char *quant, const loam_pick_params *p, uint64_t ram_bytes,
                          const loam_pick_rates *rates, loam_pick_row *row, loam_error *err) {
    const char *model = cJSON_GetObjectItemCaseSensitive(entry, "model")->valuestring;
    const loam_preset *pr = loam_preset_find(model);
    if (!pr) return loam_fail(err, LOAM_E_FORMAT, "catalogue: no published shape for \"%s\"", model);
    loam_synth_sizes z;
    loam_status st = loam_synth_breakdown(model, quant, &z, err);
    if (st) return st;
    snprintf(row->quant, sizeof row->quant, "%s", quant);
    row->n_params = z.n_params;
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(entry, "context");
    row->max_context = cJSON_IsNumber(ctx) ? (int64_t)ctx->valuedouble : pr->n_ctx;
    int64_t want = p->context > 0 ? p->context : 4096;
    row->context = want < row->max_context || row->max_context <= 0 ? want : row->max_context;
    if (!strcmp(pr->arch, "whisper")) whisper_estimate(pr, &z, rates, row), row->context = 448;
    else if (!strcmp(pr->arch, "flux")) flux_estimate(entry, pr, &z, quant, rates, row), row->context = 0;
    else text_estimate(pr, &z, p, rates, row);
    row->total_bytes = row->weights_bytes + row->kv_bytes + row->scratch_bytes + row->overhead_bytes;
    row->ram_bytes = ram_bytes;
    row->reserve_bytes = loam_pick_reserve(ram_bytes);
    row->fits = row->total_bytes + row->reserve_bytes <= ram_bytes;
    return LOAM_OK;
}

uint64_t loam_pick_reserve(uint64_t ram_bytes) {
    uint64_t tenth = ram_bytes / 10, gib = 1ull << 30;
    return tenth > gib ? tenth : gib;
}
