/* Audio decoding through libsndfile (from memory, so files, stdin and
 * uploads share one path) and resampling through libsoxr, streamed: the
 * input is read in blocks, downmixed and resampled as it comes, and only
 * the 16 kHz mono result is kept. */
#include "speech/audio.h"

#include <sndfile.h>
#include <soxr.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define AUDIO_RATE 16000
#define AUDIO_BLOCK 16384 /* frames read at a time */
#define AUDIO_MAX_CHANNELS 256
/* of the output's Nyquist frequency: the transition band of scipy's
 * resample_poly (Kaiser β 5, 10 zero crossings per side) at 44.1 → 16 kHz */
#define PASSBAND_END 0.84
#define STOPBAND_BEGIN 1.16
#define AUDIO_MAX_RATE 1536000 /* above any real recording; an absurd header is an error */

typedef struct mem_reader {
    const unsigned char *data;
    sf_count_t size, pos;
} mem_reader;

static sf_count_t mem_len(void *u) { return ((mem_reader *)u)->size; }
static sf_count_t mem_seek(sf_count_t off, int whence, void *u) {
    mem_reader *r = u;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? r->pos : r->size;
    if (off < -base || off > r->size - base) return -1;
    r->pos = base + off;
    return r->pos;
}
static sf_count_t mem_read(void *dst, sf_count_t count, void *u) {
    mem_reader *r = u;
    sf_count_t left = r->size - r->pos;
    if (count > left) count = left;
    if (count > 0) memcpy(dst, r->data + r->pos, (size_t)count);
    r->pos += count;
    return count;
}
static sf_count_t mem_write(const void *src, sf_count_t count, void *u) {
    (void)src, (void)count, (void)u;
    return 0;
}
static sf_count_t mem_tell(void *u) { return ((mem_reader *)u)->pos; }

/* A growing array of the 16 kHz output. */
typedef struct pcm_out {
    float *v;
    size_t n, cap, limit;
} pcm_out;

static int pcm_reserve(pcm_out *o, size_t more) {
    if (o->n + more <= o->cap) return 1;
    size_t cap = o->cap ? o->cap : 1 << 16;
    while (cap < o->n + more) cap *= 2;
    float *v = realloc(o->v, cap * sizeof(float));
    if (!v) return 0;
    o->v = v, o->cap = cap;
    return 1;
}

/* Resamples (or copies) mono[n] onto the output; in == NULL flushes. */
static loam_status push(soxr_t sx, const float *mono, size_t n, pcm_out *o, const char *name, loam_error *err) {
    if (!sx) {
        if (!pcm_reserve(o, n)) return loam_fail(err, LOAM_E_NOMEM, "%s: out of memory for the audio", name);
        memcpy(o->v + o->n, mono, n * sizeof(float));
        o->n += n;
    } else {
        for (;;) {
            size_t room = 8192, used = 0, done = 0;
            if (!pcm_reserve(o, room)) return loam_fail(err, LOAM_E_NOMEM, "%s: out of memory for the audio", name);
            soxr_error_t e = soxr_process(sx, mono, n, &used, o->v + o->n, room, &done);
            if (e) return loam_fail(err, LOAM_E_FORMAT, "%s: resampling failed: %s", name, e);
            o->n += done;
            if (mono) mono += used, n -= used;
            if ((mono && n == 0 && done < room) || (!mono && done == 0) || (mono && used == 0 && done == 0)) break;
        }
    }
    if (o->limit && o->n > o->limit)
        return loam_fail(err, LOAM_E_RANGE, "%s: the audio is longer than the limit of %.0f s", name,
                         (double)o->limit / AUDIO_RATE);
    return LOAM_OK;
}

static loam_status check_info(const SF_INFO *info, const char *name, loam_error *err) {
    if (info->channels < 1 || info->channels > AUDIO_MAX_CHANNELS)
        return loam_fail(err, LOAM_E_FORMAT, "%s: %d channels (1..%d)", name, info->channels, AUDIO_MAX_CHANNELS);
    if (info->samplerate < 1000 || info->samplerate > AUDIO_MAX_RATE)
        return loam_fail(err, LOAM_E_FORMAT, "%s: sample rate %d Hz (1000..%d)", name, info->samplerate, AUDIO_MAX_RATE);
    return LOAM_OK;
}

/* Reads every block of `sf`, downmixed, through the resampler. */
static loam_status read_all(SNDFILE *sf, const SF_INFO *info, soxr_t sx, pcm_out *o, const char *name, loam_error *err) {
    int ch = info->channels;
    float *block = malloc(sizeof(float) * (size_t)AUDIO_BLOCK * (size_t)ch), *mono = malloc(sizeof(float) * AUDIO_BLOCK);
    loam_status st = LOAM_OK;
    if (!block || !mono) st = loam_fail(err, LOAM_E_NOMEM, "%s: out of memory", name);
    while (!st) {
        sf_count_t got = sf_readf_float(sf, block, AUDIO_BLOCK);
        if (got <= 0) break;
        for (sf_count_t i = 0; i < got; i++) {
            double sum = 0;
            for (int c = 0; c < ch; c++) sum += block[(size_t)i * ch + c];
            mono[i] = (float)(sum / ch);
        }
        st = push(sx, mono, (size_t)got, o, name, err);
    }
    if (!st && sf_error(sf) != SF_ERR_NO_ERROR)
        st = loam_fail(err, LOAM_E_FORMAT, "%s: %s", name, sf_strerror(sf));
    if (!st && sx) st = push(sx, NULL, 0, o, name, err);
    free(block);
    free(mono);
    return st;
}

loam_status speech_audio_decode(const void *data, size_t size, const char *name, double max_seconds, float **samples,
                                size_t *n, loam_error *err) {
    *samples = NULL, *n = 0;
    if (size == 0) return loam_fail(err, LOAM_E_FORMAT, "%s: the file is empty", name);
    if (size > (size_t)INT64_MAX) return loam_fail(err, LOAM_E_FORMAT, "%s: too large", name);
    mem_reader r = {data, (sf_count_t)size, 0};
    SF_VIRTUAL_IO io = {mem_len, mem_seek, mem_read, mem_write, mem_tell};
    SF_INFO info = {0};
    SNDFILE *sf = sf_open_virtual(&io, SFM_READ, &info, &r);
    if (!sf) return loam_fail(err, LOAM_E_FORMAT, "%s: not an audio file loam can read (%s)", name, sf_strerror(NULL));
    loam_status st = check_info(&info, name, err);
    soxr_t sx = NULL;
    if (!st && info.samplerate != AUDIO_RATE) {
        soxr_error_t e = NULL;
        soxr_io_spec_t ios = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        /* linear phase, the transition band centred on the new Nyquist
         * frequency as a windowed-sinc polyphase resampler (scipy's
         * resample_poly, the fixture's reference) puts it */
        soxr_quality_spec_t q = soxr_quality_spec(SOXR_VHQ, SOXR_LINEAR_PHASE);
        q.passband_end = PASSBAND_END;
        q.stopband_begin = STOPBAND_BEGIN;
        sx = soxr_create((double)info.samplerate, AUDIO_RATE, 1, &e, &ios, &q, NULL);
        if (!sx) st = loam_fail(err, LOAM_E_FORMAT, "%s: resampler: %s", name, e ? e : "failed");
    }
    pcm_out o = {0};
    if (max_seconds > 0) o.limit = (size_t)(max_seconds * AUDIO_RATE);
    if (!st) st = read_all(sf, &info, sx, &o, name, err);
    if (sx) soxr_delete(sx);
    sf_close(sf);
    if (!st && o.n == 0) st = loam_fail(err, LOAM_E_FORMAT, "%s: the file holds no audio samples", name);
    if (st) {
        free(o.v);
        return st;
    }
    *samples = o.v, *n = o.n;
    return LOAM_OK;
}
