#include "serve.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

int server_start(test_server *s, const char *args) {
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", temp_dir());
    snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s serve %s --port 0 --port-file %s/port >%s 2>&1 </dev/null & echo $!", LOAM_BIN, args, s->dir, s->log);
    if (run_capture(cmd, &out) != 0 || !out) return free(out), 0;
    s->pid = atoi(out);
    free(out);
    for (int i = 0; i < 600; i++) { /* up to 60 s: a sanitizer build loads slowly */
        char path[700];
        snprintf(path, sizeof path, "%s/port", s->dir);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%d", &s->port) != 1) s->port = 0;
            fclose(f);
        }
        if (s->port) {
            char *body = NULL;
            int st = server_curl(s, "", "/health", &body);
            free(body);
            if (st == 200) return 1;
        }
        if (kill(s->pid, 0) != 0) break;
        usleep(100000);
    }
    snprintf(cmd, sizeof cmd, "cat %s", s->log);
    run_capture(cmd, &out);
    printf("    loam serve did not become healthy:\n%s\n", out ? out : "");
    free(out);
    server_stop(s);
    return 0;
}

void server_stop(test_server *s) {
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        for (int i = 0; i < 100 && kill(s->pid, 0) == 0; i++) {
            waitpid(s->pid, NULL, WNOHANG);
            usleep(50000);
        }
        if (kill(s->pid, 0) == 0) kill(s->pid, SIGKILL);
    }
    s->pid = 0;
    /* a sanitizer report of the server (the test build's loam is instrumented too) fails the test */
    char cmd[800], *out = NULL;
    snprintf(cmd, sizeof cmd, "grep -E -A12 'ERROR: (Address|Leak)Sanitizer|runtime error:' %s", s->log);
    if (run_capture(cmd, &out) == 0 && out && out[0]) test_fail(__FILE__, __LINE__, "loam serve reported:\n%s", out);
    free(out);
}

int server_curl(const test_server *s, const char *curl_args, const char *path, char **out) {
    char cmd[8192], *text = NULL;
    snprintf(cmd, sizeof cmd, "curl -s -m 120 -w '\\n%%{http_code}' %s 'http://127.0.0.1:%d%s'", curl_args, s->port, path);
    run_capture(cmd, &text);
    *out = text;
    if (!text) return 0;
    char *nl = strrchr(text, '\n');
    int code = nl ? atoi(nl + 1) : 0;
    if (nl) *nl = 0;
    return code;
}

int server_post(const test_server *s, const char *path, const char *body, size_t len, char **out) {
    static int counter;
    char file[700], args[800];
    snprintf(file, sizeof file, "%s/body%d.json", s->dir, counter++);
    FILE *f = fopen(file, "wb");
    if (!f) return 0;
    fwrite(body, 1, len, f);
    fclose(f);
    snprintf(args, sizeof args, "-X POST --data-binary @%s", file);
    return server_curl(s, args, path, out);
}

double server_metric(const test_server *s, const char *name) {
    char *text = NULL;
    if (server_curl(s, "", "/metrics", &text) != 200) return free(text), -1;
    double v = -1;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        size_t n = strlen(name);
        if (!strncmp(line, name, n) && (line[n] == '{' || line[n] == ' ')) {
            char *sp = strrchr(line, ' ');
            v = sp ? atof(sp + 1) : -1;
            break;
        }
    }
    free(text);
    return v;
}

int npm_run(const char *script_and_args, char **out) {
    size_t n = strlen(script_and_args) + 4096;
    char *cmd = malloc(n);
    if (!cmd) return -1;
    snprintf(cmd, n,
             "mkdir -p %s && cp %s/tests/server/node/package.json %s/tests/server/node/*.mjs %s/ && cd %s && "
             "(test -d node_modules/openai -a -d node_modules/playwright-core || npm install --no-audit --no-fund --loglevel=error >npm.log 2>&1) && "
             "node %s 2>&1",
             NPM_DIR, LOAM_SOURCE_DIR, LOAM_SOURCE_DIR, NPM_DIR, NPM_DIR, script_and_args);
    int rc = run_capture(cmd, out);
    free(cmd);
    return rc;
}
