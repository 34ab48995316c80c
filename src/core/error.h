/* Error reporting: every fallible internal call returns a loam_status and
 * writes a readable message into an optional loam_error. */
#ifndef LOAM_CORE_ERROR_H
#define LOAM_CORE_ERROR_H
#include "loam.h"

#if defined(__GNUC__)
#define LOAM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LOAM_PRINTF(a, b)
#endif

/* Fills err (if not NULL) and returns code, so callers can write
 * `return loam_fail(err, LOAM_E_FORMAT, "...", ...);` */
loam_status loam_fail(loam_error *err, loam_status code, const char *fmt, ...) LOAM_PRINTF(3, 4);

/* Prefixes the message already in err with more context ("file: ..."). */
void loam_error_prefix(loam_error *err, const char *fmt, ...) LOAM_PRINTF(2, 3);

#endif
