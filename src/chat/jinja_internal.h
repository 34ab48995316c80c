/* The Jinja engine's insides, shared by its files: values and the arena
 * (jinja_value.c), the lexer (jinja_lex.c), the parser (jinja_parse.c),
 * filters and tests (jinja_filters.c) and evaluation (jinja_eval.c). The
 * one entry point is jinja.h's loam_jinja_render. */
#ifndef LOAM_CHAT_JINJA_INTERNAL_H
#define LOAM_CHAT_JINJA_INTERNAL_H
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/jinja.h"

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

static inline value v_undef(const char *name) { return (value){.t = V_UNDEF, .undef_name = name}; }
static inline value v_none(void) { return (value){.t = V_NONE}; }
static inline value v_bool(int b) { return (value){.t = V_BOOL, .b = !!b}; }
static inline value v_int(int64_t i) { return (value){.t = V_INT, .i = i}; }
static inline value v_float(double f) { return (value){.t = V_FLOAT, .f = f}; }
static inline value v_strn(const char *s, size_t n) { return (value){.t = V_STR, .str = {s, n}}; }

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

/* values (jinja_value.c): the arena, strings, lists, dicts, conversions, comparisons */
void jj_append_json(render *r, sbuf *b, value v, int indent, int level);
void jj_append_str(render *r, sbuf *b, value v, int repr);
void *jj_arena_alloc(render *r, size_t n);
char *jj_astrdup(render *r, const char *s, size_t n);
int jj_compare(render *r, value a, value b, int line);
int jj_contains(render *r, value hay, value needle, int line);
int jj_dict_find(const dict *d, const char *k, size_t kn);
dict *jj_dict_new(render *r);
void jj_dict_set(render *r, dict *d, const char *k, size_t kn, value v);
void jj_fail(render *r, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
value jj_from_json(render *r, const cJSON *j);
int jj_is_num(value v);
list *jj_iterate(render *r, value v, int line);
list *jj_list_new(render *r);
void jj_list_push(render *r, list *l, value v);
double jj_num_of(value v);
void jj_sb_put(render *r, sbuf *b, const char *s, size_t n);
void jj_sb_puts(render *r, sbuf *b, const char *s);
value jj_to_string(render *r, value v);
int jj_truthy(value v);
const char *jj_type_name(value v);
int jj_values_equal(value a, value b);

/* the lexer (jinja_lex.c) */
segment *jj_segment_source(render *r, const char *src, int *n_out);

/* the parser (jinja_parse.c) */
node *jj_parse_body(parser *p, const char *const *stops);

/* string methods, tests and filters (jinja_filters.c) */
value jj_apply_filter(render *r, const node *f, value v);
int jj_apply_test(render *r, const char *name, value v, const value *args, int n_args, int line);
int jj_starts_or_ends(value s, value x, int end);
value jj_str_case(render *r, value s, int mode);
value jj_str_replace(render *r, value s, value from, value to);
value jj_str_split(render *r, value s, value sep, int line);
value jj_str_strip(render *r, value s, value chars, int left, int right);

/* evaluation (jinja_eval.c) */
value jj_call_method(render *r, value self, const char *m, const node *call, int line, int *found);
value *jj_eval_args(render *r, const node *call);
value jj_get_attr(render *r, value obj, const char *name, size_t n);
value jj_kwarg(render *r, const node *call, const value *args, const char *name, int pos, value dflt);

#endif
