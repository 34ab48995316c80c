/* Unigram (SentencePiece's other model, used by T5): the segmentation with
 * the highest total piece score, by Viterbi over byte positions. A
 * character no piece starts with becomes unk (scored min - 10, as the
 * reference does); consecutive unks fuse into one. */
#include <float.h>
#include <stdlib.h>

#include "tokenizer/tokenizer.h"

typedef struct {
    double score;
    int32_t id;
    int32_t start; /* -1: not reached */
} node;

int tk_unigram_word(const loam_tokenizer *t, const char *w, size_t n, tk_ids *out) {
    if (n == 0) return 1;
    node *best = malloc((n + 1) * sizeof *best);
    if (!best) return 0;
    for (size_t i = 0; i <= n; i++) best[i] = (node){0, -1, -1};
    best[0].start = 0;
    double unk_score = (double)t->min_score - 10.0;
    for (size_t at = 0; at < n;) {
        size_t next = at;
        tk_utf8_next(w, n, &next);
        size_t char_len = next - at;
        if (best[at].start >= 0) {
            double base = best[at].score;
            int single = 0;
            for (size_t len = 1; len <= t->max_piece_len && at + len <= n; len++) {
                int32_t id = tk_strmap_get(&t->vocab, w + at, len);
                if (id < 0) continue;
                double sc = base + t->scores[id];
                node *target = &best[at + len];
                if (target->start < 0 || sc > target->score) *target = (node){sc, id, (int32_t)at};
                if (len == char_len) single = 1;
            }
            if (!single) {
                node *target = &best[next];
                double sc = base + unk_score;
                if (target->start < 0 || sc > target->score) *target = (node){sc, t->unk_id, (int32_t)at};
            }
        }
        at = next;
    }
    /* walk back from the end, then emit in order (fusing unks) */
    int count = 0;
    for (size_t at = n; at > 0; at = (size_t)best[at].start) count++;
    int32_t *ids = malloc((size_t)(count ? count : 1) * sizeof *ids);
    if (!ids) {
        free(best);
        return 0;
    }
    int k = count;
    for (size_t at = n; at > 0; at = (size_t)best[at].start) ids[--k] = best[at].id;
    int ok = 1;
    for (int i = 0; ok && i < count; i++) {
        if (ids[i] == t->unk_id && i > 0 && ids[i - 1] == t->unk_id) continue;
        ok = tk_ids_push(out, ids[i]);
    }
    free(ids);
    free(best);
    return ok;
}
