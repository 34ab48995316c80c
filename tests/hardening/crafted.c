/* The crafted-input runner: see crafted.h. */
#include "hardening/crafted.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mapfile.h"

void bytes_put(bytes *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        while (b->n + n > b->cap) b->cap = b->cap ? b->cap * 2 : 4096;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

void bytes_u32(bytes *b, uint32_t v) { bytes_put(b, &v, 4); }
void bytes_u64(bytes *b, uint64_t v) { bytes_put(b, &v, 8); }

void bytes_str(bytes *b, const char *s) {
    bytes_u64(b, strlen(s));
    bytes_put(b, s, strlen(s));
}

bytes bytes_copy(const uint8_t *p, size_t n) {
    bytes b = {0};
    bytes_put(&b, p, n);
    return b;
}

int bytes_read_file(const char *path, bytes *out) {
    char *text = NULL;
    uint64_t n = 0;
    loam_error err;
    memset(out, 0, sizeof *out);
    if (loam_read_file(path, 1 << 28, &text, &n, &err) != LOAM_OK) return 0;
    out->p = (uint8_t *)text, out->n = out->cap = (size_t)n;
    return 1;
}

int bytes_write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

#define MAX_ARGS 16

/* "tokenize %s hello" with path -> argv (LOAM_BIN first) */
static void split_command(const char *cmd, const char *path, char *storage, size_t cap, char **argv) {
    int n = 0;
    /* LOAM_TEST_BIN runs the cases against another build (an older one, to
     * show that a case fails without its fix) */
    const char *bin = getenv("LOAM_TEST_BIN");
    argv[n++] = (char *)(bin && *bin ? bin : LOAM_BIN);
    snprintf(storage, cap, "%s", cmd);
    for (char *tok = strtok(storage, " "); tok && n < MAX_ARGS - 1; tok = strtok(NULL, " ")) argv[n++] = strcmp(tok, "%s") ? tok : (char *)path;
    argv[n] = NULL;
}

static int sanitizer_report(const char *err) {
    return strstr(err, "AddressSanitizer") || strstr(err, "runtime error:") || strstr(err, "LeakSanitizer") ||
           strstr(err, "UndefinedBehaviorSanitizer");
}

/* The file's own name, which a message naming the file contains. */
static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void note_bad(crafted_stats *st, const char *name, const char *cmd, const char *why, const guarded_run *r) {
    if (st->n_bad++ < (getenv("LOAM_CRAFTED_ALL") ? 1000 : 12)) {
        size_t at = strlen(st->first_bad);
        snprintf(st->first_bad + at, sizeof st->first_bad - at, "\n      %s [loam %s]: %s (exit %d%s%s, %.2f s) stderr: %.*s", name, cmd, why,
                 r->exit_code, r->timed_out ? ", timed out" : "", r->over_memory ? ", over 1 GB" : "", r->seconds,
                 (int)strcspn(r->err, "\n") < 200 ? (int)strcspn(r->err, "\n") : 200, r->err);
    }
}

static void run_case(crafted_stats *st, const char *name, const char *path, const char *const *cmds, int n_cmds, int must_refuse) {
    st->n_cases++;
    crafted_keep_seed(path);
    for (int c = 0; c < n_cmds; c++) {
        char storage[512], *argv[MAX_ARGS];
        split_command(cmds[c], path, storage, sizeof storage, argv);
        guarded_run r;
        if (!run_guarded(argv, 10.0, 1L << 20, &r)) {
            note_bad(st, name, cmds[c], "could not start", &r);
            continue;
        }
        st->n_runs++;
        if (r.seconds > st->worst_s) st->worst_s = r.seconds, snprintf(st->worst_case, sizeof st->worst_case, "%s [%s]", name, cmds[c]);
        if (r.max_rss_kb > st->worst_kb) st->worst_kb = r.max_rss_kb;
        const char *first_line_ok = strncmp(r.err, "loam: ", 6) == 0 ? r.err : NULL;
        if (r.timed_out || r.over_memory || r.signaled) note_bad(st, name, cmds[c], "killed or crashed", &r);
        else if (sanitizer_report(r.err)) note_bad(st, name, cmds[c], "sanitizer report", &r);
        else if (must_refuse > 0 && r.exit_code == 0) note_bad(st, name, cmds[c], "accepted", &r);
        else if (must_refuse > 0 && r.exit_code != 1) note_bad(st, name, cmds[c], "unexpected exit status", &r);
        else if (must_refuse > 0 && !first_line_ok) note_bad(st, name, cmds[c], "first stderr line is not \"loam: ...\"", &r);
        else if (must_refuse > 0 && !strstr(r.err, base_name(path))) note_bad(st, name, cmds[c], "the message does not name the file", &r);
        else if (must_refuse <= 0 && r.exit_code != 0 && !first_line_ok) note_bad(st, name, cmds[c], "failed without a loam: message", &r);
        else if (must_refuse < 0 && r.exit_code != 0) note_bad(st, name, cmds[c], "refused a valid file", &r);
        else if (must_refuse <= 0 && r.seconds > 2.0) note_bad(st, name, cmds[c], "over 2 s", &r);
        guarded_free(&r);
    }
}

void crafted_refused(crafted_stats *st, const char *name, const char *path, const char *const *cmds, int n_cmds) {
    run_case(st, name, path, cmds, n_cmds, 1);
}

void crafted_survives(crafted_stats *st, const char *name, const char *path, const char *const *cmds, int n_cmds) {
    run_case(st, name, path, cmds, n_cmds, 0);
}

void crafted_accepted(crafted_stats *st, const char *name, const char *path, const char *const *cmds, int n_cmds) {
    run_case(st, name, path, cmds, n_cmds, -1);
}

void crafted_report(const crafted_stats *st) {
    printf("    %s: %d crafted files, %d runs; slowest %.3f s (%s), peak %.1f MB\n", st->format, st->n_cases, st->n_runs, st->worst_s,
           st->worst_case, st->worst_kb / 1024.0);
    CHECK(st->n_cases > 0, "%s: no cases", st->format);
    CHECK(st->n_bad == 0, "%s: %d of %d runs were not clean refusals:%s", st->format, st->n_bad, st->n_runs, st->first_bad);
}
