/* loam transcribe's files (formatted by loam_whisper_format, as
 * openai/whisper's writers do) and the --dump tensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "transcribe.h"

unsigned tr_output_bit(const char *name) {
    static const char *names[] = {"txt", "srt", "vtt", "json", "tsv"};
    if (!strcmp(name, "all")) return TR_TXT | TR_SRT | TR_VTT | TR_JSON | TR_TSV;
    for (unsigned i = 0; i < 5; i++)
        if (!strcmp(name, names[i])) return 1u << i;
    return 0;
}

int tr_write_outputs(const loam_whisper *w, const loam_whisper_result *r, unsigned outputs, const char *dir,
                     const char *audio) {
    static const char *ext[] = {"txt", "srt", "vtt", "json", "tsv"}; /* in TR_* bit order */
    char base[1024];
    const char *slash = strrchr(audio, '/');
    snprintf(base, sizeof base, "%s", !strcmp(audio, "-") ? "stdin" : slash ? slash + 1 : audio);
    char *dot = strrchr(base, '.');
    if (dot && dot != base) *dot = 0;
    for (unsigned i = 0; i < 5; i++) {
        if (!(outputs & (1u << i))) continue;
        char path[2200];
        snprintf(path, sizeof path, "%s/%s.%s", dir, base, ext[i]);
        char *text = loam_whisper_format(w, r, ext[i]);
        if (!text) return cli_error("out of memory formatting %s", path);
        FILE *f = fopen(path, "w");
        int ok = f && fputs(text, f) >= 0;
        free(text);
        if (!f || fclose(f) || !ok) return cli_error("cannot write %s", path);
        fprintf(stderr, "wrote %s\n", path);
    }
    return 0;
}

/* ----------------------------------------------------------------- dump */

int tr_dump_begin(loam_whisper *w, const loam_whisper_full_params *p, const float *pcm, size_t n, tr_dump *d) {
    loam_whisper_info info;
    loam_whisper_get_info(w, &info);
    memset(d, 0, sizeof *d);
    d->n_mels = info.n_mels, d->d_model = info.d_model, d->n_vocab = info.n_vocab;
    size_t frames = LOAM_WHISPER_WINDOW_FRAMES;
    d->mel = malloc(sizeof(float) * (size_t)info.n_mels * frames);
    d->enc = malloc(sizeof(float) * (size_t)info.n_audio_ctx * (size_t)info.d_model);
    d->lang_logits = malloc(sizeof(float) * (size_t)info.n_vocab);
    if (!d->mel || !d->enc || !d->lang_logits) return cli_error("--dump: out of memory");
    loam_error err = {0};
    if (loam_whisper_mel_at(w, pcm, n, 0, d->mel, &err) || loam_whisper_encode(w, d->mel, &err))
        return cli_error_status(&err);
    memcpy(d->enc, loam_whisper_encoder_out(w), sizeof(float) * (size_t)info.n_audio_ctx * (size_t)info.d_model);
    int lang = 0;
    if (info.n_languages > 0 && (!p->language || !strcmp(p->language, "auto"))) {
        if (loam_whisper_detect_language(w, NULL, &lang, d->lang_logits, &err)) return cli_error_status(&err);
        d->have_lang = 1;
    } else if (info.n_languages > 0) {
        lang = loam_whisper_lang_index(w, p->language);
        if (lang < 0) return cli_error("unknown language \"%s\"", p->language);
    }
    int32_t prompt[512];
    d->n_prompt = loam_whisper_initial_tokens(w, p, lang, prompt, 512, &err);
    if (d->n_prompt < 0) return cli_error_status(&err);
    if (loam_whisper_decode(w, prompt, d->n_prompt, 0, &err)) return cli_error_status(&err);
    d->logits = malloc(sizeof(float) * (size_t)d->n_prompt * (size_t)info.n_vocab);
    if (!d->logits) return cli_error("--dump: out of memory");
    for (int i = 0; i < d->n_prompt; i++)
        memcpy(d->logits + (size_t)i * info.n_vocab, loam_whisper_logits(w, i), sizeof(float) * (size_t)info.n_vocab);
    return 0;
}

void tr_dump_window(tr_dump *d, int64_t seek, const int32_t *tokens, int n) {
    if (d->have_ids || seek != 0) return;
    d->ids = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    if (!d->ids) return;
    memcpy(d->ids, tokens, sizeof(int32_t) * (size_t)n);
    d->n_ids = n, d->have_ids = 1;
}

int tr_dump_finish(const tr_dump *d, const char *path) {
    loam_named_tensor t[5];
    int k = 0;
    t[k++] = (loam_named_tensor){"mel", LOAM_DTYPE_F32, 2, {d->n_mels, LOAM_WHISPER_WINDOW_FRAMES}, d->mel};
    t[k++] = (loam_named_tensor){"encoder_out", LOAM_DTYPE_F32, 2, {1500, d->d_model}, d->enc};
    t[k++] = (loam_named_tensor){"decoder_logits", LOAM_DTYPE_F32, 2, {d->n_prompt, d->n_vocab}, d->logits};
    if (d->have_lang) t[k++] = (loam_named_tensor){"lang_logits", LOAM_DTYPE_F32, 1, {d->n_vocab}, d->lang_logits};
    if (d->have_ids && d->n_ids > 0) t[k++] = (loam_named_tensor){"ids", LOAM_DTYPE_I32, 1, {d->n_ids}, d->ids};
    loam_error err = {0};
    if (loam_write_safetensors(path, t, k, &err)) return cli_error_status(&err);
    fprintf(stderr, "dumped %d tensors to %s\n", k, path);
    return 0;
}

void tr_dump_free(tr_dump *d) {
    free(d->mel), free(d->enc), free(d->logits), free(d->lang_logits), free(d->ids);
    memset(d, 0, sizeof *d);
}
