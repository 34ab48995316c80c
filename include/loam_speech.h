/* loam speech: Whisper (every size, from a hub folder, a GGUF or a
 * whisper.cpp ggml-*.bin file), with the shape of whisper.h: an opaque
 * handle, stage functions (log-mel, encode, decode step, language
 * detection) and one convenience call that transcribes a whole buffer
 * with a params struct and a segment callback. */
#ifndef LOAM_SPEECH_H
#define LOAM_SPEECH_H
#include <stddef.h>
#include <stdint.h>

#include "loam.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOAM_WHISPER_SAMPLE_RATE 16000
#define LOAM_WHISPER_WINDOW_FRAMES 3000 /* log-mel frames of one 30 s window */

/* ------------------------------------------------------------------ audio */

/* Reads an audio file (WAV, FLAC, OGG/Vorbis, Opus, MP3 through
 * libsndfile; "-" is stdin) into 16 kHz mono float samples: the mean of
 * the channels, resampled with libsoxr. max_seconds bounds the length
 * kept (0: no limit). Free *samples with loam_audio_free. */
LOAM_API loam_status loam_audio_load(const char *path, double max_seconds, float **samples, size_t *n, loam_error *err);
/* The same from a buffer (an upload); `name` names it in errors. */
LOAM_API loam_status loam_audio_load_memory(const void *data, size_t size, const char *name, double max_seconds,
                                            float **samples, size_t *n, loam_error *err);
LOAM_API void loam_audio_free(float *samples);

/* ------------------------------------------------------------------ model */

typedef struct loam_whisper loam_whisper;

typedef struct loam_whisper_params {
    int n_threads;   /* 0 = physical cores */
    loam_simd simd;  /* kernel level; AUTO picks from CPUID */
    int quant_exact; /* quantized weights: dequantize and compute in f32 */
    int keep_layout; /* weights as stored: no repacking at load into the kernels' layout (see
                        loam_model_params.keep_layout) */
} loam_whisper_params;

LOAM_API loam_whisper_params loam_whisper_default_params(void);
/* path: a hub folder (config.json, model.safetensors, generation_config.json,
 * tokenizer.json), a GGUF file (`loam synth --like whisper-*`), or a
 * whisper.cpp ggml-*.bin file (F32, F16 or quantized). */
LOAM_API loam_status loam_whisper_open(const char *path, const loam_whisper_params *params, loam_whisper **out,
                                       loam_error *err);
LOAM_API void loam_whisper_free(loam_whisper *w);
/* Whether path looks like a Whisper model (config.json's model_type, a
 * GGUF's general.architecture, a whisper.cpp file's magic), without
 * loading it. */
LOAM_API int loam_whisper_probe(const char *path);

typedef struct loam_whisper_info {
    int n_mels, n_audio_ctx, n_text_ctx, d_model, n_encoder_layers, n_decoder_layers, n_heads, n_vocab;
    int n_languages;  /* 0 for the English-only models */
    int has_text;     /* token ids can be turned into text (a tokenizer or a vocabulary) */
    const char *source; /* "hub folder", "gguf", "whisper.cpp" */
    const char *weight_type; /* of the largest matrices, e.g. "f16" */
} loam_whisper_info;
LOAM_API void loam_whisper_get_info(const loam_whisper *w, loam_whisper_info *info);

/* Bytes one decoder step reads: the decoder's weights (the cross K/V
 * projections excepted: they run once per window), the tied head, and one
 * row's reading of the cross-attention K/V; the bound of decode speed is
 * this over the machine's read bandwidth. */
LOAM_API uint64_t loam_whisper_decode_bytes(const loam_whisper *w);

/* ------------------------------------------------------------------ stages */

/* mel[n_mels, 3000] of one 30 s window of samples (zero-padded or
 * trimmed to 30 s, normalised with the window's own max), as
 * transformers' WhisperFeatureExtractor computes it. */
LOAM_API loam_status loam_whisper_mel(const loam_whisper *w, const float *samples, size_t n, float *mel,
                                      loam_error *err);
/* mel[n_mels, 3000] of the window starting at mel frame frame0 as
 * openai/whisper's transcribe() sees it: the log-mel of all n samples plus
 * 30 s of zeros, normalised with the one max over all of it. */
LOAM_API loam_status loam_whisper_mel_at(const loam_whisper *w, const float *samples, size_t n, int64_t frame0,
                                         float *mel, loam_error *err);
/* Runs the encoder on mel[n_mels, 3000] and computes every decoder
 * layer's cross-attention K/V from it; clears the decoder's cache. */
LOAM_API loam_status loam_whisper_encode(loam_whisper *w, const float *mel, loam_error *err);
/* [n_audio_ctx, d_model], valid after loam_whisper_encode. */
LOAM_API const float *loam_whisper_encoder_out(const loam_whisper *w);
/* Feeds tokens[n] at positions n_past.. of the decoder's sequence 0
 * (n_past 0 starts over) and computes the logits of every row. */
LOAM_API loam_status loam_whisper_decode(loam_whisper *w, const int32_t *tokens, int n, int n_past, loam_error *err);
/* Logits [n_vocab] of row i of the last loam_whisper_decode. */
LOAM_API const float *loam_whisper_logits(const loam_whisper *w, int i);
/* Language detection after loam_whisper_encode (openai's detect_language:
 * the logits after <|startoftranscript|>, over the language tokens).
 * probs[n_languages] may be NULL; returns the index of the language. */
LOAM_API loam_status loam_whisper_detect_language(loam_whisper *w, float *probs, int *lang, float *lang_logits,
                                                  loam_error *err);
/* Code ("en") and token id of language i < n_languages. */
LOAM_API const char *loam_whisper_lang_code(const loam_whisper *w, int i);
LOAM_API int loam_whisper_lang_index(const loam_whisper *w, const char *code);
/* The text of ids (timestamps and other special tokens left out) into
 * buf (NUL-terminated, truncated to cap); returns the full length. */
LOAM_API size_t loam_whisper_text(const loam_whisper *w, const int32_t *ids, int n, char *buf, size_t cap);

/* ------------------------------------------------------------------ full */

typedef enum { LOAM_WHISPER_TRANSCRIBE = 0, LOAM_WHISPER_TRANSLATE } loam_whisper_task;

/* A word with its times from the alignment heads (openai's word_timestamps). */
typedef struct loam_whisper_word {
    const char *word; /* with its leading space, punctuation merged as openai does */
    double start, end;
    float probability;
} loam_whisper_word;

typedef struct loam_whisper_segment {
    int id;
    double start, end; /* seconds */
    int64_t seek;      /* the window's first mel frame */
    const char *text;
    const int32_t *tokens; /* text and timestamp tokens */
    int n_tokens;
    float temperature, avg_logprob, compression_ratio, no_speech_prob;
    const loam_whisper_word *words; /* with word_timestamps, else NULL */
    int n_words;
} loam_whisper_segment;

/* Called once per segment as the windows are decoded; `done` is the
 * fraction of the audio decoded. Return nonzero to stop. */
typedef int (*loam_whisper_segment_cb)(const loam_whisper_segment *seg, double done, void *user);
/* Called once per decoded window with its sampled tokens (text and
 * timestamps, no <|endoftext|>) and the temperature that was kept. */
typedef void (*loam_whisper_window_cb)(int64_t seek, const int32_t *tokens, int n, float temperature, void *user);

typedef struct loam_whisper_full_params {
    const char *language;  /* "en", …; NULL or "auto": detected from the first window */
    loam_whisper_task task;
    int timestamps;        /* 1: timestamp tokens and segments (the default); 0: <|notimestamps|> */
    int beam_size;         /* 1 = greedy (default 5 at temperature 0, as openai's CLI) */
    int best_of;           /* candidates sampled at temperature > 0 (default 5) */
    float patience;        /* beam search patience (default 1.0) */
    float length_penalty;  /* < 0: the plain length normalisation (default) */
    float temperature;     /* the first temperature (default 0) */
    float temperature_inc; /* the fallback's step (default 0.2; 0 turns the fallback off) */
    float compression_ratio_threshold; /* default 2.4 */
    float logprob_threshold;           /* default −1 */
    float no_speech_threshold;         /* default 0.6 */
    int condition_on_previous_text;    /* default 1 */
    const char *initial_prompt;        /* or NULL */
    uint64_t seed;                     /* for sampling at temperature > 0 */
    int max_initial_timestamp_index;   /* −1: the model's (generation_config, else 50) */
    int word_timestamps;               /* words with times: DTW over the alignment heads' cross-attention */
    loam_whisper_segment_cb on_segment;
    loam_whisper_window_cb on_window;
    void *user;
} loam_whisper_full_params;

LOAM_API loam_whisper_full_params loam_whisper_full_default_params(void);

/* The decoder's prompt for the first window under params with language
 * index lang: [<|startofprev|> initial prompt…] <|startoftranscript|>
 * <|lang|> <|task|> [<|notimestamps|>]. Returns its length (at most cap
 * written), or −1 with err set. */
LOAM_API int loam_whisper_initial_tokens(loam_whisper *w, const loam_whisper_full_params *params, int lang,
                                         int32_t *out, int cap, loam_error *err);

typedef struct loam_whisper_result {
    int language;          /* index of the language used */
    float language_prob;   /* when detected, else 0 */
    int n_segments;
    loam_whisper_segment *segments;
    char *text; /* all segments' text */
    double duration; /* seconds of audio */
} loam_whisper_result;

/* Transcribes samples[n] (16 kHz mono) as openai/whisper's transcribe()
 * does: one global log-mel max, sequential 30 s windows advanced by the
 * last complete timestamp, each decoded with the temperature fallback and
 * conditioned on the text before it. The result is the caller's to free. */
LOAM_API loam_status loam_whisper_full(loam_whisper *w, const loam_whisper_full_params *params, const float *samples,
                                       size_t n, loam_whisper_result *result, loam_error *err);
LOAM_API void loam_whisper_result_free(loam_whisper_result *r);

/* The result as openai/whisper's writers print it: "txt", "srt", "vtt",
 * "tsv", or "json" (text, segments with their fields, language). A
 * malloc'ed string; NULL for an unknown format or out of memory. */
LOAM_API char *loam_whisper_format(const loam_whisper *w, const loam_whisper_result *r, const char *format);

#ifdef __cplusplus
}
#endif
#endif
