/* POST /v1/images/generations: OpenAI's image route on FLUX.1 (prompt,
 * model, n, size, response_format b64_json; seed, steps and guidance as
 * extensions). One image at a time per model, a bounded queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"

srv_image *srv_find_image(srv_server *s, const char *name) {
    for (int i = 0; i < s->n_image; i++)
        if (!name || !name[0] || !strcmp(s->image[i].name, name)) return &s->image[i];
    return NULL;
}

static char *base64(const uint8_t *data, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    for (size_t i = 0; out && i < n; i += 3, o += 4) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < n ? (uint32_t)data[i + 1] << 8 : 0) | (i + 2 < n ? data[i + 2] : 0);
        o[0] = tab[v >> 18], o[1] = tab[(v >> 12) & 63];
        o[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=', o[3] = i + 2 < n ? tab[v & 63] : '=';
    }
    if (out) *o = 0;
    return out;
}

typedef struct {
    const char *prompt, *model;
    int n, width, height;
    loam_flux_params p;
} image_request;

/* An integer field in [lo, hi], or the default; 0 after a 400. */
static int int_field(const cJSON *body, const char *key, long lo, long hi, long dflt, long *out, srv_reply *r) {
    const cJSON *v = cJSON_GetObjectItem(body, key);
    *out = dflt;
    if (!v || cJSON_IsNull(v)) return 1;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long)v->valuedouble || v->valuedouble < lo || v->valuedouble > hi)
        return srv_error(r, 400, key, "invalid_value", "%s must be an integer from %ld to %ld", key, lo, hi), 0;
    *out = (long)v->valuedouble;
    return 1;
}

static int parse(const srv_image *im, const cJSON *body, image_request *q, srv_reply *r) {
    const cJSON *prompt = cJSON_GetObjectItem(body, "prompt"), *size = cJSON_GetObjectItem(body, "size");
    const cJSON *fmt = cJSON_GetObjectItem(body, "response_format"), *g = cJSON_GetObjectItem(body, "guidance");
    if (!cJSON_IsString(prompt) || !prompt->valuestring[0])
        return srv_error(r, 400, "prompt", "missing_required_parameter", "prompt must be a non-empty string"), 0;
    q->prompt = prompt->valuestring;
    q->p = loam_flux_default_params(im->f);
    long n, steps, seed;
    if (!int_field(body, "n", 1, 4, 1, &n, r) || !int_field(body, "steps", 1, 100, q->p.steps, &steps, r) ||
        !int_field(body, "seed", 0, 2147483647L, (long)time(NULL), &seed, r))
        return 0;
    q->n = (int)n, q->p.steps = (int)steps, q->p.seed = (uint64_t)seed;
    q->width = q->height = 1024;
    if (size && !cJSON_IsNull(size)) {
        char extra;
        if (!cJSON_IsString(size) || sscanf(size->valuestring, "%dx%d%c", &q->width, &q->height, &extra) != 2 || q->width < 16 ||
            q->height < 16 || q->width > 2048 || q->height > 2048 || q->width % 16 || q->height % 16)
            return srv_error(r, 400, "size", "invalid_value", "size must be WIDTHxHEIGHT, multiples of 16 from 16 to 2048"), 0;
    }
    if (fmt && !cJSON_IsNull(fmt) && (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "b64_json")))
        return srv_error(r, 400, "response_format", "invalid_value", "response_format must be b64_json (loam keeps no image URLs)"), 0;
    if (g && !cJSON_IsNull(g)) {
        if (!cJSON_IsNumber(g) || g->valuedouble < 0 || g->valuedouble > 100)
            return srv_error(r, 400, "guidance", "invalid_value", "guidance must be a number from 0 to 100"), 0;
        q->p.guidance = (float)g->valuedouble;
    }
    q->p.width = q->width, q->p.height = q->height;
    return 1;
}

/* n images, seeds seed, seed + 1, ...; each a PNG in base64 */
static void generate(srv_image *im, const image_request *q, srv_reply *r) {
    cJSON *o = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(o, "data");
    cJSON_AddNumberToObject(o, "created", (double)time(NULL));
    uint8_t *rgb = malloc((size_t)q->width * q->height * 3);
    loam_error err = {0};
    loam_status st = rgb ? LOAM_OK : LOAM_E_NOMEM;
    for (int i = 0; !st && i < q->n; i++) {
        loam_flux_params p = q->p;
        p.seed += (uint64_t)i;
        st = loam_flux_generate(im->f, q->prompt, &p, rgb, &err);
        char seed[32], steps[16];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)p.seed), snprintf(steps, sizeof steps, "%d", p.steps);
        const char *kv[] = {"prompt", q->prompt, "seed", seed, "steps", steps, "model", im->name, "Software", "loam " LOAM_VERSION};
        uint8_t *png = NULL;
        size_t len = 0;
        if (!st) st = loam_png_encode(rgb, q->width, q->height, kv, 5, &png, &len, &err);
        char *b64 = st ? NULL : base64(png, len);
        if (!st && !b64) st = LOAM_E_NOMEM;
        if (!st) {
            cJSON *item = cJSON_CreateObject();
            cJSON_AddStringToObject(item, "b64_json", b64);
            cJSON_AddStringToObject(item, "revised_prompt", q->prompt);
            cJSON_AddNumberToObject(item, "seed", (double)p.seed);
            cJSON_AddItemToArray(data, item);
        }
        free(png), free(b64);
    }
    free(rgb);
    if (st) {
        cJSON_Delete(o);
        return srv_error(r, st == LOAM_E_ARG ? 400 : 500, NULL, NULL, "%s", st == LOAM_E_NOMEM && !err.message[0] ? "out of memory" : err.message);
    }
    srv_json(r, 200, o);
}

void srv_image_route(srv_server *s, const cJSON *body, srv_reply *out) {
    const cJSON *model = cJSON_GetObjectItem(body, "model");
    const char *name = cJSON_IsString(model) ? model->valuestring : NULL;
    srv_image *im = srv_find_image(s, name);
    if (!im) return srv_error(out, 404, "model", "model_not_found", "The model `%s` does not exist (or is not an image model)", name ? name : "");
    image_request q;
    if (!parse(im, body, &q, out)) return;
    pthread_mutex_lock(&s->mu);
    int queue = s->cfg->queue > 0 ? s->cfg->queue : 4 * s->cfg->parallel, full = im->waiting >= queue;
    if (!full) im->waiting++;
    pthread_mutex_unlock(&s->mu);
    if (full) return srv_error(out, 429, NULL, "queue_full", "too many images waiting; try again later");
    pthread_mutex_lock(&im->mu);
    generate(im, &q, out);
    pthread_mutex_unlock(&im->mu);
    pthread_mutex_lock(&s->mu);
    im->waiting--;
    pthread_mutex_unlock(&s->mu);
}
