/* loam pull, list, rm: the model store (the Hugging Face cache), and the
 * resolution of a model argument that every command shares. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "loam_store.h"

static void human(uint64_t b, char *buf, size_t n) {
    if (b >= (1ull << 30)) snprintf(buf, n, "%.2f GiB", (double)b / (1ull << 30));
    else if (b >= (1ull << 20)) snprintf(buf, n, "%.1f MiB", (double)b / (1 << 20));
    else snprintf(buf, n, "%.1f KiB", (double)b / 1024);
}

/* A progress bar on a terminal; elsewhere a line every ten seconds. */
typedef struct {
    int tty;
    double last_line;
} bar_state;

static void show_bar(void *user, uint64_t done, uint64_t total, double rate, const char *file) {
    (void)file;
    bar_state *b = user;
    double now = cli_now();
    if (!b->tty && now - b->last_line < 10 && done < total) return;
    b->last_line = now;
    char d[32], t[32], r[32], eta[32] = "--:--";
    human(done, d, sizeof d);
    human(total, t, sizeof t);
    human((uint64_t)rate, r, sizeof r);
    if (rate > 0 && total > done) {
        long s = (long)((double)(total - done) / rate);
        snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    }
    int pct = total ? (int)(100.0 * (double)done / (double)total) : 100, filled = pct / 4;
    char bar[32];
    for (int i = 0; i < 25; i++) bar[i] = i < filled ? '#' : '.';
    bar[25] = 0;
    fprintf(stderr, "%s[%s] %3d%%  %s / %s  %s/s  ETA %s%s", b->tty ? "\r" : "", bar, pct, d, t, r, eta,
            b->tty ? "   " : "\n");
}

static int pull_one(const char *name, loam_store_params *sp, int quiet) {
    loam_error err;
    loam_pull_plan plan;
    if (loam_pull_plan_get(name, sp, &plan, &err) != LOAM_OK) return cli_error_status(&err);
    char tb[32], mb[32];
    human(plan.total_bytes, tb, sizeof tb);
    human(plan.missing_bytes, mb, sizeof mb);
    if (!quiet)
        fprintf(stderr, "%s @ %.12s: %d files, %s%s%s%s\n", plan.repo, plan.commit, plan.n_files, tb,
                plan.missing_bytes ? ", " : " (all in the store already)", plan.missing_bytes ? mb : "",
                plan.missing_bytes ? " to download" : "");
    bar_state bar = {.tty = isatty(2)};
    if (!quiet) sp->progress = show_bar, sp->user = &bar;
    char path[4096];
    loam_status st = loam_pull(name, sp, path, sizeof path, &err);
    if (!quiet && bar.tty) fputc('\n', stderr);
    if (st != LOAM_OK) return cli_error_status(&err);
    puts(path);
    return 0;
}

int cmd_pull(int argc, char **argv) {
    loam_store_params sp = loam_store_default_params();
    int quiet = 0, n = 0;
    long v;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("usage: loam pull NAME... [--parallel N] [--retries N] [-q]\n"
                 "  NAME: a hub id (meta-llama/Llama-3.1-8B-Instruct), a GGUF repo with a quantization\n"
                 "  (bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M), optionally @revision, or a short name\n"
                 "  (llama3.1:8b; `loam pick` lists them). Only the files loam needs are fetched, several at\n"
                 "  once, resumed after a cut, each checked against the hub's sha256. Prints the path to use.\n"
                 "  The store is the Hugging Face cache: $HF_HUB_CACHE, else $HF_HOME/hub, else\n"
                 "  ~/.cache/huggingface/hub. HF_TOKEN (or the token file) for gated models; HF_ENDPOINT.");
            return 0;
        }
        if (!strcmp(argv[i], "-q")) quiet = 1;
        else if (!strcmp(argv[i], "--parallel")) {
            if (!cli_int("--parallel", i + 1 < argc ? argv[++i] : NULL, 1, 64, &v)) return 1;
            sp.n_parallel = (int)v;
        } else if (!strcmp(argv[i], "--retries")) {
            if (!cli_int("--retries", i + 1 < argc ? argv[++i] : NULL, 0, 100, &v)) return 1;
            sp.retries = v == 0 ? -1 : (int)v;
        } else if (argv[i][0] == '-') return cli_error("pull: unknown option \"%s\"", argv[i]);
        else n++;
    }
    if (!n) return cli_error("pull: name a model (loam pull --help)");
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            if (!strcmp(argv[i], "--parallel") || !strcmp(argv[i], "--retries")) i++;
            continue;
        }
        if (pull_one(argv[i], &sp, quiet)) return 1;
    }
    return 0;
}

int cmd_list(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        puts("usage: loam list\n  the models in the store (the Hugging Face cache) with their size and last use");
        return 0;
    }
    if (argc > 1) return cli_error("list: unexpected argument \"%s\"", argv[1]);
    loam_error err;
    loam_store_entry *e;
    int n;
    if (loam_store_list(NULL, &e, &n, &err) != LOAM_OK) return cli_error_status(&err);
    printf("%-56s %12s  %-16s %s\n", "MODEL", "SIZE", "LAST USED", "");
    for (int i = 0; i < n; i++) {
        char size[32], when[32] = "never";
        human(e[i].bytes, size, sizeof size);
        time_t t = (time_t)e[i].last_used;
        struct tm tm;
        if (t > 0 && localtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
        printf("%-56s %12s  %-16s %s\n", e[i].repo, size, when, e[i].complete ? "" : "(download unfinished)");
    }
    loam_store_list_free(e);
    return 0;
}

int cmd_rm(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        puts("usage: loam rm NAME...\n  removes models (hub ids or short names) from the store");
        return argc < 2;
    }
    for (int i = 1; i < argc; i++) {
        loam_error err;
        uint64_t freed = 0;
        if (loam_store_remove(argv[i], NULL, &freed, &err) != LOAM_OK) return cli_error_status(&err);
        char f[32];
        human(freed, f, sizeof f);
        printf("removed %s (%s)\n", argv[i], f);
    }
    return 0;
}

/* A download over LOAM_ASK_ABOVE bytes (e.g. "4G") is asked about first
 * on a terminal and refused elsewhere. */
static int download_allowed(const loam_pull_plan *plan) {
    const char *limit = getenv("LOAM_ASK_ABOVE");
    if (!limit || !*limit) return 1;
    char *end;
    double v = strtod(limit, &end);
    double mult = *end == 'G' || *end == 'g' ? 1073741824.0 : *end == 'M' || *end == 'm' ? 1048576.0 : *end == 'K' || *end == 'k' ? 1024.0 : 1;
    if ((double)plan->missing_bytes <= v * mult) return 1;
    char mb[32];
    human(plan->missing_bytes, mb, sizeof mb);
    if (!isatty(0) || !isatty(2)) {
        cli_error("%s needs a download of %s, over LOAM_ASK_ABOVE=%s: run `loam pull %s` first", plan->repo, mb, limit, plan->repo);
        return 0;
    }
    fprintf(stderr, "%s needs a download of %s. Download it now? [y/N] ", plan->repo, mb);
    char answer[16] = "";
    if (!fgets(answer, sizeof answer, stdin)) return 0;
    return answer[0] == 'y' || answer[0] == 'Y';
}

int cli_resolve_model(const char *arg, int allow_pull, char *out, size_t n) {
    loam_error err;
    if (loam_store_resolve(arg, NULL, out, n, &err) == LOAM_OK) return 0;
    if (!allow_pull || err.code == LOAM_E_ARG) return cli_error_status(&err);
    loam_store_params sp = loam_store_default_params();
    loam_pull_plan plan;
    if (loam_pull_plan_get(arg, &sp, &plan, &err) != LOAM_OK) return cli_error_status(&err);
    if (!download_allowed(&plan)) return 1;
    bar_state bar = {.tty = isatty(2)};
    sp.progress = show_bar, sp.user = &bar;
    fprintf(stderr, "pulling %s\n", arg);
    loam_status st = loam_pull(arg, &sp, out, n, &err);
    if (bar.tty) fputc('\n', stderr);
    return st == LOAM_OK ? 0 : cli_error_status(&err);
}
