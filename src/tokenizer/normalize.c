/* Normalizers: Unicode forms and case (utf8proc), string/regex replace,
 * prepend, strip, and SentencePiece's precompiled charsmap (a darts-clone
 * double-array trie of rewrite rules, applied per grapheme cluster the way
 * Hugging Face's spm_precompiled does). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

/* ---- precompiled charsmap */

static uint32_t darts_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

/* The replacement of the SHORTEST trie key that prefixes `key`, as
 * SentencePiece's normalizer takes it; NULL when none does. */
static const char *charsmap_lookup(const tk_normalizer *nm, const char *key, size_t n, size_t *out_len) {
    if (!nm->trie_units) return NULL;
    size_t pos = darts_offset(nm->trie[0]);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c == 0) break;
        pos ^= c;
        if (pos >= nm->trie_units) return NULL;
        uint32_t unit = nm->trie[pos];
        if ((unit & ((1u << 31) | 0xffu)) != c) return NULL;
        pos ^= darts_offset(unit);
        if ((unit >> 8) & 1) {
            if (pos >= nm->trie_units) return NULL;
            size_t at = nm->trie[pos] & 0x7fffffffu;
            if (at >= nm->normalized_len) return NULL;
            const char *s = nm->normalized + at;
            *out_len = strnlen(s, nm->normalized_len - at);
            return s;
        }
    }
    return NULL;
}

static int precompiled(const tk_normalizer *nm, const char *s, size_t n, tk_buf *out) {
    size_t i = 0;
    while (i < n) {
        /* one extended grapheme cluster: s[i, j) */
        size_t j = i;
        utf8proc_int32_t state = 0, prev = -1;
        while (j < n) {
            size_t k = j;
            uint32_t cp = tk_utf8_next(s, n, &k);
            if (prev >= 0 && utf8proc_grapheme_break_stateful(prev, (utf8proc_int32_t)cp, &state)) break;
            prev = (utf8proc_int32_t)cp;
            j = k;
        }
        size_t len;
        const char *rep = j - i < 6 ? charsmap_lookup(nm, s + i, j - i, &len) : NULL;
        if (rep) {
            if (!tk_buf_put(out, rep, len)) return 0;
        } else {
            for (size_t c = i; c < j;) {
                size_t next = c;
                tk_utf8_next(s, j, &next);
                rep = charsmap_lookup(nm, s + c, next - c, &len);
                if (!(rep ? tk_buf_put(out, rep, len) : tk_buf_put(out, s + c, next - c))) return 0;
                c = next;
            }
        }
        i = j;
    }
    return 1;
}

/* ---- the others */

static int unicode_form(tk_norm_type type, const char *s, size_t n, tk_buf *out) {
    int opts = UTF8PROC_STABLE;
    if (type == TK_NORM_NFC) opts |= UTF8PROC_COMPOSE;
    if (type == TK_NORM_NFD) opts |= UTF8PROC_DECOMPOSE;
    if (type == TK_NORM_NFKC) opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    if (type == TK_NORM_NFKD) opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
    utf8proc_uint8_t *res = NULL;
    utf8proc_ssize_t len = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &res, opts);
    if (len < 0) return tk_buf_put(out, s, n); /* invalid UTF-8 was replaced earlier; keep as is */
    int ok = tk_buf_put(out, (const char *)res, (size_t)len);
    free(res);
    return ok;
}

static int lowercase(const char *s, size_t n, tk_buf *out) {
    for (size_t i = 0; i < n;) {
        uint32_t cp = tk_utf8_next(s, n, &i);
        char enc[4];
        if (!tk_buf_put(out, enc, tk_utf8_encode((uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), enc))) return 0;
    }
    return 1;
}

static int is_ws(uint32_t cp) { return utf8proc_category((utf8proc_int32_t)cp) == UTF8PROC_CATEGORY_ZS || (cp >= 9 && cp <= 13); }

static int strip(const tk_normalizer *nm, const char *s, size_t n, tk_buf *out) {
    size_t a = 0, b = n;
    while (nm->strip_left && a < b) {
        size_t k = a;
        if (!is_ws(tk_utf8_next(s, b, &k))) break;
        a = k;
    }
    while (nm->strip_right && b > a) {
        size_t k = b - 1;
        while (k > a && ((unsigned char)s[k] & 0xc0) == 0x80) k--;
        size_t e = k;
        if (!is_ws(tk_utf8_next(s, b, &e))) break;
        b = k;
    }
    return tk_buf_put(out, s + a, b - a);
}

static int replace(const tk_normalizer *nm, const char *s, size_t n, tk_buf *out) {
    if (nm->regex) {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(nm->regex, NULL);
        if (!md) return 0;
        size_t at = 0;
        int ok = 1;
        while (ok && at <= n) {
            int rc = pcre2_match(nm->regex, (PCRE2_SPTR)s, n, at, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc < 0) break;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            ok = tk_buf_put(out, s + at, ov[0] - at) && tk_buf_put(out, nm->content, strlen(nm->content));
            if (ov[1] == ov[0]) { /* empty match: copy one char and go on */
                if (ov[0] >= n) {
                    at = n + 1;
                    break;
                }
                size_t k = ov[0];
                tk_utf8_next(s, n, &k);
                ok = ok && tk_buf_put(out, s + ov[0], k - ov[0]);
                at = k;
            } else {
                at = ov[1];
            }
        }
        if (ok && at < n) ok = tk_buf_put(out, s + at, n - at);
        pcre2_match_data_free(md);
        return ok;
    }
    size_t plen = strlen(nm->pattern), clen = strlen(nm->content);
    if (plen == 0) return tk_buf_put(out, s, n);
    size_t i = 0;
    while (i < n) {
        if (i + plen <= n && memcmp(s + i, nm->pattern, plen) == 0) {
            if (!tk_buf_put(out, nm->content, clen)) return 0;
            i += plen;
        } else {
            if (!tk_buf_putc(out, s[i])) return 0;
            i++;
        }
    }
    return 1;
}

/* CLIP's clean-up: whitespace runs to one space, trimmed (then lowercased by
 * a separate step). */
static int clip_clean(const char *s, size_t n, tk_buf *out) {
    int pending_space = 0, started = 0;
    for (size_t i = 0; i < n;) {
        size_t k = i;
        uint32_t cp = tk_utf8_next(s, n, &k);
        if (is_ws(cp)) {
            pending_space = started;
        } else {
            if (pending_space && !tk_buf_putc(out, ' ')) return 0;
            pending_space = 0;
            started = 1;
            if (!tk_buf_put(out, s + i, k - i)) return 0;
        }
        i = k;
    }
    return 1;
}

loam_status tk_normalize(const loam_tokenizer *t, const char *s, size_t n, tk_buf *out, loam_error *err) {
    tk_buf a = {0}, b = {0};
    if (!tk_buf_put(&a, s, n)) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; i < t->n_norms; i++) {
        const tk_normalizer *nm = &t->norms[i];
        b.n = 0;
        int ok = 1;
        switch (nm->type) {
        case TK_NORM_NFC:
        case TK_NORM_NFD:
        case TK_NORM_NFKC:
        case TK_NORM_NFKD: ok = unicode_form(nm->type, a.p, a.n, &b); break;
        case TK_NORM_LOWERCASE: ok = lowercase(a.p, a.n, &b); break;
        case TK_NORM_STRIP: ok = strip(nm, a.p, a.n, &b); break;
        case TK_NORM_REPLACE: ok = replace(nm, a.p, a.n, &b); break;
        case TK_NORM_PREPEND:
            ok = a.n == 0 ? tk_buf_put(&b, "", 0) : tk_buf_put(&b, nm->content, strlen(nm->content)) && tk_buf_put(&b, a.p, a.n);
            break;
        case TK_NORM_PRECOMPILED: ok = precompiled(nm, a.p, a.n, &b); break;
        case TK_NORM_CLIP_CLEAN: ok = clip_clean(a.p, a.n, &b); break;
        }
        if (!ok || !tk_buf_put(&b, "", 0)) {
            tk_buf_free(&a);
            tk_buf_free(&b);
            return loam_fail(err, LOAM_E_NOMEM, "out of memory");
        }
        /* regexes later run without re-checking UTF-8: a normalizer that
         * produced invalid bytes (a broken charsmap) is an error here */
        if (!loam_utf8_valid(b.p, b.n)) {
            tk_buf_free(&a);
            tk_buf_free(&b);
            return loam_fail(err, LOAM_E_FORMAT, "%s: normalizer %d produced invalid UTF-8", t->source ? t->source : "tokenizer", i);
        }
        tk_buf tmp = a;
        a = b;
        b = tmp;
    }
    tk_buf_free(&b);
    *out = a;
    return LOAM_OK;
}
