/* loam_file_summarize: the architecture, parameter count and size of a GGUF
 * from its header, for files loam has no model code for (yet). */
#include <stdio.h>
#include <string.h>

#include "loam_tools.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "loam.h"
#include "text/model.h"
#include "tools/quant_policy.h"

static void copy_str(const gguf_file *g, const char *key, char *out, size_t cap) {
    const char *s;
    uint64_t len;
    out[0] = 0;
    if (gguf_get_str(g, key, &s, &len)) snprintf(out, cap, "%.*s", (int)(len < cap ? len : cap - 1), s);
}

loam_status loam_file_summarize(const char *path, loam_file_summary *out, loam_error *err) {
    memset(out, 0, sizeof *out);
    gguf_file g;
    loam_status st = gguf_open(&g, path, err);
    if (st != LOAM_OK) return st;
    copy_str(&g, "general.architecture", out->architecture, sizeof out->architecture);
    copy_str(&g, "general.name", out->name, sizeof out->name);
    out->runnable = loam_gguf_arch_supported(out->architecture);
    uint64_t bytes_of[LOAM_T_COUNT + 1] = {0};
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const gguf_tensor *t = &g.tensors[i];
        /* the reader refused a tensor whose non-zero dimensions multiply past
         * int64 (a zero dimension makes the count 0, not a wrapped number);
         * the sum over tensors is checked too */
        int64_t n = 1;
        for (int d = 0; d < t->n_dims; d++) n *= (int64_t)t->ne[d];
        if (__builtin_add_overflow(out->n_params, n, &out->n_params)) {
            gguf_close(&g);
            return loam_fail(err, LOAM_E_FORMAT, "%s: the tensors' element counts add up past 2^63", path);
        }
        out->data_bytes += t->n_bytes;
        int lt = gguf_loam_type(t->type);
        bytes_of[lt >= 0 && lt < LOAM_T_COUNT ? lt : LOAM_T_COUNT] += t->n_bytes;
    }
    out->n_tensors = g.n_tensors;
    int best = -1;
    for (int t = 0; t < LOAM_T_COUNT; t++)
        if (bytes_of[t] && (best < 0 || bytes_of[t] > bytes_of[best])) best = t;
    int64_t ftype = -1;
    const char *named = gguf_get_int(&g, "general.file_type", &ftype) ? loam_ftype_name(ftype) : NULL;
    snprintf(out->dtype, sizeof out->dtype, "%s", named ? named : best >= 0 ? loam_type_short((loam_type)best) : "?");
    gguf_close(&g);
    return LOAM_OK;
}
