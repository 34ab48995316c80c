/* Decoding one 30 s window (openai/whisper's DecodingTask): the prompt,
 * then greedy, sampled (best of N) or beam search under the logit rules,
 * each candidate in its own KV sequence. */
#ifndef LOAM_SPEECH_SEARCH_H
#define LOAM_SPEECH_SEARCH_H
#include "speech/whisper.h"

#define SEARCH_MAX_TOKENS 448

typedef struct search_opts {
    int lang; /* index, or −1 for an English-only model */
    loam_whisper_task task;
    int timestamps;
    int beam_size; /* used at temperature 0 (1 = greedy) */
    int best_of;   /* used at temperature > 0 */
    float patience, length_penalty, temperature;
    int max_initial_ts;
    const int32_t *prompt; /* previous text (or the initial prompt), or NULL */
    int n_prompt;
    uint64_t *rng; /* state of the sampler's generator */
} search_opts;

typedef struct search_result {
    int32_t tokens[SEARCH_MAX_TOKENS]; /* sampled tokens without <|endoftext|> */
    int n_tokens;
    float sum_logprob, avg_logprob, no_speech_prob, compression_ratio, temperature;
} search_result;

/* Decodes the window loam_whisper_encode last ran on. */
loam_status whisper_search(loam_whisper *w, const search_opts *o, search_result *res, loam_error *err);

/* The initial tokens of a window under o into out[SEARCH_MAX_TOKENS];
 * returns their count and the index of <|startoftranscript|>. */
int whisper_initial_tokens(const loam_whisper *w, const search_opts *o, int32_t *out, int *sot_index);

/* len(text) / len(zlib(text)) of the tokens' text, as openai/whisper. */
float whisper_compression_ratio(const loam_whisper *w, const int32_t *ids, int n);

#endif
