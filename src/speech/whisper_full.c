/* loam_whisper_full: openai/whisper's transcribe() over a whole buffer.
 * The log-mel's global max comes from a first pass over the audio (plus
 * 30 s of zeros, as transcribe() pads it); each window's 3000 frames are
 * computed when it is decoded, so memory holds the samples and one
 * window. Windows advance by the last complete timestamp; each is decoded
 * at rising temperatures until its compression ratio and log-prob pass,
 * conditioned on the text before it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "speech/search.h"

loam_whisper_full_params loam_whisper_full_default_params(void) {
    loam_whisper_full_params p = {0};
    p.task = LOAM_WHISPER_TRANSCRIBE;
    p.timestamps = 1;
    p.beam_size = 5;
    p.best_of = 5;
    p.patience = 1.0f;
    p.length_penalty = -1.0f;
    p.temperature = 0.0f;
    p.temperature_inc = 0.2f;
    p.compression_ratio_threshold = 2.4f;
    p.logprob_threshold = -1.0f;
    p.no_speech_threshold = 0.6f;
    p.condition_on_previous_text = 1;
    p.max_initial_timestamp_index = -1;
    return p;
}

typedef struct full_state {
    loam_whisper *w;
    const loam_whisper_full_params *p;
    loam_whisper_result *r;
    int cap_segments;
    int32_t *all_tokens; /* the text so far, for the prompt */
    int n_all, cap_all, prompt_from;
    uint64_t rng;
    double last_speech; /* end of the last word with word timestamps */
} full_state;

/* openai's decode_with_fallback. */
static loam_status decode_with_fallback(full_state *f, search_opts *o, search_result *res, loam_error *err) {
    const loam_whisper_full_params *p = f->p;
    loam_status st = LOAM_OK;
    for (float t = p->temperature; t <= 1.0f + 1e-6f; t += p->temperature_inc) {
        o->temperature = t;
        if ((st = whisper_search(f->w, o, res, err))) return st;
        int fallback = 0;
        if (p->compression_ratio_threshold > 0 && res->compression_ratio > p->compression_ratio_threshold) fallback = 1;
        if (res->avg_logprob < p->logprob_threshold) fallback = 1;
        if (res->no_speech_prob > p->no_speech_threshold && res->avg_logprob < p->logprob_threshold) fallback = 0;
        if (!fallback || p->temperature_inc <= 0) break;
    }
    return st;
}

static int push_tokens(full_state *f, const int32_t *t, int n) {
    if (f->n_all + n > f->cap_all) {
        int cap = f->cap_all ? f->cap_all * 2 : 1024;
        while (cap < f->n_all + n) cap *= 2;
        int32_t *p = realloc(f->all_tokens, sizeof(int32_t) * (size_t)cap);
        if (!p) return 0;
        f->all_tokens = p, f->cap_all = cap;
    }
    memcpy(f->all_tokens + f->n_all, t, sizeof(int32_t) * (size_t)n);
    f->n_all += n;
    return 1;
}

/* A segment of tokens[0..n) from start to end (seconds). */
static loam_status add_segment(full_state *f, int64_t seek, double start, double end, const int32_t *tokens, int n,
                               const search_result *res, loam_error *err) {
    loam_whisper_result *r = f->r;
    if (r->n_segments == f->cap_segments) {
        int cap = f->cap_segments ? f->cap_segments * 2 : 16;
        loam_whisper_segment *s = realloc(r->segments, sizeof *s * (size_t)cap);
        if (!s) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
        r->segments = s, f->cap_segments = cap;
    }
    size_t len = loam_whisper_text(f->w, tokens, n, NULL, 0);
    char *text = malloc(len + 1);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    if (!text || !tok) {
        free(text), free(tok);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    loam_whisper_text(f->w, tokens, n, text, len + 1);
    memcpy(tok, tokens, sizeof(int32_t) * (size_t)n);
    loam_whisper_segment *s = &r->segments[r->n_segments];
    *s = (loam_whisper_segment){r->n_segments, start, end, seek, text, tok, n, res->temperature, res->avg_logprob,
                                res->compression_ratio, res->no_speech_prob, NULL, 0};
    r->n_segments++;
    return LOAM_OK;
}

/* Splits a window's tokens into segments at consecutive timestamps and
 * returns how far the window advances (mel frames). */
static loam_status segment_window(full_state *f, int64_t seek, int seg_frames, const search_result *res,
                                  int64_t *advance, int *single_ending, loam_error *err) {
    const whisper_special *sp = &f->w->sp;
    const int32_t *t = res->tokens;
    int n = res->n_tokens, tb = sp->ts_begin;
    double offset = (double)seek * MEL_HOP / MEL_SAMPLE_RATE, prec = 0.02;
    int single_end = n >= 2 && t[n - 2] < tb && t[n - 1] >= tb;
    *single_ending = single_end;
    int slices[SEARCH_MAX_TOKENS + 1], n_slices = 0;
    for (int i = 1; i < n; i++)
        if (t[i - 1] >= tb && t[i] >= tb) slices[n_slices++] = i;
    loam_status st = LOAM_OK;
    if (n_slices > 0) {
        if (single_end) slices[n_slices++] = n;
        int last = 0;
        for (int k = 0; !st && k < n_slices; k++) {
            const int32_t *s = t + last;
            int len = slices[k] - last;
            st = add_segment(f, seek, offset + (s[0] - tb) * prec, offset + (s[len - 1] - tb) * prec, s, len, res, err);
            last = slices[k];
        }
        *advance = single_end ? seg_frames : (int64_t)(t[last - 1] - tb) * 2;
    } else {
        double duration = (double)seg_frames * MEL_HOP / MEL_SAMPLE_RATE;
        int32_t last_ts = -1;
        for (int i = 0; i < n; i++)
            if (t[i] >= tb) last_ts = t[i];
        if (last_ts >= 0 && last_ts != tb) duration = (last_ts - tb) * prec;
        st = add_segment(f, seek, offset, offset + duration, t, n, res, err);
        *advance = seg_frames;
    }
    return st;
}

/* The language asked for, or detected on the first window (encoded). */
static loam_status choose_language(full_state *f, search_opts *o, loam_error *err) {
    loam_whisper *w = f->w;
    const char *lang = f->p->language;
    if (w->sp.n_langs == 0) {
        o->lang = -1;
        return LOAM_OK;
    }
    if (lang && *lang && strcmp(lang, "auto")) {
        o->lang = loam_whisper_lang_index(w, lang);
        if (o->lang < 0) return loam_fail(err, LOAM_E_ARG, "unknown language \"%s\" (a code such as en, de, ja)", lang);
        f->r->language = o->lang;
        return LOAM_OK;
    }
    float probs[WHISPER_MAX_LANGS];
    loam_status st = loam_whisper_detect_language(w, probs, &o->lang, NULL, err);
    if (!st) f->r->language = o->lang, f->r->language_prob = probs[o->lang];
    return st;
}

static loam_status run(full_state *f, const float *samples, size_t n, loam_error *err) {
    loam_whisper *w = f->w;
    const loam_whisper_full_params *p = f->p;
    size_t n_total = n + MEL_WINDOW_SAMPLES;
    int64_t content = speech_mel_n_frames(n_total) - MEL_WINDOW_FRAMES;
    float max = speech_mel_max(&w->mel, samples, n, n_total);
    float *mel = malloc(sizeof(float) * (size_t)w->hp.n_mels * MEL_WINDOW_FRAMES);
    if (!mel) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    search_opts o = {.task = p->task, .timestamps = p->timestamps, .beam_size = p->beam_size, .best_of = p->best_of,
                     .patience = p->patience, .length_penalty = p->length_penalty, .rng = &f->rng,
                     .max_initial_ts = p->max_initial_timestamp_index >= 0 ? p->max_initial_timestamp_index : w->max_initial_ts};
    loam_status st = LOAM_OK;
    int lang_chosen = 0;
    for (int64_t seek = 0; !st && seek < content;) {
        int seg_frames = content - seek < MEL_WINDOW_FRAMES ? (int)(content - seek) : MEL_WINDOW_FRAMES;
        speech_mel_log10(&w->mel, samples, n, n_total, seek, MEL_WINDOW_FRAMES, mel, MEL_WINDOW_FRAMES);
        speech_mel_normalize(mel, (size_t)w->hp.n_mels * MEL_WINDOW_FRAMES, max);
        if ((st = loam_whisper_encode(w, mel, err))) break;
        if (!lang_chosen && (st = choose_language(f, &o, err))) break;
        lang_chosen = 1;
        o.prompt = f->all_tokens ? f->all_tokens + f->prompt_from : NULL, o.n_prompt = f->n_all - f->prompt_from;
        search_result res;
        if ((st = decode_with_fallback(f, &o, &res, err))) break;
        if (p->on_window) p->on_window(seek, res.tokens, res.n_tokens, res.temperature, p->user);
        if (p->no_speech_threshold > 0 && res.no_speech_prob > p->no_speech_threshold &&
            !(res.avg_logprob > p->logprob_threshold)) {
            seek += seg_frames; /* silence: skip the window */
            continue;
        }
        int first = f->r->n_segments, single_end = 0;
        int64_t advance = seg_frames;
        st = segment_window(f, seek, seg_frames, &res, &advance, &single_end, err);
        int64_t next = seek + (advance > 0 ? advance : seg_frames);
        if (!st && p->word_timestamps) {
            loam_whisper_segment *segs = f->r->segments + first;
            int n_new = f->r->n_segments - first;
            st = whisper_add_word_timestamps(w, o.lang, p->task, segs, n_new, seg_frames, &f->last_speech, err);
            /* openai: the window ends at the last word when it did not end on a lone timestamp */
            const loam_whisper_segment *last = n_new > 0 ? &segs[n_new - 1] : NULL;
            double end = last && last->n_words ? last->words[last->n_words - 1].end : last ? last->end : 0;
            double offset = (double)seek * MEL_HOP / MEL_SAMPLE_RATE;
            if (!st && !single_end && last && end > offset) next = (int64_t)llround(end * MEL_SAMPLE_RATE / MEL_HOP);
        }
        seek = next;
        /* as transcribe(): instantaneous or blank segments are cleared, then
         * the window's tokens join the text that conditions the next */
        for (int i = first; !st && i < f->r->n_segments; i++) {
            loam_whisper_segment *sg = &f->r->segments[i];
            int blank = 1;
            for (const char *c = sg->text; *c && blank; c++) blank = *c == ' ' || *c == '\t' || *c == '\n';
            if (sg->start == sg->end || blank) ((char *)sg->text)[0] = 0, sg->n_tokens = 0, whisper_words_free(sg);
            if (!push_tokens(f, sg->tokens, sg->n_tokens)) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
        }
        if (!p->condition_on_previous_text || res.temperature > 0.5f) f->prompt_from = f->n_all;
        double done = content > 0 ? (double)(seek < content ? seek : content) / (double)content : 1.0;
        for (int i = first; !st && p->on_segment && i < f->r->n_segments; i++)
            if (p->on_segment(&f->r->segments[i], done, p->user)) seek = content;
    }
    free(mel);
    return st;
}

/* openai encodes " " + the stripped initial prompt; it opens the text
 * that conditions the first window. */
static loam_status prompt_tokens(full_state *f, loam_error *err) {
    loam_whisper *w = f->w;
    const char *s = f->p->initial_prompt;
    if (!s || !*s) return LOAM_OK;
    if (!w->tok) return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: a prompt needs the model's tokenizer.json", w->path);
    while (*s == ' ' || *s == '\t' || *s == '\n') s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n')) len--;
    char *text = malloc(len + 2);
    if (!text) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    text[0] = ' ';
    memcpy(text + 1, s, len);
    text[len + 1] = 0;
    int32_t *ids = NULL;
    int n_ids = 0;
    loam_status st = loam_tokenize(w->tok, text, len + 1, 0, &ids, &n_ids, err);
    if (!st && !push_tokens(f, ids, n_ids)) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    free(ids), free(text);
    return st;
}

int loam_whisper_initial_tokens(loam_whisper *w, const loam_whisper_full_params *params, int lang, int32_t *out,
                                int cap, loam_error *err) {
    loam_whisper_full_params defaults = loam_whisper_full_default_params();
    if (!params) params = &defaults;
    full_state f = {.w = w, .p = params};
    if (prompt_tokens(&f, err)) return -1;
    search_opts o = {.lang = lang, .task = params->task, .timestamps = params->timestamps,
                     .prompt = f.all_tokens, .n_prompt = f.n_all};
    int32_t buf[SEARCH_MAX_TOKENS];
    int sot = 0, n = whisper_initial_tokens(w, &o, buf, &sot);
    free(f.all_tokens);
    memcpy(out, buf, sizeof(int32_t) * (size_t)(n < cap ? n : cap));
    return n;
}

/* "text" of the whole result: the segments' texts joined */
static loam_status join_text(loam_whisper_result *r, loam_error *err) {
    size_t len = 0;
    for (int i = 0; i < r->n_segments; i++) len += strlen(r->segments[i].text);
    if (!(r->text = malloc(len + 1))) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    r->text[0] = 0;
    for (int i = 0, at = 0; i < r->n_segments; i++) {
        size_t l = strlen(r->segments[i].text);
        memcpy(r->text + at, r->segments[i].text, l + 1);
        at += (int)l;
    }
    return LOAM_OK;
}

loam_status loam_whisper_full(loam_whisper *w, const loam_whisper_full_params *params, const float *samples, size_t n,
                              loam_whisper_result *result, loam_error *err) {
    loam_whisper_full_params defaults = loam_whisper_full_default_params();
    if (!params) params = &defaults;
    *result = (loam_whisper_result){0};
    result->duration = (double)n / MEL_SAMPLE_RATE;
    if (params->beam_size > WHISPER_MAX_SEQ / 2 || params->best_of > WHISPER_MAX_SEQ)
        return loam_fail(err, LOAM_E_ARG, "beam size at most %d, best-of at most %d", WHISPER_MAX_SEQ / 2, WHISPER_MAX_SEQ);
    full_state f = {w, params, result, 0, NULL, 0, 0, 0, params->seed ? params->seed : 0x5eed, 0};
    loam_status st = prompt_tokens(&f, err);
    if (!st) st = run(&f, samples, n, err);
    free(f.all_tokens);
    if (!st) st = join_text(result, err);
    if (st) loam_whisper_result_free(result);
    return st;
}

void loam_whisper_result_free(loam_whisper_result *r) {
    for (int i = 0; r->segments && i < r->n_segments; i++) {
        free((char *)r->segments[i].text);
        free((int32_t *)r->segments[i].tokens);
        whisper_words_free(&r->segments[i]);
    }
    free(r->segments);
    free(r->text);
    *r = (loam_whisper_result){0};
}
