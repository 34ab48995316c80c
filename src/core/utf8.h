/* UTF-8 validity, for every reader that takes text from an untrusted file
 * (GGUF keys, tokenizer files, JSON strings). */
#ifndef LOAM_CORE_UTF8_H
#define LOAM_CORE_UTF8_H
#include <stddef.h>

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, surrogates, or code
 * points past U+10FFFF). */
int loam_utf8_valid(const char *s, size_t n);

#endif
