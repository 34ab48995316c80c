/* Jinja values: the render's arena (everything of one render is freed at
 * once), strings, lists, dicts, values from JSON, and the Python-like
 * conversions and comparisons the evaluator uses. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/jinja_internal.h"
#include "core/error.h"

void *jj_arena_alloc(render *r, size_t n) {
    n = (n + 15) & ~(size_t)15;
    block *b = r->mem.head;
    if (!b || b->used + n > b->cap) {
        size_t cap = n > 65536 ? n : 65536;
        r->arena_bytes += cap;
        if (r->arena_bytes > MAX_ARENA_BYTES) jj_fail(r, "template: output or data larger than 256 MiB");
        b = malloc(sizeof *b + cap);
        if (!b) jj_fail(r, "out of memory");
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

void jj_fail(render *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    longjmp(r->on_error, 1);
}

char *jj_astrdup(render *r, const char *s, size_t n) {
    char *c = jj_arena_alloc(r, n + 1);
    memcpy(c, s, n);
    c[n] = 0;
    return c;
}

/* String buffers grow inside the arena, so an error that unwinds mid-render
 * leaks nothing. */
void jj_sb_put(render *r, sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = jj_arena_alloc(r, cap);
        if (b->n) memcpy(p, b->p, b->n);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void jj_sb_puts(render *r, sbuf *b, const char *s) { jj_sb_put(r, b, s, strlen(s)); }

list *jj_list_new(render *r) { return jj_arena_alloc(r, sizeof(list)); }

void jj_list_push(render *r, list *l, value v) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        value *nv = jj_arena_alloc(r, (size_t)cap * sizeof *nv);
        if (l->n) memcpy(nv, l->v, (size_t)l->n * sizeof *nv);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

dict *jj_dict_new(render *r) { return jj_arena_alloc(r, sizeof(dict)); }

int jj_dict_find(const dict *d, const char *k, size_t kn) {
    for (int i = 0; i < d->n; i++)
        if (d->kn[i] == kn && memcmp(d->k[i], k, kn) == 0) return i;
    return -1;
}

void jj_dict_set(render *r, dict *d, const char *k, size_t kn, value v) {
    int i = jj_dict_find(d, k, kn);
    if (i >= 0) {
        d->v[i] = v;
        return;
    }
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 8;
        const char **nk = jj_arena_alloc(r, (size_t)cap * sizeof *nk);
        size_t *nkn = jj_arena_alloc(r, (size_t)cap * sizeof *nkn);
        value *nv = jj_arena_alloc(r, (size_t)cap * sizeof *nv);
        if (d->n) {
            memcpy(nk, d->k, (size_t)d->n * sizeof *nk);
            memcpy(nkn, d->kn, (size_t)d->n * sizeof *nkn);
            memcpy(nv, d->v, (size_t)d->n * sizeof *nv);
        }
        d->k = nk, d->kn = nkn, d->v = nv, d->cap = cap;
    }
    d->k[d->n] = jj_astrdup(r, k, kn);
    d->kn[d->n] = kn;
    d->v[d->n++] = v;
}

/* The number tokens of a JSON text in order, outside strings: *is_float
 * for each; returns the position after the token, or NULL at the end. */
static const char *next_number(const char *p, int *is_float) {
    for (; *p; p++) {
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1]) p++;
            if (!*p) return NULL;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            *is_float = 0;
            for (; *p && strchr("0123456789+-.eE", *p); p++) *is_float |= *p == '.' || *p == 'e' || *p == 'E';
            return p;
        }
    }
    return NULL;
}

static void mark_floats(cJSON *j, const char **p) {
    for (; j; j = j->next) {
        if (cJSON_IsNumber(j)) {
            int is_float = 0;
            if (*p && (*p = next_number(*p, &is_float)) && is_float) j->type |= LOAM_JSON_FLOAT;
        }
        if (j->child) mark_floats(j->child, p);
    }
}

void loam_json_mark_floats(cJSON *root, const char *text) {
    const char *p = text;
    if (root && cJSON_IsNumber(root)) { /* a bare number */
        int is_float = 0;
        if (next_number(p, &is_float) && is_float) root->type |= LOAM_JSON_FLOAT;
        return;
    }
    if (root) mark_floats(root->child, &p);
}

value jj_from_json(render *r, const cJSON *j) {
    if (!j || cJSON_IsNull(j)) return v_none();
    if (cJSON_IsBool(j)) return v_bool(cJSON_IsTrue(j));
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (!(j->type & LOAM_JSON_FLOAT) && d == floor(d) && fabs(d) < 9.2e18) return v_int((int64_t)d);
        return v_float(d);
    }
    if (cJSON_IsString(j)) return v_strn(j->valuestring, strlen(j->valuestring));
    if (cJSON_IsArray(j)) {
        list *l = jj_list_new(r);
        const cJSON *c;
        cJSON_ArrayForEach(c, j) jj_list_push(r, l, jj_from_json(r, c));
        return (value){.t = V_LIST, .l = l};
    }
    dict *d = jj_dict_new(r);
    const cJSON *c;
    cJSON_ArrayForEach(c, j) jj_dict_set(r, d, c->string, strlen(c->string), jj_from_json(r, c));
    return (value){.t = V_DICT, .d = d};
}

/* ------------------------------------------------------------------ evaluation helpers */

int jj_truthy(value v) {
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

const char *jj_type_name(value v) {
    static const char *names[] = {"undefined", "none", "bool", "int", "float", "str", "list", "dict", "macro", "function"};
    return names[v.t];
}

/* Python's repr of a float: the shortest digits that read back the same. */
/* Python's repr of a float: the shortest digits that read back the same,
 * in fixed notation for decimal exponents -4 .. 15, else as d.ddde+XX. */
static void float_repr(double f, char *buf, size_t len) {
    if (isnan(f) || isinf(f)) {
        snprintf(buf, len, isnan(f) ? "nan" : f < 0 ? "-inf" : "inf");
        return;
    }
    char e[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, f);
        if (strtod(e, NULL) == f) break;
    }
    /* e is [-]d[.ddd]e[+-]XX: split it into sign, digits, exponent */
    const char *p = e;
    int neg = *p == '-';
    if (neg) p++;
    char digits[24];
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    digits[nd] = 0;
    int exp10 = atoi(p + 1);
    size_t at = 0;
    if (neg) buf[at++] = '-';
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            at += (size_t)snprintf(buf + at, len - at, "0.");
            for (int i = 0; i < -exp10 - 1 && at + 1 < len; i++) buf[at++] = '0';
            at += (size_t)snprintf(buf + at, len - at, "%s", digits);
        } else {
            for (int i = 0; i <= exp10 && at + 1 < len; i++) buf[at++] = i < nd ? digits[i] : '0';
            buf[at++] = '.';
            if (nd > exp10 + 1) at += (size_t)snprintf(buf + at, len - at, "%s", digits + exp10 + 1);
            else buf[at++] = '0';
        }
        buf[at] = 0;
    } else {
        snprintf(buf + at, len - at, "%c%s%s%se%c%02d", digits[0], nd > 1 ? "." : "", nd > 1 ? digits + 1 : "", "",
                 exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    }
}


static void append_repr_str(render *r, sbuf *b, const char *s, size_t n) {
    int has_single = memchr(s, '\'', n) != NULL, has_double = memchr(s, '"', n) != NULL;
    char q = has_single && !has_double ? '"' : '\'';
    jj_sb_put(r, b, &q, 1);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == q || c == '\\') jj_sb_put(r, b, "\\", 1), jj_sb_put(r, b, &c, 1);
        else if (c == '\n') jj_sb_puts(r, b, "\\n");
        else if (c == '\t') jj_sb_puts(r, b, "\\t");
        else if (c == '\r') jj_sb_puts(r, b, "\\r");
        else jj_sb_put(r, b, &c, 1);
    }
    jj_sb_put(r, b, &q, 1);
}

/* str(v) (repr = 0) or repr(v), as Python prints them. */
void jj_append_str(render *r, sbuf *b, value v, int repr) {
    char num[64];
    switch (v.t) {
    case V_UNDEF: break;
    case V_NONE: jj_sb_puts(r, b, "None"); break;
    case V_BOOL: jj_sb_puts(r, b, v.b ? "True" : "False"); break;
    case V_INT: snprintf(num, sizeof num, "%lld", (long long)v.i), jj_sb_puts(r, b, num); break;
    case V_FLOAT: float_repr(v.f, num, sizeof num), jj_sb_puts(r, b, num); break;
    case V_STR:
        if (repr) append_repr_str(r, b, v.str.s, v.str.n);
        else jj_sb_put(r, b, v.str.s, v.str.n);
        break;
    case V_LIST:
        jj_sb_puts(r, b, "[");
        for (int i = 0; i < v.l->n; i++) {
            if (i) jj_sb_puts(r, b, ", ");
            jj_append_str(r, b, v.l->v[i], 1);
        }
        jj_sb_puts(r, b, "]");
        break;
    case V_DICT:
        jj_sb_puts(r, b, "{");
        for (int i = 0; i < v.d->n; i++) {
            if (i) jj_sb_puts(r, b, ", ");
            append_repr_str(r, b, v.d->k[i], v.d->kn[i]);
            jj_sb_puts(r, b, ": ");
            jj_append_str(r, b, v.d->v[i], 1);
        }
        jj_sb_puts(r, b, "}");
        break;
    default: jj_sb_puts(r, b, "<function>"); break;
    }
}

value jj_to_string(render *r, value v) {
    if (v.t == V_STR) return v;
    sbuf b = {0};
    jj_append_str(r, &b, v, 0);
    value s = v_strn(jj_astrdup(r, b.p ? b.p : "", b.n), b.n);
    return s;
}

/* json.dumps(v, ensure_ascii=False, indent=indent), as transformers' tojson */
void jj_append_json(render *r, sbuf *b, value v, int indent, int level) {
    char num[64];
    switch (v.t) {
    case V_UNDEF:
    case V_NONE: jj_sb_puts(r, b, "null"); break;
    case V_BOOL: jj_sb_puts(r, b, v.b ? "true" : "false"); break;
    case V_INT: snprintf(num, sizeof num, "%lld", (long long)v.i), jj_sb_puts(r, b, num); break;
    case V_FLOAT:
        if (isnan(v.f)) jj_sb_puts(r, b, "NaN");
        else if (isinf(v.f)) jj_sb_puts(r, b, v.f < 0 ? "-Infinity" : "Infinity");
        else float_repr(v.f, num, sizeof num), jj_sb_puts(r, b, num);
        break;
    case V_STR:
        jj_sb_puts(r, b, "\"");
        for (size_t i = 0; i < v.str.n; i++) {
            unsigned char c = (unsigned char)v.str.s[i];
            if (c == '"') jj_sb_puts(r, b, "\\\"");
            else if (c == '\\') jj_sb_puts(r, b, "\\\\");
            else if (c == '\n') jj_sb_puts(r, b, "\\n");
            else if (c == '\r') jj_sb_puts(r, b, "\\r");
            else if (c == '\t') jj_sb_puts(r, b, "\\t");
            else if (c == '\b') jj_sb_puts(r, b, "\\b");
            else if (c == '\f') jj_sb_puts(r, b, "\\f");
            else if (c < 0x20 || c == 0x7f) snprintf(num, sizeof num, "\\u%04x", c), jj_sb_puts(r, b, num);
            else jj_sb_put(r, b, (const char *)&c, 1);
        }
        jj_sb_puts(r, b, "\"");
        break;
    case V_LIST:
    case V_DICT: {
        int is_list = v.t == V_LIST, n = is_list ? v.l->n : v.d->n;
        jj_sb_puts(r, b, is_list ? "[" : "{");
        if (n == 0) {
            jj_sb_puts(r, b, is_list ? "]" : "}");
            break;
        }
        for (int i = 0; i < n; i++) {
            if (i) jj_sb_puts(r, b, indent >= 0 ? "," : ", ");
            if (indent >= 0) {
                jj_sb_puts(r, b, "\n");
                for (int k = 0; k < (level + 1) * indent; k++) jj_sb_puts(r, b, " ");
            }
            if (is_list) {
                jj_append_json(r, b, v.l->v[i], indent, level + 1);
            } else {
                jj_append_json(r, b, v_strn(v.d->k[i], v.d->kn[i]), indent, level + 1);
                jj_sb_puts(r, b, ": ");
                jj_append_json(r, b, v.d->v[i], indent, level + 1);
            }
        }
        if (indent >= 0) {
            jj_sb_puts(r, b, "\n");
            for (int k = 0; k < level * indent; k++) jj_sb_puts(r, b, " ");
        }
        jj_sb_puts(r, b, is_list ? "]" : "}");
        break;
    }
    default: jj_fail(r, "template: tojson of a %s", jj_type_name(v));
    }
}

int jj_values_equal(value a, value b) {
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
            if (!jj_values_equal(a.l->v[i], b.l->v[i])) return 0;
        return 1;
    case V_DICT:
        if (a.d->n != b.d->n) return 0;
        for (int i = 0; i < a.d->n; i++) {
            int j = jj_dict_find(b.d, a.d->k[i], a.d->kn[i]);
            if (j < 0 || !jj_values_equal(a.d->v[i], b.d->v[j])) return 0;
        }
        return 1;
    default: return a.macro == b.macro;
    }
}

int jj_is_num(value v) { return v.t == V_INT || v.t == V_FLOAT || v.t == V_BOOL; }
double jj_num_of(value v) { return v.t == V_INT ? (double)v.i : v.t == V_FLOAT ? v.f : v.b; }

int jj_compare(render *r, value a, value b, int line) {
    if (jj_is_num(a) && jj_is_num(b)) return jj_num_of(a) < jj_num_of(b) ? -1 : jj_num_of(a) > jj_num_of(b);
    if (a.t == V_STR && b.t == V_STR) {
        size_t n = a.str.n < b.str.n ? a.str.n : b.str.n;
        int c = memcmp(a.str.s, b.str.s, n);
        return c ? (c < 0 ? -1 : 1) : (a.str.n < b.str.n ? -1 : a.str.n > b.str.n);
    }
    jj_fail(r, "template line %d: cannot compare %s with %s", line, jj_type_name(a), jj_type_name(b));
}

int jj_contains(render *r, value hay, value needle, int line) {
    if (hay.t == V_STR) {
        if (needle.t != V_STR) jj_fail(r, "template line %d: 'in <string>' needs a string", line);
        if (needle.str.n == 0) return 1;
        for (size_t i = 0; i + needle.str.n <= hay.str.n; i++)
            if (memcmp(hay.str.s + i, needle.str.s, needle.str.n) == 0) return 1;
        return 0;
    }
    if (hay.t == V_LIST) {
        for (int i = 0; i < hay.l->n; i++)
            if (jj_values_equal(hay.l->v[i], needle)) return 1;
        return 0;
    }
    if (hay.t == V_DICT) return needle.t == V_STR && jj_dict_find(hay.d, needle.str.s, needle.str.n) >= 0;
    if (hay.t == V_UNDEF) jj_fail(r, "template line %d: \"in\" on an undefined value", line);
    jj_fail(r, "template line %d: \"in\" on a %s", line, jj_type_name(hay));
}

/* Items of anything iterable (dict: its keys). */
list *jj_iterate(render *r, value v, int line) {
    if (v.t == V_LIST) return v.l;
    list *l = jj_list_new(r);
    if (v.t == V_DICT) {
        for (int i = 0; i < v.d->n; i++) jj_list_push(r, l, v_strn(v.d->k[i], v.d->kn[i]));
    } else if (v.t == V_STR) {
        for (size_t i = 0; i < v.str.n;) {
            size_t k = i + 1;
            while (k < v.str.n && ((unsigned char)v.str.s[k] & 0xc0) == 0x80) k++;
            jj_list_push(r, l, v_strn(v.str.s + i, k - i));
            i = k;
        }
    } else if (v.t != V_UNDEF && v.t != V_NONE) {
        jj_fail(r, "template line %d: a %s is not iterable", line, jj_type_name(v));
    } else if (v.t == V_NONE) {
        jj_fail(r, "template line %d: None is not iterable", line);
    }
    return l;
}
