/* loam pick: which catalogue models suit the task, fit the memory, and how
 * fast they will run here. The catalogue is data (store/catalogue.h); the
 * memory and speed of each entry come from pick_estimate.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "store/catalogue.h"
#include "tools/pick.h"
#include "tools/presets.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

/* Offered quantizations by kind, from the most exact down. */
static const char *const text_quants[] = {"f16", "q8_0", "q5_k_m", "q4_k_m", "q4_0", NULL};
static const char *const whisper_quants[] = {"f16", "q8_0", "q5_0", NULL};
static const char *const flux_quants[] = {"f16", "q8_0", "q5_0", "q4_0", NULL};

static const char *const *quants_of(const char *model) {
    const loam_preset *p = loam_preset_find(model);
    if (p && !strcmp(p->arch, "whisper")) return whisper_quants;
    if (p && !strcmp(p->arch, "flux")) return flux_quants;
    return text_quants;
}

loam_pick_params loam_pick_default_params(void) {
    loam_pick_params p;
    memset(&p, 0, sizeof p);
    p.measure = 1;
    p.kv_type = LOAM_KV_F32;
    return p;
}

void loam_pick_rows_free(loam_pick_row *rows) { free(rows); }

static int has_string(const cJSON *list, const char *s) {
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        if (cJSON_IsString(it) && !strcasecmp(it->valuestring, s)) return 1;
    }
    return 0;
}

static const char *str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* The entry's model asked for by name: synth name, hub id, GGUF repo or a
 * short name the catalogue maps to one of those. */
static int named(const cJSON *cat, const cJSON *e, const char *name) {
    char target[256];
    if (store_short_name(cat, name, target, sizeof target)) {
        target[strcspn(target, ":@")] = 0;
        name = target;
        return !strcasecmp(str(e, "hub"), name) || !strcasecmp(str(e, "gguf"), name);
    }
    return !strcasecmp(str(e, "model"), name) || !strcasecmp(str(e, "hub"), name) || !strcasecmp(str(e, "gguf"), name);
}

static int wanted(const cJSON *cat, const cJSON *e, const loam_pick_params *p) {
    const cJSON *lic = cJSON_GetObjectItemCaseSensitive(e, "licence");
    if (p->model) return named(cat, e, p->model);
    const char *task = p->task ? p->task : p->all ? NULL : "chat";
    if (task && !has_string(cJSON_GetObjectItemCaseSensitive(e, "tasks"), task)) return 0;
    const cJSON *langs = cJSON_GetObjectItemCaseSensitive(e, "languages");
    if (p->lang && !has_string(langs, p->lang) && !has_string(langs, "multilingual-99")) return 0;
    if (p->commercial && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(lic, "commercial"))) return 0;
    if (p->variant && strcasecmp(str(e, "variant"), p->variant)) return 0;
    return 1;
}

/* The first benchmark cited, as the ranking's quality figure and text. */
static void benchmark_of(const cJSON *e, loam_pick_row *row) {
    const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(e, "benchmarks"), 0);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, "value");
    if (!b || !cJSON_IsNumber(v)) return;
    snprintf(row->benchmark, sizeof row->benchmark, "%s %.1f (%s)", str(b, "name"), v->valuedouble, str(b, "setting"));
    if (!strcmp(str(b, "name"), "MMLU")) row->score = v->valuedouble;
}

static void describe(const cJSON *e, const char *quant, loam_pick_row *row) {
    const cJSON *lic = cJSON_GetObjectItemCaseSensitive(e, "licence"), *t;
    snprintf(row->model, sizeof row->model, "%s", str(e, "model"));
    snprintf(row->variant, sizeof row->variant, "%s", str(e, "variant"));
    snprintf(row->hub, sizeof row->hub, "%s", str(e, "hub"));
    snprintf(row->gguf, sizeof row->gguf, "%s", str(e, "gguf"));
    snprintf(row->licence, sizeof row->licence, "%s", str(lic, "name"));
    row->commercial = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(lic, "commercial"));
    row->gated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "gated"));
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(e, "tasks")) {
        size_t n = strlen(row->tasks);
        if (cJSON_IsString(t)) snprintf(row->tasks + n, sizeof row->tasks - n, "%s%s", n ? "," : "", t->valuestring);
    }
    benchmark_of(e, row);
    /* a GGUF repo of the quantization when there is one, else the safetensors */
    if (row->gguf[0] && strcmp(quant, "f16")) {
        char q[16];
        snprintf(q, sizeof q, "%s", quant);
        for (char *c = q; *c; c++) *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
        snprintf(row->pull, sizeof row->pull, "%s:%s", row->gguf, q);
    } else snprintf(row->pull, sizeof row->pull, "%s", row->hub);
}

static void say_why(loam_pick_row *r) {
    double usable = (double)(r->ram_bytes - (r->reserve_bytes < r->ram_bytes ? r->reserve_bytes : r->ram_bytes)) / GIB;
    int n = r->fits ? snprintf(r->why, sizeof r->why, "fits: %.1f of %.1f GiB usable", (double)r->total_bytes / GIB, usable)
                    : snprintf(r->why, sizeof r->why, "too big: needs %.1f GiB, %.1f GiB usable", (double)r->total_bytes / GIB, usable);
    const char *note = !strcmp(r->variant, "base") && strstr(r->tasks, "speech") == NULL && r->seconds_per_image == 0 &&
                               strcmp(r->model, "flux.1-schnell")
                           ? "; base model: for completion or your own fine-tune, not chat"
                       : !r->commercial ? "; non-commercial licence"
                       : r->gated       ? "; gated: accept the licence on the hub first"
                                        : "";
    if (n > 0 && (size_t)n < sizeof r->why) snprintf(r->why + n, sizeof r->why - (size_t)n, "%s%s%s", r->benchmark[0] ? "; " : "", r->benchmark, note);
}

static int usable_speed(const loam_pick_row *r) {
    if (r->tokens_per_s > 0) return r->tokens_per_s >= 5;
    if (r->realtime_factor > 0) return r->realtime_factor >= 1;
    return 1;
}

static int quant_rank(const loam_pick_row *r) {
    const char *const *q = quants_of(r->model);
    for (int i = 0; q[i]; i++)
        if (!strcmp(q[i], r->quant)) return i;
    return 99;
}

static int by_rank(const void *a, const void *b) {
    const loam_pick_row *x = a, *y = b;
    if (x->fits != y->fits) return y->fits - x->fits;
    if (x->score != y->score) return y->score > x->score ? 1 : -1;
    if (x->n_params != y->n_params) return y->n_params > x->n_params ? 1 : -1;
    int c = strcmp(x->variant, y->variant);
    return c ? c : quant_rank(x) - quant_rank(y);
}

/* One row per model and variant: the most exact quantization that fits
 * and still runs at a usable speed (5 tokens/s, real time), else the
 * fastest that fits; none when nothing fits. */
static int keep_best(loam_pick_row *rows, int n) {
    int w = 0;
    for (int i = 0; i < n;) {
        int j = i, best = -1, fastest = -1;
        while (j < n && !strcmp(rows[j].model, rows[i].model) && !strcmp(rows[j].variant, rows[i].variant)) {
            if (rows[j].fits && best < 0 && usable_speed(&rows[j])) best = j;
            if (rows[j].fits) fastest = j; /* the last that fits is the smallest */
            j++;
        }
        if (best < 0) best = fastest;
        if (best >= 0) rows[w++] = rows[best];
        i = j;
    }
    return w;
}

static loam_status measure(const cJSON *cat, const loam_pick_params *p, loam_pick_rates *rates, loam_error *err) {
    int types[32], n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cat, "models")) {
        if (!wanted(cat, e, p)) continue;
        for (const char *const *q = quants_of(str(e, "model")); *q; q++) {
            if (p->quant && strcasecmp(*q, p->quant)) continue;
            int t[8], k = pick_types_of(str(e, "model"), *q, t, 8);
            for (int i = 0; i < k; i++) {
                int seen = 0;
                for (int s = 0; s < n; s++) seen |= types[s] == t[i];
                if (!seen && n < 32) types[n++] = t[i];
            }
        }
    }
    return pick_rates(p, types, n, rates, err);
}

loam_status loam_pick(const loam_pick_params *params, loam_pick_row **rows_out, int *n_out, loam_pick_rates *rates_used,
                      loam_error *err) {
    *rows_out = NULL, *n_out = 0;
    loam_pick_params dflt = loam_pick_default_params();
    const loam_pick_params *p = params ? params : &dflt;
    cJSON *cat;
    loam_status st = store_catalogue_load(&cat, err);
    if (st) return st;
    loam_machine_info m;
    loam_machine_get_info(NULL, &m);
    uint64_t ram = p->ram_bytes ? p->ram_bytes : m.ram_bytes;
    loam_pick_rates rates;
    memset(&rates, 0, sizeof rates);
    if (p->measure) st = measure(cat, p, &rates, err);
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(cat, "models"), *e;
    int cap = cJSON_GetArraySize(models) * 6 + 1, n = 0;
    loam_pick_row *rows = st ? NULL : calloc((size_t)cap, sizeof *rows);
    if (!st && !rows) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    cJSON_ArrayForEach(e, models) {
        if (st || !wanted(cat, e, p)) continue;
        for (const char *const *q = quants_of(str(e, "model")); *q && !st && n < cap; q++) {
            if (p->quant && strcasecmp(*q, p->quant)) continue;
            loam_pick_row *r = &rows[n];
            describe(e, *q, r);
            st = pick_estimate(e, *q, p, ram, p->measure ? &rates : NULL, r, err);
            say_why(r);
            n++;
        }
    }
    cJSON_Delete(cat);
    if (st) {
        free(rows);
        return st;
    }
    if (!p->all && !p->quant && !p->model) n = keep_best(rows, n);
    qsort(rows, (size_t)n, sizeof *rows, by_rank);
    if (rates_used) *rates_used = rates;
    *rows_out = rows, *n_out = n;
    return LOAM_OK;
}
