/* Crafted input files, made from the format specs, run through the loam
 * commands that read them under guards (10 s, 1 GB). Each must be refused
 * cleanly: exit status 1, a first stderr line "loam: ..." naming the file,
 * no sanitizer report. The time and memory of every case are recorded. */
#ifndef LOAM_TESTS_CRAFTED_H
#define LOAM_TESTS_CRAFTED_H
#include <stddef.h>
#include <stdint.h>

#include "test.h"

typedef struct {
    const char *format;
    int n_cases, n_runs, n_bad;
    /* LeakSanitizer's check at exit costs more than a refusal itself: with
     * this set, only one command of each case in turn is leak-checked (the
     * rest still run under ASan and UBSan) */
    int leak_check_one;
    double worst_s;
    long worst_kb;
    char worst_case[160];
    char first_bad[60000];
} crafted_stats;

/* A byte image being built or mutated. */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} bytes;

void bytes_put(bytes *b, const void *d, size_t n);
void bytes_u32(bytes *b, uint32_t v);
void bytes_u64(bytes *b, uint64_t v);
void bytes_str(bytes *b, const char *s); /* GGUF string: u64 length, bytes */
bytes bytes_copy(const uint8_t *p, size_t n);
int bytes_read_file(const char *path, bytes *out);
int bytes_write_file(const char *path, const void *p, size_t n);

/* Runs each command of cmds (argument strings with "%s" for path, split
 * at spaces) on path, expecting a clean refusal. */
void crafted_refused(crafted_stats *st, const char *name, const char *path, const char *const *cmds, int n_cmds);
/* The same, but the file may be accepted: it must only not crash, hang,
 * run out of memory or trip a sanitizer, and must finish under 2 s. */
void crafted_survives(crafted_stats *st, const char *name, const char *path, const char *const *cmds, int n_cmds);
/* A valid file that must be read (exit 0) under 2 s. */
void crafted_accepted(crafted_stats *st, const char *name, const char *path, const char *const *cmds, int n_cmds);
/* With LOAM_CRAFTED_SEEDS=dir: keep a crafted file (or the files of a
 * crafted folder) as fuzz seeds, and the valid fixtures too (seeds.c). */
void crafted_keep_seed(const char *path);
void crafted_keep_fixture_seeds(void);
/* One summary line; fails the test if any case was bad. */
void crafted_report(const crafted_stats *st);

#define CRAFTED_VALUES_U64 {0ull, 1ull << 31, 1ull << 32, 1ull << 63, ~0ull}

#endif
