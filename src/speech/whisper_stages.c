/* The stage functions of loam_speech.h: audio, one window's log-mel,
 * encode, one decoder step, language detection, ids to text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mapfile.h"
#include "speech/audio.h"
#include "speech/whisper.h"

#define STDIN_MAX (4ull << 30) /* 4 GiB of encoded audio from a pipe */

loam_status loam_audio_load_memory(const void *data, size_t size, const char *name, double max_seconds,
                                   float **samples, size_t *n, loam_error *err) {
    return speech_audio_decode(data, size, name ? name : "audio", max_seconds, samples, n, err);
}

static loam_status read_stdin(uint8_t **out, size_t *size, loam_error *err) {
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= STDIN_MAX) {
                free(buf);
                return loam_fail(err, LOAM_E_RANGE, "stdin: more than %llu bytes of audio", (unsigned long long)STDIN_MAX);
            }
            uint8_t *p = realloc(buf, cap * 2);
            if (!p) break;
            buf = p, cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0) {
            *out = buf, *size = n;
            return ferror(stdin) ? (free(buf), loam_fail(err, LOAM_E_IO, "stdin: read error")) : LOAM_OK;
        }
    }
    free(buf);
    return loam_fail(err, LOAM_E_NOMEM, "stdin: out of memory");
}

loam_status loam_audio_load(const char *path, double max_seconds, float **samples, size_t *n, loam_error *err) {
    *samples = NULL, *n = 0;
    if (!strcmp(path, "-")) {
        uint8_t *buf = NULL;
        size_t size = 0;
        loam_status st = read_stdin(&buf, &size, err);
        if (!st) st = speech_audio_decode(buf, size, "stdin", max_seconds, samples, n, err);
        free(buf);
        return st;
    }
    loam_mapfile map = {0};
    loam_status st = loam_mapfile_open(&map, path, err);
    if (st) return st;
    st = speech_audio_decode(map.data, (size_t)map.size, path, max_seconds, samples, n, err);
    loam_mapfile_close(&map);
    return st;
}

void loam_audio_free(float *samples) { free(samples); }

loam_status loam_whisper_mel(const loam_whisper *w, const float *samples, size_t n, float *mel, loam_error *err) {
    if (!samples && n) return loam_fail(err, LOAM_E_ARG, "whisper mel: no samples");
    if (n > MEL_WINDOW_SAMPLES) n = MEL_WINDOW_SAMPLES;
    float max = speech_mel_log10(&w->mel, samples, n, MEL_WINDOW_SAMPLES, 0, MEL_WINDOW_FRAMES, mel, MEL_WINDOW_FRAMES);
    speech_mel_normalize(mel, (size_t)w->hp.n_mels * MEL_WINDOW_FRAMES, max);
    return LOAM_OK;
}

loam_status loam_whisper_mel_at(const loam_whisper *w, const float *samples, size_t n, int64_t frame0, float *mel,
                                loam_error *err) {
    if (!samples && n) return loam_fail(err, LOAM_E_ARG, "whisper mel: no samples");
    if (frame0 < 0) return loam_fail(err, LOAM_E_ARG, "whisper mel: frame %lld", (long long)frame0);
    size_t total = n + MEL_WINDOW_SAMPLES;
    float max = speech_mel_max(&w->mel, samples, n, total);
    speech_mel_log10(&w->mel, samples, n, total, frame0, MEL_WINDOW_FRAMES, mel, MEL_WINDOW_FRAMES);
    speech_mel_normalize(mel, (size_t)w->hp.n_mels * MEL_WINDOW_FRAMES, max);
    return LOAM_OK;
}

loam_status loam_whisper_encode(loam_whisper *w, const float *mel, loam_error *err) { return whisper_encode(w, mel, err); }

const float *loam_whisper_encoder_out(const loam_whisper *w) { return w->enc_out; }

loam_status loam_whisper_decode(loam_whisper *w, const int32_t *tokens, int n, int n_past, loam_error *err) {
    if (n <= 0 || !tokens) return loam_fail(err, LOAM_E_ARG, "whisper decode: no tokens");
    if (n_past < 0 || n_past > w->kv.len[0] || n > w->hp.n_text_ctx - n_past)
        return loam_fail(err, LOAM_E_RANGE, "whisper decode: positions %d..%d outside the cache (%d cached, context %d)",
                         n_past, n_past + n - 1, w->kv.len[0], w->hp.n_text_ctx);
    int32_t *pos = malloc(sizeof(int32_t) * (size_t)n), *seq = calloc((size_t)n, sizeof(int32_t));
    loam_status st = pos && seq ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; !st && i < n; i++) pos[i] = n_past + i;
    if (!st) st = whisper_decode_rows(w, tokens, pos, seq, n, NULL, err);
    free(pos), free(seq);
    return st;
}

const float *loam_whisper_logits(const loam_whisper *w, int i) {
    return i >= 0 && i < w->n_logit_rows ? w->logits + (size_t)i * w->hp.n_vocab : NULL;
}

loam_status loam_whisper_detect_language(loam_whisper *w, float *probs, int *lang, float *lang_logits,
                                         loam_error *err) {
    const whisper_special *sp = &w->sp;
    if (sp->n_langs == 0) return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: an English-only model has no language tokens", w->path);
    loam_status st = loam_whisper_decode(w, &sp->sot, 1, 0, err);
    if (st) return st;
    const float *logits = w->logits;
    if (lang_logits) memcpy(lang_logits, logits, sizeof(float) * (size_t)w->hp.n_vocab);
    int best = 0;
    double max = -INFINITY, sum = 0;
    for (int i = 0; i < sp->n_langs; i++)
        if (logits[sp->lang0 + i] > max) max = logits[sp->lang0 + i], best = i;
    for (int i = 0; i < sp->n_langs; i++) sum += exp(logits[sp->lang0 + i] - max);
    for (int i = 0; probs && i < sp->n_langs; i++) probs[i] = (float)(exp(logits[sp->lang0 + i] - max) / sum);
    *lang = best;
    return LOAM_OK;
}

size_t loam_whisper_text(const loam_whisper *w, const int32_t *ids, int n, char *buf, size_t cap) {
    size_t len = 0;
    if (cap) buf[0] = 0;
    if (w->tok) {
        /* text tokens only, then one detokenization (byte-level pieces join into UTF-8) */
        int32_t *text = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
        int k = 0;
        for (int i = 0; text && i < n; i++)
            if (ids[i] < w->sp.eot) text[k++] = ids[i];
        char *out = NULL;
        size_t out_len = 0;
        loam_error e;
        if (text && k && loam_detokenize(w->tok, text, k, 1, &out, &out_len, &e) == LOAM_OK) {
            len = out_len;
            if (cap) {
                size_t c = len < cap - 1 ? len : cap - 1;
                memcpy(buf, out, c);
                buf[c] = 0;
            }
        }
        free(out);
        free(text);
        return len;
    }
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= w->sp.eot || ids[i] >= w->n_vocab_bytes) continue;
        size_t l = w->vocab_len[ids[i]];
        if (cap && len + l < cap) memcpy(buf + len, w->vocab[ids[i]], l), buf[len + l] = 0;
        else if (cap && len < cap) buf[len] = 0;
        len += l;
    }
    return len;
}
