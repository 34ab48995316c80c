/* Pre-tokenizers: each splits every current piece of text further, in
 * order, as Hugging Face's PreTokenizedString does. Regexes run in PCRE2
 * with Unicode properties. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    size_t start, end;
} span;

typedef struct {
    char *text; /* all pieces, owned */
    size_t len;
    span *pieces;
    int n, cap;
} piece_list;

static int add_piece(piece_list *l, size_t a, size_t b) {
    if (a >= b) return 1;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        span *p = realloc(l->pieces, (size_t)cap * sizeof *p);
        if (!p) return 0;
        l->pieces = p;
        l->cap = cap;
    }
    l->pieces[l->n++] = (span){a, b};
    return 1;
}

/* Cuts [a, b) at the given matches, keeping them per the behavior. */
static int split_by_matches(piece_list *out, size_t a, size_t b, const span *m, int n_m, tk_split_behavior beh,
                            int invert) {
    if (invert) { /* the matches are what to keep as pieces; the gaps are the "matches" */
        size_t at = a;
        for (int i = 0; i < n_m; i++) {
            if (!add_piece(out, at, m[i].start)) return 0; /* gap: treated as a match => isolated */
            at = m[i].start;
            if (!add_piece(out, at, m[i].end)) return 0;
            at = m[i].end;
        }
        return add_piece(out, at, b);
    }
    size_t at = a;
    size_t pending = (size_t)-1; /* MERGED_NEXT: start of a match waiting for the next piece */
    for (int i = 0; i < n_m; i++) {
        size_t ms = m[i].start, me = m[i].end;
        switch (beh) {
        case TK_SPLIT_ISOLATED:
            if (!add_piece(out, at, ms) || !add_piece(out, ms, me)) return 0;
            break;
        case TK_SPLIT_REMOVED:
            if (!add_piece(out, at, ms)) return 0;
            break;
        case TK_SPLIT_MERGED_PREV:
            if (!add_piece(out, at, me)) return 0;
            break;
        case TK_SPLIT_MERGED_NEXT:
            if (!add_piece(out, pending != (size_t)-1 ? pending : at, ms)) return 0;
            pending = ms;
            break;
        case TK_SPLIT_CONTIGUOUS:
            /* adjacent matches merge into one piece */
            if (out->n > 0 && at == ms && i > 0 && m[i - 1].end == ms) {
                out->pieces[out->n - 1].end = me;
            } else {
                if (!add_piece(out, at, ms) || !add_piece(out, ms, me)) return 0;
            }
            break;
        }
        at = me;
    }
    if (beh == TK_SPLIT_MERGED_NEXT && pending != (size_t)-1) return add_piece(out, pending, b);
    return add_piece(out, at, b);
}

/* All non-empty regex matches in [a, b). */
static int regex_matches(pcre2_code *re, const char *s, size_t a, size_t b, span **m, int *n_m) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) return 0;
    int cap = 0, ok = 1;
    *n_m = 0;
    size_t at = a;
    while (at < b) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, b, at, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] == ov[0]) { /* empty: step one char */
            size_t k = ov[0];
            if (k >= b) break;
            tk_utf8_next(s, b, &k);
            at = k;
            continue;
        }
        if (*n_m == cap) {
            cap = cap ? cap * 2 : 32;
            span *p = realloc(*m, (size_t)cap * sizeof *p);
            if (!p) {
                ok = 0;
                break;
            }
            *m = p;
        }
        (*m)[(*n_m)++] = (span){ov[0], ov[1]};
        at = ov[1];
    }
    pcre2_match_data_free(md);
    return ok;
}

/* Punctuation or digit runs as matches (one char each, or runs). */
static int char_class_matches(const char *s, size_t a, size_t b, int (*is)(uint32_t), int each_char, span **m, int *n_m) {
    int cap = 0;
    *n_m = 0;
    for (size_t i = a; i < b;) {
        size_t k = i;
        uint32_t cp = tk_utf8_next(s, b, &k);
        if (is(cp)) {
            if (!each_char && *n_m > 0 && (*m)[*n_m - 1].end == i) {
                (*m)[*n_m - 1].end = k;
            } else {
                if (*n_m == cap) {
                    cap = cap ? cap * 2 : 32;
                    span *p = realloc(*m, (size_t)cap * sizeof *p);
                    if (!p) return 0;
                    *m = p;
                }
                (*m)[(*n_m)++] = (span){i, k};
            }
        }
        i = k;
    }
    return 1;
}

static int is_punct(uint32_t cp) {
    /* Rust's char::is_ascii_punctuation || Unicode punctuation (P*) */
    if (cp < 128) return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

static int is_digit(uint32_t cp) {
    /* Rust's char::is_numeric: Nd, Nl, No */
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

/* The list takes the rebuilt text b and the pieces' new spans np (one per
 * piece), freeing the old ones. 0 when out of memory. */
static int adopt_rebuilt(piece_list *l, tk_buf *b, span *np) {
    free(l->text);
    free(l->pieces);
    l->text = b->p ? b->p : calloc(1, 1);
    l->len = b->n;
    l->pieces = np;
    l->cap = l->n ? l->n : 1;
    return l->text != NULL;
}

/* Replaces text with its byte-level form (each byte -> a code point) and
 * recomputes piece offsets. */
static int to_bytelevel(piece_list *l) {
    tk_buf b = {0};
    span *np = malloc((size_t)(l->n ? l->n : 1) * sizeof *np);
    if (!np) return 0;
    for (int i = 0; i < l->n; i++) {
        size_t start = b.n;
        for (size_t k = l->pieces[i].start; k < l->pieces[i].end; k++) {
            char enc[4];
            if (!tk_buf_put(&b, enc, tk_utf8_encode(tk_byte_to_cp((unsigned char)l->text[k]), enc))) goto fail;
        }
        np[i] = (span){start, b.n};
    }
    return adopt_rebuilt(l, &b, np);
fail:
    tk_buf_free(&b);
    free(np);
    return 0;
}

/* Metaspace: spaces become the replacement, which is prepended to the
 * first piece (scheme "first") or every piece ("always"); then each piece
 * splits before every replacement. */
static int metaspace(piece_list *l, const tk_pretokenizer *p, int first) {
    tk_buf b = {0};
    span *np = malloc((size_t)(l->n ? l->n : 1) * sizeof *np);
    size_t rl = strlen(p->replacement);
    if (!np) return 0;
    for (int i = 0; i < l->n; i++) {
        size_t start = b.n;
        const char *s = l->text + l->pieces[i].start;
        size_t n = l->pieces[i].end - l->pieces[i].start;
        int prepend = p->prepend_scheme == 2 || (p->prepend_scheme == 1 && first && i == 0);
        if (prepend && !(n >= rl && memcmp(s, p->replacement, rl) == 0) && !(n > 0 && s[0] == ' '))
            if (!tk_buf_put(&b, p->replacement, rl)) goto fail;
        for (size_t k = 0; k < n; k++)
            if (!(s[k] == ' ' ? tk_buf_put(&b, p->replacement, rl) : tk_buf_putc(&b, s[k]))) goto fail;
        np[i] = (span){start, b.n};
    }
    if (!adopt_rebuilt(l, &b, np)) return 0;
    if (!p->split) return 1;
    piece_list out = {l->text, l->len, NULL, 0, 0};
    for (int i = 0; i < l->n; i++) {
        size_t a = l->pieces[i].start, e = l->pieces[i].end, at = a;
        for (size_t k = a + 1; k + rl <= e; k++)
            if (memcmp(l->text + k, p->replacement, rl) == 0) {
                if (!add_piece(&out, at, k)) return 0;
                at = k;
            }
        if (!add_piece(&out, at, e)) return 0;
    }
    free(l->pieces);
    l->pieces = out.pieces;
    l->n = out.n;
    l->cap = out.cap;
    return 1;
fail:
    tk_buf_free(&b);
    free(np);
    return 0;
}

/* ByteLevel's add_prefix_space: every piece not starting with a space gets
 * one (Hugging Face applies it per piece). */
static int prefix_spaces(piece_list *l) {
    tk_buf b = {0};
    span *np = malloc((size_t)(l->n ? l->n : 1) * sizeof *np);
    if (!np) return 0;
    for (int i = 0; i < l->n; i++) {
        size_t start = b.n;
        if (l->text[l->pieces[i].start] != ' ' && !tk_buf_putc(&b, ' ')) goto fail;
        if (!tk_buf_put(&b, l->text + l->pieces[i].start, l->pieces[i].end - l->pieces[i].start)) goto fail;
        np[i] = (span){start, b.n};
    }
    return adopt_rebuilt(l, &b, np);
fail:
    tk_buf_free(&b);
    free(np);
    return 0;
}

loam_status tk_pretokenize(const loam_tokenizer *t, const char *s, size_t n, int first, tk_word_fn emit, void *ctx,
                           loam_error *err) {
    if (!loam_utf8_valid(s, n)) /* e.g. an added token that splits a character */
        return loam_fail(err, LOAM_E_FORMAT, "%s: text to pre-tokenize is not valid UTF-8", t->source ? t->source : "tokenizer");
    piece_list l = {0};
    l.text = malloc(n + 1);
    if (!l.text) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    memcpy(l.text, s, n);
    l.text[n] = 0;
    l.len = n;
    int ok = add_piece(&l, 0, n);
    span *m = NULL;
    for (int step = 0; ok && step < t->n_pres; step++) {
        const tk_pretokenizer *p = &t->pres[step];
        if (p->type == TK_PRE_BYTELEVEL && p->add_prefix_space && !(ok = prefix_spaces(&l))) break;
        if (p->type == TK_PRE_BYTELEVEL && !p->regex) {
            ok = to_bytelevel(&l);
            continue;
        }
        if (p->type == TK_PRE_METASPACE) {
            ok = metaspace(&l, p, first);
            continue;
        }
        piece_list out = {l.text, l.len, NULL, 0, 0};
        for (int i = 0; ok && i < l.n; i++) {
            size_t a = l.pieces[i].start, b = l.pieces[i].end;
            int n_m = 0;
            tk_split_behavior beh = p->behavior;
            int invert = p->invert;
            switch (p->type) {
            case TK_PRE_SPLIT:
                if (p->regex) {
                    ok = regex_matches(p->regex, l.text, a, b, &m, &n_m);
                } else {
                    size_t pl = strlen(p->literal);
                    int cap = 0;
                    for (size_t k = a; pl && k + pl <= b;) {
                        if (memcmp(l.text + k, p->literal, pl) == 0) {
                            if (n_m == cap) {
                                cap = cap ? cap * 2 : 32;
                                span *q = realloc(m, (size_t)cap * sizeof *q);
                                if (!q) {
                                    ok = 0;
                                    break;
                                }
                                m = q;
                            }
                            m[n_m++] = (span){k, k + pl};
                            k += pl;
                        } else {
                            k++;
                        }
                    }
                }
                break;
            case TK_PRE_BYTELEVEL: /* the GPT-2 regex, matches isolated */
                ok = regex_matches(p->regex, l.text, a, b, &m, &n_m);
                beh = TK_SPLIT_ISOLATED;
                invert = 0;
                break;
            case TK_PRE_WHITESPACE:
                ok = regex_matches(p->regex, l.text, a, b, &m, &n_m);
                beh = TK_SPLIT_ISOLATED;
                invert = 1;
                break;
            case TK_PRE_WHITESPACE_SPLIT:
                ok = regex_matches(p->regex, l.text, a, b, &m, &n_m);
                beh = TK_SPLIT_REMOVED;
                invert = 0;
                break;
            case TK_PRE_PUNCTUATION: ok = char_class_matches(l.text, a, b, is_punct, 1, &m, &n_m); break;
            case TK_PRE_DIGITS:
                ok = char_class_matches(l.text, a, b, is_digit, p->individual_digits, &m, &n_m);
                beh = TK_SPLIT_ISOLATED;
                invert = 0;
                break;
            default: break;
            }
            if (ok && p->type == TK_PRE_WHITESPACE) { /* keep only the matches */
                for (int k = 0; ok && k < n_m; k++) ok = add_piece(&out, m[k].start, m[k].end);
            } else if (ok) {
                ok = split_by_matches(&out, a, b, m, n_m, beh, invert);
            }
        }
        free(l.pieces);
        l.pieces = out.pieces;
        l.n = out.n;
        l.cap = out.cap;
        if (ok && p->type == TK_PRE_BYTELEVEL) ok = to_bytelevel(&l);
    }
    free(m);
    for (int i = 0; ok && i < l.n; i++) ok = emit(ctx, l.text + l.pieces[i].start, l.pieces[i].end - l.pieces[i].start);
    free(l.text);
    free(l.pieces);
    return ok ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory while pre-tokenizing");
}
