/* The Jinja lexer: the template cut into text and tags, with whitespace
 * control as transformers configures Jinja (trim_blocks, lstrip_blocks and
 * the "-" markers), and each tag into tokens. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/jinja_internal.h"
#include "core/error.h"

static int line_of(const render *r, const char *p) {
    int line = 1;
    for (const char *q = r->src; q < p; q++) line += *q == '\n';
    return line;
}

static int is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

/* Python string escapes. */
static const char *decode_string(render *r, const char *p, const char *end, char quote, size_t *len, const char **after) {
    sbuf b = {0};
    while (p < end && *p != quote) {
        if (*p == '\\' && p + 1 < end) {
            p++;
            char c = *p++;
            switch (c) {
            case 'n': jj_sb_put(r, &b, "\n", 1); break;
            case 't': jj_sb_put(r, &b, "\t", 1); break;
            case 'r': jj_sb_put(r, &b, "\r", 1); break;
            case '0': jj_sb_put(r, &b, "\0", 1); break;
            case '\\': jj_sb_put(r, &b, "\\", 1); break;
            case '\'': jj_sb_put(r, &b, "'", 1); break;
            case '"': jj_sb_put(r, &b, "\"", 1); break;
            case '\n': break;
            case 'u':
            case 'x': {
                int digits = c == 'u' ? 4 : 2;
                unsigned cp = 0;
                for (int k = 0; k < digits && p < end; k++, p++) {
                    char h = *p;
                    int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (v < 0) jj_fail(r, "template: bad \\%c escape", c);
                    cp = cp * 16 + (unsigned)v;
                }
                char enc[4];
                size_t m = cp < 0x80 ? (enc[0] = (char)cp, 1) : cp < 0x800 ? (enc[0] = (char)(0xc0 | cp >> 6), enc[1] = (char)(0x80 | (cp & 0x3f)), 2)
                                                                       : (enc[0] = (char)(0xe0 | cp >> 12), enc[1] = (char)(0x80 | ((cp >> 6) & 0x3f)), enc[2] = (char)(0x80 | (cp & 0x3f)), 3);
                jj_sb_put(r, &b, enc, m);
                break;
            }
            default: {
                char two[2] = {'\\', c};
                jj_sb_put(r, &b, two, 2);
            }
            }
        } else {
            jj_sb_put(r, &b, p, 1);
            p++;
        }
    }
    if (p >= end) jj_fail(r, "template line %d: unterminated string", line_of(r, p));
    *after = p + 1;
    char *s = jj_astrdup(r, b.p ? b.p : "", b.n);
    *len = b.n;
    return s;
}

static token *lex_tag(render *r, const char *p, const char *end) {
    int cap = 16, n = 0;
    token *t = jj_arena_alloc(r, (size_t)cap * sizeof *t);
    static const char *ops[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=",
                                "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"};
    while (1) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (n + 1 >= cap) {
            token *g = jj_arena_alloc(r, (size_t)cap * 2 * sizeof *g);
            memcpy(g, t, (size_t)n * sizeof *g);
            t = g;
            cap *= 2;
        }
        token *k = &t[n];
        k->line = line_of(r, p);
        if (p >= end) {
            k->type = T_EOF;
            return t;
        }
        if (is_name_start(*p)) {
            const char *s = p;
            while (p < end && is_name_char(*p)) p++;
            k->type = T_NAME, k->s = s, k->n = (size_t)(p - s);
        } else if (*p >= '0' && *p <= '9') {
            char *e;
            const char *s = p;
            while (p < end && ((*p >= '0' && *p <= '9') || *p == '_')) p++;
            if (p + 1 < end && *p == '.' && p[1] >= '0' && p[1] <= '9') {
                k->type = T_FLOAT, k->f = strtod(s, &e), p = e;
            } else {
                k->type = T_INT, k->i = strtoll(s, NULL, 10);
            }
        } else if (*p == '\'' || *p == '"') {
            char q = *p++;
            k->type = T_STRING;
            k->s = decode_string(r, p, end, q, &k->n, &p);
        } else {
            size_t best = 0;
            for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
                size_t l = strlen(ops[o]);
                if (l > best && (size_t)(end - p) >= l && memcmp(p, ops[o], l) == 0) best = l, k->s = ops[o];
            }
            if (!best) jj_fail(r, "template line %d: unexpected character '%c'", k->line, *p);
            k->type = T_OP, k->n = best;
            p += best;
        }
        n++;
    }
}

/* Cuts the source into text and tags, applying whitespace control. */
segment *jj_segment_source(render *r, const char *src, int *n_out) {
    int cap = 64, n = 0;
    segment *segs = jj_arena_alloc(r, (size_t)cap * sizeof *segs);
    const char *p = src, *end = src + strlen(src);
    int prev_rtrim = 0, prev_block = 0;
    while (p <= end) {
        /* next tag start */
        const char *tag = p;
        while (tag + 1 < end && !(tag[0] == '{' && (tag[1] == '{' || tag[1] == '%' || tag[1] == '#'))) tag++;
        if (tag + 1 >= end) tag = end;
        const char *ts = p, *te = tag;
        /* leading side: the previous tag's "-" or trim_blocks */
        if (prev_rtrim) {
            while (ts < te && (*ts == ' ' || *ts == '\t' || *ts == '\n' || *ts == '\r')) ts++;
        } else if (prev_block) {
            if (ts < te && *ts == '\n') ts++;
            else if (ts + 1 < te && ts[0] == '\r' && ts[1] == '\n') ts += 2;
        }
        int ltrim = 0, plus = 0;
        char kind = 0;
        if (tag < end) {
            kind = tag[1];
            ltrim = tag + 2 < end && tag[2] == '-';
            plus = tag + 2 < end && tag[2] == '+';
        }
        /* trailing side: this tag's "-" or lstrip_blocks */
        if (ltrim) {
            while (te > ts && (te[-1] == ' ' || te[-1] == '\t' || te[-1] == '\n' || te[-1] == '\r')) te--;
        } else if ((kind == '%' || kind == '#') && !plus) {
            /* lstrip_blocks: spaces and tabs between the start of a line (in
             * the source) and a block tag go */
            const char *q = te;
            while (q > ts && (q[-1] == ' ' || q[-1] == '\t')) q--;
            if (q == src || q[-1] == '\n') te = q;
        }
        if (n + 2 >= cap) {
            segment *g = jj_arena_alloc(r, (size_t)cap * 2 * sizeof *g);
            memcpy(g, segs, (size_t)n * sizeof *g);
            segs = g;
            cap *= 2;
        }
        if (te > ts) segs[n++] = (segment){S_TEXT, ts, (size_t)(te - ts), NULL, 0};
        if (tag >= end) break;
        /* the tag itself */
        const char *body = tag + 2 + (ltrim || plus);
        const char *close = NULL;
        if (kind == '#') {
            close = strstr(body, "#}");
            if (!close) jj_fail(r, "template line %d: unterminated comment", line_of(r, tag));
        } else {
            const char *want = kind == '{' ? "}}" : "%}";
            const char *q = body;
            while (q + 1 < end && !(q[0] == want[0] && q[1] == want[1])) {
                if (*q == '\'' || *q == '"') { /* skip strings */
                    char c = *q++;
                    while (q < end && *q != c) q += *q == '\\' ? 2 : 1;
                }
                if (q < end) q++;
            }
            if (q + 1 >= end) jj_fail(r, "template line %d: unterminated %s tag", line_of(r, tag), kind == '{' ? "{{" : "{%");
            close = q;
        }
        int rtrim = close > body && close[-1] == '-';
        const char *body_end = rtrim ? close - 1 : close;
        if (kind != '#') {
            segment s = {kind == '{' ? S_VAR : S_BLOCK, NULL, 0, lex_tag(r, body, body_end), line_of(r, tag)};
            segs[n++] = s;
        }
        prev_rtrim = rtrim;
        prev_block = kind == '%' || kind == '#';
        p = close + 2;
    }
    *n_out = n;
    return segs;
}
