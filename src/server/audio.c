/* OpenAI's speech routes, POST /v1/audio/transcriptions and
 * /v1/audio/translations: a multipart/form-data body (parsed by
 * libmicrohttpd's post processor) with the audio file and OpenAI's fields
 * (model, language, prompt, response_format, temperature,
 * timestamp_granularities[] segment / word; beam_size and best_of as loam's
 * extensions), one transcription at a time per model (a
 * bounded number wait), the answer in the asked format. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"

#define FIELD_MAX 4096

typedef struct form {
    char *file;
    size_t file_len, file_cap, limit;
    char filename[256];
    char model[128], language[32], prompt[FIELD_MAX], format[32], temperature[32], granularity[64];
    char beam_size[16], best_of[16]; /* loam's extensions, as openai/whisper's options */
    int too_big, bad_field;
} form;

static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 65536;
        while (c < *len + n + 1) c *= 2;
        char *p = realloc(*buf, c);
        if (!p) return 0;
        *buf = p, *cap = c;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = 0;
    return 1;
}

/* a text field's chunk at offset `off` into dst[cap] */
static void text_field(form *f, char *dst, size_t cap, uint64_t off, const char *data, size_t n) {
    if (off + n >= cap) {
        f->bad_field = 1;
        return;
    }
    memcpy(dst + off, data, n);
    dst[off + n] = 0;
}

static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                const char *content_type, const char *encoding, const char *data, uint64_t off,
                                size_t n) {
    (void)kind, (void)content_type, (void)encoding;
    form *f = cls;
    if (!strcmp(key, "file")) {
        if (filename && !f->filename[0]) snprintf(f->filename, sizeof f->filename, "%s", filename);
        if (f->file_len + n > f->limit) {
            f->too_big = 1;
            return MHD_NO;
        }
        return append(&f->file, &f->file_len, &f->file_cap, data, n) ? MHD_YES : MHD_NO;
    }
    struct { const char *name; char *dst; size_t cap; } fields[] = {
        {"model", f->model, sizeof f->model},          {"language", f->language, sizeof f->language},
        {"prompt", f->prompt, sizeof f->prompt},       {"response_format", f->format, sizeof f->format},
        {"temperature", f->temperature, sizeof f->temperature},
        {"timestamp_granularities[]", f->granularity, sizeof f->granularity},
        {"timestamp_granularities", f->granularity, sizeof f->granularity},
        {"beam_size", f->beam_size, sizeof f->beam_size},
        {"best_of", f->best_of, sizeof f->best_of},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!strcmp(key, fields[i].name)) {
            /* a repeated granularity: "segment" and "word" both asked */
            if (fields[i].dst == f->granularity && off == 0 && f->granularity[0] && n < 16) {
                size_t l = strlen(f->granularity);
                if (l + n + 2 < sizeof f->granularity) f->granularity[l] = ',', memcpy(f->granularity + l + 1, data, n), f->granularity[l + 1 + n] = 0;
                return MHD_YES;
            }
            text_field(f, fields[i].dst, fields[i].cap, off, data, n);
        }
    return MHD_YES; /* unknown fields are ignored, as OpenAI does */
}

srv_speech *srv_find_speech(srv_server *s, const char *name) {
    for (int i = 0; i < s->n_speech; i++)
        if (!strcmp(s->speech[i].name, name)) return &s->speech[i];
    /* clients written for OpenAI send "whisper-1": the one speech model answers */
    if ((!name[0] || !strcmp(name, "whisper-1")) && s->n_speech == 1) return &s->speech[0];
    return NULL;
}

/* The reply in response_format: json {"text"}, text, srt, vtt, verbose_json. */
static void answer(srv_speech *sp, const loam_whisper_result *r, const char *format, int translate, srv_reply *out) {
    if (!strcmp(format, "json") || !strcmp(format, "verbose_json")) {
        cJSON *o = cJSON_CreateObject();
        const char *text = r->text ? r->text : "";
        while (*text == ' ') text++;
        if (!strcmp(format, "verbose_json")) {
            char *full = loam_whisper_format(sp->w, r, "json");
            cJSON *j = full ? cJSON_Parse(full) : NULL;
            free(full);
            cJSON_AddStringToObject(o, "task", translate ? "translate" : "transcribe");
            const char *lang = loam_whisper_lang_code(sp->w, r->language);
            cJSON_AddStringToObject(o, "language", lang ? lang : "en");
            cJSON_AddNumberToObject(o, "duration", r->duration);
            cJSON_AddStringToObject(o, "text", text);
            cJSON *segs = j ? cJSON_DetachItemFromObject(j, "segments") : NULL;
            if (r->n_segments && r->segments[0].words) { /* OpenAI's words: one list, without probabilities */
                cJSON *words = cJSON_AddArrayToObject(o, "words");
                for (int i = 0; i < r->n_segments; i++)
                    for (int k = 0; k < r->segments[i].n_words; k++) {
                        const loam_whisper_word *wd = &r->segments[i].words[k];
                        cJSON *x = cJSON_CreateObject();
                        cJSON_AddStringToObject(x, "word", wd->word);
                        cJSON_AddNumberToObject(x, "start", wd->start);
                        cJSON_AddNumberToObject(x, "end", wd->end);
                        cJSON_AddItemToArray(words, x);
                    }
            }
            cJSON_AddItemToObject(o, "segments", segs ? segs : cJSON_CreateArray());
            cJSON_Delete(j);
        } else {
            cJSON_AddStringToObject(o, "text", text);
        }
        srv_json(out, 200, o);
        return;
    }
    char *body = loam_whisper_format(sp->w, r, !strcmp(format, "text") ? "txt" : format);
    if (!body) return srv_error(out, 500, NULL, NULL, "out of memory");
    out->status = 200;
    out->content_type = !strcmp(format, "vtt") ? "text/vtt; charset=utf-8" : "text/plain; charset=utf-8";
    out->body = body, out->len = strlen(body);
}

static int parse_params(form *f, int translate, loam_whisper_full_params *p, srv_reply *out) {
    *p = loam_whisper_full_default_params();
    p->beam_size = 5;
    if (translate) p->task = LOAM_WHISPER_TRANSLATE;
    if (f->language[0] && !translate) p->language = f->language;
    if (f->prompt[0]) p->initial_prompt = f->prompt;
    if (f->temperature[0]) {
        char *end;
        double t = strtod(f->temperature, &end);
        if (*end || !(t >= 0 && t <= 1))
            return srv_error(out, 400, "temperature", "invalid_value", "temperature must be a number in [0, 1]"), 0;
        p->temperature = (float)t;
        /* OpenAI: at 0 the temperature rises until the thresholds pass;
         * a temperature above 0 is the one used */
        if (t > 0) p->temperature_inc = 0;
    }
    if (strstr(f->granularity, "word")) p->word_timestamps = 1;
    const struct { const char *name, *value; int *dst; } ints[] = {{"beam_size", f->beam_size, &p->beam_size},
                                                                  {"best_of", f->best_of, &p->best_of}};
    for (size_t i = 0; i < 2; i++) {
        if (!ints[i].value[0]) continue;
        char *end;
        long v = strtol(ints[i].value, &end, 10);
        if (*end || v < 1 || v > 8) return srv_error(out, 400, ints[i].name, "invalid_value", "%s must be an integer in [1, 8]", ints[i].name), 0;
        *ints[i].dst = (int)v;
    }
    const char *formats[] = {"json", "text", "srt", "vtt", "verbose_json"};
    if (!f->format[0]) strcpy(f->format, "json");
    for (size_t i = 0; i < 5; i++)
        if (!strcmp(f->format, formats[i])) return 1;
    return srv_error(out, 400, "response_format", "invalid_value",
                     "response_format must be json, text, srt, vtt or verbose_json"), 0;
}

static void transcribe(srv_server *s, srv_speech *sp, form *f, int translate, srv_reply *out) {
    loam_whisper_full_params p;
    if (!parse_params(f, translate, &p, out)) return;
    if (p.language && loam_whisper_lang_index(sp->w, p.language) < 0)
        return srv_error(out, 400, "language", "invalid_value", "unknown language \"%s\" (ISO-639-1, e.g. en)", p.language);
    loam_error err = {0};
    float *pcm = NULL;
    size_t n = 0;
    if (loam_audio_load_memory(f->file, f->file_len, f->filename[0] ? f->filename : "file", 4 * 3600, &pcm, &n, &err))
        return srv_error(out, 400, "file", "invalid_audio", "%s", err.message);
    /* one transcription at a time per model; at most `queue` wait */
    pthread_mutex_lock(&s->mu);
    int queue = s->cfg->queue > 0 ? s->cfg->queue : 4 * s->cfg->parallel;
    int full = sp->waiting >= queue;
    if (!full) sp->waiting++;
    pthread_mutex_unlock(&s->mu);
    if (full) {
        loam_audio_free(pcm);
        return srv_error(out, 429, NULL, "queue_full", "too many transcriptions waiting; try again later");
    }
    pthread_mutex_lock(&sp->mu);
    loam_whisper_result r;
    loam_status st = loam_whisper_full(sp->w, &p, pcm, n, &r, &err);
    pthread_mutex_unlock(&sp->mu);
    pthread_mutex_lock(&s->mu);
    sp->waiting--;
    pthread_mutex_unlock(&s->mu);
    loam_audio_free(pcm);
    if (st) return srv_error(out, st == LOAM_E_ARG || st == LOAM_E_UNSUPPORTED ? 400 : 500, NULL, NULL, "%s", err.message);
    answer(sp, &r, f->format, translate, out);
    loam_whisper_result_free(&r);
}

void srv_audio_route(srv_server *s, struct MHD_Connection *c, const char *body, size_t len, int translate,
                     srv_reply *out) {
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!ctype || strncasecmp(ctype, "multipart/form-data", 19))
        return srv_error(out, 415, NULL, NULL, "the audio routes take multipart/form-data (a file field), not %s",
                         ctype ? ctype : "no Content-Type");
    form f = {.limit = s->cfg->max_upload};
    struct MHD_PostProcessor *pp = MHD_create_post_processor(c, 65536, on_field, &f);
    if (!pp) return srv_error(out, 400, NULL, NULL, "a multipart body without a boundary");
    enum MHD_Result ok = len ? MHD_post_process(pp, body, len) : MHD_YES;
    MHD_destroy_post_processor(pp);
    if (f.too_big) srv_error(out, 413, "file", NULL, "the audio file is over %zu bytes", f.limit);
    else if (ok != MHD_YES) srv_error(out, 400, NULL, NULL, "a malformed multipart body");
    else if (f.bad_field) srv_error(out, 400, NULL, "invalid_value", "a form field is over %d bytes", FIELD_MAX);
    else if (!f.file_len) srv_error(out, 400, "file", "missing_required_parameter", "the audio file (field \"file\") is missing");
    else {
        srv_speech *sp = srv_find_speech(s, f.model);
        if (!sp) srv_error(out, 404, "model", "model_not_found", "The model `%s` does not exist (or is not a speech model)", f.model);
        else transcribe(s, sp, &f, translate, out);
    }
    free(f.file);
}
