/* A Jinja2 subset for chat templates.
 *
 * Pipeline: the template is cut into text and tags (whitespace control as
 * transformers configures Jinja: trim_blocks, lstrip_blocks, and the "-"
 * markers), tags are lexed into tokens, a recursive-descent parser with
 * Jinja2's precedence builds a tree, and the tree is evaluated with
 * Python-like values. Everything lives in one arena freed after the render;
 * errors unwind with longjmp to the entry point. */
#include "chat/jinja.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

/* ------------------------------------------------------------------ arena */

typedef struct block {
    struct block *next;
    size_t used, cap;
    char data[];
} block;

typedef struct {
    block *head;
} arena;

typedef struct render render;
static void fail(render *r, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

static void *arena_alloc(render *r, size_t n);

/* ------------------------------------------------------------------ values */

typedef enum { V_UNDEF, V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_LIST, V_DICT, V_MACRO, V_FUNC } vtype;

typedef struct value value;
typedef struct list list;
typedef struct dict dict;
typedef struct node node;

struct value {
    vtype t;
    union {
        int b;
        int64_t i;
        double f;
        struct {
            const char *s;
            size_t n;
        } str;
        list *l;
        dict *d;
        const node *macro;
        struct {
            const char *name; /* builtin or method name */
            value *self;      /* bound receiver for methods */
        } fn;
    };
    const char *undef_name; /* for error messages */
};

struct list {
    value *v;
    int n, cap;
};

struct dict {
    const char **k;
    size_t *kn;
    value *v;
    int n, cap;
    int is_namespace;
};

static value v_undef(const char *name) { return (value){.t = V_UNDEF, .undef_name = name}; }
static value v_none(void) { return (value){.t = V_NONE}; }
static value v_bool(int b) { return (value){.t = V_BOOL, .b = !!b}; }
static value v_int(int64_t i) { return (value){.t = V_INT, .i = i}; }
static value v_float(double f) { return (value){.t = V_FLOAT, .f = f}; }
static value v_strn(const char *s, size_t n) { return (value){.t = V_STR, .str = {s, n}}; }

/* ------------------------------------------------------------------ render state */

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

typedef struct frame {
    dict *vars;
    struct frame *parent;
} frame;

struct render {
    arena mem;
    jmp_buf on_error;
    char message[900];
    const char *src;
    frame *scope;
    frame *globals;
    int loop_signal; /* 1 break, 2 continue */
    int depth;
    size_t arena_bytes; /* limits: templates come from model files, untrusted */
    long steps;
};

#define MAX_ARENA_BYTES ((size_t)256 << 20)
#define MAX_STEPS 20000000L

static void *arena_alloc(render *r, size_t n) {
    n = (n + 15) & ~(size_t)15;
    block *b = r->mem.head;
    if (!b || b->used + n > b->cap) {
        size_t cap = n > 65536 ? n : 65536;
        r->arena_bytes += cap;
        if (r->arena_bytes > MAX_ARENA_BYTES) fail(r, "template: output or data larger than 256 MiB");
        b = malloc(sizeof *b + cap);
        if (!b) fail(r, "out of memory");
        b->next = r->mem.head;
        b->used = 0;
        b->cap = cap;
        r->mem.head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static void fail(render *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    longjmp(r->on_error, 1);
}

static char *astrdup(render *r, const char *s, size_t n) {
    char *c = arena_alloc(r, n + 1);
    memcpy(c, s, n);
    c[n] = 0;
    return c;
}

/* String buffers grow inside the arena, so an error that unwinds mid-render
 * leaks nothing. */
static void sb_put(render *r, sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = arena_alloc(r, cap);
        if (b->n) memcpy(p, b->p, b->n);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_puts(render *r, sbuf *b, const char *s) { sb_put(r, b, s, strlen(s)); }

static list *list_new(render *r) { return arena_alloc(r, sizeof(list)); }

static void list_push(render *r, list *l, value v) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        value *nv = arena_alloc(r, (size_t)cap * sizeof *nv);
        if (l->n) memcpy(nv, l->v, (size_t)l->n * sizeof *nv);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

static dict *dict_new(render *r) { return arena_alloc(r, sizeof(dict)); }

static int dict_find(const dict *d, const char *k, size_t kn) {
    for (int i = 0; i < d->n; i++)
        if (d->kn[i] == kn && memcmp(d->k[i], k, kn) == 0) return i;
    return -1;
}

static void dict_set(render *r, dict *d, const char *k, size_t kn, value v) {
    int i = dict_find(d, k, kn);
    if (i >= 0) {
        d->v[i] = v;
        return;
    }
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 8;
        const char **nk = arena_alloc(r, (size_t)cap * sizeof *nk);
        size_t *nkn = arena_alloc(r, (size_t)cap * sizeof *nkn);
        value *nv = arena_alloc(r, (size_t)cap * sizeof *nv);
        if (d->n) {
            memcpy(nk, d->k, (size_t)d->n * sizeof *nk);
            memcpy(nkn, d->kn, (size_t)d->n * sizeof *nkn);
            memcpy(nv, d->v, (size_t)d->n * sizeof *nv);
        }
        d->k = nk, d->kn = nkn, d->v = nv, d->cap = cap;
    }
    d->k[d->n] = astrdup(r, k, kn);
    d->kn[d->n] = kn;
    d->v[d->n++] = v;
}

static value from_json(render *r, const cJSON *j) {
    if (!j || cJSON_IsNull(j)) return v_none();
    if (cJSON_IsBool(j)) return v_bool(cJSON_IsTrue(j));
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 9.2e18) return v_int((int64_t)d);
        return v_float(d);
    }
    if (cJSON_IsString(j)) return v_strn(j->valuestring, strlen(j->valuestring));
    if (cJSON_IsArray(j)) {
        list *l = list_new(r);
        const cJSON *c;
        cJSON_ArrayForEach(c, j) list_push(r, l, from_json(r, c));
        return (value){.t = V_LIST, .l = l};
    }
    dict *d = dict_new(r);
    const cJSON *c;
    cJSON_ArrayForEach(c, j) dict_set(r, d, c->string, strlen(c->string), from_json(r, c));
    return (value){.t = V_DICT, .d = d};
}

/* ------------------------------------------------------------------ lexer */

typedef enum { T_EOF, T_NAME, T_STRING, T_INT, T_FLOAT, T_OP } tok_type;

typedef struct {
    tok_type type;
    const char *s; /* name / op text / decoded string */
    size_t n;
    int64_t i;
    double f;
    int line;
} token;

typedef enum { S_TEXT, S_VAR, S_BLOCK } seg_kind;

typedef struct {
    seg_kind kind;
    const char *text; /* S_TEXT */
    size_t n;
    token *toks; /* S_VAR / S_BLOCK, ending in T_EOF */
    int line;
} segment;

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
            case 'n': sb_put(r, &b, "\n", 1); break;
            case 't': sb_put(r, &b, "\t", 1); break;
            case 'r': sb_put(r, &b, "\r", 1); break;
            case '0': sb_put(r, &b, "\0", 1); break;
            case '\\': sb_put(r, &b, "\\", 1); break;
            case '\'': sb_put(r, &b, "'", 1); break;
            case '"': sb_put(r, &b, "\"", 1); break;
            case '\n': break;
            case 'u':
            case 'x': {
                int digits = c == 'u' ? 4 : 2;
                unsigned cp = 0;
                for (int k = 0; k < digits && p < end; k++, p++) {
                    char h = *p;
                    int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (v < 0) fail(r, "template: bad \\%c escape", c);
                    cp = cp * 16 + (unsigned)v;
                }
                char enc[4];
                size_t m = cp < 0x80 ? (enc[0] = (char)cp, 1) : cp < 0x800 ? (enc[0] = (char)(0xc0 | cp >> 6), enc[1] = (char)(0x80 | (cp & 0x3f)), 2)
                                                                       : (enc[0] = (char)(0xe0 | cp >> 12), enc[1] = (char)(0x80 | ((cp >> 6) & 0x3f)), enc[2] = (char)(0x80 | (cp & 0x3f)), 3);
                sb_put(r, &b, enc, m);
                break;
            }
            default: {
                char two[2] = {'\\', c};
                sb_put(r, &b, two, 2);
            }
            }
        } else {
            sb_put(r, &b, p, 1);
            p++;
        }
    }
    if (p >= end) fail(r, "template line %d: unterminated string", line_of(r, p));
    *after = p + 1;
    char *s = astrdup(r, b.p ? b.p : "", b.n);
    *len = b.n;
    return s;
}

static token *lex_tag(render *r, const char *p, const char *end) {
    int cap = 16, n = 0;
    token *t = arena_alloc(r, (size_t)cap * sizeof *t);
    static const char *ops[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=",
                                "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"};
    while (1) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (n + 1 >= cap) {
            token *g = arena_alloc(r, (size_t)cap * 2 * sizeof *g);
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
            if (!best) fail(r, "template line %d: unexpected character '%c'", k->line, *p);
            k->type = T_OP, k->n = best;
            p += best;
        }
        n++;
    }
}

/* Cuts the source into text and tags, applying whitespace control. */
static segment *segment_source(render *r, const char *src, int *n_out) {
    int cap = 64, n = 0;
    segment *segs = arena_alloc(r, (size_t)cap * sizeof *segs);
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
            segment *g = arena_alloc(r, (size_t)cap * 2 * sizeof *g);
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
            if (!close) fail(r, "template line %d: unterminated comment", line_of(r, tag));
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
            if (q + 1 >= end) fail(r, "template line %d: unterminated %s tag", line_of(r, tag), kind == '{' ? "{{" : "{%");
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

/* ------------------------------------------------------------------ parser */

typedef enum {
    N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_SET_BLOCK, N_MACRO, N_BREAK, N_CONTINUE, N_BODY,
    E_LIT, E_NAME, E_ATTR, E_ITEM, E_SLICE, E_CALL, E_FILTER, E_TEST, E_BIN, E_NEG, E_NOT, E_AND, E_OR,
    E_COND, E_LIST, E_DICT, E_TUPLE
} node_type;

struct node {
    node_type type;
    int line;
    value lit;              /* E_LIT, N_TEXT */
    const char *name;       /* names, attrs, ops, filters, tests */
    size_t name_n;
    node *a, *b, *c;        /* operands; N_IF: cond/body/else; N_FOR: iter/body/else; slice */
    node **items;           /* lists, args, bodies, targets */
    int n_items;
    const char **kw;        /* call kwargs names (items[n_items - n_kw..]) */
    int n_kw;
    int negated;            /* E_TEST "is not" */
    node *filter_cond;      /* N_FOR "if" */
};

typedef struct {
    render *r;
    segment *segs;
    int n_segs, at; /* current segment */
    token *tok;     /* current token in a tag */
    int depth;      /* nesting, bounded so hostile input cannot overflow the stack */
} parser;

#define MAX_NESTING 200

static node *new_node(parser *p, node_type t, int line) {
    node *n = arena_alloc(p->r, sizeof *n);
    n->type = t;
    n->line = line;
    return n;
}

static void push_item(parser *p, node *parent, node *child) {
    node **g = arena_alloc(p->r, (size_t)(parent->n_items + 1) * sizeof *g);
    if (parent->n_items) memcpy(g, parent->items, (size_t)parent->n_items * sizeof *g);
    g[parent->n_items++] = child;
    parent->items = g;
}

static int tok_is(const token *t, tok_type type, const char *s) {
    return t->type == type && (!s || (t->n == strlen(s) && memcmp(t->s, s, t->n) == 0));
}

static int accept(parser *p, tok_type type, const char *s) {
    if (!tok_is(p->tok, type, s)) return 0;
    p->tok++;
    return 1;
}

static void expect(parser *p, tok_type type, const char *s) {
    if (!accept(p, type, s))
        fail(p->r, "template line %d: expected \"%s\" but found \"%.*s\"", p->tok->line, s ? s : "a name",
             p->tok->type == T_EOF ? 3 : (int)p->tok->n, p->tok->type == T_EOF ? "end" : p->tok->s);
}

static node *parse_expr(parser *p);
static node *parse_unary(parser *p, int with_filter);

static void parse_args(parser *p, node *call) {
    /* after "(": positional then keyword arguments, until ")" */
    int n_kw = 0;
    const char **kw = NULL;
    while (!accept(p, T_OP, ")")) {
        if (p->tok->type == T_NAME && tok_is(p->tok + 1, T_OP, "=")) {
            const char **g = arena_alloc(p->r, (size_t)(n_kw + 1) * sizeof *g);
            if (n_kw) memcpy(g, kw, (size_t)n_kw * sizeof *g);
            g[n_kw++] = astrdup(p->r, p->tok->s, p->tok->n);
            kw = g;
            p->tok += 2;
            push_item(p, call, parse_expr(p));
        } else {
            if (n_kw) fail(p->r, "template line %d: positional argument after keyword argument", p->tok->line);
            push_item(p, call, parse_expr(p));
        }
        if (!accept(p, T_OP, ",")) {
            expect(p, T_OP, ")");
            break;
        }
    }
    call->kw = kw;
    call->n_kw = n_kw;
}

static node *parse_primary(parser *p) {
    token *t = p->tok;
    node *n;
    if (t->type == T_STRING) {
        /* adjacent string literals concatenate */
        sbuf b = {0};
        while (p->tok->type == T_STRING) sb_put(p->r, &b, p->tok->s, p->tok->n), p->tok++;
        n = new_node(p, E_LIT, t->line);
        n->lit = v_strn(astrdup(p->r, b.p ? b.p : "", b.n), b.n);
        return n;
    }
    if (t->type == T_INT || t->type == T_FLOAT) {
        p->tok++;
        n = new_node(p, E_LIT, t->line);
        n->lit = t->type == T_INT ? v_int(t->i) : v_float(t->f);
        return n;
    }
    if (t->type == T_NAME) {
        p->tok++;
        n = new_node(p, E_LIT, t->line);
        if (tok_is(t, T_NAME, "true") || tok_is(t, T_NAME, "True")) n->lit = v_bool(1);
        else if (tok_is(t, T_NAME, "false") || tok_is(t, T_NAME, "False")) n->lit = v_bool(0);
        else if (tok_is(t, T_NAME, "none") || tok_is(t, T_NAME, "None")) n->lit = v_none();
        else {
            n->type = E_NAME;
            n->name = astrdup(p->r, t->s, t->n);
            n->name_n = t->n;
        }
        return n;
    }
    if (accept(p, T_OP, "(")) {
        if (accept(p, T_OP, ")")) return new_node(p, E_TUPLE, t->line);
        node *first = parse_expr(p);
        if (accept(p, T_OP, ")")) return first;
        n = new_node(p, E_TUPLE, t->line);
        push_item(p, n, first);
        while (accept(p, T_OP, ",")) {
            if (tok_is(p->tok, T_OP, ")")) break;
            push_item(p, n, parse_expr(p));
        }
        expect(p, T_OP, ")");
        return n;
    }
    if (accept(p, T_OP, "[")) {
        n = new_node(p, E_LIST, t->line);
        while (!accept(p, T_OP, "]")) {
            push_item(p, n, parse_expr(p));
            if (!accept(p, T_OP, ",")) {
                expect(p, T_OP, "]");
                break;
            }
        }
        return n;
    }
    if (accept(p, T_OP, "{")) {
        n = new_node(p, E_DICT, t->line);
        while (!accept(p, T_OP, "}")) {
            push_item(p, n, parse_expr(p));
            expect(p, T_OP, ":");
            push_item(p, n, parse_expr(p));
            if (!accept(p, T_OP, ",")) {
                expect(p, T_OP, "}");
                break;
            }
        }
        return n;
    }
    fail(p->r, "template line %d: unexpected \"%.*s\" in an expression", t->line, t->type == T_EOF ? 3 : (int)t->n,
         t->type == T_EOF ? "end" : t->s);
}

static node *parse_postfix(parser *p, node *n) {
    for (;;) {
        int line = p->tok->line;
        if (accept(p, T_OP, ".")) {
            if (p->tok->type != T_NAME && p->tok->type != T_INT) fail(p->r, "template line %d: expected an attribute name", line);
            node *a = new_node(p, E_ATTR, line);
            a->a = n;
            if (p->tok->type == T_INT) {
                a->type = E_ITEM;
                a->b = new_node(p, E_LIT, line);
                a->b->lit = v_int(p->tok->i);
            } else {
                a->name = astrdup(p->r, p->tok->s, p->tok->n);
                a->name_n = p->tok->n;
            }
            p->tok++;
            n = a;
        } else if (accept(p, T_OP, "[")) {
            node *lo = NULL, *hi = NULL, *step = NULL;
            int slice = 0;
            if (!tok_is(p->tok, T_OP, ":")) lo = parse_expr(p);
            if (accept(p, T_OP, ":")) {
                slice = 1;
                if (!tok_is(p->tok, T_OP, ":") && !tok_is(p->tok, T_OP, "]")) hi = parse_expr(p);
                if (accept(p, T_OP, ":") && !tok_is(p->tok, T_OP, "]")) step = parse_expr(p);
            }
            expect(p, T_OP, "]");
            node *s = new_node(p, slice ? E_SLICE : E_ITEM, line);
            s->a = n;
            if (slice) {
                push_item(p, s, lo), push_item(p, s, hi), push_item(p, s, step);
            } else {
                s->b = lo;
            }
            n = s;
        } else if (accept(p, T_OP, "(")) {
            node *c = new_node(p, E_CALL, line);
            c->a = n;
            parse_args(p, c);
            n = c;
        } else {
            return n;
        }
    }
}

static node *parse_filter_expr(parser *p, node *n) {
    for (;;) {
        int line = p->tok->line;
        if (accept(p, T_OP, "|")) {
            if (p->tok->type != T_NAME) fail(p->r, "template line %d: expected a filter name", line);
            node *f = new_node(p, E_FILTER, line);
            f->a = n;
            f->name = astrdup(p->r, p->tok->s, p->tok->n);
            p->tok++;
            if (accept(p, T_OP, "(")) parse_args(p, f);
            n = f;
        } else if (accept(p, T_NAME, "is")) {
            node *t = new_node(p, E_TEST, line);
            t->a = n;
            t->negated = accept(p, T_NAME, "not");
            if (p->tok->type != T_NAME && !tok_is(p->tok, T_OP, "==")) fail(p->r, "template line %d: expected a test name", line);
            t->name = p->tok->type == T_NAME ? astrdup(p->r, p->tok->s, p->tok->n) : "==";
            p->tok++;
            if (accept(p, T_OP, "(")) {
                parse_args(p, t);
            } else if (p->tok->type == T_STRING || p->tok->type == T_INT || p->tok->type == T_FLOAT ||
                       (p->tok->type == T_NAME && !tok_is(p->tok, T_NAME, "and") && !tok_is(p->tok, T_NAME, "or") &&
                        !tok_is(p->tok, T_NAME, "else") && !tok_is(p->tok, T_NAME, "if") && !tok_is(p->tok, T_NAME, "in"))) {
                push_item(p, t, parse_primary(p)); /* "is equalto 3", "is sameas none" */
            }
            n = t;
        } else {
            return n;
        }
    }
}

static node *parse_unary(parser *p, int with_filter) {
    int line = p->tok->line;
    node *n;
    if (++p->depth > MAX_NESTING) fail(p->r, "template line %d: expression nested too deeply", line);
    if (accept(p, T_OP, "-")) {
        n = new_node(p, E_NEG, line);
        n->a = parse_unary(p, 0);
    } else if (accept(p, T_OP, "+")) {
        n = parse_unary(p, 0);
    } else {
        n = parse_postfix(p, parse_primary(p));
    }
    p->depth--;
    return with_filter ? parse_filter_expr(p, n) : n;
}

static node *binary(parser *p, const char *op, node *a, node *b, int line) {
    node *n = new_node(p, E_BIN, line);
    n->name = op;
    n->a = a;
    n->b = b;
    return n;
}

static node *parse_pow(parser *p) {
    node *n = parse_unary(p, 1);
    while (tok_is(p->tok, T_OP, "**")) {
        int line = p->tok++->line;
        n = binary(p, "**", n, parse_unary(p, 1), line);
    }
    return n;
}

static node *parse_math2(parser *p) {
    node *n = parse_pow(p);
    for (;;) {
        const char *ops[] = {"*", "/", "//", "%"};
        int hit = -1;
        for (int i = 0; i < 4; i++)
            if (tok_is(p->tok, T_OP, ops[i])) hit = i;
        if (hit < 0) return n;
        int line = p->tok++->line;
        n = binary(p, ops[hit], n, parse_pow(p), line);
    }
}

static node *parse_concat(parser *p) {
    node *n = parse_math2(p);
    while (tok_is(p->tok, T_OP, "~")) {
        int line = p->tok++->line;
        n = binary(p, "~", n, parse_math2(p), line);
    }
    return n;
}

static node *parse_math1(parser *p) {
    node *n = parse_concat(p);
    for (;;) {
        const char *op = tok_is(p->tok, T_OP, "+") ? "+" : tok_is(p->tok, T_OP, "-") ? "-" : NULL;
        if (!op) return n;
        int line = p->tok++->line;
        n = binary(p, op, n, parse_concat(p), line);
    }
}

static node *parse_compare(parser *p) {
    node *n = parse_math1(p);
    for (;;) {
        const char *ops[] = {"==", "!=", "<=", ">=", "<", ">"};
        const char *op = NULL;
        int line = p->tok->line;
        for (int i = 0; i < 6 && !op; i++)
            if (tok_is(p->tok, T_OP, ops[i])) op = ops[i];
        if (op) {
            p->tok++;
        } else if (tok_is(p->tok, T_NAME, "in")) {
            op = "in";
            p->tok++;
        } else if (tok_is(p->tok, T_NAME, "not") && tok_is(p->tok + 1, T_NAME, "in")) {
            op = "not in";
            p->tok += 2;
        } else {
            return n;
        }
        n = binary(p, op, n, parse_math1(p), line);
    }
}

static node *parse_not(parser *p) {
    int line = p->tok->line;
    if (accept(p, T_NAME, "not")) {
        if (++p->depth > MAX_NESTING) fail(p->r, "template line %d: expression nested too deeply", line);
        node *n = new_node(p, E_NOT, line);
        n->a = parse_not(p);
        p->depth--;
        return n;
    }
    return parse_compare(p);
}

static node *parse_and(parser *p) {
    node *n = parse_not(p);
    while (tok_is(p->tok, T_NAME, "and")) {
        node *a = new_node(p, E_AND, p->tok++->line);
        a->a = n;
        a->b = parse_not(p);
        n = a;
    }
    return n;
}

static node *parse_or(parser *p) {
    node *n = parse_and(p);
    while (tok_is(p->tok, T_NAME, "or")) {
        node *o = new_node(p, E_OR, p->tok++->line);
        o->a = n;
        o->b = parse_and(p);
        n = o;
    }
    return n;
}

static node *parse_expr(parser *p) {
    if (++p->depth > MAX_NESTING) fail(p->r, "template line %d: expression nested too deeply", p->tok->line);
    node *n = parse_or(p);
    while (tok_is(p->tok, T_NAME, "if")) {
        node *c = new_node(p, E_COND, p->tok++->line);
        c->b = n;
        c->a = parse_or(p);
        c->c = accept(p, T_NAME, "else") ? parse_expr(p) : NULL;
        n = c;
    }
    p->depth--;
    return n;
}

/* "a, b" on the left of "in" / "=" */
static node *parse_targets(parser *p) {
    node *t = new_node(p, E_TUPLE, p->tok->line);
    do {
        if (p->tok->type != T_NAME) fail(p->r, "template line %d: expected a variable name", p->tok->line);
        node *n = new_node(p, E_NAME, p->tok->line);
        n->name = astrdup(p->r, p->tok->s, p->tok->n);
        n->name_n = p->tok->n;
        p->tok++;
        push_item(p, t, n);
    } while (accept(p, T_OP, ","));
    return t;
}

static void end_of_tag(parser *p) {
    if (p->tok->type != T_EOF)
        fail(p->r, "template line %d: unexpected \"%.*s\" at the end of a tag", p->tok->line, (int)p->tok->n, p->tok->s);
}

/* The block keyword of the current segment, or NULL. */
static const token *block_keyword(parser *p) {
    if (p->at >= p->n_segs || p->segs[p->at].kind != S_BLOCK) return NULL;
    return p->segs[p->at].toks;
}

static node *parse_body(parser *p, const char *const *stops);
static node *parse_block_tag_body(parser *p, segment *s, const token *kw);

static node *parse_block_tag(parser *p) {
    segment *s = &p->segs[p->at++];
    if (p->depth > MAX_NESTING) fail(p->r, "template line %d: blocks nested too deeply", s->line);
    p->tok = s->toks;
    const token *kw = p->tok;
    if (kw->type != T_NAME) fail(p->r, "template line %d: a block tag must start with a keyword", s->line);
    p->depth++;
    node *result = parse_block_tag_body(p, s, kw);
    p->depth--;
    return result;
}

static node *parse_block_tag_body(parser *p, segment *s, const token *kw) {
    p->tok++;
    if (tok_is(kw, T_NAME, "if")) {
        node *n = new_node(p, N_IF, s->line);
        node *cur = n;
        cur->a = parse_expr(p);
        end_of_tag(p);
        static const char *const stops[] = {"elif", "else", "endif", NULL};
        for (;;) {
            cur->b = parse_body(p, stops);
            const token *k = block_keyword(p);
            if (!k) fail(p->r, "template line %d: \"if\" without \"endif\"", s->line);
            p->tok = p->segs[p->at++].toks + 1;
            if (tok_is(k, T_NAME, "elif")) {
                node *e = new_node(p, N_IF, k->line);
                e->a = parse_expr(p);
                end_of_tag(p);
                cur->c = e;
                cur = e;
            } else if (tok_is(k, T_NAME, "else")) {
                end_of_tag(p);
                static const char *const end_stops[] = {"endif", NULL};
                cur->c = parse_body(p, end_stops);
                if (!block_keyword(p)) fail(p->r, "template line %d: \"if\" without \"endif\"", s->line);
                p->at++;
                return n;
            } else {
                return n;
            }
        }
    }
    if (tok_is(kw, T_NAME, "for")) {
        node *n = new_node(p, N_FOR, s->line);
        push_item(p, n, parse_targets(p));
        expect(p, T_NAME, "in");
        n->a = parse_or(p); /* not parse_expr: a trailing "if" filters the loop */
        if (accept(p, T_NAME, "if")) n->filter_cond = parse_expr(p);
        accept(p, T_NAME, "recursive");
        end_of_tag(p);
        static const char *const stops[] = {"else", "endfor", NULL};
        n->b = parse_body(p, stops);
        const token *k = block_keyword(p);
        if (!k) fail(p->r, "template line %d: \"for\" without \"endfor\"", s->line);
        p->at++;
        if (tok_is(k, T_NAME, "else")) {
            static const char *const end_stops[] = {"endfor", NULL};
            n->c = parse_body(p, end_stops);
            if (!block_keyword(p)) fail(p->r, "template line %d: \"for\" without \"endfor\"", s->line);
            p->at++;
        }
        return n;
    }
    if (tok_is(kw, T_NAME, "set")) {
        if (p->tok->type != T_NAME) fail(p->r, "template line %d: expected a name after \"set\"", s->line);
        node *target = parse_postfix(p, parse_targets(p)->items[0]);
        while (accept(p, T_OP, ",")) { /* set a, b = ... */
            node *t = new_node(p, E_TUPLE, s->line);
            push_item(p, t, target);
            do push_item(p, t, parse_primary(p));
            while (accept(p, T_OP, ","));
            target = t;
        }
        if (accept(p, T_OP, "=")) {
            node *n = new_node(p, N_SET, s->line);
            n->a = target;
            n->b = parse_expr(p);
            if (tok_is(p->tok, T_OP, ",")) { /* set x = a, b => tuple */
                node *t = new_node(p, E_TUPLE, s->line);
                push_item(p, t, n->b);
                while (accept(p, T_OP, ",")) push_item(p, t, parse_expr(p));
                n->b = t;
            }
            end_of_tag(p);
            return n;
        }
        end_of_tag(p);
        node *n = new_node(p, N_SET_BLOCK, s->line);
        n->a = target;
        static const char *const stops[] = {"endset", NULL};
        n->b = parse_body(p, stops);
        if (!block_keyword(p)) fail(p->r, "template line %d: \"set\" without \"endset\"", s->line);
        p->at++;
        return n;
    }
    if (tok_is(kw, T_NAME, "macro")) {
        node *n = new_node(p, N_MACRO, s->line);
        if (p->tok->type != T_NAME) fail(p->r, "template line %d: expected a macro name", s->line);
        n->name = astrdup(p->r, p->tok->s, p->tok->n);
        n->name_n = p->tok->n;
        p->tok++;
        expect(p, T_OP, "(");
        node *params = new_node(p, E_TUPLE, s->line);
        while (!accept(p, T_OP, ")")) {
            if (p->tok->type != T_NAME) fail(p->r, "template line %d: expected a parameter name", s->line);
            node *prm = new_node(p, E_NAME, s->line);
            prm->name = astrdup(p->r, p->tok->s, p->tok->n);
            prm->name_n = p->tok->n;
            p->tok++;
            if (accept(p, T_OP, "=")) prm->a = parse_expr(p);
            push_item(p, params, prm);
            if (!accept(p, T_OP, ",")) {
                expect(p, T_OP, ")");
                break;
            }
        }
        end_of_tag(p);
        n->a = params;
        static const char *const stops[] = {"endmacro", NULL};
        n->b = parse_body(p, stops);
        if (!block_keyword(p)) fail(p->r, "template line %d: \"macro\" without \"endmacro\"", s->line);
        p->at++;
        return n;
    }
    if (tok_is(kw, T_NAME, "break") || tok_is(kw, T_NAME, "continue")) {
        end_of_tag(p);
        return new_node(p, tok_is(kw, T_NAME, "break") ? N_BREAK : N_CONTINUE, s->line);
    }
    if (tok_is(kw, T_NAME, "generation")) { /* transformers' assistant-mask marker: renders its body */
        end_of_tag(p);
        static const char *const stops[] = {"endgeneration", NULL};
        node *b = parse_body(p, stops);
        if (!block_keyword(p)) fail(p->r, "template line %d: \"generation\" without \"endgeneration\"", s->line);
        p->at++;
        return b;
    }
    fail(p->r, "template line %d: unsupported template tag \"%.*s\"", s->line, (int)kw->n, kw->s);
}

static node *parse_body(parser *p, const char *const *stops) {
    node *body = new_node(p, N_BODY, p->at < p->n_segs ? p->segs[p->at].line : 0);
    while (p->at < p->n_segs) {
        segment *s = &p->segs[p->at];
        if (s->kind == S_TEXT) {
            node *t = new_node(p, N_TEXT, 0);
            t->lit = v_strn(s->text, s->n);
            push_item(p, body, t);
            p->at++;
        } else if (s->kind == S_VAR) {
            p->tok = s->toks;
            node *o = new_node(p, N_OUTPUT, s->line);
            o->a = parse_expr(p);
            end_of_tag(p);
            push_item(p, body, o);
            p->at++;
        } else {
            const token *k = s->toks;
            for (int i = 0; stops && stops[i]; i++)
                if (tok_is(k, T_NAME, stops[i])) return body;
            if (k->type == T_NAME &&
                (tok_is(k, T_NAME, "endif") || tok_is(k, T_NAME, "endfor") || tok_is(k, T_NAME, "else") ||
                 tok_is(k, T_NAME, "elif") || tok_is(k, T_NAME, "endset") || tok_is(k, T_NAME, "endmacro") ||
                 tok_is(k, T_NAME, "endgeneration")))
                fail(p->r, "template line %d: unexpected \"%.*s\"", s->line, (int)k->n, k->s);
            push_item(p, body, parse_block_tag(p));
        }
    }
    if (stops) fail(p->r, "template: missing \"%s\" at the end", stops[0]);
    return body;
}

/* ------------------------------------------------------------------ evaluation helpers */

static int truthy(value v) {
    switch (v.t) {
    case V_UNDEF:
    case V_NONE: return 0;
    case V_BOOL: return v.b;
    case V_INT: return v.i != 0;
    case V_FLOAT: return v.f != 0;
    case V_STR: return v.str.n != 0;
    case V_LIST: return v.l->n != 0;
    case V_DICT: return v.d->n != 0;
    default: return 1;
    }
}

static const char *type_name(value v) {
    static const char *names[] = {"undefined", "none", "bool", "int", "float", "str", "list", "dict", "macro", "function"};
    return names[v.t];
}

/* Python's repr of a float: the shortest digits that read back the same. */
static void float_repr(double f, char *buf, size_t len) {
    if (isnan(f)) {
        snprintf(buf, len, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(buf, len, f < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, f);
        if (strtod(buf, NULL) == f) break;
    }
    if (!strpbrk(buf, ".en")) strncat(buf, ".0", len - strlen(buf) - 1);
}

static void append_str(render *r, sbuf *b, value v, int repr);

static void append_repr_str(render *r, sbuf *b, const char *s, size_t n) {
    int has_single = memchr(s, '\'', n) != NULL, has_double = memchr(s, '"', n) != NULL;
    char q = has_single && !has_double ? '"' : '\'';
    sb_put(r, b, &q, 1);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == q || c == '\\') sb_put(r, b, "\\", 1), sb_put(r, b, &c, 1);
        else if (c == '\n') sb_puts(r, b, "\\n");
        else if (c == '\t') sb_puts(r, b, "\\t");
        else if (c == '\r') sb_puts(r, b, "\\r");
        else sb_put(r, b, &c, 1);
    }
    sb_put(r, b, &q, 1);
}

/* str(v) (repr = 0) or repr(v), as Python prints them. */
static void append_str(render *r, sbuf *b, value v, int repr) {
    char num[64];
    switch (v.t) {
    case V_UNDEF: break;
    case V_NONE: sb_puts(r, b, "None"); break;
    case V_BOOL: sb_puts(r, b, v.b ? "True" : "False"); break;
    case V_INT: snprintf(num, sizeof num, "%lld", (long long)v.i), sb_puts(r, b, num); break;
    case V_FLOAT: float_repr(v.f, num, sizeof num), sb_puts(r, b, num); break;
    case V_STR:
        if (repr) append_repr_str(r, b, v.str.s, v.str.n);
        else sb_put(r, b, v.str.s, v.str.n);
        break;
    case V_LIST:
        sb_puts(r, b, "[");
        for (int i = 0; i < v.l->n; i++) {
            if (i) sb_puts(r, b, ", ");
            append_str(r, b, v.l->v[i], 1);
        }
        sb_puts(r, b, "]");
        break;
    case V_DICT:
        sb_puts(r, b, "{");
        for (int i = 0; i < v.d->n; i++) {
            if (i) sb_puts(r, b, ", ");
            append_repr_str(r, b, v.d->k[i], v.d->kn[i]);
            sb_puts(r, b, ": ");
            append_str(r, b, v.d->v[i], 1);
        }
        sb_puts(r, b, "}");
        break;
    default: sb_puts(r, b, "<function>"); break;
    }
}

static value to_string(render *r, value v) {
    if (v.t == V_STR) return v;
    sbuf b = {0};
    append_str(r, &b, v, 0);
    value s = v_strn(astrdup(r, b.p ? b.p : "", b.n), b.n);
    return s;
}

/* json.dumps(v, ensure_ascii=False, indent=indent), as transformers' tojson */
static void append_json(render *r, sbuf *b, value v, int indent, int level) {
    char num[64];
    switch (v.t) {
    case V_UNDEF:
    case V_NONE: sb_puts(r, b, "null"); break;
    case V_BOOL: sb_puts(r, b, v.b ? "true" : "false"); break;
    case V_INT: snprintf(num, sizeof num, "%lld", (long long)v.i), sb_puts(r, b, num); break;
    case V_FLOAT:
        if (isnan(v.f)) sb_puts(r, b, "NaN");
        else if (isinf(v.f)) sb_puts(r, b, v.f < 0 ? "-Infinity" : "Infinity");
        else float_repr(v.f, num, sizeof num), sb_puts(r, b, num);
        break;
    case V_STR:
        sb_puts(r, b, "\"");
        for (size_t i = 0; i < v.str.n; i++) {
            unsigned char c = (unsigned char)v.str.s[i];
            if (c == '"') sb_puts(r, b, "\\\"");
            else if (c == '\\') sb_puts(r, b, "\\\\");
            else if (c == '\n') sb_puts(r, b, "\\n");
            else if (c == '\r') sb_puts(r, b, "\\r");
            else if (c == '\t') sb_puts(r, b, "\\t");
            else if (c == '\b') sb_puts(r, b, "\\b");
            else if (c == '\f') sb_puts(r, b, "\\f");
            else if (c < 0x20 || c == 0x7f) snprintf(num, sizeof num, "\\u%04x", c), sb_puts(r, b, num);
            else sb_put(r, b, (const char *)&c, 1);
        }
        sb_puts(r, b, "\"");
        break;
    case V_LIST:
    case V_DICT: {
        int is_list = v.t == V_LIST, n = is_list ? v.l->n : v.d->n;
        sb_puts(r, b, is_list ? "[" : "{");
        if (n == 0) {
            sb_puts(r, b, is_list ? "]" : "}");
            break;
        }
        for (int i = 0; i < n; i++) {
            if (i) sb_puts(r, b, indent >= 0 ? "," : ", ");
            if (indent >= 0) {
                sb_puts(r, b, "\n");
                for (int k = 0; k < (level + 1) * indent; k++) sb_puts(r, b, " ");
            }
            if (is_list) {
                append_json(r, b, v.l->v[i], indent, level + 1);
            } else {
                append_json(r, b, v_strn(v.d->k[i], v.d->kn[i]), indent, level + 1);
                sb_puts(r, b, ": ");
                append_json(r, b, v.d->v[i], indent, level + 1);
            }
        }
        if (indent >= 0) {
            sb_puts(r, b, "\n");
            for (int k = 0; k < level * indent; k++) sb_puts(r, b, " ");
        }
        sb_puts(r, b, is_list ? "]" : "}");
        break;
    }
    default: fail(r, "template: tojson of a %s", type_name(v));
    }
}

static int values_equal(value a, value b) {
    if ((a.t == V_INT || a.t == V_FLOAT || a.t == V_BOOL) && (b.t == V_INT || b.t == V_FLOAT || b.t == V_BOOL)) {
        double x = a.t == V_INT ? (double)a.i : a.t == V_FLOAT ? a.f : a.b, y = b.t == V_INT ? (double)b.i : b.t == V_FLOAT ? b.f : b.b;
        return x == y;
    }
    if (a.t != b.t) return (a.t == V_NONE && b.t == V_UNDEF) ? 0 : 0;
    switch (a.t) {
    case V_NONE:
    case V_UNDEF: return 1;
    case V_STR: return a.str.n == b.str.n && memcmp(a.str.s, b.str.s, a.str.n) == 0;
    case V_LIST:
        if (a.l->n != b.l->n) return 0;
        for (int i = 0; i < a.l->n; i++)
            if (!values_equal(a.l->v[i], b.l->v[i])) return 0;
        return 1;
    case V_DICT:
        if (a.d->n != b.d->n) return 0;
        for (int i = 0; i < a.d->n; i++) {
            int j = dict_find(b.d, a.d->k[i], a.d->kn[i]);
            if (j < 0 || !values_equal(a.d->v[i], b.d->v[j])) return 0;
        }
        return 1;
    default: return a.macro == b.macro;
    }
}

static int is_num(value v) { return v.t == V_INT || v.t == V_FLOAT || v.t == V_BOOL; }
static double num_of(value v) { return v.t == V_INT ? (double)v.i : v.t == V_FLOAT ? v.f : v.b; }

static int compare(render *r, value a, value b, int line) {
    if (is_num(a) && is_num(b)) return num_of(a) < num_of(b) ? -1 : num_of(a) > num_of(b);
    if (a.t == V_STR && b.t == V_STR) {
        size_t n = a.str.n < b.str.n ? a.str.n : b.str.n;
        int c = memcmp(a.str.s, b.str.s, n);
        return c ? (c < 0 ? -1 : 1) : (a.str.n < b.str.n ? -1 : a.str.n > b.str.n);
    }
    fail(r, "template line %d: cannot compare %s with %s", line, type_name(a), type_name(b));
}

static int contains(render *r, value hay, value needle, int line) {
    if (hay.t == V_STR) {
        if (needle.t != V_STR) fail(r, "template line %d: 'in <string>' needs a string", line);
        if (needle.str.n == 0) return 1;
        for (size_t i = 0; i + needle.str.n <= hay.str.n; i++)
            if (memcmp(hay.str.s + i, needle.str.s, needle.str.n) == 0) return 1;
        return 0;
    }
    if (hay.t == V_LIST) {
        for (int i = 0; i < hay.l->n; i++)
            if (values_equal(hay.l->v[i], needle)) return 1;
        return 0;
    }
    if (hay.t == V_DICT) return needle.t == V_STR && dict_find(hay.d, needle.str.s, needle.str.n) >= 0;
    if (hay.t == V_UNDEF) fail(r, "template line %d: \"in\" on an undefined value", line);
    fail(r, "template line %d: \"in\" on a %s", line, type_name(hay));
}

/* Items of anything iterable (dict: its keys). */
static list *iterate(render *r, value v, int line) {
    if (v.t == V_LIST) return v.l;
    list *l = list_new(r);
    if (v.t == V_DICT) {
        for (int i = 0; i < v.d->n; i++) list_push(r, l, v_strn(v.d->k[i], v.d->kn[i]));
    } else if (v.t == V_STR) {
        for (size_t i = 0; i < v.str.n;) {
            size_t k = i + 1;
            while (k < v.str.n && ((unsigned char)v.str.s[k] & 0xc0) == 0x80) k++;
            list_push(r, l, v_strn(v.str.s + i, k - i));
            i = k;
        }
    } else if (v.t != V_UNDEF && v.t != V_NONE) {
        fail(r, "template line %d: a %s is not iterable", line, type_name(v));
    } else if (v.t == V_NONE) {
        fail(r, "template line %d: None is not iterable", line);
    }
    return l;
}

/* ------------------------------------------------------------------ scopes */

static value *lookup(render *r, const char *name, size_t n) {
    for (frame *f = r->scope; f; f = f->parent) {
        int i = dict_find(f->vars, name, n);
        if (i >= 0) return &f->vars->v[i];
    }
    return NULL;
}

static void push_scope(render *r) {
    frame *f = arena_alloc(r, sizeof *f);
    f->vars = dict_new(r);
    f->parent = r->scope;
    r->scope = f;
}

static void pop_scope(render *r) { r->scope = r->scope->parent; }

/* ------------------------------------------------------------------ evaluation */

static value eval(render *r, const node *n);
static void exec_body(render *r, const node *body, sbuf *out);

static value kwarg(render *r, const node *call, const value *args, const char *name, int pos, value dflt) {
    int n_pos = call->n_items - call->n_kw;
    for (int i = 0; i < call->n_kw; i++)
        if (strcmp(call->kw[i], name) == 0) return args[n_pos + i];
    (void)r;
    if (pos >= 0 && pos < n_pos) return args[pos];
    return dflt;
}

static value *eval_args(render *r, const node *call) {
    value *args = arena_alloc(r, (size_t)(call->n_items + 1) * sizeof *args);
    for (int i = 0; i < call->n_items; i++) args[i] = eval(r, call->items[i]);
    return args;
}

static value str_strip(render *r, value s, value chars, int left, int right) {
    (void)r;
    const char *p = s.str.s;
    size_t a = 0, e = s.str.n;
    for (;;) {
        int moved = 0;
        if (left && a < e) {
            char c = p[a];
            int strip = chars.t == V_STR ? memchr(chars.str.s, c, chars.str.n) != NULL : (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f');
            if (strip) a++, moved = 1;
        }
        if (right && e > a) {
            char c = p[e - 1];
            int strip = chars.t == V_STR ? memchr(chars.str.s, c, chars.str.n) != NULL : (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f');
            if (strip) e--, moved = 1;
        }
        if (!moved) break;
    }
    return v_strn(p + a, e - a);
}

static value str_case(render *r, value s, int mode) { /* 0 lower, 1 upper, 2 capitalize, 3 title */
    char *c = astrdup(r, s.str.s, s.str.n);
    int word_start = 1;
    for (size_t i = 0; i < s.str.n; i++) {
        char ch = c[i];
        int alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        if (mode == 0 || (mode == 2 && i > 0) || (mode == 3 && !word_start)) {
            if (ch >= 'A' && ch <= 'Z') c[i] = (char)(ch + 32);
        } else if (mode == 1 || (mode == 2 && i == 0) || (mode == 3 && word_start)) {
            if (ch >= 'a' && ch <= 'z') c[i] = (char)(ch - 32);
        }
        word_start = !alpha;
    }
    return v_strn(c, s.str.n);
}

static value str_replace(render *r, value s, value from, value to) {
    if (from.t != V_STR || to.t != V_STR) fail(r, "template: replace() needs strings");
    sbuf b = {0};
    for (size_t i = 0; i < s.str.n;) {
        if (from.str.n && i + from.str.n <= s.str.n && memcmp(s.str.s + i, from.str.s, from.str.n) == 0) {
            sb_put(r, &b, to.str.s, to.str.n);
            i += from.str.n;
        } else {
            sb_put(r, &b, s.str.s + i, 1);
            i++;
        }
    }
    value v = v_strn(astrdup(r, b.p ? b.p : "", b.n), b.n);
    return v;
}

static value str_split(render *r, value s, value sep, int line) {
    list *l = list_new(r);
    if (sep.t == V_STR && sep.str.n) {
        size_t at = 0;
        for (size_t i = 0; i + sep.str.n <= s.str.n;) {
            if (memcmp(s.str.s + i, sep.str.s, sep.str.n) == 0) {
                list_push(r, l, v_strn(s.str.s + at, i - at));
                i += sep.str.n;
                at = i;
            } else {
                i++;
            }
        }
        list_push(r, l, v_strn(s.str.s + at, s.str.n - at));
    } else if (sep.t == V_UNDEF || sep.t == V_NONE) {
        size_t i = 0;
        while (i < s.str.n) {
            while (i < s.str.n && strchr(" \t\n\r\v\f", s.str.s[i])) i++;
            size_t a = i;
            while (i < s.str.n && !strchr(" \t\n\r\v\f", s.str.s[i])) i++;
            if (i > a) list_push(r, l, v_strn(s.str.s + a, i - a));
        }
    } else {
        fail(r, "template line %d: split() needs a non-empty separator", line);
    }
    return (value){.t = V_LIST, .l = l};
}

static int starts_or_ends(value s, value x, int end) {
    if (x.t == V_LIST) {
        for (int i = 0; i < x.l->n; i++)
            if (starts_or_ends(s, x.l->v[i], end)) return 1;
        return 0;
    }
    if (x.t != V_STR || x.str.n > s.str.n) return 0;
    return memcmp(s.str.s + (end ? s.str.n - x.str.n : 0), x.str.s, x.str.n) == 0;
}

static value call_method(render *r, value self, const char *m, const node *call, int line, int *found) {
    *found = 1;
    value *a = eval_args(r, call);
    int n = call->n_items;
    value none = v_undef(NULL);
    if (self.t == V_STR) {
        if (!strcmp(m, "strip")) return str_strip(r, self, n ? a[0] : none, 1, 1);
        if (!strcmp(m, "lstrip")) return str_strip(r, self, n ? a[0] : none, 1, 0);
        if (!strcmp(m, "rstrip")) return str_strip(r, self, n ? a[0] : none, 0, 1);
        if (!strcmp(m, "lower")) return str_case(r, self, 0);
        if (!strcmp(m, "upper")) return str_case(r, self, 1);
        if (!strcmp(m, "capitalize")) return str_case(r, self, 2);
        if (!strcmp(m, "title")) return str_case(r, self, 3);
        if (!strcmp(m, "startswith")) return v_bool(n && starts_or_ends(self, a[0], 0));
        if (!strcmp(m, "endswith")) return v_bool(n && starts_or_ends(self, a[0], 1));
        if (!strcmp(m, "replace") && n >= 2) return str_replace(r, self, a[0], a[1]);
        if (!strcmp(m, "split")) return str_split(r, self, n ? a[0] : none, line);
        if (!strcmp(m, "join") && n == 1) {
            list *l = iterate(r, a[0], line);
            sbuf b = {0};
            for (int i = 0; i < l->n; i++) {
                if (i) sb_put(r, &b, self.str.s, self.str.n);
                append_str(r, &b, l->v[i], 0);
            }
            value v = v_strn(astrdup(r, b.p ? b.p : "", b.n), b.n);
            return v;
        }
    } else if (self.t == V_DICT) {
        if (!strcmp(m, "items") || !strcmp(m, "keys") || !strcmp(m, "values")) {
            list *l = list_new(r);
            for (int i = 0; i < self.d->n; i++) {
                value k = v_strn(self.d->k[i], self.d->kn[i]);
                if (!strcmp(m, "keys")) list_push(r, l, k);
                else if (!strcmp(m, "values")) list_push(r, l, self.d->v[i]);
                else {
                    list *pair = list_new(r);
                    list_push(r, pair, k);
                    list_push(r, pair, self.d->v[i]);
                    list_push(r, l, (value){.t = V_LIST, .l = pair});
                }
            }
            return (value){.t = V_LIST, .l = l};
        }
        if (!strcmp(m, "get") && n >= 1) {
            int i = a[0].t == V_STR ? dict_find(self.d, a[0].str.s, a[0].str.n) : -1;
            return i >= 0 ? self.d->v[i] : n >= 2 ? a[1] : v_none();
        }
    }
    *found = 0;
    return none;
}

static value get_attr(render *r, value obj, const char *name, size_t n) {
    (void)r;
    if (obj.t == V_DICT) {
        int i = dict_find(obj.d, name, n);
        if (i >= 0) return obj.d->v[i];
    }
    return v_undef(name);
}

static value get_item(render *r, value obj, value key, int line) {
    if (obj.t == V_DICT) {
        if (key.t != V_STR) {
            value ks = to_string(r, key);
            int i = dict_find(obj.d, ks.str.s, ks.str.n);
            return i >= 0 ? obj.d->v[i] : v_undef(NULL);
        }
        int i = dict_find(obj.d, key.str.s, key.str.n);
        return i >= 0 ? obj.d->v[i] : v_undef(key.str.s);
    }
    if (obj.t == V_LIST || obj.t == V_STR) {
        if (key.t != V_INT) fail(r, "template line %d: list index must be an integer", line);
        list *l = obj.t == V_LIST ? obj.l : iterate(r, obj, line);
        int64_t i = key.i < 0 ? key.i + l->n : key.i;
        if (i < 0 || i >= l->n) return v_undef(NULL);
        return l->v[i];
    }
    return v_undef(NULL);
}

static value slice(render *r, value obj, const node *n) {
    value lo = n->items[0] ? eval(r, n->items[0]) : v_none(), hi = n->items[1] ? eval(r, n->items[1]) : v_none();
    value st = n->items[2] ? eval(r, n->items[2]) : v_none();
    int is_str = obj.t == V_STR;
    list *l = iterate(r, obj, n->line);
    int64_t len = l->n, step = st.t == V_INT ? st.i : 1;
    if (step == 0) fail(r, "template line %d: slice step cannot be zero", n->line);
    int64_t a, b;
    if (step > 0) {
        a = lo.t == V_INT ? lo.i : 0;
        b = hi.t == V_INT ? hi.i : len;
        if (a < 0) a += len;
        if (b < 0) b += len;
        a = a < 0 ? 0 : a > len ? len : a;
        b = b < 0 ? 0 : b > len ? len : b;
    } else {
        a = lo.t == V_INT ? lo.i : len - 1;
        b = hi.t == V_INT ? hi.i : -len - 1;
        if (a < 0) a += len;
        if (b < 0) b += len;
        a = a < -1 ? -1 : a > len - 1 ? len - 1 : a;
        b = b < -1 ? -1 : b > len - 1 ? len - 1 : b;
    }
    list *out = list_new(r);
    for (int64_t i = a; step > 0 ? i < b : i > b; i += step) list_push(r, out, l->v[i]);
    if (!is_str) return (value){.t = V_LIST, .l = out};
    sbuf sb = {0};
    for (int i = 0; i < out->n; i++) sb_put(r, &sb, out->v[i].str.s, out->v[i].str.n);
    value v = v_strn(astrdup(r, sb.p ? sb.p : "", sb.n), sb.n);
    return v;
}

static int apply_test(render *r, const char *name, value v, const value *args, int n_args, int line) {
    if (!strcmp(name, "defined")) return v.t != V_UNDEF;
    if (!strcmp(name, "undefined")) return v.t == V_UNDEF;
    if (!strcmp(name, "none")) return v.t == V_NONE;
    if (!strcmp(name, "string")) return v.t == V_STR;
    if (!strcmp(name, "number")) return v.t == V_INT || v.t == V_FLOAT;
    if (!strcmp(name, "integer")) return v.t == V_INT;
    if (!strcmp(name, "float")) return v.t == V_FLOAT;
    if (!strcmp(name, "boolean")) return v.t == V_BOOL;
    if (!strcmp(name, "true")) return v.t == V_BOOL && v.b;
    if (!strcmp(name, "false")) return v.t == V_BOOL && !v.b;
    if (!strcmp(name, "mapping")) return v.t == V_DICT;
    if (!strcmp(name, "iterable")) return v.t == V_LIST || v.t == V_DICT || v.t == V_STR;
    if (!strcmp(name, "sequence")) return v.t == V_LIST || v.t == V_STR || v.t == V_DICT;
    if (!strcmp(name, "callable")) return v.t == V_MACRO || v.t == V_FUNC;
    if (!strcmp(name, "odd")) return v.t == V_INT && (v.i % 2 != 0);
    if (!strcmp(name, "even")) return v.t == V_INT && (v.i % 2 == 0);
    if (!strcmp(name, "lower")) return v.t == V_STR && values_equal(str_case(r, v, 0), v);
    if (!strcmp(name, "upper")) return v.t == V_STR && values_equal(str_case(r, v, 1), v);
    if (n_args >= 1) {
        if (!strcmp(name, "equalto") || !strcmp(name, "eq") || !strcmp(name, "==") || !strcmp(name, "sameas"))
            return values_equal(v, args[0]);
        if (!strcmp(name, "ne") || !strcmp(name, "!=")) return !values_equal(v, args[0]);
        if (!strcmp(name, "lt")) return compare(r, v, args[0], line) < 0;
        if (!strcmp(name, "le")) return compare(r, v, args[0], line) <= 0;
        if (!strcmp(name, "gt")) return compare(r, v, args[0], line) > 0;
        if (!strcmp(name, "ge")) return compare(r, v, args[0], line) >= 0;
        if (!strcmp(name, "in")) return contains(r, args[0], v, line);
        if (!strcmp(name, "divisibleby")) return v.t == V_INT && args[0].t == V_INT && args[0].i && v.i % args[0].i == 0;
    }
    fail(r, "template line %d: unsupported test \"%s\"", line, name);
}

static value apply_filter(render *r, const node *f, value v);

/* select/reject/selectattr/rejectattr */
static value filter_select(render *r, const node *f, value v, const value *a, int n, int keep, int by_attr) {
    list *l = iterate(r, v, f->line), *out = list_new(r);
    for (int i = 0; i < l->n; i++) {
        value item = l->v[i];
        int first_arg = 0;
        if (by_attr) {
            if (n < 1 || a[0].t != V_STR) fail(r, "template line %d: %s needs an attribute name", f->line, f->name);
            item = get_attr(r, item, a[0].str.s, a[0].str.n);
            first_arg = 1;
        }
        int pass;
        if (n > first_arg) {
            if (a[first_arg].t != V_STR) fail(r, "template line %d: %s needs a test name", f->line, f->name);
            pass = apply_test(r, a[first_arg].str.s, item, a + first_arg + 1, n - first_arg - 1, f->line);
        } else {
            pass = truthy(item);
        }
        if (pass == keep) list_push(r, out, l->v[i]);
    }
    return (value){.t = V_LIST, .l = out};
}

static value apply_filter(render *r, const node *f, value v) {
    value *a = eval_args(r, f);
    int n = f->n_items;
    const char *name = f->name;
    int line = f->line;
    if (!strcmp(name, "trim")) {
        if (v.t != V_STR) v = to_string(r, v);
        return str_strip(r, v, n ? a[0] : v_undef(NULL), 1, 1);
    }
    if (!strcmp(name, "tojson")) {
        value ind = kwarg(r, f, a, "indent", 0, v_none());
        sbuf b = {0};
        append_json(r, &b, v, ind.t == V_INT ? (int)ind.i : -1, 0);
        value s = v_strn(astrdup(r, b.p ? b.p : "", b.n), b.n);
        return s;
    }
    if (!strcmp(name, "length") || !strcmp(name, "count")) {
        if (v.t == V_STR) return v_int((int64_t)iterate(r, v, line)->n);
        if (v.t == V_LIST) return v_int(v.l->n);
        if (v.t == V_DICT) return v_int(v.d->n);
        fail(r, "template line %d: length of a %s", line, type_name(v));
    }
    if (!strcmp(name, "string")) return to_string(r, v);
    if (!strcmp(name, "safe")) return v;
    if (!strcmp(name, "lower")) return str_case(r, to_string(r, v), 0);
    if (!strcmp(name, "upper")) return str_case(r, to_string(r, v), 1);
    if (!strcmp(name, "capitalize")) return str_case(r, to_string(r, v), 2);
    if (!strcmp(name, "title")) return str_case(r, to_string(r, v), 3);
    if (!strcmp(name, "replace") && n >= 2) return str_replace(r, to_string(r, v), a[0], a[1]);
    if (!strcmp(name, "default") || !strcmp(name, "d")) {
        value dflt = n ? a[0] : v_strn("", 0);
        int boolean = truthy(kwarg(r, f, a, "boolean", 1, v_bool(0)));
        return (v.t == V_UNDEF || (boolean && !truthy(v))) ? dflt : v;
    }
    if (!strcmp(name, "first") || !strcmp(name, "last")) {
        list *l = iterate(r, v, line);
        if (!l->n) return v_undef(NULL);
        return l->v[!strcmp(name, "first") ? 0 : l->n - 1];
    }
    if (!strcmp(name, "join")) {
        list *l = iterate(r, v, line);
        value sep = n ? a[0] : v_strn("", 0), attr = kwarg(r, f, a, "attribute", 1, v_undef(NULL));
        sbuf b = {0};
        for (int i = 0; i < l->n; i++) {
            if (i) append_str(r, &b, sep, 0);
            value item = attr.t == V_STR ? get_attr(r, l->v[i], attr.str.s, attr.str.n) : l->v[i];
            append_str(r, &b, item, 0);
        }
        value s = v_strn(astrdup(r, b.p ? b.p : "", b.n), b.n);
        return s;
    }
    if (!strcmp(name, "list")) return (value){.t = V_LIST, .l = iterate(r, v, line)};
    if (!strcmp(name, "items")) {
        if (v.t != V_DICT) fail(r, "template line %d: items of a %s", line, type_name(v));
        int found;
        node none = {0};
        return call_method(r, v, "items", &none, line, &found);
    }
    if (!strcmp(name, "select")) return filter_select(r, f, v, a, n, 1, 0);
    if (!strcmp(name, "reject")) return filter_select(r, f, v, a, n, 0, 0);
    if (!strcmp(name, "selectattr")) return filter_select(r, f, v, a, n, 1, 1);
    if (!strcmp(name, "rejectattr")) return filter_select(r, f, v, a, n, 0, 1);
    if (!strcmp(name, "map")) {
        list *l = iterate(r, v, line), *out = list_new(r);
        value attr = kwarg(r, f, a, "attribute", -1, v_undef(NULL));
        for (int i = 0; i < l->n; i++) {
            if (attr.t == V_STR) {
                list_push(r, out, get_attr(r, l->v[i], attr.str.s, attr.str.n));
            } else if (n >= 1 && a[0].t == V_STR) {
                node sub = {.type = E_FILTER, .line = line, .name = a[0].str.s};
                list_push(r, out, apply_filter(r, &sub, l->v[i]));
            } else {
                fail(r, "template line %d: map() needs a filter name or attribute=", line);
            }
        }
        return (value){.t = V_LIST, .l = out};
    }
    if (!strcmp(name, "int")) {
        if (v.t == V_INT) return v;
        if (v.t == V_FLOAT) {
            if (!(fabs(v.f) < 9.2e18)) fail(r, "template line %d: %g does not fit an integer", line, v.f);
            return v_int((int64_t)v.f);
        }
        if (v.t == V_BOOL) return v_int(v.b);
        if (v.t == V_STR) return v_int(strtoll(astrdup(r, v.str.s, v.str.n), NULL, 10));
        return v_int(0);
    }
    if (!strcmp(name, "float")) return v_float(is_num(v) ? num_of(v) : v.t == V_STR ? strtod(astrdup(r, v.str.s, v.str.n), NULL) : 0.0);
    if (!strcmp(name, "abs")) return v.t == V_INT ? v_int(v.i < 0 ? -v.i : v.i) : v_float(fabs(num_of(v)));
    if (!strcmp(name, "round")) {
        int prec = n && a[0].t == V_INT ? (int)a[0].i : 0;
        double s = pow(10, prec);
        return v_float(round(num_of(v) * s) / s);
    }
    if (!strcmp(name, "unique")) {
        list *l = iterate(r, v, line), *out = list_new(r);
        for (int i = 0; i < l->n; i++) {
            int dup = 0;
            for (int k = 0; k < out->n && !dup; k++) dup = values_equal(out->v[k], l->v[i]);
            if (!dup) list_push(r, out, l->v[i]);
        }
        return (value){.t = V_LIST, .l = out};
    }
    if (!strcmp(name, "indent")) {
        int width = n && a[0].t == V_INT ? (int)a[0].i : 4, first = truthy(kwarg(r, f, a, "first", 1, v_bool(0)));
        value s = to_string(r, v);
        sbuf b = {0};
        for (int k = 0; first && k < width; k++) sb_puts(r, &b, " ");
        for (size_t i = 0; i < s.str.n; i++) {
            sb_put(r, &b, s.str.s + i, 1);
            if (s.str.s[i] == '\n' && i + 1 < s.str.n)
                for (int k = 0; k < width; k++) sb_puts(r, &b, " ");
        }
        value out = v_strn(astrdup(r, b.p ? b.p : "", b.n), b.n);
        return out;
    }
    if (!strcmp(name, "dictsort")) {
        if (v.t != V_DICT) fail(r, "template line %d: dictsort of a %s", line, type_name(v));
        int found;
        node none = {0};
        value items = call_method(r, v, "items", &none, line, &found);
        for (int i = 1; i < items.l->n; i++) /* insertion sort by key */
            for (int k = i; k > 0 && compare(r, items.l->v[k - 1].l->v[0], items.l->v[k].l->v[0], line) > 0; k--) {
                value t = items.l->v[k];
                items.l->v[k] = items.l->v[k - 1];
                items.l->v[k - 1] = t;
            }
        return items;
    }
    fail(r, "template line %d: unsupported filter \"%s\"", line, name);
}

static value call_macro(render *r, value m, const node *call) {
    const node *def = m.macro;
    value *args = eval_args(r, call);
    int n_pos = call->n_items - call->n_kw;
    if (++r->depth > 64) fail(r, "template line %d: macros nested too deeply", call->line);
    frame *saved = r->scope;
    frame *f = arena_alloc(r, sizeof *f);
    f->vars = dict_new(r);
    f->parent = r->globals;
    r->scope = f;
    const node *params = def->a;
    for (int i = 0; i < params->n_items; i++) {
        const node *p = params->items[i];
        value v = i < n_pos ? args[i] : p->a ? eval(r, p->a) : v_undef(p->name);
        for (int k = 0; k < call->n_kw; k++)
            if (strcmp(call->kw[k], p->name) == 0) v = args[n_pos + k];
        dict_set(r, f->vars, p->name, p->name_n, v);
    }
    sbuf out = {0};
    exec_body(r, def->b, &out);
    r->scope = saved;
    r->depth--;
    value s = v_strn(astrdup(r, out.p ? out.p : "", out.n), out.n);
    return s;
}

static value call_builtin(render *r, const char *name, const node *call) {
    value *a = eval_args(r, call);
    int n = call->n_items - call->n_kw;
    if (!strcmp(name, "raise_exception")) {
        value msg = n ? to_string(r, a[0]) : v_strn("", 0);
        fail(r, "%.*s", (int)msg.str.n, msg.str.s);
    }
    if (!strcmp(name, "range")) {
        int64_t start = 0, stop, step = 1;
        if (n == 1 && a[0].t == V_INT) stop = a[0].i;
        else if (n >= 2 && a[0].t == V_INT && a[1].t == V_INT) start = a[0].i, stop = a[1].i, step = n >= 3 && a[2].t == V_INT ? a[2].i : 1;
        else fail(r, "template line %d: range() needs integers", call->line);
        int64_t span;
        if (step == 0 || __builtin_sub_overflow(stop, start, &span) || span / step > 1000000)
            fail(r, "template line %d: bad range()", call->line);
        list *l = list_new(r);
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) list_push(r, l, v_int(i));
        return (value){.t = V_LIST, .l = l};
    }
    if (!strcmp(name, "namespace") || !strcmp(name, "dict")) {
        dict *d = dict_new(r);
        d->is_namespace = !strcmp(name, "namespace");
        for (int i = 0; i < call->n_kw; i++) dict_set(r, d, call->kw[i], strlen(call->kw[i]), a[n + i]);
        return (value){.t = V_DICT, .d = d};
    }
    if (!strcmp(name, "strftime_now")) {
        value fmt = n ? to_string(r, a[0]) : v_strn("%Y-%m-%d", 8);
        char buf[256];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        size_t len = strftime(buf, sizeof buf, astrdup(r, fmt.str.s, fmt.str.n), &tm);
        return v_strn(astrdup(r, buf, len), len);
    }
    fail(r, "template line %d: unknown function \"%s\"", call->line, name);
}

/* Python integer arithmetic within int64: overflow is an error, not UB. */
static value int_arith(render *r, const char *op, int64_t i, int64_t j, int line) {
    int64_t out;
    if (!strcmp(op, "+")) {
        if (__builtin_add_overflow(i, j, &out)) fail(r, "template line %d: integer overflow", line);
        return v_int(out);
    }
    if (!strcmp(op, "-")) {
        if (__builtin_sub_overflow(i, j, &out)) fail(r, "template line %d: integer overflow", line);
        return v_int(out);
    }
    if (!strcmp(op, "*")) {
        if (__builtin_mul_overflow(i, j, &out)) fail(r, "template line %d: integer overflow", line);
        return v_int(out);
    }
    if ((!strcmp(op, "/") || !strcmp(op, "//") || !strcmp(op, "%")) && j == 0) fail(r, "template line %d: division by zero", line);
    if (!strcmp(op, "/")) return v_float((double)i / (double)j);
    if (!strcmp(op, "//") || !strcmp(op, "%")) {
        if (i == INT64_MIN && j == -1) fail(r, "template line %d: integer overflow", line);
        int64_t q = i / j, m = i % j;
        if (m != 0 && ((m < 0) != (j < 0))) q--, m += j;
        return !strcmp(op, "//") ? v_int(q) : v_int(m);
    }
    if (!strcmp(op, "**")) {
        if (j < 0) return v_float(pow((double)i, (double)j));
        int64_t acc = 1;
        for (int64_t k = 0; k < j; k++) {
            if (__builtin_mul_overflow(acc, i, &acc)) fail(r, "template line %d: integer overflow", line);
            if (acc == 0 || acc == 1) break; /* 0 and 1 stay; -1 alternates below */
        }
        if (i == -1) acc = (j % 2) ? -1 : 1;
        return v_int(acc);
    }
    fail(r, "template line %d: unsupported operator %s", line, op);
}

static value eval(render *r, const node *n) {
    if (++r->steps > MAX_STEPS) fail(r, "template line %d: too much work (more than %ld steps)", n->line, MAX_STEPS);
    switch (n->type) {
    case E_LIT: return n->lit;
    case E_NAME: {
        value *v = lookup(r, n->name, n->name_n);
        if (v) return *v;
        static const char *builtins[] = {"raise_exception", "range", "namespace", "strftime_now", "dict"};
        for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
            if (!strcmp(n->name, builtins[i])) return (value){.t = V_FUNC, .fn = {builtins[i], NULL}};
        return v_undef(n->name);
    }
    case E_ATTR: return get_attr(r, eval(r, n->a), n->name, n->name_n);
    case E_ITEM: return get_item(r, eval(r, n->a), eval(r, n->b), n->line);
    case E_SLICE: return slice(r, eval(r, n->a), n);
    case E_CALL: {
        if (n->a->type == E_ATTR) { /* a method of a string, dict or list */
            value self = eval(r, n->a->a);
            int found;
            value res = call_method(r, self, n->a->name, n, n->line, &found);
            if (found) return res;
            value attr = get_attr(r, self, n->a->name, n->a->name_n);
            if (attr.t == V_MACRO) return call_macro(r, attr, n);
            fail(r, "template line %d: %s has no method \"%s\"", n->line, type_name(self), n->a->name);
        }
        value fn = eval(r, n->a);
        if (fn.t == V_MACRO) return call_macro(r, fn, n);
        if (fn.t == V_FUNC) return call_builtin(r, fn.fn.name, n);
        fail(r, "template line %d: \"%s\" is not callable", n->line, n->a->type == E_NAME ? n->a->name : type_name(fn));
    }
    case E_FILTER: return apply_filter(r, n, eval(r, n->a));
    case E_TEST: {
        value v = eval(r, n->a);
        value *args = eval_args(r, n);
        int res = apply_test(r, n->name, v, args, n->n_items, n->line);
        return v_bool(n->negated ? !res : res);
    }
    case E_NOT: return v_bool(!truthy(eval(r, n->a)));
    case E_AND: {
        value a = eval(r, n->a);
        return truthy(a) ? eval(r, n->b) : a;
    }
    case E_OR: {
        value a = eval(r, n->a);
        return truthy(a) ? a : eval(r, n->b);
    }
    case E_COND: return truthy(eval(r, n->a)) ? eval(r, n->b) : n->c ? eval(r, n->c) : v_undef(NULL);
    case E_NEG: {
        value v = eval(r, n->a);
        if (v.t == V_INT) {
            if (v.i == INT64_MIN) fail(r, "template line %d: integer overflow", n->line);
            return v_int(-v.i);
        }
        if (v.t == V_FLOAT) return v_float(-v.f);
        fail(r, "template line %d: cannot negate a %s", n->line, type_name(v));
    }
    case E_LIST:
    case E_TUPLE: {
        list *l = list_new(r);
        for (int i = 0; i < n->n_items; i++) list_push(r, l, eval(r, n->items[i]));
        return (value){.t = V_LIST, .l = l};
    }
    case E_DICT: {
        dict *d = dict_new(r);
        for (int i = 0; i + 1 < n->n_items; i += 2) {
            value k = to_string(r, eval(r, n->items[i]));
            dict_set(r, d, k.str.s, k.str.n, eval(r, n->items[i + 1]));
        }
        return (value){.t = V_DICT, .d = d};
    }
    case E_BIN: {
        const char *op = n->name;
        value a = eval(r, n->a), b = eval(r, n->b);
        if (!strcmp(op, "==")) return v_bool(values_equal(a, b));
        if (!strcmp(op, "!=")) return v_bool(!values_equal(a, b));
        if (!strcmp(op, "<")) return v_bool(compare(r, a, b, n->line) < 0);
        if (!strcmp(op, ">")) return v_bool(compare(r, a, b, n->line) > 0);
        if (!strcmp(op, "<=")) return v_bool(compare(r, a, b, n->line) <= 0);
        if (!strcmp(op, ">=")) return v_bool(compare(r, a, b, n->line) >= 0);
        if (!strcmp(op, "in")) return v_bool(contains(r, b, a, n->line));
        if (!strcmp(op, "not in")) return v_bool(!contains(r, b, a, n->line));
        if (!strcmp(op, "~")) {
            sbuf s = {0};
            append_str(r, &s, a, 0);
            append_str(r, &s, b, 0);
            value v = v_strn(astrdup(r, s.p ? s.p : "", s.n), s.n);
            return v;
        }
        if (!strcmp(op, "+")) {
            if (a.t == V_STR && b.t == V_STR) {
                char *c = arena_alloc(r, a.str.n + b.str.n + 1);
                memcpy(c, a.str.s, a.str.n);
                memcpy(c + a.str.n, b.str.s, b.str.n);
                return v_strn(c, a.str.n + b.str.n);
            }
            if (a.t == V_LIST && b.t == V_LIST) {
                list *l = list_new(r);
                for (int i = 0; i < a.l->n; i++) list_push(r, l, a.l->v[i]);
                for (int i = 0; i < b.l->n; i++) list_push(r, l, b.l->v[i]);
                return (value){.t = V_LIST, .l = l};
            }
        }
        if (is_num(a) && is_num(b)) {
            if (a.t != V_FLOAT && b.t != V_FLOAT) return int_arith(r, op, a.t == V_INT ? a.i : a.b, b.t == V_INT ? b.i : b.b, n->line);
            double x = num_of(a), y = num_of(b);
            if (!strcmp(op, "+")) return v_float(x + y);
            if (!strcmp(op, "-")) return v_float(x - y);
            if (!strcmp(op, "*")) return v_float(x * y);
            if (y == 0 && (!strcmp(op, "/") || !strcmp(op, "//") || !strcmp(op, "%")))
                fail(r, "template line %d: division by zero", n->line);
            if (!strcmp(op, "/")) return v_float(x / y);
            if (!strcmp(op, "//")) return v_float(floor(x / y));
            if (!strcmp(op, "%")) return v_float(x - y * floor(x / y));
            if (!strcmp(op, "**")) return v_float(pow(x, y));
        }
        if (!strcmp(op, "*") && a.t == V_STR && b.t == V_INT) {
            sbuf s = {0};
            for (int64_t k = 0; k < b.i && k < 100000; k++) sb_put(r, &s, a.str.s, a.str.n);
            value v = v_strn(astrdup(r, s.p ? s.p : "", s.n), s.n);
            return v;
        }
        fail(r, "template line %d: unsupported operand types for %s: %s and %s", n->line, op, type_name(a), type_name(b));
    }
    default: fail(r, "template: internal error (node %d)", (int)n->type);
    }
}

/* ------------------------------------------------------------------ statements */

static void assign(render *r, const node *target, value v, int line) {
    if (target->type == E_NAME) {
        dict_set(r, r->scope->vars, target->name, target->name_n, v);
    } else if (target->type == E_ATTR) { /* ns.attr = v */
        value obj = eval(r, target->a);
        if (obj.t != V_DICT || !obj.d->is_namespace)
            fail(r, "template line %d: can only assign attributes of a namespace()", line);
        dict_set(r, obj.d, target->name, target->name_n, v);
    } else if (target->type == E_TUPLE) {
        list *l = iterate(r, v, line);
        if (l->n != target->n_items) fail(r, "template line %d: cannot unpack %d values into %d names", line, l->n, target->n_items);
        for (int i = 0; i < l->n; i++) assign(r, target->items[i], l->v[i], line);
    } else {
        fail(r, "template line %d: cannot assign to this expression", line);
    }
}

static void exec_for(render *r, const node *n, sbuf *out) {
    value seq = eval(r, n->a);
    list *all = iterate(r, seq, n->line), *items = all;
    const node *targets = n->items[0];
    if (n->filter_cond) { /* the "if" filter runs before loop.* are known */
        items = list_new(r);
        for (int i = 0; i < all->n; i++) {
            push_scope(r);
            assign(r, targets->n_items == 1 ? targets->items[0] : targets, all->v[i], n->line);
            if (truthy(eval(r, n->filter_cond))) list_push(r, items, all->v[i]);
            pop_scope(r);
        }
    }
    if (items->n == 0) {
        if (n->c) exec_body(r, n->c, out);
        return;
    }
    value *outer_loop = lookup(r, "loop", 4);
    value outer = outer_loop ? *outer_loop : v_undef("loop");
    for (int i = 0; i < items->n; i++) {
        push_scope(r);
        dict *loop = dict_new(r);
        dict_set(r, loop, "index", 5, v_int(i + 1));
        dict_set(r, loop, "index0", 6, v_int(i));
        dict_set(r, loop, "revindex", 8, v_int(items->n - i));
        dict_set(r, loop, "revindex0", 9, v_int(items->n - i - 1));
        dict_set(r, loop, "first", 5, v_bool(i == 0));
        dict_set(r, loop, "last", 4, v_bool(i == items->n - 1));
        dict_set(r, loop, "length", 6, v_int(items->n));
        dict_set(r, loop, "previtem", 8, i > 0 ? items->v[i - 1] : v_undef("previtem"));
        dict_set(r, loop, "nextitem", 8, i + 1 < items->n ? items->v[i + 1] : v_undef("nextitem"));
        dict_set(r, loop, "depth", 5, v_int(1));
        (void)outer;
        dict_set(r, r->scope->vars, "loop", 4, (value){.t = V_DICT, .d = loop});
        assign(r, targets->n_items == 1 ? targets->items[0] : targets, items->v[i], n->line);
        exec_body(r, n->b, out);
        pop_scope(r);
        if (r->loop_signal == 1) {
            r->loop_signal = 0;
            break;
        }
        r->loop_signal = 0;
    }
}

static void exec_node(render *r, const node *n, sbuf *out) {
    if (++r->steps > MAX_STEPS) fail(r, "template line %d: too much work (more than %ld steps)", n->line, MAX_STEPS);
    switch (n->type) {
    case N_TEXT: sb_put(r, out, n->lit.str.s, n->lit.str.n); break;
    case N_OUTPUT: append_str(r, out, eval(r, n->a), 0); break;
    case N_BODY: exec_body(r, n, out); break;
    case N_IF:
        for (const node *c = n; c;) {
            if (c->type != N_IF) { /* the else body */
                exec_body(r, c, out);
                break;
            }
            if (truthy(eval(r, c->a))) {
                exec_body(r, c->b, out);
                break;
            }
            c = c->c;
        }
        break;
    case N_FOR: exec_for(r, n, out); break;
    case N_SET: assign(r, n->a, eval(r, n->b), n->line); break;
    case N_SET_BLOCK: {
        sbuf b = {0};
        exec_body(r, n->b, &b);
        value v = v_strn(astrdup(r, b.p ? b.p : "", b.n), b.n);
        assign(r, n->a, v, n->line);
        break;
    }
    case N_MACRO: dict_set(r, r->scope->vars, n->name, n->name_n, (value){.t = V_MACRO, .macro = n}); break;
    case N_BREAK: r->loop_signal = 1; break;
    case N_CONTINUE: r->loop_signal = 2; break;
    default: fail(r, "template: internal error (statement %d)", (int)n->type);
    }
}

static void exec_body(render *r, const node *body, sbuf *out) {
    for (int i = 0; i < body->n_items && !r->loop_signal; i++) exec_node(r, body->items[i], out);
}

/* ------------------------------------------------------------------ entry */

loam_status loam_jinja_render(const char *source, const cJSON *vars, char **out, loam_error *err) {
    *out = NULL;
    render *r = calloc(1, sizeof *r);
    if (!r) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    sbuf result = {0};
    loam_status st = LOAM_OK;
    r->src = source;
    if (setjmp(r->on_error) == 0) {
        int n_segs;
        segment *segs = segment_source(r, source, &n_segs);
        parser p = {r, segs, n_segs, 0, NULL, 0};
        node *root = parse_body(&p, NULL);
        push_scope(r);
        r->globals = r->scope;
        const cJSON *v;
        cJSON_ArrayForEach(v, vars) dict_set(r, r->scope->vars, v->string, strlen(v->string), from_json(r, v));
        exec_body(r, root, &result);
        *out = malloc(result.n + 1);
        if (!*out) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
        else memcpy(*out, result.p ? result.p : "", result.n), (*out)[result.n] = 0;
    } else {
        st = loam_fail(err, LOAM_E_FORMAT, "%s", r->message);
    }
    for (block *b = r->mem.head; b;) {
        block *next = b->next;
        free(b);
        b = next;
    }
    free(r);
    return st;
}
