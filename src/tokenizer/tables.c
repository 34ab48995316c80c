/* Hash tables and byte strings for the tokenizer. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

int tk_buf_put(tk_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return 0;
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 1;
}

int tk_buf_putc(tk_buf *b, char c) { return tk_buf_put(b, &c, 1); }

void tk_buf_free(tk_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

int tk_ids_push(tk_ids *v, int32_t id) {
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 64;
        int32_t *p = realloc(v->ids, (size_t)cap * sizeof *p);
        if (!p) return 0;
        v->ids = p;
        v->cap = cap;
    }
    v->ids[v->n++] = id;
    return 1;
}

uint64_t tk_hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

int tk_strmap_init(tk_strmap *m, uint32_t n, const char *const *strs, const uint32_t *lens) {
    uint32_t cap = 16;
    while (cap < n * 2u + 16u) cap *= 2;
    m->cap = cap;
    m->slots = malloc((size_t)cap * sizeof *m->slots);
    m->strs = strs;
    m->lens = lens;
    if (!m->slots) return 0;
    memset(m->slots, 0xff, (size_t)cap * sizeof *m->slots);
    return 1;
}

int tk_strmap_add(tk_strmap *m, int32_t id) {
    const char *s = m->strs[id];
    uint32_t n = m->lens[id];
    for (uint32_t i = (uint32_t)tk_hash(s, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        int32_t at = m->slots[i];
        if (at < 0) {
            m->slots[i] = id;
            return 1;
        }
        if (m->lens[at] == n && memcmp(m->strs[at], s, n) == 0) return 1;
    }
}

int32_t tk_strmap_get(const tk_strmap *m, const char *s, size_t n) {
    if (!m->slots) return -1;
    for (uint32_t i = (uint32_t)tk_hash(s, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        int32_t at = m->slots[i];
        if (at < 0) return -1;
        if (m->lens[at] == n && memcmp(m->strs[at], s, n) == 0) return at;
    }
}

void tk_strmap_free(tk_strmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static uint32_t merge_slot(uint64_t key, uint32_t cap) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (uint32_t)key & (cap - 1);
}

int tk_mergemap_init(tk_mergemap *m, uint32_t n) {
    uint32_t cap = 16;
    while (cap < n * 2u + 16u) cap *= 2;
    m->cap = cap;
    m->slots = malloc((size_t)cap * sizeof *m->slots);
    if (!m->slots) return 0;
    for (uint32_t i = 0; i < cap; i++) m->slots[i].key = UINT64_MAX;
    return 1;
}

int tk_mergemap_add(tk_mergemap *m, int32_t a, int32_t b, int32_t rank, int32_t merged) {
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    for (uint32_t i = merge_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].key == UINT64_MAX) {
            m->slots[i] = (tk_merge){key, rank, merged};
            return 1;
        }
        if (m->slots[i].key == key) return 1; /* the first (best) rank wins */
    }
}

const tk_merge *tk_mergemap_get(const tk_mergemap *m, int32_t a, int32_t b) {
    if (!m->slots) return NULL;
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    for (uint32_t i = merge_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].key == UINT64_MAX) return NULL;
        if (m->slots[i].key == key) return &m->slots[i];
    }
}

void tk_mergemap_free(tk_mergemap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- UTF-8 */
int tk_utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) return 2;
    if ((c & 0xf0) == 0xe0) return 3;
    if ((c & 0xf8) == 0xf0) return 4;
    return 1;
}

size_t tk_utf8_encode(uint32_t cp, char *o) {
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000)
        return o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[2] = (char)(0x80 | (cp & 0x3f)), 3;
    o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

uint32_t tk_utf8_next(const char *s, size_t n, size_t *i) {
    const unsigned char *u = (const unsigned char *)s;
    size_t at = *i;
    int len = tk_utf8_len(u[at]);
    if (at + (size_t)len > n) {
        *i = at + 1;
        return 0xfffd;
    }
    uint32_t cp = len == 1 ? u[at] : len == 2 ? u[at] & 0x1fu : len == 3 ? u[at] & 0x0fu : u[at] & 0x07u;
    for (int k = 1; k < len; k++) {
        if ((u[at + k] & 0xc0) != 0x80) {
            *i = at + 1;
            return 0xfffd;
        }
        cp = cp << 6 | (u[at + k] & 0x3fu);
    }
    *i = at + (size_t)len;
    return cp;
}


/* GPT-2's byte map: printable bytes stand for themselves; the 68 others
 * (0x00-0x20, 0x7f-0xa0, 0xad) get code points 256.. in byte order. */
static int printable(int b) { return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff); }

uint32_t tk_byte_to_cp(unsigned char b) {
    if (printable(b)) return b;
    if (b <= 0x20) return 256u + b;
    if (b >= 0x7f && b <= 0xa0) return 256u + 33u + (b - 0x7fu);
    return 256u + 33u + 34u; /* 0xad */
}

int tk_cp_to_byte(uint32_t cp) {
    if (cp < 256) return printable((int)cp) ? (int)cp : -1;
    if (cp < 256 + 33) return (int)(cp - 256);
    if (cp < 256 + 33 + 34) return (int)(0x7f + cp - 256 - 33);
    if (cp == 256 + 33 + 34) return 0xad;
    return -1;
}

char *tk_memdup(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}
