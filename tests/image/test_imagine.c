/* loam imagine end to end on fixtures/flux/tiny-dev: from the golden ids
 * and noise (--inputs), the dumped stages within the goldens' tolerances,
 * the PNG's pixels exactly BFL's 8-bit mapping of the program's own image,
 * within one level of the golden image's, and its text chunks; sizes and
 * bad arguments. */
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "formats/safetensors.h"
#include "loam_image.h"
#include "test.h"

typedef struct {
    int w, h;
    uint8_t *rgb;
    char text[2048];
} png_read;

static int read_png(const char *path, png_read *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        return 0;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    out->w = (int)png_get_image_width(png, info), out->h = (int)png_get_image_height(png, info);
    int ok = png_get_color_type(png, info) == PNG_COLOR_TYPE_RGB && png_get_bit_depth(png, info) == 8;
    out->rgb = malloc((size_t)out->w * out->h * 3);
    for (int y = 0; ok && y < out->h; y++) png_read_row(png, out->rgb + (size_t)y * out->w * 3, NULL);
    png_textp text;
    int n = 0;
    png_get_text(png, info, &text, &n);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(out->text);
        snprintf(out->text + len, sizeof out->text - len, "%s=%s\n", text[i].key, text[i].text);
    }
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return ok;
}

static void test_imagine_inputs(void) {
    const char *dir = fixture("flux/tiny-dev");
    char golden_path[1024], out[1024], dump[1024], cmd[4096];
    snprintf(golden_path, sizeof golden_path, "%s/golden.safetensors", dir);
    snprintf(out, sizeof out, "%s/dev.png", temp_dir());
    snprintf(dump, sizeof dump, "%s/dev.safetensors", temp_dir());
    snprintf(cmd, sizeof cmd, "%s imagine %s --inputs %s --steps 6 --guidance 3.5 --seed 7 -q -o %s --dump %s",
             LOAM_BIN, dir, golden_path, out, dump);
    char *text = NULL;
    int rc = run_capture(cmd, &text);
    CHECK(rc == 0, "%s: exit %d: %s", cmd, rc, text ? text : "");
    CHECK(text && strstr(text, "seed 7"), "the seed is not printed: %s", text ? text : "");
    free(text);
    golden g;
    CHECK(golden_open(&g, dir), "goldens of %s", dir);
    loam_st_file st;
    loam_error err;
    CHECK_OK(loam_st_open(&st, dump, &err), &err);
    const char *names[] = {"clip_pooled", "t5_hidden", "timesteps", "noise", "latent_final", "image"};
    for (int i = 0; i < 6; i++) {
        const loam_tensor *a = loam_st_find(&st, names[i]), *b = golden_tensor(&g, names[i]);
        CHECK(a && b && loam_tensor_nelements(a) == loam_tensor_nelements(b), "dump %s: missing or a different size", names[i]);
        if (!a || !b || loam_tensor_nelements(a) != loam_tensor_nelements(b)) continue;
        double d = max_abs_diff(a->data, b->data, (size_t)loam_tensor_nelements(a)), tol = golden_tol(&g, names[i]);
        printf("    dump %s: max |diff| %.3g (tolerance %.3g)\n", names[i], d, tol);
        CHECK(d <= tol, "dump %s: %g over %g", names[i], d, tol);
    }
    png_read p;
    CHECK(read_png(out, &p), "%s is not an 8-bit RGB PNG", out);
    CHECK(p.w == 64 && p.h == 64, "PNG is %d x %d", p.w, p.h);
    const loam_tensor *img = loam_st_find(&st, "image"), *gimg = golden_tensor(&g, "image");
    if (p.rgb && img && gimg && p.w == 64 && p.h == 64) {
        uint8_t *mine = malloc(64 * 64 * 3), *ref = malloc(64 * 64 * 3);
        loam_flux_to_rgb8(img->data, 64, 64, mine);
        loam_flux_to_rgb8(gimg->data, 64, 64, ref);
        int worst = 0;
        for (int i = 0; i < 64 * 64 * 3; i++) worst = abs(p.rgb[i] - ref[i]) > worst ? abs(p.rgb[i] - ref[i]) : worst;
        CHECK(memcmp(mine, p.rgb, 64 * 64 * 3) == 0, "the PNG's pixels are not the dumped image's");
        CHECK(worst <= 1, "the PNG differs from the golden image by %d levels", worst);
        /* BFL's mapping: clamp, (x + 1) · 127.5, truncate ([3, 2, 2]: R of the four pixels, then G, then B) */
        float probe[3 * 4] = {-2.0f, -1.0f, 0.0f, 1.0f, 0.5f, 0.999f, 2.0f, -0.5f, 0.2f, 0.3f, 0.4f, 0.6f};
        uint8_t b8[12];
        loam_flux_to_rgb8(probe, 2, 2, b8);
        CHECK(b8[0] == 0 && b8[3] == 0 && b8[6] == 127 && b8[9] == 255 && b8[1] == 191 && b8[4] == 254, "8-bit mapping: %d %d %d %d %d", b8[0], b8[3],
              b8[6], b8[9], b8[1]);
        free(mine), free(ref);
    }
    CHECK(strstr(p.text, "seed=7\n") && strstr(p.text, "steps=6\n") && strstr(p.text, "guidance=3.5\n") && strstr(p.text, "width=64\n"),
          "PNG text chunks: %s", p.text);
    free(p.rgb);
    loam_st_close(&st);
    golden_close(&g);
}

/* The same seed makes the same PNG; sizes round down to 16 with a warning;
 * bad arguments are clear errors. */
static void test_imagine_args(void) {
    const char *dir = fixture("flux/tiny-schnell");
    char golden_path[1024], a[1024], b[1024], cmd[4096];
    snprintf(golden_path, sizeof golden_path, "%s/golden.safetensors", dir);
    snprintf(a, sizeof a, "%s/a.png", temp_dir()), snprintf(b, sizeof b, "%s/b.png", temp_dir());
    char *text = NULL;
    /* ids from the file, noise from the seed (the file's noise is for 64 x 64; this is 40 -> 32) */
    snprintf(cmd, sizeof cmd, "%s imagine %s --inputs %s --width 40 --height 48 --seed 11 -o %s 2>&1", LOAM_BIN, dir, golden_path, a);
    int rc = run_capture(cmd, &text);
    CHECK(rc != 0 && text && strstr(text, "the noise is for a 64 x 64 image"), "a file's noise of another size is refused: %d %s", rc, text ? text : "");
    free(text), text = NULL;
    const char *tmp = temp_dir();
    char ids[1024];
    snprintf(ids, sizeof ids, "%s/ids.safetensors", tmp);
    loam_named_tensor c, t;
    loam_error err;
    CHECK_OK(loam_read_safetensors(golden_path, "clip_ids", &c, &err), &err);
    CHECK_OK(loam_read_safetensors(golden_path, "t5_ids", &t, &err), &err);
    c.name = "clip_ids", t.name = "t5_ids";
    loam_named_tensor both[2] = {c, t};
    CHECK_OK(loam_write_safetensors(ids, both, 2, &err), &err);
    free((void *)c.data), free((void *)t.data);
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "%s imagine %s --inputs %s --width 40 --height 48 --seed 11 -o %s 2>&1", LOAM_BIN, dir, ids, i ? b : a);
        rc = run_capture(cmd, &text);
        CHECK(rc == 0, "%s: %s", cmd, text ? text : "");
        if (i == 0) CHECK(text && strstr(text, "rounded down to 32 x 48"), "no warning for 40 x 48: %s", text ? text : "");
        free(text), text = NULL;
    }
    png_read pa, pb;
    CHECK(read_png(a, &pa) && read_png(b, &pb), "PNGs not written");
    CHECK(pa.w == 32 && pa.h == 48, "%d x %d, want 32 x 48", pa.w, pa.h);
    CHECK(pa.rgb && pb.rgb && pa.w == pb.w && pa.h == pb.h && !memcmp(pa.rgb, pb.rgb, (size_t)pa.w * pa.h * 3), "the same seed made another image");
    /* tiled decoding: 512-pixel tiles hold this image whole (the same PNG);
     * 32-pixel ones (4 latent pixels) tile its 6 latent rows (another PNG) */
    const char *tiling[] = {"--vae-tiling", "--vae-tile-size 32"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "%s imagine %s --inputs %s --width 32 --height 48 --seed 11 %s -o %s 2>&1", LOAM_BIN, dir, ids, tiling[i], b);
        rc = run_capture(cmd, &text);
        CHECK(rc == 0, "%s: %s", cmd, text ? text : "");
        free(text), text = NULL;
        free(pb.rgb);
        CHECK(read_png(b, &pb) && pb.w == 32 && pb.h == 48, "%s: no 32 x 48 PNG", tiling[i]);
        int same = pa.rgb && pb.rgb && pb.w == pa.w && pb.h == pa.h && !memcmp(pa.rgb, pb.rgb, (size_t)pa.w * pa.h * 3);
        CHECK(i == 0 ? same : !same, "%s: %s image", tiling[i], same ? "the same" : "another");
    }
    free(pa.rgb), free(pb.rgb);
    const char *bad[][2] = {{"--width 8", "below the smallest"}, {"--steps 0", "--steps"}, {"--seed -1", "--seed"}, {"--bogus", "unknown option"},
                            {"--vae-tile-size -5", "--vae-tile-size"}};
    for (int i = 0; i < 5; i++) {
        snprintf(cmd, sizeof cmd, "%s imagine %s --inputs %s %s -o %s 2>&1", LOAM_BIN, dir, ids, bad[i][0], a);
        rc = run_capture(cmd, &text);
        CHECK(rc != 0 && text && strstr(text, bad[i][1]), "%s: exit %d, %s", bad[i][0], rc, text ? text : "");
        free(text), text = NULL;
    }
    snprintf(cmd, sizeof cmd, "%s imagine %s/text_encoder \"x\" -o %s 2>&1", LOAM_BIN, dir, a);
    rc = run_capture(cmd, &text);
    CHECK(rc != 0 && text && strstr(text, "flux1-"), "a folder without the transformer: exit %d, %s", rc, text ? text : "");
    free(text);
}

/* loam bench on a FLUX.1 folder times every stage */
static void test_bench_folder(void) {
    char cmd[2048], *text = NULL;
    snprintf(cmd, sizeof cmd, "%s bench %s --size 64 --size 32 -t 2 2>&1", LOAM_BIN, fixture("flux/tiny-schnell"));
    int rc = run_capture(cmd, &text);
    int ok = rc == 0 && text && strstr(text, "flux text encoders (CLIP-L 77 + T5") && strstr(text, "flux   64 x 64   (16 image tokens): step ") &&
             strstr(text, "flux   32 x 32   (4 image tokens): step ") && strstr(text, "decoder ");
    CHECK(ok, "%s: exit %d\n%s", cmd, rc, text ? text : "");
    free(text);
}

static void test_imagine_prompt(void);
static void test_imagine_gguf(void);
static void test_imagine_bad_folders(void);
static void test_imagine_init(void);
static void test_imagine_t5_gguf(void);
static void test_imagine_diffusers(void);

void register_imagine_tests(void) {
    test_add("imagine: diffusers' transformer folder (split q/k/v, its final modulation order) within the goldens", test_imagine_diffusers);
    test_add("imagine: T5 as a GGUF of loam quantize (llama.cpp's t5encoder names; F16 within the goldens, Q8_0 within its bound)",
             test_imagine_t5_gguf);
    test_add("imagine: image-to-image (strength 1 = text-to-image, 0.5 another image, the same each run; the encoder; a bad --init)", test_imagine_init);
    test_add("imagine: the transformer as a GGUF of loam quantize (F16, BF16 within the goldens, Q8_0 within its bound)", test_imagine_gguf);
    test_add("imagine: a missing component, a VAE of other latent channels: clear errors", test_imagine_bad_folders);
    test_add("imagine: a prompt through the real CLIP and T5 tokenizers to a PNG", test_imagine_prompt);
    test_add("imagine: --inputs of tiny-dev: dumped stages within the goldens, PNG pixels and text chunks", test_imagine_inputs);
    test_add("bench: a FLUX.1 folder's text encoders, step and decoder at each size", test_bench_folder);
    test_add("imagine: same seed, same PNG; sizes rounded to 16; bad arguments and folders refused", test_imagine_args);
}

/* A prompt through the real tokenizers, the whole pipeline to a PNG. */
static void test_imagine_prompt(void) {
    const char *dir = flux_prompt_copy();
    CHECK(dir, "could not make the prompt-taking copy of tiny-schnell");
    if (!dir) return;
    char out[1024], cmd[4096], *text = NULL;
    snprintf(out, sizeof out, "%s/prompt.png", temp_dir());
    snprintf(cmd, sizeof cmd, "%s imagine %s \"a red apple on a wooden table\" --width 64 --height 32 --seed 3 -o %s 2>&1", LOAM_BIN, dir, out);
    int rc = run_capture(cmd, &text);
    CHECK(rc == 0 && text && strstr(text, "step 4/4") && strstr(text, "seed 3"), "%s: exit %d: %s", cmd, rc, text ? text : "");
    free(text);
    png_read p;
    CHECK(read_png(out, &p) && p.w == 64 && p.h == 32, "%s: not a 64 x 32 PNG", out);
    CHECK(strstr(p.text, "prompt=a red apple on a wooden table\n") && strstr(p.text, "steps=4\n"), "text chunks: %s", p.text);
    free(p.rgb);
}

/* max |dump − golden| of one tensor (−1 if either is missing) */
static double dump_diff(const char *dump, const golden *g, const char *name) {
    loam_st_file st;
    loam_error err;
    if (loam_st_open(&st, dump, &err)) return -1;
    const loam_tensor *a = loam_st_find(&st, name), *b = golden_tensor(g, name);
    double d = a && b && loam_tensor_nelements(a) == loam_tensor_nelements(b) ? max_abs_diff(a->data, b->data, (size_t)loam_tensor_nelements(a)) : -1;
    loam_st_close(&st);
    return d;
}

/* The transformer as a GGUF from loam quantize: F16 and BF16 within the
 * goldens' tolerances (the tiny models' BF16 weights are exact in both),
 * Q8_0 (int8 activations) within a stated bound: latent_final 0.15 and
 * image 0.05 (measured 0.064 / 0.015 on these fixtures). */
static void test_imagine_gguf(void) {
    const char *cases[] = {"tiny-schnell", "tiny-dev"}, *types[] = {"f16", "bf16", "q8_0"};
    for (int c = 0; c < 2; c++) {
        char dir[1024], in[1100], gg[1100], dump[1100], png[1100], cmd[8192], *text = NULL;
        snprintf(dir, sizeof dir, "%s", fixture(c ? "flux/tiny-dev" : "flux/tiny-schnell"));
        snprintf(in, sizeof in, "%s/%s", dir, c ? "flux1-dev.safetensors" : "flux1-schnell.safetensors");
        golden g;
        CHECK(golden_open(&g, dir), "goldens of %s", dir);
        int steps = g.ok ? (int)cJSON_GetNumberValue(cJSON_GetObjectItem(g.json, "num_steps")) : 0;
        for (int t = 0; g.ok && t < 3; t++) {
            snprintf(gg, sizeof gg, "%s/%s-%s.gguf", temp_dir(), cases[c], types[t]);
            snprintf(dump, sizeof dump, "%s/%s-%s.safetensors", temp_dir(), cases[c], types[t]);
            snprintf(png, sizeof png, "%s/%s-%s.png", temp_dir(), cases[c], types[t]);
            snprintf(cmd, sizeof cmd, "%s quantize %s %s --type %s >/dev/null 2>&1 && %s imagine %s --inputs %s/golden.safetensors --steps %d "
                     "--transformer %s -q -o %s --dump %s 2>&1", LOAM_BIN, in, gg, types[t], LOAM_BIN, dir, dir, steps, gg, png, dump);
            int rc = run_capture(cmd, &text);
            CHECK(rc == 0, "%s: %s", cmd, text ? text : "");
            free(text), text = NULL;
            double dl = dump_diff(dump, &g, "latent_final"), di = dump_diff(dump, &g, "image");
            double tl = t < 2 ? golden_tol(&g, "latent_final") : 0.15, ti = t < 2 ? golden_tol(&g, "image") : 0.05;
            printf("    %s %s GGUF: latent_final %.3g (bound %.3g), image %.3g (bound %.3g)\n", cases[c], types[t], dl, tl, di, ti);
            CHECK(dl >= 0 && di >= 0 && dl <= tl && di <= ti, "%s %s: latent_final %g / %g, image %g / %g", cases[c], types[t], dl, tl, di, ti);
        }
        golden_close(&g);
    }
}

/* A folder missing a component, a VAE whose latent channels are not the
 * transformer's: clear errors naming the file. */
static void test_imagine_bad_folders(void) {
    const char *from = fixture("flux/tiny-schnell");
    char dir[1024], cmd[8192], *text = NULL;
    snprintf(dir, sizeof dir, "%s/flux-bad", temp_dir());
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp -r %s/* %s/ && chmod -R u+w %s && rm %s/ae.safetensors", dir, from, dir, dir, dir);
    CHECK(run_capture(cmd, &text) == 0, "copy: %s", text ? text : "");
    free(text), text = NULL;
    snprintf(cmd, sizeof cmd, "%s imagine %s --inputs %s/golden.safetensors -q -o %s/x.png 2>&1", LOAM_BIN, dir, from, dir);
    int rc = run_capture(cmd, &text);
    CHECK(rc != 0 && text && strstr(text, "ae.safetensors"), "no ae.safetensors: exit %d, %s", rc, text ? text : "");
    free(text), text = NULL;
    snprintf(cmd, sizeof cmd, "cp %s/ae.safetensors %s/ && sed -i 's/\"latent_channels\": *16/\"latent_channels\": 8/' %s/vae/config.json", from, dir, dir);
    CHECK(run_capture(cmd, &text) == 0, "edit: %s", text ? text : "");
    free(text), text = NULL;
    snprintf(cmd, sizeof cmd, "%s imagine %s --inputs %s/golden.safetensors -q -o %s/x.png 2>&1", LOAM_BIN, dir, from, dir);
    rc = run_capture(cmd, &text);
    CHECK(rc != 0 && text && strstr(text, "latent channels"), "8 latent channels: exit %d, %s", rc, text ? text : "");
    free(text);
}

/* Image-to-image: strength 1 redraws everything (the text-to-image pixels
 * of the same noise), a lower strength starts from the init image's latent
 * (another image, the same each run); the encoder gives a finite latent of
 * the right size; a file that is not a PNG is refused. */
static void test_imagine_init(void) {
    const char *dir = fixture("flux/tiny-schnell");
    char base[1100], s1[1100], half[1100], half2[1100], cmd[8192], *text = NULL;
    snprintf(base, sizeof base, "%s/i2i-base.png", temp_dir()), snprintf(s1, sizeof s1, "%s/i2i-1.png", temp_dir());
    snprintf(half, sizeof half, "%s/i2i-half.png", temp_dir()), snprintf(half2, sizeof half2, "%s/i2i-half2.png", temp_dir());
    const char *runs[][2] = {{base, ""}, {s1, "--init BASE --strength 1"}, {half, "--init BASE --strength 0.5"}, {half2, "--init BASE --strength 0.5"}};
    for (int i = 0; i < 4; i++) {
        char extra[1300];
        snprintf(extra, sizeof extra, "%s", runs[i][1]);
        char *at = strstr(extra, "BASE");
        if (at) snprintf(at, sizeof extra - (size_t)(at - extra), "%s %s", base, strstr(runs[i][1], "BASE") + 5);
        snprintf(cmd, sizeof cmd, "%s imagine %s --inputs %s/golden.safetensors %s -q -o %s 2>&1", LOAM_BIN, dir, dir, extra, runs[i][0]);
        int rc = run_capture(cmd, &text);
        CHECK(rc == 0, "%s: %s", cmd, text ? text : "");
        free(text), text = NULL;
    }
    png_read a, b, c, d;
    int ok = read_png(base, &a) & read_png(s1, &b) & read_png(half, &c) & read_png(half2, &d);
    CHECK(ok && a.w == 64 && b.w == 64 && c.w == 64, "PNGs not written");
    if (ok) {
        size_t n = 64 * 64 * 3;
        CHECK(!memcmp(a.rgb, b.rgb, n), "strength 1 is not the text-to-image result");
        CHECK(memcmp(a.rgb, c.rgb, n) != 0, "strength 0.5 gave the text-to-image result");
        CHECK(!memcmp(c.rgb, d.rgb, n), "strength 0.5 gave another image on a second run");
        CHECK(strstr(c.text, "strength=0.5\n") != NULL, "text chunks: %s", c.text);
    }
    free(a.rgb), free(b.rgb), free(c.rgb), free(d.rgb);
    /* the encoder through the library */
    loam_flux *f = NULL;
    loam_error err;
    CHECK_OK(loam_flux_open(dir, NULL, &f, &err), &err);
    if (f) {
        float *img = malloc(sizeof(float) * 3 * 32 * 48), *z = malloc(sizeof(float) * 16 * 4 * 6);
        for (int i = 0; i < 3 * 32 * 48; i++) img[i] = (float)((i * 37) % 200) / 100.0f - 1.0f;
        CHECK_OK(loam_flux_encode_image(f, img, 48, 32, z, &err), &err);
        int finite = 1, varied = 0;
        for (int i = 0; i < 16 * 4 * 6; i++) finite &= isfinite(z[i]), varied |= z[i] != z[0];
        CHECK(finite && varied, "the encoder's latent is not finite or is constant");
        free(img), free(z);
        loam_flux_free(f);
    }
    snprintf(cmd, sizeof cmd, "%s imagine %s --inputs %s/golden.safetensors --init %s/golden.json -q -o %s 2>&1", LOAM_BIN, dir, dir, dir, half);
    int rc = run_capture(cmd, &text);
    CHECK(rc != 0 && text && strstr(text, "not a PNG"), "a JSON file as --init: %d %s", rc, text ? text : "");
    free(text);
}

/* T5 as a GGUF (loam quantize of text_encoder_2/, llama.cpp's t5encoder
 * names): F16 within the goldens; Q8_0 within t5_hidden 0.2, latent_final
 * 0.15, image 0.05 (measured 0.076 / 0.012 / 0.003 on tiny-dev). */
static void test_imagine_t5_gguf(void) {
    const char *dir = fixture("flux/tiny-dev"), *types[] = {"f16", "q8_0"};
    golden g;
    CHECK(golden_open(&g, dir), "goldens of %s", dir);
    for (int t = 0; g.ok && t < 2; t++) {
        char gg[1100], dump[1100], png[1100], cmd[8192], *text = NULL;
        snprintf(gg, sizeof gg, "%s/t5-%s.gguf", temp_dir(), types[t]);
        snprintf(dump, sizeof dump, "%s/t5-%s.safetensors", temp_dir(), types[t]);
        snprintf(png, sizeof png, "%s/t5-%s.png", temp_dir(), types[t]);
        snprintf(cmd, sizeof cmd, "%s quantize %s/text_encoder_2 %s --type %s >/dev/null 2>&1 && %s imagine %s --inputs %s/golden.safetensors "
                 "--steps 6 --t5 %s -q -o %s --dump %s 2>&1", LOAM_BIN, dir, gg, types[t], LOAM_BIN, dir, dir, gg, png, dump);
        int rc = run_capture(cmd, &text);
        CHECK(rc == 0, "%s: %s", cmd, text ? text : "");
        free(text);
        const char *names[] = {"t5_hidden", "latent_final", "image"};
        const double q8[] = {0.2, 0.15, 0.05};
        for (int k = 0; k < 3; k++) {
            double d = dump_diff(dump, &g, names[k]), tol = t == 0 ? golden_tol(&g, names[k]) : q8[k];
            printf("    T5 %s GGUF: %s %.3g (bound %.3g)\n", types[t], names[k], d, tol);
            CHECK(d >= 0 && d <= tol, "T5 %s: %s %g over %g", types[t], names[k], d, tol);
        }
    }
    golden_close(&g);
}

/* ---- diffusers' copy of the transformer, made from the BFL file */

typedef struct {
    loam_named_tensor t[512];
    char names[512][112];
    void *owned[64];
    int n, n_owned;
} dtensors;

static void dput(dtensors *d, const char *name, const loam_tensor *src, int64_t row0, int64_t rows) {
    if (d->n >= 512) return;
    snprintf(d->names[d->n], sizeof d->names[0], "%s", name);
    loam_named_tensor *t = &d->t[d->n++];
    int64_t cols = src->n_dims == 2 ? src->shape[1] : 1;
    size_t es = loam_type_size(src->type);
    *t = (loam_named_tensor){d->names[d->n - 1], (loam_dtype)src->type, src->n_dims, {rows, cols}, (const uint8_t *)src->data + (size_t)(row0 * cols) * es};
    if (src->n_dims == 1) t->shape[1] = 0;
}

/* BFL name -> diffusers', with fused q|k|v(|mlp) split and the final (shift, scale) swapped */
static int to_diffusers(const char *bfl_path, const char *out_path, int H, int M) {
    loam_st_file f;
    loam_error err;
    if (loam_st_open(&f, bfl_path, &err)) return 0;
    dtensors *d = calloc(1, sizeof *d);
    char n[160];
    int i;
    for (int k = 0; k < f.n_tensors; k++) {
        const loam_tensor *t = &f.tensors[k];
        const char *nm = t->name, *suf = strrchr(nm, '.') + 1; /* weight, bias, scale */
        static const char *const simple[][2] = {{"img_in", "x_embedder"}, {"txt_in", "context_embedder"},
            {"time_in.in_layer", "time_text_embed.timestep_embedder.linear_1"}, {"time_in.out_layer", "time_text_embed.timestep_embedder.linear_2"},
            {"guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1"}, {"guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2"},
            {"vector_in.in_layer", "time_text_embed.text_embedder.linear_1"}, {"vector_in.out_layer", "time_text_embed.text_embedder.linear_2"},
            {"final_layer.linear", "proj_out"}};
        int done = 0;
        for (size_t s = 0; s < sizeof simple / sizeof *simple && !done; s++)
            if (!strncmp(nm, simple[s][0], strlen(simple[s][0])) && nm[strlen(simple[s][0])] == '.')
                snprintf(n, sizeof n, "%s.%s", simple[s][1], suf), dput(d, n, t, 0, t->shape[0]), done = 1;
        if (done) continue;
        if (!strncmp(nm, "final_layer.adaLN_modulation.1.", 31)) { /* rows [shift; scale] -> [scale; shift] */
            size_t es = loam_type_size(t->type), cols = t->n_dims == 2 ? (size_t)t->shape[1] : 1, half = (size_t)H * cols * es;
            uint8_t *sw = malloc(2 * half);
            memcpy(sw, (const uint8_t *)t->data + half, half), memcpy(sw + half, t->data, half);
            d->owned[d->n_owned++] = sw;
            snprintf(n, sizeof n, "norm_out.linear.%s", suf), dput(d, n, t, 0, t->shape[0]);
            d->t[d->n - 1].data = sw;
            continue;
        }
        char which[8], part[96];
        if (sscanf(nm, "double_blocks.%d.%3[a-z]_%95s", &i, which, part) == 3) {
            int img = !strcmp(which, "img");
            const char *tb = "transformer_blocks";
            if (!strncmp(part, "attn.qkv.", 9)) {
                const char *q[] = {"to_q", "to_k", "to_v"}, *a[] = {"add_q_proj", "add_k_proj", "add_v_proj"};
                for (int p = 0; p < 3; p++) snprintf(n, sizeof n, "%s.%d.attn.%s.%s", tb, i, img ? q[p] : a[p], suf), dput(d, n, t, (int64_t)p * H, H);
                continue;
            }
            const char *map = !strncmp(part, "mod.lin.", 8) ? (img ? "norm1.linear" : "norm1_context.linear")
                            : !strncmp(part, "attn.proj.", 10) ? (img ? "attn.to_out.0" : "attn.to_add_out")
                            : !strncmp(part, "mlp.0.", 6) ? (img ? "ff.net.0.proj" : "ff_context.net.0.proj")
                            : !strncmp(part, "mlp.2.", 6) ? (img ? "ff.net.2" : "ff_context.net.2")
                            : !strncmp(part, "attn.norm.query_norm", 20) ? (img ? "attn.norm_q" : "attn.norm_added_q")
                            : !strncmp(part, "attn.norm.key_norm", 18) ? (img ? "attn.norm_k" : "attn.norm_added_k") : NULL;
            if (!map) continue;
            snprintf(n, sizeof n, "%s.%d.%s.%s", tb, i, map, !strcmp(suf, "scale") ? "weight" : suf), dput(d, n, t, 0, t->shape[0]);
            continue;
        }
        if (sscanf(nm, "single_blocks.%d.%95s", &i, part) == 2) {
            const char *sb = "single_transformer_blocks";
            if (!strncmp(part, "linear1.", 8)) {
                const char *q[] = {"attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"};
                for (int p = 0; p < 4; p++) snprintf(n, sizeof n, "%s.%d.%s.%s", sb, i, q[p], suf), dput(d, n, t, (int64_t)p * H, p < 3 ? H : M);
                continue;
            }
            const char *map = !strncmp(part, "linear2.", 8) ? "proj_out" : !strncmp(part, "modulation.lin.", 15) ? "norm.linear"
                            : !strncmp(part, "norm.query_norm", 15) ? "attn.norm_q" : !strncmp(part, "norm.key_norm", 13) ? "attn.norm_k" : NULL;
            if (map) snprintf(n, sizeof n, "%s.%d.%s.%s", sb, i, map, !strcmp(suf, "scale") ? "weight" : suf), dput(d, n, t, 0, t->shape[0]);
        }
    }
    int ok = loam_write_safetensors(out_path, d->t, d->n, &err) == LOAM_OK;
    for (int k = 0; k < d->n_owned; k++) free(d->owned[k]);
    free(d);
    loam_st_close(&f);
    return ok;
}

/* diffusers' transformer folder (split q/k/v, (scale, shift) final modulation)
 * gives the BFL file's results: within the goldens of tiny-dev */
static void test_imagine_diffusers(void) {
    const char *from = fixture("flux/tiny-dev");
    char dir[1024], cmd[8192], path[1200], bfl[1200], dump[1200], *text = NULL;
    snprintf(dir, sizeof dir, "%s/flux-diffusers", temp_dir());
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp -r %s/* %s/ && chmod -R u+w %s && rm %s/flux1-dev.safetensors", dir, from, dir, dir, dir);
    CHECK(run_capture(cmd, &text) == 0, "copy: %s", text ? text : "");
    free(text), text = NULL;
    snprintf(bfl, sizeof bfl, "%s/flux1-dev.safetensors", from);
    snprintf(path, sizeof path, "%s/transformer/diffusion_pytorch_model.safetensors", dir);
    CHECK(to_diffusers(bfl, path, 64, 256), "could not write the diffusers copy");
    snprintf(dump, sizeof dump, "%s/diffusers.safetensors", temp_dir());
    snprintf(cmd, sizeof cmd, "%s imagine %s --inputs %s/golden.safetensors --steps 6 -q -o %s/x.png --dump %s 2>&1", LOAM_BIN, dir, from, dir, dump);
    int rc = run_capture(cmd, &text);
    CHECK(rc == 0, "%s: %s", cmd, text ? text : "");
    free(text);
    golden g;
    CHECK(golden_open(&g, from), "goldens");
    const char *names[] = {"latent_final", "image"};
    for (int k = 0; g.ok && k < 2; k++) {
        double d = dump_diff(dump, &g, names[k]), tol = golden_tol(&g, names[k]);
        printf("    diffusers transformer: %s %.3g (tolerance %.3g)\n", names[k], d, tol);
        CHECK(d >= 0 && d <= tol, "diffusers transformer: %s %g over %g", names[k], d, tol);
    }
    golden_close(&g);
}
