/* loam tokenize / detokenize: the tokenizer from the command line, exactly
 * (scripts depend on the output format). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Reads all of stdin, bytes as given. */
static char *read_stdin(size_t *len) {
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2 + 1);
            if (!bigger) {
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

/* Writes s as a JSON string. */
static void json_string(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

int cmd_tokenize(int argc, char **argv) {
    const char *path = NULL, *text = NULL;
    int add_special = 1, json = 0, have_text = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-special") == 0) add_special = 0;
        else if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return puts("usage: loam tokenize PATH [--no-special] [--json] TEXT   (TEXT - reads stdin)"), 0;
        else if (!path) path = argv[i];
        else if (!have_text) text = argv[i], have_text = 1;
        else return cli_error("tokenize: unexpected argument \"%s\"", argv[i]);
    }
    if (!path || !have_text) return cli_error("usage: loam tokenize PATH [--no-special] [--json] TEXT");
    size_t len = 0;
    char *owned = NULL;
    if (strcmp(text, "-") == 0) {
        if (!(owned = read_stdin(&len))) return cli_error("tokenize: cannot read stdin");
        text = owned;
    } else {
        len = strlen(text);
    }
    loam_error err;
    loam_tokenizer *tok = NULL;
    char resolved[4096];
    if (cli_resolve_model(path, 0, resolved, sizeof resolved)) return free(owned), 1;
    path = resolved;
    if (cli_check_gguf(path)) return free(owned), 1;
    if (loam_tokenizer_open(path, &tok, &err) != LOAM_OK) {
        free(owned);
        return cli_error_status(&err);
    }
    int32_t *ids = NULL;
    int n = 0;
    int rc = 0;
    if (loam_tokenize(tok, text, len, add_special, &ids, &n, &err) != LOAM_OK) {
        rc = cli_error_status(&err);
    } else if (json) {
        fputs("{\"ids\": [", stdout);
        for (int i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
        fputs("], \"tokens\": [", stdout);
        for (int i = 0; i < n; i++) {
            size_t tl = 0;
            const char *ts = loam_token_str(tok, ids[i], &tl);
            if (i) fputs(", ", stdout);
            json_string(ts ? ts : "", ts ? tl : 0);
        }
        fputs("]}\n", stdout);
    } else {
        for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
    }
    free(ids);
    free(owned);
    loam_tokenizer_free(tok);
    return rc;
}

int cmd_detokenize(int argc, char **argv) {
    const char *path = NULL;
    int skip = 0, n = 0;
    int32_t *ids = calloc((size_t)argc, sizeof *ids);
    if (!ids) return cli_error("out of memory");
    for (int i = 1; i < argc; i++) {
        long v;
        if (strcmp(argv[i], "--skip-special") == 0) skip = 1;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            free(ids);
            return puts("usage: loam detokenize PATH [--skip-special] ID..."), 0;
        } else if (!path) path = argv[i];
        else if (cli_int("detokenize id", argv[i], 0, 0x7fffffff, &v)) ids[n++] = (int32_t)v;
        else return free(ids), 1;
    }
    if (!path) return free(ids), cli_error("usage: loam detokenize PATH [--skip-special] ID...");
    loam_error err;
    loam_tokenizer *tok = NULL;
    char resolved[4096];
    if (cli_resolve_model(path, 0, resolved, sizeof resolved)) return free(ids), 1;
    path = resolved;
    if (cli_check_gguf(path)) return free(ids), 1;
    if (loam_tokenizer_open(path, &tok, &err) != LOAM_OK) return free(ids), cli_error_status(&err);
    char *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (loam_detokenize(tok, ids, n, skip, &text, &len, &err) != LOAM_OK) rc = cli_error_status(&err);
    else fwrite(text, 1, len, stdout);
    free(text);
    free(ids);
    loam_tokenizer_free(tok);
    return rc;
}
