/* loam serve's image route with a FLUX.1 model (tiny-schnell taking
 * prompts): POST /v1/images/generations through curl gives the pixels of
 * `loam imagine` with the same prompt, seed, size and steps; the official
 * openai npm package's images.generate (n = 2); the route's errors in
 * OpenAI's shape. */
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "test.h"


static uint8_t *unbase64(const char *s, size_t *n) {
    size_t len = strlen(s);
    uint8_t *out = malloc(len / 4 * 3 + 3);
    uint32_t acc = 0;
    int bits = 0;
    *n = 0;
    for (size_t i = 0; out && i < len && s[i] != '='; i++) {
        const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", *p = strchr(tab, s[i]);
        if (!p) continue;
        acc = acc << 6 | (uint32_t)(p - tab), bits += 6;
        if (bits >= 8) out[(*n)++] = (uint8_t)(acc >> (bits - 8)), bits -= 8;
    }
    return out;
}

/* RGB pixels of a PNG file (w × h × 3), NULL if it is not one */
static uint8_t *png_pixels(const char *path, int *w, int *h) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) return NULL;
    img.format = PNG_FORMAT_RGB;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    if (px && !png_image_finish_read(&img, NULL, px, 0, NULL)) free(px), px = NULL;
    *w = (int)img.width, *h = (int)img.height;
    return px;
}

static void test_image_route(void) {
    const char *model = flux_prompt_copy();
    CHECK(model, "no prompt-taking FLUX copy");
    if (!model) return;
    char args[4096], cli_png[1100], srv_png[1100], cmd[4096], *out = NULL;
    snprintf(cli_png, sizeof cli_png, "%s/cli.png", temp_dir()), snprintf(srv_png, sizeof srv_png, "%s/srv.png", temp_dir());
    snprintf(cmd, sizeof cmd, "%s imagine %s \"a lighthouse at dusk\" --width 64 --height 48 --seed 5 --steps 2 -q -o %s 2>&1", LOAM_BIN, model, cli_png);
    int rc = run_capture(cmd, &out);
    CHECK(rc == 0, "%s: %s", cmd, out ? out : "");
    free(out), out = NULL;
    test_server s;
    snprintf(args, sizeof args, "--model flux=%s --model stories=%s -t 2", model, fixture("llm/stories260k"));
    CHECK(server_start(&s, args), "no server");
    int st = server_curl(&s, "", "/v1/models", &out);
    int ok = st == 200 && out && strstr(out, "\"id\":\"flux\"") && strstr(out, "\"id\":\"stories\"");
    free(out), out = NULL;
    CHECK(ok, "/v1/models lists the image model beside the text model");
    const char *req = "{\"model\":\"flux\",\"prompt\":\"a lighthouse at dusk\",\"size\":\"64x48\",\"seed\":5,\"steps\":2,\"response_format\":\"b64_json\"}";
    st = server_post(&s, "/v1/images/generations", req, strlen(req), &out);
    cJSON *j = st == 200 && out ? cJSON_Parse(out) : NULL;
    const char *b64 = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0), "b64_json"));
    CHECK(b64, "image route: status %d, %.300s", st, out ? out : "");
    if (b64) {
        size_t n;
        uint8_t *png = unbase64(b64, &n);
        FILE *f = fopen(srv_png, "wb");
        if (f) fwrite(png, 1, n, f), fclose(f);
        free(png);
        int w1 = 0, h1 = 0, w2 = 0, h2 = 0;
        uint8_t *a = png_pixels(cli_png, &w1, &h1), *b = png_pixels(srv_png, &w2, &h2);
        CHECK(a && b && w1 == 64 && h1 == 48 && w2 == 64 && h2 == 48 && !memcmp(a, b, 64 * 48 * 3),
              "the server's image (%d x %d) differs from loam imagine's (%d x %d)", w2, h2, w1, h1);
        free(a), free(b);
    }
    cJSON_Delete(j), free(out), out = NULL;
    /* errors: 400 naming the field, 404 for the model, never 500 */
    const char *bad[][3] = {{"{\"model\":\"flux\"}", "400", "prompt"},
                            {"{\"model\":\"flux\",\"prompt\":\"x\",\"size\":\"100x100\"}", "400", "size"},
                            {"{\"model\":\"flux\",\"prompt\":\"x\",\"response_format\":\"url\"}", "400", "response_format"},
                            {"{\"model\":\"flux\",\"prompt\":\"x\",\"n\":9}", "400", "\"n\""},
                            {"{\"model\":\"nope\",\"prompt\":\"x\"}", "404", "model"}};
    for (int i = 0; i < 5; i++) {
        st = server_post(&s, "/v1/images/generations", bad[i][0], strlen(bad[i][0]), &out);
        CHECK(st == atoi(bad[i][1]) && out && strstr(out, bad[i][2]) && strstr(out, "\"error\""), "%s: %d %s", bad[i][0], st, out ? out : "");
        free(out), out = NULL;
    }
    /* the official openai package: n = 2 images of the asked size, an unknown model */
    snprintf(cmd, sizeof cmd, "openai_images.mjs http://127.0.0.1:%d/v1", s.port);
    rc = npm_run(cmd, &out);
    server_stop(&s);
    j = rc == 0 && out ? cJSON_Parse(out) : NULL;
    const cJSON *imgs = cJSON_GetObjectItem(j, "images"), *e = cJSON_GetObjectItem(j, "error");
    ok = cJSON_GetArraySize(imgs) == 2 && cJSON_GetNumberValue(cJSON_GetObjectItem(e, "status")) == 404;
    for (int i = 0; ok && i < 2; i++) {
        const cJSON *im = cJSON_GetArrayItem(imgs, i);
        ok = !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(im, "signature")), "PNG") &&
             cJSON_GetNumberValue(cJSON_GetObjectItem(im, "width")) == 64 && cJSON_GetNumberValue(cJSON_GetObjectItem(im, "height")) == 64 &&
             cJSON_GetNumberValue(cJSON_GetObjectItem(im, "seed")) == 5 + i;
    }
    CHECK(ok, "openai images client (%d; npm log in %s): %s", rc, NPM_DIR, out ? out : "");
    cJSON_Delete(j), free(out);
}

void register_server_image_tests(void) {
    test_add("serve: /v1/images/generations equals loam imagine (curl), the openai npm package's images.generate, the route's errors",
             test_image_route);
}
