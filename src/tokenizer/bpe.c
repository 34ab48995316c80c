/* BPE as Hugging Face tokenizers runs it: a word starts as one symbol per
 * character (prefix/suffix decorations, byte fallback "<0xXX>", unknown
 * characters fused into one unk), then the lowest-ranked adjacent pair is
 * merged, leftmost first, until no pair has a merge. A binary heap over
 * pair positions keeps this O(n log n) in the word length. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

typedef struct {
    int32_t id;
    int prev, next; /* -1 at the ends */
    int alive;
} symbol;

typedef struct {
    int32_t rank, pos, merged;
} candidate;

typedef struct {
    candidate *v;
    int n, cap;
} heap;

static int before(const candidate *a, const candidate *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static int heap_push(heap *h, candidate c) {
    if (h->n == h->cap) {
        int cap = h->cap ? h->cap * 2 : 32;
        candidate *v = realloc(h->v, (size_t)cap * sizeof *v);
        if (!v) return 0;
        h->v = v;
        h->cap = cap;
    }
    int i = h->n++;
    h->v[i] = c;
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!before(&h->v[i], &h->v[parent])) break;
        candidate t = h->v[i];
        h->v[i] = h->v[parent];
        h->v[parent] = t;
        i = parent;
    }
    return 1;
}

static candidate heap_pop(heap *h) {
    candidate top = h->v[0];
    h->v[0] = h->v[--h->n];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && before(&h->v[l], &h->v[m])) m = l;
        if (r < h->n && before(&h->v[r], &h->v[m])) m = r;
        if (m == i) break;
        candidate t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
    return top;
}

static int push_pair(const loam_tokenizer *t, heap *h, const symbol *s, int pos) {
    if (pos < 0 || s[pos].next < 0) return 1;
    const tk_merge *m = tk_mergemap_get(&t->merges, s[pos].id, s[s[pos].next].id);
    return m ? heap_push(h, (candidate){m->rank, pos, m->merged}) : 1;
}

/* The initial symbols of a word, with the decorations and fallbacks. */
static int initial_symbols(const loam_tokenizer *t, const char *w, size_t n, symbol **out, int *n_out) {
    symbol *s = malloc((n * 4 + 1) * sizeof *s); /* byte fallback may give 4 per char */
    if (!s) return 0;
    int count = 0, pending_unk = 0;
    size_t plen = t->subword_prefix ? strlen(t->subword_prefix) : 0, slen = t->word_suffix ? strlen(t->word_suffix) : 0;
    char *tmp = malloc(plen + slen + 8);
    if (!tmp) {
        free(s);
        return 0;
    }
    for (size_t i = 0; i < n;) {
        size_t end = i;
        tk_utf8_next(w, n, &end);
        size_t len = 0;
        if (plen && i > 0) memcpy(tmp, t->subword_prefix, plen), len = plen;
        memcpy(tmp + len, w + i, end - i);
        len += end - i;
        if (slen && end == n) memcpy(tmp + len, t->word_suffix, slen), len += slen;
        int32_t id = tk_strmap_get(&t->vocab, tmp, len);
        if (id >= 0) {
            if (pending_unk) s[count++] = (symbol){t->unk_id, 0, 0, 1}, pending_unk = 0;
            s[count++] = (symbol){id, 0, 0, 1};
        } else {
            int done = 0;
            if (t->byte_fallback) {
                int all = 1;
                for (size_t k = 0; k < len && all; k++) all = t->byte_tokens[(unsigned char)tmp[k]] >= 0;
                if (all) {
                    if (pending_unk) s[count++] = (symbol){t->unk_id, 0, 0, 1}, pending_unk = 0;
                    for (size_t k = 0; k < len; k++) s[count++] = (symbol){t->byte_tokens[(unsigned char)tmp[k]], 0, 0, 1};
                    done = 1;
                }
            }
            if (!done && t->unk_id >= 0) {
                if (pending_unk && !t->fuse_unk) s[count++] = (symbol){t->unk_id, 0, 0, 1};
                pending_unk = 1;
            }
            /* no unk token: the character is dropped, as the reference does */
        }
        i = end;
    }
    if (pending_unk) s[count++] = (symbol){t->unk_id, 0, 0, 1};
    free(tmp);
    for (int i = 0; i < count; i++) s[i].prev = i - 1, s[i].next = i + 1 < count ? i + 1 : -1;
    *out = s;
    *n_out = count;
    return 1;
}

int tk_bpe_word(const loam_tokenizer *t, const char *w, size_t n, tk_ids *out) {
    if (n == 0) return 1;
    if (t->ignore_merges) {
        int32_t id = tk_strmap_get(&t->vocab, w, n);
        if (id >= 0) return tk_ids_push(out, id);
    }
    symbol *s;
    int count;
    if (!initial_symbols(t, w, n, &s, &count)) return 0;
    heap h = {0};
    int ok = 1;
    for (int i = 0; i + 1 < count && ok; i++) ok = push_pair(t, &h, s, i);
    while (ok && h.n > 0) {
        candidate c = heap_pop(&h);
        symbol *left = &s[c.pos];
        if (!left->alive || left->next < 0) continue;
        symbol *right = &s[left->next];
        const tk_merge *m = tk_mergemap_get(&t->merges, left->id, right->id);
        if (!m || m->merged != c.merged) continue; /* stale: a neighbour changed */
        left->id = c.merged;
        right->alive = 0;
        left->next = right->next;
        if (right->next >= 0) s[right->next].prev = c.pos;
        ok = push_pair(t, &h, s, left->prev) && push_pair(t, &h, s, c.pos);
    }
    for (int i = 0; ok && i >= 0 && i < count; i = s[i].next) ok = tk_ids_push(out, s[i].id);
    free(h.v);
    free(s);
    return ok;
}
