/* String methods, tests ("is defined", ...) and filters ("| tojson", ...):
 * filters are a table from name to function. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/jinja_internal.h"
#include "core/error.h"

value jj_str_strip(render *r, value s, value chars, int left, int right) {
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

value jj_str_case(render *r, value s, int mode) { /* 0 lower, 1 upper, 2 capitalize, 3 title */
    char *c = jj_astrdup(r, s.str.s, s.str.n);
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

value jj_str_replace(render *r, value s, value from, value to) {
    if (from.t != V_STR || to.t != V_STR) jj_fail(r, "template: replace() needs strings");
    sbuf b = {0};
    for (size_t i = 0; i < s.str.n;) {
        if (from.str.n && i + from.str.n <= s.str.n && memcmp(s.str.s + i, from.str.s, from.str.n) == 0) {
            jj_sb_put(r, &b, to.str.s, to.str.n);
            i += from.str.n;
        } else {
            jj_sb_put(r, &b, s.str.s + i, 1);
            i++;
        }
    }
    value v = v_strn(jj_astrdup(r, b.p ? b.p : "", b.n), b.n);
    return v;
}

value jj_str_split(render *r, value s, value sep, int line) {
    list *l = jj_list_new(r);
    if (sep.t == V_STR && sep.str.n) {
        size_t at = 0;
        for (size_t i = 0; i + sep.str.n <= s.str.n;) {
            if (memcmp(s.str.s + i, sep.str.s, sep.str.n) == 0) {
                jj_list_push(r, l, v_strn(s.str.s + at, i - at));
                i += sep.str.n;
                at = i;
            } else {
                i++;
            }
        }
        jj_list_push(r, l, v_strn(s.str.s + at, s.str.n - at));
    } else if (sep.t == V_UNDEF || sep.t == V_NONE) {
        size_t i = 0;
        while (i < s.str.n) {
            while (i < s.str.n && strchr(" \t\n\r\v\f", s.str.s[i])) i++;
            size_t a = i;
            while (i < s.str.n && !strchr(" \t\n\r\v\f", s.str.s[i])) i++;
            if (i > a) jj_list_push(r, l, v_strn(s.str.s + a, i - a));
        }
    } else {
        jj_fail(r, "template line %d: split() needs a non-empty separator", line);
    }
    return (value){.t = V_LIST, .l = l};
}

int jj_starts_or_ends(value s, value x, int end) {
    if (x.t == V_LIST) {
        for (int i = 0; i < x.l->n; i++)
            if (jj_starts_or_ends(s, x.l->v[i], end)) return 1;
        return 0;
    }
    if (x.t != V_STR || x.str.n > s.str.n) return 0;
    return memcmp(s.str.s + (end ? s.str.n - x.str.n : 0), x.str.s, x.str.n) == 0;
}

int jj_apply_test(render *r, const char *name, value v, const value *args, int n_args, int line) {
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
    if (!strcmp(name, "lower")) return v.t == V_STR && jj_values_equal(jj_str_case(r, v, 0), v);
    if (!strcmp(name, "upper")) return v.t == V_STR && jj_values_equal(jj_str_case(r, v, 1), v);
    if (n_args >= 1) {
        if (!strcmp(name, "equalto") || !strcmp(name, "eq") || !strcmp(name, "==") || !strcmp(name, "sameas"))
            return jj_values_equal(v, args[0]);
        if (!strcmp(name, "ne") || !strcmp(name, "!=")) return !jj_values_equal(v, args[0]);
        if (!strcmp(name, "lt")) return jj_compare(r, v, args[0], line) < 0;
        if (!strcmp(name, "le")) return jj_compare(r, v, args[0], line) <= 0;
        if (!strcmp(name, "gt")) return jj_compare(r, v, args[0], line) > 0;
        if (!strcmp(name, "ge")) return jj_compare(r, v, args[0], line) >= 0;
        if (!strcmp(name, "in")) return jj_contains(r, args[0], v, line);
        if (!strcmp(name, "divisibleby")) return v.t == V_INT && args[0].t == V_INT && args[0].i && v.i % args[0].i == 0;
    }
    jj_fail(r, "template line %d: unsupported test \"%s\"", line, name);
}


/* select/reject/selectattr/rejectattr */
static value filter_select(render *r, const node *f, value v, const value *a, int n, int keep, int by_attr) {
    list *l = jj_iterate(r, v, f->line), *out = jj_list_new(r);
    for (int i = 0; i < l->n; i++) {
        value item = l->v[i];
        int first_arg = 0;
        if (by_attr) {
            if (n < 1 || a[0].t != V_STR) jj_fail(r, "template line %d: %s needs an attribute name", f->line, f->name);
            item = jj_get_attr(r, item, a[0].str.s, a[0].str.n);
            first_arg = 1;
        }
        int pass;
        if (n > first_arg) {
            if (a[first_arg].t != V_STR) jj_fail(r, "template line %d: %s needs a test name", f->line, f->name);
            pass = jj_apply_test(r, a[first_arg].str.s, item, a + first_arg + 1, n - first_arg - 1, f->line);
        } else {
            pass = jj_truthy(item);
        }
        if (pass == keep) jj_list_push(r, out, l->v[i]);
    }
    return (value){.t = V_LIST, .l = out};
}

/* A filter: v | name(a[0], ..., a[n-1]); f is the filter's node (its
 * keyword arguments, its line). */
typedef value (*filter_fn)(render *r, const node *f, value v, const value *a, int n);

static value joined(render *r, sbuf *b) { return v_strn(jj_astrdup(r, b->p ? b->p : "", b->n), b->n); }

static value f_trim(render *r, const node *f, value v, const value *a, int n) {
    (void)f;
    if (v.t != V_STR) v = jj_to_string(r, v);
    return jj_str_strip(r, v, n ? a[0] : v_undef(NULL), 1, 1);
}

static value f_tojson(render *r, const node *f, value v, const value *a, int n) {
    (void)n;
    value ind = jj_kwarg(r, f, a, "indent", 0, v_none());
    sbuf b = {0};
    jj_append_json(r, &b, v, ind.t == V_INT ? (int)ind.i : -1, 0);
    return joined(r, &b);
}

static value f_length(render *r, const node *f, value v, const value *a, int n) {
    (void)a, (void)n;
    if (v.t == V_STR) return v_int((int64_t)jj_iterate(r, v, f->line)->n);
    if (v.t == V_LIST) return v_int(v.l->n);
    if (v.t == V_DICT) return v_int(v.d->n);
    jj_fail(r, "template line %d: length of a %s", f->line, jj_type_name(v));
}

static value f_string(render *r, const node *f, value v, const value *a, int n) {
    (void)f, (void)a, (void)n;
    return jj_to_string(r, v);
}

static value f_safe(render *r, const node *f, value v, const value *a, int n) {
    (void)r, (void)f, (void)a, (void)n;
    return v;
}

static value f_lower(render *r, const node *f, value v, const value *a, int n) {
    (void)f, (void)a, (void)n;
    return jj_str_case(r, jj_to_string(r, v), 0);
}

static value f_upper(render *r, const node *f, value v, const value *a, int n) {
    (void)f, (void)a, (void)n;
    return jj_str_case(r, jj_to_string(r, v), 1);
}

static value f_capitalize(render *r, const node *f, value v, const value *a, int n) {
    (void)f, (void)a, (void)n;
    return jj_str_case(r, jj_to_string(r, v), 2);
}

static value f_title(render *r, const node *f, value v, const value *a, int n) {
    (void)f, (void)a, (void)n;
    return jj_str_case(r, jj_to_string(r, v), 3);
}

static value f_replace(render *r, const node *f, value v, const value *a, int n) {
    if (n < 2) jj_fail(r, "template line %d: replace needs two arguments", f->line);
    return jj_str_replace(r, jj_to_string(r, v), a[0], a[1]);
}

static value f_default(render *r, const node *f, value v, const value *a, int n) {
    value dflt = n ? a[0] : v_strn("", 0);
    int boolean = jj_truthy(jj_kwarg(r, f, a, "boolean", 1, v_bool(0)));
    return (v.t == V_UNDEF || (boolean && !jj_truthy(v))) ? dflt : v;
}

static value f_first(render *r, const node *f, value v, const value *a, int n) {
    (void)a, (void)n;
    list *l = jj_iterate(r, v, f->line);
    return l->n ? l->v[0] : v_undef(NULL);
}

static value f_last(render *r, const node *f, value v, const value *a, int n) {
    (void)a, (void)n;
    list *l = jj_iterate(r, v, f->line);
    return l->n ? l->v[l->n - 1] : v_undef(NULL);
}

static value f_join(render *r, const node *f, value v, const value *a, int n) {
    list *l = jj_iterate(r, v, f->line);
    value sep = n ? a[0] : v_strn("", 0), attr = jj_kwarg(r, f, a, "attribute", 1, v_undef(NULL));
    sbuf b = {0};
    for (int i = 0; i < l->n; i++) {
        if (i) jj_append_str(r, &b, sep, 0);
        value item = attr.t == V_STR ? jj_get_attr(r, l->v[i], attr.str.s, attr.str.n) : l->v[i];
        jj_append_str(r, &b, item, 0);
    }
    return joined(r, &b);
}

static value f_list(render *r, const node *f, value v, const value *a, int n) {
    (void)a, (void)n;
    return (value){.t = V_LIST, .l = jj_iterate(r, v, f->line)};
}

static value dict_items(render *r, const node *f, value v) {
    if (v.t != V_DICT) jj_fail(r, "template line %d: %s of a %s", f->line, f->name, jj_type_name(v));
    int found;
    node none = {0};
    return jj_call_method(r, v, "items", &none, f->line, &found);
}

static value f_items(render *r, const node *f, value v, const value *a, int n) {
    (void)a, (void)n;
    return dict_items(r, f, v);
}

static value f_select(render *r, const node *f, value v, const value *a, int n) { return filter_select(r, f, v, a, n, 1, 0); }
static value f_reject(render *r, const node *f, value v, const value *a, int n) { return filter_select(r, f, v, a, n, 0, 0); }
static value f_selectattr(render *r, const node *f, value v, const value *a, int n) { return filter_select(r, f, v, a, n, 1, 1); }
static value f_rejectattr(render *r, const node *f, value v, const value *a, int n) { return filter_select(r, f, v, a, n, 0, 1); }

static value f_map(render *r, const node *f, value v, const value *a, int n) {
    list *l = jj_iterate(r, v, f->line), *out = jj_list_new(r);
    value attr = jj_kwarg(r, f, a, "attribute", -1, v_undef(NULL));
    for (int i = 0; i < l->n; i++) {
        if (attr.t == V_STR) {
            jj_list_push(r, out, jj_get_attr(r, l->v[i], attr.str.s, attr.str.n));
        } else if (n >= 1 && a[0].t == V_STR) {
            node sub = {.type = E_FILTER, .line = f->line, .name = a[0].str.s};
            jj_list_push(r, out, jj_apply_filter(r, &sub, l->v[i]));
        } else {
            jj_fail(r, "template line %d: map() needs a filter name or attribute=", f->line);
        }
    }
    return (value){.t = V_LIST, .l = out};
}

static value f_int(render *r, const node *f, value v, const value *a, int n) {
    (void)a, (void)n;
    if (v.t == V_INT) return v;
    if (v.t == V_FLOAT) {
        if (!(fabs(v.f) < 9.2e18)) jj_fail(r, "template line %d: %g does not fit an integer", f->line, v.f);
        return v_int((int64_t)v.f);
    }
    if (v.t == V_BOOL) return v_int(v.b);
    if (v.t == V_STR) return v_int(strtoll(jj_astrdup(r, v.str.s, v.str.n), NULL, 10));
    return v_int(0);
}

static value f_float(render *r, const node *f, value v, const value *a, int n) {
    (void)f, (void)a, (void)n;
    return v_float(jj_is_num(v) ? jj_num_of(v) : v.t == V_STR ? strtod(jj_astrdup(r, v.str.s, v.str.n), NULL) : 0.0);
}

static value f_abs(render *r, const node *f, value v, const value *a, int n) {
    (void)r, (void)f, (void)a, (void)n;
    return v.t == V_INT ? v_int(v.i < 0 ? -v.i : v.i) : v_float(fabs(jj_num_of(v)));
}

static value f_round(render *r, const node *f, value v, const value *a, int n) {
    (void)r, (void)f;
    int prec = n && a[0].t == V_INT ? (int)a[0].i : 0;
    double s = pow(10, prec);
    return v_float(round(jj_num_of(v) * s) / s);
}

static value f_unique(render *r, const node *f, value v, const value *a, int n) {
    (void)a, (void)n;
    list *l = jj_iterate(r, v, f->line), *out = jj_list_new(r);
    for (int i = 0; i < l->n; i++) {
        int dup = 0;
        for (int k = 0; k < out->n && !dup; k++) dup = jj_values_equal(out->v[k], l->v[i]);
        if (!dup) jj_list_push(r, out, l->v[i]);
    }
    return (value){.t = V_LIST, .l = out};
}

static value f_indent(render *r, const node *f, value v, const value *a, int n) {
    int width = n && a[0].t == V_INT ? (int)a[0].i : 4, first = jj_truthy(jj_kwarg(r, f, a, "first", 1, v_bool(0)));
    value s = jj_to_string(r, v);
    sbuf b = {0};
    for (int k = 0; first && k < width; k++) jj_sb_puts(r, &b, " ");
    for (size_t i = 0; i < s.str.n; i++) {
        jj_sb_put(r, &b, s.str.s + i, 1);
        if (s.str.s[i] == '\n' && i + 1 < s.str.n)
            for (int k = 0; k < width; k++) jj_sb_puts(r, &b, " ");
    }
    return joined(r, &b);
}

static value f_dictsort(render *r, const node *f, value v, const value *a, int n) {
    (void)a, (void)n;
    value items = dict_items(r, f, v);
    for (int i = 1; i < items.l->n; i++) /* insertion sort by key: stable, as Python's sorted */
        for (int k = i; k > 0 && jj_compare(r, items.l->v[k - 1].l->v[0], items.l->v[k].l->v[0], f->line) > 0; k--) {
            value t = items.l->v[k];
            items.l->v[k] = items.l->v[k - 1];
            items.l->v[k - 1] = t;
        }
    return items;
}

static const struct {
    const char *name;
    filter_fn fn;
} filters[] = {
    {"abs", f_abs},         {"capitalize", f_capitalize}, {"count", f_length},   {"d", f_default},
    {"default", f_default}, {"dictsort", f_dictsort},     {"first", f_first},    {"float", f_float},
    {"indent", f_indent},   {"int", f_int},               {"items", f_items},    {"join", f_join},
    {"last", f_last},       {"length", f_length},         {"list", f_list},      {"lower", f_lower},
    {"map", f_map},         {"reject", f_reject},         {"rejectattr", f_rejectattr}, {"replace", f_replace},
    {"round", f_round},     {"safe", f_safe},             {"select", f_select},  {"selectattr", f_selectattr},
    {"string", f_string},   {"title", f_title},           {"tojson", f_tojson},  {"trim", f_trim},
    {"unique", f_unique},   {"upper", f_upper},
};

value jj_apply_filter(render *r, const node *f, value v) {
    for (size_t i = 0; i < sizeof filters / sizeof *filters; i++)
        if (!strcmp(f->name, filters[i].name)) return filters[i].fn(r, f, v, jj_eval_args(r, f), f->n_items);
    jj_fail(r, "template line %d: unsupported filter \"%s\"", f->line, f->name);
}
