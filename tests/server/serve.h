/* A `loam serve` under test on 127.0.0.1 (a free port) and curl against it. */
#ifndef LOAM_TESTS_SERVER_SERVE_H
#define LOAM_TESTS_SERVER_SERVE_H
#include <stddef.h>

typedef struct {
    int pid, port;
    char dir[512], log[600];
} test_server;

/* args: the model and flags after `loam serve`. Waits for /health 200. */
int server_start(test_server *s, const char *args);
void server_stop(test_server *s);
/* curl with the given arguments against path; the body into *out, the
 * HTTP status returned (0: no answer). */
int server_curl(const test_server *s, const char *curl_args, const char *path, char **out);
/* A POST of a JSON body (written to a file first, so any bytes pass). */
int server_post(const test_server *s, const char *path, const char *body, size_t len, char **out);
/* The value of a Prometheus counter of /metrics (-1 if absent). */
double server_metric(const test_server *s, const char *name);

/* the npm packages of the client tests, one folder for every build (gitignored) */
#define NPM_DIR LOAM_SOURCE_DIR "/build-npm"
/* `node SCRIPT_AND_ARGS` in NPM_DIR (tests/server/node's files copied there,
 * its packages installed when missing); its exit status, output into *out. */
int npm_run(const char *script_and_args, char **out);

#endif
