#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("loam: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_error_status(const loam_error *err) { return cli_error("%s", err->message); }

int cli_int(const char *opt, const char *value, long lo, long hi, long *out) {
    if (!value) return cli_error("%s needs a value", opt), 0;
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || *end || end == value || v < lo || v > hi)
        return cli_error("%s: \"%s\" is not an integer in [%ld, %ld]", opt, value, lo, hi), 0;
    *out = v;
    return 1;
}

int cli_float(const char *opt, const char *value, double *out) {
    if (!value) return cli_error("%s needs a value", opt), 0;
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (errno || *end || end == value) return cli_error("%s: \"%s\" is not a number", opt, value), 0;
    *out = v;
    return 1;
}

int cli_int_list(const char *text, int32_t **out) {
    *out = NULL;
    int n = 0, cap = 0;
    const char *p = text;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < INT32_MIN || v > INT32_MAX) {
            free(*out);
            *out = NULL;
            return -1;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            int32_t *grown = realloc(*out, (size_t)cap * sizeof **out);
            if (!grown) {
                free(*out);
                *out = NULL;
                return -1;
            }
            *out = grown;
        }
        (*out)[n++] = (int32_t)v;
        p = end;
        while (*p == ',' || *p == ' ') p++;
    }
    return n;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int cli_check_gguf(const char *path) {
    size_t n = strlen(path);
    if (n < 5 || strcmp(path + n - 5, ".gguf") != 0) return 0;
    /* a GGUF is checked whole, container and model metadata, whatever the
     * command needs of it: each command refuses what `loam run` refuses */
    loam_error err;
    loam_model_params mp = loam_model_default_params();
    mp.n_threads = 1;
    loam_model *m = NULL;
    loam_status st = loam_model_open(path, &mp, &m, &err);
    loam_model_free(m);
    if (st == LOAM_OK) return 0;
    loam_file_summary s;
    loam_error ignored;
    if (st == LOAM_E_UNSUPPORTED && loam_file_summarize(path, &s, &ignored) == LOAM_OK && !s.runnable) return 0;
    return cli_error_status(&err);
}
