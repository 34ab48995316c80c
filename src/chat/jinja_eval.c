/* Jinja evaluation: scopes, expressions, macros, statements, and the
 * entry point. Errors unwind with longjmp to loam_jinja_render, which frees
 * the arena: templates come from model files and are untrusted (the arena
 * and the number of steps are bounded). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/jinja_internal.h"
#include "core/error.h"

/* ------------------------------------------------------------------ scopes */

static value *lookup(render *r, const char *name, size_t n) {
    for (frame *f = r->scope; f; f = f->parent) {
        int i = jj_dict_find(f->vars, name, n);
        if (i >= 0) return &f->vars->v[i];
    }
    return NULL;
}

static void push_scope(render *r) {
    frame *f = jj_arena_alloc(r, sizeof *f);
    f->vars = jj_dict_new(r);
    f->parent = r->scope;
    r->scope = f;
}

static void pop_scope(render *r) { r->scope = r->scope->parent; }

/* ------------------------------------------------------------------ evaluation */

static value eval(render *r, const node *n);
static void exec_body(render *r, const node *body, sbuf *out);

value jj_kwarg(render *r, const node *call, const value *args, const char *name, int pos, value dflt) {
    int n_pos = call->n_items - call->n_kw;
    for (int i = 0; i < call->n_kw; i++)
        if (strcmp(call->kw[i], name) == 0) return args[n_pos + i];
    (void)r;
    if (pos >= 0 && pos < n_pos) return args[pos];
    return dflt;
}

value *jj_eval_args(render *r, const node *call) {
    value *args = jj_arena_alloc(r, (size_t)(call->n_items + 1) * sizeof *args);
    for (int i = 0; i < call->n_items; i++) args[i] = eval(r, call->items[i]);
    return args;
}

value jj_call_method(render *r, value self, const char *m, const node *call, int line, int *found) {
    *found = 1;
    value *a = jj_eval_args(r, call);
    int n = call->n_items;
    value none = v_undef(NULL);
    if (self.t == V_STR) {
        if (!strcmp(m, "strip")) return jj_str_strip(r, self, n ? a[0] : none, 1, 1);
        if (!strcmp(m, "lstrip")) return jj_str_strip(r, self, n ? a[0] : none, 1, 0);
        if (!strcmp(m, "rstrip")) return jj_str_strip(r, self, n ? a[0] : none, 0, 1);
        if (!strcmp(m, "lower")) return jj_str_case(r, self, 0);
        if (!strcmp(m, "upper")) return jj_str_case(r, self, 1);
        if (!strcmp(m, "capitalize")) return jj_str_case(r, self, 2);
        if (!strcmp(m, "title")) return jj_str_case(r, self, 3);
        if (!strcmp(m, "startswith")) return v_bool(n && jj_starts_or_ends(self, a[0], 0));
        if (!strcmp(m, "endswith")) return v_bool(n && jj_starts_or_ends(self, a[0], 1));
        if (!strcmp(m, "replace") && n >= 2) return jj_str_replace(r, self, a[0], a[1]);
        if (!strcmp(m, "split")) return jj_str_split(r, self, n ? a[0] : none, line);
        if (!strcmp(m, "join") && n == 1) {
            list *l = jj_iterate(r, a[0], line);
            sbuf b = {0};
            for (int i = 0; i < l->n; i++) {
                if (i) jj_sb_put(r, &b, self.str.s, self.str.n);
                jj_append_str(r, &b, l->v[i], 0);
            }
            value v = v_strn(jj_astrdup(r, b.p ? b.p : "", b.n), b.n);
            return v;
        }
    } else if (self.t == V_DICT) {
        if (!strcmp(m, "items") || !strcmp(m, "keys") || !strcmp(m, "values")) {
            list *l = jj_list_new(r);
            for (int i = 0; i < self.d->n; i++) {
                value k = v_strn(self.d->k[i], self.d->kn[i]);
                if (!strcmp(m, "keys")) jj_list_push(r, l, k);
                else if (!strcmp(m, "values")) jj_list_push(r, l, self.d->v[i]);
                else {
                    list *pair = jj_list_new(r);
                    jj_list_push(r, pair, k);
                    jj_list_push(r, pair, self.d->v[i]);
                    jj_list_push(r, l, (value){.t = V_LIST, .l = pair});
                }
            }
            return (value){.t = V_LIST, .l = l};
        }
        if (!strcmp(m, "get") && n >= 1) {
            int i = a[0].t == V_STR ? jj_dict_find(self.d, a[0].str.s, a[0].str.n) : -1;
            return i >= 0 ? self.d->v[i] : n >= 2 ? a[1] : v_none();
        }
    }
    *found = 0;
    return none;
}

value jj_get_attr(render *r, value obj, const char *name, size_t n) {
    (void)r;
    if (obj.t == V_DICT) {
        int i = jj_dict_find(obj.d, name, n);
        if (i >= 0) return obj.d->v[i];
    }
    return v_undef(name);
}

static value get_item(render *r, value obj, value key, int line) {
    if (obj.t == V_DICT) {
        if (key.t != V_STR) {
            value ks = jj_to_string(r, key);
            int i = jj_dict_find(obj.d, ks.str.s, ks.str.n);
            return i >= 0 ? obj.d->v[i] : v_undef(NULL);
        }
        int i = jj_dict_find(obj.d, key.str.s, key.str.n);
        return i >= 0 ? obj.d->v[i] : v_undef(key.str.s);
    }
    if (obj.t == V_LIST || obj.t == V_STR) {
        if (key.t != V_INT) jj_fail(r, "template line %d: list index must be an integer", line);
        list *l = obj.t == V_LIST ? obj.l : jj_iterate(r, obj, line);
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
    list *l = jj_iterate(r, obj, n->line);
    int64_t len = l->n, step = st.t == V_INT ? st.i : 1;
    if (step == 0) jj_fail(r, "template line %d: slice step cannot be zero", n->line);
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
    list *out = jj_list_new(r);
    for (int64_t i = a; step > 0 ? i < b : i > b; i += step) jj_list_push(r, out, l->v[i]);
    if (!is_str) return (value){.t = V_LIST, .l = out};
    sbuf sb = {0};
    for (int i = 0; i < out->n; i++) jj_sb_put(r, &sb, out->v[i].str.s, out->v[i].str.n);
    value v = v_strn(jj_astrdup(r, sb.p ? sb.p : "", sb.n), sb.n);
    return v;
}

static value call_macro(render *r, value m, const node *call) {
    const node *def = m.macro;
    value *args = jj_eval_args(r, call);
    int n_pos = call->n_items - call->n_kw;
    if (++r->depth > 64) jj_fail(r, "template line %d: macros nested too deeply", call->line);
    frame *saved = r->scope;
    frame *f = jj_arena_alloc(r, sizeof *f);
    f->vars = jj_dict_new(r);
    f->parent = r->globals;
    r->scope = f;
    const node *params = def->a;
    for (int i = 0; i < params->n_items; i++) {
        const node *p = params->items[i];
        value v = i < n_pos ? args[i] : p->a ? eval(r, p->a) : v_undef(p->name);
        for (int k = 0; k < call->n_kw; k++)
            if (strcmp(call->kw[k], p->name) == 0) v = args[n_pos + k];
        jj_dict_set(r, f->vars, p->name, p->name_n, v);
    }
    sbuf out = {0};
    exec_body(r, def->b, &out);
    r->scope = saved;
    r->depth--;
    value s = v_strn(jj_astrdup(r, out.p ? out.p : "", out.n), out.n);
    return s;
}

static value call_builtin(render *r, const char *name, const node *call) {
    value *a = jj_eval_args(r, call);
    int n = call->n_items - call->n_kw;
    if (!strcmp(name, "raise_exception")) {
        value msg = n ? jj_to_string(r, a[0]) : v_strn("", 0);
        jj_fail(r, "%.*s", (int)msg.str.n, msg.str.s);
    }
    if (!strcmp(name, "range")) {
        int64_t start = 0, stop, step = 1;
        if (n == 1 && a[0].t == V_INT) stop = a[0].i;
        else if (n >= 2 && a[0].t == V_INT && a[1].t == V_INT) start = a[0].i, stop = a[1].i, step = n >= 3 && a[2].t == V_INT ? a[2].i : 1;
        else jj_fail(r, "template line %d: range() needs integers", call->line);
        int64_t span;
        if (step == 0 || __builtin_sub_overflow(stop, start, &span) || span / step > 1000000)
            jj_fail(r, "template line %d: bad range()", call->line);
        list *l = jj_list_new(r);
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) jj_list_push(r, l, v_int(i));
        return (value){.t = V_LIST, .l = l};
    }
    if (!strcmp(name, "namespace") || !strcmp(name, "dict")) {
        dict *d = jj_dict_new(r);
        d->is_namespace = !strcmp(name, "namespace");
        for (int i = 0; i < call->n_kw; i++) jj_dict_set(r, d, call->kw[i], strlen(call->kw[i]), a[n + i]);
        return (value){.t = V_DICT, .d = d};
    }
    if (!strcmp(name, "strftime_now")) {
        value fmt = n ? jj_to_string(r, a[0]) : v_strn("%Y-%m-%d", 8);
        char buf[256];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        size_t len = strftime(buf, sizeof buf, jj_astrdup(r, fmt.str.s, fmt.str.n), &tm);
        return v_strn(jj_astrdup(r, buf, len), len);
    }
    jj_fail(r, "template line %d: unknown function \"%s\"", call->line, name);
}

/* Python integer arithmetic within int64: overflow is an error, not UB. */
static value int_arith(render *r, const char *op, int64_t i, int64_t j, int line) {
    int64_t out;
    if (!strcmp(op, "+")) {
        if (__builtin_add_overflow(i, j, &out)) jj_fail(r, "template line %d: integer overflow", line);
        return v_int(out);
    }
    if (!strcmp(op, "-")) {
        if (__builtin_sub_overflow(i, j, &out)) jj_fail(r, "template line %d: integer overflow", line);
        return v_int(out);
    }
    if (!strcmp(op, "*")) {
        if (__builtin_mul_overflow(i, j, &out)) jj_fail(r, "template line %d: integer overflow", line);
        return v_int(out);
    }
    if ((!strcmp(op, "/") || !strcmp(op, "//") || !strcmp(op, "%")) && j == 0) jj_fail(r, "template line %d: division by zero", line);
    if (!strcmp(op, "/")) return v_float((double)i / (double)j);
    if (!strcmp(op, "//") || !strcmp(op, "%")) {
        if (i == INT64_MIN && j == -1) jj_fail(r, "template line %d: integer overflow", line);
        int64_t q = i / j, m = i % j;
        if (m != 0 && ((m < 0) != (j < 0))) q--, m += j;
        return !strcmp(op, "//") ? v_int(q) : v_int(m);
    }
    if (!strcmp(op, "**")) {
        if (j < 0) return v_float(pow((double)i, (double)j));
        int64_t acc = 1;
        for (int64_t k = 0; k < j; k++) {
            if (__builtin_mul_overflow(acc, i, &acc)) jj_fail(r, "template line %d: integer overflow", line);
            if (acc == 0 || acc == 1) break; /* 0 and 1 stay; -1 alternates below */
        }
        if (i == -1) acc = (j % 2) ? -1 : 1;
        return v_int(acc);
    }
    jj_fail(r, "template line %d: unsupported operator %s", line, op);
}

static value eval(render *r, const node *n) {
    if (++r->steps > MAX_STEPS) jj_fail(r, "template line %d: too much work (more than %ld steps)", n->line, MAX_STEPS);
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
    case E_ATTR: return jj_get_attr(r, eval(r, n->a), n->name, n->name_n);
    case E_ITEM: return get_item(r, eval(r, n->a), eval(r, n->b), n->line);
    case E_SLICE: return slice(r, eval(r, n->a), n);
    case E_CALL: {
        if (n->a->type == E_ATTR) { /* a method of a string, dict or list */
            value self = eval(r, n->a->a);
            int found;
            value res = jj_call_method(r, self, n->a->name, n, n->line, &found);
            if (found) return res;
            value attr = jj_get_attr(r, self, n->a->name, n->a->name_n);
            if (attr.t == V_MACRO) return call_macro(r, attr, n);
            jj_fail(r, "template line %d: %s has no method \"%s\"", n->line, jj_type_name(self), n->a->name);
        }
        value fn = eval(r, n->a);
        if (fn.t == V_MACRO) return call_macro(r, fn, n);
        if (fn.t == V_FUNC) return call_builtin(r, fn.fn.name, n);
        jj_fail(r, "template line %d: \"%s\" is not callable", n->line, n->a->type == E_NAME ? n->a->name : jj_type_name(fn));
    }
    case E_FILTER: return jj_apply_filter(r, n, eval(r, n->a));
    case E_TEST: {
        value v = eval(r, n->a);
        value *args = jj_eval_args(r, n);
        int res = jj_apply_test(r, n->name, v, args, n->n_items, n->line);
        return v_bool(n->negated ? !res : res);
    }
    case E_NOT: return v_bool(!jj_truthy(eval(r, n->a)));
    case E_AND: {
        value a = eval(r, n->a);
        return jj_truthy(a) ? eval(r, n->b) : a;
    }
    case E_OR: {
        value a = eval(r, n->a);
        return jj_truthy(a) ? a : eval(r, n->b);
    }
    case E_COND: return jj_truthy(eval(r, n->a)) ? eval(r, n->b) : n->c ? eval(r, n->c) : v_undef(NULL);
    case E_NEG: {
        value v = eval(r, n->a);
        if (v.t == V_INT) {
            if (v.i == INT64_MIN) jj_fail(r, "template line %d: integer overflow", n->line);
            return v_int(-v.i);
        }
        if (v.t == V_FLOAT) return v_float(-v.f);
        jj_fail(r, "template line %d: cannot negate a %s", n->line, jj_type_name(v));
    }
    case E_LIST:
    case E_TUPLE: {
        list *l = jj_list_new(r);
        for (int i = 0; i < n->n_items; i++) jj_list_push(r, l, eval(r, n->items[i]));
        return (value){.t = V_LIST, .l = l};
    }
    case E_DICT: {
        dict *d = jj_dict_new(r);
        for (int i = 0; i + 1 < n->n_items; i += 2) {
            value k = jj_to_string(r, eval(r, n->items[i]));
            jj_dict_set(r, d, k.str.s, k.str.n, eval(r, n->items[i + 1]));
        }
        return (value){.t = V_DICT, .d = d};
    }
    case E_BIN: {
        const char *op = n->name;
        value a = eval(r, n->a), b = eval(r, n->b);
        if (!strcmp(op, "==")) return v_bool(jj_values_equal(a, b));
        if (!strcmp(op, "!=")) return v_bool(!jj_values_equal(a, b));
        if (!strcmp(op, "<")) return v_bool(jj_compare(r, a, b, n->line) < 0);
        if (!strcmp(op, ">")) return v_bool(jj_compare(r, a, b, n->line) > 0);
        if (!strcmp(op, "<=")) return v_bool(jj_compare(r, a, b, n->line) <= 0);
        if (!strcmp(op, ">=")) return v_bool(jj_compare(r, a, b, n->line) >= 0);
        if (!strcmp(op, "in")) return v_bool(jj_contains(r, b, a, n->line));
        if (!strcmp(op, "not in")) return v_bool(!jj_contains(r, b, a, n->line));
        if (!strcmp(op, "~")) {
            sbuf s = {0};
            jj_append_str(r, &s, a, 0);
            jj_append_str(r, &s, b, 0);
            value v = v_strn(jj_astrdup(r, s.p ? s.p : "", s.n), s.n);
            return v;
        }
        if (!strcmp(op, "+")) {
            if (a.t == V_STR && b.t == V_STR) {
                char *c = jj_arena_alloc(r, a.str.n + b.str.n + 1);
                memcpy(c, a.str.s, a.str.n);
                memcpy(c + a.str.n, b.str.s, b.str.n);
                return v_strn(c, a.str.n + b.str.n);
            }
            if (a.t == V_LIST && b.t == V_LIST) {
                list *l = jj_list_new(r);
                for (int i = 0; i < a.l->n; i++) jj_list_push(r, l, a.l->v[i]);
                for (int i = 0; i < b.l->n; i++) jj_list_push(r, l, b.l->v[i]);
                return (value){.t = V_LIST, .l = l};
            }
        }
        if (jj_is_num(a) && jj_is_num(b)) {
            if (a.t != V_FLOAT && b.t != V_FLOAT) return int_arith(r, op, a.t == V_INT ? a.i : a.b, b.t == V_INT ? b.i : b.b, n->line);
            double x = jj_num_of(a), y = jj_num_of(b);
            if (!strcmp(op, "+")) return v_float(x + y);
            if (!strcmp(op, "-")) return v_float(x - y);
            if (!strcmp(op, "*")) return v_float(x * y);
            if (y == 0 && (!strcmp(op, "/") || !strcmp(op, "//") || !strcmp(op, "%")))
                jj_fail(r, "template line %d: division by zero", n->line);
            if (!strcmp(op, "/")) return v_float(x / y);
            if (!strcmp(op, "//")) return v_float(floor(x / y));
            if (!strcmp(op, "%")) return v_float(x - y * floor(x / y));
            if (!strcmp(op, "**")) return v_float(pow(x, y));
        }
        if (!strcmp(op, "*") && a.t == V_STR && b.t == V_INT) {
            sbuf s = {0};
            for (int64_t k = 0; k < b.i && k < 100000; k++) jj_sb_put(r, &s, a.str.s, a.str.n);
            value v = v_strn(jj_astrdup(r, s.p ? s.p : "", s.n), s.n);
            return v;
        }
        jj_fail(r, "template line %d: unsupported operand types for %s: %s and %s", n->line, op, jj_type_name(a), jj_type_name(b));
    }
    default: jj_fail(r, "template: internal error (node %d)", (int)n->type);
    }
}

/* ------------------------------------------------------------------ statements */

static void assign(render *r, const node *target, value v, int line) {
    if (target->type == E_NAME) {
        jj_dict_set(r, r->scope->vars, target->name, target->name_n, v);
    } else if (target->type == E_ATTR) { /* ns.attr = v */
        value obj = eval(r, target->a);
        if (obj.t != V_DICT || !obj.d->is_namespace)
            jj_fail(r, "template line %d: can only assign attributes of a namespace()", line);
        jj_dict_set(r, obj.d, target->name, target->name_n, v);
    } else if (target->type == E_TUPLE) {
        list *l = jj_iterate(r, v, line);
        if (l->n != target->n_items) jj_fail(r, "template line %d: cannot unpack %d values into %d names", line, l->n, target->n_items);
        for (int i = 0; i < l->n; i++) assign(r, target->items[i], l->v[i], line);
    } else {
        jj_fail(r, "template line %d: cannot assign to this expression", line);
    }
}

static void exec_for(render *r, const node *n, sbuf *out) {
    value seq = eval(r, n->a);
    list *all = jj_iterate(r, seq, n->line), *items = all;
    const node *targets = n->items[0];
    if (n->filter_cond) { /* the "if" filter runs before loop.* are known */
        items = jj_list_new(r);
        for (int i = 0; i < all->n; i++) {
            push_scope(r);
            assign(r, targets->n_items == 1 ? targets->items[0] : targets, all->v[i], n->line);
            if (jj_truthy(eval(r, n->filter_cond))) jj_list_push(r, items, all->v[i]);
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
        dict *loop = jj_dict_new(r);
        jj_dict_set(r, loop, "index", 5, v_int(i + 1));
        jj_dict_set(r, loop, "index0", 6, v_int(i));
        jj_dict_set(r, loop, "revindex", 8, v_int(items->n - i));
        jj_dict_set(r, loop, "revindex0", 9, v_int(items->n - i - 1));
        jj_dict_set(r, loop, "first", 5, v_bool(i == 0));
        jj_dict_set(r, loop, "last", 4, v_bool(i == items->n - 1));
        jj_dict_set(r, loop, "length", 6, v_int(items->n));
        jj_dict_set(r, loop, "previtem", 8, i > 0 ? items->v[i - 1] : v_undef("previtem"));
        jj_dict_set(r, loop, "nextitem", 8, i + 1 < items->n ? items->v[i + 1] : v_undef("nextitem"));
        jj_dict_set(r, loop, "depth", 5, v_int(1));
        (void)outer;
        jj_dict_set(r, r->scope->vars, "loop", 4, (value){.t = V_DICT, .d = loop});
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
    if (++r->steps > MAX_STEPS) jj_fail(r, "template line %d: too much work (more than %ld steps)", n->line, MAX_STEPS);
    switch (n->type) {
    case N_TEXT: jj_sb_put(r, out, n->lit.str.s, n->lit.str.n); break;
    case N_OUTPUT: jj_append_str(r, out, eval(r, n->a), 0); break;
    case N_BODY: exec_body(r, n, out); break;
    case N_IF:
        for (const node *c = n; c;) {
            if (c->type != N_IF) { /* the else body */
                exec_body(r, c, out);
                break;
            }
            if (jj_truthy(eval(r, c->a))) {
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
        value v = v_strn(jj_astrdup(r, b.p ? b.p : "", b.n), b.n);
        assign(r, n->a, v, n->line);
        break;
    }
    case N_MACRO: jj_dict_set(r, r->scope->vars, n->name, n->name_n, (value){.t = V_MACRO, .macro = n}); break;
    case N_BREAK: r->loop_signal = 1; break;
    case N_CONTINUE: r->loop_signal = 2; break;
    default: jj_fail(r, "template: internal error (statement %d)", (int)n->type);
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
        segment *segs = jj_segment_source(r, source, &n_segs);
        parser p = {r, segs, n_segs, 0, NULL, 0};
        node *root = jj_parse_body(&p, NULL);
        push_scope(r);
        r->globals = r->scope;
        const cJSON *v;
        cJSON_ArrayForEach(v, vars) jj_dict_set(r, r->scope->vars, v->string, strlen(v->string), jj_from_json(r, v));
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
