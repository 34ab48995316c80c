/* The crafted-input runner: see crafted.h. */
#include "hardening/crafted.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mapfile.h"

extern char **environ;

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
        const char *err = r->err ? r->err : ""; /* none when the command could not start */
        snprintf(st->first_bad + at, sizeof st->first_bad - at, "\n      %s [loam %s]: %s (exit %d%s%s, %.2f s) stderr: %.*s", name, cmd, why,
                 r->exit_code, r->timed_out ? ", timed out" : "", r->over_memory ? ", over 1 GB" : "", r->seconds,
                 (int)strcspn(err, "\n") < 200 ? (int)strcspn(err, "\n") : 200, err);
    }
}

static void judge_run(crafted_stats *st, const char *name, const char *path, const char *cmd, int must_refuse, const guarded_run *r) {
    st->n_runs++;
    if (r->seconds > st->worst_s) st->worst_s = r->seconds, snprintf(st->worst_case, sizeof st->worst_case, "%s [%s]", name, cmd);
    if (r->max_rss_kb > st->worst_kb) st->worst_kb = r->max_rss_kb;
    const char *first_line_ok = strncmp(r->err, "loam: ", 6) == 0 ? r->err : NULL;
    if (r->timed_out || r->over_memory || r->signaled) note_bad(st, name, cmd, "killed or crashed", r);
    else if (sanitizer_report(r->err)) note_bad(st, name, cmd, "sanitizer report", r);
    else if (must_refuse > 0 && r->exit_code == 0) note_bad(st, name, cmd, "accepted", r);
    else if (must_refuse > 0 && r->exit_code != 1) note_bad(st, name, cmd, "unexpected exit status", r);
    else if (must_refuse > 0 && !first_line_ok) note_bad(st, name, cmd, "first stderr line is not \"loam: ...\"", r);
    else if (must_refuse > 0 && !strstr(r->err, base_name(path))) note_bad(st, name, cmd, "the message does not name the file", r);
    else if (must_refuse <= 0 && r->exit_code != 0 && !first_line_ok) note_bad(st, name, cmd, "failed without a loam: message", r);
    else if (must_refuse < 0 && r->exit_code != 0) note_bad(st, name, cmd, "refused a valid file", r);
    else if (must_refuse <= 0 && r->seconds > 2.0) note_bad(st, name, cmd, "over 2 s", r);
}

typedef struct {
    char storage[512], *argv[MAX_ARGS];
    char *const *envp;
    guarded_run r;
    int started;
} command_run;

static void *run_command(void *arg) {
    command_run *c = arg;
    c->started = run_guarded_env(c->argv, c->envp, 10.0, 1L << 20, &c->r);
    return NULL;
}

/* This process's environment with ASAN_OPTIONS extended by
 * ":detect_leaks=0" (a later option wins); env_free releases it. */
static char **env_without_leak_check(void) {
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 2, sizeof *env);
    const char *old = getenv("ASAN_OPTIONS");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "ASAN_OPTIONS=", 13)) env[k++] = strdup(environ[i]);
    size_t len = strlen(old ? old : "") + 40;
    env[k] = malloc(len);
    snprintf(env[k], len, "ASAN_OPTIONS=%s%sdetect_leaks=0", old ? old : "", old && *old ? ":" : "");
    return env;
}

static void env_free(char **env) {
    for (size_t i = 0; env && env[i]; i++) free(env[i]);
    free(env);
}

/* The commands of a case run at once, each in its own thread: they only
 * read the file, and the suite spends most of its time starting processes. */
static void run_case(crafted_stats *st, const char *name, const char *path, const char *const *cmds, int n_cmds, int must_refuse) {
    enum { MAX_CMDS = 8 };
    command_run runs[MAX_CMDS];
    pthread_t threads[MAX_CMDS];
    int threaded[MAX_CMDS] = {0};
    if (n_cmds > MAX_CMDS) n_cmds = MAX_CMDS;
    /* with leak_check_one, one command of the case in turn is leak-checked */
    char **quiet = st->leak_check_one && n_cmds > 1 ? env_without_leak_check() : NULL;
    int checked = st->n_cases % n_cmds;
    st->n_cases++;
    crafted_keep_seed(path);
    for (int c = 0; c < n_cmds; c++) {
        split_command(cmds[c], path, runs[c].storage, sizeof runs[c].storage, runs[c].argv);
        runs[c].envp = quiet && c != checked ? quiet : environ;
        threaded[c] = pthread_create(&threads[c], NULL, run_command, &runs[c]) == 0;
        if (!threaded[c]) run_command(&runs[c]);
    }
    for (int c = 0; c < n_cmds; c++)
        if (threaded[c]) pthread_join(threads[c], NULL);
    for (int c = 0; c < n_cmds; c++) {
        guarded_run *r = &runs[c].r;
        if (!runs[c].started) {
            note_bad(st, name, cmds[c], "could not start", r);
            continue;
        }
        judge_run(st, name, path, cmds[c], must_refuse, r);
        guarded_free(r);
    }
    env_free(quiet);
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
