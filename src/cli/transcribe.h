/* What loam transcribe writes besides stdout: the --output files and the
 * --dump tensors. */
#ifndef LOAM_CLI_TRANSCRIBE_H
#define LOAM_CLI_TRANSCRIBE_H
#include <stddef.h>

#include "loam_speech.h"

enum { TR_TXT = 1, TR_SRT = 2, TR_VTT = 4, TR_JSON = 8, TR_TSV = 16 };

/* The bit of an --output name ("all": every one), 0 if unknown. */
unsigned tr_output_bit(const char *name);
/* Writes DIR/<AUDIO's name without extension>.<ext> for each output. */
int tr_write_outputs(const loam_whisper *w, const loam_whisper_result *r, unsigned outputs, const char *dir,
                     const char *audio);

/* --dump: the first window's mel (global max), encoder output, prompt
 * logits and language logits, taken before the transcription; its ids
 * from the first decoded window. */
typedef struct tr_dump {
    int n_mels, d_model, n_vocab, n_prompt, have_lang, have_ids, n_ids;
    float *mel, *enc, *logits, *lang_logits;
    int32_t *ids;
} tr_dump;
int tr_dump_begin(loam_whisper *w, const loam_whisper_full_params *p, const float *pcm, size_t n, tr_dump *d);
void tr_dump_window(tr_dump *d, int64_t seek, const int32_t *tokens, int n);
int tr_dump_finish(const tr_dump *d, const char *path);
void tr_dump_free(tr_dump *d);

#endif
