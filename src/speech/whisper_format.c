/* A transcription as text in the formats of openai/whisper's writers
 * (utils.py: WriteTXT, WriteVTT, WriteSRT, WriteTSV, WriteJSON), for the
 * CLI's files and the server's response formats alike. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "speech/whisper.h"

enum { FMT_TXT, FMT_SRT, FMT_VTT, FMT_TSV };

/* a growing string */
typedef struct out_buf {
    char *s;
    size_t n, cap;
    int failed;
} out_buf;

static void put(out_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_buf *b, const char *fmt, ...) {
    if (b->failed) return;
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->failed = 1;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + (size_t)k + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p, b->cap = cap;
    }
}

/* "HH:MM:SS,mmm" (srt) or "[HH:]MM:SS.mmm" (vtt) */
static void timestamp(double seconds, int always_hours, char decimal, char *out, size_t cap) {
    long long ms = llround(seconds * 1000.0);
    if (ms < 0) ms = 0;
    long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60;
    if (always_hours || h > 0) snprintf(out, cap, "%02lld:%02lld:%02lld%c%03lld", h, m, s, decimal, ms % 1000);
    else snprintf(out, cap, "%02lld:%02lld%c%03lld", m, s, decimal, ms % 1000);
}

/* a segment's text stripped of surrounding white space, "-->" made "->" (subtitles) */
static void clean(const char *text, int subtitles, char *out, size_t cap) {
    while (*text == ' ' || *text == '\n' || *text == '\t') text++;
    size_t k = 0;
    for (const char *p = text; *p && k + 1 < cap; p++) {
        if (subtitles && !strncmp(p, "-->", 3)) {
            out[k++] = '-';
            if (k + 1 < cap) out[k++] = '>';
            p += 2;
            continue;
        }
        out[k++] = *p == '\t' ? ' ' : *p;
    }
    while (k && (out[k - 1] == ' ' || out[k - 1] == '\n')) k--;
    out[k] = 0;
}

static char *plain(const loam_whisper_result *r, int fmt) {
    out_buf b = {0};
    size_t cap = 1;
    for (int i = 0; i < r->n_segments; i++) cap += strlen(r->segments[i].text) + 1;
    char *text = malloc(cap);
    if (!text) return NULL;
    char t0[32], t1[32];
    put(&b, "%s", "");
    if (fmt == FMT_VTT) put(&b, "WEBVTT\n\n");
    if (fmt == FMT_TSV) put(&b, "start\tend\ttext\n");
    for (int i = 0, k = 0; i < r->n_segments; i++) {
        const loam_whisper_segment *s = &r->segments[i];
        clean(s->text, fmt == FMT_SRT || fmt == FMT_VTT, text, cap);
        if (fmt != FMT_TXT && !text[0]) continue;
        switch (fmt) {
        case FMT_TXT: put(&b, "%s\n", text); break;
        case FMT_VTT:
            timestamp(s->start, 0, '.', t0, sizeof t0), timestamp(s->end, 0, '.', t1, sizeof t1);
            put(&b, "%s --> %s\n%s\n\n", t0, t1, text);
            break;
        case FMT_SRT:
            timestamp(s->start, 1, ',', t0, sizeof t0), timestamp(s->end, 1, ',', t1, sizeof t1);
            put(&b, "%d\n%s --> %s\n%s\n\n", ++k, t0, t1, text);
            break;
        case FMT_TSV: put(&b, "%lld\t%lld\t%s\n", llround(s->start * 1000), llround(s->end * 1000), text); break;
        }
    }
    free(text);
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static char *result_json(const loam_whisper *w, const loam_whisper_result *r) {
    cJSON *root = cJSON_CreateObject(), *segs = cJSON_AddArrayToObject(root, "segments");
    cJSON_AddStringToObject(root, "text", r->text ? r->text : "");
    for (int i = 0; i < r->n_segments; i++) {
        const loam_whisper_segment *s = &r->segments[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", s->id);
        cJSON_AddNumberToObject(o, "seek", (double)s->seek);
        cJSON_AddNumberToObject(o, "start", round(s->start * 1000) / 1000);
        cJSON_AddNumberToObject(o, "end", round(s->end * 1000) / 1000);
        cJSON_AddStringToObject(o, "text", s->text);
        cJSON *toks = cJSON_AddArrayToObject(o, "tokens");
        for (int k = 0; k < s->n_tokens; k++) cJSON_AddItemToArray(toks, cJSON_CreateNumber(s->tokens[k]));
        cJSON_AddNumberToObject(o, "temperature", s->temperature);
        cJSON_AddNumberToObject(o, "avg_logprob", s->avg_logprob);
        cJSON_AddNumberToObject(o, "compression_ratio", s->compression_ratio);
        cJSON_AddNumberToObject(o, "no_speech_prob", s->no_speech_prob);
        if (s->words) {
            cJSON *ws = cJSON_AddArrayToObject(o, "words");
            for (int k = 0; k < s->n_words; k++) {
                cJSON *wd = cJSON_CreateObject();
                cJSON_AddStringToObject(wd, "word", s->words[k].word);
                cJSON_AddNumberToObject(wd, "start", s->words[k].start);
                cJSON_AddNumberToObject(wd, "end", s->words[k].end);
                cJSON_AddNumberToObject(wd, "probability", round(s->words[k].probability * 1e4) / 1e4);
                cJSON_AddItemToArray(ws, wd);
            }
        }
        cJSON_AddItemToArray(segs, o);
    }
    const char *lang = r->language >= 0 ? loam_whisper_lang_code(w, r->language) : NULL;
    if (lang) cJSON_AddStringToObject(root, "language", lang);
    if (r->language_prob > 0) cJSON_AddNumberToObject(root, "language_probability", r->language_prob);
    cJSON_AddNumberToObject(root, "duration", r->duration);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

char *loam_whisper_format(const loam_whisper *w, const loam_whisper_result *r, const char *format) {
    if (!strcmp(format, "json")) return result_json(w, r);
    static const char *names[] = {"txt", "srt", "vtt", "tsv"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(format, names[i])) return plain(r, i);
    return NULL;
}
