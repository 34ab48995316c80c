/* loam imagine: text to image with FLUX.1, as BFL's CLI does it (4 steps
 * for schnell, 28 for dev), written as a PNG whose text chunks say how to
 * make it again; a progress bar per step on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "loam_image.h"

static const char usage[] =
    "usage: loam imagine MODEL \"PROMPT\" [-o OUT.png] [options]\n"
    "\n"
    "MODEL is a FLUX.1 folder as the hub publishes it (black-forest-labs/FLUX.1-schnell or -dev:\n"
    "flux1-*.safetensors, ae.safetensors, text_encoder/, text_encoder_2/, tokenizer/, tokenizer_2/,\n"
    "transformer/config.json, vae/config.json) or its hub id.\n"
    "\n"
    "  -o, --output FILE       the PNG to write (default image.png)\n"
    "  --width W, --height H   size in pixels (default 1024 x 1024; rounded down to multiples of 16)\n"
    "  --steps N               denoising steps (default 4 for schnell, 28 for dev)\n"
    "  --guidance G            guidance of FLUX.1-dev (default 3.5)\n"
    "  --seed S                seed of the noise, 0 .. 2^64-1 (default: from the clock; always printed)\n"
    "  --inputs FILE           take clip_ids, t5_ids (I32) and, if present, noise [L, 64] (packed) or\n"
    "                          noise_unpacked [16, H/8, W/8] from a .safetensors file instead of the prompt\n"
    "                          and the seed (a fixture's golden.safetensors works as it is); the size\n"
    "                          comes from the noise unless --width/--height say otherwise\n"
    "  --init IMAGE            image-to-image: start from this PNG (resized to the size asked, nearest;\n"
    "                          without --width/--height its own size, rounded down to multiples of 16)\n"
    "  --strength S            how much of the init image is redrawn, (0, 1] (default 0.6)\n"
    "  --transformer FILE      the transformer from another file (a GGUF of it, e.g. from loam quantize)\n"
    "  --t5 FILE               the T5 encoder from a GGUF (llama.cpp's t5encoder names, e.g. loam quantize\n"
    "                          of text_encoder_2/)\n"
    "  --vae-tiling            decode in 512-pixel tiles, a quarter overlapping and blended (diffusers'\n"
    "                          tiled decoding: less memory, close to but not equal to the whole image; by\n"
    "                          default tiles are used only when the whole image would need over half the RAM)\n"
    "  --vae-tile-size PX      decode in tiles of PX pixels (0: never tile)\n"
    "  --dump FILE             write clip_pooled, t5_hidden, timesteps, noise, latent_final and image\n"
    "                          (F32) to a .safetensors file\n"
    "  --show                  draw the image in the terminal (Kitty or iTerm2 image protocol)\n"
    "  -t, --threads N         threads (default: physical cores)\n"
    "  -q, --quiet             no progress on stderr\n";

typedef struct opts {
    const char *model, *prompt, *out, *inputs, *dump, *transformer, *init, *t5;
    double strength;
    long width, height, steps, threads;
    double guidance;
    uint64_t seed;
    int seed_given, guidance_given, size_given, show, quiet;
    long vae_tile; /* -1: the library's choice */
} opts;

static int parse(int argc, char **argv, opts *o) {
    memset(o, 0, sizeof *o);
    o->out = "image.png", o->width = o->height = 1024, o->guidance = 3.5, o->strength = 0.6, o->vae_tile = -1;
    for (int i = 1; i < argc; i++) { /* argv[0] is "imagine" */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            exit(0);
        }
#define VALUE(what) \
    if (!v) return cli_error("%s needs %s", a, what); \
    i++
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) { VALUE("a file name"); o->out = v; }
        else if (!strcmp(a, "--width")) { VALUE("a number"); if (!cli_int(a, v, 1, 16384, &o->width)) return 1; o->size_given = 1; }
        else if (!strcmp(a, "--height")) { VALUE("a number"); if (!cli_int(a, v, 1, 16384, &o->height)) return 1; o->size_given = 1; }
        else if (!strcmp(a, "--transformer")) { VALUE("a file name"); o->transformer = v; }
        else if (!strcmp(a, "--t5")) { VALUE("a file name"); o->t5 = v; }
        else if (!strcmp(a, "--init")) { VALUE("a PNG file"); o->init = v; }
        else if (!strcmp(a, "--strength")) {
            VALUE("a number");
            if (!cli_float(a, v, &o->strength)) return 1;
            if (!(o->strength > 0 && o->strength <= 1)) return cli_error("--strength: %s is outside (0, 1]", v);
        }
        else if (!strcmp(a, "--steps")) { VALUE("a number"); if (!cli_int(a, v, 1, 1000, &o->steps)) return 1; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { VALUE("a number"); if (!cli_int(a, v, 1, 4096, &o->threads)) return 1; }
        else if (!strcmp(a, "--guidance")) {
            VALUE("a number");
            if (!cli_float(a, v, &o->guidance)) return 1;
            if (!(o->guidance >= 0 && o->guidance <= 100)) return cli_error("--guidance: %s is outside 0 .. 100", v);
            o->guidance_given = 1;
        } else if (!strcmp(a, "--seed")) { VALUE("an integer"); if (!cli_u64(a, v, &o->seed)) return 1; o->seed_given = 1; }
        else if (!strcmp(a, "--inputs")) { VALUE("a file name"); o->inputs = v; }
        else if (!strcmp(a, "--dump")) { VALUE("a file name"); o->dump = v; }
        else if (!strcmp(a, "--vae-tiling")) o->vae_tile = 512;
        else if (!strcmp(a, "--vae-tile-size")) { VALUE("a number of pixels"); if (!cli_int(a, v, 0, 16384, &o->vae_tile)) return 1; }
        else if (!strcmp(a, "--show")) o->show = 1;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) o->quiet = 1;
        else if (a[0] == '-' && a[1]) return cli_error("imagine: unknown option %s (see loam imagine --help)", a);
        else if (!o->model) o->model = a;
        else if (!o->prompt) o->prompt = a;
        else return cli_error("imagine: one prompt only (quote it)");
#undef VALUE
    }
    if (!o->model) return cli_error("imagine: no model given (see loam imagine --help)");
    if (!o->prompt && !o->inputs) return cli_error("imagine: no prompt given");
    if (o->width < 16 || o->height < 16) return cli_error("imagine: %ld x %ld is below the smallest image, 16 x 16", o->width, o->height);
    if (o->width % 16 || o->height % 16) {
        fprintf(stderr, "loam: warning: %ld x %ld rounded down to %ld x %ld (multiples of 16)\n", o->width, o->height,
                o->width / 16 * 16, o->height / 16 * 16);
        o->width = o->width / 16 * 16, o->height = o->height / 16 * 16;
    }
    return 0;
}

/* ------------------------------------------------------------ PNG */

static int write_png(const char *path, const uint8_t *rgb, int W, int H, const char *const *kv, int n_kv) {
    uint8_t *png = NULL;
    size_t len = 0;
    loam_error err;
    if (loam_png_encode(rgb, W, H, kv, n_kv, &png, &len, &err)) return cli_error_status(&err);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(png, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = 0;
    free(png);
    return ok ? 0 : cli_error("%s: cannot write", path);
}

/* The PNG file in the terminal: Kitty's graphics protocol or iTerm2's inline images. */
static void show(const char *path) {
    const char *term = getenv("TERM"), *prog = getenv("TERM_PROGRAM");
    int kitty = getenv("KITTY_WINDOW_ID") || (term && strstr(term, "kitty")), iterm = prog && !strcmp(prog, "iTerm.app");
    if (!kitty && !iterm) {
        fprintf(stderr, "loam: --show: this terminal speaks neither the Kitty nor the iTerm2 image protocol\n");
        return;
    }
    char *data = NULL;
    FILE *f = fopen(path, "rb");
    long n = 0;
    if (f && !fseek(f, 0, SEEK_END) && (n = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET) && (data = malloc((size_t)n)))
        n = (long)fread(data, 1, (size_t)n, f);
    if (f) fclose(f);
    if (!data) return;
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t out_len = ((size_t)n + 2) / 3 * 4;
    char *enc = malloc(out_len + 1);
    for (long i = 0, o = 0; enc && i < n; i += 3, o += 4) {
        uint32_t v = (uint32_t)(uint8_t)data[i] << 16 | (i + 1 < n ? (uint32_t)(uint8_t)data[i + 1] << 8 : 0) | (i + 2 < n ? (uint8_t)data[i + 2] : 0);
        enc[o] = b64[v >> 18], enc[o + 1] = b64[(v >> 12) & 63];
        enc[o + 2] = i + 1 < n ? b64[(v >> 6) & 63] : '=', enc[o + 3] = i + 2 < n ? b64[v & 63] : '=';
    }
    if (enc && iterm) printf("\033]1337;File=inline=1;size=%ld:%.*s\a\n", n, (int)out_len, enc);
    for (size_t at = 0; enc && kitty && at < out_len; at += 4096) { /* chunks of 4096, m=1 until the last */
        size_t len = out_len - at < 4096 ? out_len - at : 4096;
        printf("\033_G%s%d;%.*s\033\\", at == 0 ? "f=100,a=T," : "", at + len < out_len, (int)len, enc + at);
    }
    if (kitty) printf("\n");
    free(enc), free(data);
}

/* ------------------------------------------------------------ inputs */

static int read_ids(const char *path, const char *name, int32_t *out, int n, int *got) {
    loam_named_tensor t;
    loam_error err;
    if (loam_read_safetensors(path, name, &t, &err)) return cli_error_status(&err);
    int64_t count = 1;
    for (int i = 0; i < t.n_dims; i++) count *= t.shape[i];
    int ok = t.dtype == LOAM_DTYPE_I32 && count >= 1 && count <= n;
    if (ok) memcpy(out, t.data, sizeof(int32_t) * (size_t)count), *got = (int)count;
    free((void *)t.data);
    return ok ? 0 : cli_error("%s: \"%s\" must be I32 with 1 to %d values", path, name, n);
}

/* The file's noise, packed [L, 64] ("noise") or not [16, h, w]
 * ("noise_unpacked"): its size into *W, *H when size_from_noise. */
typedef struct {
    float *data; /* [16, h, w], malloc'ed */
    int W, H;
} file_noise;

/* 1 = the file has no noise, 0 = read, -1 = bad (said). noise_unpacked
 * says its size; a packed noise alone is laid out for the asked size
 * (given: W, H), else it must be a square of tokens. */
static int read_noise(const char *path, int given, int W, int H, file_noise *n) {
    loam_named_tensor t;
    loam_error err;
    int packed = 0;
    if (loam_read_safetensors(path, "noise_unpacked", &t, &err)) {
        if (loam_read_safetensors(path, "noise", &t, &err)) return 1;
        packed = 1;
    }
    int ok = t.dtype == LOAM_DTYPE_F32;
    int64_t h = 0, w = 0;
    if (ok && packed) {
        int64_t side = 1;
        while (side * side < t.shape[0]) side++;
        h = given ? H / 8 : 2 * side, w = given ? W / 8 : 2 * side;
        ok = t.n_dims == 2 && t.shape[1] == 64 && t.shape[0] == (h / 2) * (w / 2) && h >= 2 && w >= 2 && h <= 2048 && w <= 2048;
        if (!ok && t.n_dims == 2 && t.shape[1] == 64) {
            free((void *)t.data);
            return cli_error("%s: the noise holds %lld tokens, not the %lld of a %d x %d image (--width, --height)", path,
                             (long long)t.shape[0], (long long)((h / 2) * (w / 2)), (int)(w * 8), (int)(h * 8)), -1;
        }
    } else if (ok) {
        ok = t.n_dims == 3 && t.shape[0] == 16 && t.shape[1] >= 2 && t.shape[2] >= 2 && t.shape[1] % 2 == 0 && t.shape[2] % 2 == 0 &&
             t.shape[1] <= 2048 && t.shape[2] <= 2048;
        h = t.shape[1], w = t.shape[2];
    }
    n->data = ok ? malloc(sizeof(float) * 16 * (size_t)(h * w)) : NULL;
    if (ok && n->data) {
        if (packed) loam_flux_unpack(t.data, 16, (int)h, (int)w, n->data);
        else memcpy(n->data, t.data, sizeof(float) * 16 * (size_t)(h * w));
        n->W = (int)w * 8, n->H = (int)h * 8;
    }
    if (!ok) cli_error("%s: %s must be F32 [L, 64] or [16, h, w] with even h, w", path, packed ? "noise" : "noise_unpacked");
    free((void *)t.data);
    return ok && n->data ? 0 : -1;
}

/* The init image: a PNG file to rgb */
static int read_init(const char *path, uint8_t **rgb, int *w, int *h) {
    FILE *f = fopen(path, "rb");
    if (!f) return cli_error("%s: cannot open", path);
    size_t cap = 1 << 20, len = 0, n;
    uint8_t *data = malloc(cap);
    while (data && (n = fread(data + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap && cap < ((size_t)512 << 20)) {
            uint8_t *grown = realloc(data, cap * 2);
            if (!grown) free(data);
            data = grown, cap *= 2;
        } else if (len == cap) {
            break;
        }
    }
    fclose(f);
    if (!data) return cli_error("out of memory");
    loam_error err;
    loam_status st = loam_png_decode(data, len, rgb, w, h, &err);
    free(data);
    return st ? cli_error("%s: %s", path, err.message) : 0;
}

/* rgb of w × h to W × H, nearest (torch's interpolate default, as BFL resizes) */
static uint8_t *resize_nearest(const uint8_t *in, int w, int h, int W, int H) {
    uint8_t *out = malloc((size_t)W * H * 3);
    for (int y = 0; out && y < H; y++)
        for (int x = 0; x < W; x++) memcpy(out + ((size_t)y * W + x) * 3, in + ((size_t)(y * h / H) * w + x * w / W) * 3, 3);
    return out;
}

/* ------------------------------------------------------------ run */

typedef struct {
    int quiet;
    double start;
} progress;

static int on_step(int step, int n, double seconds, void *user) {
    progress *p = user;
    if (p->quiet) return 0;
    char bar[41];
    int fill = step * 40 / n;
    for (int i = 0; i < 40; i++) bar[i] = i < fill ? '#' : '.';
    bar[40] = 0;
    fprintf(stderr, "\r[%s] step %d/%d  %.2f s/step", bar, step, n, seconds);
    if (step == n) fprintf(stderr, "  (%.1f s)\n", cli_now() - p->start);
    return 0;
}

typedef struct {
    float *pooled, *txt, *noise, *x, *ts, *image;
    int32_t *t5_ids;
    uint8_t *rgb;
} buffers;

static void buffers_free(buffers *b) {
    free(b->pooled), free(b->txt), free(b->noise), free(b->x), free(b->ts), free(b->image), free(b->t5_ids), free(b->rgb);
}

static int dump(const char *path, const buffers *b, const float *noise, const loam_flux_info *in, int T, int W, int H, int steps) {
    int64_t h = H / 8, w = W / 8;
    loam_named_tensor t[] = {
        {"clip_pooled", LOAM_DTYPE_F32, 1, {in->clip_dim}, b->pooled},
        {"t5_hidden", LOAM_DTYPE_F32, 2, {T, in->t5_dim}, b->txt},
        {"timesteps", LOAM_DTYPE_F32, 1, {steps + 1}, b->ts},
        {"noise", LOAM_DTYPE_F32, 2, {h * w / 4, 64}, noise}, /* packed, as the loop starts */
        {"latent_final", LOAM_DTYPE_F32, 3, {16, h, w}, b->noise},
        {"image", LOAM_DTYPE_F32, 3, {3, H, W}, b->image},
    };
    loam_error err;
    return loam_write_safetensors(path, t, 6, &err) ? cli_error_status(&err) : 0;
}

int cmd_imagine(int argc, char **argv) {
    opts o;
    if (parse(argc, argv, &o)) return 1;
    char path[4096];
    if (cli_resolve_model(o.model, 1, path, sizeof path)) return 1;
    loam_error err;
    /* an init image gives the size unless --width/--height say it */
    uint8_t *init = NULL;
    int iw = 0, ih = 0;
    if (o.init && read_init(o.init, &init, &iw, &ih)) return 1;
    if (init && !o.size_given) o.width = iw / 16 * 16, o.height = ih / 16 * 16;
    if (init && (o.width < 16 || o.height < 16)) return free(init), cli_error("%s: %d x %d is below 16 x 16", o.init, iw, ih);
    /* the file's noise fixes the size unless --width/--height say it */
    file_noise fn = {NULL, 0, 0};
    int from_file = o.inputs ? read_noise(o.inputs, o.size_given, (int)o.width, (int)o.height, &fn) : 1;
    if (from_file < 0) return 1;
    if (from_file == 0 && !o.size_given) o.width = fn.W, o.height = fn.H;
    if (from_file == 0 && (fn.W != o.width || fn.H != o.height)) {
        free(fn.data);
        free(init);
        return cli_error("%s: the noise is for a %d x %d image, not %ld x %ld", o.inputs, fn.W, fn.H, o.width, o.height);
    }
    loam_flux_open_params op = loam_flux_default_open_params();
    op.n_threads = (int)o.threads, op.transformer = o.transformer, op.t5 = o.t5, op.vae_tile = (int)o.vae_tile;
    loam_flux *f = NULL;
    if (loam_flux_open(path, &op, &f, &err)) return free(fn.data), free(init), cli_error_status(&err);
    loam_flux_info in;
    loam_flux_get_info(f, &in);
    loam_flux_params p = loam_flux_default_params(f);
    int W = (int)o.width, H = (int)o.height, steps = o.steps ? (int)o.steps : in.default_steps, T = in.t5_len, rc = 0;
    if (!o.seed_given) o.seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    if (!in.guidance_embed && o.guidance_given) fprintf(stderr, "loam: warning: --guidance is ignored: FLUX.1-schnell has no guidance embedding\n");
    p.width = W, p.height = H, p.steps = steps, p.guidance = (float)o.guidance, p.seed = o.seed;
    progress prog = {o.quiet, cli_now()};
    p.on_step = on_step, p.user = &prog;
    size_t lat = (size_t)16 * (H / 8) * (W / 8);
    int32_t clip_ids[77];
    buffers b = {malloc(sizeof(float) * (size_t)in.clip_dim), NULL, malloc(sizeof(float) * lat), malloc(sizeof(float) * lat),
                 malloc(sizeof(float) * (size_t)(steps + 1)), malloc(sizeof(float) * 3 * (size_t)W * H), malloc(sizeof(int32_t) * 65536),
                 malloc(3 * (size_t)W * H)};
    if (!b.pooled || !b.noise || !b.x || !b.ts || !b.image || !b.t5_ids || !b.rgb) rc = cli_error("out of memory");
    int n_clip = 0;
    if (!rc && o.inputs) { /* ids (and noise) exactly as the file gives them */
        rc = read_ids(o.inputs, "clip_ids", clip_ids, 77, &n_clip) || read_ids(o.inputs, "t5_ids", b.t5_ids, 65536, &T);
        if (!rc && n_clip != in.clip_len) rc = cli_error("%s: clip_ids must have %d values", o.inputs, in.clip_len);
        if (!rc && fn.data) memcpy(b.noise, fn.data, sizeof(float) * lat);
    } else if (!rc) {
        int cut = 0;
        if (loam_flux_tokenize(f, o.prompt, clip_ids, b.t5_ids, T, &cut, &err)) rc = cli_error_status(&err);
        else if (cut) fprintf(stderr, "loam: warning: the prompt is longer than the text encoders take; it was truncated\n");
    }
    if (!rc && !(b.txt = malloc(sizeof(float) * (size_t)T * in.t5_dim))) rc = cli_error("out of memory");
    if (!rc && !o.quiet) fprintf(stderr, "seed %llu, %d x %d, %d steps\n", (unsigned long long)o.seed, W, H, steps);
    if (!rc) printf("seed %llu\n", (unsigned long long)o.seed);
    double t0 = cli_now();
    if (!rc && loam_flux_encode_text(f, clip_ids, b.t5_ids, T, b.pooled, b.txt, &err)) rc = cli_error_status(&err);
    if (!rc && !o.quiet) fprintf(stderr, "text encoders: %.2f s\n", cli_now() - t0);
    if (!rc) {
        if (from_file != 0) loam_flux_noise(o.seed, W, H, b.noise);
        loam_flux_pack(b.noise, 16, H / 8, W / 8, b.x);
        loam_flux_schedule(f, steps, W, H, b.ts);
        if (o.dump) memcpy(b.image, b.x, sizeof(float) * lat); /* the packed noise, kept for the dump */
        int first = 0;
        uint8_t *sized = init ? resize_nearest(init, iw, ih, W, H) : NULL;
        if (init && !sized) rc = cli_error("out of memory");
        p.init_rgb = sized, p.strength = (float)o.strength;
        if (!rc && sized && loam_flux_start_from_image(f, &p, steps, b.ts, b.x, &first, &err)) rc = cli_error_status(&err);
        if (!rc && loam_flux_denoise(f, b.x, W, H, b.txt, T, b.pooled, b.ts + first, steps - first, &p, &err)) rc = cli_error_status(&err);
        free(sized);
    }
    if (!rc) {
        float *packed_noise = o.dump ? malloc(sizeof(float) * lat) : NULL;
        if (packed_noise) memcpy(packed_noise, b.image, sizeof(float) * lat);
        loam_flux_unpack(b.x, 16, H / 8, W / 8, b.noise);
        t0 = cli_now();
        if (loam_flux_decode(f, b.noise, W, H, b.image, &err)) rc = cli_error_status(&err);
        if (!rc && !o.quiet) fprintf(stderr, "decoder: %.2f s\n", cli_now() - t0);
        if (!rc && o.dump) rc = packed_noise ? dump(o.dump, &b, packed_noise, &in, T, W, H, steps) : cli_error("out of memory");
        free(packed_noise);
    }
    if (!rc) {
        loam_flux_to_rgb8(b.image, W, H, b.rgb);
        char seed[32], st[16], g[32], ws[16], hs[16];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)o.seed), snprintf(st, sizeof st, "%d", steps);
        snprintf(g, sizeof g, "%g", in.guidance_embed ? o.guidance : 0.0), snprintf(ws, sizeof ws, "%d", W), snprintf(hs, sizeof hs, "%d", H);
        char sg[32];
        snprintf(sg, sizeof sg, "%g", o.strength);
        const char *kv[] = {"prompt", o.prompt ? o.prompt : "", "seed", seed, "steps", st, "guidance", g, "width", ws,
                            "height", hs, "model", o.model, "Software", "loam " LOAM_VERSION, "init", o.init ? o.init : "", "strength", sg};
        rc = write_png(o.out, b.rgb, W, H, kv, o.init ? 10 : 8);
        if (!rc && !o.quiet) fprintf(stderr, "wrote %s\n", o.out);
        if (!rc && o.show) show(o.out);
    }
    buffers_free(&b);
    free(fn.data), free(init);
    loam_flux_free(f);
    return rc;
}
