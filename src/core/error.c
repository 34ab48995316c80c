#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *loam_status_name(loam_status status) {
    switch (status) {
    case LOAM_OK: return "ok";
    case LOAM_E_IO: return "I/O error";
    case LOAM_E_FORMAT: return "format error";
    case LOAM_E_UNSUPPORTED: return "unsupported";
    case LOAM_E_NOMEM: return "out of memory";
    case LOAM_E_ARG: return "bad argument";
    case LOAM_E_RANGE: return "out of range";
    case LOAM_E_CANCELLED: return "cancelled";
    }
    return "unknown error";
}

loam_status loam_fail(loam_error *err, loam_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

void loam_error_prefix(loam_error *err, const char *fmt, ...) {
    if (!err) return;
    char prefix[512], old[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    /* keep as much of both as fits */
    size_t n = strlen(prefix);
    if (n >= sizeof err->message) n = sizeof err->message - 1;
    memcpy(err->message, prefix, n);
    size_t rest = strnlen(old, sizeof old - 1);
    if (rest > sizeof err->message - 1 - n) rest = sizeof err->message - 1 - n;
    memcpy(err->message + n, old, rest);
    err->message[n + rest] = 0;
}
