/* Word timestamps as openai/whisper's timing.py computes them: the window's
 * text tokens run through the decoder once more after [SOT, lang, task,
 * <|notimestamps|>], the alignment heads' cross-attention scores are kept
 * (softmax over the window's frames, standardised over tokens, a median
 * filter of width 7, averaged over heads), dynamic time warping aligns
 * tokens to 20 ms frames, tokens are grouped into words (on spaces, or per
 * character for the languages written without them), punctuation is merged
 * into its neighbours, and the segments' words get their times with
 * openai's corrections for over-long words. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "speech/search.h"

#define TOKENS_PER_SECOND 50.0 /* one encoder position per 20 ms */
#define MEDFILT_WIDTH 7

typedef struct timing {
    char *word;
    int32_t *tokens;
    int n_tokens;
    double start, end;
    float prob;
} timing;

/* ------------------------------------------------------------ the matrix */

/* softmax over frames [0, F), standardised over the T rows per frame, median
 * filtered along frames, averaged over heads: matrix[T, F] */
static void alignment_matrix(const float *scores, int n_heads, int T, int S, int F, double *matrix) {
    double *wgt = malloc(sizeof(double) * (size_t)T * F), *row = malloc(sizeof(double) * (size_t)(F + 2 * MEDFILT_WIDTH));
    if (!wgt || !row) {
        free(wgt), free(row);
        return;
    }
    memset(matrix, 0, sizeof(double) * (size_t)T * F);
    for (int h = 0; h < n_heads; h++) {
        for (int t = 0; t < T; t++) {
            const float *s = scores + ((size_t)h * T + t) * S;
            double max = -INFINITY, sum = 0;
            for (int f = 0; f < F; f++) max = fmax(max, s[f]);
            for (int f = 0; f < F; f++) sum += (wgt[(size_t)t * F + f] = exp(s[f] - max));
            for (int f = 0; f < F; f++) wgt[(size_t)t * F + f] /= sum;
        }
        for (int f = 0; f < F; f++) { /* torch.std_mean over tokens, unbiased=False */
            double mean = 0, var = 0;
            for (int t = 0; t < T; t++) mean += wgt[(size_t)t * F + f];
            mean /= T;
            for (int t = 0; t < T; t++) var += (wgt[(size_t)t * F + f] - mean) * (wgt[(size_t)t * F + f] - mean);
            double sd = sqrt(var / T);
            for (int t = 0; t < T; t++) wgt[(size_t)t * F + f] = (wgt[(size_t)t * F + f] - mean) / sd;
        }
        int pad = MEDFILT_WIDTH / 2;
        for (int t = 0; t < T; t++) {
            double *x = wgt + (size_t)t * F;
            if (F <= pad) { /* too short to pad by reflection: unfiltered, as openai */
                for (int f = 0; f < F; f++) matrix[(size_t)t * F + f] += x[f] / n_heads;
                continue;
            }
            for (int f = 0; f < F + 2 * pad; f++) { /* reflect padding (the edge not repeated) */
                int i = f - pad;
                if (i < 0) i = -i;
                if (i >= F) i = 2 * (F - 1) - i;
                row[f] = x[i];
            }
            for (int f = 0; f < F; f++) {
                double win[MEDFILT_WIDTH];
                for (int k = 0; k < MEDFILT_WIDTH; k++) win[k] = row[f + k];
                for (int a = 1; a < MEDFILT_WIDTH; a++) /* insertion sort of 7 */
                    for (int b = a; b > 0 && win[b - 1] > win[b]; b--) {
                        double tmp = win[b];
                        win[b] = win[b - 1], win[b - 1] = tmp;
                    }
                matrix[(size_t)t * F + f] += win[pad] / n_heads;
            }
        }
    }
    free(wgt), free(row);
}

/* openai's dtw_cpu over cost x[N, M]: the path's row and column per step. */
int whisper_dtw(const double *x, int N, int M, int *rows, int *cols) {
    double *cost = malloc(sizeof(double) * (size_t)(N + 1) * (M + 1));
    signed char *trace = malloc((size_t)(N + 1) * (M + 1));
    if (!cost || !trace) {
        free(cost), free(trace);
        return 0;
    }
#define C(i, j) cost[(size_t)(i) * (M + 1) + (j)]
#define TR(i, j) trace[(size_t)(i) * (M + 1) + (j)]
    for (size_t i = 0; i < (size_t)(N + 1) * (M + 1); i++) cost[i] = INFINITY, trace[i] = -1;
    C(0, 0) = 0;
    for (int j = 1; j <= M; j++)
        for (int i = 1; i <= N; i++) {
            double c0 = C(i - 1, j - 1), c1 = C(i - 1, j), c2 = C(i, j - 1), c;
            int t;
            if (c0 < c1 && c0 < c2) c = c0, t = 0;
            else if (c1 < c0 && c1 < c2) c = c1, t = 1;
            else c = c2, t = 2;
            C(i, j) = x[(size_t)(i - 1) * M + (j - 1)] + c;
            TR(i, j) = (signed char)t;
        }
    for (int j = 0; j <= M; j++) TR(0, j) = 2;
    for (int i = 0; i <= N; i++) TR(i, 0) = 1;
    int i = N, j = M, n = 0;
    while (i > 0 || j > 0) {
        rows[n] = i - 1, cols[n] = j - 1, n++;
        int t = TR(i, j);
        if (t == 0) i--, j--;
        else if (t == 1) i--;
        else j--;
    }
#undef C
#undef TR
    for (int a = 0, b = n - 1; a < b; a++, b--) { /* reversed: from the start */
        int r = rows[a], c = cols[a];
        rows[a] = rows[b], cols[a] = cols[b], rows[b] = r, cols[b] = c;
    }
    free(cost), free(trace);
    return n;
}

/* ------------------------------------------------------------- the words */

/* The text of ids, as openai's decode with errors="replace" (U+FFFD for a
 * partial character); malloc'ed. */
static char *decode(const loam_whisper *w, const int32_t *ids, int n) {
    if (w->tok) {
        char *out = NULL;
        size_t len = 0;
        loam_error e;
        if (loam_detokenize(w->tok, ids, n, 0, &out, &len, &e) == LOAM_OK) return out;
        return strdup("");
    }
    size_t len = loam_whisper_text(w, ids, n, NULL, 0);
    char *s = malloc(len + 1);
    if (s) loam_whisper_text(w, ids, n, s, len + 1);
    return s;
}

static int utf8_complete(const char *s) { /* no partial character at the end (raw byte vocabularies) */
    size_t n = strlen(s);
    for (size_t back = 0; back < 4 && back < n; back++) {
        unsigned char c = (unsigned char)s[n - 1 - back];
        if ((c & 0xC0) == 0x80) continue;
        int need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return (int)back + 1 >= need;
    }
    return n == 0;
}

static int push_word(timing **words, int *n, int *cap, const char *text, const int32_t *ids, int k, int append) {
    if (append && *n > 0) {
        timing *t = &(*words)[*n - 1];
        char *s = realloc(t->word, strlen(t->word) + strlen(text) + 1);
        int32_t *tk = realloc(t->tokens, sizeof(int32_t) * (size_t)(t->n_tokens + k));
        if (!s || !tk) return free(s == t->word ? NULL : s), 0;
        strcat(s, text);
        memcpy(tk + t->n_tokens, ids, sizeof(int32_t) * (size_t)k);
        t->word = s, t->tokens = tk, t->n_tokens += k;
        return 1;
    }
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 32;
        timing *p = realloc(*words, sizeof *p * (size_t)c);
        if (!p) return 0;
        *words = p, *cap = c;
    }
    timing *t = &(*words)[(*n)++];
    *t = (timing){strdup(text), malloc(sizeof(int32_t) * (size_t)(k > 0 ? k : 1)), k, 0, 0, 0};
    if (!t->word || !t->tokens) return 0;
    memcpy(t->tokens, ids, sizeof(int32_t) * (size_t)k);
    return 1;
}

/* openai's split_tokens_on_unicode, then (for languages with spaces)
 * split_tokens_on_spaces. */
static int split_words(const loam_whisper *w, const char *lang, const int32_t *ids, int n, timing **out) {
    static const char *punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    int per_char = lang && (!strcmp(lang, "zh") || !strcmp(lang, "ja") || !strcmp(lang, "th") || !strcmp(lang, "lo") ||
                            !strcmp(lang, "my") || !strcmp(lang, "yue"));
    char *full = decode(w, ids, n);
    timing *words = NULL;
    int n_words = 0, cap = 0, start = 0, ok = full != NULL;
    size_t offset = 0;
    for (int i = 0; ok && i < n; i++) {
        char *piece = decode(w, ids + start, i + 1 - start);
        if (!piece) break;
        const char *bad = w->tok ? strstr(piece, "\xEF\xBF\xBD") : NULL;
        int done = w->tok ? !bad || (offset + (size_t)(bad - piece) + 3 <= strlen(full) &&
                                     !memcmp(full + offset + (bad - piece), "\xEF\xBF\xBD", 3))
                          : utf8_complete(piece) || i == n - 1;
        if (done) {
            const char *p = piece;
            while (*p == ' ' || *p == '\t' || *p == '\n') p++;
            size_t len = strlen(p);
            while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\n')) len--;
            char stripped[64] = {0};
            int is_punct = len < sizeof stripped && (memcpy(stripped, p, len), strstr(punct, stripped) != NULL);
            int new_word = per_char || ids[start] >= w->sp.eot || piece[0] == ' ' || is_punct || n_words == 0;
            ok = push_word(&words, &n_words, &cap, piece, ids + start, i + 1 - start, !new_word);
            offset += strlen(piece);
            start = i + 1;
        }
        free(piece);
    }
    free(full);
    *out = words;
    return ok ? n_words : -n_words - 1;
}

static void free_timings(timing *t, int n) {
    for (int i = 0; t && i < n; i++) free(t[i].word), free(t[i].tokens);
    free(t);
}

/* Python's `word.strip() in marks`: a substring test (the empty word passes). */
static int stripped_in(const char *word, const char *marks) {
    while (*word == ' ' || *word == '\t' || *word == '\n') word++;
    size_t len = strlen(word);
    while (len && (word[len - 1] == ' ' || word[len - 1] == '\t' || word[len - 1] == '\n')) len--;
    char buf[64];
    if (len >= sizeof buf) return 0;
    memcpy(buf, word, len), buf[len] = 0;
    return strstr(marks, buf) != NULL;
}

/* b's word and tokens appended to a's (a first when before is 0) */
static int join(timing *a, timing *b, int b_first) {
    size_t l = strlen(a->word) + strlen(b->word) + 1;
    char *s = malloc(l);
    int32_t *tk = malloc(sizeof(int32_t) * (size_t)(a->n_tokens + b->n_tokens + 1));
    if (!s || !tk) return free(s), free(tk), 0;
    const timing *x = b_first ? b : a, *y = b_first ? a : b;
    snprintf(s, l, "%s%s", x->word, y->word);
    memcpy(tk, x->tokens, sizeof(int32_t) * (size_t)x->n_tokens);
    memcpy(tk + x->n_tokens, y->tokens, sizeof(int32_t) * (size_t)y->n_tokens);
    free(a->word), free(a->tokens);
    a->word = s, a->tokens = tk, a->n_tokens = x->n_tokens + y->n_tokens;
    b->word[0] = 0, b->n_tokens = 0;
    return 1;
}

/* openai's merge_punctuations: opening marks join the next word, closing ones the previous. */
static void merge_punctuations(timing *a, int n) {
    static const char *prepended = "\"'\xE2\x80\x9C\xC2\xBF([{-";
    static const char *appended = "\"'.\xE3\x80\x82,\xEF\xBC\x8C!\xEF\xBC\x81?\xEF\xBC\x9F:\xEF\xBC\x9A\xE2\x80\x9D)]}\xE3\x80\x81";
    for (int i = n - 2, j = n - 1; i >= 0; i--) {
        if (a[i].word[0] == ' ' && stripped_in(a[i].word, prepended)) join(&a[j], &a[i], 1);
        else j = i;
    }
    for (int i = 0, j = 1; j < n; j++) {
        size_t pl = strlen(a[i].word);
        if ((pl == 0 || a[i].word[pl - 1] != ' ') && strstr(appended, a[j].word)) join(&a[i], &a[j], 0);
        else i = j;
    }
}

/* openai's find_alignment for text[n] of the window the encoder last ran on. */
static loam_status find_alignment(loam_whisper *w, int lang, loam_whisper_task task, const int32_t *text, int n,
                                  int num_frames, timing **out, int *n_out, loam_error *err) {
    *out = NULL, *n_out = 0;
    const whisper_special *sp = &w->sp;
    int S = w->hp.n_audio_ctx, V = w->hp.n_vocab;
    search_opts o = {.lang = lang, .task = task, .timestamps = 1};
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)(n + 8));
    int32_t *pos = malloc(sizeof(int32_t) * (size_t)(n + 8)), *seq = calloc((size_t)(n + 8), sizeof(int32_t));
    uint8_t *want = calloc((size_t)(n + 8), 1);
    if (!tok || !pos || !seq || !want) return free(tok), free(pos), free(seq), free(want), loam_fail(err, LOAM_E_NOMEM, "out of memory");
    int sot_index = 0, L = whisper_initial_tokens(w, &o, tok, &sot_index); /* SOT, lang, task */
    int n_sot = L;
    tok[L++] = sp->no_timestamps;
    memcpy(tok + L, text, sizeof(int32_t) * (size_t)n), L += n;
    tok[L++] = sp->eot;
    for (int i = 0; i < L; i++) pos[i] = i, want[i] = i >= n_sot && i < n_sot + n;
    loam_status st = L <= w->hp.n_text_ctx ? LOAM_OK : loam_fail(err, LOAM_E_RANGE, "word timestamps: %d tokens in one window", n);
    float *scores = st ? NULL : malloc(sizeof(float) * (size_t)w->n_align * L * S);
    if (!st && !scores) st = loam_fail(err, LOAM_E_NOMEM, "word timestamps: out of memory");
    if (!st) {
        loam_kv_seq_clear_all(&w->kv, 0);
        w->align_scores = scores;
        st = whisper_decode_rows(w, tok, pos, seq, L, want, err);
        w->align_scores = NULL;
    }
    float *probs = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    int F = num_frames / 2 < S ? num_frames / 2 : S;
    double *matrix = malloc(sizeof(double) * (size_t)L * (F > 0 ? F : 1));
    int *rows = malloc(sizeof(int) * (size_t)(L + F + 2)), *cols = malloc(sizeof(int) * (size_t)(L + F + 2));
    if (!st && (!probs || !matrix || !rows || !cols)) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    timing *words = NULL;
    int n_words = 0;
    if (!st && F > 0) {
        /* each text token's probability among the text tokens (ids < EOT) */
        for (int k = 0; k < n; k++) {
            const float *lg = w->logits + (size_t)k * V;
            double max = -INFINITY, sum = 0;
            for (int i = 0; i < sp->eot; i++) max = fmax(max, lg[i]);
            for (int i = 0; i < sp->eot; i++) sum += exp(lg[i] - max);
            probs[k] = (float)(exp(lg[text[k]] - max) / sum);
        }
        alignment_matrix(scores, w->n_align, L, S, F, matrix);
        /* rows n_sot .. L − 2: <|notimestamps|> and the text tokens; DTW on −matrix */
        int M = L - 1 - n_sot;
        double *cost = matrix + (size_t)n_sot * F;
        for (size_t i = 0; i < (size_t)M * F; i++) cost[i] = -cost[i];
        int steps = whisper_dtw(cost, M, F, rows, cols);
        int32_t *with_eot = malloc(sizeof(int32_t) * (size_t)(n + 1));
        if (with_eot) memcpy(with_eot, text, sizeof(int32_t) * (size_t)n), with_eot[n] = sp->eot;
        n_words = with_eot ? split_words(w, whisper_lang_code(lang), with_eot, n + 1, &words) : -1;
        free(with_eot);
        if (n_words < 0) n_words = -n_words - 1, st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
        /* jump_times: the time of each text row's first frame on the path */
        double *jump = malloc(sizeof(double) * (size_t)(M + 1));
        int n_jump = 0;
        for (int k = 0; jump && k < steps; k++)
            if (k == 0 || rows[k] != rows[k - 1]) jump[n_jump++] = cols[k] / TOKENS_PER_SECOND;
        int at = 0;
        for (int k = 0; !st && jump && k + 1 < n_words; k++) { /* the last word is <|endoftext|> */
            int end = at + words[k].n_tokens;
            words[k].start = at < n_jump ? jump[at] : 0, words[k].end = end < n_jump ? jump[end] : words[k].start;
            double p = 0;
            for (int i = at; i < end && i < n; i++) p += probs[i];
            words[k].prob = end > at ? (float)(p / (end - at)) : 0;
            at = end;
        }
        free(jump);
        if (n_words > 0) free(words[n_words - 1].word), free(words[n_words - 1].tokens), n_words--;
    }
    free(tok), free(pos), free(seq), free(want), free(scores), free(probs), free(matrix), free(rows), free(cols);
    if (st) return free_timings(words, n_words), st;
    *out = words, *n_out = n_words;
    return LOAM_OK;
}

static int by_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double round2(double x) { return round(x * 100.0) / 100.0; }

/* openai's add_word_timestamps over one window's segments. */
loam_status whisper_add_word_timestamps(loam_whisper *w, int lang, loam_whisper_task task, loam_whisper_segment *segs,
                                        int n_segs, int num_frames, double *last_speech, loam_error *err) {
    if (n_segs <= 0) return LOAM_OK;
    int n = 0;
    for (int i = 0; i < n_segs; i++)
        for (int k = 0; k < segs[i].n_tokens; k++) n += segs[i].tokens[k] < w->sp.eot;
    int32_t *text = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    if (!text) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    n = 0;
    for (int i = 0; i < n_segs; i++)
        for (int k = 0; k < segs[i].n_tokens; k++)
            if (segs[i].tokens[k] < w->sp.eot) text[n++] = segs[i].tokens[k];
    timing *a = NULL;
    int na = 0;
    loam_status st = n > 0 ? find_alignment(w, lang, task, text, n, num_frames, &a, &na, err) : LOAM_OK;
    free(text);
    if (st) return st;
    /* the median word duration (at most 0.7 s) and twice it, the longest a word may be */
    double *dur = malloc(sizeof(double) * (size_t)(na > 0 ? na : 1)), median = 0;
    int nd = 0;
    for (int i = 0; dur && i < na; i++)
        if (a[i].end - a[i].start > 0) dur[nd++] = a[i].end - a[i].start;
    if (nd) qsort(dur, (size_t)nd, sizeof *dur, by_double), median = fmin(0.7, nd % 2 ? dur[nd / 2] : (dur[nd / 2 - 1] + dur[nd / 2]) / 2);
    free(dur);
    double max_dur = median * 2;
    if (na > 0) { /* truncate long words at sentence boundaries */
        const char *ends = ".\xE3\x80\x82!\xEF\xBC\x81?\xEF\xBC\x9F";
        for (int i = 1; i < na; i++)
            if (a[i].end - a[i].start > max_dur) {
                if (a[i].word[0] && strstr(ends, a[i].word)) a[i].end = a[i].start + max_dur;
                else if (a[i - 1].word[0] && strstr(ends, a[i - 1].word)) a[i].start = a[i].end - max_dur;
            }
    }
    merge_punctuations(a, na);
    double offset = (double)segs[0].seek * MEL_HOP / MEL_SAMPLE_RATE;
    int wi = 0;
    for (int si = 0; !st && si < n_segs; si++) {
        loam_whisper_segment *seg = &segs[si];
        int want = 0, saved = 0, nw = 0;
        for (int k = 0; k < seg->n_tokens; k++) want += seg->tokens[k] < w->sp.eot;
        loam_whisper_word *words = calloc((size_t)(na > 0 ? na : 1), sizeof *words);
        if (!words) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
        while (!st && wi < na && saved < want) {
            const timing *t = &a[wi];
            if (t->word[0])
                words[nw++] = (loam_whisper_word){strdup(t->word), round2(offset + t->start), round2(offset + t->end), t->prob};
            saved += t->n_tokens, wi++;
        }
        if (nw > 0) {
            loam_whisper_word *f = &words[0], *l = &words[nw - 1];
            /* the first (and second) word after a pause no longer than twice the median */
            if (f->end - *last_speech > median * 4 &&
                (f->end - f->start > max_dur || (nw > 1 && words[1].end - f->start > max_dur * 2))) {
                if (nw > 1 && words[1].end - words[1].start > max_dur) {
                    double b = fmax(words[1].end / 2, words[1].end - max_dur);
                    f->end = words[1].start = b;
                }
                f->start = fmax(0, f->end - max_dur);
            }
            /* the segment's start when the first word is too long, else the word's */
            if (seg->start < f->end && seg->start - 0.5 > f->start) f->start = fmax(0, fmin(f->end - median, seg->start));
            else seg->start = f->start;
            if (seg->end > l->start && seg->end + 0.5 < l->end) l->end = fmax(l->start + median, seg->end);
            else seg->end = l->end;
            *last_speech = seg->end;
        }
        seg->words = words, seg->n_words = nw;
    }
    free_timings(a, na);
    return st;
}

void whisper_words_free(loam_whisper_segment *s) {
    for (int i = 0; s->words && i < s->n_words; i++) free((char *)s->words[i].word);
    free((loam_whisper_word *)s->words);
    s->words = NULL, s->n_words = 0;
}
