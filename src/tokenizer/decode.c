/* Decoders turn token strings back into text, each step mapping the list
 * of strings to a new list, as Hugging Face's decode_chain does. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    char **s;
    size_t *len;
    int n, cap;
} strlist;

static int sl_push(strlist *l, const char *s, size_t n) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 32;
        char **ns = realloc(l->s, (size_t)cap * sizeof *ns);
        if (!ns) return 0;
        l->s = ns;
        size_t *nl = realloc(l->len, (size_t)cap * sizeof *nl);
        if (!nl) return 0;
        l->len = nl;
        l->cap = cap;
    }
    char *c = malloc(n + 1);
    if (!c) return 0;
    memcpy(c, s, n);
    c[n] = 0;
    l->s[l->n] = c;
    l->len[l->n++] = n;
    return 1;
}

static void sl_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    free(l->len);
    memset(l, 0, sizeof *l);
}

/* UTF-8 that is not valid becomes U+FFFD per maximal bad sequence (as
 * Rust's from_utf8_lossy). */
static int put_lossy(tk_buf *b, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        size_t need = c < 0x80 ? 1 : (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3 : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
        size_t k = 1;
        if (need > 1) {
            for (; k < need && i + k < n; k++) {
                unsigned char lo = 0x80, hi = 0xbf;
                if (k == 1 && c == 0xe0) lo = 0xa0;
                if (k == 1 && c == 0xed) hi = 0x9f;
                if (k == 1 && c == 0xf0) lo = 0x90;
                if (k == 1 && c == 0xf4) hi = 0x8f;
                if (u[i + k] < lo || u[i + k] > hi) break;
            }
        }
        if (need && k == need) {
            if (!tk_buf_put(b, s + i, need)) return 0;
            i += need;
        } else {
            if (!tk_buf_put(b, "\xef\xbf\xbd", 3)) return 0;
            i += k; /* skip the maximal prefix of a valid sequence */
        }
    }
    return 1;
}

static int valid_utf8(const char *s, size_t n) {
    tk_buf tmp = {0};
    int ok = put_lossy(&tmp, s, n) && tmp.n == n && (n == 0 || memcmp(tmp.p, s, n) == 0);
    tk_buf_free(&tmp);
    return ok;
}

static int byte_of_token(const char *s, size_t n) {
    /* "<0xXX>" */
    if (n != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static int step(const tk_decoder *d, strlist *in, strlist *out) {
    switch (d->type) {
    case TK_DEC_BYTELEVEL: {
        /* each token's characters back to bytes; a token with a character
         * outside the map keeps its own UTF-8 bytes; then lossy UTF-8 */
        tk_buf bytes = {0}, text = {0};
        int ok = 1;
        for (int i = 0; ok && i < in->n; i++) {
            size_t start = bytes.n;
            int all = 1;
            for (size_t k = 0; all && k < in->len[i];) {
                int b = tk_cp_to_byte(tk_utf8_next(in->s[i], in->len[i], &k));
                if (b < 0) all = 0;
                else ok = tk_buf_putc(&bytes, (char)b);
            }
            if (!all) {
                bytes.n = start;
                ok = tk_buf_put(&bytes, in->s[i], in->len[i]);
            }
        }
        ok = ok && put_lossy(&text, bytes.p ? bytes.p : "", bytes.n) && sl_push(out, text.p ? text.p : "", text.n);
        tk_buf_free(&bytes);
        tk_buf_free(&text);
        return ok;
    }
    case TK_DEC_REPLACE:
        for (int i = 0; i < in->n; i++) {
            tk_buf b = {0};
            size_t pl = strlen(d->pattern), cl = strlen(d->content);
            int ok = tk_buf_put(&b, "", 0);
            for (size_t k = 0; ok && k < in->len[i];) {
                if (pl && k + pl <= in->len[i] && memcmp(in->s[i] + k, d->pattern, pl) == 0) ok = tk_buf_put(&b, d->content, cl), k += pl;
                else ok = tk_buf_putc(&b, in->s[i][k]), k++;
            }
            ok = ok && sl_push(out, b.p, b.n);
            tk_buf_free(&b);
            if (!ok) return 0;
        }
        return 1;
    case TK_DEC_BYTEFALLBACK: {
        tk_buf pending = {0};
        int ok = 1;
        for (int i = 0; ok && i <= in->n; i++) {
            int b = i < in->n ? byte_of_token(in->s[i], in->len[i]) : -1;
            if (b >= 0) {
                ok = tk_buf_putc(&pending, (char)b);
                continue;
            }
            if (pending.n) { /* a run of byte tokens ends */
                if (valid_utf8(pending.p, pending.n)) ok = sl_push(out, pending.p, pending.n);
                else
                    for (size_t k = 0; ok && k < pending.n; k++) ok = sl_push(out, "\xef\xbf\xbd", 3);
                pending.n = 0;
            }
            if (ok && i < in->n) ok = sl_push(out, in->s[i], in->len[i]);
        }
        tk_buf_free(&pending);
        return ok;
    }
    case TK_DEC_FUSE: {
        tk_buf b = {0};
        int ok = tk_buf_put(&b, "", 0);
        for (int i = 0; ok && i < in->n; i++) ok = tk_buf_put(&b, in->s[i], in->len[i]);
        ok = ok && sl_push(out, b.p, b.n);
        tk_buf_free(&b);
        return ok;
    }
    case TK_DEC_STRIP: {
        /* removes up to `start` leading and `stop` trailing `content` chars */
        for (int i = 0; i < in->n; i++) {
            const char *s = in->s[i];
            size_t a = 0, e = in->len[i], cl = strlen(d->content);
            for (int k = 0; k < d->start && cl && a + cl <= e && memcmp(s + a, d->content, cl) == 0; k++) a += cl;
            for (int k = 0; k < d->stop && cl && e >= a + cl && memcmp(s + e - cl, d->content, cl) == 0; k++) e -= cl;
            if (!sl_push(out, s + a, e - a)) return 0;
        }
        return 1;
    }
    case TK_DEC_METASPACE:
        for (int i = 0; i < in->n; i++) {
            tk_buf b = {0};
            size_t rl = strlen(d->content);
            int ok = tk_buf_put(&b, "", 0);
            for (size_t k = 0; ok && k < in->len[i];) {
                if (rl && k + rl <= in->len[i] && memcmp(in->s[i] + k, d->content, rl) == 0) ok = tk_buf_putc(&b, ' '), k += rl;
                else ok = tk_buf_putc(&b, in->s[i][k]), k++;
            }
            size_t skip = (i == 0 && d->prepend_scheme != 0 && b.n > 0 && b.p[0] == ' ') ? 1 : 0;
            ok = ok && sl_push(out, b.p + skip, b.n - skip);
            tk_buf_free(&b);
            if (!ok) return 0;
        }
        return 1;
    case TK_DEC_TRIM: {
        tk_buf b = {0};
        int ok = tk_buf_put(&b, "", 0);
        for (int i = 0; ok && i < in->n; i++) ok = tk_buf_put(&b, in->s[i], in->len[i]);
        size_t a = 0, e = b.n;
        while (a < e && (b.p[a] == ' ' || b.p[a] == '\t' || b.p[a] == '\n' || b.p[a] == '\r')) a++;
        while (e > a && (b.p[e - 1] == ' ' || b.p[e - 1] == '\t' || b.p[e - 1] == '\n' || b.p[e - 1] == '\r')) e--;
        ok = ok && sl_push(out, b.p + a, e - a);
        tk_buf_free(&b);
        return ok;
    }
    case TK_DEC_BPE_SUFFIX:
        for (int i = 0; i < in->n; i++) {
            tk_buf b = {0};
            size_t sl = strlen(d->content);
            int ok = tk_buf_put(&b, "", 0);
            for (size_t k = 0; ok && k < in->len[i];) {
                if (sl && k + sl <= in->len[i] && memcmp(in->s[i] + k, d->content, sl) == 0)
                    ok = i + 1 < in->n ? tk_buf_putc(&b, ' ') : 1, k += sl;
                else ok = tk_buf_putc(&b, in->s[i][k]), k++;
            }
            ok = ok && sl_push(out, b.p, b.n);
            tk_buf_free(&b);
            if (!ok) return 0;
        }
        return 1;
    }
    return 0;
}

loam_status tk_decode_tokens(const loam_tokenizer *t, const char **toks, const uint32_t *lens, int n, tk_buf *out) {
    strlist cur = {0};
    int ok = 1;
    for (int i = 0; ok && i < n; i++) ok = sl_push(&cur, toks[i], lens[i]);
    for (int d = 0; ok && d < t->n_decs; d++) {
        strlist next = {0};
        ok = step(&t->decs[d], &cur, &next);
        sl_free(&cur);
        cur = next;
    }
    if (ok && !tk_buf_put(out, "", 0)) ok = 0;
    for (int i = 0; ok && i < cur.n; i++) {
        /* no decoder at all: tokens joined by spaces, as the reference */
        if (t->n_decs == 0 && i > 0) ok = tk_buf_putc(out, ' ');
        ok = ok && tk_buf_put(out, cur.s[i], cur.len[i]);
    }
    sl_free(&cur);
    return ok ? LOAM_OK : LOAM_E_NOMEM;
}
