/* The Jinja parser: recursive descent with Jinja2's precedence, from the
 * lexer's segments to a tree of statements and expressions. Nesting is
 * bounded, so a hostile template cannot overflow the stack. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/jinja_internal.h"
#include "core/error.h"

static node *new_node(parser *p, node_type t, int line) {
    node *n = jj_arena_alloc(p->r, sizeof *n);
    n->type = t;
    n->line = line;
    return n;
}

static void push_item(parser *p, node *parent, node *child) {
    node **g = jj_arena_alloc(p->r, (size_t)(parent->n_items + 1) * sizeof *g);
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
        jj_fail(p->r, "template line %d: expected \"%s\" but found \"%.*s\"", p->tok->line, s ? s : "a name",
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
            const char **g = jj_arena_alloc(p->r, (size_t)(n_kw + 1) * sizeof *g);
            if (n_kw) memcpy(g, kw, (size_t)n_kw * sizeof *g);
            g[n_kw++] = jj_astrdup(p->r, p->tok->s, p->tok->n);
            kw = g;
            p->tok += 2;
            push_item(p, call, parse_expr(p));
        } else {
            if (n_kw) jj_fail(p->r, "template line %d: positional argument after keyword argument", p->tok->line);
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
        while (p->tok->type == T_STRING) jj_sb_put(p->r, &b, p->tok->s, p->tok->n), p->tok++;
        n = new_node(p, E_LIT, t->line);
        n->lit = v_strn(jj_astrdup(p->r, b.p ? b.p : "", b.n), b.n);
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
            n->name = jj_astrdup(p->r, t->s, t->n);
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
    jj_fail(p->r, "template line %d: unexpected \"%.*s\" in an expression", t->line, t->type == T_EOF ? 3 : (int)t->n,
         t->type == T_EOF ? "end" : t->s);
}

static node *parse_postfix(parser *p, node *n) {
    for (;;) {
        int line = p->tok->line;
        if (accept(p, T_OP, ".")) {
            if (p->tok->type != T_NAME && p->tok->type != T_INT) jj_fail(p->r, "template line %d: expected an attribute name", line);
            node *a = new_node(p, E_ATTR, line);
            a->a = n;
            if (p->tok->type == T_INT) {
                a->type = E_ITEM;
                a->b = new_node(p, E_LIT, line);
                a->b->lit = v_int(p->tok->i);
            } else {
                a->name = jj_astrdup(p->r, p->tok->s, p->tok->n);
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
            if (p->tok->type != T_NAME) jj_fail(p->r, "template line %d: expected a filter name", line);
            node *f = new_node(p, E_FILTER, line);
            f->a = n;
            f->name = jj_astrdup(p->r, p->tok->s, p->tok->n);
            p->tok++;
            if (accept(p, T_OP, "(")) parse_args(p, f);
            n = f;
        } else if (accept(p, T_NAME, "is")) {
            node *t = new_node(p, E_TEST, line);
            t->a = n;
            t->negated = accept(p, T_NAME, "not");
            if (p->tok->type != T_NAME && !tok_is(p->tok, T_OP, "==")) jj_fail(p->r, "template line %d: expected a test name", line);
            t->name = p->tok->type == T_NAME ? jj_astrdup(p->r, p->tok->s, p->tok->n) : "==";
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
    if (++p->depth > MAX_NESTING) jj_fail(p->r, "template line %d: expression nested too deeply", line);
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
        if (++p->depth > MAX_NESTING) jj_fail(p->r, "template line %d: expression nested too deeply", line);
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
    if (++p->depth > MAX_NESTING) jj_fail(p->r, "template line %d: expression nested too deeply", p->tok->line);
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
        if (p->tok->type != T_NAME) jj_fail(p->r, "template line %d: expected a variable name", p->tok->line);
        node *n = new_node(p, E_NAME, p->tok->line);
        n->name = jj_astrdup(p->r, p->tok->s, p->tok->n);
        n->name_n = p->tok->n;
        p->tok++;
        push_item(p, t, n);
    } while (accept(p, T_OP, ","));
    return t;
}

static void end_of_tag(parser *p) {
    if (p->tok->type != T_EOF)
        jj_fail(p->r, "template line %d: unexpected \"%.*s\" at the end of a tag", p->tok->line, (int)p->tok->n, p->tok->s);
}

/* The block keyword of the current segment, or NULL. */
static const token *block_keyword(parser *p) {
    if (p->at >= p->n_segs || p->segs[p->at].kind != S_BLOCK) return NULL;
    return p->segs[p->at].toks;
}

static node *parse_block_tag_body(parser *p, segment *s, const token *kw);

static node *parse_block_tag(parser *p) {
    segment *s = &p->segs[p->at++];
    if (p->depth > MAX_NESTING) jj_fail(p->r, "template line %d: blocks nested too deeply", s->line);
    p->tok = s->toks;
    const token *kw = p->tok;
    if (kw->type != T_NAME) jj_fail(p->r, "template line %d: a block tag must start with a keyword", s->line);
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
            cur->b = jj_parse_body(p, stops);
            const token *k = block_keyword(p);
            if (!k) jj_fail(p->r, "template line %d: \"if\" without \"endif\"", s->line);
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
                cur->c = jj_parse_body(p, end_stops);
                if (!block_keyword(p)) jj_fail(p->r, "template line %d: \"if\" without \"endif\"", s->line);
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
        n->b = jj_parse_body(p, stops);
        const token *k = block_keyword(p);
        if (!k) jj_fail(p->r, "template line %d: \"for\" without \"endfor\"", s->line);
        p->at++;
        if (tok_is(k, T_NAME, "else")) {
            static const char *const end_stops[] = {"endfor", NULL};
            n->c = jj_parse_body(p, end_stops);
            if (!block_keyword(p)) jj_fail(p->r, "template line %d: \"for\" without \"endfor\"", s->line);
            p->at++;
        }
        return n;
    }
    if (tok_is(kw, T_NAME, "set")) {
        if (p->tok->type != T_NAME) jj_fail(p->r, "template line %d: expected a name after \"set\"", s->line);
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
        n->b = jj_parse_body(p, stops);
        if (!block_keyword(p)) jj_fail(p->r, "template line %d: \"set\" without \"endset\"", s->line);
        p->at++;
        return n;
    }
    if (tok_is(kw, T_NAME, "macro")) {
        node *n = new_node(p, N_MACRO, s->line);
        if (p->tok->type != T_NAME) jj_fail(p->r, "template line %d: expected a macro name", s->line);
        n->name = jj_astrdup(p->r, p->tok->s, p->tok->n);
        n->name_n = p->tok->n;
        p->tok++;
        expect(p, T_OP, "(");
        node *params = new_node(p, E_TUPLE, s->line);
        while (!accept(p, T_OP, ")")) {
            if (p->tok->type != T_NAME) jj_fail(p->r, "template line %d: expected a parameter name", s->line);
            node *prm = new_node(p, E_NAME, s->line);
            prm->name = jj_astrdup(p->r, p->tok->s, p->tok->n);
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
        n->b = jj_parse_body(p, stops);
        if (!block_keyword(p)) jj_fail(p->r, "template line %d: \"macro\" without \"endmacro\"", s->line);
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
        node *b = jj_parse_body(p, stops);
        if (!block_keyword(p)) jj_fail(p->r, "template line %d: \"generation\" without \"endgeneration\"", s->line);
        p->at++;
        return b;
    }
    jj_fail(p->r, "template line %d: unsupported template tag \"%.*s\"", s->line, (int)kw->n, kw->s);
}

node *jj_parse_body(parser *p, const char *const *stops) {
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
                jj_fail(p->r, "template line %d: unexpected \"%.*s\"", s->line, (int)k->n, k->s);
            push_item(p, body, parse_block_tag(p));
        }
    }
    if (stops) jj_fail(p->r, "template: missing \"%s\" at the end", stops[0]);
    return body;
}
