#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
